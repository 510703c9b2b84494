"""Comparisons over seeds (attnjax.analysis.compare) against scipy.stats."""

import numpy as np
import pytest
from scipy import stats

from attnjax import analysis
from attnjax.analysis import compare

SAMPLES = [  # (a, b): sizes, spreads and signs that differ
    (np.array([0.177, 0.21, 0.13, 0.16, 0.2]), np.array([0.16, 0.12, 0.19, 0.15, 0.18])),
    (np.array([1.54, 1.3, 1.8, 1.41, 1.66]), np.array([0.21, 0.15, 0.3, 0.18, 0.2])),
    (np.array([0.3, 0.31]), np.array([-0.4, 0.2, 0.9, -0.1, 0.05, 0.33, 0.7])),
    (np.random.default_rng(0).normal(0.1, 1.0, 40), np.random.default_rng(1).normal(0, 3, 12)),
    (np.array([2.0, 2.5, 1.5]), np.array([-1.0, -1.2, -0.9, -1.1])),
]


def _check(ours, expected, n):
  np.testing.assert_allclose(ours["t"], expected.statistic, rtol=1e-6)
  np.testing.assert_allclose(ours["p"], expected.pvalue, rtol=1e-6, atol=1e-12)
  np.testing.assert_allclose(ours["dof"], expected.df, rtol=1e-9)
  interval = expected.confidence_interval(0.95)
  np.testing.assert_allclose(ours["ci"], [interval.low, interval.high], rtol=1e-6, atol=1e-9)
  assert ours["n"] == n


@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_welch_matches_scipy_from_values_and_from_summaries(index):
  a, b = SAMPLES[index]
  expected = stats.ttest_ind(a, b, equal_var=False)
  ours = analysis.welch(a, b)
  assert ours["test"] == "welch" and ours["dropped"] == [0, 0]
  np.testing.assert_allclose(ours["difference"], a.mean() - b.mean(), rtol=1e-12)
  _check(ours, expected, [a.size, b.size])
  summaries = [analysis.mean_ci(x) for x in (a, b)]  # what results.json stores per cell
  from_summaries = analysis.welch_from_summaries(*summaries)
  for key in ("difference", "t", "dof", "p"):
    np.testing.assert_allclose(from_summaries[key], ours[key], rtol=1e-12)
  np.testing.assert_allclose(from_summaries["ci"], ours["ci"], rtol=1e-12)


@pytest.mark.parametrize("index", [0, 1, 4])
def test_paired_matches_scipy(index):
  a, b = SAMPLES[index]
  b = np.resize(b, a.shape) + 0.05 * np.arange(a.size)
  expected = stats.ttest_rel(a, b)
  ours = analysis.paired(a, b)
  assert ours["test"] == "paired"
  np.testing.assert_allclose(ours["difference"], (a - b).mean(), rtol=1e-12)
  _check(ours, expected, [a.size, a.size])


def test_non_finite_values_are_dropped_and_counted():
  a, b = SAMPLES[0]
  holes = a.copy()
  holes[[1, 3]] = [np.nan, np.inf]
  ours = analysis.welch(holes, b)
  assert ours["n"] == [3, 5] and ours["dropped"] == [2, 0]
  _check(ours, stats.ttest_ind(a[[0, 2, 4]], b, equal_var=False), [3, 5])
  summary = analysis.mean_ci(holes)  # the summary counts them the same way
  assert analysis.welch_from_summaries(summary, analysis.mean_ci(b))["dropped"] == [2, 0]
  ours = analysis.paired(holes, b)  # a pair with either value undefined is left out
  assert ours["n"] == [3, 3] and ours["dropped"] == [2, 2]
  _check(ours, stats.ttest_rel(a[[0, 2, 4]], b[[0, 2, 4]]), [3, 3])
  with pytest.raises(ValueError, match="one value per seed on both sides, got 5 and 4"):
    analysis.paired(a, b[:4])


