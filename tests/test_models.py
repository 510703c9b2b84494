"""Models: shapes, masking, padding invariance, LSTM against Flax's reference cells, Gumbel."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax.models.encoders import _lstm_scan
from attnjax.models import (ATTENTIONS, ENCODERS, AttentionClassifier, LSTMEncoder,
                            flip_sequences, init_params, normalize, sequence_mask)

B, T, V = 5, 9, 50
LENGTHS = jnp.array([9, 4, 1, 6, 2])


def _tokens(key, lengths=LENGTHS, max_length=T, pad_id=0):
  tokens = jax.random.randint(key, (len(lengths), max_length), 2, V)
  return jnp.where(sequence_mask(lengths, max_length), tokens, pad_id)


def _small(**kwargs):
  defaults = dict(vocab_size=V, num_classes=3, embed_dim=8, hidden_dim=6, attention_dim=7,
                  deep_layer_dims=(5, 4))
  return AttentionClassifier(**{**defaults, **kwargs})


def test_sequence_mask_and_flip():
  np.testing.assert_array_equal(sequence_mask(jnp.array([1, 3]), 3),
                                [[True, False, False], [True, True, True]])
  x = jnp.array([[1, 2, 3, 0], [4, 5, 6, 7]])
  flipped = flip_sequences(x, jnp.array([3, 4]))
  np.testing.assert_array_equal(flipped, [[3, 2, 1, 0], [7, 6, 5, 4]])
  np.testing.assert_array_equal(flip_sequences(flipped, jnp.array([3, 4])), x)
  np.testing.assert_array_equal(flip_sequences(x.T, jnp.array([3, 4]), time_axis=0),
                                [[3, 7], [2, 6], [1, 5], [0, 4]])  # time-major: the same flip
  with pytest.raises(ValueError, match="time_axis"):
    flip_sequences(x, jnp.array([3, 4]), time_axis=2)


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_shapes_and_attention_masking(encoder, attention):
  model = _small(encoder=encoder, attention=attention)
  params = init_params(model, jax.random.key(0))
  logits, aux = jax.jit(model.apply)(params, _tokens(jax.random.key(1)), LENGTHS)
  dim = {"bilstm": 12, "lstm": 6, "cnn": 6, "embedding": 8}[encoder]
  chex.assert_shape(logits, (B, 3))
  chex.assert_shape([aux.attention, aux.scores], (B, T))
  chex.assert_shape(aux.hidden, (B, T, dim))
  chex.assert_shape(aux.context, (B, dim))
  chex.assert_tree_all_finite((logits, aux))
  mask = np.asarray(sequence_mask(LENGTHS, T))
  np.testing.assert_allclose(np.asarray(aux.attention).sum(-1), 1.0, rtol=1e-6)
  assert np.all(np.asarray(aux.attention)[~mask] == 0.0)
  assert np.all(np.asarray(aux.hidden)[~mask] == 0.0)
  np.testing.assert_allclose(aux.context, jnp.einsum("bt,btd->bd", aux.attention, aux.hidden),
                             rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_padding_invariance(encoder):
  """Real-position outputs and logits ignore appended padding and pad ids."""
  model = _small(encoder=encoder, attention="additive")
  params = init_params(model, jax.random.key(0))
  tokens = _tokens(jax.random.key(1))
  logits, aux = model.apply(params, tokens, LENGTHS)
  longer = jnp.pad(tokens, ((0, 0), (0, 7)))
  garbage_pads = jnp.where(sequence_mask(LENGTHS, T + 7), longer,
                           jax.random.randint(jax.random.key(2), longer.shape, 0, V))
  mask = np.asarray(sequence_mask(LENGTHS, T))
  for variant in (longer, garbage_pads):
    logits2, aux2 = model.apply(params, variant, LENGTHS)
    np.testing.assert_allclose(logits2, logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(aux2.hidden)[:, :T][mask], np.asarray(aux.hidden)[mask],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(aux2.attention[:, :T], aux.attention, rtol=1e-5, atol=1e-7)


class _FlaxBiLSTM(nn.Module):
  """Reference: Flax's own LSTMCell under nn.Bidirectional with seq_lengths."""
  hidden_dim: int

  @nn.compact
  def __call__(self, x, lengths):
    rnn = nn.Bidirectional(nn.RNN(nn.LSTMCell(self.hidden_dim, name="fwd")),
                           nn.RNN(nn.LSTMCell(self.hidden_dim, name="bwd")))
    return rnn(x, seq_lengths=lengths)


