"""Accuracy of I(x; y) estimators where hidden states live: D = 64–256, N = 400–8,000.

Gaussian-class tasks with known MI (`attnjax.mi.testing`; class c has mean
signal·e_c, the other coordinates are noise, optionally scaled up so the
informative coordinates have the smaller scale; truth by Monte Carlo with
exact posteriors, ~1e-3 nats) and a shuffled-label null (truth 0). On the
same arrays, side by side in one process:

- ours: `crossfit_probe` (defaults, and with 10 folds), `probe`, `mixed_ksg`,
  `infonce`;
- scikit-learn (benchmark-only peer): a cross-fitted logistic-regression
  probe, standardised columns, the L2 strength chosen by an inner
  `LogisticRegressionCV` (8 strengths, 3 folds, scored by log-loss) on each outer training part,
  5 outer folds (`cross_val_predict`), bound H(y) − held-out cross-entropy —
  the honest (nested) version of "tuned L2, cross-fitted".

Times: seconds per estimate, warm (the first call, with compilation, is
reported apart); CPU times move with the machine, so read them side by side.

  python benchmarks/mi_accuracy.py           # every task, 3 keys (~30 min on 2 cores)
  python benchmarks/mi_accuracy.py --quick   # two small tasks, 1 key
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "mi_accuracy.json"

# name: (N, D, classes, signal, noise scale, shuffled labels)
TASKS = {
    "4 classes, D=256, N=8000": (8000, 256, 4, 2.0, 1.0, False),
    "4 classes, D=256, N=8000, weaker": (8000, 256, 4, 1.5, 1.0, False),
    "2 classes, D=64, N=400": (400, 64, 2, 2.0, 1.0, False),
    "2 classes, D=128, N=1000": (1000, 128, 2, 1.5, 1.0, False),
    "4 classes, D=256, N=1000": (1000, 256, 4, 2.0, 1.0, False),
    "4 classes, D=256, N=1000, noise x3": (1000, 256, 4, 2.0, 3.0, False),
    "null: 4 classes, D=256, N=1000, shuffled": (1000, 256, 4, 2.0, 1.0, True),
}
QUICK = ("2 classes, D=64, N=400", "null: 4 classes, D=256, N=1000, shuffled")
OURS = {"crossfit_probe": {}, "crossfit_probe (10 folds)": {"folds": 10}, "probe": {},
        "mixed_ksg": {}, "infonce": {}}


def make_task(spec, seed):
  import jax
  from attnjax.mi import testing
  n, d, classes, signal, noise, shuffled = spec
  means = np.zeros((classes, d), np.float32)
  means[np.arange(classes), np.arange(classes)] = signal
  x, y = testing.gaussian_classes(jax.random.key(seed), n, means)
  x = np.array(x)
  x[:, classes:] *= noise
  y = np.asarray(y)
  if shuffled:
    y = np.random.default_rng(seed).permutation(y)
  return x, y, means


def truth_of(spec, means) -> float:
  import jax
  from attnjax.mi import testing
  return 0.0 if spec[5] else testing.gaussian_classes_mi(means, key=jax.random.key(99))


def ours(name, x, y, seed) -> float:
  import jax
  from attnjax import mi
  method = name.split(" (")[0]
  result = mi.estimate(x, y, method=method, key=jax.random.key(1000 + seed), **OURS[name])
  return float(result.value)


def sklearn_probe(x, y, seed) -> float:
  """Nested, cross-fitted logistic-regression bound H(y) − CE (5 outer folds)."""
  import warnings
  from sklearn.linear_model import LogisticRegressionCV
  from sklearn.model_selection import StratifiedKFold, cross_val_predict
  from sklearn.pipeline import make_pipeline
  from sklearn.preprocessing import StandardScaler
  model = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=8, cv=3, max_iter=1000,
                                                               scoring="neg_log_loss"))
  folds = StratifiedKFold(5, shuffle=True, random_state=seed)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # sklearn 1.9's deprecation notices
    proba = cross_val_predict(model, x, y, cv=folds, method="predict_proba")
  ce = -np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, None)))
  p = np.bincount(y) / len(y)
  p = p[p > 0]
  return float(-(p * np.log(p)).sum() - ce)


SKLEARN = "sklearn logistic (nested CV)"


def run(task_names, keys, methods=(*OURS, SKLEARN)) -> dict:
  out = {}
  for task in task_names:
    spec = TASKS[task]
    row = {"n": spec[0], "d": spec[1], "classes": spec[2], "signal": spec[3],
           "noise_scale": spec[4], "shuffled": spec[5], "methods": {}}
    for method in methods:
      values, seconds, first = [], [], None
      for seed in keys:
        x, y, means = make_task(spec, seed)
        row.setdefault("truth", truth_of(spec, means))
        fn = ((lambda: sklearn_probe(x, y, seed)) if method.startswith("sklearn")
              else (lambda: ours(method, x, y, seed)))
        if first is None and not method.startswith("sklearn"):
          start = time.perf_counter()
          ours(method, x, y, seed + 100)  # compile (another key, same shapes)
          first = time.perf_counter() - start
        start = time.perf_counter()
        values.append(fn())
        seconds.append(time.perf_counter() - start)
      gaps = np.asarray(values) - row["truth"]
      row["methods"][method] = {"values": values, "mean": float(np.mean(values)),
                                "gap_mean": float(gaps.mean()),
                                "gap_max_abs": float(np.abs(gaps).max()),
                                "seconds": float(np.median(seconds)),
                                "first_call_seconds": first}
      print(f"{task:44s} {method:30s} truth {row['truth']:.3f} mean {np.mean(values):+.3f} "
            f"gap {gaps.mean():+.3f} ({float(np.median(seconds)):.2f} s)", flush=True)
    out[task] = row
  return out


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true", help="two small tasks, one key")
  parser.add_argument("--keys", type=int, default=3, help="keys (data draws) per task")
  parser.add_argument("--tasks", default="",
                      help="'|'-separated subset of the task names (default: all)")
  parser.add_argument("--methods", default="",
                      help="'|'-separated subset of the columns (default: all)")
  parser.add_argument("--out", type=Path, default=RESULTS)
  args = parser.parse_args(argv)
  methods = tuple(args.methods.split("|")) if args.methods else (*OURS, SKLEARN)
  for name in set(methods) - {*OURS, SKLEARN}:
    parser.error(f"unknown method {name!r}; allowed: {', '.join([*OURS, SKLEARN])}")
  for name in set(args.tasks.split("|") if args.tasks else ()) - set(TASKS):
    parser.error(f"unknown task {name!r}; allowed: {', '.join(TASKS)}")
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  sys.path.insert(0, str(HERE.parent))
  import jax

  from attnjax.io import write_json_atomic
  names = QUICK if args.quick else tuple(args.tasks.split("|")) if args.tasks else tuple(TASKS)
  keys = range(1 if args.quick else args.keys)
  started = time.strftime("%Y-%m-%d %H:%M:%S")
  results = run(names, keys, methods)
  write_json_atomic(args.out, {
      "command": shlex.join(["python", "benchmarks/mi_accuracy.py",
                             *(sys.argv[1:] if argv is None else argv)]),
      "started": started, "keys": len(keys),
      "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                  "load_average_at_end": os.getloadavg(), "jax": jax.__version__},
      "tasks": results})
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
