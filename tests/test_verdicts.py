"""Verdict rules on constructed cases (clear win, clear loss, overlap, one of two); re-judging."""

import copy
import json

import numpy as np
import pytest
from scipy import stats

from attnjax import cli
from attnjax.analysis import mean_ci, seed_summary
from attnjax.io import strict_json
from attnjax.reproduce import rejudge as rejudge_module
from attnjax.reproduce import report, verdicts
from attnjax.reproduce.rejudge import rejudge, rejudge_results

SPREAD = np.array([-0.02, -0.01, 0.0, 0.01, 0.02])  # per-seed noise, std 0.0158


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
  judged = verdicts.judge(1, _finding_1(*means))
  assert judged["verdict"] == verdict
  assert [c["test"] for c in judged["comparisons"]] == ["welch", "welch"]  # separate cells
  assert "robustness" not in judged


def test_comparison_numbers_and_holm_decide_the_outcome():
  judged = verdicts.judge(1, _finding_1(0.5, 0.31, 0.3))
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
  judged = verdicts.judge(1, _finding_1(0.31, 0.29, 0.3, {"additive": 0.5, "deep": 0.2,
                                                              "scaled_dot": 0.3}),
                          robustness_method="probe")
  assert judged["verdict"] == "inconclusive"
  assert judged["robustness"]["verdict"] == "not reproduced"
  assert "additive vs scaled_dot: additive > scaled_dot" in judged["rule"]
  assert "deep vs scaled_dot: deep < scaled_dot" in judged["rule"]
  negative = verdicts.judge(1, _finding_1(0.5, 0.6, 0.3, dict.fromkeys(["additive", "deep",
                                                                          "scaled_dot"], -1)))
  assert "robustness" not in negative and "cannot check" in negative["rule"]


def _calibrated(finding, biases, spread=0.01, key="calibration"):
  for name, bias in zip(("additive", "deep", "scaled_dot"), biases):
    finding["rows"][name][key] = {"method": "m", "truth": 0.4, "bias": bias, "spread": spread,
                                  "null": 0.0}
  return finding


def test_finding_1_difference_within_the_estimators_error_is_inconclusive():
  # Both differences significant by Welch (0.2 and 0.3 above scaled_dot, seed std 0.016).
  plain = verdicts.judge(1, _finding_1(0.5, 0.6, 0.3))
  assert plain["verdict"] == "reproduced" and "no calibration stored" in plain["rule"]
  # A common bias cancels: still reproduced; the error is |0| + √2·0.01.
  common = verdicts.judge(1, _calibrated(_finding_1(0.5, 0.6, 0.3), (-0.2, -0.2, -0.2)))
  assert common["verdict"] == "reproduced" and "bias_a − bias_b" in common["rule"]
  assert common["comparisons"][0]["estimator_error"] == pytest.approx(np.hypot(0.01, 0.01))
  # additive's bias differs from scaled_dot's by 0.25 > its difference 0.2: inconclusive;
  # deep's by 0.25 < 0.3: still significant. One of two → mixed.
  differing = verdicts.judge(1, _calibrated(_finding_1(0.5, 0.6, 0.3), (0.05, 0.05, -0.2)))
  first, second = differing["comparisons"]
  assert first["estimator_error"] == pytest.approx(0.25 + np.hypot(0.01, 0.01))
  assert first["outcome"] == "inconclusive" and "estimator's error" in first["note"]
  assert second["outcome"] == "deep > scaled_dot" and differing["verdict"] == "mixed"
  # the robustness check uses its own calibration
  finding = _calibrated(_finding_1(0.5, 0.6, 0.3, {"additive": 0.5, "deep": 0.6,
                                                   "scaled_dot": 0.3}),
                        (0.0, 0.0, 0.0), spread=0.5, key="calibration_robust")
  robust = verdicts.judge(1, finding, robustness_method="probe")
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
  judged = verdicts.judge(2, _finding_2(learned, swapped, trained))
  by_name = {c["b"]: c for c in judged["comparisons"]}
  assert set(by_name) == {"trained frozen-random", "swapped random"}  # uniform: τ undefined
  assert "trained uniform" in judged["rule"]
  paired = by_name["swapped random"]
  assert paired["test"] == "paired"
  np.testing.assert_allclose(paired["p"], stats.ttest_rel(learned, swapped).pvalue, rtol=1e-6)
  assert by_name["trained frozen-random"]["test"] == "welch"
  assert judged["verdict"] == "reproduced"
  stored = verdicts.judge(2, _finding_2(learned, swapped, trained, pairs=False))
  unpaired = {c["b"]: c for c in stored["comparisons"]}["swapped random"]
  assert unpaired["test"] == "welch" and unpaired["note"] == verdicts.UNPAIRED_NOTE
  assert unpaired["direction"] == 0 and stored["verdict"] == "mixed"  # Welch cannot see it


