"""Sequence encoders: the vectors `hidden` that attention weighs.

Every encoder maps embeddings `<float32>[B, T, E]` and `lengths <int32>[B]` to
`hidden <float32>[B, T, D]` with `hidden == 0` at padded positions, and outputs at
real positions that do not depend on padding (neither on how much there is nor
on the padding token ids). An example of length 0 has no real position: its
`hidden` is all 0.

The LSTMs are written as one loop over time (`lstm_directions`), both
directions of the BiLSTM advanced in the same loop, arrays time-major, one
[x_t, h_{t-1}] × [E + H, 4H] matmul per step and direction, and a hand-written
backward pass whose weight gradients are single large matmuls after the loop
(see benchmarks/README.md for the profile behind these choices). Given
`num_steps` (a traced scalar ≥ the batch's longest length), the loop runs only
that far, in one compiled program for every batch: training runs each step at
its longest example's cost without compiling a program per length.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp


def sequence_mask(lengths, max_length: int):
  """Boolean mask of real tokens.

  Args:
    lengths: <int32>[B] number of real tokens per example.
    max_length: T, the padded length.

  Returns:
    <bool>[B, T], True where position t < lengths[b].

  Example:
    >>> sequence_mask(jnp.array([1, 3]), 3)
    Array([[ True, False, False],
           [ True,  True,  True]], dtype=bool)
  """
  return jnp.arange(max_length)[None, :] < jnp.asarray(lengths)[:, None]


def flip_sequences(inputs, lengths, *, time_axis: int = 1):
  """Reverses each sequence within its length; padding stays at the end.

  Args:
    inputs: <float32>[B, T, ...] (or [T, B, ...] with `time_axis=0`).
    lengths: <int32>[B], clipped to [0, T] (0: the example is left as it is).
    time_axis: 1 for batch-major inputs, 0 for time-major ones.

  Returns:
    Same shape; example b is `inputs[b, :lengths[b]][::-1]` followed by its
    padding unchanged. Applying it twice is the identity.

  Example:
    >>> flip_sequences(jnp.array([[1, 2, 3, 0]]), jnp.array([3]))
    Array([[3, 2, 1, 0]], dtype=int32)
  """
  if time_axis not in (0, 1):
    raise ValueError(f"time_axis must be 0 (time-major) or 1 (batch-major), got {time_axis!r}")
  max_length = inputs.shape[time_axis]
  positions = jnp.arange(max_length)[None, :]
  lengths = jnp.clip(jnp.asarray(lengths), 0, max_length)[:, None]
  source = jnp.where(positions < lengths, lengths - 1 - positions, positions)  # [B, T]
  if time_axis == 0:
    source = source.T
  source = source.reshape(source.shape + (1,) * (inputs.ndim - 2))
  return jnp.take_along_axis(inputs, source, axis=time_axis)


def _lstm_scan(gates_in_TxDxBxG, recurrent_DxHxG, unroll: int = 1):
  """Reference: D independent LSTMs over time given precomputed input gates.

  Plain `lax.scan`, differentiated by JAX's autodiff. Kept as the reference the
  tests compare `lstm_directions` (the fast path) against.

  Args:
    gates_in_TxDxBxG: <float32>[T, D, B, 4H] input projections plus bias.
    recurrent_DxHxG: <float32>[D, H, 4H] recurrent kernels.
    unroll: `lax.scan` unroll factor.

  Returns:
    <float32>[T, D, B, H] hidden states.
  """
  _, num_dirs, batch, four_h = gates_in_TxDxBxG.shape
  hidden_size = four_h // 4
  zeros = jnp.zeros((num_dirs, batch, hidden_size), gates_in_TxDxBxG.dtype)

  def step(carry, gates_in_DxBxG):
    h, c = carry
    gates = gates_in_DxBxG + jnp.einsum("dbh,dhg->dbg", h, recurrent_DxHxG)
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (h, c), h

  _, hidden_TxDxBxH = jax.lax.scan(step, (zeros, zeros), gates_in_TxDxBxG,
                                     unroll=unroll)
  return hidden_TxDxBxH


def _gate_activations(gates_BxG):
  """Pre-activations [.., 4H] (order i, f, g, o) → activated gates, same shape."""
  hidden_size = gates_BxG.shape[-1] // 4
  sig = jax.nn.sigmoid(gates_BxG)
  return jnp.concatenate([sig[..., :2 * hidden_size],
                          jnp.tanh(gates_BxG[..., 2 * hidden_size:3 * hidden_size]),
                          sig[..., 3 * hidden_size:]], axis=-1)


class LSTMState(NamedTuple):
  """An LSTM's recurrent state; both fields have the same shape, e.g. <float32>[B, H].

  Attributes:
    hidden: h, the output.
    cell: c, the memory cell.
  """
  hidden: jax.Array
  cell: jax.Array


def lstm_cell(x_BxE, h_BxH, c_BxH, kernel_KxG, bias_G):
  """One LSTM step: (h, c) after reading x from the state (h, c).

  Args:
    x_BxE: <float32>[B, E] inputs.
    h_BxH: <float32>[B, H] previous output.
    c_BxH: <float32>[B, H] previous cell.
    kernel_KxG: <float32>[E + H, 4H], the input kernel stacked over the
      recurrent kernel (gate order i, f, g, o).
    bias_G: <float32>[4H].

  Returns:
    (h <float32>[B, H], c <float32>[B, H]).
  """
  h_BxH, c_BxH, _ = _cell_and_gates(x_BxE, h_BxH, c_BxH, kernel_KxG, bias_G)
  return h_BxH, c_BxH


def _cell_and_gates(x_BxE, h_BxH, c_BxH, kernel_KxG, bias_G):
  """`lstm_cell`'s (h, c) and the activated gates <float32>[B, 4H] the backward pass needs."""
  act = _gate_activations(jnp.concatenate([x_BxE, h_BxH], -1) @ kernel_KxG + bias_G[None, :])
  i, f, g, o = jnp.split(act, 4, axis=-1)
  c_BxH = f * c_BxH + i * g
  return o * jnp.tanh(c_BxH), c_BxH, act


