"""Faithfulness of a token ranking: ERASER comprehensiveness / sufficiency, deletion curves, flips.

Do the tokens an explanation ranks highest drive the prediction? For any
explainer's scores (a `METHODS` entry, the ground truth of a planted task, or
`random_scores` as the chance level):

    out = attnjax.explain.faithfulness(model, params, tokens, lengths, scores)
    out["comprehensiveness"], out["sufficiency"], out["flip_fraction"]       # [B]
    chance = attnjax.explain.random_baseline(model, params, tokens, lengths,
                                             key=jax.random.key(0), draws=8)  # [8, B]

Every perturbed copy of every example (and seed) runs in one jitted call, a
chunk of `batch_copies` copies per model call in a compiled loop (the
machinery of leave-one-out, `occlusion.copies_logits`): no Python loop over
examples, bins or seeds, memory bounded by the chunk.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from attnjax.checks import check_choice, check_int, is_concrete, is_int, is_real
from attnjax.data.planted import PAD_ID, UNK_ID
from attnjax.explain.occlusion import MODES, check_batch_copies, copies_logits
from attnjax.explain.inputs_and_target import check_inputs
from attnjax.models.classifier import check_params
from attnjax.models.encoders import sequence_mask
from attnjax.models.seeds import map_seeds

BINS = (0.01, 0.05, 0.1, 0.2, 0.5)
"""ERASER's bins: the fractions of each example's real tokens removed or kept."""

KEYS = ("comprehensiveness", "sufficiency", "comprehensiveness_bins", "sufficiency_bins",
        "bin_tokens", "flip_fraction", "flipped", "first_token_flip", "deletion_curve",
        "probability", "predicted")
"""The keys of the dict `faithfulness` returns."""


def faithfulness(model, params, tokens, lengths, scores, *, bins=BINS, mode: str = "remove",
                 pad_id: int = PAD_ID, unk_id: int = UNK_ID, mask_id: int | None = None,
                 batch_copies: int | None = 128):
  """How much the prediction rests on the tokens `scores` rank highest.

  Ranking: positions by score, highest first, ties broken by position (the
  earlier first); padding is never ranked, removed or kept. ŷ is the model's
  predicted class on the whole example x, p(ŷ | ·) its softmax probability.
  For a bin b and an example of length L the top k = max(1, int(b·L + 0.5))
  tokens are taken (at least one; `int(· + 0.5)` rounds halves up):

  - comprehensiveness(k) = p(ŷ | x) − p(ŷ | x without its top-k tokens):
    large when the ranking found what the prediction needs;
  - sufficiency(k) = p(ŷ | x) − p(ŷ | only its top-k tokens, in their
    original order): small (≤ 0) when those tokens suffice;
  - AOPC: the mean of either over `bins`, per example (DeYoung et al.'s
    aggregate over ERASER's bins 1, 5, 10, 20, 50%);
  - the deletion curve p(ŷ | x without its top-m tokens), m = 0 … L;
  - decision flip (Serrano & Smith): m / L for the smallest m such that
    removing the top-m tokens changes the predicted class (argmax; the first
    class wins ties), 1.0 when no m ≤ L does; and whether m = 1 flips it.

  Modes: "remove" deletes the tokens (later ones shift left, the length
  shrinks: ERASER's definition); an example left with no token (k = L or
  m = L) is evaluated as one `unk_id` token of length 1, the loaders'
  convention for an empty text. "mask" replaces them by `mask_id` (default
  `pad_id`, as leave-one-out's "mask") and keeps the length, so the model
  still sees L positions; an example with every token masked is L `mask_id`s
  (no `<unk>` rule). The models zero the embeddings of padded positions
  before the encoder, so the padding row of the embedding table never gets a
  gradient and stays at its random initialisation: under "mask" the model
  sees a vector it never learned (pass `mask_id=unk_id` for `<unk>`, which
  word dropout and rare words do train). "remove" is the default for that
  reason, and because it is what ERASER reports.

  Cost per example and seed: one call on x, L deletion copies (the whole
  curve, whose m = k entries give comprehensiveness) and len(bins)
  sufficiency copies: L + len(bins) copies, leave-one-out's count plus the
  bins.

  Args:
    model: the `AttentionClassifier`.
    params: its parameters, or S seeds' stacked on a leading axis.
    tokens: <int32>[B, T] token ids.
    lengths: <int32>[B] real lengths in [1, T].
    scores: <float>[B, T] importance scores (any real dtype; values on
      padding are ignored, real positions must be finite); with stacked
      params also [S, B, T], one ranking per seed.
    bins: non-empty sequence of fractions in (0, 1].
    mode: "remove" or "mask" (see above).
    pad_id: the padding id, written after the shortened copies' last token.
    unk_id: the id an emptied example holds ("remove"); `<unk>` = 1 in every
      `attnjax.data.Vocab` and loader.
    mask_id: the id "mask" writes (None: `pad_id`).
    batch_copies: copies per model call, K ≥ 1, or None for all at once (see
      `leave_one_out`).

  Returns:
    A dict of arrays with a leading [S] for stacked params:
      "comprehensiveness", "sufficiency": <float32>[B] AOPC over `bins`.
      "comprehensiveness_bins", "sufficiency_bins": <float32>[B, nbins].
      "bin_tokens": <int32>[B, nbins] k of every bin.
      "flip_fraction": <float32>[B] in (0, 1].
      "flipped": <bool>[B] some m ≤ L changes the prediction (false where
        `flip_fraction` is 1.0 because nothing flips; true at 1.0 when only
        the emptied example does).
      "first_token_flip": <bool>[B] removing the top token alone flips it.
      "deletion_curve": <float32>[B, T + 1] p(ŷ | x without its top-m
        tokens) at m = 0 … T; entries m > L repeat m = L (nothing is left to
        remove).
      "probability": <float32>[B] p(ŷ | x).
      "predicted": <int32>[B] ŷ.

  Raises:
    ValueError: bad model/params/tokens/lengths (as every explainer), scores
      of another shape, non-finite scores at real positions, bins outside
      (0, 1], an unknown mode, ids outside [0, vocab_size), a bad
      `batch_copies`.

  References:
    DeYoung, Jain, Rajani, Lehman, Xiong, Socher & Wallace (2020), "ERASER:
    A Benchmark to Evaluate Rationalized NLP Models", ACL.
    Serrano & Smith (2019), "Is Attention Interpretable?", ACL.
    Samek, Binder, Montavon, Lapuschkin & Müller (2017), "Evaluating the
    Visualization of What a Deep Neural Network Has Learned", IEEE TNNLS (AOPC).
  """
  tokens, lengths, _ = check_inputs(model, params, tokens, lengths)
  check_choice("mode", mode, MODES)
  bins = check_bins(bins)
  mask_id = pad_id if mask_id is None else mask_id
  for name, value in (("pad_id", pad_id), ("unk_id", unk_id), ("mask_id", mask_id)):
    if not (is_int(value) and 0 <= value < model.vocab_size):
      raise ValueError(f"{name} must be a token id in [0, vocab_size={model.vocab_size}), "
                       f"got {value!r}")
  scores = check_scores(scores, lengths, tokens.shape, check_params(model, params))
  return _faithfulness(model, params, tokens, lengths, scores, bins=bins, mode=mode,
                       pad_id=int(pad_id), unk_id=int(unk_id), mask_id=int(mask_id),
                       batch_copies=check_batch_copies(batch_copies))


def rankable_scores(scores, mask):
  """Scores every real position can be ranked by, and which rows have no ranking.

  A real position without a finite score (an instance-MI estimate left undefined) ranks
  after every scored one; a row with no finite score at all gets zeros and is reported
  in `unranked` (its measures should be read as undefined).

  Args:
    scores: <float>[..., B, T]; mask: <bool>[B, T] real positions.

  Returns:
    (<float32>[..., B, T] finite scores, <bool>[..., B] unranked).
  """
  scores = np.asarray(scores, np.float32)
  mask = np.broadcast_to(mask, scores.shape)
  finite = np.isfinite(scores) & mask
  unranked = ~finite.any(-1)
  low = np.where(finite, scores, np.inf).min(-1, keepdims=True) - 1.0
  low = np.where(np.isfinite(low), low, 0.0)
  return np.where(finite | ~mask, np.nan_to_num(scores), low).astype(np.float32), unranked


def random_scores(key, lengths, max_length: int, draws: int):
  """Scores ranking each example's real positions in a uniformly random order.

  Args:
    key: a PRNG key; each draw and example gets its own permutation.
    lengths: <int32>[B] real lengths.
    max_length: T.
    draws: D ≥ 1 independent rankings.

  Returns:
    <float32>[D, B, T]: distinct values in {1, …, T} at real positions (no
    ties), 0 on padding.
  """
  check_int("draws", draws, 1)
  check_int("max_length", max_length, 1)
  lengths = jnp.asarray(lengths)
  positions_NxT = jnp.broadcast_to(jnp.arange(max_length), (draws * lengths.shape[0], max_length))
  priority_NxT = jax.random.permutation(key, positions_NxT, axis=1, independent=True)
  scores_DxBxT = (priority_NxT + 1).astype(jnp.float32).reshape(draws, -1, max_length)
  return jnp.where(sequence_mask(lengths, max_length)[None], scores_DxBxT, 0.0)


def random_baseline(model, params, tokens, lengths, *, key, draws: int = 10, **options):
  """`faithfulness` of `draws` random rankings (`random_scores`): the chance level.

  The D draws are folded into the batch, so all D·B examples run in the same
  chunked, jitted call; each seed of stacked params is scored on the same
  draws.

  Args:
    model, params, tokens, lengths: as `faithfulness`.
    key: PRNG key of the rankings.
    draws: D ≥ 1.
    **options: `faithfulness`'s keyword options (bins, mode, …).

  Returns:
    `faithfulness`'s dict with a draw axis before the examples: [D, B, ...]
    (or [S, D, B, ...]).
  """
  tokens, lengths, _ = check_inputs(model, params, tokens, lengths)
  check_int("draws", draws, 1)
  batch, max_length = tokens.shape
  scores_DxBxT = random_scores(key, lengths, max_length, draws)
  out = faithfulness(model, params, jnp.tile(tokens, (draws, 1)), jnp.tile(lengths, draws),
                     scores_DxBxT.reshape(draws * batch, max_length), **options)
  lead = 0 if check_params(model, params) is None else 1
  return {name: value.reshape(value.shape[:lead] + (draws, batch) + value.shape[lead + 1:])
          for name, value in out.items()}


def rank_positions(scores_BxT, lengths_B):
  """The rank of every position: 0 for the highest score.

  Ties are broken by position (the earlier ranks first); padded positions
  rank after every real one, whatever their scores.

  Args:
    scores_BxT: <float>[B, T].
    lengths_B: <int32>[B].

  Returns:
    <int32>[B, T], each row a permutation of 0 … T − 1.

  Example:
    >>> rank_positions(jnp.array([[0.1, 0.5, 0.1, 9.0]]), jnp.array([3]))
    Array([[1, 0, 2, 3]], dtype=int32)
  """
  real_BxT = sequence_mask(lengths_B, scores_BxT.shape[1])
  order_BxT = jnp.argsort(jnp.where(real_BxT, -scores_BxT, jnp.inf), axis=1, stable=True)
  return jnp.argsort(order_BxT, axis=1).astype(jnp.int32)


def kept_copies(tokens_BxT, lengths_B, keep_BxJxT, *, mode: str, pad_id: int = PAD_ID,
                unk_id: int = UNK_ID, mask_id: int | None = None):
  """J copies of every example that keep only the positions `keep` marks.

  Args:
    tokens_BxT: <int32>[B, T].
    lengths_B: <int32>[B].
    keep_BxJxT: <bool>[B, J, T]; padded positions are never kept.
    mode: "remove" (the kept tokens move to the front in their order, the
      length is their count, padding fills the rest; nothing kept: one
      `unk_id` token, length 1) or "mask" (the others real tokens become
      `mask_id`, default `pad_id`; the length stays).
    pad_id, unk_id, mask_id: as in `faithfulness`.

  Returns:
    (copies <int32>[B, J, T], lengths <int32>[B, J]).

  Example:
    >>> keep = jnp.array([[[True, False, True, True], [False, False, False, True]]])
    >>> copies, new = kept_copies(jnp.array([[5, 6, 7, 8]]), jnp.array([3]), keep,
    ...                           mode="remove")
    >>> copies[0].tolist(), new[0].tolist()
    ([[5, 7, 0, 0], [1, 0, 0, 0]], [2, 1])
  """
  check_choice("mode", mode, MODES)
  mask_id = pad_id if mask_id is None else mask_id
  max_length = tokens_BxT.shape[1]
  real_Bx1xT = sequence_mask(lengths_B, max_length)[:, None, :]
  keep_BxJxT = keep_BxJxT & real_Bx1xT
  tokens_Bx1xT = tokens_BxT[:, None, :]
  if mode == "mask":
    copies = jnp.where(keep_BxJxT, tokens_Bx1xT, jnp.where(real_Bx1xT, mask_id, pad_id))
    return copies.astype(tokens_BxT.dtype), jnp.broadcast_to(lengths_B[:, None],
                                                             keep_BxJxT.shape[:2])
  order_BxJxT = jnp.argsort(~keep_BxJxT, axis=2, stable=True)  # kept positions first, in order
  kept_BxJxT = jnp.take_along_axis(jnp.broadcast_to(tokens_Bx1xT, keep_BxJxT.shape),
                                   order_BxJxT, axis=2)
  count_BxJ = jnp.sum(keep_BxJxT, axis=2, dtype=jnp.int32)
  copies = jnp.where(jnp.arange(max_length)[None, None, :] < count_BxJ[..., None], kept_BxJxT,
                     pad_id)
  copies = copies.at[..., 0].set(jnp.where(count_BxJ == 0, unk_id, copies[..., 0]))
  return copies.astype(tokens_BxT.dtype), jnp.maximum(count_BxJ, 1)


def bin_tokens(bins, max_length: int):
  """k = max(1, int(b·L + 0.5)) for every bin b and length L = 0 … T.

  Computed on the host in float64, exactly as the Python expression.

  Returns:
    <int32>[T + 1, nbins] numpy table (row L; row 0 is unused).
  """
  lengths = np.arange(max_length + 1, dtype=np.float64)[:, None]
  bins = np.asarray(check_bins(bins), np.float64)[None, :]
  return np.maximum(1, np.floor(bins * lengths + 0.5)).astype(np.int32)


def check_bins(bins) -> tuple[float, ...]:
  """`bins` as a tuple of floats in (0, 1]; `ValueError` naming the bad value otherwise."""
  try:
    values = tuple(bins)
  except TypeError:
    values = None
  if not values:
    raise ValueError(f"bins must be a non-empty sequence of fractions in (0, 1], got {bins!r}")
  for value in values:
    if not (is_real(value) and 0.0 < float(value) <= 1.0):
      raise ValueError(f"every bin must be a fraction in (0, 1], got {value!r} in bins={bins!r}")
  return tuple(float(value) for value in values)


def check_scores(scores, lengths_B, tokens_shape, seeds: int | None):
  """`scores` as a float array [B, T] (or [S, B, T] with S = `seeds`); `ValueError` otherwise.

  Non-finite values at real positions (when concrete) are errors: they have no
  rank. Values on padding are ignored, NaN included.
  """
  scores = jnp.asarray(scores)
  shapes = [tuple(tokens_shape)] + ([(seeds,) + tuple(tokens_shape)] if seeds else [])
  if scores.shape not in shapes or not (jnp.issubdtype(scores.dtype, jnp.integer)
                                        or jnp.issubdtype(scores.dtype, jnp.floating)):
    allowed = " or ".join(f"{s}" for s in shapes)
    raise ValueError(f"scores must be real numbers shaped like tokens, [B, T]"
                     f"{', or [S, B, T] for stacked params' if seeds else ''}: {allowed}; "
                     f"got {scores.dtype} {scores.shape}")
  scores = scores.astype(jnp.promote_types(scores.dtype, jnp.float32))
  if is_concrete(scores) and is_concrete(lengths_B):
    real = np.broadcast_to(np.asarray(sequence_mask(lengths_B, tokens_shape[1])), scores.shape)
    bad = np.argwhere(real & ~np.isfinite(np.asarray(scores)))
    if len(bad):
      raise ValueError(f"scores must be finite at real positions; got "
                       f"{np.asarray(scores)[tuple(bad[0])]} at index {tuple(int(i) for i in bad[0])}"
                       f"{f' (and {len(bad) - 1} more)' if len(bad) > 1 else ''}")
  return scores


@functools.partial(jax.jit, static_argnames=("model", "bins", "mode", "pad_id", "unk_id",
                                             "mask_id", "batch_copies"))
def _faithfulness(model, params, tokens, lengths, scores, *, bins, mode, pad_id, unk_id,
                  mask_id, batch_copies):
  batch, max_length = tokens.shape
  num_bins = len(bins)
  real_BxT = sequence_mask(lengths, max_length)
  k_BxK = jnp.asarray(bin_tokens(bins, max_length))[lengths]
  removed_T = jnp.arange(1, max_length + 1)  # deletion copy j removes the top j + 1

  def one_seed(p, scores_BxT):
    rank_BxT = rank_positions(scores_BxT, lengths)
    keep_BxJxT = jnp.concatenate([rank_BxT[:, None, :] >= removed_T[None, :, None],  # deletion
                                  rank_BxT[:, None, :] < k_BxK[:, :, None]], axis=1)  # sufficiency
    copies_BxJxT, copy_lengths_BxJ = kept_copies(tokens, lengths, keep_BxJxT, mode=mode,
                                                 pad_id=pad_id, unk_id=unk_id, mask_id=mask_id)
    copies = batch * (max_length + num_bins)
    valid_BxJ = jnp.concatenate([real_BxT, jnp.ones((batch, num_bins), bool)], axis=1)
    copy_logits_BxJxC = copies_logits(
        model, p, copies_BxJxT.reshape(copies, max_length), copy_lengths_BxJ.reshape(copies),
        valid_BxJ.reshape(copies), batch_copies).reshape(batch, max_length + num_bins, -1)

    logits_BxC, _ = model.apply(p, tokens, lengths)
    predicted_B = jnp.argmax(logits_BxC, axis=-1)
    probability_B = jnp.take_along_axis(jax.nn.softmax(logits_BxC, axis=-1),
                                        predicted_B[:, None], axis=1)[:, 0]
    copy_probability_BxJ = jnp.take_along_axis(jax.nn.softmax(copy_logits_BxJxC, axis=-1),
                                               predicted_B[:, None, None], axis=2)[..., 0]
    deleted_BxT = copy_probability_BxJ[:, :max_length]
    emptied_Bx1 = jnp.take_along_axis(deleted_BxT, lengths[:, None] - 1, axis=1)
    curve_BxT1 = jnp.concatenate([probability_B[:, None],
                                  jnp.where(real_BxT, deleted_BxT, emptied_Bx1)], axis=1)
    comprehensiveness_BxK = probability_B[:, None] - jnp.take_along_axis(curve_BxT1, k_BxK, axis=1)
    sufficiency_BxK = probability_B[:, None] - copy_probability_BxJ[:, max_length:]

    copy_predicted_BxT = jnp.argmax(copy_logits_BxJxC[:, :max_length], axis=-1)
    flips_BxT = (copy_predicted_BxT != predicted_B[:, None]) & real_BxT
    flipped_B = jnp.any(flips_BxT, axis=1)
    first_flip_B = jnp.argmax(flips_BxT, axis=1) + 1
    return {
        "comprehensiveness": jnp.mean(comprehensiveness_BxK, axis=1),
        "sufficiency": jnp.mean(sufficiency_BxK, axis=1),
        "comprehensiveness_bins": comprehensiveness_BxK,
        "sufficiency_bins": sufficiency_BxK,
        "bin_tokens": k_BxK,
        "flip_fraction": jnp.where(flipped_B, first_flip_B / lengths, 1.0).astype(jnp.float32),
        "flipped": flipped_B,
        "first_token_flip": flips_BxT[:, 0],
        "deletion_curve": curve_BxT1,
        "probability": probability_B,
        "predicted": predicted_B.astype(jnp.int32),
    }

  if scores.ndim == 3:  # one ranking per seed (stacked params only: `check_scores`)
    return map_seeds(one_seed, params, model=model, per_seed=(scores,))
  return map_seeds(one_seed, params, scores, model=model)