def _near_ties(seeds=4, examples=40, rise=0.3, seed=0):
  """Finding iii's scatter: τ rises with spread by `rise` (plus noise), seed-major order."""
  rng = np.random.default_rng(seed)
  spread = rng.random((seeds, examples))
  tau = rise * spread + rng.normal(0, 0.05, (seeds, examples)) + 0.1
  ids = np.repeat(np.arange(seeds), examples)
  return spread.ravel(), tau.ravel(), ids


def _finding_3(spread, tau, ids, seeds, *, stored_seed_means=True, store_seed=False):
  quartiles = verdicts.near_tie_quartiles(spread, tau, ids, seeds)
  rows = {}
  for q in range(4):
    chosen = tau[quartiles["index"] == q]
    rows[f"spread q{q + 1}"] = {"spread_range": [float(quartiles["edges"][q]),
                                                 float(quartiles["edges"][q + 1])],
                                "tau": {"mean": float(chosen.mean()), "n": chosen.size}}
    if stored_seed_means:
      rows[f"spread q{q + 1}"]["tau_over_seeds"] = seed_summary(quartiles["seed_means"][q])
  scatter = {"spread": spread.tolist(), "tau": tau.tolist()}
  if store_seed:
    scatter["seed"] = ids.tolist()
  return {"rows": rows, "scatter": scatter}, quartiles


def test_near_tie_quartiles_per_seed_means_by_hand():
  spread = np.array([0.1, 0.2, 0.3, 0.4, 0.15, 0.25, 0.35, 0.45])
  tau = np.array([0.0, 0.1, 0.2, 0.3, 1.0, 1.1, 1.2, 1.3])
  ids = np.repeat([0, 1], 4)
  quartiles = verdicts.near_tie_quartiles(spread, tau, ids, 2)
  np.testing.assert_array_equal(quartiles["index"], [0, 1, 2, 3, 0, 1, 2, 3])
  np.testing.assert_allclose(quartiles["seed_means"], [[0.0, 1.0], [0.1, 1.1], [0.2, 1.2],
                                                       [0.3, 1.3]])
  lonely = verdicts.near_tie_quartiles(spread[:4], tau[:4], [0, 0, 0, 0], 2)
  assert np.isnan(lonely["seed_means"][:, 1]).all()  # seed 1 has no example in any quartile


def test_finding_3_with_no_defined_tau_is_inconclusive_not_an_error():
  """Every τ undefined (e.g. constant instance MI in a tiny model): empty quartiles."""
  empty = verdicts.near_tie_quartiles(np.zeros(0), np.zeros(0), np.zeros(0, int), 2)
  assert np.isnan(empty["edges"]).all() and empty["edges"].shape == (5,)
  assert empty["index"].shape == (0,) and np.isnan(empty["seed_means"]).all()
  rows = {f"spread q{q + 1}": {"spread_range": [np.nan, np.nan], "tau": mean_ci(np.zeros(0)),
                               "tau_over_seeds": seed_summary(empty["seed_means"][q])}
          for q in range(4)}
  judged = verdicts.judge(3, {"rows": rows, "scatter": {"spread": [], "tau": [], "seed": []}})
  assert judged["verdict"] == "inconclusive"


