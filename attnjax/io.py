"""Atomic file writes (a result on disk is either the old one or the complete new one)
and the matching tolerant read of a cache file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_atomic(path, data: bytes | str) -> Path:
  """Writes `data` to `path` via a temporary file in the same folder and `os.replace`.

  A crash or a kill mid-write leaves any previous file at `path` intact.
  """
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  mode = "wb" if isinstance(data, bytes) else "w"
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
  try:
    with os.fdopen(fd, mode) as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    Path(tmp).unlink(missing_ok=True)
    raise
  return path


def write_json_atomic(path, obj, **kwargs) -> Path:
  """`json.dumps(obj)` written atomically (NaN/inf allowed, sorted keys, indented)."""
  kwargs.setdefault("indent", 2)
  kwargs.setdefault("sort_keys", True)
  return write_atomic(path, json.dumps(obj, **kwargs) + "\n")


def read_json(path):
  """The JSON in `path`, or None when it is missing or unreadable (a cache to recompute)."""
  try:
    return json.loads(Path(path).read_text())
  except (OSError, ValueError):
    return None
