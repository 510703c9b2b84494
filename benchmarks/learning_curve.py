"""Test accuracy against training-set size, with the `paper` preset (AG News).

The offline AG News copy has 10,000 training articles (dev.tsv; 9,000 train on,
1,000 are the early-stopping split), against the 120,000 of the full corpus
(about 60,000 for Jain & Wallace's World-vs-Business task). This trains the
`reproduce --preset paper` BiLSTM + additive cell on the first n of those
9,000 for several n, S seeds in one program each (vocabulary built on the n
articles, as a user holding only them would), and fits the usual learning-curve
power law to the error rate, 1 − accuracy ≈ a·n^b (a line in log–log, least
squares over the seed means; Hestness et al. 2017). The fit's value at the full
corpus's size is an extrapolation, printed as such: a power law with no floor
overestimates what more data gives, so it says whether the gap to the
published accuracy is the size of the training set, not what the full corpus
would give.

    python benchmarks/learning_curve.py                       # AG News 4- and 2-class
    python benchmarks/learning_curve.py --datasets ag_news_2class --sizes 1125,2250,4500,9000
    python benchmarks/learning_curve.py --quick               # smoke run (tiny model)
    python benchmarks/learning_curve.py --refit benchmarks/results/learning_curve.json
                                                              # fit and plot saved results again

Writes benchmarks/results/learning_curve.json and
benchmarks/results/learning_curve.png (95% Student-t intervals over seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import numpy as np

from attnjax.analysis import mean_ci
from attnjax.data import load_splits
from attnjax.io import read_json, write_json_atomic
from attnjax.presets import TWO_CLASS, base_config
from attnjax.training import evaluate, train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# Training-set sizes of the full corpora (the accuracies published on them).
FULL_SIZE = {"ag_news": 120_000, "ag_news_2class": 60_000}
BAR = {"ag_news": 0.86, "ag_news_2class": 0.92}
"""The accuracy each dataset's preset is asked to reach (the published accuracy on the full corpus)."""


def run_size(dataset: str, size: int, seeds: int, data_dir: Path, quick: bool) -> dict:
  """Trains S seeds on the first `size` training articles; per-seed test accuracy."""
  corpus, classes = TWO_CLASS.get(dataset, (dataset, None))
  train_split = f"dev[:{size}]"
  loaded = load_splits(corpus, (train_split, "dev[90%:]", "test[:512]" if quick else "test"),
                       source="files", data_dir=data_dir, max_len=64, vocab_size=20_000,
                       vocab_split=train_split)
  splits = list(loaded.values())
  if classes is not None:
    splits = [s.select_classes(classes) for s in splits]
  train_data, dev_data, test_data = splits
  config = base_config(dataset, "paper", len(train_data.vocab), train_data.num_classes)
  if quick:
    config = config.replace(epochs=1, **{"model.embed_dim": 16, "model.hidden_dim": 16,
                                         "model.attention_dim": 16,
                                         "model.deep_layer_dims": (16, 16)})
  start = time.perf_counter()
  result = train(config, list(range(seeds)), train_data, dev_data, progress=False)
  seconds = time.perf_counter() - start
  accuracy = evaluate(config.model, result.params, test_data)["accuracy"]
  return {"train_examples": len(train_data), "test_examples": len(test_data),
          "vocab_size": len(train_data.vocab), "test_accuracy": accuracy.tolist(),
          "summary": mean_ci(accuracy), "best_epoch": np.asarray(result.best_epoch).tolist(),
          "train_seconds": round(seconds, 1)}


def fit_power_law(rows: list[dict], at: int) -> dict:
  """1 − accuracy ≈ a·n^b over the seed means (least squares in log–log); its value at n = `at`."""
  n = np.array([r["train_examples"] for r in rows], np.float64)
  error = 1.0 - np.array([r["summary"]["mean"] for r in rows], np.float64)
  exponent, log_scale = np.polyfit(np.log(n), np.log(error), 1)
  predict = lambda m: 1.0 - np.exp(log_scale) * np.power(m, exponent)
  return {"form": "1 - accuracy = a * n**b", "a": float(np.exp(log_scale)),
          "b": float(exponent), "error_ratio_per_doubling": float(2.0 ** exponent),
          "extrapolated_at": at, "extrapolated_accuracy": float(predict(at))}


def fitted_accuracy(fit: dict, n):
  return 1.0 - fit["a"] * np.power(n, fit["b"])


