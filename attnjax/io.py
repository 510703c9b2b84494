"""Atomic file writes (a result on disk is either the old one or the complete new one),
strict JSON (RFC 8259: no NaN or Infinity tokens) and the matching reads.

Undefined numbers (NaN, ±inf) are written as JSON `null`; `nan_for_null` turns
them back into NaN where a reader needs numbers.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

TEMPORARY_SUFFIX = ".tmp"
"""`write_atomic`'s temporary files are `.<name>.<random>.tmp` beside the target."""


def write_atomic(path, data: bytes | str) -> Path:
  """Writes `data` to `path` via a temporary file in the same folder and `os.replace`.

  A crash or a kill mid-write leaves any previous file at `path` intact.
  """
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  mode = "wb" if isinstance(data, bytes) else "w"
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
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


def remove_stale_temporaries(directory, *, recursive: bool = False) -> list[Path]:
  """Deletes `write_atomic` temporaries left in `directory` by a killed writer.

  Only for folders no other process is writing to (a temporary file of a live
  writer would be deleted too). Returns the paths removed.
  """
  directory = Path(directory)
  if not directory.is_dir():
    return []
  pattern = f".*{TEMPORARY_SUFFIX}"
  stale = [p for p in (directory.rglob(pattern) if recursive else directory.glob(pattern))
           if p.is_file()]
  for path in stale:
    path.unlink(missing_ok=True)
  return stale


def strict_json(obj):
  """`obj` with NaN/±inf as None, NumPy scalars and arrays as Python values, tuples as lists.

  The result serialises with `json.dumps(..., allow_nan=False)` (RFC 8259 JSON).
  """
  if isinstance(obj, dict):
    return {str(k): strict_json(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [strict_json(v) for v in obj]
  if isinstance(obj, np.ndarray):
    return strict_json(obj.tolist())
  if isinstance(obj, np.generic):
    obj = obj.item()
  if isinstance(obj, float) and not math.isfinite(obj):
    return None
  return obj


def nan_for_null(obj):
  """Inverse of `strict_json`'s number handling: every None in `obj` becomes NaN."""
  if isinstance(obj, dict):
    return {k: nan_for_null(v) for k, v in obj.items()}
  if isinstance(obj, list):
    return [nan_for_null(v) for v in obj]
  return math.nan if obj is None else obj


def write_json_atomic(path, obj, **kwargs) -> Path:
  """`obj` as strict JSON (`strict_json`: NaN/inf → null), sorted keys, indented, atomically."""
  kwargs.setdefault("indent", 2)
  kwargs.setdefault("sort_keys", True)
  return write_atomic(path, json.dumps(strict_json(obj), allow_nan=False, **kwargs) + "\n")


def _reject_constant(name):
  raise ValueError(f"{name} is not JSON (RFC 8259)")


def read_json(path):
  """The JSON in `path`, or None when the file does not exist.

  Raises:
    ValueError: the file exists but cannot be read or is not strict JSON
      (naming the file and the parser's message).
  """
  path = Path(path)
  if not path.exists():
    return None
  try:
    return json.loads(path.read_text(), parse_constant=_reject_constant)
  except (OSError, ValueError) as error:
    raise ValueError(f"{path} exists but is not readable JSON ({error}); fix or remove it") \
        from None


def read_cache_json(path):
  """The JSON in a cache file, or None when it is missing or unreadable (a cache to recompute)."""
  try:
    return read_json(path)
  except ValueError:
    return None
