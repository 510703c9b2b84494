"""Finding (i): Additive and Deep attention preserve more I(h ; output) than Scaled Dot-product.

`finding_1` measures it on a `Lab`'s cells; `figures` draws its result.
"""

from __future__ import annotations

import json

import numpy as np

from attnjax.analysis.summary import mean_ci, nanmean, seed_summary
from attnjax.models import ATTENTIONS
from attnjax.reproduce.figures import panel
from attnjax.reproduce.lab import (MI_UNDEFINED, Lab, calibration_row, estimable, nanmax,
                                   precision)
from attnjax.reproduce.verdicts import judge


def cells(lab: Lab) -> dict[str, dict]:
  """The cells finding i reads: {name: `TrainConfig` changes}."""
  return {f"bilstm-{attention}": {"model.attention": attention} for attention in ATTENTIONS}


def finding_1(lab: Lab) -> dict:
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
    if "calibration" in cell:
      calibration = json.loads(str(cell["calibration"]))
      for role, name in (("dataset", "calibration"), ("robust", "calibration_robust")):
        if role in calibration:
          rows[attention][name] = calibration_row(calibration[role])
  out = {"title": "Information preservation (finding i)", "rows": rows}
  return {**out, **judge(1, out, robustness_method=lab.settings.robustness_method)}


def figures(finding: dict) -> dict:
  """{"finding1": Figure}."""
  fig, ax = panel()
  rows = finding["rows"]
  for name, row in rows.items():
    profile = np.asarray(row["mi_profile"], float)
    summary = row["mi_mean_over_positions"]
    line, = ax.plot(profile, label=f"{name} (mean {summary['mean']:.3f} ± "
                    f"{np.nan_to_num(summary['ci']):.3f})")
    if "mi_profile_ci" in row:  # results before the band was stored draw the line only
      half = np.nan_to_num(np.asarray(row["mi_profile_ci"], float))
      ax.fill_between(np.arange(len(profile)), profile - half, profile + half,
                      color=line.get_color(), alpha=0.2, linewidth=0)
  ax.set(xlabel="position t", ylabel="I(h_t ; ŷ) [nats]",
         title="Information preservation (band: 95% CI over seeds)")
  ax.legend(fontsize=8)
  return {"finding1": fig}
