"""Running trained (stacked) parameters over a dataset in memory-bounded batches."""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from attnjax.data import buckets as buckets_lib
from attnjax.data.dataset import TextDataset
from attnjax.models.classifier import AttentionClassifier, Aux
from attnjax.models.seeds import map_seeds, stack_seeds

AUX_FIELDS = Aux._fields


@functools.partial(jax.jit, static_argnames=("model", "keep"))
def _apply_seeds(model, params, tokens, lengths, keep):
  def one(p):
    logits, aux = model.apply(p, tokens, lengths)
    return logits, {k: getattr(aux, k) for k in keep}
  return map_seeds(one, params, model=model)


def collect(model: AttentionClassifier, params, data: TextDataset, *, batch_size: int = 256,
            keep: Sequence[str] = AUX_FIELDS, buckets="auto"):
  """Logits and attention internals of every seed on every example.

  Args:
    model: the classifier.
    params: parameters, stacked on a leading seed axis S (unstacked params are
      treated as S = 1).
    data: examples to run (N of them, padded length T).
    batch_size: examples per compiled call (bounds device memory).
    keep: which `Aux` fields to return (others are None); e.g. `()` when only
      logits are needed.
    buckets: length buckets (`attnjax.data.buckets`). With buckets, examples
      are sorted by length and run `batch_size` at a time at the smallest
      bucket holding the chunk, then put back in order and padded to T with
      what the padded run gives there (attention and hidden 0, scores the
      scorer's value at a padded position); equal to `buckets=None` (every
      chunk at T, in data order) to float round-off. "auto" on fewer than
      50 batches runs padded (`attnjax.data.buckets.resolve`).

  Returns:
    (logits <float32>[S, N, C], Aux) with attention/scores [S, N, T],
    hidden [S, N, T, D], context [S, N, D], as host NumPy arrays.
  """
  keep = tuple(keep)
  unknown = sorted(set(keep) - set(AUX_FIELDS))
  if unknown:
    raise ValueError(f"unknown aux fields {unknown}; allowed: {list(AUX_FIELDS)}")
  buckets = buckets_lib.resolve(buckets, np.asarray(data.lengths), batch_size)
  params = stack_seeds(params, model)
  if buckets is not None:
    return _collect_bucketed(model, params, data, batch_size, keep, buckets)
  n = len(data)
  padded = -(-n // batch_size) * batch_size
  tokens = np.pad(np.asarray(data.tokens), ((0, padded - n), (0, 0)))
  lengths = np.pad(np.asarray(data.lengths), (0, padded - n), constant_values=1)
  logits, fields = [], {k: [] for k in keep}
  for start in range(0, padded, batch_size):
    batch_logits, batch_aux = _apply_seeds(model, params, tokens[start:start + batch_size],
                                           lengths[start:start + batch_size], keep)
    logits.append(np.asarray(batch_logits))
    for k in keep:
      fields[k].append(np.asarray(batch_aux[k]))
  logits = np.concatenate(logits, axis=1)[:, :n]
  aux = Aux(**{k: np.concatenate(fields[k], axis=1)[:, :n] if k in keep else None
               for k in AUX_FIELDS})
  return logits, aux


def _collect_bucketed(model, params, data, batch_size, keep, buckets):
  """`collect` in length-sorted chunks, each at its bucket's length (see `collect`)."""
  tokens, lengths = np.asarray(data.tokens), np.asarray(data.lengths)
  n, max_length = tokens.shape
  bucket_lens = buckets_lib.bucket_lengths(buckets, lengths, max_length, batch_size)
  out, logits = {}, None
  for indices, length in buckets_lib.length_chunks(lengths, bucket_lens, batch_size):
    count = len(indices)
    chunk_tokens = np.zeros((batch_size, length), tokens.dtype)
    chunk_tokens[:count] = tokens[indices, :length]
    chunk_lengths = np.ones(batch_size, lengths.dtype)  # filler rows: length 1, discarded
    chunk_lengths[:count] = lengths[indices]
    chunk_logits, chunk_aux = _apply_seeds(model, params, chunk_tokens, chunk_lengths, keep)
    chunk_logits = np.asarray(chunk_logits)
    if logits is None:
      logits = np.zeros((chunk_logits.shape[0], n) + chunk_logits.shape[2:], chunk_logits.dtype)
    logits[:, indices] = chunk_logits[:, :count]
    for k in keep:
      value = np.asarray(chunk_aux[k])[:, :count]
      if k not in out:
        shape = value.shape[:1] + (n,) + value.shape[2:]
        if k in ("attention", "scores", "hidden"):
          shape = shape[:2] + (max_length,) + shape[3:]
        out[k] = np.zeros(shape, value.dtype)
        if k == "scores":  # the scorer's value at a padded position (hidden 0): one per seed
          _, pad_aux = _apply_seeds(model, params, np.zeros((1, 2), tokens.dtype),
                                    np.ones(1, lengths.dtype), ("scores",))
          out[k][:] = np.asarray(pad_aux["scores"])[:, 0, 1][:, None, None]
      if k in ("attention", "scores", "hidden"):
        out[k][:, indices, :length] = value
      else:
        out[k][:, indices] = value
  return logits, Aux(**{k: out[k] if k in keep else None for k in AUX_FIELDS})


def roc_auc(scores, labels) -> np.ndarray:
  """Area under the ROC curve of `scores` for the positive class 1, per row.

  The Mann–Whitney form: the probability that a random positive example scores
  above a random negative one, ties counting one half (average ranks).

  Args:
    scores: <float>[..., N] scores (e.g. p(class 1)), one row per seed.
    labels: <int>[N] labels in {0, 1}.

  Returns:
    <float64>[...]; NaN where either class is absent.
  """
  scores, labels = np.asarray(scores, np.float64), np.asarray(labels) == 1
  positives, negatives = int(labels.sum()), int((~labels).sum())
  if positives == 0 or negatives == 0:
    return np.full(scores.shape[:-1], np.nan)

  def one(row):
    values, inverse, counts = np.unique(row, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based, ties averaged
    rank_sum = average_rank[inverse][labels].sum()
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)

  return np.apply_along_axis(one, -1, scores) if scores.ndim > 1 else np.float64(one(scores))


def evaluate(model: AttentionClassifier, params, data: TextDataset, *,
             batch_size: int = 256, buckets="auto") -> dict[str, np.ndarray]:
  """Per-seed accuracy and mean cross-entropy: {"accuracy": [S], "loss": [S]}, and with two
  classes "roc_auc" [S] (`roc_auc` of p(class 1)).

  `batch_size` and `buckets` as in `collect`.
  """
  logits, _ = collect(model, params, data, batch_size=batch_size, keep=(), buckets=buckets)
  labels = np.asarray(data.labels)
  loss = optax.softmax_cross_entropy_with_integer_labels(jnp.asarray(logits),
                                                         jnp.asarray(labels)[None])
  out = {"accuracy": (logits.argmax(-1) == labels[None]).mean(-1).astype(np.float32),
         "loss": np.asarray(loss.mean(-1), np.float32)}
  if logits.shape[-1] == 2:
    # p(class 1) ranks as its logit margin, which keeps ties that float32 probabilities lose.
    margin = np.asarray(logits[..., 1], np.float64) - np.asarray(logits[..., 0], np.float64)
    out["roc_auc"] = np.asarray(roc_auc(margin, labels), np.float32)
  return out
