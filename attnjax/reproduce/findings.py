"""The five experiments of Wen, Subbalakshmi & Yang (2022), as summaries of cached cells.

Each `finding_*` takes a `Lab` (what trains and caches cells for one dataset)
and returns a JSON-able dict: the numbers (mean and 95% CI over seeds, with the
per-seed values), a verdict ("reproduced" / "mixed" / "not reproduced" /
"inconclusive") with the rule and the comparisons over seeds that gave it
(`attnjax.reproduce.verdicts`), and the arrays its figure needs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import jax
import numpy as np

from attnjax import analysis, explain
from attnjax.analysis.summary import mean_ci, nanmean, seed_summary
from attnjax.data.dataset import TextDataset
from attnjax.models import ATTENTIONS, ENCODERS
from attnjax.reproduce.cells import AnalysisSettings, named_key, run_cell
from attnjax.reproduce.explanations import finding_6
from attnjax.reproduce.verdicts import NEAR_TIE_UNDEFINED, judge, near_tie_quartiles
from attnjax.training import TrainConfig, load_run

TEMPERATURES = (0.1, 0.25, 0.5, 1.0, 2.0)


@dataclasses.dataclass
class Lab:
  """Trains and caches the cells of one dataset.

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

  def cell_key(self, name: str, *purpose: str):
    """The PRNG key of cell `name`'s analysis (or of another `purpose` of that cell)."""
    return named_key(self.key, name, *purpose)

  def cell(self, name: str, **changes) -> dict:
    if self.on_cell is not None:
      self.on_cell(name)
    return run_cell(self.directory / "cells" / name, self.base.replace(**changes), self.seeds,
                    self.splits, self.settings, self.cell_key(name), progress=self.progress,
                    data_id=self.data_id)


TAU_UNDEFINED = ("τ is undefined for an example whose attention or MI ranking is constant "
                 "(e.g. uniform attention) or that has fewer than 2 tokens")
MI_UNDEFINED = ("a position with fewer than min_count = 20 real examples (or a non-finite "
                "hidden state) has no estimate; the mean is over the estimable positions")
PRECISION_UNDEFINED = "precision@k is undefined for an example without planted tokens"


def _precision(cell: dict) -> dict:
  """precision@k of attention and of instance MI against planted tokens (planted data only)."""
  if "precision_attention" not in cell:
    return {}
  return {"precision_attention": seed_summary(cell["precision_attention"],
                                             undefined=PRECISION_UNDEFINED),
          "precision_mi": seed_summary(cell["precision_mi"], undefined=PRECISION_UNDEFINED)}


def _nanmax(values, axis) -> np.ndarray:
  """Max over `axis` ignoring NaN; NaN, without a warning, where every value is NaN."""
  values = np.asarray(values, np.float64)
  finite = np.isfinite(values).any(axis)
  return np.where(finite, np.max(np.where(np.isfinite(values), values, -np.inf), axis), np.nan)


def _estimable(mi_SxT) -> dict:
  """How many positions have an MI estimate: per seed (min and max over seeds) and in all."""
  per_seed = np.isfinite(mi_SxT).sum(1)
  return {"min_over_seeds": int(per_seed.min()), "max_over_seeds": int(per_seed.max()),
          "positions": int(mi_SxT.shape[1])}


CALIBRATION_KEYS = ("method", "position", "seed", "n", "d", "classes", "truth", "truth_se",
                    "bias", "spread", "null", "estimates", "null_values", "shrunk")


def _calibration_row(calibration: dict) -> dict:
  """A cell's calibration as finding i stores it (`attnjax.reproduce.cells.calibrate_cell`)."""
  return {k: calibration[k] for k in CALIBRATION_KEYS if k in calibration}


def finding_1(lab: Lab) -> dict:
  """(i) Additive and Deep attention preserve more I(h ; output) than Scaled Dot-product."""
  rows = {}
  for attention in ATTENTIONS:
    cell = lab.cell(f"bilstm-{attention}", **{"model.attention": attention})
    dataset_mi = cell["dataset_mi"]
    rows[attention] = {
        "accuracy": seed_summary(cell["accuracy"]),
        "mi_mean_over_positions": seed_summary(dataset_mi, undefined=MI_UNDEFINED),
        "mi_max_over_positions": seed_summary(_nanmax(dataset_mi, 1), undefined=MI_UNDEFINED),
        "mi_context": seed_summary(cell["context_mi"], undefined="fewer than 20 examples"),
        "mi_profile": nanmean(dataset_mi, 0).tolist(),
        # Per position, the 95% half-width over seeds (NaN where < 2 seeds are defined).
        "mi_profile_ci": np.asarray(mean_ci(dataset_mi, axis=0)["ci"]).tolist(),
        "positions_estimable": _estimable(dataset_mi),
        **_precision(cell),
    }
    if "dataset_mi_robust" in cell:
      rows[attention]["mi_mean_over_positions_robust"] = seed_summary(
          cell["dataset_mi_robust"], undefined=MI_UNDEFINED)
    if "calibration" in cell:
      calibration = json.loads(str(cell["calibration"]))
      for role, name in (("dataset", "calibration"), ("robust", "calibration_robust")):
        if role in calibration:
          rows[attention][name] = _calibration_row(calibration[role])
  out = {"title": "Information preservation (finding i)", "rows": rows}
  return {**out, **judge(1, out, robustness_method=lab.settings.robustness_method)}


