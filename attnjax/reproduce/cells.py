"""Cells: one trained model configuration (S seeds) and its analysis, cached on disk.

A `CellSpec` names everything that decides a cell's numbers (folder, `TrainConfig`,
seeds, `AnalysisSettings`, analysis key, data); the store's three functions read and
fill its folder: `status(spec)` (missing / trained / analysed), `analysed(spec, splits)`
(the analysis arrays, computed or reloaded) and `trained(spec, splits)` (the parameters,
for experiments that need them). A cell directory holds the run (`run/`, see
`attnjax.training.save_run`), `analysis.npz` (per-seed, per-example arrays: the
measurements of `attnjax.reproduce.cell_measurements`) and `analysis.json` (its
stamp). Every cached artefact is keyed on what computed it, and recomputed on a
mismatch, by one stamp check (`status`):

- the run (`run/config.json`, "extra"): the `TrainConfig` and seeds (these
  also decide every training PRNG key), the data (`data_id`) and `run_code()`,
  the fingerprint of the training and data-loading code. Another config, seeds
  or data raise (a cell is never silently reused for another experiment);
  another code fingerprint retrains the cell.
- the analysis (`analysis.json`): `AnalysisSettings`, the analysis PRNG key,
  `analysis_code()` and the run's stamp. A mismatch re-analyses the saved run
  without retraining and removes the files derived from the old analysis
  (`DERIVED`).

A cell archived without parameters (`attnjax.reproduce.archive`: its measurements
and stamps, carried to another machine or run) is reused like any cached cell while
its stamps match; where parameters are needed (stale analysis, experiments 2, 6 and 7
recomputing their arrays: `trained`) it is retrained, deterministically.

Fingerprints hash the code with comments and docstrings ignored
(`attnjax.fingerprint`). Library versions (jax, flax, …) are recorded in
results.json but do not invalidate a cache. All files are written atomically,
stamps last, so a cell whose stamp matches is complete; a killed `reproduce`
resumes by skipping complete cells, continues a cell killed mid-training after
its last finished epoch (`EPOCH_STATE_FILE`, bit-identical to an uninterrupted
run), and removes the temporary files a kill left behind.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import sys
from pathlib import Path

import jax
import numpy as np

from attnjax.program_cache import release_if_crowded
from attnjax.data.dataset import TextDataset
from attnjax.fingerprint import fingerprint, module_closure
from attnjax.io import (read_cache_json, remove_stale_temporaries, write_atomic,
                        write_json_atomic)
from attnjax.reproduce import cell_measurements
from attnjax.reproduce.cell_measurements import AnalysisSettings, analyze
from attnjax.training import TrainConfig, load_run, save_run, train
from attnjax.training.checkpoint import CONFIG_FILE, PARAMS_FILE
from attnjax.training.epoch_state import EPOCH_STATE_FILE

DERIVED = ("explanations.npz", "explanations.json")
"""Cell files computed from `analysis.npz`, removed when it is recomputed."""


@functools.cache
def run_code() -> str:
  """Fingerprint of the code that trains a cell: the training loop, the models, data loading."""
  return fingerprint(module_closure("attnjax.training.loop", "attnjax.data.load"))


@functools.cache
def analysis_code() -> str:
  """Fingerprint of the code of `analyze`: `attnjax.reproduce.cell_measurements` (its
  measurements and their helpers), the MI estimators, models, the calibration and `collect`."""
  closure = module_closure("attnjax.explain.instance", "attnjax.analysis.attention_stats",
                           "attnjax.analysis.ranking", "attnjax.analysis.calibration",
                           "attnjax.training.collect")
  return fingerprint((cell_measurements, *closure))


def analysis_stamp(settings: AnalysisSettings) -> dict:
  """What every analysis of a run was computed with: the settings and `analysis_code()`."""
  return {**dataclasses.asdict(settings), "code": analysis_code()}


def named_key(key, *names: str):
  """`key` folded with a stable 32-bit hash of each name (SHA-256; no collisions by anagram)."""
  for name in names:
    key = jax.random.fold_in(key, int.from_bytes(hashlib.sha256(name.encode()).digest()[:4],
                                                  "little"))
  return key


def key_stamp(key) -> list[int]:
  """A PRNG key as JSON (its raw key data)."""
  return np.asarray(jax.random.key_data(key)).ravel().tolist()


def save_arrays(path: Path, arrays: dict) -> None:
  buffer = io.BytesIO()
  np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
  write_atomic(path, buffer.getvalue())


def load_arrays(path: Path) -> dict:
  with np.load(path) as data:
    return {k: data[k] for k in data.files}


@dataclasses.dataclass(frozen=True)
class CellSpec:
  """Everything that decides a cell's numbers, and where it lives.

  Attributes:
    directory: the cell's folder (`run/`, `analysis.npz`, `analysis.json`, ...).
    config: the `TrainConfig` its seeds train with.
    seeds: the seeds trained together.
    settings: how its test split is analysed.
    key_data: the analysis PRNG key's raw data (`key_stamp`; plain ints, so a spec
      pickles to a Ray worker and compares by value).
    data_id: any string naming the data (e.g. the JSON of the load options); a cell
      computed on other data is refused.
  """
  directory: Path
  config: TrainConfig
  seeds: tuple[int, ...]
  settings: AnalysisSettings
  key_data: tuple[int, ...]
  data_id: str | None = None

  @classmethod
  def of(cls, directory, config: TrainConfig, seeds, settings: AnalysisSettings, key, *,
         data_id: str | None = None) -> "CellSpec":
    """A spec from a PRNG `key` (a new-style key array) and any sequence of seeds."""
    return cls(Path(directory), config, tuple(int(s) for s in seeds), settings,
               tuple(key_stamp(key)), data_id)

  @property
  def key(self):
    """The analysis PRNG key."""
    return jax.random.wrap_key_data(np.asarray(self.key_data, np.uint32))

  @property
  def run_stamp(self) -> dict:
    """What the saved run must carry to be reused: the training code and the data."""
    return {"code": run_code(), "data_id": self.data_id}

  @property
  def analysis_stamp(self) -> dict:
    """What `analysis.json` must hold to reuse `analysis.npz`: the settings,
    `analysis_code()`, the key and the run's stamp."""
    return {**analysis_stamp(self.settings), "key": list(self.key_data), "run": self.run_stamp}


