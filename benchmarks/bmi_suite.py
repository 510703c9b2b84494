"""Our trained MI estimators vs bmi's on bmi's 40 ground-truth tasks, at equal steps.

bmi (PyPI `benchmark-mi` 0.1.3, Czyż et al. 2023, "Beyond Normal: On the
Evaluation of Mutual Information Estimators", NeurIPS) pins jax < 0.4.34, so it
runs in its own virtual environment (benchmarks/.venv-bmi, git-ignored, created
once) in a subprocess. bmi draws the samples of every task (one draw, seed
`--seed`) into an .npz file, so both sides see identical data; bmi's
estimators run on that file (their defaults: batch 256, Adam 0.1, critic
(16, 8), test every 250 steps; only the step count is set, to `--steps`), then
ours (`attnjax.mi.estimate`, defaults: batch 128, critic (16, 8); `steps=--steps`)
in this process.

For every estimator both libraries have, the table counts the tasks within
0.1 nats of the truth, the lowest value returned and the total time (ours
includes compilation: one compile per task shape; warm timings are reported
separately for a repeated call). Writes benchmarks/results/bmi_suite.json.

  python benchmarks/bmi_suite.py                    # 40 tasks, N = 5,000, 1,000 steps
  python benchmarks/bmi_suite.py --quick            # 4 tasks, N = 1,000, 200 steps
  python benchmarks/bmi_suite.py --reuse-bmi        # keep bmi's stored values (same settings)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "bmi_suite.json"
WORK = HERE / "results" / ".bmi_suite"   # samples and bmi's raw values (git-ignored)
# ours → bmi's class; DV is our `mine` bound evaluated as Donsker–Varadhan.
PAIRS = {"infonce": "InfoNCEEstimator", "nwj": "NWJEstimator", "mine": "DonskerVaradhanEstimator",
         "ksg": "KSGEnsembleFirstEstimator"}
WITHIN = 0.1


# ---------------------------------------------------------------- bmi side (its venv)


def bmi_sample(out_path, n, seed, quick):
  """Runs in the bmi venv: samples of every benchmark task into one .npz."""
  from bmi.benchmark.task_list import BENCHMARK_TASKS_LIST

  tasks = BENCHMARK_TASKS_LIST[:: len(BENCHMARK_TASKS_LIST) // 4][:4] if quick else \
      BENCHMARK_TASKS_LIST
  arrays, meta = {}, []
  for i, task in enumerate(tasks):
    x, y = task.sample(n, seed)
    arrays[f"x{i}"], arrays[f"y{i}"] = np.asarray(x, np.float32), np.asarray(y, np.float32)
    meta.append({"id": task.id, "name": task.name, "mi": float(task.mutual_information),
                 "dim_x": int(task.dim_x), "dim_y": int(task.dim_y)})
  np.savez(out_path, meta=json.dumps(meta), **arrays)


def bmi_estimate(samples_path, out_path, methods, steps):
  """Runs in the bmi venv: bmi's estimators on every task of the .npz; values and seconds."""
  import bmi

  data = np.load(samples_path)
  meta = json.loads(str(data["meta"]))
  results = {}
  for method in methods.split(","):
    cls = getattr(bmi.estimators, PAIRS[method])
    if method == "ksg":
      make = lambda: cls(neighborhoods=(10,))   # noqa: E731  bmi's benchmark default k
    else:
      # bmi tests every 250 steps; fewer steps (--quick) would leave it no test value.
      make = lambda: cls(max_n_steps=steps, test_every_n_steps=min(250, steps),   # noqa: E731
                         verbose=False)
    rows = []
    for i, task in enumerate(meta):
      start = time.perf_counter()
      value = float(make().estimate(data[f"x{i}"], data[f"y{i}"]))
      rows.append({"value": value, "seconds": time.perf_counter() - start})
      print(f"    bmi {method:8s} {task['name'][:40]:40s} {value:8.3f} (truth {task['mi']:.3f}) "
            f"{rows[-1]['seconds']:.1f}s", file=sys.stderr, flush=True)
    results[method] = rows
  Path(out_path).write_text(json.dumps(results))


# ---------------------------------------------------------------- our side


def _bmi_python():
  """The bmi venv's python (created once by mi_throughput's helper); raises on failure."""
  sys.path.insert(0, str(HERE))
  import mi_throughput

  python = mi_throughput._bmi_python()
  if isinstance(python, dict):
    raise RuntimeError(python["error"])
  return python


def _in_bmi(*args):
  subprocess.run([str(_bmi_python()), __file__, "--peer", *map(str, args)], check=True)


def ours(data, meta, methods, steps):
  """Our estimators on every task; values, seconds (first call) and diagnostics."""
  import jax
  from attnjax import mi

  results = {}
  for method in methods:
    options = {"k": 10} if method == "ksg" else {"steps": steps}
    rows = []
    for i, task in enumerate(meta):
      x, y = data[f"x{i}"], data[f"y{i}"]
      start = time.perf_counter()
      result = jax.block_until_ready(mi.estimate(x, y, method=method, key=jax.random.key(i),
                                                 **options))
      seconds = time.perf_counter() - start
      row = {"value": float(result.value), "seconds": seconds}
      for name in ("diverged", "best_step"):
        if name in result.diagnostics:
          row[name] = result.diagnostics[name].item()
      rows.append(row)
      print(f"    ours {method:8s} {task['name'][:40]:40s} {row['value']:8.3f} "
            f"(truth {task['mi']:.3f}) {seconds:.1f}s", flush=True)
    results[method] = rows
  return results


