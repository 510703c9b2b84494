"""Leave-one-out: how much the output moves when one token is taken away."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from attnjax.checks import check_choice
from attnjax.explain.inputs_and_target import check_inputs, mask_padding, resolve_target
from attnjax.models.encoders import LSTM_ENCODERS, sequence_mask
from attnjax.models.seeds import map_seeds

MODES = ("remove", "mask")
DISTANCES = ("tvd", "logit")


def leave_one_out(model, params, tokens, lengths, *, target=None, mode: str = "remove",
                  distance: str = "tvd", pad_id: int = 0, batch_copies: int | None = 128,
                  reuse_states: bool = False):
  """Leave-one-out importance of every real position.

  For each position t a perturbed copy of the example is built — with
  `mode="remove"` the token is deleted (later tokens shift left, length − 1:
  Jain & Wallace's definition; a length-1 example, which would become empty,
  has its token replaced by padding instead), with `mode="mask"` it is
  replaced by `pad_id` (length unchanged). The copies of real positions run
  through the model `batch_copies` at a time, in a compiled loop inside one
  jitted call: memory stays bounded whatever B·T, and copies of padded
  positions are never run. `batch_copies=None` runs all B·T copies in a
  single model call instead (for an accelerator with memory to spare; on CPU
  it is the slower way, see benchmarks/README.md).

  Args:
    model: the `AttentionClassifier`.
    params: its parameters; stacked on a leading seed axis S gives [S, B, T].
    tokens: <int32>[B, T] token ids.
    lengths: <int32>[B] real lengths.
    target: None (the predicted class) or <int32>[B] class ids; used by
      `distance="logit"` only (TVD compares whole distributions).
    mode: "remove" or "mask" (see above).
    distance: "tvd", the total variation distance ½ Σ_c |p_c − p'_c| between
      the output distributions (≥ 0); or "logit", the drop in the target
      logit z_target − z'_target (signed: positive when the token supports
      the target).
    pad_id: the padding token id (0 by convention).
    batch_copies: K ≥ 1 copies per model call, or None for all B·T at once.
    reuse_states: (LSTM encoders only) start each copy's recurrences from the
      original's states: the forward states before the left-out position t
      and the backward states after it are the original's (both modes), so
      only the forward run from t on and the backward run from t down are
      computed, for copies sorted by that work and run K at a time in a loop
      that stops at each chunk's longest run (see `_reused_copy_logits`).
      Equal to the default path to float round-off.

  Returns:
    <float32>[B, T] (or [S, B, T]) scores, exactly 0 on padding.

  References:
    Jain & Wallace (2019), "Attention is not Explanation", NAACL.
    Li, Monroe & Jurafsky (2016), "Understanding Neural Networks through
    Representation Erasure", arXiv:1612.08220.
  """
  tokens, lengths, target = check_inputs(model, params, tokens, lengths, target)
  check_choice("mode", mode, MODES)
  check_choice("distance", distance, DISTANCES)
  if reuse_states and model.encoder not in LSTM_ENCODERS:
    raise ValueError(f"reuse_states needs an LSTM encoder ('bilstm' or 'lstm'), got encoder "
                     f"{model.encoder!r}")
  return _leave_one_out(model, params, tokens, lengths, target, mode=mode, distance=distance,
                        pad_id=int(pad_id), batch_copies=check_batch_copies(batch_copies),
                        reuse_states=bool(reuse_states))


def check_batch_copies(batch_copies) -> int | None:
  """`batch_copies` as an int ≥ 1 or None; `ValueError` otherwise."""
  if batch_copies is not None and (int(batch_copies) != batch_copies or batch_copies < 1):
    raise ValueError(f"batch_copies must be None or an integer >= 1, got {batch_copies!r}")
  return None if batch_copies is None else int(batch_copies)


def leave_one_out_copies(tokens, lengths, *, mode: str = "remove", pad_id: int = 0):
  """The T perturbed copies of every example.

  Args:
    tokens: <int32>[B, T].
    lengths: <int32>[B].
    mode: "remove" or "mask", as in `leave_one_out`.
    pad_id: the padding token id.

  Returns:
    (tokens <int32>[B, T, T], lengths <int32>[B, T]): copy [b, t] lacks
    position t of example b. Copies of padded positions are returned too
    (harmless, valid inputs) and their scores discarded.

  Example:
    >>> copies, new_lengths = leave_one_out_copies(jnp.array([[5, 6, 7]]), jnp.array([2]))
    >>> copies[0].tolist(), new_lengths[0].tolist()
    ([[6, 7, 0], [5, 7, 0], [5, 6, 0]], [1, 1, 2])
  """
  check_choice("mode", mode, MODES)
  batch, max_length = tokens.shape
  positions = jnp.arange(max_length)
  left_out_TxT = positions[:, None] == positions[None, :]
  masked_BxTxT = jnp.where(left_out_TxT[None], pad_id, tokens[:, None, :])
  lengths_BxT = jnp.broadcast_to(lengths[:, None], (batch, max_length))
  if mode == "mask":
    return masked_BxTxT, lengths_BxT
  # Copy t reads source position j + [j >= t]: position t is skipped, a pad enters at the end.
  source_TxT = positions[None, :] + (positions[None, :] >= positions[:, None])
  padded_BxT1 = jnp.concatenate([tokens, jnp.full((batch, 1), pad_id, tokens.dtype)], axis=1)
  removed_BxTxT = padded_BxT1[:, source_TxT]
  real_BxT = positions[None, :] < lengths[:, None]
  removable_B = lengths > 1
  copies = jnp.where(removable_B[:, None, None], removed_BxTxT, masked_BxTxT)
  new_lengths = jnp.where(removable_B[:, None] & real_BxT, lengths_BxT - 1, lengths_BxT)
  return copies, new_lengths


def _copy_logits(model, params, copies_BxTxT, lengths_BxT, real_BxT, batch_copies):
  """Logits <float32>[B, T, C] of the copies at real positions (0 at padded ones)."""
  batch, max_length, _ = copies_BxTxT.shape
  count = batch * max_length
  logits_NxC = copies_logits(model, params, copies_BxTxT.reshape(count, max_length),
                             lengths_BxT.reshape(count), real_BxT.reshape(count), batch_copies)
  return logits_NxC.reshape(batch, max_length, -1)


def copies_logits(model, params, copies_NxT, lengths_N, valid_N, batch_copies):
  """Logits <float32>[N, C] of N perturbed copies, 0 where `valid_N` is False.

  With `batch_copies` = K, the valid copies are moved to the front and run K
  per model call in a compiled loop of ⌈(number of valid copies) / K⌉
  iterations, so invalid copies (those of padded positions) cost nothing and
  memory stays at K sequences. With `batch_copies=None` (or K ≥ N) all N
  copies run in one call, invalid ones included (their logits are returned
  as computed, not zeroed). Traceable; call it inside `jit`.

  Args:
    model: the classifier.
    params: unstacked parameters.
    copies_NxT: <int32>[N, T] token ids.
    lengths_N: <int32>[N] lengths in [1, T] (invalid copies may hold any
      valid input).
    valid_N: <bool>[N] which copies are needed.
    batch_copies: K ≥ 1, or None.

  Returns:
    <float32>[N, C].
  """
  count, max_length = copies_NxT.shape
  if batch_copies is None or batch_copies >= count:
    return model.apply(params, copies_NxT, lengths_N)[0]
  order_N = jnp.argsort(~valid_N, stable=True)
  chunks = -(-count // batch_copies)
  filler = chunks * batch_copies - count  # all-padding copies of length 1: valid, discarded
  copies_NxT = jnp.pad(copies_NxT[order_N], ((0, filler), (0, 0)))
  lengths_N = jnp.pad(lengths_N[order_N], (0, filler), constant_values=1)

  def run_chunk(i, logits_NxC):
    start = i * batch_copies
    chunk_KxT = jax.lax.dynamic_slice_in_dim(copies_NxT, start, batch_copies)
    chunk_K = jax.lax.dynamic_slice_in_dim(lengths_N, start, batch_copies)
    chunk_logits, _ = model.apply(params, chunk_KxT, chunk_K)
    return jax.lax.dynamic_update_slice_in_dim(logits_NxC, chunk_logits, start, axis=0)

  num_valid = jnp.sum(valid_N)
  sorted_logits = jax.lax.fori_loop(
      0, (num_valid + batch_copies - 1) // batch_copies, run_chunk,
      jnp.zeros((chunks * batch_copies, model.num_classes), jnp.float32))
  return jnp.zeros((count, model.num_classes), jnp.float32).at[order_N].set(
      sorted_logits[:count])


@functools.partial(jax.jit, static_argnames=("model", "mode", "distance", "pad_id",
                                             "batch_copies", "reuse_states"))
def _leave_one_out(model, params, tokens, lengths, target, *, mode, distance, pad_id,
                   batch_copies, reuse_states):
  copies_BxTxT, copy_lengths_BxT = leave_one_out_copies(tokens, lengths, mode=mode, pad_id=pad_id)
  real_BxT = sequence_mask(lengths, tokens.shape[1])

  def one_seed(p):
    logits_BxC, _ = model.apply(p, tokens, lengths)
    if reuse_states:
      copy_logits_BxTxC = _reused_copy_logits(model, p, tokens, lengths, copies_BxTxT,
                                              copy_lengths_BxT, real_BxT, batch_copies)
    else:
      copy_logits_BxTxC = _copy_logits(model, p, copies_BxTxT, copy_lengths_BxT, real_BxT,
                                       batch_copies)
    if distance == "tvd":
      probs_Bx1xC = jax.nn.softmax(logits_BxC, axis=-1)[:, None, :]
      scores_BxT = 0.5 * jnp.sum(jnp.abs(jax.nn.softmax(copy_logits_BxTxC, axis=-1) - probs_Bx1xC),
                                 axis=-1)
    else:
      target_B = resolve_target(target, logits_BxC)
      target_logit_B = jnp.take_along_axis(logits_BxC, target_B[:, None], axis=1)
      copy_target_BxT = jnp.take_along_axis(copy_logits_BxTxC, target_B[:, None, None], axis=2)[..., 0]
      scores_BxT = target_logit_B - copy_target_BxT
    return mask_padding(scores_BxT, lengths)
  return map_seeds(one_seed, params, model=model)


class _CopyRuns(NamedTuple):
  """Where the recurrences of the N = B·T leave-one-out copies restart (copy n = b·T + t).

  Attributes:
    example: <int32>[N] b, the example copied.
    left_out: <int32>[N] t, the position left out.
    lengths: <int32>[N] L', the copy's length.
    shift: <int32>[N] δ, 1 where the token is removed, 0 where it is masked.
    forward_steps: <int32>[N] L' − t, the forward run from copy position t.
    backward_steps: <int32>[N] t − δ + 1, the backward run from copy position
      t − δ down to 0 (0 without a backward direction).
    work: <int32>[N] the longer of the two runs, −1 for copies not needed.
  """
  example: jax.Array
  left_out: jax.Array
  lengths: jax.Array
  shift: jax.Array
  forward_steps: jax.Array
  backward_steps: jax.Array
  work: jax.Array


def _copy_runs(lengths_B, copy_lengths_BxT, real_BxT, bidirectional: bool) -> _CopyRuns:
  """The restarted runs of every copy: `_CopyRuns` of `leave_one_out_copies`' output."""
  batch, max_length = copy_lengths_BxT.shape
  count = batch * max_length
  example_N = jnp.repeat(jnp.arange(batch), max_length)
  left_out_N = jnp.tile(jnp.arange(max_length), batch)
  copy_lengths_N = copy_lengths_BxT.reshape(count)
  shift_N = (copy_lengths_N < lengths_B[example_N]).astype(jnp.int32)
  forward_steps_N = copy_lengths_N - left_out_N
  backward_steps_N = (left_out_N - shift_N + 1) * bidirectional
  work_N = jnp.where(real_BxT.reshape(count), jnp.maximum(forward_steps_N, backward_steps_N), -1)
  return _CopyRuns(example=example_N, left_out=left_out_N, lengths=copy_lengths_N, shift=shift_N,
                   forward_steps=forward_steps_N, backward_steps=backward_steps_N, work=work_N)


