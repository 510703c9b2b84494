"""Training as a user meets it: whole processes, compilation included, default vs padded.

Each run is a fresh Python process that builds the data, trains BiLSTM + additive with
S seeds for one epoch (`attnjax.training.train`) and exits; its wall time is taken from
outside (interpreter start, imports, initialisation, compilation and training). The
variants are the default (`buckets="auto"`) and padding to T (`buckets=None`), each on 1
and 2 CPU devices; runs are interleaved (every variant once, then again) so a slow
spell of the machine spreads over all of them. Reported: seed-examples per second (S ×
N / wall), median and range over the runs.

  python benchmarks/train_process.py                 # both configs, 3 runs each
  python benchmarks/train_process.py --configs small --runs 1

Configs (batch 64, S = 4 seeds × N = 4,096 examples × 1 epoch, lengths uniform in
[T/2, T]): big = V 20k, E 128, H 128×2, T 128; small = V 2k, E 64, H 64×2, T 40.
Writes benchmarks/results/train_process.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from timing import cpu_model

RESULTS = Path(__file__).resolve().parent / "results" / "train_process.json"
CONFIGS = {"big": dict(vocab=20_000, embed=128, hidden=128, seq_len=128),
           "small": dict(vocab=2_000, embed=64, hidden=64, seq_len=40)}
VARIANTS = (("auto", 1), ("none", 1), ("auto", 2), ("none", 2))
SEEDS, EXAMPLES, BATCH = 4, 4096, 64


def child(config: str, buckets: str, devices: int) -> None:
  """One training process: the run the parent times (prints its steps)."""
  from attnjax.training import use_cpu_devices
  use_cpu_devices(devices)
  import jax
  import numpy as np

  from attnjax.data.dataset import TextDataset
  from attnjax.models import AttentionClassifier
  from attnjax.training import TrainConfig, train

  shape = CONFIGS[config]
  rng = np.random.default_rng(0)
  t = shape["seq_len"]
  lengths = rng.integers(t // 2, t + 1, EXAMPLES).astype(np.int32)
  tokens = rng.integers(2, shape["vocab"], (EXAMPLES, t)).astype(np.int32)
  tokens = np.where(np.arange(t)[None] < lengths[:, None], tokens, 0).astype(np.int32)
  labels = rng.integers(0, 2, EXAMPLES).astype(np.int32)
  data = TextDataset(tokens=tokens, lengths=lengths, labels=labels,
                     label_names=("negative", "positive"))
  model = AttentionClassifier(vocab_size=shape["vocab"], num_classes=2,
                              embed_dim=shape["embed"], hidden_dim=shape["hidden"])
  config_ = TrainConfig(model=model, epochs=1, batch_size=BATCH,
                        buckets=None if buckets == "none" else buckets)
  result = train(config_, list(range(SEEDS)), data, progress=False)
  jax.block_until_ready(result.params)
  print(json.dumps({"steps": int(np.ceil(EXAMPLES / BATCH)), "devices": len(jax.devices())}))


def _run(config: str, buckets: str, devices: int) -> float:
  start = time.perf_counter()
  done = subprocess.run([sys.executable, __file__, "--child", config, buckets, str(devices)],
                        capture_output=True, text=True, check=False)
  wall = time.perf_counter() - start
  if done.returncode != 0:
    raise RuntimeError(f"{config} {buckets} {devices}: {done.stderr[-2000:]}")
  return wall


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--child", nargs=3, metavar=("CONFIG", "BUCKETS", "DEVICES"),
                      help=argparse.SUPPRESS)
  parser.add_argument("--configs", default="big,small")
  parser.add_argument("--runs", type=int, default=3)
  parser.add_argument("--out", default=str(RESULTS))
  args = parser.parse_args(argv)
  if args.child:
    child(args.child[0], args.child[1], int(args.child[2]))
    return 0
  rows = {}
  for config in args.configs.split(","):
    walls = {f"{b} / {d} device(s)": [] for b, d in VARIANTS}
    for _ in range(args.runs):
      for buckets, devices in VARIANTS:
        walls[f"{buckets} / {devices} device(s)"].append(_run(config, buckets, devices))
    rows[config] = {}
    for name, times in walls.items():
      rates = [SEEDS * EXAMPLES / w for w in times]
      rows[config][name] = {"wall_s": times, "examples_per_s": rates,
                            "median": statistics.median(rates), "min": min(rates),
                            "max": max(rates)}
      print(f"{config:5} {name:<22} {statistics.median(rates):7.0f} seed-examples/s "
            f"({min(rates):.0f}–{max(rates):.0f}; wall {statistics.median(times):.1f} s)")
    for devices in (1, 2):
      ratio = (rows[config][f"auto / {devices} device(s)"]["median"]
               / rows[config][f"none / {devices} device(s)"]["median"])
      rows[config][f"auto / none, {devices} device(s)"] = ratio
      print(f"{config:5} default / padded on {devices} device(s): {ratio:.2f}×")
  import jax

  from attnjax.io import write_json_atomic
  write_json_atomic(Path(args.out), {
      "setting": {"configs": {c: CONFIGS[c] for c in rows}, "seeds": SEEDS,
                  "examples": EXAMPLES, "batch": BATCH, "epochs": 1, "runs": args.runs,
                  "interleaved": True, "timed": "whole process, from outside"},
      "rows": rows, "machine": {"cpu": cpu_model(), "jax": jax.__version__,
                                "python": platform.python_version()}})
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
