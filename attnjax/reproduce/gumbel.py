"""Finding (iv): Gumbel-softmax with τ < 1 gives more skewed attention than softmax.

`measure` reads a `DatasetCells`'s cells, `judge` gives the verdict, `figures` draws the result.
"""

from __future__ import annotations

import re
from typing import Mapping

from attnjax.analysis.summary import seed_summary
from attnjax.reproduce.experiment import Experiment
from attnjax.reproduce.figures import errors, panel, tau_bars
from attnjax.reproduce.dataset_cells import TAU_UNDEFINED, DatasetCells
from attnjax.reproduce.verdicts import ALL_PREDICTED_RULE, all_predicted, comparison, decide


def cells(lab: DatasetCells) -> dict[str, dict]:
  """The cells finding iv reads: {name: `TrainConfig` changes}."""
  plan = {"bilstm-additive": {"model.attention": "additive"}}
  for temperature in lab.temperatures:
    plan[f"bilstm-additive-gumbel-{temperature:g}"] = {"model.normalizer": "gumbel",
                                                       "model.temperature": temperature}
  return plan


GUMBEL_ROW = "gumbel τ="
"""The start of a Gumbel-softmax cell's row, before its temperature (the softmax cell's row
is "softmax")."""


def row_name(temperature: float) -> str:
  """The row of the Gumbel-softmax cell at `temperature` ("gumbel τ=0.5")."""
  return f"{GUMBEL_ROW}{temperature:g}"


def temperature_of(row: str) -> float | None:
  """The temperature of a `row_name` row; None for any other row ("softmax")."""
  match = re.fullmatch(f"{re.escape(GUMBEL_ROW)}(.+)", row)
  return float(match.group(1)) if match else None


def measure(lab: DatasetCells) -> dict:
  """(iv) Gumbel-softmax with τ < 1 gives more skewed attention than softmax."""
  row_names = ["softmax"] + [row_name(temperature) for temperature in lab.temperatures]
  cells_ = {row: lab.cell(name, **changes)
            for row, (name, changes) in zip(row_names, cells(lab).items())}
  rows = {name: {"entropy": seed_summary(c["stats_entropy"].mean(1)),
                 "max": seed_summary(c["stats_max"].mean(1)),
                 "accuracy": seed_summary(c["accuracy"]),
                 "tau": seed_summary(c["tau"], undefined=TAU_UNDEFINED)}
          for name, c in cells_.items()}
  return {"title": "Gumbel-softmax (finding iv)", "rows": rows}


def judge(finding: dict, analysis: Mapping) -> dict:
  """(iv) softmax − Gumbel(τ < 1) mean attention entropy, every one > 0."""
  rows = finding["rows"]
  cold = [name for name in rows if (t := temperature_of(name)) is not None and t < 1]
  comparisons = decide([comparison("softmax", rows["softmax"]["entropy"], name,
                                   rows[name]["entropy"], measure="entropy", predicted=">")
                        for name in cold])
  return {"verdict": all_predicted(comparisons), "comparisons": comparisons,
          "rule": ("Welch's t over seeds (separate cells) of mean attention entropy, softmax − "
                   f"each Gumbel-softmax τ < 1 (predicted > 0), Holm over the {len(cold)}; "
                   f"{ALL_PREDICTED_RULE}")}


def figures(finding: dict) -> dict:
  """{"finding4": Figure}."""
  fig, ax = panel()
  rows = finding["rows"]
  names = tau_bars(ax, rows, finding["title"])
  ax2 = ax.twinx()
  entropy = [rows[n]["entropy"] for n in names]
  ax2.errorbar(range(len(names)), [e["mean"] for e in entropy], yerr=errors(entropy),
               fmt="o-", capsize=3, color="tab:red")
  ax2.set_ylabel("attention entropy [nats]", color="tab:red")
  return {"finding4": fig}


EXPERIMENT = Experiment(cells=cells, measure=measure, judge=judge, draw=figures,
                        figures=(("finding4", "finding 4"),))
