"""Epoch checkpoints: what `train` needs to continue a killed run after its last epoch.

`train(..., checkpoint=path)` writes an `EpochState` to `path` (atomically) after
every epoch and, when started again with the same path, continues after the
last epoch written instead of from scratch. Every PRNG key of an epoch is
derived from the seeds and the epoch number, so a resumed run equals the
uninterrupted one bit for bit (tested). The file is keyed on the run's
`stamp` (config, seeds, training and evaluation data, and whatever the caller
adds, e.g. a code fingerprint); a file with another stamp is ignored and
overwritten, with a notice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from attnjax.io import write_atomic

EPOCH_STATE_FILE = "epoch_state.msgpack"
"""Where `attnjax train --out DIR` and a `reproduce` cell keep their epoch checkpoint
while they train (removed once the run is saved)."""


@dataclasses.dataclass(frozen=True)
class EpochState:
  """`train`'s loop state after `epochs_done` epochs (S seeds).

  The loop carries one of these from epoch to epoch, each step returning a new
  one (`dataclasses.replace`); it is also what a checkpoint holds.

  Attributes:
    epochs_done: epochs finished.
    finished: training stopped there (last epoch or early stopping).
    params, opt_state: stacked over seeds [S, ...], as after that epoch.
    best_params: the kept parameters so far (`select_best`), or None.
    best_score: <float32>[S] best eval `select_metric` so far, or None.
    best_epoch: <int32>[S] 0-based epoch of `best_params`.
    stale_epochs: epochs since any seed last improved.
    history: name -> list of <float32>[S], one per epoch done.
  """
  epochs_done: int
  finished: bool
  params: Any
  opt_state: Any
  best_params: Any
  best_score: np.ndarray | None
  best_epoch: np.ndarray
  stale_epochs: int
  history: dict[str, list]


def _digest(*arrays) -> str:
  h = hashlib.sha256()
  for a in arrays:
    a = np.ascontiguousarray(a)
    h.update(f"{a.dtype}{a.shape}".encode())
    h.update(a.tobytes())
  return h.hexdigest()


def stamp(config, seeds, train_data, eval_data, extra: Any = None) -> str:
  """The key a checkpoint must carry to be resumed: config, seeds, data, `extra` (JSON)."""
  data = [_digest(d.tokens, d.lengths, d.labels) if d is not None else None
          for d in (train_data, eval_data)]
  text = json.dumps({"config": config.to_dict(), "seeds": list(seeds), "data": data,
                     "extra": extra}, sort_keys=True, default=str)
  return hashlib.sha256(text.encode()).hexdigest()


def save(path, state: EpochState, key: str) -> None:
  """Writes `state` with its `key` (see `stamp`) to `path` atomically."""
  tree = {
      "stamp": key, "epochs_done": state.epochs_done, "finished": state.finished,
      "stale_epochs": state.stale_epochs,
      "params": serialization.to_state_dict(jax.device_get(state.params)),
      "opt_state": serialization.to_state_dict(jax.device_get(state.opt_state)),
      "has_best": state.best_params is not None,
      "best_params": serialization.to_state_dict(jax.device_get(
          state.best_params if state.best_params is not None else {})),
      "best_score": np.asarray(state.best_score if state.best_score is not None else []),
      "has_score": state.best_score is not None,
      "best_epoch": np.asarray(state.best_epoch, np.int32),
      "history": {k: np.asarray(v, np.float32).reshape(len(v), -1)
                  for k, v in state.history.items()},
  }
  write_atomic(Path(path), serialization.msgpack_serialize(tree))


def load(path, key: str, params_template, opt_state_template) -> EpochState | None:
  """The `EpochState` at `path` if it exists and carries `key`; else None.

  A file that is unreadable or carries another key is reported on stderr and
  ignored (the next `save` replaces it).
  """
  path = Path(path)
  if not path.is_file():
    return None
  try:
    tree = serialization.msgpack_restore(path.read_bytes())
  except Exception as error:  # msgpack raises several types
    print(f"[train] ignoring unreadable checkpoint {path} ({type(error).__name__}); "
          f"starting from epoch 1", file=sys.stderr)
    return None
  if not isinstance(tree, dict) or tree.get("stamp") != key:
    print(f"[train] ignoring checkpoint {path}: it belongs to another run (config, seeds, "
          f"data or code differ); starting from epoch 1", file=sys.stderr)
    return None
  try:
    return EpochState(
        epochs_done=int(tree["epochs_done"]), finished=bool(tree["finished"]),
        params=serialization.from_state_dict(params_template, tree["params"]),
        opt_state=serialization.from_state_dict(opt_state_template, tree["opt_state"]),
        best_params=(serialization.from_state_dict(params_template, tree["best_params"])
                     if tree["has_best"] else None),
        best_score=np.asarray(tree["best_score"]) if tree["has_score"] else None,
        best_epoch=np.asarray(tree["best_epoch"], np.int32),
        stale_epochs=int(tree["stale_epochs"]),
        history={k: list(np.asarray(v)) for k, v in tree["history"].items()})
  except (KeyError, ValueError, TypeError) as error:
    print(f"[train] ignoring incomplete checkpoint {path} ({type(error).__name__}: {error}); "
          f"starting from epoch 1", file=sys.stderr)
    return None
