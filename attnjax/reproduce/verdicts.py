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
- **Multiplicity.** A finding's comparisons form one family; their two-sided
  p-values are adjusted by Holm's step-down method, and a comparison is
  significant when its adjusted p < `ALPHA` = 0.05. Holm keeps the chance of any
  false "significant" in the family ≤ 5% under any dependence between the
  comparisons (finding i's two share the scaled_dot cell) and is uniformly more
  powerful than Bonferroni. With one comparison it is exactly the 95% interval
  rule: A > B when the interval of A − B lies above 0, A < B below, inconclusive
  when it covers 0. The report prints each difference with its unadjusted 95%
  interval, p and Holm's p.
- **Outcomes.** Each comparison is "A > B", "A < B" or "inconclusive"; each
  finding combines its comparisons into "reproduced", "mixed", "not
  reproduced" or "inconclusive" by the rule in its `judge_*` function (printed
  in the report). Experiment 6 asks a question rather than testing a
  prediction; its outcomes are "MI agrees better", "attention agrees better",
  "mixed" and "inconclusive". Experiment 7 asks whether attention ranks the
  tokens the prediction rests on better than chance ("attention beats random",
  "attention below random", "mixed", "inconclusive") and, in a second family
  with its own Holm adjustment, which explainers do better or worse than
  attention (stated in words under "summary").

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
NEAR_TIE_UNDEFINED = "a seed with no defined τ in this quartile"


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

  Adds "p_holm", "alpha", "direction" (+1: a > b, −1: a < b, 0: inconclusive)
  and "outcome" ("a > b", "a < b" or "inconclusive", with the sides' names).
  """
  adjusted = compare.holm([c["p"] for c in comparisons])
  for c, p_holm in zip(comparisons, adjusted):
    c["p_holm"], c["alpha"] = float(p_holm), alpha
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


def near_tie_quartiles(spread, tau, seed, seeds: int, buckets: int = 4, *, edges=None) -> dict:
  """Finding iii's buckets: spread quantile edges over all seed-examples, per-seed means.

  Args:
    spread: <float>[N] attention spread (max − min) of the seed-examples with defined τ.
    tau: <float>[N] their Kendall τ(attention, instance MI).
    seed: <int>[N] the seed index (0 … seeds − 1) of each.
    seeds: S.
    buckets: how many spread quantiles.
    edges: <float>[buckets + 1] bucket edges to use instead of the spread's
      quantiles (those a stored result was computed with).

  Returns:
    {"edges": <float64>[buckets + 1], "index": <int>[N] bucket of each,
    "seed_means": <float64>[buckets, S] mean τ of each seed's examples in each
    bucket (NaN where a seed has none)}.
  """
  spread, tau, seed = np.asarray(spread), np.asarray(tau, np.float64), np.asarray(seed, int)
  if edges is None:  # no seed-example with a defined τ: no edges, every bucket empty
    edges = (np.quantile(spread, np.linspace(0, 1, buckets + 1)) if spread.size
             else np.full(buckets + 1, np.nan))
  edges = np.asarray(edges)
  index = np.clip(np.searchsorted(edges, spread, side="right") - 1, 0, buckets - 1)
  sums, counts = np.zeros((buckets, seeds)), np.zeros((buckets, seeds))
  np.add.at(sums, (index, seed), tau)
  np.add.at(counts, (index, seed), 1)
  with np.errstate(invalid="ignore"):
    means = sums / counts  # 0 / 0 = NaN: a seed without examples in a bucket
  return {"edges": edges, "index": index, "seed_means": means}


def _near_tie_seed_means(finding: dict, seeds: int | None, explain_examples: int | None):
  """Per-seed quartile summaries of finding iii, and how they were obtained (or why not)."""
  rows = list(finding["rows"].values())
  if all("per_seed" in r.get("tau_over_seeds", {}) for r in rows):
    return [r["tau_over_seeds"] for r in rows], None
  scatter = finding.get("scatter", {})
  spread, tau = (np.asarray(_floats(scatter.get(k, [])), np.float64) for k in ("spread", "tau"))
  if "seed" in scatter:
    seed, how = np.asarray(scatter["seed"], int), "the stored scatter's seed indices"
    seeds = seeds or int(seed.max()) + 1
  elif (seeds and explain_examples and tau.size == seeds * explain_examples
        and np.isfinite(tau).all()):
    # No τ was undefined, so the scatter is the [S, B] array raveled seed-major.
    seed = np.repeat(np.arange(seeds), explain_examples)
    how = (f"the stored scatter, whose {tau.size} = {seeds} seeds × {explain_examples} "
           "examples values (none undefined) are in seed order")
  else:
    return None, ("finding iii's paired test needs each seed's mean τ per quartile; these "
                  "results store neither those nor the seed of each scatter point, so it is "
                  "not judged")
  edges = [r["spread_range"][0] for r in rows] + [rows[-1]["spread_range"][1]]
  quartiles = near_tie_quartiles(spread, tau, seed, seeds, len(rows), edges=edges)
  pooled = [tau[quartiles["index"] == q].mean() for q in range(len(rows))]
  stored = [_number(r["tau"]["mean"]) for r in rows]
  if not np.allclose(pooled, stored, rtol=1e-9, atol=1e-12):
    return None, ("the stored scatter does not reproduce the stored quartile means "
                  f"({pooled} vs {stored}), so finding iii is not judged")
  summaries = [seed_summary(m, undefined=NEAR_TIE_UNDEFINED) for m in quartiles["seed_means"]]
  return summaries, (f"per-seed quartile means recomputed from {how} and the stored quartile "
                     "edges; the pooled quartile means match the stored ones")


def judge_3(finding: dict, *, seeds: int | None = None,
            explain_examples: int | None = None) -> dict:
  """(iii) τ rises from the lowest- to the highest-spread quartile (paired over seeds)."""
  names = list(finding["rows"])
  low, high = names[0], names[-1]
  summaries, how = _near_tie_seed_means(finding, seeds, explain_examples)
  dropped = finding.get("dropped")
  over = (f"; τ over {dropped['of'] - dropped['count']} seed-examples, {dropped['count']} with "
          "undefined τ left out" if dropped else "")
  rule = ("paired t over seeds of each seed's mean τ(attention, instance MI) in the "
          f"highest-spread quartile − the lowest (predicted > 0; quartile edges over all "
          "seed-examples): reproduced when significantly > 0 and the lowest quartile's τ is "
          "closer to 0 than the highest's; mixed when significantly > 0 but the lowest "
          "quartile's τ is further from 0 (negative); not reproduced when significantly < 0; "
          f"inconclusive otherwise{over}")
  if summaries is None:
    return {"verdict": NOT_JUDGED, "comparisons": [], "rule": f"{rule}. {how}"}
  c = comparison(high, summaries[-1], low, summaries[0], measure="mean τ per seed",
                 predicted=">", paired=True)
  if how:
    c["note"] = "; ".join(filter(None, [c.get("note"), how]))
  decide([c])
  closer = abs(summaries[0]["mean"]) < abs(summaries[-1]["mean"])
  verdict = {1: "reproduced" if closer else "mixed", -1: "not reproduced",
             0: "inconclusive"}[c["direction"]]
  return {"verdict": verdict, "comparisons": [c], "rule": rule}


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


def judge_6(finding: dict) -> dict:
  """Experiment 6: instance MI's vs attention's τ with gradient and with leave-one-out."""
  comparisons = []
  for name, row in finding["rows"].items():
    for reference in ("gradient", "leave_one_out"):
      mi, attention = (row.get(f"τ {m}–{reference}") for m in ("instance_mi", "attention"))
      if mi is None or attention is None:  # e.g. a published reference row
        continue
      comparisons.append(comparison("instance MI", mi, "attention", attention,
                                    measure=f"{name}: τ with {reference}", paired=True))
  decide(comparisons)
  directions = [c["direction"] for c in comparisons]
  verdict = ("inconclusive" if not any(directions) else
             "MI agrees better" if all(d > 0 for d in directions) else
             "attention agrees better" if all(d < 0 for d in directions) else "mixed")
  return {"verdict": verdict, "comparisons": comparisons,
          "rule": ("instance MI's − attention's Kendall τ with gradient and with leave-one-out, "
                   "per attention type, paired t over seeds (the same seed's model and "
                   f"examples), Holm over the {len(comparisons)}: 'MI agrees better' / "
                   "'attention agrees better' when every comparison is significant that way, "
                   "inconclusive when none is, mixed otherwise; gradient–LOO is the agreement "
                   "between two classic explainers, for scale")}


FAITHFULNESS_VERDICTS = ("attention beats random", "attention below random", "mixed",
                         "inconclusive")
"""Experiment 7's outcomes: is attention's ranking more faithful than chance?"""

RANDOM_METHOD = "random"


def _split_row(name: str) -> tuple[str, str]:
  cell, _, method = name.partition(": ")
  return cell, method


def judge_7(finding: dict) -> dict:
  """Experiment 7: each method's comprehensiveness against random and against attention.

  Two families, each Holm-adjusted on its own: every method − random (is it
  better than chance?) and every other explainer − attention (is it more
  faithful than attention?), per attention type, paired t over seeds (the
  same seed's model, examples and random rankings). The verdict answers the
  first question for attention; "summary" states both in words.

  Returns:
    {"verdict", "rule", "comparisons" (against random), "comparisons_attention"
    (against attention), "summary" (one sentence per attention type)}.
  """
  measure = "comprehensiveness (AOPC)"
  cells: dict[str, dict] = {}
  for name, row in finding["rows"].items():
    cell, method = _split_row(name)
    if measure in row:
      cells.setdefault(cell, {})[method] = row[measure]
  versus_random, versus_attention = [], []
  for cell, methods in cells.items():
    for method, summary in methods.items():
      if method in (RANDOM_METHOD, "planted"):
        continue
      if RANDOM_METHOD in methods:
        versus_random.append(comparison(method, summary, RANDOM_METHOD, methods[RANDOM_METHOD],
                                        measure=f"{cell}: {measure}", predicted=">", paired=True))
      if method != "attention" and "attention" in methods:
        versus_attention.append(comparison(method, summary, "attention", methods["attention"],
                                           measure=f"{cell}: {measure}", paired=True))
  decide(versus_random)
  decide(versus_attention)
  attention = [c["direction"] for c in versus_random if c["a"] == "attention"]
  verdict = ("inconclusive" if not any(attention) else
             "attention below random" if any(d < 0 for d in attention) else
             "attention beats random" if all(d > 0 for d in attention) else "mixed")
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
  return {"verdict": verdict, "comparisons": versus_random,
          "comparisons_attention": versus_attention, "summary": summary,
          "rule": ("comprehensiveness AOPC, paired t over seeds (the same seed's model and "
                   "examples); two families, each Holm-adjusted: every method − random "
                   f"({len(versus_random)}) and every other method − attention "
                   f"({len(versus_attention)}). 'attention beats random' when attention is "
                   "significantly above random in every attention type, 'attention below "
                   "random' when it is significantly below in any, inconclusive when in none, "
                   "mixed otherwise; the summary names, per attention type, the methods "
                   "significantly above / below random and attention")}


JUDGES = {1: judge_1, 2: judge_2, 3: judge_3, 4: judge_4, 5: judge_5, 6: judge_6, 7: judge_7}


def judge(number: int, finding: dict, *, robustness_method: str | None = None,
          seeds: int | None = None, explain_examples: int | None = None) -> dict:
  """The verdict, rule and comparisons of finding `number` from its JSON-able dict.

  Args:
    number: 1–7.
    finding: the finding's dict (its "rows", and finding iii's "scatter").
    robustness_method: finding i's robustness estimator (named in the rule).
    seeds, explain_examples: S and B of the run, which let finding iii recover
      per-seed values from a scatter stored without seed indices.

  Returns:
    {"verdict", "rule", "comparisons"} (+ "robustness" for finding i, "order"
    for finding v).
  """
  number = int(number)
  if number not in JUDGES:
    raise ValueError(f"unknown finding {number}; allowed: {sorted(JUDGES)}")
  if number == 1:
    return judge_1(finding, robustness_method=robustness_method)
  if number == 3:
    return judge_3(finding, seeds=seeds, explain_examples=explain_examples)
  return JUDGES[number](finding)