def _step_kernels(input_kernel_DxExG, recurrent_kernel_DxHxG):
  """D <float32>[E + H, 4H]: each direction's input kernel stacked over its recurrent one."""
  return tuple(jnp.concatenate([x, r], axis=0)
               for x, r in zip(input_kernel_DxExG, recurrent_kernel_DxHxG))


def _lstm_forward(xs_TxBxE, kernels_KxG, biases_G, unroll, num_steps=None):
  """Forward pass of D LSTMs advanced in one loop, with what the backward needs.

  Args:
    xs_TxBxE: tuple of D <float32>[T, B, E] time-major inputs.
    kernels_KxG: tuple of D <float32>[E + H, 4H]: input kernel stacked over the
      recurrent kernel, so each step is one matmul of [x_t, h_{t-1}].
    biases_G: tuple of D <float32>[4H].
    unroll: `lax.scan` unroll factor (with `num_steps=None`).
    num_steps: None: a `lax.scan` over all T positions. Otherwise an int32
      scalar n in [0, T], possibly traced: a `lax.fori_loop` over positions
      0 … n−1 only, writing into zero-filled [T, …] buffers, so one compiled
      program serves every n; positions ≥ n are left 0.

  Returns:
    (hs, cs, acts): tuples of D arrays [T, B, H], [T, B, H], [T, B, 4H].
  """
  _, batch, _ = xs_TxBxE[0].shape
  hidden_size = kernels_KxG[0].shape[-1] // 4
  zeros = tuple(jnp.zeros((batch, hidden_size), x.dtype) for x in xs_TxBxE)

  def step(carry, x_t):
    hs, cs = carry
    new_h, new_c, acts = [], [], []
    for x, h, c, kernel, bias in zip(x_t, hs, cs, kernels_KxG, biases_G):
      h, c, act = _cell_and_gates(x, h, c, kernel, bias)
      new_h.append(h)
      new_c.append(c)
      acts.append(act)
    return (tuple(new_h), tuple(new_c)), (tuple(new_h), tuple(new_c), tuple(acts))

  if num_steps is None:
    _, (hs, cs, acts) = jax.lax.scan(step, (zeros, zeros), xs_TxBxE, unroll=unroll)
    return hs, cs, acts

  def body(t, carry_and_buffers):
    carry, buffers = carry_and_buffers
    carry, outputs = step(carry, tuple(jax.lax.dynamic_index_in_dim(x, t, keepdims=False)
                                       for x in xs_TxBxE))
    return carry, _write_at(buffers, outputs, t)

  length = xs_TxBxE[0].shape[0]
  buffers = tuple(tuple(jnp.zeros((length, batch, size), x.dtype) for x in xs_TxBxE)
                  for size in (hidden_size, hidden_size, 4 * hidden_size))
  _, (hs, cs, acts) = jax.lax.fori_loop(0, _clip_steps(num_steps, length), body,
                                        ((zeros, zeros), buffers))
  return hs, cs, acts


