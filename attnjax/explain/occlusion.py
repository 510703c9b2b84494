"""Leave-one-out: how much the output moves when one token is taken away."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from attnjax.explain.target import (check_choice, check_inputs, mask_padding, over_seeds,
                                    resolve_target)

MODES = ("remove", "mask")
DISTANCES = ("tvd", "logit")


def leave_one_out(model, params, tokens, lengths, *, target=None, mode: str = "remove",
                  distance: str = "tvd", pad_id: int = 0, batch_examples: int | None = None):
  """Leave-one-out importance of every real position.

  For each position t a perturbed copy of the example is built — with
  `mode="remove"` the token is deleted (later tokens shift left, length − 1:
  Jain & Wallace's definition; a length-1 example, which would become empty,
  has its token replaced by padding instead), with `mode="mask"` it is
  replaced by `pad_id` (length unchanged) — and all B·T copies run through
  the model in one batched call (or, with `batch_examples`, in groups of
  that many examples' T copies, one after another inside the compiled call).

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
    batch_examples: None (all B·T copies at once) or G ≥ 1: run the copies of
      G examples at a time (`lax.map`), bounding memory at G·T sequences.

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
  if batch_examples is not None and (int(batch_examples) != batch_examples or batch_examples < 1):
    raise ValueError(f"batch_examples must be None or an integer >= 1, got {batch_examples!r}")
  return _leave_one_out(model, params, tokens, lengths, target, mode=mode, distance=distance,
                        pad_id=int(pad_id),
                        batch_examples=None if batch_examples is None else int(batch_examples))


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


def _copy_logits(model, params, copies_BxTxT, lengths_BxT, batch_examples):
  """Logits <float32>[B, T, C] of every copy, `batch_examples` examples' copies per call."""
  batch, max_length, _ = copies_BxTxT.shape
  group = batch if batch_examples is None else min(batch_examples, batch)
  groups = -(-batch // group)
  extra = groups * group - batch  # filler examples: valid all-padding copies of length 1
  copies = jnp.pad(copies_BxTxT, ((0, extra), (0, 0), (0, 0)))
  lengths = jnp.pad(lengths_BxT, ((0, extra), (0, 0)), constant_values=1)

  def run(group_copies):
    copies_GxTxT, lengths_GxT = group_copies
    logits, _ = model.apply(params, copies_GxTxT.reshape(group * max_length, max_length),
                            lengths_GxT.reshape(group * max_length))
    return logits.reshape(group, max_length, -1)

  logits = jax.lax.map(run, (copies.reshape(groups, group, max_length, max_length),
                             lengths.reshape(groups, group, max_length)))
  return logits.reshape(groups * group, max_length, -1)[:batch]


@functools.partial(jax.jit, static_argnames=("model", "mode", "distance", "pad_id",
                                             "batch_examples"))
def _leave_one_out(model, params, tokens, lengths, target, *, mode, distance, pad_id,
                   batch_examples):
  copies_BxTxT, copy_lengths_BxT = leave_one_out_copies(tokens, lengths, mode=mode, pad_id=pad_id)

  def one_seed(p):
    logits_BxC, _ = model.apply(p, tokens, lengths)
    copy_logits_BxTxC = _copy_logits(model, p, copies_BxTxT, copy_lengths_BxT, batch_examples)
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
  return over_seeds(one_seed, params)