@pytest.mark.parametrize("rise, verdict", [(0.3, "reproduced"), (-0.3, "not reproduced"),
                                           (0.0, "inconclusive")])
def test_finding_3_paired_over_seeds(rise, verdict):
  spread, tau, ids = _near_ties(rise=rise, seed=1)
  finding, quartiles = _finding_3(spread, tau, ids, 4)
  judged = verdicts.judge(3, finding)
  (c,) = judged["comparisons"]
  assert c["test"] == "paired" and c["n"] == [4, 4] and "note" not in c
  means = quartiles["seed_means"]
  np.testing.assert_allclose(c["p"], stats.ttest_rel(means[3], means[0]).pvalue, rtol=1e-6)
  assert judged["verdict"] == verdict


def test_finding_3_recovers_per_seed_values_from_a_complete_scatter_or_says_it_cannot():
  spread, tau, ids = _near_ties()
  new, _ = _finding_3(spread, tau, ids, 4)
  expected = verdicts.judge(3, new)["comparisons"][0]
  old, _ = _finding_3(spread, tau, ids, 4, stored_seed_means=False)  # as results.json held it
  recovered = verdicts.judge(3, old, seeds=4, explain_examples=40)
  assert recovered["comparisons"][0]["p"] == pytest.approx(expected["p"], rel=1e-12)
  assert "recomputed from the stored scatter" in recovered["comparisons"][0]["note"]
  with_ids, _ = _finding_3(spread, tau, ids, 4, stored_seed_means=False, store_seed=True)
  assert verdicts.judge(3, with_ids)["comparisons"][0]["p"] == pytest.approx(expected["p"])
  unknown = verdicts.judge(3, old)  # S and B unknown: the seed of each point is unknown
  assert unknown["verdict"] == verdicts.NOT_JUDGED and unknown["comparisons"] == []
  assert "not judged" in unknown["rule"]
  wrong = verdicts.judge(3, old, seeds=5, explain_examples=30)  # not the 160 values stored
  assert wrong["verdict"] == verdicts.NOT_JUDGED
  tampered = copy.deepcopy(old)
  tampered["rows"]["spread q1"]["tau"]["mean"] += 0.01
  assert "does not reproduce" in verdicts.judge(3, tampered, seeds=4, explain_examples=40)["rule"]


def test_finding_4_one_of_three_not_significant_is_mixed():
  rows = {"softmax": {"entropy": _summary(1.5)}, "gumbel τ=0.1": {"entropy": _summary(0.2)},
          "gumbel τ=0.5": {"entropy": _summary(1.49)}, "gumbel τ=2": {"entropy": _summary(3.0)}}
  judged = verdicts.judge(4, {"rows": rows})
  assert [c["b"] for c in judged["comparisons"]] == ["gumbel τ=0.1", "gumbel τ=0.5"]
  assert judged["verdict"] == "mixed"
  rows["gumbel τ=0.5"]["entropy"] = _summary(0.6)
  assert verdicts.judge(4, {"rows": rows})["verdict"] == "reproduced"


def test_finding_5_rank_interval_from_comparisons():
  def rows(taus):
    return {name: {"tau": _summary(t)} for name, t in taus.items()}

  taus = {"bilstm + additive": 0.30, "lstm + additive": 0.31, "bilstm + deep": 0.29,
          "cnn + additive": 0.10, "cnn + deep": 0.05, "embedding + additive": 0.0}
  judged = verdicts.judge(5, {"rows": rows(taus)})
  # Tied with two cells, clearly above three: rank 1–3 of 6, top third = ranks 1–2.
  assert "it ranks 2 of 6 by mean" in judged["rule"] and "ranks between 1 and 3" in judged["rule"]
  assert judged["verdict"] == "inconclusive"
  taus["bilstm + deep"] = 0.05  # now clearly above four: rank 1–2
  judged = verdicts.judge(5, {"rows": rows(taus)})
  assert "between 1 and 2" in judged["rule"] and judged["verdict"] == "reproduced"
  taus["bilstm + additive"] = -0.2  # clearly last
  assert verdicts.judge(5, {"rows": rows(taus)})["verdict"] == "not reproduced"


