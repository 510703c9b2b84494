"""Verdicts of the findings: comparisons over seeds, with a fourth outcome, "inconclusive".

Every verdict is decided from comparisons of per-seed values
(`attnjax.analysis.compare`), never from point means alone:

- **Test.** Two separately trained cells (e.g. additive vs scaled_dot) are
  independent samples of S seeds: Welch's t (unequal variances), computable
  from the stored mean, std and n. Two values of the *same* seed's model (a
  model and that model with its attention swapped; two quartiles of one seed's
  examples; two explainers on one seed's model) are paired: the t of the
  per-seed differences, which needs the per-seed values (`per_seed`, stored by
  `seed_summary`). Where a pairing rule meets a summary without them (results
  written before they were stored), Welch's t on the summaries is used instead
  and the comparison says so ("note"): it ignores the pairing.
- **Multiplicity.** The comparisons a finding's verdict reads form one family
  (comparisons reported beside it but not read by the verdict form families of
  their own); their two-sided p-values are adjusted by Holm's step-down
  method, and a comparison is significant when its adjusted p < `ALPHA` = 0.05. Holm keeps the chance of any
  false "significant" in the family ≤ 5% under any dependence between the
  comparisons (finding i's two share the scaled_dot cell) and is uniformly more
  powerful than Bonferroni. With one comparison it is exactly the 95% interval
  rule: A > B when the interval of A − B lies above 0, A < B below, inconclusive
  when it covers 0. The report prints each difference with its unadjusted 95%
  interval, the Bonferroni interval at the family's size (1 − 0.05 / m), p and
  Holm's p.
- **Units.** Every interval is over seeds (n = S): a per-example statistic is
  averaged over a seed's examples first. The same explained examples recur
  in every seed, so pooling seed-examples as independent would understate
  the interval.
- **Outcomes.** Each comparison is "A > B", "A < B" or "inconclusive"; each
  finding combines its comparisons into "reproduced", "mixed", "not
  reproduced" or "inconclusive" by the rule in its `judge_*` function (printed
  in the report). Experiment 6 asks a question rather than testing a
  prediction; its outcomes are "MI agrees better", "attention agrees better",
  "mixed" and "inconclusive". Experiment 7 asks whether attention ranks the
  tokens the prediction rests on better than chance ("attention beats random",
  "attention below random", "mixed", "inconclusive"); in families of their own,
  whether the other methods beat random and which do better or worse than
  attention (stated in words under "summary"). Finding iii's verdict is
  length-controlled (`judge_3`).

`judge(number, finding, ...)` takes a finding's JSON-able dict (as `findings`
builds it or as `results.json` stores it) and returns its "verdict", "rule"
and "comparisons" (+ "robustness" for finding i), so a run and a re-judging of
its stored results (`attnjax.reproduce.rejudge`) share one code path.
"""

from __future__ import annotations

import math
import re

import numpy as np

from attnjax.analysis import compare
from attnjax.analysis.summary import seed_summary

ALPHA = 0.05
"""Family-wise significance level of a finding's comparisons (Holm-adjusted p < ALPHA)."""

VERDICTS = ("reproduced", "mixed", "not reproduced", "inconclusive")
EXPLAINER_VERDICTS = ("MI agrees better", "attention agrees better", "mixed", "inconclusive")
NOT_JUDGED = "not judged"
"""The verdict where the data a rule needs were not stored (re-judged old results only)."""

UNPAIRED_NOTE = ("paired values not stored: Welch's t on the summaries (ignores the pairing "
                 "over seeds)")


