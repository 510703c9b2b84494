"""The explainers' shared contract: shapes, padding, seeds, targets, registry and errors."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial import distance

from attnjax import explain
from attnjax.models import AttentionClassifier, init_params

# A CNN encoder: the contract does not depend on the encoder, and it compiles fast.
MODEL = AttentionClassifier(vocab_size=20, num_classes=3, embed_dim=8, hidden_dim=8,
                            attention_dim=8, encoder="cnn")
TOKENS = jnp.array([[3, 7, 12, 9, 0, 0, 0],
                    [5, 1, 4, 4, 8, 6, 19],
                    [2, 0, 0, 0, 0, 0, 0]], jnp.int32)
LENGTHS = jnp.array([4, 7, 1], jnp.int32)
REAL = np.arange(7)[None, :] < np.asarray(LENGTHS)[:, None]
FAST = {"integrated_gradients": {"steps": 4}}  # options that keep compiles small


@functools.cache
def _stacked_params():
  """Two seeds' parameters on a leading axis, as `train` returns them."""
  keys = jax.random.split(jax.random.key(0), 2)
  return jax.jit(jax.vmap(lambda k: init_params(MODEL, k)))(keys)


# instance_mi draws its perturbations per seed key and per [K, T, E] shape, so neither
# "stacked == each seed alone with the same key" nor extra-padding invariance holds by
# design; it is tested below and in tests/test_analysis.py.
@pytest.mark.parametrize("method", sorted(set(explain.METHODS) - {"instance_mi"}))
def test_every_method_vmaps_seeds_zeroes_padding_and_ignores_extra_padding(method):
  stacked = _stacked_params()
  options = FAST.get(method, {})
  scores = np.asarray(explain.explain(MODEL, stacked, TOKENS, LENGTHS, method=method,
                                      **options))
  assert scores.shape == (2, 3, 7) and scores.dtype == np.float32
  assert np.all(scores[:, ~REAL] == 0) and np.all(np.isfinite(scores))
  assert np.any(scores[:, REAL] != 0)
  longer = jnp.pad(TOKENS, ((0, 0), (0, 3)))
  for seed in range(2):
    params = jax.tree.map(lambda x: x[seed], stacked)
    alone = explain.METHODS[method](MODEL, params, TOKENS, LENGTHS, **options)
    np.testing.assert_allclose(scores[seed], alone, rtol=1e-5, atol=1e-7)
    padded = explain.METHODS[method](MODEL, params, longer, LENGTHS, **options)
    np.testing.assert_allclose(padded[:, :7], alone, rtol=1e-4, atol=1e-6)
    assert np.all(np.asarray(padded)[:, 7:] == 0)


@pytest.mark.parametrize("batch_copies", [1, 5, 12])  # 12 = the number of real positions
def test_leave_one_out_in_chunks_of_copies_equals_all_at_once(batch_copies):
  stacked = _stacked_params()
  at_once = explain.leave_one_out(MODEL, stacked, TOKENS, LENGTHS, distance="logit",
                                  batch_copies=None)
  np.testing.assert_allclose(
      explain.leave_one_out(MODEL, stacked, TOKENS, LENGTHS, distance="logit",
                            batch_copies=batch_copies), at_once, rtol=1e-5, atol=1e-7)


def test_attention_method_returns_the_models_weights():
  params = jax.tree.map(lambda x: x[0], _stacked_params())
  _, aux = MODEL.apply(params, TOKENS, LENGTHS)
  np.testing.assert_allclose(explain.attention(MODEL, params, TOKENS, LENGTHS), aux.attention,
                             rtol=1e-6)


@pytest.mark.parametrize("method, options", [("gradient", {}),
                                             ("leave_one_out", {"distance": "logit"})])
def test_target_none_explains_the_predicted_class(method, options):
  params = jax.tree.map(lambda x: x[0], _stacked_params())
  predicted = jnp.argmax(MODEL.apply(params, TOKENS, LENGTHS)[0], -1)
  fn = explain.METHODS[method]
  np.testing.assert_allclose(fn(MODEL, params, TOKENS, LENGTHS, **options),
                             fn(MODEL, params, TOKENS, LENGTHS, target=predicted, **options))
  other = (predicted + 1) % 3
  assert not np.allclose(fn(MODEL, params, TOKENS, LENGTHS, target=other, **options),
                         fn(MODEL, params, TOKENS, LENGTHS, target=predicted, **options))
  # A scalar target means that class for every example.
  np.testing.assert_allclose(fn(MODEL, params, TOKENS, LENGTHS, target=2, **options),
                             fn(MODEL, params, TOKENS, LENGTHS, target=jnp.full(3, 2), **options))


