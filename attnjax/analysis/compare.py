"""Two-sample comparisons over seeds: Welch's t, the paired t, Holm's adjustment, a direction.

A comparison of A and B is the difference of means A − B with its Student-t
confidence interval, the t statistic, its degrees of freedom and the two-sided
p-value, as a JSON-able dict:

    {"test": "welch" | "paired" | "one-sample", "difference", "se", "ci": [low, high], "level",
     "t", "dof", "p", "n": [n_a, n_b], "dropped": [dropped_a, dropped_b]}

(for the paired test n_a = n_b = the pairs used, dropped = the pairs left out).

- `welch`: two independent samples (e.g. per-seed values of two separately
  trained cells), unequal variances, Welch–Satterthwaite degrees of freedom.
  `welch_from_summaries` gives the same from each side's mean, std and n (the
  summaries `mean_ci` writes), so stored results can be re-judged.
- `paired`: two values per seed from the same seed's model (e.g. a model and
  that model with its attention swapped): the one-sample t of the per-seed
  differences.
- `one_sample`: one statistic per seed against a fixed value (e.g. a partial
  correlation against 0).
- `holm`: Holm's step-down adjustment of a family of p-values.
- `direction`: +1 (A > B), −1 (A < B) or 0 (inconclusive) from a p-value and
  the sign of the difference.

Non-finite values (an undefined statistic, a failed seed) are left out and
counted, as in `mean_ci`. A side with fewer than 2 values gives NaN t, interval
and p. When both sides have zero variance the difference is exact: t = ±inf and
p = 0 for a non-zero difference, t = 0 and p = 1 for none, the interval is the
difference itself, and dof = n_a + n_b − 2 (Welch) or n − 1 (paired).
"""

from __future__ import annotations

import math

import numpy as np

from attnjax.analysis.summary import student_t_quantile, student_t_two_sided_p


def _check_level(level: float):
  if not 0 < level < 1:
    raise ValueError(f"level must be in (0, 1), got {level}")


def _result(test: str, difference: float, se: float, dof: float, level: float, n, dropped
            ) -> dict:
  """The comparison dict from a difference, its standard error and degrees of freedom."""
  nan = math.nan
  if not (np.isfinite(difference) and np.isfinite(se) and np.isfinite(dof) and dof >= 1):
    t = p = low = high = nan
  elif se == 0:
    t = 0.0 if difference == 0 else math.copysign(math.inf, difference)
    p = 1.0 if difference == 0 else 0.0
    low = high = difference
  else:
    t = difference / se
    p = student_t_two_sided_p(t, dof)
    half = student_t_quantile((1 + level) / 2, dof) * se
    low, high = difference - half, difference + half
  return {"test": test, "difference": float(difference), "se": float(se),
          "ci": [float(low), float(high)],
          "level": level, "t": float(t), "dof": float(dof), "p": float(p),
          "n": [int(n[0]), int(n[1])], "dropped": [int(dropped[0]), int(dropped[1])]}


def welch_from_summaries(a: dict, b: dict, *, level: float = 0.95) -> dict:
  """Welch's t of A − B from each side's summary (unequal variances).

  Args:
    a, b: {"mean", "std" (sample std, ddof = 1), "n", optionally "dropped"}, as
      `mean_ci` / `seed_summary` write them (JSON nulls read back as NaN).
    level: confidence level of the interval of the difference.

  Returns:
    The comparison dict (see the module docstring), test "welch", with the
    Welch–Satterthwaite degrees of freedom
    (v_a + v_b)² / (v_a² / (n_a − 1) + v_b² / (n_b − 1)), v = std² / n.
  """
  _check_level(level)
  n_a, n_b = (int(_number(s.get("n"), 0)) for s in (a, b))
  dropped = [int(_number(s.get("dropped"), 0)) for s in (a, b)]
  difference = _number(a.get("mean")) - _number(b.get("mean"))
  if min(n_a, n_b) < 2:
    return _result("welch", difference, math.nan, math.nan, level, (n_a, n_b), dropped)
  v_a, v_b = _number(a.get("std")) ** 2 / n_a, _number(b.get("std")) ** 2 / n_b
  se = math.sqrt(v_a + v_b)
  if v_a + v_b == 0:
    dof = n_a + n_b - 2.0
  else:
    dof = (v_a + v_b) ** 2 / (v_a ** 2 / (n_a - 1) + v_b ** 2 / (n_b - 1))
    dof = max(dof, min(n_a, n_b) - 1.0)  # its lower bound, against rounding below it
  return _result("welch", difference, se, dof, level, (n_a, n_b), dropped)


def _number(value, default=math.nan) -> float:
  return default if value is None else float(value)


def _finite(values) -> np.ndarray:
  values = np.asarray(values, np.float64)
  if values.ndim != 1:
    raise ValueError(f"expected a 1-D array of per-seed values, got shape {values.shape}")
  return values


