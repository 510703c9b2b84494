"""Verdict rules on constructed cases (clear win, clear loss, overlap, one of two); re-judging."""

import copy
import json

import numpy as np
import pytest
from scipy import stats

from attnjax import analysis, cli
from attnjax.analysis import mean_ci, seed_summary
from attnjax.io import strict_json
from attnjax.reproduce import findings, near_ties, report, verdicts
from attnjax.reproduce.rejudge import rejudge, rejudge_results

SPREAD = np.array([-0.02, -0.01, 0.0, 0.01, 0.02])  # per-seed noise, std 0.0158


def _near_ties_judged(cell, **kwargs):
  """Finding iii measured from a cell's arrays and judged, as a run does."""
  return near_ties.EXPERIMENT.judged(near_ties.summarize(cell, **kwargs))


def _summary(mean, noise=SPREAD):
  return seed_summary(mean + noise)


def _finding_1(additive, deep, scaled_dot, robust=None):
  rows = {name: {"mi_mean_over_positions": _summary(mean)}
          for name, mean in (("additive", additive), ("deep", deep), ("scaled_dot", scaled_dot))}
  for name, mean in (robust or {}).items():
    rows[name]["mi_mean_over_positions_robust"] = _summary(mean)
  return {"rows": rows}


@pytest.mark.parametrize("means, verdict", [
    ((0.5, 0.6, 0.3), "reproduced"),          # both clearly above scaled_dot
    ((0.2, 0.6, 0.3), "not reproduced"),      # one clearly below: the conjunction fails
    ((0.1, 0.1, 0.3), "not reproduced"),      # both clearly below
    ((0.31, 0.29, 0.3), "inconclusive"),      # every interval covers 0
    ((0.5, 0.31, 0.3), "mixed"),              # one of two significant the predicted way
])
def test_finding_1_four_outcomes(means, verdict):
  judged = findings.judge(1, _finding_1(*means))
  assert judged["verdict"] == verdict
  assert [c["test"] for c in judged["comparisons"]] == ["welch", "welch"]  # separate cells
  assert "robustness" not in judged


def test_comparison_numbers_and_holm_decide_the_outcome():
  judged = findings.judge(1, _finding_1(0.5, 0.31, 0.3))
  win, overlap = judged["comparisons"]
  expected = stats.ttest_ind(0.5 + SPREAD, 0.3 + SPREAD, equal_var=False)
  np.testing.assert_allclose(win["p"], expected.pvalue, rtol=1e-6)
  np.testing.assert_allclose(win["ci"], expected.confidence_interval(), rtol=1e-6)
  assert win["outcome"] == "additive > scaled_dot" and win["direction"] == 1
  assert overlap["outcome"] == "inconclusive" and overlap["ci"][0] < 0 < overlap["ci"][1]
  # Holm: p = 0.03 alone is significant; beside a second comparison (p = 0.6) it is 0.06.
  def bare(p):
    return {"a": "a", "b": "b", "p": p, "difference": 0.1, "predicted": ">"}

  assert verdicts.decide([bare(0.03)])[0]["direction"] == 1
  family = verdicts.decide([bare(0.03), bare(0.6)])
  assert family[0]["p_holm"] == pytest.approx(0.06) and family[0]["direction"] == 0
  assert family[0]["outcome"] == "inconclusive" and verdicts.all_predicted(family) == "inconclusive"


def test_finding_1_robustness_is_judged_separately():
  judged = findings.judge(1, _finding_1(0.31, 0.29, 0.3, {"additive": 0.5, "deep": 0.2,
                                                              "scaled_dot": 0.3}),
                          {"robustness_method": "probe"})
  assert judged["verdict"] == "inconclusive"
  assert judged["robustness"]["verdict"] == "not reproduced"
  assert "additive vs scaled_dot: additive > scaled_dot" in judged["rule"]
  assert "deep vs scaled_dot: deep < scaled_dot" in judged["rule"]
  negative = findings.judge(1, _finding_1(0.5, 0.6, 0.3, dict.fromkeys(["additive", "deep",
                                                                          "scaled_dot"], -1)))
  assert "robustness" not in negative and "cannot check" in negative["rule"]