def comparison(a: str, a_summary: dict, b: str, b_summary: dict, *, measure: str,
               predicted: str | None = None, paired: bool = False) -> dict:
  """One comparison of two summaries over seeds (before the family's Holm adjustment).

  Args:
    a, b: names of the two sides (printed as "a − b").
    a_summary, b_summary: summaries with "mean", "std", "n" (and "per_seed" for
      a paired test), as `mean_ci` / `seed_summary` write them.
    measure: what is compared (a column name, in words).
    predicted: ">" or "<" when the finding predicts a direction for a − b, else None.
    paired: the two sides are values of the same seeds' models (a paired test
      when both summaries carry `per_seed` values of equal length; Welch's t on
      the summaries, with a note, when they do not).

  Returns:
    `attnjax.analysis.compare`'s dict plus "a", "b", "measure", "predicted"
    (and "note" when a paired comparison fell back to Welch's t).
  """
  if predicted not in (None, ">", "<"):
    raise ValueError(f"predicted must be '>', '<' or None, got {predicted!r}")
  values = [s.get("per_seed") for s in (a_summary, b_summary)]
  out = {"a": a, "b": b, "measure": measure, "predicted": predicted}
  if paired and all(v is not None for v in values) and len(values[0]) == len(values[1]):
    out.update(compare.paired(_floats(values[0]), _floats(values[1])))
  else:
    out.update(compare.welch_from_summaries(a_summary, b_summary))
    if paired:
      out["note"] = UNPAIRED_NOTE
  return out


def _floats(values) -> np.ndarray:
  return np.array([math.nan if v is None else v for v in values], np.float64)


def decide(comparisons: list[dict], *, alpha: float = ALPHA) -> list[dict]:
  """Holm-adjusts a family of comparisons and gives each its outcome (in place; returned).

  Adds "p_holm", "alpha", "family" (m, the comparisons with a p-value),
  "ci_adjusted" (the Bonferroni interval at level 1 − alpha / m: simultaneous
  for the family, and one that excludes 0 implies Holm's p < alpha; a Holm-significant
  comparison's may still cover 0, Holm being the more powerful), "direction"
  (+1: a > b, −1: a < b, 0: inconclusive) and "outcome" ("a > b", "a < b" or
  "inconclusive", with the sides' names).
  """
  adjusted = compare.holm([c["p"] for c in comparisons])
  family = int(np.isfinite([_number(c["p"]) for c in comparisons]).sum()) if comparisons else 0
  for c, p_holm in zip(comparisons, adjusted):
    c["p_holm"], c["alpha"], c["family"] = float(p_holm), alpha, family
    c["ci_adjusted"] = compare.interval(c, 1 - alpha / max(family, 1))
    c["direction"] = compare.direction(c, alpha=alpha, p_key="p_holm")
    c["outcome"] = ("inconclusive" if c["direction"] == 0 else
                    f"{c['a']} {'>' if c['direction'] > 0 else '<'} {c['b']}")
  return comparisons


def _agreement(c: dict) -> int:
  """+1 when a comparison is significant the predicted way, −1 the other way, 0 when neither."""
  return c["direction"] * (1 if c["predicted"] == ">" else -1)


def all_predicted(comparisons: list[dict]) -> str:
  """The verdict of a claim that every comparison goes its predicted way.

  reproduced: every one significant the predicted way; not reproduced: any one
  significant the other way; inconclusive: none significant (or no comparison);
  mixed: otherwise (some significant the predicted way, the rest not significant).
  """
  agreements = [_agreement(c) for c in comparisons]
  if any(a < 0 for a in agreements):
    return "not reproduced"
  if agreements and all(a > 0 for a in agreements):
    return "reproduced"
  return "mixed" if any(agreements) else "inconclusive"


ALL_PREDICTED_RULE = ("reproduced when every comparison is significant the predicted way; not "
                      "reproduced when any is significant the other way; inconclusive when none "
                      "is significant; mixed otherwise")


def _outcomes(comparisons: list[dict]) -> str:
  return "; ".join(f"{c['a']} vs {c['b']}: {c['outcome']}" for c in comparisons) or "none"


ESTIMATOR_ERROR_RULE = (
    "a comparison is significant only when Holm's p < 0.05 AND |difference| exceeds the "
    "estimator's error of a difference at that operating point, |bias_a − bias_b| + "
    "√(spread_a² + spread_b²), from each cell's calibration (`attnjax.analysis.calibrate`: "
    "Gaussian surrogates with the cell's class means, pooled covariance and class counts, "
    "known MI): a bias common to both cells cancels in a difference, a bias that differs "
    "between them does not, and the spread is the estimator's own scatter on one draw")
NO_CALIBRATION_NOTE = ("no calibration stored (results from before it was measured): the "
                       "estimator's error at the operating point is not taken into account")