def _states_at(state, example_N, position_N, lengths_B):
  """Each copy's original state at `position_N` of its example, 0 outside its real positions.

  Args:
    state: one direction's states, arrays <float32>[B, T, H].
    example_N, position_N: <int32>[N].
    lengths_B: <int32>[B] the originals' lengths.

  Returns:
    `state` with arrays <float32>[N, H].
  """
  max_length = jax.tree.leaves(state)[0].shape[1]
  inside_N = (position_N >= 0) & (position_N < lengths_B[example_N])
  at_N = jnp.clip(position_N, 0, max_length - 1)
  return jax.tree.map(lambda x: jnp.where(inside_N[:, None], x[example_N, at_N], 0.0), state)


def _copy_hidden(states, runs_K: _CopyRuns, resumed):
  """The K copies' encoder outputs: the original's where they agree, the resumed runs elsewhere.

  Args:
    states: the originals' `encoder_states`, D directions of <float32>[B, T, H].
    runs_K: `_CopyRuns` of the K copies.
    resumed: D <float32>[K, T, H], the copies' resumed runs.

  Returns:
    <float32>[K, T, D·H], 0 on each copy's padding.
  """
  max_length = resumed[0].shape[1]
  positions_T = jnp.arange(max_length)[None, :]
  t_K, shift_K, example_K = runs_K.left_out, runs_K.shift, runs_K.example
  hidden = [jnp.where((positions_T < t_K[:, None])[..., None], states[0].hidden[example_K],
                      resumed[0])]
  if len(states) == 2:  # backward: copy position j > t − δ holds the original's j + δ
    source_KxT = jnp.clip(positions_T + shift_K[:, None], 0, max_length - 1)
    original_KxTxH = states[1].hidden[example_K[:, None], source_KxT]
    hidden.append(jnp.where((positions_T > (t_K - shift_K)[:, None])[..., None], original_KxTxH,
                            resumed[1]))
  return jnp.concatenate(hidden, axis=-1) * sequence_mask(runs_K.lengths, max_length)[..., None]