def _calibrated(finding, biases, spread=0.01, key="calibration"):
  for name, bias in zip(("additive", "deep", "scaled_dot"), biases):
    finding["rows"][name][key] = {"method": "m", "truth": 0.4, "bias": bias, "spread": spread,
                                  "null": 0.0}
  return finding


def test_finding_1_difference_within_the_estimators_error_is_inconclusive():
  # Both differences significant by Welch (0.2 and 0.3 above scaled_dot, seed std 0.016).
  plain = findings.judge(1, _finding_1(0.5, 0.6, 0.3))
  assert plain["verdict"] == "reproduced" and "no calibration stored" in plain["rule"]
  # A common bias cancels: still reproduced; the error is |0| + √2·0.01.
  common = findings.judge(1, _calibrated(_finding_1(0.5, 0.6, 0.3), (-0.2, -0.2, -0.2)))
  assert common["verdict"] == "reproduced" and "bias_a − bias_b" in common["rule"]
  assert common["comparisons"][0]["estimator_error"] == pytest.approx(np.hypot(0.01, 0.01))
  # additive's bias differs from scaled_dot's by 0.25 > its difference 0.2: inconclusive;
  # deep's by 0.25 < 0.3: still significant. One of two → mixed.
  differing = findings.judge(1, _calibrated(_finding_1(0.5, 0.6, 0.3), (0.05, 0.05, -0.2)))
  first, second = differing["comparisons"]
  assert first["estimator_error"] == pytest.approx(0.25 + np.hypot(0.01, 0.01))
  assert first["outcome"] == "inconclusive" and "estimator's error" in first["note"]
  assert second["outcome"] == "deep > scaled_dot" and differing["verdict"] == "mixed"
  # the robustness check uses its own calibration
  finding = _calibrated(_finding_1(0.5, 0.6, 0.3, {"additive": 0.5, "deep": 0.6,
                                                   "scaled_dot": 0.3}),
                        (0.0, 0.0, 0.0), spread=0.5, key="calibration_robust")
  robust = findings.judge(1, finding, {"robustness_method": "probe"})
  assert robust["verdict"] == "reproduced" and robust["robustness"]["verdict"] == "inconclusive"


def _finding_2(learned, swapped, trained, *, pairs=True):
  rows = {"learned": {"tau": seed_summary(learned)},
          "trained uniform": {"tau": seed_summary(np.full(5, np.nan))},
          "trained frozen-random": {"tau": seed_summary(trained)},
          "swapped random": {"tau": seed_summary(swapped)}}
  if not pairs:
    for row in rows.values():
      del row["tau"]["per_seed"]
  return {"rows": rows}


def test_finding_2_pairs_the_swapped_rows_and_needs_per_seed_values_for_it():
  # Seeds differ a lot, but each seed's swapped τ is 0.05 below its learned τ.
  learned = np.array([0.1, 0.3, 0.5, 0.2, 0.4])
  swapped = learned - 0.05 + np.array([0.004, -0.003, 0.001, 0.0, -0.002])
  trained = np.array([-0.1, -0.12, -0.08, -0.11, -0.09])
  judged = findings.judge(2, _finding_2(learned, swapped, trained))
  by_name = {c["b"]: c for c in judged["comparisons"]}
  assert set(by_name) == {"trained frozen-random", "swapped random"}  # uniform: τ undefined
  assert "trained uniform" in judged["rule"]
  paired = by_name["swapped random"]
  assert paired["test"] == "paired"
  np.testing.assert_allclose(paired["p"], stats.ttest_rel(learned, swapped).pvalue, rtol=1e-6)
  assert by_name["trained frozen-random"]["test"] == "welch"
  assert judged["verdict"] == "reproduced"
  stored = findings.judge(2, _finding_2(learned, swapped, trained, pairs=False))
  unpaired = {c["b"]: c for c in stored["comparisons"]}["swapped random"]
  assert unpaired["test"] == "welch" and unpaired["note"] == verdicts.UNPAIRED_NOTE
  assert unpaired["direction"] == 0 and stored["verdict"] == "mixed"  # Welch cannot see it