def _summary(values: np.ndarray) -> dict:
  kept = values[np.isfinite(values)]
  n = kept.size
  return {"mean": float(kept.mean()) if n else math.nan,
          "std": float(kept.std(ddof=1)) if n >= 2 else math.nan, "n": n,
          "dropped": int(values.size - n)}


def welch(a, b, *, level: float = 0.95) -> dict:
  """Welch's t of mean(A) − mean(B) for two independent samples.

  Args:
    a: <float>[N_a] values (e.g. one per seed of one cell); non-finite left out, counted.
    b: <float>[N_b] values of the other sample.
    level: confidence level of the interval of the difference.

  Returns:
    The comparison dict (module docstring), test "welch"; equal to
    `scipy.stats.ttest_ind(a, b, equal_var=False)` and its `confidence_interval`.
  """
  return welch_from_summaries(_summary(_finite(a)), _summary(_finite(b)), level=level)


def paired(a, b, *, level: float = 0.95) -> dict:
  """Paired t of A − B: the one-sample t of the differences a[i] − b[i].

  Args:
    a: <float>[S] values per seed (or other shared unit).
    b: <float>[S] the same seeds' values of the other measure; a pair where
      either value is non-finite is left out and counted.
    level: confidence level of the interval of the mean difference.

  Returns:
    The comparison dict (module docstring), test "paired", n = [pairs, pairs];
    equal to `scipy.stats.ttest_rel(a, b)` and its `confidence_interval`.
  """
  _check_level(level)
  a, b = _finite(a), _finite(b)
  if a.shape != b.shape:
    raise ValueError(f"paired values need one value per seed on both sides, got {a.shape[0]} "
                     f"and {b.shape[0]}")
  differences = a - b
  kept = differences[np.isfinite(differences)]
  n, dropped = kept.size, differences.size - kept.size
  if n < 2:
    mean = float(kept.mean()) if n else math.nan
    return _result("paired", mean, math.nan, math.nan, level, (n, n), (dropped, dropped))
  se = float(kept.std(ddof=1)) / math.sqrt(n)
  return _result("paired", float(kept.mean()), se, n - 1.0, level, (n, n), (dropped, dropped))


def one_sample(a, value: float = 0.0, *, level: float = 0.95) -> dict:
  """One-sample t of mean(A) − value.

  Args:
    a: <float>[S] values (e.g. one statistic per seed); non-finite left out, counted.
    value: the value the mean is compared with.
    level: confidence level of the interval of the difference.

  Returns:
    The comparison dict (module docstring), test "one-sample", n = [S kept, S kept];
    equal to `scipy.stats.ttest_1samp(a, value)` and its `confidence_interval`.
  """
  a = _finite(a)
  return {**paired(a, np.full(a.shape, float(value)), level=level), "test": "one-sample"}


def interval(comparison: dict, level: float) -> list[float]:
  """The Student-t interval of a comparison's difference at another confidence level.

  Args:
    comparison: a comparison dict (its "difference", "se" and "dof").
    level: the confidence level, e.g. 1 − 0.05 / m for a Bonferroni interval over a family
      of m comparisons.

  Returns:
    [low, high]; [NaN, NaN] where the comparison has no interval, the difference twice
    where it is exact (se = 0).
  """
  _check_level(level)
  difference, se, dof = (_number(comparison.get(k)) for k in ("difference", "se", "dof"))
  if not (np.isfinite(difference) and np.isfinite(se) and np.isfinite(dof) and dof >= 1):
    return [math.nan, math.nan]
  half = 0.0 if se == 0 else student_t_quantile((1 + level) / 2, dof) * se
  return [difference - half, difference + half]


def holm(p_values) -> np.ndarray:
  """Holm's step-down adjusted p-values (family-wise error control under any dependence).

  The i-th smallest of m p-values becomes max over j ≤ i of min(1, (m − j + 1) p_(j)).
  NaN p-values (comparisons that could not be made) are not counted in m and stay NaN.

  Args:
    p_values: <float>[m] p-values.

  Returns:
    <float64>[m] adjusted p-values, in the input order.
  """
  p = np.asarray(p_values, np.float64).reshape(-1)
  adjusted = np.full(p.shape, np.nan)
  finite = np.flatnonzero(~np.isnan(p))
  order = finite[np.argsort(p[finite], kind="stable")]
  m = order.size
  adjusted[order] = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
  return adjusted


def direction(comparison: dict, *, alpha: float = 0.05, p_key: str = "p") -> int:
  """+1 when A > B, −1 when A < B, 0 when inconclusive (p ≥ alpha or not computable).

  With `p_key="p"` and alpha = 1 − level this is the confidence-interval rule:
  +1 when the interval of A − B lies above 0, −1 below, 0 when it covers 0.
  """
  if not 0 < alpha < 1:
    raise ValueError(f"alpha must be in (0, 1), got {alpha}")
  p = _number(comparison.get(p_key))
  if not p < alpha:  # NaN too
    return 0
  return int(np.sign(comparison["difference"]))
