"""Verdicts from comparisons over seeds: the statistics every experiment's judge uses.

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
  experiment combines its comparisons into a verdict by the rule of its own `judge`
  (`attnjax.reproduce.experiment.Experiment`; the rule is printed in the report),
  e.g. `all_predicted` for a finding that predicts every comparison's direction.

Everything here is generic: comparisons of summaries over seeds, Holm's adjustment
(`decide`), the all-predicted rule and the estimator-error rule (`within_error`). What
an experiment compares, and how its comparisons combine, lives in its module.
"""

from __future__ import annotations

import math

import numpy as np

from attnjax.analysis import compare

ALPHA = 0.05
"""Family-wise significance level of a finding's comparisons (Holm-adjusted p < ALPHA)."""

VERDICTS = ("reproduced", "mixed", "not reproduced", "inconclusive")
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
    out.update(compare.paired(floats(values[0]), floats(values[1])))
  else:
    out.update(compare.welch_from_summaries(a_summary, b_summary))
    if paired:
      out["note"] = UNPAIRED_NOTE
  return out


def floats(values) -> np.ndarray:
  """Per-seed values as float64, JSON null (None) read as NaN."""
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
  family = int(np.isfinite([number(c["p"]) for c in comparisons]).sum()) if comparisons else 0
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


def outcomes_text(comparisons: list[dict]) -> str:
  """"a vs b: outcome; …" of decided comparisons ("none" when there are none)."""
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
  return (abs(number(a.get("bias")) - number(b.get("bias")))
          + math.hypot(number(a.get("spread")), number(b.get("spread"))))


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
    if c["direction"] != 0 and not abs(number(c["difference"])) > error:
      c["direction"], c["outcome"] = 0, "inconclusive"
      c["note"] = (f"significant, but |difference| ≤ the estimator's error of a difference "
                   f"({error:.3f} nats)")
  return True


def number(value) -> float:
  """A stored number as float, JSON null (None) read as NaN."""
  return math.nan if value is None else float(value)