def _near_ties(seeds=4, examples=40, rise=0.3, length_effect=0.0, seed=0):
  """A cell's arrays for finding iii: spread falls with length; τ = rise × spread +
  length_effect × (−log length) + noise."""
  from attnjax.models.encoders import sequence_mask
  rng = np.random.default_rng(seed)
  lengths = rng.integers(4, 60, examples)
  spread = np.exp(-np.log(lengths) + rng.normal(0, 0.3, (seeds, examples)))
  tau = (rise * spread - length_effect * np.log(lengths) + rng.normal(0, 0.02, (seeds, examples))
         + 0.5)
  return {"stats_spread": spread, "tau": tau, "mask": np.asarray(sequence_mask(lengths, 64))}


def test_seed_quartiles_by_hand():
  spread = np.array([[0.1, 0.2, 0.3, 0.4], [0.45, 0.15, 0.35, 0.25]])
  tau = np.array([[0.0, 0.1, 0.2, np.nan], [1.3, 1.0, 1.2, 1.1]])
  quartiles = near_ties.seed_quartiles(spread, tau)
  np.testing.assert_array_equal(quartiles["index"], [[0, 2, 3, -1], [3, 0, 2, 1]])
  np.testing.assert_allclose(quartiles["means"], [[0.0, 1.0], [np.nan, 1.1], [0.1, 1.2],
                                                  [0.2, 1.3]])
  np.testing.assert_allclose(quartiles["edges"][0], [0.1, 0.15, 0.2, 0.25, 0.3])  # own edges
  np.testing.assert_array_equal(quartiles["counts"].sum(0), [3, 4])


def test_length_control_equals_scipy_and_the_first_order_partial_correlation():
  cell = _near_ties(seeds=3, examples=30, rise=0.3, seed=2)
  cell["tau"][1, 4] = np.nan  # an undefined τ is left out of that seed's statistics
  lengths = cell["mask"][:30].sum(1)
  got = near_ties.length_control(cell["stats_spread"], cell["tau"], lengths)
  for s in range(3):
    keep = np.isfinite(cell["tau"][s])
    spread, tau, length = cell["stats_spread"][s, keep], cell["tau"][s, keep], lengths[keep]
    for name, (a, b) in (("τ(spread, τ)", (spread, tau)),
                         ("τ(spread, length)", (spread, length)), ("τ(τ, length)", (tau, length))):
      np.testing.assert_allclose(got[name][s], stats.kendalltau(a, b)[0], atol=1e-6)
    # The cubic control's residual correlation, against numpy's polynomial fit and scipy.
    x, y, z = np.log(spread), tau, np.log(length)
    residual = lambda v: v - np.polyval(np.polyfit(z, v, 3), z)
    np.testing.assert_allclose(got[near_ties.PARTIAL][s],
                               stats.pearsonr(residual(x), residual(y))[0], atol=1e-9)
    # Degree 1 is the textbook first-order partial correlation.
    r = lambda a, b: stats.pearsonr(a, b)[0]
    first = (r(x, y) - r(x, z) * r(y, z)) / np.sqrt((1 - r(x, z) ** 2) * (1 - r(y, z) ** 2))
    np.testing.assert_allclose(analysis.partial_correlation(x, y, z, degree=1), first, atol=1e-9)


def test_kendalls_partial_tau_does_not_control_a_shared_length_trend():
  """Why the verdict uses the regression residuals: with spread and τ functions of length plus
  independent noise (no association of their own), the t over 5 seeds of Kendall's partial τ
  rejects nearly always; that of the residual correlation at about the nominal 5%."""
  rejections = {"kendall": 0, "residual": 0}
  for replicate in range(30):
    cell = _near_ties(seeds=5, examples=100, rise=0.0, length_effect=0.05, seed=100 + replicate)
    got = near_ties.length_control(cell["stats_spread"], cell["tau"], cell["mask"][:100].sum(1))
    kendall = analysis.partial_tau(got["τ(spread, τ)"], got["τ(spread, length)"],
                                   got["τ(τ, length)"])
    rejections["kendall"] += stats.ttest_1samp(kendall, 0).pvalue < 0.05
    rejections["residual"] += stats.ttest_1samp(got[near_ties.PARTIAL], 0).pvalue < 0.05
  assert rejections["kendall"] >= 27 and rejections["residual"] <= 5, rejections


