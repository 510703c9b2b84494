"""Summaries over seeds and examples: mean with a Student-t 95% confidence interval."""

from __future__ import annotations

import functools
import math
import warnings

import jax
import numpy as np
from jax.scipy.special import betainc


def _betainc64(a, b, x) -> np.ndarray:
  """The regularised incomplete beta function I_x(a, b) in float64 (JAX's, with x64 on)."""
  with jax.enable_x64(True):
    return np.asarray(betainc(np.asarray(a, np.float64), np.asarray(b, np.float64),
                              np.asarray(x, np.float64)), np.float64)


def student_t_two_sided_p(t, dof) -> np.ndarray | float:
  """P(|T| ≥ |t|) for Student's t with `dof` (> 0, not necessarily whole) degrees of freedom.

  Args:
    t: <float>[...] t statistics (±inf gives 0; NaN gives NaN).
    dof: <float>[...] degrees of freedom, broadcast against `t` (NaN or ≤ 0 gives NaN).

  Returns:
    I_{dof/(dof+t²)}(dof/2, 1/2), in float64: a float for scalar inputs, else an array.
  """
  t, dof = np.broadcast_arrays(np.asarray(t, np.float64), np.asarray(dof, np.float64))
  valid = np.isfinite(dof) & (dof > 0) & ~np.isnan(t)
  safe_dof = np.where(valid, dof, 1.0)
  with np.errstate(over="ignore", invalid="ignore"):
    x = np.where(np.isinf(t), 0.0, safe_dof / (safe_dof + np.where(np.isinf(t), 0.0, t) ** 2))
  p = np.where(valid, _betainc64(safe_dof / 2, 0.5, np.where(valid, x, 1.0)), np.nan)
  return float(p) if p.ndim == 0 else p


def student_t_cdf(t, dof) -> np.ndarray | float:
  """P(T ≤ t) for Student's t with `dof` (> 0, not necessarily whole) degrees of freedom."""
  t = np.asarray(t, np.float64)
  tail = 0.5 * np.asarray(student_t_two_sided_p(t, dof))  # P(T ≥ |t|)
  cdf = np.where(t > 0, 1 - tail, tail)
  return float(cdf) if cdf.ndim == 0 else cdf


@functools.lru_cache(maxsize=4096)
def student_t_quantile(probability: float, dof: float) -> float:
  """Quantile of Student's t with `dof` ≥ 1 degrees of freedom (bisection on its CDF, float64).

  `dof` need not be whole (Welch–Satterthwaite degrees of freedom). Memoised: a bisection is
  ~85 incomplete-beta evaluations, and a report asks for the same few (level, n − 1) pairs
  hundreds of times (`mean_ci` per summary).
  """
  if not dof >= 1:
    raise ValueError(f"dof must be >= 1, got {dof}")
  if not 0.5 <= probability < 1:
    raise ValueError(f"probability must be in [0.5, 1), got {probability}")

  def upper_tail(t):  # P(T > t) for t >= 0
    return 0.5 * float(_betainc64(dof / 2.0, 0.5, dof / (dof + t * t)))

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


def mean_ci(values, axis=0, level: float = 0.95, *, undefined: str | None = None) -> dict:
  """Mean and the half-width of its Student-t confidence interval, counting NaNs.

  Non-finite values (NaN, ±inf: an undefined statistic, a failed seed) are left
  out of the mean and the interval, and counted: "n" is how many were used and
  "dropped" how many were left out, so a seed that failed entirely shows as
  n = S − 1, not as a silently narrower interval.

  Args:
    values: array of replicate values (e.g. one per seed) along `axis`.
    axis: the replicate axis.
    level: confidence level.
    undefined: why a value can be undefined (e.g. "τ of a constant ranking");
      stored as "undefined" when any value was dropped (scalar summaries).

  Returns:
    {"mean", "ci" (half-width; NaN with fewer than 2 finite values), "n",
    "dropped", "std"} as floats and ints (or arrays when `values` has other
    axes), plus "undefined" (the reason) when values were dropped.
  """
  values = np.asarray(values, np.float64)
  finite = np.isfinite(values)
  n = finite.sum(axis)
  dropped = (~finite).sum(axis)
  with np.errstate(invalid="ignore", divide="ignore"):
    mean = np.where(finite, values, 0.0).sum(axis) / n
    centred = np.where(finite, values - np.expand_dims(mean, axis), 0.0)
    std = np.sqrt((centred ** 2).sum(axis) / (n - 1))
    quantiles = np.vectorize(
        lambda dof: student_t_quantile((1 + level) / 2, int(dof)) if dof >= 1 else math.nan,
        otypes=[float])(n - 1)
    ci = np.where(n >= 2, quantiles * std / np.sqrt(n), np.nan)
  as_out = lambda x: float(x) if np.ndim(x) == 0 else x
  as_count = lambda x: int(x) if np.ndim(x) == 0 else x
  out = {"mean": as_out(mean), "ci": as_out(ci), "n": as_count(n), "dropped": as_count(dropped),
         "std": as_out(std)}
  if undefined is not None and np.ndim(dropped) == 0 and dropped > 0:
    out["undefined"] = undefined
  return out


def seed_summary(values, *, undefined: str | None = None, level: float = 0.95) -> dict:
  """`mean_ci` over seeds of per-seed values (means), keeping the per-seed values.

  Args:
    values: <float>[S] one value per seed, or <float>[S, ...] values
      (examples, positions) averaged ignoring NaN into one number per seed.
    undefined: why a value can be undefined (stored when any was).
    level: confidence level.

  Returns:
    `mean_ci` of the S per-seed values, plus "per_seed": the S values in seed
    order (NaN where undefined; JSON null), so two summaries of the same seeds
    can be compared pairwise (`attnjax.analysis.compare.paired`), and, for
    [S, ...] input, "values" = {"defined", "total"}: how many of the S·(...)
    values entered the per-seed means.
  """
  values = np.asarray(values, np.float64)
  if values.ndim == 0:
    raise ValueError("seed_summary needs one value per seed (an array [S] or [S, ...]), "
                     "got a scalar")
  per_seed = nanmean(values.reshape(values.shape[0], -1), 1) if values.ndim > 1 else values
  out = mean_ci(per_seed, level=level, undefined=undefined)
  out["per_seed"] = [float(v) for v in per_seed]
  if values.ndim > 1:
    defined, total = int(np.isfinite(values).sum()), int(values.size)
    out["values"] = {"defined": defined, "total": total}
    if defined < total and undefined is not None:
      out["undefined"] = undefined
  return out
