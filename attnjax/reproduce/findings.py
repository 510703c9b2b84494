"""The experiments of `attnjax reproduce`, in one table: the five findings of Wen, Subbalakshmi &
Yang (2022), experiment 6 (the explainers side by side) and experiment 7 (which explanation
is faithful: ERASER's comprehensiveness / sufficiency, decision flips).

Each experiment is one module with its measurement and its figures:

- `measure(lab)`: a `Lab` (what trains and caches cells for one dataset) in, a
  JSON-able dict out: the numbers (mean and 95% CI over seeds, with the
  per-seed values), a verdict ("reproduced" / "mixed" / "not reproduced" /
  "inconclusive") with the rule and the comparisons over seeds that gave it
  (`attnjax.reproduce.verdicts`), and the arrays its figures need;
- `figures(result)`: that dict in, {name: Matplotlib `Figure`} out, written as
  `figures/<dataset>_<name>.png` and shown in the report with the caption
  of `Experiment.figures`.

Adding an experiment is one new module (its `finding_<n>` and `figures`) and one
entry in `EXPERIMENTS` (and its verdict rule, `attnjax.reproduce.verdicts`), as
experiment 7 (`attnjax.reproduce.faithfulness`) was added.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from attnjax.reproduce import (ablation, building_blocks, explanations, faithfulness, gumbel,
                               information_preservation, near_ties)
from attnjax.reproduce.ablation import finding_2
from attnjax.reproduce.building_blocks import finding_5
from attnjax.reproduce.explanations import finding_6
from attnjax.reproduce.faithfulness import finding_7
from attnjax.reproduce.gumbel import finding_4
from attnjax.reproduce.information_preservation import finding_1
from attnjax.reproduce.lab import TEMPERATURES, Lab
from attnjax.reproduce.near_ties import finding_3

__all__ = ["EXPERIMENTS", "FINDINGS", "TEMPERATURES", "Experiment", "Lab", "checked_cells",
           "plan_cells", "finding_1", "finding_2", "finding_3", "finding_4", "finding_5",
           "finding_6", "finding_7"]


@dataclasses.dataclass(frozen=True)
class Experiment:
  """One experiment of `reproduce`.

  Attributes:
    measure: `Lab` → JSON-able result (numbers, verdict, what the figures need).
    draw: result → {name: Figure}; each is written as `<dataset>_<name>.png`.
    figures: (name, caption) of each figure, in the report's order.
    cells: `Lab` → {cell name: `TrainConfig` changes}, every cell `measure`
      reads (so an executor can train them all before measuring, in parallel;
      a cell read but not declared raises).
    checks_estimator: `measure` reads its cells' second dataset-level estimate
      and calibration (`AnalysisSettings.robustness_method`); other cells skip them.
  """
  measure: Callable[[Lab], dict]
  draw: Callable[[dict], dict]
  figures: tuple[tuple[str, str], ...]
  cells: Callable[[Lab], dict]
  checks_estimator: bool = False


def _one_figure(number: int) -> tuple[tuple[str, str], ...]:
  return ((f"finding{number}", f"finding {number}"),)


EXPERIMENTS = {
    1: Experiment(finding_1, information_preservation.figures, _one_figure(1),
                  information_preservation.cells, checks_estimator=True),
    2: Experiment(finding_2, ablation.figures, _one_figure(2), ablation.cells),
    3: Experiment(finding_3, near_ties.figures, _one_figure(3), near_ties.cells),
    4: Experiment(finding_4, gumbel.figures, _one_figure(4), gumbel.cells),
    5: Experiment(finding_5, building_blocks.figures, _one_figure(5), building_blocks.cells),
    6: Experiment(finding_6, explanations.figures,
                  _one_figure(6) + (("explanations_tokens", "explainers on a few examples"),),
                  explanations.cells),
    7: Experiment(finding_7, faithfulness.figures,
                  (("finding7", "deletion curves: p(ŷ) as the best-ranked tokens go"),),
                  explanations.cells),
}
"""Experiment number → its measurement and figures."""

FINDINGS = {number: experiment.measure for number, experiment in EXPERIMENTS.items()}
"""Experiment number → its measurement (`EXPERIMENTS[number].measure`)."""


def plan_cells(lab: Lab, numbers) -> dict[str, dict]:
  """{cell name: `TrainConfig` changes} of every cell the experiments `numbers` read,
  in first-use order (finding 1's first), each once."""
  plan: dict[str, dict] = {}
  for number in numbers:
    for name, changes in EXPERIMENTS[number].cells(lab).items():
      plan.setdefault(name, changes)
  return plan


def checked_cells(lab: Lab) -> frozenset[str]:
  """The cells of every experiment with `checks_estimator` (whatever `--only` runs, so a
  cell's analysis, and its cache, do not depend on which experiments a run asked for)."""
  return frozenset(name for experiment in EXPERIMENTS.values() if experiment.checks_estimator
                   for name in experiment.cells(lab))