def difference_error(a: dict, b: dict) -> float:
  """The estimator's error of a difference of two cells' estimates: |bias_a − bias_b| +
  √(spread_a² + spread_b²) (NaN when either calibration has no number)."""
  return (abs(_number(a.get("bias")) - _number(b.get("bias")))
          + math.hypot(_number(a.get("spread")), _number(b.get("spread"))))


def within_error(comparisons: list[dict], rows: dict, calibration: str) -> bool:
  """Applies the estimator-error rule to decided comparisons (in place).

  Each comparison gets "estimator_error" (`difference_error` of its two rows'
  `calibration` entries); a significant one whose |difference| is not larger
  (or whose error is undefined) becomes inconclusive, with a note. Returns
  False, changing nothing, when a row has no calibration stored.
  """
  if not all(calibration in rows[c[side]] for c in comparisons for side in ("a", "b")):
    return False
  for c in comparisons:
    error = difference_error(rows[c["a"]][calibration], rows[c["b"]][calibration])
    c["estimator_error"] = error
    if c["direction"] != 0 and not abs(_number(c["difference"])) > error:
      c["direction"], c["outcome"] = 0, "inconclusive"
      c["note"] = (f"significant, but |difference| ≤ the estimator's error of a difference "
                   f"({error:.3f} nats)")
  return True


def judge_1(finding: dict, *, robustness_method: str | None = None) -> dict:
  """(i) additive − scaled_dot and deep − scaled_dot of mean I(h_t ; ŷ) over positions: > 0.

  With calibrations stored in the rows ("calibration", "calibration_robust"),
  a significant difference no larger than the estimator's error is
  inconclusive (`within_error`); results stored without them are judged as
  before, with a note in the rule.
  """
  rows = finding["rows"]
  column = "mi_mean_over_positions"
  comparisons = decide([comparison(a, rows[a][column], "scaled_dot", rows["scaled_dot"][column],
                                   measure=column, predicted=">")
                        for a in ("additive", "deep")])
  calibrated = within_error(comparisons, rows, "calibration")
  error_rule = (f"; {ESTIMATOR_ERROR_RULE}" if calibrated else f" ({NO_CALIBRATION_NOTE})")
  out = {"verdict": all_predicted(comparisons), "comparisons": comparisons,
         "rule": ("Welch's t over seeds (separate cells) of the mean I(h_t ; ŷ) over positions, "
                  "additive − scaled_dot and deep − scaled_dot (predicted > 0), Holm over the "
                  f"two{error_rule}; {ALL_PREDICTED_RULE}")}
  robust = f"{column}_robust"
  if all(robust in rows[a] for a in rows):
    method = robustness_method or "the robustness estimator"
    if max(rows[a][robust]["mean"] for a in rows) <= 0:
      out["rule"] += (f". Robustness: {method} (the *_robust column) gives a held-out bound ≤ 0 "
                      "for all three (too few examples for a probe on 2H-dimensional states), so "
                      "it cannot check the comparisons here")
    else:
      checks = decide([comparison(a, rows[a][robust], "scaled_dot", rows["scaled_dot"][robust],
                                  measure=robust, predicted=">") for a in ("additive", "deep")])
      within_error(checks, rows, "calibration_robust")
      out["robustness"] = {"method": method, "comparisons": checks,
                           "verdict": all_predicted(checks)}
      out["rule"] += (f". Robustness (not part of the verdict): the same comparisons on "
                      f"{method}'s bound (the *_robust column), with the same error rule "
                      f"where calibrated: {_outcomes(checks)}")
  return out


def judge_2(finding: dict) -> dict:
  """(ii) learned attention's τ with instance MI exceeds every ablation's (where τ is defined)."""
  rows = finding["rows"]
  learned = rows["learned"]["tau"]
  defined = [name for name, row in rows.items() if name != "learned" and "tau" in row
             and np.isfinite(_number(row["tau"].get("mean")))]
  undefined = [name for name, row in rows.items() if name != "learned" and name not in defined]
  comparisons = decide([comparison("learned", learned, name, rows[name]["tau"], measure="tau",
                                   predicted=">", paired=name.startswith("swapped"))
                        for name in defined])
  left_out = (f"; left out, τ undefined (constant attention): {', '.join(undefined)}"
              if undefined else "")
  return {"verdict": all_predicted(comparisons), "comparisons": comparisons,
          "rule": ("learned − each ablation of mean Kendall τ(attention, instance MI) per seed "
                   "(predicted > 0): paired t over seeds for the swapped rows (the same seed's "
                   "model), Welch's t for the separately trained ones, Holm over the "
                   f"{len(comparisons)}{left_out}; {ALL_PREDICTED_RULE}")}


