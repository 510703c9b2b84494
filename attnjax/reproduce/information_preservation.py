"""Finding (i): Additive and Deep attention preserve more I(h ; output) than Scaled Dot-product.

`measure` reads a `DatasetCells`'s cells, `judge` gives the verdict, `figures` draws the result.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from attnjax.analysis.summary import mean_ci, nanmean, seed_summary
from attnjax.models import ATTENTIONS
from attnjax.reproduce.experiment import Experiment
from attnjax.reproduce.figures import panel
from attnjax.reproduce.dataset_cells import (MI_UNDEFINED, DatasetCells, calibration_row,
                                             calibrations, estimable, nanmax, precision)
from attnjax.reproduce.verdicts import (ALL_PREDICTED_RULE, ESTIMATOR_ERROR_RULE,
                                       NO_CALIBRATION_NOTE, all_predicted, comparison, decide,
                                       outcomes_text, within_error)


def cells(lab: DatasetCells) -> dict[str, dict]:
  """The cells finding i reads: {name: `TrainConfig` changes}."""
  return {f"bilstm-{attention}": {"model.attention": attention} for attention in ATTENTIONS}


def measure(lab: DatasetCells) -> dict:
  """(i) Additive and Deep attention preserve more I(h ; output) than Scaled Dot-product."""
  rows = {}
  for attention, (name, changes) in zip(ATTENTIONS, cells(lab).items()):
    cell = lab.cell(name, **changes)
    dataset_mi = cell["dataset_mi"]
    rows[attention] = {
        "accuracy": seed_summary(cell["accuracy"]),
        "mi_mean_over_positions": seed_summary(dataset_mi, undefined=MI_UNDEFINED),
        "mi_max_over_positions": seed_summary(nanmax(dataset_mi, 1), undefined=MI_UNDEFINED),
        "mi_context": seed_summary(cell["context_mi"], undefined="fewer than 20 examples"),
        "mi_profile": nanmean(dataset_mi, 0).tolist(),
        # Per position, the 95% half-width over seeds (NaN where < 2 seeds are defined).
        "mi_profile_ci": np.asarray(mean_ci(dataset_mi, axis=0)["ci"]).tolist(),
        "positions_estimable": estimable(dataset_mi),
        **precision(cell),
    }
    if "dataset_mi_robust" in cell:
      rows[attention]["mi_mean_over_positions_robust"] = seed_summary(
          cell["dataset_mi_robust"], undefined=MI_UNDEFINED)
    calibration = calibrations(cell)
    for role, name in (("dataset", "calibration"), ("robust", "calibration_robust")):
      if role in calibration:
        rows[attention][name] = calibration_row(calibration[role])
  return {"title": "Information preservation (finding i)", "rows": rows}


def judge(finding: dict, analysis: Mapping) -> dict:
  """(i) additive − scaled_dot and deep − scaled_dot of mean I(h_t ; ŷ) over positions: > 0.

  With calibrations stored in the rows ("calibration", "calibration_robust"),
  a significant difference no larger than the estimator's error is
  inconclusive (`within_error`); results stored without them are judged without that
  rule, and the rule says so. `analysis["robustness_method"]` names the second estimator.
  """
  robustness_method = analysis.get("robustness_method")
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
                      f"where calibrated: {outcomes_text(checks)}")
  return out


def figures(finding: dict) -> dict:
  """{"finding1": Figure}."""
  fig, ax = panel()
  rows = finding["rows"]
  for name, row in rows.items():
    profile = np.asarray(row["mi_profile"], float)
    summary = row["mi_mean_over_positions"]
    line, = ax.plot(profile, label=f"{name} (mean {summary['mean']:.3f} ± "
                    f"{np.nan_to_num(summary['ci']):.3f})")
    half = np.nan_to_num(np.asarray(row["mi_profile_ci"], float))
    ax.fill_between(np.arange(len(profile)), profile - half, profile + half,
                    color=line.get_color(), alpha=0.2, linewidth=0)
  ax.set(xlabel="position t", ylabel="I(h_t ; ŷ) [nats]",
         title="Information preservation (band: 95% CI over seeds)")
  ax.legend(fontsize=8)
  return {"finding1": fig}


EXPERIMENT = Experiment(cells=cells, measure=measure, judge=judge, draw=figures,
                        figures=(("finding1", "finding 1"),), checks_estimator=True)