def _to_flax_cell(input_kernel, recurrent_kernel, bias, hidden):
  """Our fused [E,4H]/[H,4H]/[4H] weights (gate order i,f,g,o) as flax LSTMCell params."""
  cell = {}
  for j, gate in enumerate("ifgo"):
    cols = slice(j * hidden, (j + 1) * hidden)
    cell[f"i{gate}"] = {"kernel": input_kernel[:, cols]}
    cell[f"h{gate}"] = {"kernel": recurrent_kernel[:, cols], "bias": bias[cols]}
  return cell


def test_bilstm_matches_flax_reference_cells():
  hidden = 6
  x = jax.random.normal(jax.random.key(3), (B, T, 8))
  ours = LSTMEncoder(hidden)
  params = ours.init(jax.random.key(4), x, LENGTHS)["params"]
  ref_params = {d: _to_flax_cell(params["input_kernel"][i], params["recurrent_kernel"][i],
                                 params["bias"][i], hidden)
                for i, d in enumerate(("fwd", "bwd"))}
  expected = _FlaxBiLSTM(hidden).apply({"params": ref_params}, x, LENGTHS)
  actual = ours.apply({"params": params}, x, LENGTHS)
  mask = np.asarray(sequence_mask(LENGTHS, T))
  np.testing.assert_allclose(np.asarray(actual)[mask], np.asarray(expected)[mask],
                             rtol=1e-5, atol=1e-5)