MISSING, TRAINED, ANALYSED = "missing", "trained", "analysed"
"""A cell's `status`: no run of today's training code; a run whose analysis is missing or
stale; complete (`analysed` only reloads it)."""


def status(spec: CellSpec) -> str:
  """`MISSING`, `TRAINED` or `ANALYSED` (see those).

  Raises:
    ValueError: the folder holds another cell's run (other data, config or seeds).
  """
  if not _run_is_current(spec):
    return MISSING
  analysed = (read_cache_json(spec.directory / "analysis.json") == spec.analysis_stamp
              and (spec.directory / "analysis.npz").is_file())
  return ANALYSED if analysed else TRAINED


def _run_is_current(spec: CellSpec) -> bool:
  """The one stamp check: True when `run/` holds this cell's run trained by today's code,
  False when it holds none or one trained by other code.

  Raises:
    ValueError: `run/` holds another cell's run (other data, config or seeds): it is
      never silently reused for, or replaced by, another experiment's cell.
  """
  run_dir = spec.directory / "run"
  saved = read_cache_json(run_dir / CONFIG_FILE)  # the config, not the parameters
  if saved is None:
    return False
  stored = saved.get("extra", {}).get("stamp", {})
  if "data_id" in stored and stored["data_id"] != spec.data_id:
    raise ValueError(f"{spec.directory} was computed on other data ({stored['data_id']}); now "
                     f"asked for {spec.data_id}: remove it or use another --out")
  if TrainConfig.from_dict(saved["train"]) != spec.config or saved["seeds"] != list(spec.seeds):
    raise ValueError(f"{run_dir} holds a different run (config or seeds changed); "
                     f"remove it or use another --out")
  return stored == spec.run_stamp


