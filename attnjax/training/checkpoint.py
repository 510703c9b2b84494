"""Run directories: config.json, metrics.json and params.msgpack, written atomically."""

from __future__ import annotations

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
  """Reads a directory written by `save_run`."""
  directory = Path(directory)
  config_path = directory / CONFIG_FILE
  if not config_path.is_file():
    raise ValueError(f"{directory} is not a run directory: {CONFIG_FILE} is missing")
  saved = json.loads(config_path.read_text())
  metrics = json.loads((directory / METRICS_FILE).read_text())
  params = serialization.msgpack_restore((directory / PARAMS_FILE).read_bytes())
  result = TrainResult(
      params=jax.tree.map(np.asarray, params),
      history={k: np.asarray(v, np.float32) for k, v in metrics["history"].items()},
      config=TrainConfig.from_dict(saved["train"]), seeds=tuple(saved["seeds"]),
      best_epoch=np.asarray(metrics["best_epoch"], np.int32))
  vocab_path = directory / VOCAB_FILE
  return Run(result=result, extra=saved.get("extra", {}),
             vocab_path=vocab_path if vocab_path.is_file() else None)