@pytest.mark.parametrize("rise, length_effect, verdict, uncontrolled", [
    (0.4, 0.0, "reproduced", 1),         # τ follows spread itself
    (0.0, 0.05, "inconclusive", 1),      # τ follows length only: the quartiles rise, the
                                         # length-controlled test does not
    (-0.4, 0.0, "not reproduced", -1)])
def test_finding_3_is_length_controlled(rise, length_effect, verdict, uncontrolled):
  finding = _near_ties_judged(_near_ties(seeds=5, examples=60, rise=rise,
                                         length_effect=length_effect, seed=1))
  (c,) = finding["comparisons"]
  per_seed = finding["rows"]["length control"][near_ties.PARTIAL]["per_seed"]
  test = stats.ttest_1samp(per_seed, 0.0)
  np.testing.assert_allclose([c["t"], c["p"]], [test.statistic, test.pvalue], rtol=1e-6)
  assert c["test"] == "one-sample" and c["n"] == [5, 5] and c["b"] == "0"
  np.testing.assert_allclose(c["ci"], test.confidence_interval(), rtol=1e-6)
  assert finding["verdict"] == verdict
  (u,) = finding["comparisons_uncontrolled"]
  means = [finding["rows"][f"spread q{q}"]["tau"]["per_seed"] for q in (4, 1)]
  np.testing.assert_allclose(u["p"], stats.ttest_rel(*means).pvalue, rtol=1e-6)
  assert u["direction"] == uncontrolled
  assert len(finding["scatter"]["length"]) == 300 and finding["dropped"]["count"] == 0


def test_finding_3_without_lengths_is_not_judged_and_says_why():
  finding = _near_ties_judged(_near_ties())
  del finding["rows"]["length control"]
  judged = findings.judge(3, finding)
  assert judged["verdict"] == verdicts.NOT_JUDGED and judged["comparisons"] == []
  assert "lengths were not kept" in judged["rule"]
  assert judged["comparisons_uncontrolled"][0]["test"] == "paired"


def test_finding_3_with_no_defined_tau_is_inconclusive_not_an_error():
  """Every τ undefined (e.g. constant instance MI in a tiny model): empty quartiles."""
  cell = _near_ties(seeds=2, examples=8)
  cell["tau"][:] = np.nan
  finding = _near_ties_judged(cell)
  assert finding["verdict"] == "inconclusive" and finding["dropped"]["count"] == 16


def test_bonferroni_interval_at_the_familys_size_equals_scipy():
  family = verdicts.decide([verdicts.comparison(f"a{i}", _summary(0.3 + 0.01 * i), "b",
                                                _summary(0.29), measure="m") for i in range(3)])
  for c in family:
    assert c["family"] == 3
    low, high = stats.t.interval(1 - 0.05 / 3, c["dof"], loc=c["difference"], scale=c["se"])
    np.testing.assert_allclose(c["ci_adjusted"], [low, high], rtol=1e-9)
    assert c["ci_adjusted"][0] < c["ci"][0] and c["ci_adjusted"][1] > c["ci"][1]
  assert "(Bonferroni over 3: [" in report.format_comparison(family[0])


def test_finding_4_one_of_three_not_significant_is_mixed():
  rows = {"softmax": {"entropy": _summary(1.5)}, "gumbel τ=0.1": {"entropy": _summary(0.2)},
          "gumbel τ=0.5": {"entropy": _summary(1.49)}, "gumbel τ=2": {"entropy": _summary(3.0)}}
  judged = findings.judge(4, {"rows": rows})
  assert [c["b"] for c in judged["comparisons"]] == ["gumbel τ=0.1", "gumbel τ=0.5"]
  assert judged["verdict"] == "mixed"
  rows["gumbel τ=0.5"]["entropy"] = _summary(0.6)
  assert findings.judge(4, {"rows": rows})["verdict"] == "reproduced"


