"""`attnjax reproduce` wall time: the local executor vs `--executor ray`, side by side.

Each executor runs the same reproduction into a fresh folder of its own (nothing cached),
one after the other in this sitting, as separate `attnjax` processes (what a user
types); the Ray run starts its own local cluster of `--workers` CPUs, one cell per CPU
(`--cell-cpus 1`; each worker's JAX has its default single CPU device). Ray's fixed and per-cell overheads
are measured apart: the cluster's start and stop (`ray.init` / `ray.shutdown`), and the
round trip of an empty task that receives the same training splits a cell receives
(median of 20, after a warm-up). Writes benchmarks/results/ray_executor.json.

  python benchmarks/ray_executor.py                     # quick reproduction, planted task
  python benchmarks/ray_executor.py --only 1,3 --out /tmp/ray.json   # fewer cells
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from attnjax.io import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "ray_executor.json"


def _reproduce(out: Path, extra: list[str], only: str | None) -> float:
  command = [sys.executable, "-m", "attnjax.cli", "reproduce", "--quick", "--no-progress",
             "--out", str(out), *(["--only", only] if only else []), *extra]
  start = time.perf_counter()
  subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
  return time.perf_counter() - start


def ray_overheads(workers: int, repeats: int = 20) -> dict:
  """Seconds to start and stop a local cluster, and the median round trip of an empty
  task given the quick planted task's splits (as a cell's task gets them)."""
  import ray

  from attnjax.data import load_splits
  start = time.perf_counter()
  ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
  started = time.perf_counter() - start
  try:
    splits = load_splits("planted", ("train[:5000]", "dev", "test"))
    reference = ray.put(splits)

    @ray.remote(num_cpus=1)
    def empty(data):
      return len(data)

    ray.get(empty.remote(reference))  # warm-up: a worker process starts
    times = []
    for _ in range(repeats):
      tick = time.perf_counter()
      ray.get(empty.remote(reference))
      times.append(time.perf_counter() - tick)
  finally:
    tick = time.perf_counter()
    ray.shutdown()
    stopped = time.perf_counter() - tick
  return {"cluster_start_s": started, "cluster_stop_s": stopped,
          "task_round_trip_s": statistics.median(times), "repeats": repeats}


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                      help="CPUs of the local Ray cluster (cells at a time)")
  parser.add_argument("--only", default=None, help="experiments to run (default: all)")
  parser.add_argument("--out", type=Path, default=RESULTS)
  args = parser.parse_args()
  with tempfile.TemporaryDirectory(prefix="attnjax-ray-bench-") as scratch:
    scratch = Path(scratch)
    local = _reproduce(scratch / "local", [], args.only)
    remote = _reproduce(scratch / "ray", ["--executor", "ray", "--ray-workers",
                                          str(args.workers), "--cell-cpus", "1"], args.only)
    same = ((scratch / "local" / "report.md").read_text() ==
            (scratch / "ray" / "report.md").read_text())
    cells = sum(1 for _ in (scratch / "local").glob("*/cells/*"))
  overheads = ray_overheads(args.workers)
  result = {"command": "attnjax reproduce --quick" + (f" --only {args.only}" if args.only else ""),
            "cells": cells, "workers": args.workers, "local_s": local, "ray_s": remote,
            "speedup": local / remote, "same_report": same, **overheads,
            "machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "cpu_count": os.cpu_count()}}
  print(json.dumps(result, indent=2))
  write_json_atomic(args.out, result)
  return 0


if __name__ == "__main__":
  sys.exit(main())
