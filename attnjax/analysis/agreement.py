"""Pairwise agreement of importance scores (attention, MI, gradients, LOO, ...) by Kendall τ-b."""

from __future__ import annotations

import itertools

import jax.numpy as jnp
import numpy as np

from attnjax.analysis.ranking import rank_correlation
from attnjax.analysis.summary import mean_ci, nanmean


def agreement(scores: dict, lengths, *, kind: str = "kendall") -> dict:
  """Mean rank correlation between every two methods' per-example importance scores.

  Args:
    scores: {method name: <float32>[S, B, T] (S seeds' models) or [B, T] (one model)},
      all of one shape.
    lengths: <int32>[B] real lengths (positions ≥ length are ignored).
    kind: "kendall" (τ-b, as Jain & Wallace 2019) or "spearman".

  Returns:
    {"methods": names, "mean": [M, M], "ci": [M, M], "n": [M, M], "over": "seeds" or
    "examples", "defined": [M, M] (examples × seeds with a defined correlation; a constant
    score row, e.g. uniform attention, has none)}. With a seed axis, each seed's
    correlations are averaged over its examples and "mean" ± "ci" (the 95% Student-t
    half-width) is over the S per-seed means, n of them: examples of one model are not
    independent replicates across seeds, so they are never pooled. Without one, it is
    over the B examples of the one model. Symmetric, with ones on the diagonal wherever a
    method's scores are not constant.

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
  if len(shape) not in (2, 3):
    raise ValueError(f"scores must be [B, T] or [S, B, T], got shape {shape}")
  lengths = jnp.asarray(lengths)
  if lengths.shape != shape[-2:-1]:
    raise ValueError(f"lengths {lengths.shape} do not match scores [..., B, T] = {shape}")
  mask = jnp.arange(shape[-1])[None, :] < lengths[:, None]
  size = len(names)
  mean, ci, n, defined = (np.full((size, size), np.nan) for _ in range(4))
  for i, j in itertools.combinations_with_replacement(range(size), 2):
    tau = np.asarray(rank_correlation(jnp.asarray(scores[names[i]], jnp.float32),
                                      jnp.asarray(scores[names[j]], jnp.float32), mask, kind))
    summary = mean_ci(nanmean(tau, -1) if tau.ndim == 2 else tau)
    for a, b in ((i, j), (j, i)):
      mean[a, b], ci[a, b], n[a, b] = summary["mean"], summary["ci"], summary["n"]
      defined[a, b] = np.isfinite(tau).sum()
  return {"methods": names, "mean": mean, "ci": ci, "n": n, "defined": defined,
          "over": "seeds" if len(shape) == 3 else "examples"}