def _clip_steps(num_steps, length: int):
  """`num_steps` as an int32 scalar clipped to [0, T]."""
  return jnp.clip(jnp.asarray(num_steps, jnp.int32), 0, length)


def _write_at(buffers, values, t):
  """Each [T, …] array of the nested tuple `buffers` with the matching `values` written at t."""
  return jax.tree.map(lambda buffer, value: jax.lax.dynamic_update_index_in_dim(
      buffer, value, t, 0), buffers, values)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def lstm_directions(xs_TxBxE, kernels_KxG, biases_G, unroll: int = 1, num_steps=None):
  """D independent LSTMs (e.g. forward and backward) advanced in one loop.

  Equal to `_lstm_scan` on the hoisted input projections, but differentiated
  by a hand-written backward pass: the reverse loop computes only the gate
  gradients and the per-step input / recurrent gradient, and the weight
  gradients are one large matmul over all T·B rows after the loop, instead of
  an accumulation inside it. Inputs and outputs stay time-major, so XLA needs
  no large transposes around the loop (see benchmarks/README.md). Being a
  `custom_vjp`, it supports reverse mode only; for forward mode (`jax.jvp`,
  `jax.hessian`) use `LSTMEncoder(autodiff=True)` /
  `AttentionClassifier(lstm_autodiff=True)`.

  With `num_steps` n, both loops run over positions 0 … n−1 only (n may be
  traced: one compiled program for every n), and the outputs at positions ≥ n
  are 0. An output at t depends on inputs 0 … t only, so outputs at t < n and
  every gradient of a loss that reads only those equal the full loop's: a
  batch runs exactly, at its longest example's cost, when n ≥ every length
  and the inputs are aligned at position 0 (as `LSTMEncoder` aligns both
  directions).

  Args:
    xs_TxBxE: tuple of D <float32>[T, B, E] time-major inputs.
    kernels_KxG: tuple of D <float32>[E + H, 4H] (input kernel over recurrent
      kernel; gate order i, f, g, o).
    biases_G: tuple of D <float32>[4H].
    unroll: `lax.scan` unroll factor (used with `num_steps=None`).
    num_steps: None (all T positions), or an int32 scalar in [0, T].

  Returns:
    Tuple of D <float32>[T, B, H] hidden states.
  """
  return _lstm_forward(xs_TxBxE, kernels_KxG, biases_G, unroll, num_steps)[0]


def _lstm_directions_fwd(xs_TxBxE, kernels_KxG, biases_G, unroll, num_steps):
  hs, cs, acts = _lstm_forward(xs_TxBxE, kernels_KxG, biases_G, unroll, num_steps)
  return hs, (xs_TxBxE, kernels_KxG, hs, cs, acts, num_steps)


def _shift_in_zero(a_TxBxN):
  """a[t-1] at time t, zeros at t = 0."""
  return jnp.concatenate([jnp.zeros_like(a_TxBxN[:1]), a_TxBxN[:-1]], axis=0)