def finding_2(lab: Lab) -> dict:
  """(ii) Learned additive attention tracks MI; frozen-random and uniform do not."""
  learned = lab.cell("bilstm-additive", **{"model.attention": "additive"})
  variants = {
      "learned": learned,
      "trained uniform": lab.cell("bilstm-additive-uniform", **{"model.attention_mode": "uniform"}),
      "trained frozen-random": lab.cell("bilstm-additive-frozen", frozen=("attention",)),
  }
  rows = {name: {"accuracy": seed_summary(c["accuracy"]),
                 "tau": seed_summary(c["tau"], undefined=TAU_UNDEFINED),
                 "mi_context": seed_summary(c["context_mi"])} for name, c in variants.items()}
  # Swapped after training: the learned model run with replaced attention.
  run = load_run(lab.directory / "cells" / "bilstm-additive" / "run").result
  test = lab.splits["test"].take(np.arange(len(learned["labels"])))
  b = learned["instance_mi"].shape[1]
  mask = learned["mask"]
  for mode in ("uniform", "random", "permute"):
    logits, aux = explain.ablate(run.model, run.params, test.tokens, test.lengths, mode=mode,
                                  key=lab.cell_key("bilstm-additive", f"swapped {mode}"))
    accuracy = (np.asarray(logits).argmax(-1) == test.labels[None]).mean(-1)
    tau = np.asarray(analysis.rank_correlation(np.asarray(aux.attention)[:, :b],
                                               learned["instance_mi"], mask[None, :b]))
    rows[f"swapped {mode}"] = {"accuracy": seed_summary(accuracy),
                               "tau": seed_summary(tau, undefined=TAU_UNDEFINED)}
  out = {"title": "Ablation (finding ii)", "rows": rows}
  return {**out, **judge(2, out)}


def finding_3(lab: Lab, buckets: int = 4) -> dict:
  """(iii) When attention values are nearly equal, their order disagrees with MI's."""
  cell = lab.cell("bilstm-additive", **{"model.attention": "additive"})
  b = cell["tau"].shape[1]
  spread = cell["stats_spread"][:, :b].ravel()
  tau = cell["tau"].ravel()
  seed = np.repeat(np.arange(cell["tau"].shape[0]), b)
  keep = np.isfinite(tau)
  spread, tau, seed = spread[keep], tau[keep], seed[keep]
  left_out = int((~keep).sum())
  quartiles = near_tie_quartiles(spread, tau, seed, cell["tau"].shape[0], buckets)
  edges = quartiles["edges"]
  rows = {}
  for q in range(buckets):
    chosen = tau[quartiles["index"] == q]
    rows[f"spread q{q + 1}"] = {
        "spread_range": [float(edges[q]), float(edges[q + 1])], "tau": mean_ci(chosen),
        "tau_over_seeds": seed_summary(quartiles["seed_means"][q], undefined=NEAR_TIE_UNDEFINED),
        "examples": int(chosen.size)}
  out = {"title": "Near-ties (finding iii)", "rows": rows,
         "dropped": {"count": left_out, "of": int(keep.size), "reason": TAU_UNDEFINED},
         "scatter": {"spread": spread.tolist(), "tau": tau.tolist(), "seed": seed.tolist()}}
  return {**out, **judge(3, out)}


def finding_4(lab: Lab) -> dict:
  """(iv) Gumbel-softmax with τ < 1 gives more skewed attention than softmax."""
  cells = {"softmax": lab.cell("bilstm-additive", **{"model.attention": "additive"})}
  for temperature in lab.temperatures:
    cells[f"gumbel τ={temperature:g}"] = lab.cell(
        f"bilstm-additive-gumbel-{temperature:g}",
        **{"model.normalizer": "gumbel", "model.temperature": temperature})
  rows = {name: {"entropy": seed_summary(c["stats_entropy"].mean(1)),
                 "max": seed_summary(c["stats_max"].mean(1)),
                 "accuracy": seed_summary(c["accuracy"]),
                 "tau": seed_summary(c["tau"], undefined=TAU_UNDEFINED)}
          for name, c in cells.items()}
  out = {"title": "Gumbel-softmax (finding iv)", "rows": rows}
  return {**out, **judge(4, out)}


def finding_5(lab: Lab) -> dict:
  """(v) Some encoder + attention pairs (BiLSTM + Additive) keep attention and MI order aligned."""
  rows, grid = {}, np.full((len(lab.encoders), len(ATTENTIONS)), np.nan)
  for i, encoder in enumerate(lab.encoders):
    for j, attention in enumerate(ATTENTIONS):
      cell = lab.cell(f"{encoder}-{attention}",
                      **{"model.encoder": encoder, "model.attention": attention})
      summary = seed_summary(cell["tau"], undefined=TAU_UNDEFINED)
      rows[f"{encoder} + {attention}"] = {"tau": summary,
                                          "accuracy": seed_summary(cell["accuracy"]),
                                          **_precision(cell)}
      grid[i, j] = summary["mean"]
  out = {"title": "Building blocks (finding v)", "rows": rows, "grid": grid.tolist(),
         "encoders": list(lab.encoders), "attentions": list(ATTENTIONS)}
  return {**out, **judge(5, out)}


FINDINGS = {1: finding_1, 2: finding_2, 3: finding_3, 4: finding_4, 5: finding_5, 6: finding_6}