def _number(value) -> float:
  return math.nan if value is None else float(value)


NEAR_TIES_CONTROL = ("length control", "partial r(log spread, τ given log length)")
"""Finding iii's row and column of the statistic its verdict tests."""


def judge_3(finding: dict) -> dict:
  """(iii) τ(attention, MI) rises with attention spread once length is controlled for.

  The verdict: the one-sample t over seeds of each seed's partial correlation of log
  spread and τ given a cubic in log length (predicted > 0). A separate family, not part
  of the verdict: the paired t over seeds of the highest − the lowest spread quartile's
  mean τ (quartiles within each seed), the comparison without the length control.
  """
  rows = finding["rows"]
  quartiles = [name for name in rows if name.startswith("spread q")]
  dropped = finding.get("dropped")
  over = (f"; τ over {dropped['of'] - dropped['count']} seed-examples, {dropped['count']} with "
          "undefined τ left out" if dropped else "")
  rule = ("one-sample t over seeds of each seed's partial correlation of log attention "
          "spread and τ(attention, instance MI) given a cubic in the example's log length, "
          "over its explained examples (predicted > 0): reproduced when significantly > 0, "
          "not reproduced when significantly < 0, inconclusive otherwise. Without the length control, a separate "
          "family not part of the verdict: paired t over seeds of the highest − the lowest "
          f"spread quartile's mean τ, quartiles within each seed{over}")
  uncontrolled = []
  if quartiles and all("per_seed" in rows[q].get("tau", {}) for q in quartiles):
    uncontrolled = decide([comparison(quartiles[-1], rows[quartiles[-1]]["tau"], quartiles[0],
                                      rows[quartiles[0]]["tau"], measure="mean τ per seed",
                                      predicted=">", paired=True)])
  row, column = NEAR_TIES_CONTROL
  control = rows.get(row, {}).get(column)
  if control is None or "per_seed" not in control:
    return {"verdict": NOT_JUDGED, "comparisons": [], "comparisons_uncontrolled": uncontrolled,
            "rule": (f"{rule}. Not judged: these results store no per-seed {column} (the "
                     "examples' lengths were not kept)")}
  (c,) = decide([{"a": column, "b": "0", "measure": "per seed", "predicted": ">",
                  **compare.one_sample(_floats(control["per_seed"]))}])
  verdict = {1: "reproduced", -1: "not reproduced", 0: "inconclusive"}[c["direction"]]
  return {"verdict": verdict, "comparisons": [c], "comparisons_uncontrolled": uncontrolled,
          "rule": rule}


def judge_4(finding: dict) -> dict:
  """(iv) softmax − Gumbel(τ < 1) mean attention entropy, every one > 0."""
  rows = finding["rows"]
  cold = [name for name in rows if (m := re.fullmatch(r"gumbel τ=(.+)", name))
          and float(m.group(1)) < 1]
  comparisons = decide([comparison("softmax", rows["softmax"]["entropy"], name,
                                   rows[name]["entropy"], measure="entropy", predicted=">")
                        for name in cold])
  return {"verdict": all_predicted(comparisons), "comparisons": comparisons,
          "rule": ("Welch's t over seeds (separate cells) of mean attention entropy, softmax − "
                   f"each Gumbel-softmax τ < 1 (predicted > 0), Holm over the {len(cold)}; "
                   f"{ALL_PREDICTED_RULE}")}


TARGET = "bilstm + additive"


