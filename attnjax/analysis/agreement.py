"""Pairwise agreement of importance scores (attention, MI, gradients, LOO, ...) by Kendall τ-b."""

from __future__ import annotations

import itertools

import jax.numpy as jnp
import numpy as np

from attnjax.analysis.ranking import rank_correlation
from attnjax.analysis.summary import mean_ci
from attnjax.models.encoders import sequence_mask


def agreement(scores: dict, lengths, *, kind: str = "kendall") -> dict:
  """Mean rank correlation between every two methods' per-example importance scores.

  Args:
    scores: {method name: <float32>[..., B, T]} (leading axes, e.g. seeds,
      shared by all methods).
    lengths: <int32>[B] real lengths (positions ≥ length are ignored).
    kind: "kendall" (τ-b, as Jain & Wallace 2019) or "spearman".

  Returns:
    {"methods": names, "mean": [M, M], "ci": [M, M] (95% Student-t half-width
    over all examples and seeds), "n": [M, M] (pairs with a defined τ; a
    constant score row, e.g. uniform attention, has none)}. Symmetric, with
    ones on the diagonal wherever a method's scores are not constant.

  References:
    Jain & Wallace (2019), "Attention is not Explanation", NAACL.
  """
  names = list(scores)
  if not names:
    raise ValueError("agreement needs at least one method's scores")
  shapes = {name: jnp.shape(value) for name, value in scores.items()}
  if len(set(shapes.values())) != 1:
    raise ValueError(f"all scores must share one shape [..., B, T]; got {shapes}")
  shape = shapes[names[0]]
  mask = sequence_mask(jnp.asarray(lengths), shape[-1])
  if mask.shape != shape[-2:]:
    raise ValueError(f"lengths {jnp.shape(lengths)} do not match scores [..., B, T] = {shape}")
  size = len(names)
  mean, ci, n = (np.full((size, size), np.nan) for _ in range(3))
  for i, j in itertools.combinations_with_replacement(range(size), 2):
    tau = np.asarray(rank_correlation(jnp.asarray(scores[names[i]], jnp.float32),
                                      jnp.asarray(scores[names[j]], jnp.float32), mask, kind))
    summary = mean_ci(tau.ravel())
    for a, b in ((i, j), (j, i)):
      mean[a, b], ci[a, b], n[a, b] = summary["mean"], summary["ci"], summary["n"]
  return {"methods": names, "mean": mean, "ci": ci, "n": n}
