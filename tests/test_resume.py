"""Kill-and-resume, proven: `reproduce` SIGKILLed mid-training and mid-write resumes to the
same results as an uninterrupted run, and never leaves a cell half-written.

Each interrupted run is a subprocess (`python -c _SCRIPT`) that monkeypatches the library
before calling `reproduce`, so no hook in the library is needed:
  - mid-training: the jitted block function of `attnjax.training.loop` SIGKILLs its own
    process on the 2nd training block of the 2nd cell;
  - mid-write: `write_atomic` (patched wherever it is looked up) writes half of the data
    to the temporary file (same name pattern as `attnjax.io.write_atomic`), fsyncs it and
    SIGKILLs its own process before `os.replace`: once for a cell's analysis.npz and once
    for results.json.
The uninterrupted reference runs in the first subprocess, in another folder, before the
first killed run (one JAX import and compile for both); all runs share one persistent
compilation cache, so later processes do not compile again. Finding 4 with one Gumbel
temperature: 2 cells, softmax then Gumbel-softmax, whose training draws Gumbel noise, so
retraining it after the kill must draw the same noise. 2 seeds, 160 training examples in
batches of 40 = 2 training blocks of 2 steps per cell.
"""

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

_SCRIPT = r"""
import json, os, signal, sys, tempfile
from pathlib import Path

import jax
jax.config.update("jax_platforms", "cpu")

import attnjax.io
import attnjax.reproduce.cells
import attnjax.reproduce.figures
import attnjax.reproduce.report
import attnjax.training.checkpoint
import attnjax.training.loop
from attnjax.reproduce import reproduce
from attnjax.reproduce.cell_measurements import AnalysisSettings

args = json.loads(sys.argv[1])
TINY = dict(
    data=("planted",), seeds=2, only=(4,), temperatures=(0.5,), preset="quick", progress=False,
    analysis=AnalysisSettings(eval_examples=60, explain_examples=3, num_samples=24,
                              robustness_method=None),
    config_changes={"epochs": 1, "batch_size": 40, "steps_per_call": 2, "model.embed_dim": 8,
                    "model.hidden_dim": 8, "model.attention_dim": 8,
                    "model.deep_layer_dims": (8, 8)},
    data_overrides={"splits": ("train[:160]", "dev[:40]", "test[:60]"), "max_len": 12})

if args.get("reference"):
  reproduce(args["reference"], **TINY)

out = Path(args["out"])
kill = args.get("kill")


def die(where):
  print(f"KILLED {where}", file=sys.stderr, flush=True)
  os.kill(os.getpid(), signal.SIGKILL)


if kill and kill["at"] == "train":
  # SIGKILL on the `block`-th training block that starts after cell `after` is complete.
  make_block_fn = attnjax.training.loop._make_block_fn
  done = out / "planted" / "cells" / kill["after"] / "analysis.json"
  calls = [0]

  def patched_make_block_fn(*a, **k):
    fn = make_block_fn(*a, **k)

    def block(*a, **k):
      if done.is_file():
        calls[0] += 1
        if calls[0] == kill["block"]:
          die(f"in training block {calls[0]} after {kill['after']}")
      return fn(*a, **k)
    return block

  attnjax.training.loop._make_block_fn = patched_make_block_fn

elif kill and kill["at"] == "write":
  # SIGKILL between the temporary file and os.replace when writing `name` (in cell `cell`).
  write_atomic = attnjax.io.write_atomic

  def patched_write_atomic(path, data):
    path = Path(path)
    if path.name == kill["name"] and kill.get("cell") in (None, path.parent.name):
      path.parent.mkdir(parents=True, exist_ok=True)
      fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
      with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data[: len(data) // 2])  # killed in the middle of writing
        f.flush()
        os.fsync(f.fileno())
      die(f"writing {path}")
    return write_atomic(path, data)

  for module in (attnjax.io, attnjax.reproduce.cells, attnjax.reproduce.report,
                 attnjax.reproduce.figures, attnjax.training.checkpoint):
    module.write_atomic = patched_write_atomic

reproduce(out, **TINY)
"""

CELLS = ("bilstm-additive", "bilstm-additive-gumbel-0.5")  # finding 4, in run order
RUN_FILES = ("config.json", "params.msgpack", "metrics.json")


def _run(tmp_path, **args) -> subprocess.CompletedProcess:
  # One persistent compilation cache for all the runs of the test: only the first process
  # compiles (~1 min on 2 cores; every later one would too); same executables, same numbers.
  # The checkout under test first on the path (not another attnjax installed in the environment).
  root = str(Path(__file__).resolve().parents[1])
  path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
  env = {**os.environ, "PYTHONPATH": path, "JAX_PLATFORMS": "cpu",
         "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax_cache"),
         "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
         "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
  return subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(args, default=str)],
                        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def _killed(process: subprocess.CompletedProcess, where: str):
  assert process.returncode == -signal.SIGKILL, (
      f"expected a SIGKILL (-9), got {process.returncode}\n{process.stderr[-4000:]}")
  assert f"KILLED {where}" in process.stderr, process.stderr[-4000:]


