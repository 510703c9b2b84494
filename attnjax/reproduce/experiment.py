"""One experiment of `attnjax reproduce`: what it trains, measures, judges and draws.

Each experiment is one module (`information_preservation`, `ablation`, `near_ties`,
`gumbel`, `building_blocks`, `explanations`, `faithfulness`) that ends with its
`EXPERIMENT = Experiment(...)`; `attnjax.reproduce.findings.EXPERIMENTS` numbers them.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

from attnjax.reproduce.verdicts import VERDICTS


@dataclasses.dataclass(frozen=True)
class Experiment:
  """One experiment of `reproduce`.

  Attributes:
    cells: `DatasetCells` → {cell name: `TrainConfig` changes}, every cell `measure` reads (so
      an executor can train them all before measuring, in parallel; a cell read but
      not declared raises).
    measure: `DatasetCells` → the JSON-able measurement: "title", "rows" (the report's table:
      {row name: {column: summary over seeds}}) and whatever the figures need.
    judge: (measurement, analysis settings as a dict) → {"verdict", "rule",
      "comparisons", ...}; reads only the measurement's JSON-able values, so a stored
      results.json is re-judged by the same function (`attnjax.reproduce.rejudge`).
    draw: the judged result → {name: Matplotlib Figure}, each written as
      `figures/<dataset>_<name>.png`.
    figures: (name, caption) of each figure, in the report's order.
    outcomes: the verdicts `judge` can give.
    checks_estimator: `measure` reads its cells' second dataset-level estimate and
      calibration (`AnalysisSettings.robustness_method`); other cells skip them.
    from_parameters: (`DatasetCells`, cell name) → None: computes and caches in that
      cell's folder whatever `measure` reads from the cell's parameters (nothing for a
      cell it reads no parameters of), so the cell's archived copy serves `measure`
      without retraining (`attnjax.reproduce.compute_cell`). None: `measure` reads
      no parameters.
  """
  cells: Callable[..., dict]
  measure: Callable[..., dict]
  judge: Callable[[dict, Mapping], dict]
  draw: Callable[[dict], dict]
  figures: tuple[tuple[str, str], ...]
  outcomes: tuple[str, ...] = VERDICTS
  checks_estimator: bool = False
  from_parameters: Callable[..., None] | None = None

  def judged(self, measured: dict, analysis: Mapping | None = None) -> dict:
    """`measured` with its verdict, rule and comparisons added (`judge`)."""
    return {**measured, **self.judge(measured, analysis or {})}

  def run(self, lab) -> dict:
    """Measures the experiment on `lab`'s cells and judges it."""
    return self.judged(self.measure(lab), dataclasses.asdict(lab.settings))
