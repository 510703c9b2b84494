"""Accuracy of every trained cell of a `reproduce` run on a whole split (default: test).

  python experiments/split_accuracy.py runs/imdb_full --data imdb --data-dir ../shared/data

The report's accuracy is measured on the first `eval_examples` test examples (2,000 in
the full-size presets); this evaluates each cell's seeds on all of the split, with the
data options stored in the cell. Prints a table and writes
OUT/<dataset>_<split>_accuracy.json (strict JSON, atomically), keeping the entries
of cells it cannot evaluate now (archived without parameters: a run split over
machines evaluates each cell where it was trained). Nothing is trained.
"""

import argparse
import sys
from pathlib import Path

from attnjax.io import read_json, write_json_atomic
from attnjax.reproduce.split_accuracy import SPLITS, split_accuracy


def earlier(path: Path, dataset: str, split: str) -> dict:
  """The cells of an existing results file (kept for cells that are archived without
  parameters: a run split over machines evaluates each cell on the machine that trained
  it); {} if there is none."""
  if not path.is_file():
    return {}
  saved = read_json(path)
  if (saved.get("dataset"), saved.get("split")) != (dataset, split):
    raise ValueError(f"{path} holds {saved.get('dataset')}/{saved.get('split')}, not "
                     f"{dataset}/{split}")
  return saved["cells"]


def update(path: Path, dataset: str, split: str, evaluated: dict, kept=()) -> dict:
  """Writes `path` (strict JSON, atomically): the cells already in the results files
  `kept` and `path` (`earlier`; `path`'s over `kept`'s) with the `evaluated` ones over
  them, sorted by name; returns those cells."""
  cells = {name: result for file in (*kept, path)
           for name, result in earlier(file, dataset, split).items()}
  cells = dict(sorted({**cells, **evaluated}.items()))
  write_json_atomic(path, {"dataset": dataset, "split": split, "cells": cells})
  return cells


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("out", help="a `reproduce` output folder")
  parser.add_argument("--data", required=True, help="its dataset (imdb, sst2, ag_news_2class, ...)")
  parser.add_argument("--data-dir", default=None, help="folder of the corpus files")
  parser.add_argument("--split", default="test", choices=SPLITS)
  args = parser.parse_args(argv)
  path = Path(args.out) / f"{args.data}_{args.split}_accuracy.json"
  results = update(path, args.data, args.split,
                   split_accuracy(args.out, args.data, data_dir=args.data_dir, split=args.split))
  print(f"| cell | {args.split} accuracy, mean ± 95% CI over seeds | per seed | examples |")
  print("|---|---|---|---|")
  for name, r in results.items():
    s = r["summary"]
    print(f"| {name} | {s['mean']:.3f} ± {s['ci']:.3f} (n={s['n']}) | "
          f"{', '.join(f'{a:.4f}' for a in r['accuracy'])} | {r['n']:,} |")
  print(f"written: {path}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