def _gate_gradients(dh_BxH, dc_BxH, act_BxG, c_BxH, c_prev_BxH):
  """One LSTM step's backward through its cell: the gate pre-activation gradients.

  Args:
    dh_BxH: <float32>[B, H] gradient of the step's output h (from above and
      from the next step).
    dc_BxH: <float32>[B, H] gradient of the step's cell c from the next step.
    act_BxG: <float32>[B, 4H] the step's activated gates (i, f, g, o).
    c_BxH: <float32>[B, H] the step's cell.
    c_prev_BxH: <float32>[B, H] the previous step's cell (0 at the first).

  Returns:
    (dgates <float32>[B, 4H], the gradient of c_prev <float32>[B, H]).
  """
  i, f, g, o = jnp.split(act_BxG, 4, axis=-1)
  tanh_c = jnp.tanh(c_BxH)
  dc = dc_BxH + dh_BxH * o * (1.0 - tanh_c * tanh_c)
  dgates = jnp.concatenate([dc * g * i * (1.0 - i), dc * c_prev_BxH * f * (1.0 - f),
                            dc * i * (1.0 - g * g), dh_BxH * tanh_c * o * (1.0 - o)], axis=-1)
  return dgates, dc * f


def _lstm_step_bwd(embed_dim, carry, inputs, kernels):
  """One reverse step of every direction: (dh, dc) carried, and (dgates, dx) at this step."""
  dh_recs, dcs = carry
  dh_outs, acts_t, cs_t, c_prevs_t = inputs
  new_dh, new_dc, dgates_all, dxs = [], [], [], []
  for dh_out, dh_rec, dc, act, c, c_prev, kernel in zip(dh_outs, dh_recs, dcs, acts_t, cs_t,
                                                         c_prevs_t, kernels):
    dgates, dc_prev = _gate_gradients(dh_out + dh_rec, dc, act, c, c_prev)
    dxh = dgates @ kernel.T
    dxs.append(dxh[:, :embed_dim])
    new_dh.append(dxh[:, embed_dim:])
    new_dc.append(dc_prev)
    dgates_all.append(dgates)
  return (tuple(new_dh), tuple(new_dc)), (tuple(dgates_all), tuple(dxs))


def _lstm_directions_bwd(unroll, residuals, dhs_TxBxH):
  xs, kernels, hs, cs, acts, num_steps = residuals
  embed_dim = xs[0].shape[-1]
  zeros = tuple(jnp.zeros_like(h[0]) for h in hs)
  step = lambda carry, inputs: _lstm_step_bwd(embed_dim, carry, inputs, kernels)
  if num_steps is None:
    count = None
    c_prevs = tuple(_shift_in_zero(c) for c in cs)
    _, (dgates, dxs) = jax.lax.scan(step, (zeros, zeros), (dhs_TxBxH, acts, cs, c_prevs),
                                    reverse=True, unroll=unroll)
  else:
    count = _clip_steps(num_steps, xs[0].shape[0])

    def body(i, carry_and_buffers):
      carry, buffers = carry_and_buffers
      t = count - 1 - i
      at = lambda arrays, u: tuple(jax.lax.dynamic_index_in_dim(a, u, keepdims=False)
                                   for a in arrays)
      c_prevs_t = tuple(jnp.where(t > 0, c, 0.0) for c in at(cs, jnp.maximum(t - 1, 0)))
      carry, outputs = step(carry, (at(dhs_TxBxH, t), at(acts, t), at(cs, t), c_prevs_t))
      return carry, _write_at(buffers, outputs, t)

    buffers = (tuple(jnp.zeros_like(a) for a in acts), tuple(jnp.zeros_like(x) for x in xs))
    _, (dgates, dxs) = jax.lax.fori_loop(0, count, body, ((zeros, zeros), buffers))
  dkernels, dbiases = zip(*(_weight_gradients(x, _shift_in_zero(h), dg, count)
                            for x, h, dg in zip(xs, hs, dgates)))
  return dxs, dkernels, dbiases, None


WEIGHT_GRADIENT_CHUNK = 32
"""Time steps per GEMM of the weight gradients of a loop of traced length."""


