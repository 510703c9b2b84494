"""Length buckets: running each batch at a short padded length instead of the dataset's T.

A bucket is a padded length L ≤ T; an example goes to the smallest bucket that
holds it, and a batch of one bucket runs on `tokens[:, :L]`. The model's outputs
at real positions do not depend on padding (`attnjax.models.encoders`), so this
changes the cost, not the result (up to float round-off in reductions over T).

A bucket specification is one of
  - "auto": `auto_buckets` picks up to `MAX_AUTO_BUCKETS` lengths that minimise
    the padded positions of the data at hand, one per `MIN_BATCHES_PER_BUCKET`
    batches; data too small for two buckets take the padded path (`resolve`):
    a few batches gain less than a second compiled shape costs, and small runs
    (tests, the quickstart) keep the padded path's numbers;
  - None (or "none"): no bucketing, every batch padded to T;
  - a sequence of lengths ≥ 1, e.g. (16, 32, 64): capped at T, with the data's
    longest length added when an example is longer than the largest.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from attnjax.checks import is_int

MAX_AUTO_BUCKETS = 6
"""Most buckets "auto" picks: each is one more compiled shape."""

MIN_BATCHES_PER_BUCKET = 25
""""auto" uses at most N / (this · batch size) buckets, so small data compile few shapes,
and data of fewer than two buckets' worth take the padded path (`resolve`)."""


def check_buckets(buckets):
  """A bucket specification, normalised: "auto", None, or a sorted tuple of distinct lengths.

  Raises:
    ValueError: naming the bad value and what is allowed.
  """
  if buckets is None or (isinstance(buckets, str) and buckets == "none"):
    return None
  if isinstance(buckets, str):
    if buckets == "auto":
      return "auto"
  elif isinstance(buckets, (Sequence, np.ndarray)) and len(buckets) and all(
      is_int(b) and b >= 1 for b in buckets):
    return tuple(sorted({int(b) for b in buckets}))
  raise ValueError(f"buckets must be 'auto', None or 'none' (pad every batch to T), or a "
                   f"non-empty sequence of integer lengths >= 1 such as (16, 32, 64); got "
                   f"{buckets!r}")


def resolve(buckets, lengths, batch_size: int):
  """`check_buckets`, with "auto" on data of fewer than 2·`MIN_BATCHES_PER_BUCKET`
  (50) batches resolved to None (the padded path). A bucket's compiled step costs
  seconds, a step at a shorter length saves milliseconds: below ~25 batches per
  bucket per epoch the compile is not paid back in a few epochs.

  Example:
    >>> resolve("auto", [3] * 1000, batch_size=32), resolve("auto", [3] * 1600, batch_size=32)
    (None, 'auto')
  """
  buckets = check_buckets(buckets)
  if buckets == "auto" and len(lengths) < 2 * MIN_BATCHES_PER_BUCKET * batch_size:
    return None
  return buckets


def bucket_lengths(buckets, lengths, max_length: int, batch_size: int) -> tuple[int, ...]:
  """The padded lengths to run `lengths` at, ascending; the last holds every example.

  Args:
    buckets: a specification (see the module docstring).
    lengths: <int>[N] real lengths, in [1, max_length].
    max_length: T, the dataset's padded length.
    batch_size: examples per batch ("auto" uses it to bound the bucket count).

  Returns:
    (T,) for None; otherwise lengths ≤ T, the largest ≥ max(lengths).
  """
  buckets = check_buckets(buckets)
  lengths = np.asarray(lengths)
  if buckets is None or lengths.size == 0:
    return (int(max_length),)
  if buckets == "auto":
    count = min(MAX_AUTO_BUCKETS, len(lengths) // (MIN_BATCHES_PER_BUCKET * batch_size))
    return auto_buckets(lengths, max(count, 1))
  out = sorted({min(b, int(max_length)) for b in buckets})
  if int(lengths.max()) > out[-1]:
    out.append(int(max_length))
  return tuple(out)


def auto_buckets(lengths, count: int) -> tuple[int, ...]:
  """The `count` (or fewer) bucket lengths minimising the total padded length Σ L(example).

  Exact dynamic programme over the distinct lengths (O(count · T²)); the
  largest bucket is max(lengths).

  Example:
    >>> auto_buckets([1, 1, 2, 9, 10], 2)
    (2, 10)
  """
  lengths = np.asarray(lengths, np.int64)
  top = int(lengths.max())
  counts = np.bincount(lengths, minlength=top + 1)
  below = np.concatenate([[0], np.cumsum(counts)])  # below[b] = #(length < b)
  ends = np.arange(top + 1)
  # cost[a, b]: examples with a < length <= b, run at length b.
  cost = ends[None, :] * (below[ends + 1][None, :] - below[ends + 1][:, None])
  cost = np.where(ends[:, None] < ends[None, :], cost, np.inf).astype(np.float64)
  best = np.full((count + 1, top + 1), np.inf)  # best[j, b]: j buckets, the last ending at b
  best[0, 0] = 0.0
  choice = np.zeros((count + 1, top + 1), np.int64)
  for j in range(1, count + 1):
    total = best[j - 1][:, None] + cost
    choice[j] = total.argmin(0)
    best[j] = total.min(0)
  used = int(np.argmin(best[1:, top])) + 1  # the fewest buckets reaching the least cost
  out, end = [], top
  for j in range(used, 0, -1):
    out.append(end)
    end = int(choice[j, end])
  return tuple(sorted(out))


def assign(lengths, buckets: Sequence[int]) -> np.ndarray:
  """<int>[N] index of the smallest bucket of `buckets` (ascending) holding each length."""
  return np.searchsorted(np.asarray(buckets), np.asarray(lengths), side="left")


def length_chunks(lengths, buckets: Sequence[int], batch_size: int):
  """Chunks of at most `batch_size` examples of similar length, for evaluation.

  Examples are sorted by length (stably) and cut into consecutive chunks; a
  chunk runs at the smallest bucket holding its longest example.

  Returns:
    a list of (indices <int>[≤ batch_size] into `lengths`, bucket length L).
  """
  lengths = np.asarray(lengths)
  order = np.argsort(lengths, kind="stable")
  buckets = np.asarray(buckets)
  out = []
  for start in range(0, len(order), batch_size):
    indices = order[start:start + batch_size]
    out.append((indices, int(buckets[assign(lengths[indices].max(), buckets)])))
  return out
