"""Real-data accuracy (SST-2, AG News; files source) and loading + encoding throughput.

    python benchmarks/accuracy.py                 # everything (about an hour on 2 CPU cores)
    python benchmarks/accuracy.py --only sst2     # one corpus (or --only loading)
    python benchmarks/accuracy.py --quick         # smoke run: small subsets, 1 epoch

Reads the offline corpora in ../shared/data (or --data-dir / $ATTNJAX_SHARED_DATA)
and writes benchmarks/results/accuracy.json (--quick: accuracy_quick.json).

BiLSTM + additive attention, S seeds trained together in one program, each seed
keeping the parameters of its best epoch on the dev split (early stopping with
`patience`), then evaluated on the test split:
  - SST-2: train.tsv (phrases and sentences), dev.tsv, test.tsv (GLUE validation).
  - AG News: the 10,000 training articles of dev.tsv, first 90% to train, last
    10% for early stopping; test.tsv (7,600 articles).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np

from attnjax.data import load, load_splits
from attnjax.io import write_json_atomic
from attnjax.models import AttentionClassifier
from attnjax.training import TrainConfig, evaluate, train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


@dataclasses.dataclass(frozen=True)
class Task:
  """One accuracy run: which splits, their padded lengths, the model and training."""
  name: str
  train_split: str
  dev_split: str
  vocab_split: str
  train_max_len: int
  test_max_len: int
  embed_dim: int = 128
  hidden_dim: int = 128
  attention_dim: int = 128
  dropout: float = 0.3
  word_dropout: float = 0.1
  epochs: int = 8
  patience: int = 2
  batch_size: int = 128
  learning_rate: float = 2e-3
  seeds: tuple[int, ...] = (0, 1, 2)


TASKS = {
    # Training phrases average 10 tokens, 97% fit in 32 (the cost is linear in T);
    # test sentences are read whole (T = 64 > the longest, 50).
    "sst2": Task("sst2", train_split="train", dev_split="dev", vocab_split="train",
                 train_max_len=32, test_max_len=64),
    "ag_news": Task("ag_news", train_split="dev[:90%]", dev_split="dev[90%:]",
                    vocab_split="dev[:90%]", train_max_len=64, test_max_len=64,
                    # 9,000 articles overfit by epoch 3 at dropout 0.3: regularise harder.
                    dropout=0.5, word_dropout=0.2, batch_size=64, epochs=12, patience=3),
}


def shared_data_dir(given: str | None) -> Path:
  folder = Path(given or os.environ.get("ATTNJAX_SHARED_DATA") or ROOT.parent / "shared" / "data")
  if not folder.is_dir():
    sys.exit(f"no corpora folder at {folder}: pass --data-dir or set ATTNJAX_SHARED_DATA")
  return folder


def loading_throughput(data_dir: Path, repeats: int = 3) -> dict:
  """Examples/s of SST-2 train.tsv: read + tokenise + build vocab + encode, and encode alone."""
  full, encode_only = [], []
  for _ in range(repeats):
    start = time.perf_counter()
    train_data = load("sst2", split="train", source="files", data_dir=data_dir, max_len=64)
    full.append(time.perf_counter() - start)
    start = time.perf_counter()
    load("sst2", split="train", source="files", data_dir=data_dir, max_len=64,
         vocab=train_data.vocab)
    encode_only.append(time.perf_counter() - start)
  n = len(train_data)
  return {"examples": n, "vocab_size": len(train_data.vocab),
          "load_build_vocab_encode_examples_per_s": round(n / min(full)),
          "load_encode_with_vocab_examples_per_s": round(n / min(encode_only)),
          "seconds_best_of": repeats}


def run_task(task: Task, data_dir: Path, quick: bool) -> dict:
  if quick:
    base = lambda split: split.split("[")[0]
    task = dataclasses.replace(
        task, train_split=f"{base(task.train_split)}[:512]", dev_split=f"{base(task.dev_split)}[-256:]",
        vocab_split=f"{base(task.train_split)}[:512]", epochs=1, embed_dim=16, hidden_dim=16,
        attention_dim=16)
  test_split = "test[:256]" if quick else "test"
  common = dict(source="files", data_dir=data_dir, vocab_split=task.vocab_split)
  start = time.perf_counter()
  splits = load_splits(task.name, (task.train_split, task.dev_split), max_len=task.train_max_len,
                       **common)
  train_data, dev_data = splits[task.train_split], splits[task.dev_split]
  test_data = load(task.name, split=test_split,
                   max_len=task.test_max_len, vocab=train_data.vocab, **common)
  load_s = time.perf_counter() - start

  model = AttentionClassifier(
      vocab_size=len(train_data.vocab), num_classes=train_data.num_classes,
      embed_dim=task.embed_dim, hidden_dim=task.hidden_dim, attention_dim=task.attention_dim,
      encoder="bilstm", attention="additive", dropout=task.dropout,
      word_dropout=task.word_dropout)
  config = TrainConfig(model=model, epochs=task.epochs, batch_size=task.batch_size,
                       learning_rate=task.learning_rate, select_best=True,
                       patience=task.patience)
  start = time.perf_counter()
  result = train(config, list(task.seeds), train_data, dev_data, progress=False)
  train_s = time.perf_counter() - start
  test = evaluate(model, result.params, test_data)["accuracy"]
  dev = evaluate(model, result.params, dev_data)["accuracy"]
  out = {
      "task": dataclasses.asdict(task),
      "examples": {"train": len(train_data), "dev": len(dev_data), "test": len(test_data)},
      "vocab_size": len(train_data.vocab),
      "test_accuracy": _summary(test), "dev_accuracy": _summary(dev),
      "best_epoch": result.best_epoch.tolist(),
      "epochs_run": int(result.history["train_loss"].shape[1]),
      "history": {k: np.round(v, 4).tolist() for k, v in result.history.items()},
      "train_seconds": round(train_s, 1), "load_seconds": round(load_s, 2),
      "config": config.to_dict(),
  }
  if task.name == "sst2":
    # The same parameters on the test sentences cut to the training length.
    short = load(task.name, split=test_split, max_len=task.train_max_len,
                 vocab=train_data.vocab, **common)
    out["test_accuracy_at_train_max_len"] = _summary(evaluate(model, result.params,
                                                              short)["accuracy"])
  return out


def _summary(per_seed) -> dict:
  per_seed = np.asarray(per_seed, np.float64)
  return {"mean": round(float(per_seed.mean()), 4), "std": round(float(per_seed.std(ddof=1)), 4)
          if len(per_seed) > 1 else 0.0, "per_seed": np.round(per_seed, 4).tolist()}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--data-dir", help="folder of the offline corpora (default ../shared/data)")
  parser.add_argument("--only", choices=["loading", *TASKS], action="append",
                      help="run only these parts (repeatable)")
  parser.add_argument("--quick", action="store_true", help="smoke run on small subsets")
  parser.add_argument("--out", help="results file (default benchmarks/results/accuracy.json)")
  args = parser.parse_args(argv)
  data_dir = shared_data_dir(args.data_dir)
  parts = args.only or ["loading", *TASKS]
  out_path = Path(args.out or RESULTS / ("accuracy_quick.json" if args.quick else "accuracy.json"))
  results = json.loads(out_path.read_text()) if out_path.is_file() and args.only else {}
  results["machine"] = {"python": platform.python_version(), "jax": jax.__version__,
                        "backend": jax.default_backend(), "cpu_count": os.cpu_count(),
                        "processor": platform.processor() or platform.machine()}
  for part in parts:
    print(f"== {part}", flush=True)
    load_before = os.getloadavg()[0]
    if part == "loading":
      results[part] = loading_throughput(data_dir)
    else:
      results[part] = run_task(TASKS[part], data_dir, args.quick)
    results[part]["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(json.dumps({k: v for k, v in results[part].items()
                      if k not in ("history", "config", "task")}, indent=1), flush=True)
    write_json_atomic(out_path, results, indent=1, sort_keys=False)


if __name__ == "__main__":
  main()