def _reused_copy_logits(model, params, tokens, lengths, copies_BxTxT, lengths_BxT, real_BxT,
                        batch_copies):
  """`_copy_logits` of the leave-one-out copies, reusing the original's LSTM states.

  Copy t (position t left out) of an example of length L agrees with the
  original before t, and after t up to a shift of δ = 1 ("remove") or 0
  ("mask", and "remove" of a length-1 example, which is masked). So its
  forward states at copy positions j < t are the original's, and its
  backward states at j > t − δ are the original's at j + δ. What is left is a
  forward run over copy positions t … L' − 1 from the original's forward state
  at t − 1, and a backward run over t − δ … 0 from the original's backward
  state at t + 1: max(L' − t, t − δ + 1) steps for both directions in
  lockstep instead of T. Copies are sorted by that count and run K at a time
  (all at once for `batch_copies=None`); each chunk's loop stops at its
  longest run, so a copy costs about ¾·L recurrence steps rather than T
  (the lockstep makes it max(L − t, t), not L − 1; the attention and output
  layers still run on [K, T]). The model's `encoder_states`,
  `resume_encoder` and `attend` do the model's part.

  Returns:
    <float32>[B, T, C] logits, 0 at padded positions.
  """
  batch, max_length, _ = copies_BxTxT.shape
  count = batch * max_length
  states = model.apply(params, tokens, lengths, method=model.encoder_states)
  runs = _copy_runs(lengths, lengths_BxT, real_BxT, bidirectional=len(states) == 2)
  initial_N = [_states_at(states[0], runs.example, runs.left_out - 1, lengths)] + (
      [_states_at(states[1], runs.example, runs.left_out + 1, lengths)] if len(states) == 2
      else [])
  chunk = count if batch_copies is None else min(batch_copies, count)
  chunks = -(-count // chunk)
  order_N = jnp.argsort(-runs.work, stable=True)
  order_M = jnp.pad(order_N, (0, chunks * chunk - count))  # fillers: copy 0 again, discarded
  work_M = jnp.pad(runs.work[order_N], (0, chunks * chunk - count), constant_values=-1)
  copies_NxT = copies_BxTxT.reshape(count, max_length)

  def run_chunk(i, logits_MxC):
    n_K = jax.lax.dynamic_slice_in_dim(order_M, i * chunk, chunk)
    runs_K = jax.tree.map(lambda x: x[n_K], runs)
    directions = len(states)
    starts = (runs_K.left_out, runs_K.left_out - runs_K.shift)[:directions]
    steps = (runs_K.forward_steps, runs_K.backward_steps)[:directions]
    longest = jnp.max(jax.lax.dynamic_slice_in_dim(work_M, i * chunk, chunk))
    resumed = model.apply(params, copies_NxT[n_K], starts,
                          jax.tree.map(lambda x: x[n_K], initial_N), steps, longest,
                          method=model.resume_encoder)
    logits_KxC, _ = model.apply(params, _copy_hidden(states, runs_K, resumed), runs_K.lengths,
                                method=model.attend)
    return jax.lax.dynamic_update_slice_in_dim(logits_MxC, logits_KxC, i * chunk, axis=0)

  valid_N = real_BxT.reshape(count)
  num_valid = jnp.sum(valid_N)
  sorted_logits = jax.lax.fori_loop(0, (num_valid + chunk - 1) // chunk, run_chunk,
                                    jnp.zeros((chunks * chunk, model.num_classes), jnp.float32))
  logits_NxC = jnp.zeros((count, model.num_classes), jnp.float32).at[order_M[:count]].set(
      sorted_logits[:count])
  return jnp.where(valid_N[:, None], logits_NxC, 0.0).reshape(batch, max_length, -1)
