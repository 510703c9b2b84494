"""Epoch time with length buckets vs every batch padded to T, side by side in one process.

Trains one epoch of the same model (the README's SST-2 setting: embedding 128,
BiLSTM 128×2, additive attention, dropout 0.3, word dropout 0.1, batch 64, one
seed) on the SST-2 and IMDB training splits of the offline corpora, with
`buckets=None` (padded to T) and `buckets="auto"`, alternating the two for
`--reps` repetitions. Reports the median epoch time of each and their ratio;
the first run of each (compilation included) is timed separately and not in
the medians. Also reports, from the data alone, the mean padded length a step
runs at under the shared bucket schedule `train` uses and under the
alternative of per-seed schedules padded to the longest bucket of the S seeds
at each step. Writes benchmarks/results/bucketing.json.

  python benchmarks/bucketing.py --data-dir ../shared/data
  python benchmarks/bucketing.py --data-dir ../shared/data --max-examples 5000 --reps 3
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import jax
import numpy as np

from attnjax.data import buckets as buckets_lib
from attnjax.data import load_splits
from attnjax.io import write_json_atomic
from attnjax.models import AttentionClassifier
from attnjax.training import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results" / "bucketing.json"


def step_lengths(lengths, max_length, batch_size, seeds, rng):
  """Mean padded length per step: padded, shared schedule, per-seed schedules (max over S)."""
  bucket_lens = np.asarray(buckets_lib.bucket_lengths("auto", lengths, max_length, batch_size))
  sizes = np.bincount(buckets_lib.assign(lengths, bucket_lens), minlength=len(bucket_lens))
  steps = np.repeat(bucket_lens, -(-sizes // batch_size))
  per_seed = np.stack([rng.permutation(steps) for _ in range(seeds)])
  return {"buckets": bucket_lens.tolist(), "padded": float(max_length),
          "shared_schedule": float(steps.mean()),
          f"per_seed_schedules_max_over_{seeds}_seeds": float(per_seed.max(0).mean()),
          "mean_real_length": float(np.mean(lengths))}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared"
                                                / "data"))
  parser.add_argument("--corpora", default="sst2,imdb")
  parser.add_argument("--max-examples", type=int, default=None,
                      help="train on the first N training examples (default: all)")
  parser.add_argument("--reps", type=int, default=3)
  parser.add_argument("--out", default=str(RESULTS))
  args = parser.parse_args()

  results = {"setting": {"model": "embed 128, BiLSTM 128x2, additive, dropout 0.3, word "
                                  "dropout 0.1", "batch_size": 64, "seeds": 1, "epochs": 1,
                         "max_examples": args.max_examples, "reps": args.reps},
             "platform": {"machine": platform.machine(), "cpus": os.cpu_count(),
                          "jax": jax.__version__, "devices": str(jax.devices()),
                          "load_average_start": os.getloadavg()},
             "corpora": {}}
  for name in args.corpora.split(","):
    split = "train" if args.max_examples is None else f"train[:{args.max_examples}]"
    data = load_splits(name, [split], source="files", data_dir=args.data_dir)[split]
    model = AttentionClassifier(vocab_size=len(data.vocab), num_classes=data.num_classes,
                                embed_dim=128, hidden_dim=128, dropout=0.3, word_dropout=0.1)
    configs = {"padded": TrainConfig(model=model, epochs=1, batch_size=64, buckets=None),
               "bucketed": TrainConfig(model=model, epochs=1, batch_size=64, buckets="auto")}
    first, times = {}, {k: [] for k in configs}
    for rep in range(args.reps + 1):
      for kind, config in configs.items():
        start = time.perf_counter()
        jax.block_until_ready(train(config, [0], data, progress=False).params)
        elapsed = time.perf_counter() - start
        (times[kind].append(elapsed) if rep else first.__setitem__(kind, elapsed))
        print(f"{name} rep {rep} {kind}: {elapsed:.2f} s", flush=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    results["corpora"][name] = {
        "examples": len(data), "max_length": data.max_length,
        "epoch_seconds_median": median, "epoch_seconds_all": times,
        "speedup": median["padded"] / median["bucketed"],
        "compile_seconds": {k: first[k] - median[k] for k in configs},
        "step_lengths": step_lengths(np.asarray(data.lengths), data.max_length, 64, 5,
                                     np.random.default_rng(0))}
    print(name, results["corpora"][name], flush=True)
  results["platform"]["load_average_end"] = os.getloadavg()
  write_json_atomic(Path(args.out), results)


if __name__ == "__main__":
  main()
