"""Masked rank statistics over token positions: Kendall τ-b, Spearman ρ, precision@k.

All functions work on the last axis (positions T), accept any leading axes
(examples, seeds), are jittable and vmappable, and ignore positions where `mask`
is False.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

RANK_CORRELATIONS = ("kendall", "spearman")


def _full_mask(a, mask):
  return jnp.ones(jnp.shape(a), bool) if mask is None else jnp.broadcast_to(mask, jnp.shape(a))


def kendall_tau_b(a, b, mask=None):
  """Kendall's τ-b (tie-corrected) between `a` and `b` over the masked positions.

  τ_b = (n_c − n_d) / sqrt((n_0 − n_1)(n_0 − n_2)), n_0 the number of pairs and
  n_1, n_2 the pairs tied in `a`, in `b`. Pairs enumerate all T² position
  pairs (O(T²) memory per example).

  Args:
    a, b: <float32>[..., T].
    mask: optional <bool>[..., T], the positions to rank.

  Returns:
    <float32>[...]; NaN where either input is constant over the mask (as
    scipy.stats.kendalltau) or fewer than 2 positions are real.

  References:
    Kendall (1945), "The treatment of ties in ranking problems", Biometrika.
  """
  m = _full_mask(a, mask)
  pair = m[..., :, None] & m[..., None, :]
  sa = jnp.sign(a[..., :, None] - a[..., None, :]) * pair
  sb = jnp.sign(b[..., :, None] - b[..., None, :]) * pair
  concordance = (sa * sb).sum((-2, -1))
  denominator = jnp.sqrt(jnp.abs(sa).sum((-2, -1)) * jnp.abs(sb).sum((-2, -1)))
  return jnp.where(denominator > 0, concordance / jnp.where(denominator > 0, denominator, 1.0),
                   jnp.nan)


def partial_tau(t_xy, t_xz, t_yz):
  """Kendall's partial τ of x and y given z (Kendall 1942), elementwise (NumPy).

  Args:
    t_xy, t_xz, t_yz: <float>[...] Kendall τ of the three pairs (NaN where undefined).

  Returns:
    <float64>[...] (τ_xy − τ_xz τ_yz) / √((1 − τ_xz²)(1 − τ_yz²)); NaN where an input is
    NaN or |τ_xz| = 1 or |τ_yz| = 1 (x or y a perfect function of z: nothing is left).

  Kendall's partial τ is not a test of conditional independence: under a strong common
  dependence on z it shrinks but does not vanish. Read it as the agreement left once z's
  share is discounted.

  References:
    Kendall (1942), "Partial rank correlation", Biometrika 32, 277–283.
  """
  t_xy, t_xz, t_yz = (np.asarray(t, np.float64) for t in (t_xy, t_xz, t_yz))
  denominator = (1 - t_xz ** 2) * (1 - t_yz ** 2)
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(denominator > 1e-12, (t_xy - t_xz * t_yz) / np.sqrt(denominator), np.nan)


def average_ranks(a, mask=None):
  """1-based ranks over the masked positions, ties given their average rank.

  Args:
    a: <float32>[..., T].
    mask: optional <bool>[..., T].

  Returns:
    <float32>[..., T]; 0 where masked out.
  """
  m = _full_mask(a, mask)
  other = m[..., None, :]
  less = ((a[..., None, :] < a[..., :, None]) & other).sum(-1)
  equal = ((a[..., None, :] == a[..., :, None]) & other).sum(-1)
  return jnp.where(m, less + (equal + 1) / 2.0, 0.0)


def spearman_rho(a, b, mask=None):
  """Spearman's ρ: Pearson correlation of tie-averaged ranks over the masked positions.

  Returns <float32>[...]; NaN where either input is constant over the mask.

  References:
    Spearman (1904), "The proof and measurement of association between two
    things", American Journal of Psychology.
  """
  m = _full_mask(a, mask)
  count = m.sum(-1, keepdims=True)
  ra, rb = average_ranks(a, m), average_ranks(b, m)
  centre = (count + 1) / 2.0
  da, db = jnp.where(m, ra - centre, 0.0), jnp.where(m, rb - centre, 0.0)
  denominator = jnp.sqrt((da * da).sum(-1) * (db * db).sum(-1))
  return jnp.where(denominator > 0, (da * db).sum(-1) / jnp.where(denominator > 0, denominator, 1),
                   jnp.nan)


def rank_correlation(a, b, mask=None, kind: str = "kendall"):
  """Masked, tie-aware rank correlation along the last axis.

  Args:
    a, b: <float32>[..., T], e.g. attention weights and per-position MI.
    mask: optional <bool>[..., T] (broadcastable), the positions compared.
    kind: "kendall" (τ-b) or "spearman" (ρ).

  Returns:
    <float32>[...] in [−1, 1], NaN where undefined (constant input).
  """
  if kind == "kendall":
    return kendall_tau_b(jnp.asarray(a), jnp.asarray(b), mask)
  if kind == "spearman":
    return spearman_rho(jnp.asarray(a), jnp.asarray(b), mask)
  raise ValueError(f"unknown rank correlation {kind!r}; allowed: {', '.join(RANK_CORRELATIONS)}")


def precision_at_k(scores, relevant, mask=None, k=None):
  """Share of the k top-scored real positions that are relevant.

  Ties in `scores` are broken by position (earlier first), so a constant score
  gets no credit it did not earn.

  Args:
    scores: <float32>[..., T] importance scores (higher = more important).
    relevant: <bool>[..., T] ground-truth important positions.
    mask: optional <bool>[..., T] real positions (others never count as top).
    k: int, or None for k = number of relevant positions per example
      (R-precision).

  Returns:
    <float32>[...] in [0, 1]; NaN where k = 0.
  """
  scores = jnp.asarray(scores, jnp.float32)
  m = _full_mask(scores, mask)
  relevant = jnp.asarray(relevant, bool) & m
  ranked = jnp.where(m, scores, -jnp.inf)
  order = jnp.argsort(-ranked, axis=-1, stable=True)
  rank = jnp.argsort(order, axis=-1)
  k = relevant.sum(-1) if k is None else jnp.broadcast_to(jnp.asarray(k), relevant.shape[:-1])
  k = jnp.minimum(k, m.sum(-1))
  hits = (relevant & (rank < k[..., None])).sum(-1)
  return jnp.where(k > 0, hits / jnp.maximum(k, 1), jnp.nan).astype(jnp.float32)