def plot(results: dict, path: Path) -> None:
  from matplotlib.figure import Figure
  fig = Figure(figsize=(6, 4), layout="constrained")
  ax = fig.add_subplot()
  for dataset, entry in results.items():
    rows = entry["sizes"]
    n = np.array([r["train_examples"] for r in rows])
    mean = np.array([r["summary"]["mean"] for r in rows])
    ci = np.array([r["summary"]["ci"] for r in rows])
    line = ax.errorbar(n, mean, yerr=ci, marker="o", capsize=3, label=f"{dataset} (95% CI)")
    fit = entry["fit"]
    grid = np.geomspace(n.min(), fit["extrapolated_at"], 50)
    ax.plot(grid, fitted_accuracy(fit, grid), ls=":", color=line[0].get_color(),
            label=f"{dataset}: power-law fit of the error (extrapolated)")
    ax.axhline(BAR[dataset], ls="--", lw=0.8, color=line[0].get_color())
  ax.set_xscale("log")
  ax.set_xlabel("training articles n (log scale)")
  ax.set_ylabel("test accuracy")
  ax.set_title("AG News, paper preset: accuracy vs training-set size")
  ax.legend(fontsize=7)
  fig.savefig(path, dpi=120)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
  parser.add_argument("--datasets", default="ag_news,ag_news_2class")
  parser.add_argument("--sizes", default="1125,2250,4500,9000",
                      help="training articles (first n of dev.tsv; at most 9000)")
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--quick", action="store_true", help="smoke run: tiny model, one epoch")
  parser.add_argument("--out", type=Path, default=None)
  parser.add_argument("--refit", type=Path, default=None,
                      help="fit and plot the results in this JSON again (no training); rewrites it")
  args = parser.parse_args(argv)
  if args.refit is not None:
    saved = json.loads(args.refit.read_text())
    for dataset, entry in saved["results"].items():
      entry["fit"] = fit_power_law(entry["sizes"], FULL_SIZE[dataset])
      _print_fit(dataset, entry["fit"])
    write_json_atomic(args.refit, saved, indent=1, sort_keys=False)
    plot(saved["results"], args.refit.with_suffix(".png"))
    return
  datasets = args.datasets.split(",")
  bad = [d for d in datasets if d not in FULL_SIZE]
  if bad:
    parser.error(f"unknown datasets {bad}; allowed: {', '.join(FULL_SIZE)}")
  sizes = sorted(int(s) for s in args.sizes.split(","))
  if not sizes or sizes[0] < 100 or sizes[-1] > 9000:
    parser.error(f"--sizes must lie in [100, 9000], got {args.sizes!r}")
  if args.seeds < 2:
    parser.error(f"--seeds must be >= 2 for an interval, got {args.seeds}")
  out = args.out or RESULTS / ("learning_curve_quick.json" if args.quick else "learning_curve.json")
  results = kept_results(out, datasets)
  machine = {"platform": platform.platform(), "cpu_count": os.cpu_count(),
             "jax": jax.__version__, "device": jax.devices()[0].device_kind}
  for dataset in datasets:
    rows = []
    for size in sizes:
      load_before = os.getloadavg()[0]
      row = run_size(dataset, size, args.seeds, Path(args.data_dir), args.quick)
      row["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
      rows.append(row)
      s = row["summary"]
      print(f"{dataset} n={row['train_examples']:5d}: test {s['mean']:.4f} ± {s['ci']:.4f} "
            f"({row['train_seconds']:.0f} s)", flush=True)
    results[dataset] = {"sizes": rows, "fit": fit_power_law(rows, FULL_SIZE[dataset]),
                        "bar": BAR[dataset], "settings": vars(args) | {"out": str(out)},
                        "machine": machine}
    _print_fit(dataset, results[dataset]["fit"])
    write_json_atomic(out, {"results": results}, indent=1, sort_keys=False)
  plot(results, out.with_suffix(".png"))
  print(f"wrote {out} and {out.with_suffix('.png')}")


def kept_results(out: Path, datasets: list[str]) -> dict:
  """The entries of an existing results file for datasets not being run now (a run of one
  dataset adds to the file instead of replacing the other's curve); each keeps the
  settings and machine it was measured with."""
  saved = read_json(out)
  if saved is None:
    return {}
  kept = {}
  for dataset, entry in saved["results"].items():
    if dataset not in datasets:
      kept[dataset] = {"settings": saved.get("settings"), "machine": saved.get("machine"),
                       **entry}
  return kept


def _print_fit(dataset: str, fit: dict) -> None:
  print(f"{dataset}: error × {fit['error_ratio_per_doubling']:.3f} per doubling of n; "
        f"extrapolated to n = {fit['extrapolated_at']:,}: {fit['extrapolated_accuracy']:.3f} "
        f"(bar {BAR[dataset]}; an extrapolation)", flush=True)


if __name__ == "__main__":
  main()
