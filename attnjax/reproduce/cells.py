"""Cells: one trained model configuration (S seeds) and its analysis, cached on disk.

A cell directory holds the run (`run/`, see `attnjax.training.save_run`),
`analysis.npz` (per-seed, per-example arrays: the measurements of
`attnjax.reproduce.cell_measurements`) and `analysis.json` (its stamp).
Every cached artefact is keyed on what computed it, and recomputed on a
mismatch:

- the run (`run/config.json`, "extra"): the `TrainConfig` and seeds (these
  also decide every training PRNG key), the data (`data_id`) and `run_code()`,
  the fingerprint of the training and data-loading code. Another config, seeds
  or data raise (a cell is never silently reused for another experiment);
  another code fingerprint retrains the cell.
- the analysis (`analysis.json`): `AnalysisSettings`, the analysis PRNG key,
  `analysis_code()` and the run's stamp. A mismatch re-analyses the saved run
  without retraining and removes the files derived from the old analysis
  (`DERIVED`).

A cell archived without parameters (`attnjax.reproduce.archive`: its
measurements and stamps, to resume a reproduction in another session or on
another machine) is reused like any cached cell while its stamps match; where
parameters are needed (stale analysis, experiments 2, 6 and 7 recomputing their
arrays: `trained_run`) it is retrained, deterministically.

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

from attnjax.compiled import release_if_crowded
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


def cell_stamps(settings: AnalysisSettings, key, data_id: str | None) -> tuple[dict, dict]:
  """(run stamp, analysis stamp) a cached cell must carry to be reused: the run's is the
  training code and the data; the analysis's adds the settings, `analysis_code()` and key."""
  run_stamp = {"code": run_code(), "data_id": data_id}
  return run_stamp, {**analysis_stamp(settings), "key": key_stamp(key), "run": run_stamp}


def _analysis_cached(directory: Path, stamp: dict) -> bool:
  return read_cache_json(directory / "analysis.json") == stamp and \
      (directory / "analysis.npz").is_file()


def cell_done(directory: Path, config: TrainConfig, seeds, settings: AnalysisSettings, key, *,
              data_id: str | None = None) -> bool:
  """True when `run_cell` with these arguments would only reload the cell: trained by
  today's training code on these data with this config and seeds, and analysed with
  these settings, key and analysis code."""
  directory = Path(directory)
  saved = read_cache_json(directory / "run" / CONFIG_FILE)
  if saved is None:
    return False
  run_stamp, stamp = cell_stamps(settings, key, data_id)
  return (saved.get("extra", {}).get("stamp") == run_stamp and saved.get("seeds") == list(seeds)
          and TrainConfig.from_dict(saved["train"]) == config
          and _analysis_cached(directory, stamp))


def run_cell(directory: Path, config: TrainConfig, seeds, splits: dict[str, TextDataset],
             settings: AnalysisSettings, key, *, progress: bool = True,
             data_id: str | None = None) -> dict:
  """Trains (or reloads) a cell and analyses it (or reloads the analysis).

  A cached run is reused only for the same config, seeds and data (`data_id`,
  any string naming the data, e.g. the JSON of the load options; a mismatch
  raises instead of mixing results) and the same `run_code()` (a mismatch
  retrains). The analysis is reused only for the same settings, `key`,
  `analysis_code()` and run; otherwise it is recomputed from the saved run.
  """
  directory = Path(directory)
  remove_stale_temporaries(directory, recursive=True)
  arrays_file = directory / "analysis.npz"
  done = directory / "analysis.json"
  run_dir = directory / "run"
  run_stamp, stamp = cell_stamps(settings, key, data_id)
  saved = read_cache_json(run_dir / CONFIG_FILE)  # the check reads the config, not the params
  result = None
  if saved is not None:
    stored = saved.get("extra", {}).get("stamp", {})
    if "data_id" in stored and stored["data_id"] != data_id:
      raise ValueError(f"{directory} was computed on other data ({stored['data_id']}); now "
                       f"asked for {data_id}: remove it or use another --out")
    if TrainConfig.from_dict(saved["train"]) != config or saved["seeds"] != list(seeds):
      raise ValueError(f"{run_dir} holds a different run (config or seeds changed); "
                       f"remove it or use another --out")
    if stored == run_stamp:
      if _analysis_cached(directory, stamp):
        return load_arrays(arrays_file)
      if (run_dir / PARAMS_FILE).is_file():
        result = load_run(run_dir).result
      else:
        print(f"[reproduce] {directory.name}: archived without parameters and its analysis is "
              "stale (other settings or analysis code); retraining", file=sys.stderr)
    elif progress:
      print(f"[reproduce] {directory.name}: trained by other code (run fingerprint "
            f"{stored.get('code')} != {run_stamp['code']}); retraining", file=sys.stderr)
  done.unlink(missing_ok=True)
  for name in DERIVED:
    (directory / name).unlink(missing_ok=True)
  if result is None:
    result = _train(directory, config, seeds, splits, run_stamp, progress)
  arrays = analyze(config, result.params, splits["test"], settings, key)
  arrays["history_eval_accuracy"] = result.history["eval_accuracy"]
  save_arrays(arrays_file, arrays)
  write_json_atomic(done, stamp)
  release_if_crowded()  # a long reproduction compiles thousands of programs
  return arrays


def trained_run(directory: Path, config: TrainConfig, seeds, splits: dict[str, TextDataset], *,
                progress: bool = True, data_id: str | None = None):
  """The `TrainResult` of a cell `run_cell` has computed, for experiments that need its
  parameters (explanations, faithfulness, swapped attention).

  An archived cell (`attnjax.reproduce.archive`: measurements without parameters) is
  retrained and its parameters saved; training is deterministic, so they are those its
  archived measurements were computed from (same code, config, seeds and platform).

  Raises:
    ValueError: the folder holds no run, or another run (config, seeds, data or
      training code differ): call `run_cell` first.
  """
  directory = Path(directory)
  run_dir = directory / "run"
  saved = read_cache_json(run_dir / CONFIG_FILE)
  run_stamp = {"code": run_code(), "data_id": data_id}
  if (saved is None or saved.get("extra", {}).get("stamp") != run_stamp
      or saved.get("seeds") != list(seeds) or TrainConfig.from_dict(saved["train"]) != config):
    raise ValueError(f"{run_dir} does not hold this cell's run (missing, or another config, "
                     "seeds, data or training code): run the cell first (`run_cell`)")
  if (run_dir / PARAMS_FILE).is_file():
    return load_run(run_dir).result
  if progress:
    print(f"[reproduce] {directory.name}: archived without parameters; retraining for them",
          file=sys.stderr)
  return _train(directory, config, seeds, splits, run_stamp, progress)


def _train(directory: Path, config: TrainConfig, seeds, splits, run_stamp: dict, progress: bool):
  """Trains a cell's run and saves it in `directory/run`. Epoch checkpoints: a cell killed
  mid-training resumes after its last finished epoch."""
  epochs_file = directory / EPOCH_STATE_FILE
  result = train(config, seeds, splits["train"], splits["dev"], progress=progress,
                 checkpoint=epochs_file, checkpoint_extra=run_stamp)
  save_run(directory / "run", result, vocab=splits["train"].vocab, extra={"stamp": run_stamp})
  epochs_file.unlink(missing_ok=True)
  return result