def test_finding_5_rank_interval_from_comparisons():
  def rows(taus):
    return {name: {"tau": _summary(t)} for name, t in taus.items()}

  taus = {"bilstm + additive": 0.30, "lstm + additive": 0.31, "bilstm + deep": 0.29,
          "cnn + additive": 0.10, "cnn + deep": 0.05, "embedding + additive": 0.0}
  judged = findings.judge(5, {"rows": rows(taus)})
  # Tied with two cells, clearly above three: rank 1–3 of 6, top third = ranks 1–2.
  assert "it ranks 2 of 6 by mean" in judged["rule"] and "ranks between 1 and 3" in judged["rule"]
  assert judged["verdict"] == "inconclusive"
  taus["bilstm + deep"] = 0.05  # now clearly above four: rank 1–2
  judged = findings.judge(5, {"rows": rows(taus)})
  assert "between 1 and 2" in judged["rule"] and judged["verdict"] == "reproduced"
  taus["bilstm + additive"] = -0.2  # clearly last
  assert findings.judge(5, {"rows": rows(taus)})["verdict"] == "not reproduced"


def _finding_6(mi_gradient, mi_loo, attention_gradient=0.3, attention_loo=0.2):
  other = SPREAD[::-1]  # the paired differences vary over seeds: ±0.04
  row = {"τ instance_mi–gradient": _summary(mi_gradient),
         "τ instance_mi–input_x_gradient": _summary(mi_gradient),
         "τ instance_mi–leave_one_out": _summary(mi_loo),
         "τ attention–gradient": _summary(attention_gradient, other),
         "τ attention–input_x_gradient": _summary(attention_gradient, other),
         "τ attention–leave_one_out": _summary(attention_loo, other)}
  published = {"τ attention–input_x_gradient": {"mean": 0.35, "ci": np.nan, "n": 0,
                                                "published": True}}
  return {"rows": {"bilstm + additive": row, "bilstm + scaled_dot": copy.deepcopy(row),
                   "bilstm + additive (Jain & Wallace 2019)": published}}


@pytest.mark.parametrize("mi, verdict", [((0.1, 0.05), "attention agrees better"),
                                         ((0.5, 0.4), "MI agrees better"),
                                         ((0.31, 0.19), "inconclusive"),
                                         ((0.1, 0.4), "mixed")])
def test_experiment_6_outcomes(mi, verdict):
  judged = findings.judge(6, _finding_6(*mi))
  # 2 attention types × (gradient norm, |input × gradient|, LOO); not the reference row.
  assert len(judged["comparisons"]) == 6
  assert all(c["test"] == "paired" and c["family"] == 6 for c in judged["comparisons"])
  assert judged["verdict"] == verdict


def test_experiment_6_leaves_out_a_row_stored_without_per_seed_values():
  finding = _finding_6(0.1, 0.05)
  for row in list(finding["rows"].values())[:2]:
    for name in ("τ instance_mi–input_x_gradient", "τ attention–input_x_gradient"):
      row[name] = {"mean": row[name]["mean"], "ci": np.nan, "n": 3, "std": np.nan}
  judged = findings.judge(6, finding)
  assert len(judged["comparisons"]) == 4 and judged["verdict"] == "attention agrees better"
  assert "per-seed values not stored: bilstm + additive: τ with input_x_gradient" in judged["rule"]


def test_comparison_in_the_report():
  c = verdicts.decide([verdicts.comparison("additive", _summary(0.5), "scaled_dot", _summary(0.3),
                                           measure="mi", predicted=">")])[0]
  line = report.format_comparison(c)
  assert line.startswith("additive − scaled_dot (mi): +0.200 [+0.177, +0.223], Welch t(8.0) = ")
  assert line.endswith("n = 5 / 5 → additive > scaled_dot (predicted >)")
  few = verdicts.decide([verdicts.comparison("a", seed_summary(np.array([0.5, np.nan])), "b",
                                             seed_summary(np.array([0.3, 0.2])), measure="m",
                                             paired=True)])[0]
  text = report.format_comparison(few)
  assert "[no interval: fewer than 2 values]" in text and "1 pair(s) with an undefined" in text
  assert text.endswith("→ inconclusive")


