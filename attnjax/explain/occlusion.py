"""Leave-one-out: how much the output moves when one token is taken away."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from attnjax.checks import check_choice
from attnjax.explain.target import check_inputs, mask_padding, resolve_target
from attnjax.models.encoders import sequence_mask
from attnjax.models.seeds import map_seeds

MODES = ("remove", "mask")
DISTANCES = ("tvd", "logit")


def leave_one_out(model, params, tokens, lengths, *, target=None, mode: str = "remove",
                  distance: str = "tvd", pad_id: int = 0, batch_copies: int | None = 128):
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
  if batch_copies is not None and (int(batch_copies) != batch_copies or batch_copies < 1):
    raise ValueError(f"batch_copies must be None or an integer >= 1, got {batch_copies!r}")
  return _leave_one_out(model, params, tokens, lengths, target, mode=mode, distance=distance,
                        pad_id=int(pad_id),
                        batch_copies=None if batch_copies is None else int(batch_copies))


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
  """Logits <float32>[B, T, C] of the copies at real positions (0 at padded ones).

  With `batch_copies` = K, the real copies are moved to the front and run K per
  model call in a compiled loop of ⌈(number of real copies) / K⌉ iterations, so
  copies of padded positions cost nothing and memory stays at K sequences.
  Otherwise all B·T copies run in one call.
  """
  batch, max_length, _ = copies_BxTxT.shape
  count = batch * max_length
  copies_NxT, lengths_N = copies_BxTxT.reshape(count, max_length), lengths_BxT.reshape(count)
  if batch_copies is None or batch_copies >= count:
    return model.apply(params, copies_NxT, lengths_N)[0].reshape(batch, max_length, -1)
  real_N = real_BxT.reshape(count)
  order_N = jnp.argsort(~real_N, stable=True)
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

  num_real = jnp.sum(real_N)
  sorted_logits = jax.lax.fori_loop(
      0, (num_real + batch_copies - 1) // batch_copies, run_chunk,
      jnp.zeros((chunks * batch_copies, model.num_classes), jnp.float32))
  logits_NxC = jnp.zeros((count, model.num_classes), jnp.float32).at[order_N].set(
      sorted_logits[:count])
  return logits_NxC.reshape(batch, max_length, -1)


@functools.partial(jax.jit, static_argnames=("model", "mode", "distance", "pad_id",
                                             "batch_copies"))
def _leave_one_out(model, params, tokens, lengths, target, *, mode, distance, pad_id,
                   batch_copies):
  copies_BxTxT, copy_lengths_BxT = leave_one_out_copies(tokens, lengths, mode=mode, pad_id=pad_id)
  real_BxT = sequence_mask(lengths, tokens.shape[1])

  def one_seed(p):
    logits_BxC, _ = model.apply(p, tokens, lengths)
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