def analysed(spec: CellSpec, splits: dict[str, TextDataset], *, progress: bool = True) -> dict:
  """The cell's analysis arrays: reloaded when `ANALYSED`, else computed (and saved) from
  the saved run (`TRAINED`, or retrained when archived without parameters) or from a new
  training run (`MISSING`).

  Args:
    spec: the cell.
    splits: "train", "dev", "test" `TextDataset`s.
    progress: training progress bars and the reason for retraining.

  Returns:
    {name: array} as `attnjax.reproduce.cell_measurements.analyze` gives them, plus
    "history_eval_accuracy" [epochs, S].
  """
  directory = spec.directory
  remove_stale_temporaries(directory, recursive=True)
  state, result = status(spec), None
  if state == ANALYSED:
    return load_arrays(directory / "analysis.npz")
  if state == TRAINED and (directory / "run" / PARAMS_FILE).is_file():
    result = load_run(directory / "run").result
  elif state == TRAINED:
    print(f"[reproduce] {directory.name}: archived without parameters and its analysis is "
          "stale (other settings or analysis code); retraining", file=sys.stderr)
  elif progress and (directory / "run" / CONFIG_FILE).is_file():
    print(f"[reproduce] {directory.name}: trained by other code (run fingerprint != "
          f"{run_code()}); retraining", file=sys.stderr)
  (directory / "analysis.json").unlink(missing_ok=True)
  for name in DERIVED:
    (directory / name).unlink(missing_ok=True)
  if result is None:
    result = _train(spec, splits, progress)
  arrays = analyze(spec.config, result.params, splits["test"], spec.settings, spec.key)
  arrays["history_eval_accuracy"] = result.history["eval_accuracy"]
  save_arrays(directory / "analysis.npz", arrays)
  write_json_atomic(directory / "analysis.json", spec.analysis_stamp)
  release_if_crowded()  # a long reproduction compiles thousands of programs
  return arrays


def trained(spec: CellSpec, splits: dict[str, TextDataset], *, progress: bool = True):
  """The `TrainResult` of a cell `analysed` has computed, for experiments that need its
  parameters (explanations, faithfulness, swapped attention).

  An archived cell (`attnjax.reproduce.archive`: measurements without parameters) is
  retrained and its parameters saved; training is deterministic, so they are those its
  archived measurements were computed from (same code, config, seeds and platform).

  Raises:
    ValueError: the folder holds no run, or another run (config, seeds, data or
      training code differ): call `analysed` first.
  """
  run_dir = spec.directory / "run"
  if status(spec) == MISSING:
    raise ValueError(f"{run_dir} does not hold this cell's run (missing, or another config, "
                     "seeds, data or training code): run the cell first (`analysed`)")
  if (run_dir / PARAMS_FILE).is_file():
    return load_run(run_dir).result
  if progress:
    print(f"[reproduce] {spec.directory.name}: archived without parameters; retraining for "
          "them", file=sys.stderr)
  return _train(spec, splits, progress)


def _train(spec: CellSpec, splits, progress: bool):
  """Trains a cell's run and saves it in `run/`. Epoch checkpoints: a cell killed
  mid-training resumes after its last finished epoch."""
  epochs_file = spec.directory / EPOCH_STATE_FILE
  result = train(spec.config, spec.seeds, splits["train"], splits["dev"], progress=progress,
                 checkpoint=epochs_file, checkpoint_extra=spec.run_stamp)
  save_run(spec.directory / "run", result, vocab=splits["train"].vocab,
           extra={"stamp": spec.run_stamp})
  epochs_file.unlink(missing_ok=True)
  return result