def test_bilstm_equals_each_example_run_alone():
  """Backward direction starts at each example's last real token."""
  x = jax.random.normal(jax.random.key(5), (B, T, 8))
  encoder = LSTMEncoder(6)
  params = encoder.init(jax.random.key(6), x, LENGTHS)
  batched = encoder.apply(params, x, LENGTHS)
  for b, length in enumerate(np.asarray(LENGTHS)):
    alone = encoder.apply(params, x[b:b + 1, :length], jnp.array([length]))
    np.testing.assert_allclose(batched[b, :length], alone[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("encoder", ["bilstm", "lstm"])
def test_encoder_states_hold_the_outputs_and_resume_continues_them(encoder):
  """`encoder_states` behind `__call__`'s hidden; `resume` from a state continues the run."""
  model = _small(encoder=encoder)
  params = init_params(model, jax.random.key(0))
  tokens = _tokens(jax.random.key(1))
  _, aux = model.apply(params, tokens, LENGTHS)
  states = model.apply(params, tokens, LENGTHS, method=model.encoder_states)
  assert len(states) == (2 if encoder == "bilstm" else 1)
  real = np.asarray(sequence_mask(LENGTHS, T))
  hidden = np.concatenate([np.asarray(s.hidden) for s in states], axis=-1)
  np.testing.assert_allclose(hidden[real], np.asarray(aux.hidden)[real], rtol=1e-5, atol=1e-6)

  # Restart every direction two positions into its run, from the original's states there.
  rows = jnp.arange(B)
  starts = (jnp.full((B,), 2), LENGTHS - 3)[:len(states)]
  steps = (jnp.maximum(LENGTHS - 2, 0), jnp.maximum(LENGTHS - 2, 0))[:len(states)]
  before = (starts[0] - 1, starts[-1] + 1)[:len(states)]
  initial = tuple(jax.tree.map(lambda x, at=at: x[rows, jnp.clip(at, 0, T - 1)], state)
                  for state, at in zip(states, before))
  resumed = model.apply(params, tokens, starts, initial, steps, T, method=model.resume_encoder)
  positions = np.arange(T)[None, :]
  for d, (state, out) in enumerate(zip(states, resumed)):
    read = (positions >= 2) & real if d == 0 else (positions <= np.asarray(LENGTHS)[:, None] - 3)
    read &= (np.asarray(steps[d]) > 0)[:, None]
    np.testing.assert_allclose(np.asarray(out)[read], np.asarray(state.hidden)[read], rtol=1e-5,
                               atol=1e-6)
    assert np.all(np.asarray(out)[~read] == 0)


def test_encoder_states_need_an_lstm():
  model = _small(encoder="cnn")
  params = init_params(model, jax.random.key(0))
  with pytest.raises(ValueError, match="encoder_states needs an LSTM encoder.*got encoder 'cnn'"):
    model.apply(params, _tokens(jax.random.key(1)), LENGTHS, method=model.encoder_states)


def test_external_attention_hook():
  model = _small()
  params = init_params(model, jax.random.key(0))
  tokens = _tokens(jax.random.key(1))
  logits, aux = model.apply(params, tokens, LENGTHS)
  same_logits, _ = model.apply(params, tokens, LENGTHS, attention=aux.attention)
  np.testing.assert_allclose(same_logits, logits, rtol=1e-6)
  mask = sequence_mask(LENGTHS, T)
  uniform = mask / LENGTHS[:, None]
  _, uniform_aux = model.apply(params, tokens, LENGTHS, attention=uniform)
  mean_hidden = aux.hidden.sum(1) / LENGTHS[:, None]
  np.testing.assert_allclose(uniform_aux.context, mean_hidden, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(uniform_aux.scores, aux.scores)


def test_embedded_hook_equals_token_lookup():
  model = _small()
  params = init_params(model, jax.random.key(0))
  tokens = _tokens(jax.random.key(1))
  embedded = model.apply(params, tokens, method=model.embed)
  logits, _ = model.apply(params, tokens, LENGTHS)
  np.testing.assert_allclose(model.apply(params, tokens, LENGTHS, embedded=embedded)[0], logits,
                             rtol=1e-6)


def test_gumbel_temperature_limits():
  scores = jax.random.normal(jax.random.key(7), (B, T)) * 2.0
  mask = sequence_mask(LENGTHS, T)
  cold = normalize(scores, mask, normalizer="gumbel", temperature=1e-3)
  hot = normalize(scores, mask, normalizer="gumbel", temperature=1e4)
  argmax = jnp.argmax(jnp.where(mask, scores, -jnp.inf), axis=-1)
  np.testing.assert_allclose(cold, jax.nn.one_hot(argmax, T), atol=1e-4)
  np.testing.assert_allclose(hot, mask / LENGTHS[:, None], atol=1e-3)


def test_gumbel_samples_follow_softmax_at_low_temperature():
  """Gumbel-max: argmax of a cold sample is distributed as softmax(scores)."""
  scores = jnp.array([[1.0, 0.0, -1.0, 0.5, 9.0]])
  mask = jnp.array([[True, True, True, True, False]])
  keys = jax.random.split(jax.random.key(8), 20000)
  samples = jax.vmap(lambda k: normalize(scores, mask, normalizer="gumbel", temperature=0.01,
                                         key=k, sample=True)[0])(keys)
  assert np.all(np.asarray(samples)[:, 4] == 0.0)
  frequencies = np.bincount(np.asarray(samples.argmax(-1)), minlength=5) / len(keys)
  expected = jax.nn.softmax(jnp.array([1.0, 0.0, -1.0, 0.5, -jnp.inf]))
  np.testing.assert_allclose(frequencies, expected, atol=0.015)


def test_gumbel_model_train_samples_and_eval_is_deterministic():
  model = _small(normalizer="gumbel", temperature=0.5)
  params = init_params(model, jax.random.key(0))
  tokens = _tokens(jax.random.key(1))
  _, eval_aux = model.apply(params, tokens, LENGTHS)
  mask = sequence_mask(LENGTHS, T)
  expected = jax.nn.softmax(jnp.where(mask, eval_aux.scores / 0.5, -jnp.inf))
  np.testing.assert_allclose(eval_aux.attention, expected, rtol=1e-6)
  draws = [model.apply(params, tokens, LENGTHS, train=True, rngs={"gumbel": jax.random.key(k)})
           [1].attention for k in (1, 2)]
  assert not np.allclose(draws[0], draws[1])
  np.testing.assert_allclose(np.asarray(draws[0]).sum(-1), 1.0, rtol=1e-6)
  with pytest.raises(Exception, match="gumbel"):
    model.apply(params, tokens, LENGTHS, train=True)


@pytest.mark.parametrize("kwargs, match", [
    (dict(encoder="gru"), "unknown encoder 'gru'; allowed: bilstm, lstm, cnn, embedding"),
    (dict(attention="mlp"), "unknown attention 'mlp'; allowed: additive, deep, scaled_dot"),
    (dict(normalizer="sparsemax"), "unknown normalizer 'sparsemax'; allowed: softmax, gumbel"),
    (dict(temperature=0.0), "temperature must be > 0, got 0.0"),
    (dict(temperature=-1.0), "temperature must be > 0, got -1.0"),
    (dict(deep_layer_dims=(8,), attention="deep"), "deep attention needs >= 2 layers"),
    (dict(dropout=1.0), "dropout must be in"),
])
def test_bad_configuration_is_a_clear_error(kwargs, match):
  with pytest.raises(ValueError, match=match):
    model = _small(**kwargs)
    init_params(model, jax.random.key(0))


def test_mismatched_shapes_are_clear_errors():
  model = _small()
  params = init_params(model, jax.random.key(0))
  tokens = _tokens(jax.random.key(1))
  with pytest.raises(ValueError, match=r"lengths must be \[B\]"):
    model.apply(params, tokens, LENGTHS[:3])
  with pytest.raises(ValueError, match=r"attention must be \[B, T\]"):
    model.apply(params, tokens, LENGTHS, attention=jnp.ones((B, T + 1)))
  with pytest.raises(ValueError, match=r"tokens must be \[B, T\]"):
    model.apply(params, tokens[0], LENGTHS)


def _reference_bilstm(params, x, lengths):
  """The BiLSTM through `_lstm_scan` (plain autodiff), for gradient checks."""
  mask = sequence_mask(lengths, x.shape[1])[..., None]
  x = x * mask
  inputs = jnp.stack([x, flip_sequences(x, lengths)])
  gates = (jnp.einsum("dbte,deg->tdbg", inputs, params["input_kernel"])
           + params["bias"][None, :, None, :])
  hidden = jnp.transpose(_lstm_scan(gates, params["recurrent_kernel"]), (1, 2, 0, 3))
  return jnp.concatenate([hidden[0], flip_sequences(hidden[1], lengths)], -1) * mask


def test_bilstm_hand_written_backward_matches_autodiff():
  """`lstm_directions`' custom VJP equals JAX autodiff through the plain scan."""
  x = jax.random.normal(jax.random.key(7), (B, T, 8))
  encoder = LSTMEncoder(6)
  params = encoder.init(jax.random.key(8), x, LENGTHS)["params"]
  probe = jax.random.normal(jax.random.key(9), (B, T, 12))

  def loss(apply):
    return lambda p, x: jnp.sum(apply(p, x) * probe)

  ours = jax.grad(loss(lambda p, x: encoder.apply({"params": p}, x, LENGTHS)), (0, 1))(params, x)
  ref = jax.grad(loss(lambda p, x: _reference_bilstm(p, x, LENGTHS)), (0, 1))(params, x)
  np.testing.assert_allclose(encoder.apply({"params": params}, x, LENGTHS),
                             _reference_bilstm(params, x, LENGTHS), rtol=1e-5, atol=1e-6)
  for got, want in zip(jax.tree.leaves(ours), jax.tree.leaves(ref)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
  assert float(jnp.abs(ours[1]).max()) > 0  # the input gradient is not trivially zero


def test_lstm_autodiff_model_supports_forward_mode_and_equals_default():
  """`lstm_autodiff=True`: same numbers as the default, and forward mode works.

  The directional derivative of the logits along a random embedding direction,
  by forward mode through the autodiff'd scan, equals the one by reverse mode
  through the default model's hand-written backward pass.
  """
  fast, slow = _small(), _small(lstm_autodiff=True)
  params = init_params(fast, jax.random.key(3))
  tokens = _tokens(jax.random.key(4))
  embedded = fast.apply(params, tokens, method=AttentionClassifier.embed)
  direction = jax.random.normal(jax.random.key(5), embedded.shape)

  def logits(model):
    return lambda e: model.apply(params, tokens, LENGTHS, embedded=e)[0]

  np.testing.assert_allclose(logits(slow)(embedded), logits(fast)(embedded), rtol=1e-6)
  _, forward = jax.jvp(logits(slow), (embedded,), (direction,))
  jacobian = jax.jacrev(logits(fast))(embedded)  # [B, C, B, T, E], reverse mode
  reverse = jnp.einsum("bcxte,xte->bc", jacobian, direction)
  np.testing.assert_allclose(forward, reverse, rtol=1e-4, atol=1e-5)
  assert float(jnp.abs(forward).max()) > 1e-3
  with pytest.raises(TypeError, match="custom_vjp"):  # why the option exists
    jax.jvp(logits(fast), (embedded,), (direction,))


@pytest.mark.parametrize("bidirectional", [True, False])
def test_traced_num_steps_equals_the_full_recurrence(bidirectional):
  """`num_steps` n ≥ max(length): the loop of traced length gives the full loop's outputs and
  gradients (against the plain-autodiff reference), one compiled program for every n."""
  x = jax.random.normal(jax.random.key(7), (B, T, 8))
  lengths = jnp.array([6, 4, 1, 6, 2])
  encoder = LSTMEncoder(6, bidirectional=bidirectional)
  params = encoder.init(jax.random.key(8), x, lengths)["params"]
  probe = jax.random.normal(jax.random.key(9), (B, T, 12 if bidirectional else 6))

  def loss(p, x, n):
    return jnp.sum(encoder.apply({"params": p}, x, lengths, num_steps=n) * probe)

  traced = jax.jit(jax.value_and_grad(loss, (0, 1)))
  full = jax.value_and_grad(loss, (0, 1))(params, x, None)
  for n in (6, 7, T, T + 3):  # T + 3 is clipped to T
    value, grads = traced(params, x, n)
    np.testing.assert_allclose(value, full[0], rtol=1e-6)
    chex.assert_trees_all_close(grads, full[1], rtol=1e-5, atol=1e-7)
  assert traced._cache_size() == 1
  if bidirectional:
    reference = jax.grad(lambda p, x: jnp.sum(_reference_bilstm(p, x, lengths) * probe),
                         (0, 1))(params, x)
    chex.assert_trees_all_close(traced(params, x, 6)[1], reference, rtol=1e-4, atol=1e-5)
  # Fewer steps than the longest example: the forward direction stops at position n.
  short = encoder.apply({"params": params}, x, lengths, num_steps=3)
  np.testing.assert_array_equal(short[:, 3:, :6], 0.0)
  np.testing.assert_allclose(short[1, :3, :6],
                             encoder.apply({"params": params}, x, lengths)[1, :3, :6], rtol=1e-6)


def test_chunked_weight_gradients_equal_one_gemm(monkeypatch):
  """The weight gradients of a traced-length loop, taken in chunks (the last overlapping the
  one before when T is no multiple of the chunk), equal the single GEMM over every row."""
  from attnjax.models import encoders
  keys = jax.random.split(jax.random.key(0), 3)
  x, h, dg = (jax.random.normal(k, (T, 4, n)) for k, n in zip(keys, (5, 3, 12)))
  dg = dg * (jnp.arange(T) < 8)[:, None, None]  # gate gradients beyond the loop length are 0
  want = encoders._weight_gradients(x, h, dg)
  np.testing.assert_allclose(want[0], jnp.einsum("tbk,tbg->kg", jnp.concatenate([x, h], -1), dg),
                             rtol=1e-5, atol=1e-6)
  monkeypatch.setattr(encoders, "WEIGHT_GRADIENT_CHUNK", 4)  # T = 9: chunks 0-3, 4-7, 5-8
  for count in (8, 9):
    got = jax.jit(encoders._weight_gradients)(x, h, dg, count)
    chex.assert_trees_all_close(got, want, rtol=1e-5, atol=1e-6)