def _weight_gradients(x_TxBxE, h_prev_TxBxH, dgates_TxBxG, count=None):
  """One direction's kernel and bias gradients from its gate gradients.

  The kernel gradient is [x_t, h_{t−1}]ᵀ · dgates summed over t and b, taken
  as two GEMMs over all T·B rows (one per input; the concatenated [T, B, E + H]
  operand would be a copy). With `count` (a traced loop length), only the
  first `count` positions are read, `WEIGHT_GRADIENT_CHUNK` at a time in a
  loop of traced length (gate gradients beyond `count` are 0).

  Returns:
    (<float32>[E + H, 4H], <float32>[4H]).
  """
  length, batch, four_h = dgates_TxBxG.shape
  if count is None:
    rows = lambda a: a.reshape(length * batch, -1)
    dgates = rows(dgates_TxBxG)
    return (jnp.concatenate([rows(x_TxBxE).T @ dgates, rows(h_prev_TxBxH).T @ dgates], 0),
            dgates.sum(0))
  size = min(WEIGHT_GRADIENT_CHUNK, length)

  def chunk(c, sums):
    start = c * size
    first = jnp.minimum(start, length - size)  # the last chunk may overlap the one before
    window = lambda a: jax.lax.dynamic_slice_in_dim(a, first, size).reshape(size * batch, -1)
    fresh = (first + jnp.arange(size) >= start)[:, None, None]
    dgates = window(jnp.where(fresh, jax.lax.dynamic_slice_in_dim(dgates_TxBxG, first, size),
                              0.0))
    dx_kernel, dh_kernel, dbias = sums
    return (dx_kernel + window(x_TxBxE).T @ dgates, dh_kernel + window(h_prev_TxBxH).T @ dgates,
            dbias + dgates.sum(0))

  zeros = (jnp.zeros((x_TxBxE.shape[-1], four_h), dgates_TxBxG.dtype),
           jnp.zeros((h_prev_TxBxH.shape[-1], four_h), dgates_TxBxG.dtype),
           jnp.zeros((four_h,), dgates_TxBxG.dtype))
  dx_kernel, dh_kernel, dbias = jax.lax.fori_loop(0, (count + size - 1) // size, chunk, zeros)
  return jnp.concatenate([dx_kernel, dh_kernel], 0), dbias


lstm_directions.defvjp(_lstm_directions_fwd, _lstm_directions_bwd)


def _stacked_orthogonal(num: int):
  """Orthogonal init of each of `num` stacked [H, 4H] recurrent kernels."""
  orthogonal = nn.initializers.orthogonal()

  def init(key, shape, dtype=jnp.float32):
    keys = jax.random.split(key, num)
    return jax.vmap(lambda k: orthogonal(k, shape[1:], dtype))(keys)

  return init


def _forget_bias_init(hidden_size: int):
  """Zero biases except the forget gate, set to 1 (Jozefowicz et al. 2015)."""

  def init(key, shape, dtype=jnp.float32):
    del key
    bias = jnp.zeros(shape, dtype)
    return bias.at[..., hidden_size:2 * hidden_size].set(1.0)

  return init


class LSTMEncoder(nn.Module):
  """(Bi)LSTM over padded sequences that honours each example's length.

  The backward direction reads each example from its last real token
  (`flip_sequences`), so real-position outputs never see padding. Besides
  `__call__`, `states` returns the recurrent state at every position and
  `resume` restarts the recurrences from given states (leave-one-out's state
  reuse; `AttentionClassifier.encoder_states` / `resume_encoder` call them).

  Attributes:
    hidden_dim: H, units per direction. Output D = 2H if bidirectional else H.
    bidirectional: run a backward LSTM too and concatenate [forward, backward].
    unroll: `lax.scan` unroll factor (a speed knob; results are identical).
    autodiff: differentiate the plain scan with JAX's autodiff instead of the
      hand-written backward pass of `lstm_directions` (equal to 1e-4). Slower,
      but it also supports forward mode (`jax.jvp`, `jax.jacfwd`,
      `jax.hessian`), which a `custom_vjp` cannot.
  """
  hidden_dim: int
  bidirectional: bool = True
  unroll: int = 1
  autodiff: bool = False

  @nn.compact
  def __call__(self, embedded_BxTxE, lengths_B, num_steps=None):
    """Encodes.

    Args:
      embedded_BxTxE: <float32>[B, T, E].
      lengths_B: <int32>[B].
      num_steps: None, or an int32 scalar n ≥ max(lengths) (may be traced):
        the recurrences run n steps instead of T, in one compiled program for
        every n; the output is the same (`lstm_directions`). With a smaller
        n each direction reads only the first n tokens it meets (the forward
        one an example's first n, the backward one its last n), and the rest
        of its output is 0. Ignored with `autodiff=True`
        (JAX cannot reverse-differentiate a loop of traced length).

    Returns:
      <float32>[B, T, D], zero at padded positions.
    """
    _, max_length, embed_dim = embedded_BxTxE.shape
    num_dirs = 2 if self.bidirectional else 1
    four_h = 4 * self.hidden_dim
    input_kernel = self.param("input_kernel", nn.initializers.lecun_normal(batch_axis=(0,)),
                              (num_dirs, embed_dim, four_h))
    recurrent_kernel = self.param("recurrent_kernel", _stacked_orthogonal(num_dirs),
                                  (num_dirs, self.hidden_dim, four_h))
    bias = self.param("bias", _forget_bias_init(self.hidden_dim), (num_dirs, four_h))

    mask_BxT = sequence_mask(lengths_B, max_length)
    directions = self._time_major_inputs(embedded_BxTxE, lengths_B)
    kernels = _step_kernels(input_kernel, recurrent_kernel)
    if self.autodiff:
      hidden = _lstm_forward(directions, kernels, tuple(bias), self.unroll)[0]
    else:
      hidden = lstm_directions(directions, kernels, tuple(bias), self.unroll, num_steps)
    outputs = [hidden[0]]
    if self.bidirectional:
      outputs.append(flip_sequences(hidden[1], lengths_B, time_axis=0))
    hidden_BxTxD = jnp.transpose(jnp.concatenate(outputs, axis=-1), (1, 0, 2))
    return hidden_BxTxD * mask_BxT[..., None]

  def states(self, embedded_BxTxE, lengths_B):
    """The recurrent state of every direction at every position.

    The states behind `__call__`'s outputs: direction d's `hidden` at real
    positions is the d-th H-wide slice of `__call__`'s output. The backward
    direction's states are at the positions they belong to: its state at t
    has read positions L − 1 down to t. Values at padded positions are not
    meaningful (callers read real positions only).

    Args:
      embedded_BxTxE: <float32>[B, T, E].
      lengths_B: <int32>[B].

    Returns:
      Tuple of D `LSTMState`s (forward, then backward if bidirectional), each
      field <float32>[B, T, H].
    """
    kernels, biases = self._weights()
    hs, cs, _ = _lstm_forward(self._time_major_inputs(embedded_BxTxE, lengths_B), kernels,
                              biases, self.unroll)
    states = [(hs[0], cs[0])]
    if self.bidirectional:
      states.append(tuple(flip_sequences(x, lengths_B, time_axis=0) for x in (hs[1], cs[1])))
    return tuple(LSTMState(*(jnp.transpose(x, (1, 0, 2)) for x in pair)) for pair in states)

  def resume(self, embedded_KxTxE, starts, initial, steps, num_steps):
    """Runs every direction's recurrence from given states over a stretch of each sequence.

    Direction d of sequence k starts from the state `initial[d]` and reads
    `steps[d][k]` positions from `starts[d][k]` on: upwards (starts,
    starts + 1, …) for the forward direction, downwards (starts, starts − 1,
    …) for the backward one. Each step is `lstm_cell` with `__call__`'s
    weights. Inputs are read as given (no length mask); a run that has taken
    its steps keeps advancing until the loop ends, but its outputs are no
    longer written.

    Args:
      embedded_KxTxE: <float32>[K, T, E] inputs of K sequences.
      starts: D <int32>[K], the first position of each run.
      initial: D `LSTMState`s with fields <float32>[K, H], the states before
        each run's first step.
      steps: D <int32>[K], the number of positions each run reads (0: none).
      num_steps: iterations of the loop, ≥ every entry of `steps` (an int or
        a traced scalar).

    Returns:
      Tuple of D <float32>[K, T, H]: each run's outputs h at the positions it
      read, 0 elsewhere.
    """
    kernels, biases = self._weights()
    count, max_length, _ = embedded_KxTxE.shape
    rows_K = jnp.arange(count)
    outputs = tuple(jnp.zeros((count, max_length) + state.hidden.shape[-1:], jnp.float32)
                    for state in initial)

    def step(s, carry_and_outputs):
      carry, outputs = carry_and_outputs
      new_carry, new_outputs = [], []
      for d, (state, out) in enumerate(zip(carry, outputs)):
        position_K = starts[d] + s if d == 0 else starts[d] - s
        x_KxE = embedded_KxTxE[rows_K, jnp.clip(position_K, 0, max_length - 1)]
        h, c = lstm_cell(x_KxE, state.hidden, state.cell, kernels[d], biases[d])
        new_carry.append(LSTMState(h, c))
        written_K = jnp.where(s < steps[d], position_K, max_length)
        new_outputs.append(out.at[rows_K, written_K].set(h, mode="drop"))
      return tuple(new_carry), tuple(new_outputs)

    _, outputs = jax.lax.fori_loop(0, num_steps, step, (tuple(initial), outputs))
    return outputs

  def _time_major_inputs(self, embedded_BxTxE, lengths_B):
    """D <float32>[T, B, E] masked inputs: the sequence, and reversed within its length."""
    mask_BxT = sequence_mask(lengths_B, embedded_BxTxE.shape[1])
    embedded_TxBxE = jnp.transpose(embedded_BxTxE * mask_BxT[..., None], (1, 0, 2))
    directions = [embedded_TxBxE]
    if self.bidirectional:
      directions.append(flip_sequences(embedded_TxBxE, lengths_B, time_axis=0))
    return tuple(directions)

  def _weights(self):
    """(D <float32>[E + H, 4H] step kernels, D <float32>[4H] biases) of a bound encoder."""
    kernels = _step_kernels(self.get_variable("params", "input_kernel"),
                            self.get_variable("params", "recurrent_kernel"))
    return kernels, tuple(self.get_variable("params", "bias"))


class CNNEncoder(nn.Module):
  """1-D convolution with 'SAME' length output.

  Padded embeddings are zeroed first, so real-position outputs equal those of
  the unpadded sequence with zero boundary padding.

  Attributes:
    hidden_dim: D, output channels.
    kernel_size: convolution width (odd keeps it centred).
    activation: nonlinearity after the convolution.
  """
  hidden_dim: int
  kernel_size: int = 3
  activation: Callable = nn.relu

  @nn.compact
  def __call__(self, embedded_BxTxE, lengths_B, num_steps=None):
    del num_steps  # every position costs the same here: `LSTMEncoder.__call__`'s argument
    mask_BxT = sequence_mask(lengths_B, embedded_BxTxE.shape[1])
    embedded_BxTxE = embedded_BxTxE * mask_BxT[..., None]
    hidden_BxTxD = self.activation(
        nn.Conv(self.hidden_dim, (self.kernel_size,), padding="SAME")(embedded_BxTxE))
    return hidden_BxTxD * mask_BxT[..., None]


class EmbeddingEncoder(nn.Module):
  """No encoder: attention weighs the (masked) embeddings themselves (D = E)."""

  @nn.compact
  def __call__(self, embedded_BxTxE, lengths_B, num_steps=None):
    del num_steps  # as `CNNEncoder`
    mask_BxT = sequence_mask(lengths_B, embedded_BxTxE.shape[1])
    return embedded_BxTxE * mask_BxT[..., None]


ENCODERS = ("bilstm", "lstm", "cnn", "embedding")
LSTM_ENCODERS = ("bilstm", "lstm")
"""The encoders built as an `LSTMEncoder` (with `states` and `resume`)."""


def make_encoder(name: str, hidden_dim: int, *, unroll: int = 1, lstm_autodiff: bool = False,
                 kernel_size: int = 3) -> nn.Module:
  """Encoder module by name: one of `ENCODERS`."""
  if name in LSTM_ENCODERS:
    return LSTMEncoder(hidden_dim, bidirectional=name == "bilstm", unroll=unroll,
                       autodiff=lstm_autodiff, name="encoder")
  if name == "cnn":
    return CNNEncoder(hidden_dim, kernel_size=kernel_size, name="encoder")
  if name == "embedding":
    return EmbeddingEncoder(name="encoder")
  raise ValueError(f"unknown encoder {name!r}; allowed: {', '.join(ENCODERS)}")
