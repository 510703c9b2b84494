"""Summaries over seeds and examples: mean with a Student-t 95% confidence interval."""

from __future__ import annotations

import math
import warnings

import numpy as np
from jax.scipy.special import betainc


def student_t_quantile(probability: float, dof: int) -> float:
  """Quantile of Student's t with `dof` degrees of freedom (bisection on its CDF)."""
  if dof < 1:
    raise ValueError(f"dof must be >= 1, got {dof}")
  if not 0.5 <= probability < 1:
    raise ValueError(f"probability must be in [0.5, 1), got {probability}")

  def upper_tail(t):  # P(T > t) for t >= 0
    return 0.5 * float(betainc(dof / 2.0, 0.5, dof / (dof + t * t)))

  low, high = 0.0, 1.0
  while upper_tail(high) > 1 - probability:
    high *= 2
  for _ in range(80):
    mid = (low + high) / 2
    low, high = (mid, high) if upper_tail(mid) > 1 - probability else (low, mid)
  return (low + high) / 2


def nanmean(values, axis) -> np.ndarray:
  """Mean over `axis` ignoring NaN; NaN, without a warning, where every value is NaN.

  For per-seed summaries such as the mean Kendall τ over examples, where τ of a
  constant ranking (e.g. uniform attention) is NaN.
  """
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    return np.nanmean(np.asarray(values), axis=axis)


def mean_ci(values, axis=0, level: float = 0.95) -> dict:
  """Mean and the half-width of its Student-t confidence interval, ignoring NaNs.

  Args:
    values: array of replicate values (e.g. one per seed) along `axis`.
    axis: the replicate axis.
    level: confidence level.

  Returns:
    {"mean", "ci" (half-width; NaN with fewer than 2 finite values), "n", "std"}
    as floats (or arrays when `values` has other axes).
  """
  values = np.asarray(values, np.float64)
  finite = np.isfinite(values)
  n = finite.sum(axis)
  with np.errstate(invalid="ignore", divide="ignore"):
    mean = np.nansum(values, axis) / n
    centred = np.where(finite, values - np.expand_dims(mean, axis), 0.0)
    std = np.sqrt((centred ** 2).sum(axis) / (n - 1))
    quantiles = np.vectorize(
        lambda dof: student_t_quantile((1 + level) / 2, int(dof)) if dof >= 1 else math.nan,
        otypes=[float])(n - 1)
    ci = np.where(n >= 2, quantiles * std / np.sqrt(n), np.nan)
  as_out = lambda x: float(x) if np.ndim(x) == 0 else x
  return {"mean": as_out(mean), "ci": as_out(ci), "n": as_out(n), "std": as_out(std)}
