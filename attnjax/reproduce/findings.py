"""The experiments of `attnjax reproduce`, in one table: the five findings of Wen, Subbalakshmi &
Yang (2022), experiment 6 (the explainers side by side) and experiment 7 (which explanation
is faithful: ERASER's comprehensiveness / sufficiency, decision flips).

Each experiment is one module that owns its cells, its measurement, its verdict and its
figures, and ends with its `EXPERIMENT = Experiment(...)`
(`attnjax.reproduce.experiment.Experiment`):

- `cells(lab)`: {cell name: `TrainConfig` changes} of every cell it reads;
- `measure(lab)`: a `DatasetCells` (what trains and caches cells for one dataset) in, a
  JSON-able dict out: "title", "rows" (the report's table; numbers are means and 95%
  CIs over seeds with the per-seed values) and what its figures need;
- `judge(measured, analysis)`: the verdict, the rule that gave it and the comparisons
  over seeds (`attnjax.reproduce.verdicts` holds the statistics), from the JSON-able
  values only, so a stored result is re-judged by the same function;
- `figures(result)`: {name: Matplotlib `Figure`}, written as
  `figures/<dataset>_<name>.png` and shown in the report with the captions of
  `Experiment.figures`.

Adding an experiment is one new module and one entry in `EXPERIMENTS`; the smallest,
`attnjax.reproduce.gumbel` (finding iv), shows the shape.
"""

from __future__ import annotations

from typing import Mapping

from attnjax.reproduce import (ablation, building_blocks, explanations, faithfulness, gumbel,
                               information_preservation, near_ties)
from attnjax.reproduce.experiment import Experiment
from attnjax.reproduce.dataset_cells import TEMPERATURES, DatasetCells

__all__ = ["EXPERIMENTS", "TEMPERATURES", "DatasetCells", "Experiment",
           "estimator_checked_cells", "judge", "plan_cells"]

EXPERIMENTS: dict[int, Experiment] = {
    1: information_preservation.EXPERIMENT,
    2: ablation.EXPERIMENT,
    3: near_ties.EXPERIMENT,
    4: gumbel.EXPERIMENT,
    5: building_blocks.EXPERIMENT,
    6: explanations.EXPERIMENT,
    7: faithfulness.EXPERIMENT,
}
"""Experiment number → its cells, measurement, judge and figures."""


def experiment(number) -> Experiment:
  """`EXPERIMENTS[number]`, or a ValueError naming the numbers allowed."""
  if int(number) not in EXPERIMENTS:
    raise ValueError(f"unknown finding {number}; allowed: {sorted(EXPERIMENTS)}")
  return EXPERIMENTS[int(number)]


def judge(number, finding: dict, analysis: Mapping | None = None) -> dict:
  """The verdict, rule and comparisons of experiment `number` from its JSON-able dict.

  Args:
    number: 1–7.
    finding: the experiment's measurement (its "rows", ...), as `measure` returns it or
      as results.json stores it.
    analysis: the run's analysis settings as a dict (results.json's meta "analysis");
      finding i names its second estimator from it.

  Returns:
    {"verdict", "rule", "comparisons"} and what else the experiment's judge gives.
  """
  return experiment(number).judge(finding, analysis or {})


def plan_cells(lab: DatasetCells, numbers) -> dict[str, dict]:
  """{cell name: `TrainConfig` changes} of every cell the experiments `numbers` read,
  in first-use order (finding 1's first), each once."""
  plan: dict[str, dict] = {}
  for number in numbers:
    for name, changes in EXPERIMENTS[number].cells(lab).items():
      plan.setdefault(name, changes)
  return plan


def estimator_checked_cells(lab: DatasetCells) -> frozenset[str]:
  """The cells of every experiment with `checks_estimator` (whatever `--only` runs, so a
  cell's analysis, and its cache, do not depend on which experiments a run asked for)."""
  return frozenset(name for entry in EXPERIMENTS.values() if entry.checks_estimator
                   for name in entry.cells(lab))
