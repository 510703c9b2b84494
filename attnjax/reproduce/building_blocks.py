"""Finding (v): which encoder + attention pairs keep attention and MI order aligned.

`finding_5` measures it on a `Lab`'s cells; `figures` draws its result.
"""

from __future__ import annotations

import numpy as np

from attnjax.analysis.summary import seed_summary
from attnjax.models import ATTENTIONS
from attnjax.reproduce.figures import panel
from attnjax.reproduce.lab import TAU_UNDEFINED, Lab, precision
from attnjax.reproduce.verdicts import judge


def cells(lab: Lab) -> dict[str, dict]:
  """The cells finding v reads: {name: `TrainConfig` changes}, encoder-major."""
  return {f"{encoder}-{attention}": {"model.encoder": encoder, "model.attention": attention}
          for encoder in lab.encoders for attention in ATTENTIONS}


def finding_5(lab: Lab) -> dict:
  """(v) Some encoder + attention pairs (BiLSTM + Additive) keep attention and MI order aligned."""
  rows, grid = {}, np.full((len(lab.encoders), len(ATTENTIONS)), np.nan)
  for i, encoder in enumerate(lab.encoders):
    for j, attention in enumerate(ATTENTIONS):
      name = f"{encoder}-{attention}"
      cell = lab.cell(name, **cells(lab)[name])
      summary = seed_summary(cell["tau"], undefined=TAU_UNDEFINED)
      rows[f"{encoder} + {attention}"] = {"tau": summary,
                                          "accuracy": seed_summary(cell["accuracy"]),
                                          **precision(cell)}
      grid[i, j] = summary["mean"]
  out = {"title": "Building blocks (finding v)", "rows": rows, "grid": grid.tolist(),
         "encoders": list(lab.encoders), "attentions": list(ATTENTIONS)}
  return {**out, **judge(5, out)}


def figures(finding: dict) -> dict:
  """{"finding5": Figure}."""
  fig, ax = panel()
  rows = finding["rows"]
  grid = np.asarray(finding["grid"], float)
  image = ax.imshow(grid, cmap="viridis")
  ax.set_xticks(range(grid.shape[1]), finding["attentions"])
  ax.set_yticks(range(grid.shape[0]), finding["encoders"])
  for (i, j), value in np.ndenumerate(grid):
    tau = rows.get(f"{finding['encoders'][i]} + {finding['attentions'][j]}", {}).get("tau", {})
    half = f"\n± {tau['ci']:.2f}" if np.isfinite(tau.get("ci", np.nan)) else ""
    ax.text(j, i, f"{value:.2f}{half}", ha="center", va="center", color="w", fontsize=8)
  fig.colorbar(image, ax=ax, label="Kendall τ (attention, MI)")
  ax.set_title("Encoder × attention (mean ± 95% CI over seeds)")
  return {"finding5": fig}