def _tmp_files(out: Path) -> list[Path]:
  return sorted(p for p in out.rglob("*.tmp"))


def _complete(out: Path) -> set:
  """The complete cells, checking that no cell is half-written: every cell directory is
  complete (analysis.json valid, analysis.npz readable, run/ complete) or lacks
  analysis.json (so the next run redoes it), and a run/config.json means a complete run/."""
  complete = set()
  folder = out / "planted" / "cells"
  for cell in sorted(folder.iterdir()) if folder.is_dir() else ():
    run = cell / "run"
    if (run / "config.json").is_file():
      for name in RUN_FILES:
        assert (run / name).is_file(), f"{run} has config.json but no {name}"
      json.loads((run / "metrics.json").read_text())
    done = cell / "analysis.json"
    if done.is_file():
      assert isinstance(json.loads(done.read_text()), dict), done
      with np.load(cell / "analysis.npz") as arrays:  # complete: every array readable
        assert all(arrays[k].size >= 0 for k in arrays.files)
      for name in RUN_FILES:
        assert (run / name).is_file(), f"{cell} is marked analysed but has no run/{name}"
      complete.add(cell.name)
  return complete


def _same(a, b, where="results") -> None:
  """Exact equality of two JSON trees (NaN equals NaN only, -0.0 equals 0.0 as in ==)."""
  assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
  if isinstance(a, dict):
    assert a.keys() == b.keys(), f"{where}: keys {sorted(a)} != {sorted(b)}"
    for key in a:
      _same(a[key], b[key], f"{where}.{key}")
  elif isinstance(a, list):
    assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
      _same(x, y, f"{where}[{i}]")
  elif isinstance(a, float) and math.isnan(a):
    assert math.isnan(b), f"{where}: nan != {b!r}"
  else:
    assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.slow
def test_reproduce_killed_mid_training_and_mid_write_resumes_to_the_same_results(tmp_path):
  reference, out = tmp_path / "reference", tmp_path / "out"
  cells = out / "planted" / "cells"

  # 1. Reference run (uninterrupted), then a run killed in the 2nd block of the 2nd cell
  #    (the 2nd training block after the 1st cell is complete).
  _killed(_run(tmp_path, reference=reference, out=out,
               kill={"at": "train", "after": CELLS[0], "block": 2}),
          f"in training block 2 after {CELLS[0]}")
  assert (reference / "results.json").is_file() and (reference / "report.md").is_file()
  assert _complete(out) == {CELLS[0]}
  assert not (cells / CELLS[1] / "run" / "config.json").exists()
  assert not (out / "results.json").exists()

  # 2. Resumed, killed mid-write of the 2nd cell's analysis.npz (after retraining it).
  _killed(_run(tmp_path, out=out, kill={"at": "write", "name": "analysis.npz", "cell": CELLS[1]}),
          f"writing {cells / CELLS[1] / 'analysis.npz'}")
  assert _complete(out) == {CELLS[0]}
  assert [p.name[:len(".analysis.npz.")] for p in _tmp_files(out)] == [".analysis.npz."]
  assert all((cells / CELLS[1] / "run" / name).is_file() for name in RUN_FILES)

  # 3. Resumed, killed mid-write of results.json (every cell done by then).
  _killed(_run(tmp_path, out=out, kill={"at": "write", "name": "results.json"}),
          f"writing {out / 'results.json'}")
  assert _complete(out) == set(CELLS)
  assert any(p.parent == out and p.name.startswith(".results.json.") for p in _tmp_files(out))
  assert not (out / "results.json").exists()

  # 4. Resumed to completion.
  finished = _run(tmp_path, out=out)
  assert finished.returncode == 0, finished.stderr[-4000:]

  # (1) Same results as the uninterrupted run: the JSON trees exactly, then the bytes.
  expected = (reference / "results.json").read_text()
  got = (out / "results.json").read_text()
  _same(json.loads(got), json.loads(expected))
  assert got == expected
  assert (out / "report.md").read_text() == (reference / "report.md").read_text()
  for cell in CELLS:  # and every cell's trained params and analysis arrays, bit for bit
    assert ((cells / cell / "run" / "params.msgpack").read_bytes() ==
            (reference / "planted" / "cells" / cell / "run" / "params.msgpack").read_bytes()), cell
    with np.load(cells / cell / "analysis.npz") as a, \
         np.load(reference / "planted" / "cells" / cell / "analysis.npz") as b:
      assert a.files == b.files, cell
      for key in a.files:
        np.testing.assert_array_equal(a[key], b[key], err_msg=f"{cell}: {key}")

  # (2) No cell half-written, nothing temporary left behind.
  assert sorted(p.name for p in cells.iterdir()) == sorted(CELLS)
  for cell in CELLS:
    for name in ("analysis.npz", "analysis.json", *(f"run/{f}" for f in RUN_FILES)):
      assert (cells / cell / name).is_file(), f"{cell}/{name} missing"
  assert _complete(out) == set(CELLS)
  assert _tmp_files(out) == [], f"temporary files left behind: {_tmp_files(out)}"
