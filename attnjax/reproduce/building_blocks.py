"""Finding (v): which encoder + attention pairs keep attention and MI order aligned.

`measure` reads a `DatasetCells`'s cells, `judge` gives the verdict, `figures` draws the result.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from attnjax.analysis.summary import seed_summary
from attnjax.models import ATTENTIONS
from attnjax.reproduce.experiment import Experiment
from attnjax.reproduce.figures import panel
from attnjax.reproduce.dataset_cells import TAU_UNDEFINED, DatasetCells, precision
from attnjax.reproduce.verdicts import comparison, decide, number


def cells(lab: DatasetCells) -> dict[str, dict]:
  """The cells finding v reads: {name: `TrainConfig` changes}, encoder-major."""
  return {f"{encoder}-{attention}": {"model.encoder": encoder, "model.attention": attention}
          for encoder in lab.encoders for attention in ATTENTIONS}


def row_name(encoder: str, attention: str) -> str:
  """The row of an encoder + attention cell ("bilstm + additive")."""
  return f"{encoder} + {attention}"


TARGET = row_name("bilstm", "additive")
"""The pair finding v predicts keeps attention and MI order best aligned."""


def measure(lab: DatasetCells) -> dict:
  """(v) Some encoder + attention pairs (BiLSTM + Additive) keep attention and MI order aligned."""
  rows, grid = {}, np.full((len(lab.encoders), len(ATTENTIONS)), np.nan)
  for i, encoder in enumerate(lab.encoders):
    for j, attention in enumerate(ATTENTIONS):
      name = f"{encoder}-{attention}"
      cell = lab.cell(name, **cells(lab)[name])
      summary = seed_summary(cell["tau"], undefined=TAU_UNDEFINED)
      rows[row_name(encoder, attention)] = {"tau": summary,
                                          "accuracy": seed_summary(cell["accuracy"]),
                                          **precision(cell)}
      grid[i, j] = summary["mean"]
  return {"title": "Building blocks (finding v)", "rows": rows, "grid": grid.tolist(),
          "encoders": list(lab.encoders), "attentions": list(ATTENTIONS)}


def judge(finding: dict, analysis: Mapping) -> dict:
  """(v) BiLSTM + additive ranks in the top third by τ, with a rank interval from comparisons."""
  rows = finding["rows"]
  names = list(rows)
  undefined = [n for n in names if not np.isfinite(number(rows[n]["tau"].get("mean")))]
  defined = sorted((n for n in names if n not in undefined),
                   key=lambda n: -number(rows[n]["tau"]["mean"]))
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


def figures(finding: dict) -> dict:
  """{"finding5": Figure}."""
  fig, ax = panel()
  rows = finding["rows"]
  grid = np.asarray(finding["grid"], float)
  image = ax.imshow(grid, cmap="viridis")
  ax.set_xticks(range(grid.shape[1]), finding["attentions"])
  ax.set_yticks(range(grid.shape[0]), finding["encoders"])
  for (i, j), value in np.ndenumerate(grid):
    tau = rows.get(row_name(finding["encoders"][i], finding["attentions"][j]), {}).get("tau", {})
    half = f"\n± {tau['ci']:.2f}" if np.isfinite(tau.get("ci", np.nan)) else ""
    ax.text(j, i, f"{value:.2f}{half}", ha="center", va="center", color="w", fontsize=8)
  fig.colorbar(image, ax=ax, label="Kendall τ (attention, MI)")
  ax.set_title("Encoder × attention (mean ± 95% CI over seeds)")
  return {"finding5": fig}


EXPERIMENT = Experiment(cells=cells, measure=measure, judge=judge, draw=figures,
                        figures=(("finding5", "finding 5"),))