def test_registry_names_and_unknown_method():
  assert set(explain.METHODS) == {"attention", "gradient", "input_x_gradient",
                                  "integrated_gradients", "leave_one_out", "instance_mi"}
  with pytest.raises(ValueError, match="allowed: attention, gradient, input_x_gradient"):
    explain.METHODS["saliency"]
  assert "saliency" not in explain.METHODS
  params = jax.tree.map(lambda x: x[0], _stacked_params())
  with pytest.raises(ValueError, match="unknown explanation method 'lime'"):
    explain.explain(MODEL, params, TOKENS, LENGTHS, method="lime")
  with pytest.raises(ValueError, match="unknown option.*'steps'.*'gradient'"):
    explain.explain(MODEL, params, TOKENS, LENGTHS, method="gradient", steps=3)


@pytest.mark.parametrize("call, message", [
    (lambda p: explain.gradient(MODEL, p, TOKENS, LENGTHS, target=jnp.array([0, 3, 1])),
     r"target class ids must lie in \[0, C=3\)"),
    (lambda p: explain.leave_one_out(MODEL, p, TOKENS, LENGTHS, target=jnp.array([0, -1, 1])),
     r"target class ids must lie in \[0, C=3\)"),
    (lambda p: explain.gradient(MODEL, p, TOKENS, LENGTHS, target=jnp.array([0, 1])),
     r"target must be None or integer class ids \[B\]"),
    (lambda p: explain.gradient(MODEL, p, TOKENS, LENGTHS, target=jnp.array([0.0, 1.0, 2.0])),
     "target must be None or integer"),
    (lambda p: explain.integrated_gradients(MODEL, p, TOKENS, LENGTHS, steps=0),
     "steps must be an integer >= 1"),
    (lambda p: explain.integrated_gradients(MODEL, p, TOKENS, LENGTHS, steps=-3),
     "steps must be an integer >= 1"),
    (lambda p: explain.integrated_gradients(MODEL, p, TOKENS, LENGTHS, batch_steps=0),
     "batch_steps must be an integer >= 1"),
    (lambda p: explain.leave_one_out(MODEL, p, TOKENS, LENGTHS, batch_copies=0),
     "batch_copies must be None or an integer >= 1"),
    (lambda p: explain.counterfactual_attention(MODEL, p, TOKENS, LENGTHS, steps=0),
     "steps must be an integer >= 1"),
    (lambda p: explain.counterfactual_attention(MODEL, p, TOKENS, LENGTHS, max_tvd=-0.1),
     "max_tvd must be >= 0"),
    (lambda p: explain.integrated_gradients(MODEL, p, TOKENS, LENGTHS, baseline="mean"),
     "unknown baseline 'mean'; allowed: pad, zeros"),
    (lambda p: explain.leave_one_out(MODEL, p, TOKENS, LENGTHS, mode="drop"),
     "unknown mode 'drop'; allowed: remove, mask"),
    (lambda p: explain.leave_one_out(MODEL, p, TOKENS, LENGTHS, distance="kl"),
     "unknown distance 'kl'; allowed: tvd, logit"),
    (lambda p: explain.gradient(MODEL, p, TOKENS, LENGTHS, output="loss"),
     "unknown output 'loss'"),
    (lambda p: explain.attention(MODEL, p, TOKENS[0], LENGTHS),
     r"tokens must be integer \[B, T\]"),
    (lambda p: explain.attention(MODEL, p, TOKENS, jnp.array([4, 8, 1])),
     r"lengths must lie in \[1, T=7\]"),
    (lambda p: explain.attention(MODEL, p, TOKENS, jnp.array([4, 7])),
     r"lengths must be integer \[B\]"),
])
def test_bad_input_raises_value_error(call, message):
  params = jax.tree.map(lambda x: x[0], _stacked_params())
  with pytest.raises(ValueError, match=message):
    call(params)


def test_jensen_shannon_and_total_variation_truths():
  p = jnp.array([[0.5, 0.5, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.2, 0.0]])
  q = jnp.array([[0.0, 0.0, 0.5, 0.5], [0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.4, 0.1]])
  jsd = np.asarray(explain.jensen_shannon(p, q))
  np.testing.assert_allclose(jsd[:2], [np.log(2), 0.0], atol=1e-7)
  np.testing.assert_allclose(jsd[2], distance.jensenshannon(p[2], q[2]) ** 2, rtol=1e-5)
  np.testing.assert_allclose(explain.jensen_shannon(q, p), jsd, rtol=1e-6)
  grads = jax.grad(lambda x: explain.jensen_shannon(x, q).sum())(p)
  assert np.all(np.isfinite(grads))
  np.testing.assert_allclose(explain.total_variation(p, q), [1.0, 0.0, 0.5], atol=1e-7)


def test_instance_mi_matches_instance_position_mi_and_zeroes_padding():
  from attnjax.explain import instance_position_mi
  params = jax.tree.map(lambda x: x[0], _stacked_params())
  scores = explain.explain(MODEL, params, TOKENS, LENGTHS, method="instance_mi",
                           key=jax.random.key(3), num_samples=24)
  expected = instance_position_mi(MODEL, params, TOKENS, LENGTHS, key=jax.random.key(3),
                                  num_samples=24)
  np.testing.assert_allclose(scores, expected)
  assert np.all(np.asarray(scores)[~REAL] == 0) and np.all(np.isfinite(np.asarray(scores)))
