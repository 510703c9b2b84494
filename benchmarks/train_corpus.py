"""Training on a real corpus at the paper preset: default vs padded, this code vs another.

Each run is a fresh process that loads the corpus (the offline copies in ../shared/data),
builds the paper preset's `TrainConfig` (`attnjax.presets.base_config`), trains S seeds
for one epoch on the training split (or its first --examples examples) without dev data,
and exits. Timed: the whole process from outside, and the `train` call inside it (its
compilation included); per step = the train call / the epoch's steps. Variants: the
default buckets, `buckets=None` (padding to T) and `bucket_shapes=True` (every bucket at
its own length, as "auto" runs a bucket of ≥ 100 steps over a multi-epoch run), and with
--baseline DIR the default and padded runs with the code of another checkout (a `git
worktree` of an earlier commit) imported instead, interleaved with this code's runs.

  python benchmarks/train_corpus.py --dataset sst2                       # a full epoch
  python benchmarks/train_corpus.py --dataset imdb --examples 6400 --baseline /tmp/base

Writes benchmarks/results/train_<dataset>.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from timing import cpu_model

ROOT = Path(__file__).resolve().parent.parent


def child(dataset: str, examples: int | None, seeds: int, buckets: str, data_dir: str):
  import jax
  import numpy as np

  import attnjax
  from attnjax import presets
  from attnjax.training import train

  options = presets.data_options(dataset, "paper", "files")
  splits = presets.load_dataset(dataset, options.pop("splits"), source="files",
                                data_dir=data_dir, **options)
  data = splits["train"]
  if examples:
    data = data.take(np.arange(min(examples, len(data))))
  config = presets.base_config(dataset, "paper", len(data.vocab), data.num_classes)
  changes = {"buckets": None} if buckets == "none" else {}
  if buckets == "shapes":  # every bucket at its own length, whatever the run's length
    changes = {"bucket_shapes": True}
  config = config.replace(epochs=1, patience=None, **changes)
  start = time.perf_counter()
  jax.block_until_ready(train(config, seeds, data, progress=False).params)
  print(json.dumps({"train_s": time.perf_counter() - start, "examples": len(data),
                    "steps": math.ceil(len(data) / config.batch_size),
                    "batch_size": config.batch_size, "max_len": int(data.max_length),
                    "mean_length": float(np.mean(data.lengths)),
                    "code": str(Path(attnjax.__file__).parent.parent)}))


def _run(code: Path, args, buckets: str) -> dict:
  env = {**os.environ, "PYTHONPATH": str(code)}
  command = [sys.executable, __file__, "--child", args.dataset, str(args.examples or 0),
             str(args.seeds), buckets, str(args.data_dir)]
  start = time.perf_counter()
  done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=code,
                        check=False)
  wall = time.perf_counter() - start
  if done.returncode != 0:
    raise RuntimeError(f"{code} {buckets}: {done.stderr[-2000:]}")
  return {"wall_s": wall, **json.loads(done.stdout.strip().splitlines()[-1])}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
  parser.add_argument("--dataset", default="sst2", choices=("sst2", "imdb", "ag_news_2class"))
  parser.add_argument("--examples", type=int, default=None,
                      help="the first N training examples (default: the whole split)")
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--runs", type=int, default=1)
  parser.add_argument("--baseline", default=None,
                      help="another checkout whose attnjax to time beside this one")
  parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
  parser.add_argument("--out", default=None)
  args = parser.parse_args(argv)
  if args.child:
    dataset, examples, seeds, buckets, data_dir = args.child
    child(dataset, int(examples) or None, int(seeds), buckets, data_dir)
    return 0
  codes = {"this": ROOT}
  if args.baseline:
    codes["baseline"] = Path(args.baseline).resolve()
  variants = {"this": ("auto", "none", "shapes"), "baseline": ("auto", "none")}
  runs = {f"{name} / {buckets}": [] for name in codes for buckets in variants[name]}
  for _ in range(args.runs):
    for name, code in codes.items():
      for buckets in variants[name]:
        result = _run(code, args, buckets)
        runs[f"{name} / {buckets}"].append(result)
        print(f"{name:8} {buckets:4} wall {result['wall_s']:6.1f} s, train {result['train_s']:6.1f}"
              f" s, {result['train_s'] / result['steps']:.3f} s per step", flush=True)
  summary = {}
  for name, results in runs.items():
    per_step = [r["train_s"] / r["steps"] for r in results]
    summary[name] = {"train_s_per_step_median": statistics.median(per_step),
                     "wall_s_median": statistics.median(r["wall_s"] for r in results)}
  ratios = {}
  for name in codes:
    ratios[f"{name}: padded / default (train time)"] = (
        summary[f"{name} / none"]["train_s_per_step_median"]
        / summary[f"{name} / auto"]["train_s_per_step_median"])
  ratios["this: shapes / default (train time)"] = (
      summary["this / shapes"]["train_s_per_step_median"]
      / summary["this / auto"]["train_s_per_step_median"])
  if "baseline" in codes:
    for buckets in ("auto", "none"):
      ratios[f"baseline {buckets} / this default (train time)"] = (
          summary[f"baseline / {buckets}"]["train_s_per_step_median"]
          / summary["this / auto"]["train_s_per_step_median"])
  for name, value in ratios.items():
    print(f"{name}: {value:.2f}×")
  import jax

  from attnjax.io import write_json_atomic
  out = Path(args.out or ROOT / "benchmarks" / "results" / f"train_{args.dataset}.json")
  write_json_atomic(out, {
      "setting": {"dataset": args.dataset, "preset": "paper", "epochs": 1,
                  "examples": args.examples, "seeds": args.seeds, "runs": args.runs,
                  "interleaved": True, "baseline": args.baseline},
      "runs": runs, "summary": summary, "ratios": ratios,
      "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "jax": jax.__version__,
                  "python": platform.python_version()}})
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