def test_too_few_values_and_zero_variance():
  few = analysis.welch([0.3, np.nan], [0.1, 0.2, 0.3])
  assert few["n"] == [1, 3] and np.isnan(few["p"]) and np.isnan(few["ci"]).all()
  np.testing.assert_allclose(few["difference"], 0.1)
  assert compare.direction(few) == 0
  exact = analysis.welch([0.5, 0.5, 0.5], [0.25, 0.25])  # no variance: the difference is exact
  assert exact["p"] == 0.0 and exact["t"] == np.inf and exact["ci"] == [0.25, 0.25]
  assert exact["dof"] == 3.0 and compare.direction(exact) == 1
  same = analysis.paired([0.5, 0.7], [0.5, 0.7])
  assert same["p"] == 1.0 and same["t"] == 0.0 and compare.direction(same) == 0


def test_direction_is_the_confidence_interval_rule():
  for a, b in SAMPLES:
    for test in (analysis.welch(a, b), analysis.welch(b, a)):
      low, high = test["ci"]
      expected = 1 if low > 0 else -1 if high < 0 else 0
      assert compare.direction(test) == expected
  assert compare.direction(analysis.welch(*SAMPLES[1])) == 1  # a clear win
  assert compare.direction(analysis.welch(*SAMPLES[1][::-1])) == -1  # a clear loss
  assert compare.direction(analysis.welch(*SAMPLES[0])) == 0  # overlap
  with pytest.raises(ValueError, match="alpha must be in"):
    compare.direction(analysis.welch(*SAMPLES[0]), alpha=1.5)


def test_holm_adjustment_by_hand():
  # sorted: 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → running max 0.06; NaN not counted.
  np.testing.assert_allclose(analysis.holm([0.04, 0.01, np.nan, 0.03]),
                             [0.06, 0.03, np.nan, 0.06])
  np.testing.assert_allclose(analysis.holm([0.6, 0.9]), [1.0, 1.0])
  np.testing.assert_allclose(analysis.holm([0.02]), [0.02])
  assert analysis.holm([]).shape == (0,)


def test_t_distribution_functions_match_scipy():
  t = np.array([-7.5, -2.1, -0.3, 0.0, 0.8, 2.6, 40.0])
  dof = np.array([1.0, 2.5, 4.0, 7.31, 30.0, 200.0, 3.0])
  np.testing.assert_allclose(analysis.student_t_cdf(t, dof), stats.t.cdf(t, dof), rtol=1e-10,
                             atol=1e-15)
  np.testing.assert_allclose(analysis.student_t_two_sided_p(t, dof),
                             2 * stats.t.sf(np.abs(t), dof), rtol=1e-9, atol=1e-15)
  for p, d in [(0.975, 1.0), (0.975, 4.6), (0.995, 9.0), (0.9995, 250.0)]:
    np.testing.assert_allclose(analysis.student_t_quantile(p, d), stats.t.ppf(p, d), rtol=1e-10)
  assert analysis.student_t_two_sided_p(np.inf, 4.0) == 0.0
  assert np.isnan(analysis.student_t_two_sided_p(1.0, np.nan))


def test_seed_summary_keeps_per_seed_values_for_paired_tests():
  tau = np.array([[0.2, np.nan, 0.4], [0.5, 0.5, 0.5], [np.nan] * 3])  # [seeds, examples]
  summary = analysis.seed_summary(tau)
  np.testing.assert_allclose(summary["per_seed"], [0.3, 0.5, np.nan])
  assert summary["values"] == {"defined": 5, "total": 9} and summary["n"] == 2
  scalar = analysis.seed_summary(np.array([0.7, 0.8, 0.75]))  # one value per seed
  assert scalar["per_seed"] == [0.7, 0.8, 0.75] and "values" not in scalar
  assert scalar["mean"] == analysis.mean_ci([0.7, 0.8, 0.75])["mean"]
  with pytest.raises(ValueError, match="one value per seed"):
    analysis.seed_summary(0.5)
