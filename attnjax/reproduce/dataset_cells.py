"""What every experiment measures with: `DatasetCells` (one dataset's cells) and shared summaries.

Each experiment of `attnjax.reproduce.findings.EXPERIMENTS` is one module with its cells,
measurement (`DatasetCells` in, JSON-able dict out), judge and figures; this module holds what
they share.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import jax
import numpy as np

from attnjax.analysis.summary import seed_summary
from attnjax.data.dataset import TextDataset
from attnjax.models import ENCODERS
from attnjax.reproduce.cell_measurements import AnalysisSettings
from attnjax.reproduce import cells
from attnjax.reproduce.cells import CellSpec, named_key
from attnjax.reproduce.claims import claim
from attnjax.training import TrainConfig

TEMPERATURES = (0.1, 0.25, 0.5, 1.0, 2.0)


@dataclasses.dataclass(frozen=True)
class DatasetCells:
  """Trains and caches the cells of one dataset (built with its plan: `dataclasses.replace`
  gives a lab with another).

  Attributes:
    directory: this dataset's output folder (cells go in `cells/<name>`).
    base: the `TrainConfig` every cell starts from (BiLSTM + additive).
    seeds: seeds trained together in every cell.
    splits: "train", "dev", "test" `TextDataset`s.
    settings: how cells are analysed.
    key: PRNG key of the analysis (`cell_key` folds in a stable hash of the cell name).
    progress: show training progress bars.
    on_cell: called with each cell name before it runs (progress reporting).
    encoders: the encoders of finding v; temperatures: the Gumbel τ of finding iv.
    data_id: names the data (load options); cached cells on other data are refused.
    planned: the names of the cells the experiments declared (`plan_cells`), or
      None to allow any.
    estimator_checked: the cells whose dataset-level MI is cross-checked with the second
      estimator and calibrated (`settings.robustness_method`,
      `settings.calibration_replicates`; `findings.estimator_checked_cells`: finding i's),
      or None for every cell. The others skip both (no experiment reads them there).
  """
  directory: Path
  base: TrainConfig
  seeds: tuple[int, ...]
  splits: dict[str, TextDataset]
  settings: AnalysisSettings
  key: jax.Array
  progress: bool = True
  on_cell: Callable[[str], None] | None = None
  encoders: tuple[str, ...] = ENCODERS
  temperatures: tuple[float, ...] = TEMPERATURES
  data_id: str | None = None
  planned: frozenset[str] | None = None
  estimator_checked: frozenset[str] | None = None

  def settings_of(self, name: str) -> AnalysisSettings:
    """How cell `name` is analysed: `settings`, without the second estimator and its
    calibration unless the cell is in `estimator_checked`."""
    if self.estimator_checked is None or name in self.estimator_checked:
      return self.settings
    return dataclasses.replace(self.settings, robustness_method=None, calibration_replicates=0)

  def cell_key(self, name: str, *purpose: str):
    """The PRNG key of cell `name`'s analysis (or of another `purpose` of that cell)."""
    return named_key(self.key, name, *purpose)

  def folder(self, name: str) -> Path:
    """Cell `name`'s folder."""
    return self.directory / "cells" / name

  def spec(self, name: str, **changes) -> CellSpec:
    """Cell `name`: `base.replace(**changes)` trained on `seeds`, analysed with
    `settings_of(name)` and `cell_key(name)`, in `folder(name)`."""
    return CellSpec.of(self.folder(name), self.base.replace(**changes), self.seeds,
                       self.settings_of(name), self.cell_key(name), data_id=self.data_id)

  def cell(self, name: str, **changes) -> dict:
    """Cell `name`'s analysis (`attnjax.reproduce.cells.analysed`), trained if not cached,
    under the cell's claim (`attnjax.reproduce.claims`: one writer at a time).

    Raises:
      RuntimeError: `planned` is set and does not hold `name` (an experiment read a
        cell its `Experiment.cells` does not declare).
    """
    self._check_planned(name)
    if self.on_cell is not None:
      self.on_cell(name)
    with claim(self.folder(name)):
      return cells.analysed(self.spec(name, **changes), self.splits, progress=self.progress)

  def trained(self, name: str, **changes):
    """Cell `name`'s `TrainResult` (its parameters), for experiments that need them: the
    cell's run, retrained if the cell was archived without parameters
    (`attnjax.reproduce.cells.trained`). Call after `cell(name, **changes)`."""
    self._check_planned(name)
    with claim(self.folder(name)):
      return cells.trained(self.spec(name, **changes), self.splits, progress=self.progress)

  def _check_planned(self, name: str) -> None:
    if self.planned is not None and name not in self.planned:
      raise RuntimeError(f"cell {name!r} is read but was not planned ({sorted(self.planned)}): "
                         "add it to its experiment's `cells`")


TAU_UNDEFINED = ("τ is undefined for an example whose attention or MI ranking is constant "
                 "(e.g. uniform attention) or that has fewer than 2 tokens")
MI_UNDEFINED = ("a position with fewer than min_count = 20 real examples (or a non-finite "
                "hidden state) has no estimate; the mean is over the estimable positions")
PRECISION_UNDEFINED = "precision@k is undefined for an example without planted tokens"


def precision(cell: dict) -> dict:
  """precision@k of attention and of instance MI against planted tokens (planted data only)."""
  if "precision_attention" not in cell:
    return {}
  return {"precision_attention": seed_summary(cell["precision_attention"],
                                             undefined=PRECISION_UNDEFINED),
          "precision_mi": seed_summary(cell["precision_mi"], undefined=PRECISION_UNDEFINED)}


def nanmax(values, axis) -> np.ndarray:
  """Max over `axis` ignoring NaN; NaN, without a warning, where every value is NaN."""
  values = np.asarray(values, np.float64)
  finite = np.isfinite(values).any(axis)
  return np.where(finite, np.max(np.where(np.isfinite(values), values, -np.inf), axis), np.nan)


def estimable(mi_SxT) -> dict:
  """How many positions have an MI estimate: per seed (min and max over seeds) and in all."""
  per_seed = np.isfinite(mi_SxT).sum(1)
  return {"min_over_seeds": int(per_seed.min()), "max_over_seeds": int(per_seed.max()),
          "positions": int(mi_SxT.shape[1])}


CALIBRATION_KEYS = ("method", "position", "seed", "n", "d", "classes", "truth", "truth_se",
                    "bias", "spread", "null", "estimates", "null_values", "shrunk")


def calibration_row(calibration: dict) -> dict:
  """A cell's calibration as finding i stores it (`attnjax.reproduce.cell_measurements.calibrate_cell`)."""
  return {k: calibration[k] for k in CALIBRATION_KEYS if k in calibration}


def calibrations(cell: dict) -> dict:
  """{role: {field: value}} of a cell's `calibration/<role>/<field>` arrays
  (`attnjax.reproduce.cell_measurements.calibration`), as Python values ({} when the cell
  was not calibrated)."""
  out: dict[str, dict] = {}
  for name, value in cell.items():
    if name.startswith("calibration/"):
      _, role, field = name.split("/")
      out.setdefault(role, {})[field] = np.asarray(value).tolist()
  return out
