"""Explainers against analytic truths: linear models, completeness, a one-token model; instance MI
over perturbed copies and the ablations (models run with their attention replaced)."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from attnjax import explain
from attnjax.explain.gradients import baseline_embedding, trapezoid_batches
from attnjax.explain.occlusion import leave_one_out_copies
from attnjax.data import planted
from attnjax.models import AttentionClassifier, init_params, sequence_mask

TOKENS = jnp.array([[3, 7, 2, 9, 0, 0],
                    [5, 1, 4, 4, 8, 6],
                    [2, 0, 0, 0, 0, 0]], jnp.int32)
LENGTHS = jnp.array([4, 6, 1], jnp.int32)
REAL = np.arange(6)[None, :] < np.asarray(LENGTHS)[:, None]


def _linear_model():
  """Embedding encoder: logits = Wᵀ Σ_t a_t e_t + b, linear in e once `a` is held fixed."""
  model = AttentionClassifier(vocab_size=12, num_classes=3, embed_dim=5, hidden_dim=5,
                              attention_dim=4, encoder="embedding")
  return model, init_params(model, jax.random.key(0))


def _maybe_jit(fn, jit):
  return jax.jit(fn) if jit else fn


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("output", explain.OUTPUTS)
def test_gradient_and_input_x_gradient_equal_closed_form_with_attention_detached(jit, output):
  model, params = _linear_model()
  target = jnp.array([0, 2, 1])
  logits, aux = model.apply(params, TOKENS, LENGTHS)
  kernel_ExC = params["params"]["output_layer"]["kernel"]
  embedded = params["params"]["embedding"]["embedding"][TOKENS]
  # ∂z_c/∂e_t = a_t W[:, c]; ∂p_c/∂e_t = a_t p_c (W[:, c] − W p).
  direction_BxE = kernel_ExC[:, target].T
  if output == "probability":
    probs = jax.nn.softmax(logits)
    p_target = probs[jnp.arange(3), target][:, None]
    direction_BxE = p_target * (direction_BxE - probs @ kernel_ExC.T)
  expected_grad = aux.attention[..., None] * direction_BxE[:, None, :]

  grad_fn = _maybe_jit(lambda p, t, l, y: explain.gradient(model, p, t, l, target=y,
                                                           output=output), jit)
  ixg_fn = _maybe_jit(lambda p, t, l, y: explain.input_x_gradient(model, p, t, l, target=y,
                                                                  output=output), jit)
  scores = grad_fn(params, TOKENS, LENGTHS, target)
  chex.assert_shape(scores, (3, 6))
  chex.assert_trees_all_close(scores, jnp.linalg.norm(expected_grad, axis=-1) * REAL,
                              rtol=1e-5, atol=1e-7)
  expected_ixg = jnp.sum(embedded * expected_grad, -1) * REAL
  chex.assert_trees_all_close(ixg_fn(params, TOKENS, LENGTHS, target), expected_ixg,
                              rtol=1e-5, atol=1e-7)
  if output == "logit":  # a linear function is the sum of its input × gradient terms
    bias = params["params"]["output_layer"]["bias"][target]
    chex.assert_trees_all_close(expected_ixg.sum(-1), logits[jnp.arange(3), target] - bias,
                                rtol=1e-5)


def test_full_gradient_equals_closed_form_when_attention_is_constant():
  model, params = _linear_model()
  # v = 0: every score is 0, the attention uniform 1/L whatever the embeddings.
  params = jax.tree.map(lambda x: x, params)
  params["params"]["attention"]["v"]["kernel"] = jnp.zeros_like(
      params["params"]["attention"]["v"]["kernel"])
  logits, _ = model.apply(params, TOKENS, LENGTHS)
  predicted = jnp.argmax(logits, -1)
  kernel_ExC = params["params"]["output_layer"]["kernel"]
  expected = (jnp.linalg.norm(kernel_ExC[:, predicted], axis=0)[:, None]
              / LENGTHS[:, None].astype(jnp.float32)) * REAL
  for detach in (True, False):
    scores = explain.gradient(model, params, TOKENS, LENGTHS, detach_attention=detach,
                              output="logit")
    chex.assert_trees_all_close(scores, expected, rtol=1e-5)


@functools.cache
def _one_step_model():
  """A BiLSTM classifier after one Adam step on random labels (jitted: eager LSTMs are slow)."""
  model = AttentionClassifier(vocab_size=12, num_classes=3, embed_dim=8, hidden_dim=8,
                              attention_dim=8)
  optimizer = optax.adam(0.05)

  @jax.jit
  def init_and_step(key):
    params = init_params(model, key)
    loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(
        model.apply(p, TOKENS, LENGTHS)[0], jnp.array([0, 1, 2])).mean()
    updates, _ = optimizer.update(jax.grad(loss)(params), optimizer.init(params), params)
    return optax.apply_updates(params, updates)
  return model, init_and_step(jax.random.key(2))


def test_full_gradient_equals_per_example_autodiff_and_differs_from_detached():
  model, params = _one_step_model()
  target = jnp.array([1, 0, 2])

  @jax.jit
  @jax.grad
  def one_example(embedded_TxE, tokens_T, length, c):
    logits, _ = model.apply(params, tokens_T[None], length[None], embedded=embedded_TxE[None])
    return jax.nn.softmax(logits[0])[c]

  embedded = model.apply(params, TOKENS, method=model.embed)
  reference = jnp.stack([jnp.linalg.norm(one_example(embedded[b], TOKENS[b], LENGTHS[b],
                                                     target[b]), axis=-1)
                         for b in range(3)]) * REAL
  full = explain.gradient(model, params, TOKENS, LENGTHS, target=target, detach_attention=False)
  detached = explain.gradient(model, params, TOKENS, LENGTHS, target=target)
  chex.assert_trees_all_close(full, reference, rtol=1e-4, atol=1e-8)
  assert not np.allclose(full[:2], detached[:2], rtol=1e-3)


@pytest.mark.parametrize("baseline, output", [("pad", "probability"), ("zeros", "probability"),
                                              ("pad", "logit")])
def test_integrated_gradients_complete(baseline, output):
  model, params = _one_step_model()
  attributions = explain.integrated_gradients(model, params, TOKENS, LENGTHS, baseline=baseline,
                                              output=output, steps=32, batch_steps=5)
  apply = jax.jit(model.apply)
  logits, _ = apply(params, TOKENS, LENGTHS)
  predicted = jnp.argmax(logits, -1)
  start = baseline_embedding(model, params, TOKENS, LENGTHS, baseline)
  base_logits, _ = apply(params, TOKENS, LENGTHS, embedded=start)
  values = jax.nn.softmax if output == "probability" else (lambda z: z)
  rows = jnp.arange(3)
  change = values(logits)[rows, predicted] - values(base_logits)[rows, predicted]
  assert np.all(np.abs(change) > 1e-3), change  # a meaningful relative tolerance
  np.testing.assert_allclose(attributions.sum(-1), change, rtol=1e-2)
  assert np.all(np.asarray(attributions)[~REAL] == 0)


def test_trapezoid_batches_integrate_exactly_linear_functions():
  for steps, batch_steps in [(1, 1), (32, 16), (32, 5), (7, 100)]:
    alphas, weights = trapezoid_batches(steps, batch_steps)
    assert alphas.shape == weights.shape and alphas.shape[1] <= batch_steps
    np.testing.assert_allclose(weights.sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose((weights * (3 * alphas + 1)).sum(), 2.5, rtol=1e-6)


def _one_token_model(token=4, num_classes=3):
  """Only `token` matters: its embedding is the only non-zero one, and takes all attention."""
  model = AttentionClassifier(vocab_size=12, num_classes=num_classes, embed_dim=3, hidden_dim=3,
                              attention_dim=3, encoder="embedding")
  params = init_params(model, jax.random.key(3))
  tree = params["params"]
  tree["embedding"]["embedding"] = jnp.zeros((12, 3)).at[token].set(jnp.array([100.0, 1.0, -2.0]))
  tree["attention"]["W"]["kernel"] = jnp.eye(3)
  tree["attention"]["W"]["bias"] = jnp.zeros(3)
  tree["attention"]["v"]["kernel"] = jnp.array([[60.0], [0.0], [0.0]])  # score 60 vs 0
  return model, params


@pytest.mark.parametrize("mode", ["remove", "mask"])
@pytest.mark.parametrize("distance", ["tvd", "logit"])
def test_leave_one_out_gives_the_whole_change_to_the_one_token_that_matters(mode, distance):
  model, params = _one_token_model()
  tokens = jnp.array([[3, 4, 7, 2, 0, 0],
                      [5, 9, 8, 6, 11, 4],
                      [4, 0, 0, 0, 0, 0],
                      [5, 9, 8, 0, 0, 0]], jnp.int32)
  lengths = jnp.array([4, 6, 1, 3], jnp.int32)
  scores = np.asarray(explain.leave_one_out(model, params, tokens, lengths, mode=mode,
                                            distance=distance))
  kernel = params["params"]["output_layer"]["kernel"]
  bias = params["params"]["output_layer"]["bias"]
  with_token = params["params"]["embedding"]["embedding"][4] @ kernel + bias
  predicted = jnp.argmax(with_token)
  if distance == "tvd":
    whole = explain.total_variation(jax.nn.softmax(with_token)[None], jax.nn.softmax(bias)[None])[0]
  else:
    whole = with_token[predicted] - bias[predicted]
  expected = np.zeros((4, 6), np.float32)
  expected[0, 1] = expected[1, 5] = expected[2, 0] = whole
  np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=0)
  assert scores.dtype == np.float32


def test_leave_one_out_copies():
  tokens = jnp.array([[5, 6, 7, 0], [8, 0, 0, 0]], jnp.int32)
  lengths = jnp.array([3, 1], jnp.int32)
  removed, removed_lengths = leave_one_out_copies(tokens, lengths, mode="remove")
  np.testing.assert_array_equal(removed[0, :3], [[6, 7, 0, 0], [5, 7, 0, 0], [5, 6, 0, 0]])
  np.testing.assert_array_equal(removed_lengths[0, :3], [2, 2, 2])
  # A one-token example cannot lose its token; it is masked instead.
  np.testing.assert_array_equal(removed[1, 0], [0, 0, 0, 0])
  np.testing.assert_array_equal(removed_lengths[1, 0], 1)
  masked, masked_lengths = leave_one_out_copies(tokens, lengths, mode="mask")
  np.testing.assert_array_equal(masked[0, :3], [[0, 6, 7, 0], [5, 0, 7, 0], [5, 6, 0, 0]])
  np.testing.assert_array_equal(masked_lengths, [[3] * 4, [1] * 4])


def test_instance_position_mi_shapes_padding_and_signal():
  data = planted(jax.random.key(0), 3, seq_len=10, vocab_size=60)
  model = AttentionClassifier(60, 2, embed_dim=8, hidden_dim=8, attention_dim=8)
  params = jax.tree.map(lambda x: jnp.stack([x, x]), init_params(model, jax.random.key(1)))
  values = explain.instance_position_mi(model, params, data.tokens, data.lengths,
                                         key=jax.random.key(2), num_samples=32, batch_size=2)
  chex.assert_shape(values, (2, 3, 10))
  mask = np.asarray(sequence_mask(data.lengths, 10))
  assert np.all(np.asarray(values)[:, ~mask] == 0.0)
  assert np.all(np.isfinite(np.asarray(values)[:, mask]))
  alone = explain.instance_position_mi(model, jax.tree.map(lambda x: x[1], params), data.tokens,
                                        data.lengths, key=jax.random.split(jax.random.key(2), 2)[1],
                                        num_samples=32, batch_size=2)
  np.testing.assert_allclose(values[1], alone, rtol=1e-4, atol=1e-5)
  hidden, output = explain.perturbed_internals(model, jax.tree.map(lambda x: x[0], params),
                                                data.tokens, data.lengths, key=jax.random.key(2),
                                                num_samples=32)
  chex.assert_shape(hidden, (3, 32, 10, 16))
  chex.assert_shape(output, (3, 32, 2))


@pytest.mark.parametrize("mode", ["uniform", "random", "permute"])
def test_ablate_modes(mode):
  data = planted(jax.random.key(0), 6, seq_len=10, vocab_size=60)
  model = AttentionClassifier(60, 2, embed_dim=8, hidden_dim=8, attention_dim=8)
  params = init_params(model, jax.random.key(1))
  mask = np.asarray(sequence_mask(data.lengths, 10))
  _, own = model.apply(params, data.tokens, data.lengths)
  logits, aux = explain.ablate(model, params, data.tokens, data.lengths, mode=mode,
                                key=jax.random.key(3))
  weights = np.asarray(aux.attention)
  np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
  assert np.all(weights[~mask] == 0)
  if mode == "uniform":
    np.testing.assert_allclose(weights[mask], np.repeat(1 / data.lengths, data.lengths), rtol=1e-6)
  if mode == "permute":
    for b in range(6):
      np.testing.assert_allclose(np.sort(weights[b][mask[b]]),
                                 np.sort(np.asarray(own.attention)[b][mask[b]]), rtol=1e-6)
  if mode == "random":
    assert not np.allclose(weights, own.attention)
  expected, _ = model.apply(params, data.tokens, data.lengths, attention=aux.attention)
  np.testing.assert_allclose(logits, expected, rtol=1e-5)
  stacked = jax.tree.map(lambda x: jnp.stack([x, x, x]), params)
  chex.assert_shape(explain.ablate(model, stacked, data.tokens, data.lengths, mode=mode,
                                    key=jax.random.key(3))[0], (3, 6, 2))
  with pytest.raises(ValueError, match="unknown ablation mode 'zero'"):
    explain.ablate(model, params, data.tokens, data.lengths, mode="zero")


def test_instance_mi_settings_are_one_validated_frozen_dataclass():
  import dataclasses

  settings = explain.InstanceMI(num_samples=24, scale=2, batch_size=2)
  assert (settings.scale, type(settings.scale)) == (2.0, float) and settings.estimator == "ksg"
  assert explain.InstanceMI(output="label").estimator == "mixed_ksg"
  assert hash(settings) == hash(explain.InstanceMI(num_samples=24, scale=2.0, batch_size=2))
  with pytest.raises(dataclasses.FrozenInstanceError):
    settings.scale = 3.0
  for bad, message in ((dict(num_samples=19), r"num_samples must be an integer >= 20 \(the MI "
                        "estimators' minimum sample count"),
                       (dict(projection="umap"), "unknown projection 'umap'"),
                       (dict(rate=0.0), r"rate must be in \(0, 1\)")):
    with pytest.raises(ValueError, match=message):
      explain.InstanceMI(**bad)
  with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
    dataclasses.replace(settings, batch_size=0)
  data = planted(jax.random.key(0), 2, seq_len=6, vocab_size=30)
  model = AttentionClassifier(30, 2, embed_dim=4, hidden_dim=4, attention_dim=4)
  params = init_params(model, jax.random.key(1))
  by_settings = explain.instance_position_mi(model, params, data.tokens, data.lengths,
                                             key=jax.random.key(2), settings=settings)
  by_keywords = explain.instance_position_mi(model, params, data.tokens, data.lengths,
                                             key=jax.random.key(2), num_samples=24, scale=2.0,
                                             batch_size=2)
  np.testing.assert_array_equal(by_settings, by_keywords)


@pytest.mark.parametrize("encoder, resolved", [("embedding", "gaussian"), ("bilstm", "dropout"),
                                               ("cnn", "dropout")])
def test_instance_mi_auto_perturbation_is_gaussian_only_for_the_embedding_encoder(encoder,
                                                                                  resolved):
  data = planted(jax.random.key(0), 3, seq_len=8, vocab_size=30)
  model = AttentionClassifier(30, 2, embed_dim=4, hidden_dim=4, attention_dim=4, encoder=encoder)
  params = init_params(model, jax.random.key(1))
  run = functools.partial(explain.instance_position_mi, model, params, data.tokens,
                          data.lengths, key=jax.random.key(2), num_samples=24)
  assert explain.InstanceMI().perturbation_for(encoder) == resolved
  np.testing.assert_array_equal(run(), run(perturbation=resolved))
  other = {"gaussian": "dropout", "dropout": "gaussian"}[resolved]
  assert not np.array_equal(np.asarray(run()), np.asarray(run(perturbation=other)))
