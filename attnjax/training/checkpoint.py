"""Run directories: config.json, metrics.json and params.msgpack, written atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from attnjax.io import write_atomic, write_json_atomic
from attnjax.training.config import TrainConfig
from attnjax.training.loop import TrainResult

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
PARAMS_FILE = "params.msgpack"
VOCAB_FILE = "vocab.json"


def save_run(directory, result: TrainResult, *, vocab=None, extra: dict | None = None) -> Path:
  """Writes a run directory that `load_run` reads back.

  Files: `config.json` (TrainConfig, seeds and `extra`, e.g. the data options),
  `metrics.json` (per-seed history and best epoch), `params.msgpack` (stacked
  params, flax.serialization) and, when given, `vocab.json` (`vocab.save`).
  Params are written before the small JSON files, so a directory whose
  config.json exists is complete.
  """
  directory = Path(directory)
  directory.mkdir(parents=True, exist_ok=True)
  write_atomic(directory / PARAMS_FILE, serialization.to_bytes(jax.device_get(result.params)))
  if vocab is not None:
    vocab.save(directory / VOCAB_FILE)
  write_json_atomic(directory / METRICS_FILE, {
      "seeds": list(result.seeds),
      "best_epoch": [int(e) for e in result.best_epoch],
      "history": {k: np.asarray(v).tolist() for k, v in result.history.items()},
  })
  write_json_atomic(directory / CONFIG_FILE, {
      "train": result.config.to_dict(), "seeds": list(result.seeds), "extra": extra or {}})
  return directory


@dataclasses.dataclass
class Run:
  """A run directory loaded back: `result` plus `extra` and the vocab path if any."""
  result: TrainResult
  extra: dict[str, Any]
  vocab_path: Path | None


def load_run(directory) -> Run:
  """Reads a directory written by `save_run`.

  Raises:
    ValueError: `directory` is not a run directory, or one of its files is
      missing, not valid JSON / msgpack, lacks an entry, or does not match
      the others (params of another model, seeds and metrics of different
      counts); the message names the file.
  """
  directory = Path(directory)
  config_path = directory / CONFIG_FILE
  if not config_path.is_file():
    raise ValueError(f"{directory} is not a run directory: {CONFIG_FILE} is missing")
  saved = _read_json_object(config_path)
  metrics_path = directory / METRICS_FILE
  metrics = _read_json_object(metrics_path)
  with _naming(config_path):
    config = TrainConfig.from_dict(saved["train"])
    seeds = tuple(int(s) for s in saved["seeds"])
    extra = saved.get("extra", {})
    if not isinstance(extra, dict):
      raise ValueError(f"'extra' must be a JSON object, got {type(extra).__name__}")
  with _naming(metrics_path):
    history = {k: np.asarray(v, np.float32) for k, v in metrics["history"].items()}
    best_epoch = np.asarray(metrics["best_epoch"], np.int32)
    for name, values in {"best_epoch": best_epoch, **history}.items():
      if len(values) != len(seeds):
        raise ValueError(f"{name!r} has {len(values)} rows but {CONFIG_FILE} has "
                         f"{len(seeds)} seeds")
  params_path = directory / PARAMS_FILE
  if not params_path.is_file():
    raise ValueError(f"{directory} is not a complete run directory: {PARAMS_FILE} is missing")
  try:
    params = serialization.msgpack_restore(params_path.read_bytes())
  except Exception as error:  # msgpack raises several types, not all ValueErrors
    raise ValueError(f"{params_path}: not a valid params file ({type(error).__name__}: "
                     f"{error})") from None
  params = jax.tree.map(np.asarray, params)
  _check_params(params_path, params, config, len(seeds))
  result = TrainResult(params=params, history=history, config=config, seeds=seeds,
                       best_epoch=best_epoch)
  vocab_path = directory / VOCAB_FILE
  return Run(result=result, extra=extra, vocab_path=vocab_path if vocab_path.is_file() else None)


def _read_json_object(path: Path) -> dict:
  """The JSON object in `path`; a `ValueError` naming the file if absent or malformed."""
  if not path.is_file():
    raise ValueError(f"{path.parent} is not a complete run directory: {path.name} is missing")
  try:
    data = json.loads(path.read_text(encoding="utf-8"))
  except (json.JSONDecodeError, UnicodeDecodeError) as error:
    raise ValueError(f"{path}: not valid JSON ({error})") from None
  if not isinstance(data, dict):
    raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
  return data


@contextlib.contextmanager
def _naming(path: Path):
  """Re-raises a missing entry or a bad value while reading `path` as a `ValueError` naming it."""
  try:
    yield
  except KeyError as error:
    raise ValueError(f"{path}: missing entry {error.args[0]!r}") from None
  except (TypeError, ValueError, AttributeError) as error:
    raise ValueError(f"{path}: {error}") from None


def _check_params(path: Path, params, config: TrainConfig, num_seeds: int):
  """`ValueError` unless `params` are `config.model`'s, stacked over `num_seeds` seeds."""
  from attnjax.models import check_params

  try:
    stacked = check_params(config.model, params)
  except ValueError as error:
    raise ValueError(f"{path} does not hold the parameters of the model in {CONFIG_FILE}: "
                     f"{error}") from None
  if stacked != num_seeds:
    raise ValueError(f"{path} holds {stacked or 'unstacked'} seed(s) of parameters but "
                     f"{CONFIG_FILE} has {num_seeds} seeds")