def warm_seconds(data, methods, steps):
  """A repeated (compiled) call on task 0: ours without compilation."""
  import jax
  from attnjax import mi

  out = {}
  for method in methods:
    options = {"k": 10} if method == "ksg" else {"steps": steps}
    run = lambda: jax.block_until_ready(mi.estimate(data["x0"], data["y0"], method=method,   # noqa
                                                    key=jax.random.key(0), **options))
    run()
    start = time.perf_counter()
    run()
    out[method] = time.perf_counter() - start
  return out


def summarise(meta, theirs, mine):
  """Per estimator: tasks within WITHIN nats, lowest value, total seconds, each side."""
  truth = np.array([t["mi"] for t in meta])
  summary = {}
  for method in mine:
    row = {}
    for side, values in (("ours", mine[method]), ("bmi", theirs.get(method))):
      if values is None:
        continue
      v = np.array([r["value"] for r in values])
      finite = np.isfinite(v)
      row[side] = {"within": int(np.sum(np.abs(v - truth) <= WITHIN)),
                   "min": float(np.min(v[finite])) if finite.any() else None,
                   "non_finite": int(np.sum(~finite)),
                   "mean_abs_error": (float(np.mean(np.abs(v - truth)[finite])) if finite.any()
                                      else None),
                   "seconds": float(sum(r["seconds"] for r in values))}
    summary[method] = row
  return summary


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="4 tasks, N = 1,000, 200 steps")
  parser.add_argument("--n", type=int, default=5000)
  parser.add_argument("--steps", type=int, default=1000)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--methods", default="infonce,nwj")
  parser.add_argument("--reuse-bmi", action="store_true",
                      help="reuse bmi's stored values when the settings match")
  parser.add_argument("--skip-ours", action="store_true", help="only sample and run bmi")
  parser.add_argument("--load-note", default="",
                      help="say here if other jobs loaded the machine during the run")
  parser.add_argument("--peer", nargs="+", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.peer:
    if args.peer[0] == "sample":
      return bmi_sample(args.peer[1], int(args.peer[2]), int(args.peer[3]), args.peer[4] == "1")
    return bmi_estimate(*args.peer[1:3], args.peer[3], int(args.peer[4]))
  if args.quick:
    args.n, args.steps = 1000, 200
  methods = args.methods.split(",")
  settings = {"n": args.n, "steps": args.steps, "seed": args.seed, "quick": args.quick}
  WORK.mkdir(parents=True, exist_ok=True)
  tag = f"n{args.n}_s{args.steps}_seed{args.seed}{'_quick' if args.quick else ''}"
  samples, theirs_path = WORK / f"samples_{tag}.npz", WORK / f"bmi_{tag}.json"
  if not samples.exists():
    _in_bmi("sample", samples, args.n, args.seed, int(args.quick))
  theirs = json.loads(theirs_path.read_text()) if theirs_path.exists() else {}
  missing = [m for m in methods if m not in theirs or not args.reuse_bmi]
  if missing:
    partial = WORK / f"bmi_{tag}_partial.json"
    _in_bmi("estimate", samples, partial, ",".join(missing), args.steps)
    theirs = {**theirs, **json.loads(partial.read_text())}
    theirs_path.write_text(json.dumps(theirs))
  if args.skip_ours:
    return
  data = np.load(samples)
  meta = json.loads(str(data["meta"]))

  import jax
  print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs; "
        f"{len(meta)} tasks, N={args.n}, {args.steps} steps", flush=True)
  mine = ours(data, meta, methods, args.steps)
  summary = summarise(meta, theirs, mine)
  warm = warm_seconds(data, methods, args.steps)
  report = {
      "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                  "python": platform.python_version(), "jax": jax.__version__,
                  "device": jax.devices()[0].platform, "load": args.load_note or None},
      "settings": {**settings, "within_nats": WITHIN, "methods": methods,
                   "bmi": "benchmark-mi 0.1.3 defaults (batch 256, Adam 0.1, MLP (16, 8), "
                          "test every 250 steps, early stopping) with max_n_steps=steps",
                   "ours": "attnjax.mi.estimate defaults (batch 128, Adam 1e-2, concat critic "
                           "(16, 8), copula inputs, validated checkpoint) with steps=steps"},
      "summary": summary, "ours_warm_seconds_task0": warm,
      "tasks": [{**task, **{f"ours_{m}": mine[m][i] for m in methods},
                 **{f"bmi_{m}": theirs[m][i] for m in methods if m in theirs}}
                for i, task in enumerate(meta)],
  }
  print(f"\n| estimator | side | within {WITHIN} nats (of {len(meta)}) | min | MAE | "
        "non-finite | total time |\n| --- | --- | --- | --- | --- | --- | --- |")
  for method, row in summary.items():
    for side, s in row.items():
      low = "n/a" if s["min"] is None else f"{s['min']:.3f}"
      error = "n/a" if s["mean_abs_error"] is None else f"{s['mean_abs_error']:.3f}"
      print(f"| {method} | {side} | {s['within']} | {low} | {error} | {s['non_finite']} | "
            f"{s['seconds']:.0f} s |")
  if not args.quick:
    from attnjax.io import write_json_atomic  # strict JSON: an undefined value is null
    write_json_atomic(RESULTS, report, indent=1, sort_keys=False)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
  main()