def judge_5(finding: dict) -> dict:
  """(v) BiLSTM + additive ranks in the top third by τ, with a rank interval from comparisons."""
  rows = finding["rows"]
  names = list(rows)
  undefined = [n for n in names if not np.isfinite(_number(rows[n]["tau"].get("mean")))]
  defined = sorted((n for n in names if n not in undefined),
                   key=lambda n: -_number(rows[n]["tau"]["mean"]))
  order = defined + sorted(undefined)
  third = max(len(order) // 3, 1)
  band = lambda rank: ("reproduced" if rank <= third else "mixed" if rank <= 2 * third
                       else "not reproduced")
  rank = order.index(TARGET) + 1
  base = (f"rank of BiLSTM + additive by mean Kendall τ(attention, instance MI) among "
          f"{len(order)} cells: reproduced in the top third (ranks 1–{third}), mixed in the "
          f"middle third, not reproduced in the bottom third; it ranks {rank} of {len(order)} "
          "by mean")
  last = (f"; {len(undefined)} cell(s) with undefined τ ({', '.join(sorted(undefined))}) rank "
          "last" if undefined else "")
  if TARGET in undefined:
    return {"verdict": "not reproduced", "comparisons": [], "order": order,
            "rule": f"{base}{last}, and an undefined BiLSTM + additive τ cannot reproduce it"}
  comparisons = decide([comparison(TARGET, rows[TARGET]["tau"], n, rows[n]["tau"],
                                   measure="tau") for n in defined if n != TARGET])
  above = sum(c["direction"] < 0 for c in comparisons)
  below = sum(c["direction"] > 0 for c in comparisons) + len(undefined)
  best, worst = 1 + above, len(order) - below
  verdict = band(best) if band(best) == band(worst) else "inconclusive"
  return {"verdict": verdict, "comparisons": comparisons, "order": order,
          "rule": (f"{base}{last}. By the tests (Welch's t against each other defined cell, "
                   f"Holm over the {len(comparisons)}) it ranks between {best} and {worst}: "
                   "1 + the cells significantly above it, to the count less those significantly "
                   "below it; inconclusive when that interval spans two thirds")}


EXPLAINER_REFERENCES = ("gradient", "input_x_gradient", "leave_one_out")
"""Experiment 6's classic explainers: the gradient norm, |input × gradient| (Jain & Wallace's
quantity) and leave-one-out."""


def _has_seed_values(summary: dict | None) -> bool:
  return summary is not None and (summary.get("per_seed") is not None
                                  or np.isfinite(_number(summary.get("std"))))


def judge_6(finding: dict) -> dict:
  """Experiment 6: instance MI's vs attention's τ with each classic explainer."""
  comparisons, unmeasured = [], []
  for name, row in finding["rows"].items():
    for reference in EXPLAINER_REFERENCES:
      mi, attention = (row.get(f"τ {m}–{reference}") for m in ("instance_mi", "attention"))
      if mi is None or attention is None:  # e.g. a published reference row
        continue
      if not (_has_seed_values(mi) and _has_seed_values(attention)):
        unmeasured.append(f"{name}: τ with {reference}")
        continue
      comparisons.append(comparison("instance MI", mi, "attention", attention,
                                    measure=f"{name}: τ with {reference}", paired=True))
  decide(comparisons)
  directions = [c["direction"] for c in comparisons]
  verdict = ("inconclusive" if not any(directions) else
             "MI agrees better" if all(d > 0 for d in directions) else
             "attention agrees better" if all(d < 0 for d in directions) else "mixed")
  left_out = (f"; left out, per-seed values not stored: {', '.join(unmeasured)}"
              if unmeasured else "")
  return {"verdict": verdict, "comparisons": comparisons,
          "rule": ("instance MI's − attention's Kendall τ with the gradient norm, with "
                   "|input × gradient| (Jain & Wallace's quantity) and with leave-one-out, "
                   "per attention type, paired t over seeds (the same seed's model and "
                   f"examples), Holm over the {len(comparisons)}: 'MI agrees better' / "
                   "'attention agrees better' when every comparison is significant that way, "
                   "inconclusive when none is, mixed otherwise; gradient–LOO is the agreement "
                   f"between two classic explainers, for scale{left_out}")}


FAITHFULNESS_VERDICTS = ("attention beats random", "attention below random", "mixed",
                         "inconclusive")
"""Experiment 7's outcomes: is attention's ranking more faithful than chance?"""

RANDOM_METHOD = "random"


def _split_row(name: str) -> tuple[str, str]:
  cell, _, method = name.partition(": ")
  return cell, method


def judge_7(finding: dict) -> dict:
  """Experiment 7: each method's comprehensiveness against random and against attention.

  Three families, each Holm-adjusted on its own, paired t over seeds (the same
  seed's model, examples and random rankings): attention − random per attention
  type (the comparisons the verdict reads), every other method − random (is it
  better than chance?) and every other explainer − attention (is it more
  faithful than attention?). The verdict answers the first question; "summary"
  states all three in words.

  Returns:
    {"verdict", "rule", "comparisons" (attention against random),
    "comparisons_random" (the other methods against random), "comparisons_attention"
    (against attention), "summary" (one sentence per attention type)}.
  """
  measure = "comprehensiveness (AOPC)"
  cells: dict[str, dict] = {}
  for name, row in finding["rows"].items():
    cell, method = _split_row(name)
    if measure in row:
      cells.setdefault(cell, {})[method] = row[measure]
  attention_random, others_random, versus_attention = [], [], []
  for cell, methods in cells.items():
    for method, summary in methods.items():
      if method in (RANDOM_METHOD, "planted"):
        continue
      if RANDOM_METHOD in methods:
        family = attention_random if method == "attention" else others_random
        family.append(comparison(method, summary, RANDOM_METHOD, methods[RANDOM_METHOD],
                                 measure=f"{cell}: {measure}", predicted=">", paired=True))
      if method != "attention" and "attention" in methods:
        versus_attention.append(comparison(method, summary, "attention", methods["attention"],
                                           measure=f"{cell}: {measure}", paired=True))
  for family in (attention_random, others_random, versus_attention):
    decide(family)
  attention = [c["direction"] for c in attention_random]
  verdict = ("inconclusive" if not any(attention) else
             "attention below random" if any(d < 0 for d in attention) else
             "attention beats random" if all(d > 0 for d in attention) else "mixed")
  versus_random = attention_random + others_random
  summary = []
  for cell in cells:
    def named(comparisons, direction):
      return [c["a"] for c in comparisons
              if c["measure"].startswith(f"{cell}:") and c["direction"] == direction]
    parts = [f"above random: {', '.join(named(versus_random, 1)) or 'none'}",
             f"below random: {', '.join(named(versus_random, -1)) or 'none'}",
             f"above attention: {', '.join(named(versus_attention, 1)) or 'none'}",
             f"below attention: {', '.join(named(versus_attention, -1)) or 'none'}"]
    summary.append(f"{cell}: " + "; ".join(parts))
  return {"verdict": verdict, "comparisons": attention_random,
          "comparisons_random": others_random, "comparisons_attention": versus_attention,
          "summary": summary,
          "rule": ("comprehensiveness AOPC, paired t over seeds (the same seed's model and "
                   "examples); three families, each Holm-adjusted: attention − random per "
                   f"attention type ({len(attention_random)}; the verdict's), every other "
                   f"method − random ({len(others_random)}) and every other method − "
                   f"attention ({len(versus_attention)}). 'attention beats random' when "
                   "attention is significantly above random in every attention type, "
                   "'attention below random' when it is significantly below in any, "
                   "inconclusive when in none, mixed otherwise; the summary names, per "
                   "attention type, the methods significantly above / below random and "
                   "attention")}


JUDGES = {1: judge_1, 2: judge_2, 3: judge_3, 4: judge_4, 5: judge_5, 6: judge_6, 7: judge_7}


def judge(number: int, finding: dict, *, robustness_method: str | None = None) -> dict:
  """The verdict, rule and comparisons of finding `number` from its JSON-able dict.

  Args:
    number: 1–7.
    finding: the finding's dict (its "rows").
    robustness_method: finding i's robustness estimator (named in the rule).

  Returns:
    {"verdict", "rule", "comparisons"} (+ "robustness" for finding i, "order"
    for finding v).
  """
  number = int(number)
  if number not in JUDGES:
    raise ValueError(f"unknown finding {number}; allowed: {sorted(JUDGES)}")
  if number == 1:
    return judge_1(finding, robustness_method=robustness_method)
  return JUDGES[number](finding)