def _finding_6(mi_gradient, mi_loo, attention_gradient=0.3, attention_loo=0.2):
  other = SPREAD[::-1]  # the paired differences vary over seeds: ±0.04
  row = {"τ instance_mi–gradient": _summary(mi_gradient),
         "τ instance_mi–leave_one_out": _summary(mi_loo),
         "τ attention–gradient": _summary(attention_gradient, other),
         "τ attention–leave_one_out": _summary(attention_loo, other)}
  published = {"τ attention–gradient": {"mean": 0.35, "ci": np.nan, "n": 0, "published": True}}
  return {"rows": {"bilstm + additive": row, "bilstm + scaled_dot": copy.deepcopy(row),
                   "bilstm + additive (Jain & Wallace 2019)": published}}


@pytest.mark.parametrize("mi, verdict", [((0.1, 0.05), "attention agrees better"),
                                         ((0.5, 0.4), "MI agrees better"),
                                         ((0.31, 0.19), "inconclusive"),
                                         ((0.1, 0.4), "mixed")])
def test_experiment_6_outcomes(mi, verdict):
  judged = verdicts.judge(6, _finding_6(*mi))
  assert len(judged["comparisons"]) == 4  # 2 attention types × gradient, LOO; no reference row
  assert all(c["test"] == "paired" for c in judged["comparisons"])
  assert judged["verdict"] == verdict


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
  spread, tau, ids = _near_ties(seeds=5, examples=8, rise=0.4, seed=3)
  near_ties, _ = _finding_3(spread, tau, ids, 5, stored_seed_means=False)
  finding_1 = _finding_1(0.31, 0.29, 0.3)
  finding_1["rows"] = dict(reversed(finding_1["rows"].items()))  # a table order to keep
  finding_6 = _finding_6(0.1, 0.05)
  for finding in (finding_1, finding_6):
    for row in finding["rows"].values():
      for summary in row.values():
        summary.pop("per_seed", None)
  results = {"1": {**finding_1, "title": "Information preservation (finding i)",
                   "verdict": "mixed", "rule": "old rule"},
             "3": {**near_ties, "title": "Near-ties (finding iii)", "verdict": "reproduced",
                   "rule": "old rule"},
             "6": {**finding_6, "title": "Explainers side by side (experiment 6)",
                   "verdict": "attention agrees better", "rule": "old rule"}}
  meta = {"seeds": 5, "quick": True, "analysis": {"explain_examples": 8,
                                                  "robustness_method": "probe"}}
  return json.loads(json.dumps(strict_json({"meta": meta, "results": {"toy": results}})))


def test_rejudge_a_stored_results_document(tmp_path, capsys):
  document = _document()
  before = copy.deepcopy(document)
  rejudged, changes = rejudge_results(document)
  assert document == before  # the input is not changed
  assert changes == [{"dataset": "toy", "finding": 1, "before": "mixed", "after": "inconclusive"},
                     {"dataset": "toy", "finding": 3, "before": "reproduced",
                      "after": "reproduced"},
                     {"dataset": "toy", "finding": 6, "before": "attention agrees better",
                      "after": "attention agrees better"}]
  toy = rejudged["results"]["toy"]
  assert toy["1"]["rejudged"] == {"previous_verdict": "mixed"} and toy["1"]["rule"] != "old rule"
  assert "recomputed from the stored scatter" in toy["3"]["comparisons"][0]["note"]
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
  (tmp_path / "results.json").write_text(json.dumps(document))  # the command line, twice
  assert cli.main(["rejudge", str(tmp_path)]) == 0
  assert rejudge_module.main([str(tmp_path)]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == f"* {tmp_path} toy finding 1: mixed → inconclusive" and len(lines) == 6
  assert lines[1] == f"  {tmp_path} toy finding 3: reproduced → reproduced"
  assert cli.main(["rejudge", str(tmp_path / "missing")]) == 2
  assert "attnjax rejudge: error:" in capsys.readouterr().err