def _document():
  """A small results.json as an older run stored it: no per-seed values, old verdicts."""
  finding_3 = _near_ties_judged(_near_ties(seeds=5, examples=8, rise=0.4, seed=3))
  finding_3 = {k: v for k, v in finding_3.items() if k in ("rows", "scatter", "dropped")}
  del finding_3["rows"]["length control"]  # results written before lengths were kept
  finding_1 = _finding_1(0.31, 0.29, 0.3)
  finding_1["rows"] = dict(reversed(finding_1["rows"].items()))  # a table order to keep
  finding_6 = _finding_6(0.1, 0.05)
  for finding in (finding_1, finding_6):
    for row in finding["rows"].values():
      for summary in row.values():
        summary.pop("per_seed", None)
  results = {"1": {**finding_1, "title": "Information preservation (finding i)",
                   "verdict": "mixed", "rule": "old rule"},
             "3": {**finding_3, "title": "Near-ties (finding iii)", "verdict": "reproduced",
                   "rule": "old rule"},
             "6": {**finding_6, "title": "Explainers side by side (experiment 6)",
                   "verdict": "attention agrees better", "rule": "old rule"}}
  meta = {"seeds": 5, "quick": True, "preset": "quick", "analysis": {"explain_examples": 8,
                                                  "robustness_method": "probe"}}
  return json.loads(json.dumps(strict_json({"meta": meta, "results": {"toy": results}})))


def test_rejudge_a_stored_results_document(tmp_path, capsys):
  document = _document()
  before = copy.deepcopy(document)
  rejudged, changes = rejudge_results(document)
  assert document == before  # the input is not changed
  assert changes == [{"dataset": "toy", "finding": 1, "before": "mixed", "after": "inconclusive"},
                     {"dataset": "toy", "finding": 3, "before": "reproduced",
                      "after": "not judged"},
                     {"dataset": "toy", "finding": 6, "before": "attention agrees better",
                      "after": "attention agrees better"}]
  toy = rejudged["results"]["toy"]
  assert toy["1"]["rejudged"] == {"previous_verdict": "mixed"} and toy["1"]["rule"] != "old rule"
  assert "lengths were not kept" in toy["3"]["rule"]
  assert toy["3"]["comparisons_uncontrolled"][0]["test"] == "paired"
  assert {c["test"] for c in toy["6"]["comparisons"]} == {"welch"}  # no per-seed values stored
  assert "Jain & Wallace" in toy["6"]["note"]
  again, _ = rejudge_results(rejudged)  # idempotent; the first previous verdict is kept
  assert json.dumps(strict_json(again)) == json.dumps(strict_json(rejudged))
  (tmp_path / "results.json").write_text(json.dumps(document))
  assert rejudge(tmp_path) == changes
  saved = json.loads((tmp_path / "results.json").read_text(), parse_constant=pytest.fail)
  assert saved["results"]["toy"]["1"]["verdict"] == "inconclusive"
  text = (tmp_path / "report.md").read_text()
  assert "### Information preservation (finding i): **inconclusive**" in text
  assert "- additive − scaled_dot (mi_mean_over_positions): +0.010 [" in text
  assert "the verdict was **mixed** by the rule of its run" in text
  assert text.index("| scaled_dot |") < text.index("| deep |") < text.index("| additive |")
  assert list(saved["results"]["toy"]["1"]["rows"]) == ["scaled_dot", "deep", "additive"]
  with pytest.raises(ValueError, match="holds no results.json"):
    rejudge(tmp_path / "missing")
  (tmp_path / "results.json").write_text(json.dumps(document))
  assert cli.main(["rejudge", str(tmp_path)]) == 0
  assert cli.main(["rejudge", str(tmp_path)]) == 0  # re-judged again: the same verdicts
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == f"* {tmp_path} toy finding 1: mixed → inconclusive" and len(lines) == 6
  assert lines[1] == f"* {tmp_path} toy finding 3: reproduced → not judged"
  assert cli.main(["rejudge", str(tmp_path / "missing")]) == 2
  assert "attnjax rejudge: error:" in capsys.readouterr().err
