"""Each trained cell's accuracy on a whole split, from a `reproduce` output folder.

The analysis measures accuracy on the test examples it analyses, the first
`AnalysisSettings.eval_examples` (2,000 in the full-size presets): the whole test
split of SST-2 (872), but 2,000 of AG News 2-class's 3,800 and of IMDB's 25,000.
`split_accuracy` evaluates every cell's saved seeds on all of a split, loading
the data exactly as the cell was trained on it (the options in its run stamp),
so a published-accuracy comparison need not rest on a subset:

    from attnjax.reproduce.split_accuracy import split_accuracy
    split_accuracy("runs/imdb_full", "imdb", data_dir="../shared/data")

Nothing is trained; the cells' caches are only read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from attnjax.analysis.summary import mean_ci
from attnjax.data import SPLITS, Vocab
from attnjax.presets import load_dataset
from attnjax.training import evaluate, load_run
from attnjax.training.checkpoint import PARAMS_FILE


def split_accuracy(out, dataset: str, *, data_dir=None, split: str = "test",
                   cells=None) -> dict:
  """Per-seed accuracy of each trained cell of `out/<dataset>/cells` on the whole `split`.

  Args:
    out: a `reproduce` output folder.
    dataset: its dataset name ("imdb", "ag_news_2class", ...).
    data_dir: where the corpus files are (`source="files"`; not part of a run's
      stamp). The source, splits, length and vocabulary options are the cell's own.
    split: "train", "dev" or "test": the cell's split in that role (e.g. AG News
      2-class's test split is the test file's World and Business articles).
    cells: cell names to evaluate (None: every cell with a saved run and its
      parameters; cells still training or archived without parameters are skipped
      with a notice).

  Returns:
    {cell: {"accuracy": [S] per seed, "seeds": [S], "n": examples in the split,
    "summary": `mean_ci` of the per-seed accuracies}}, cells sorted by name.

  Raises:
    ValueError: unknown split, no cells folder, a named cell without a run or
      parameters, a run
      without the data stamp `reproduce` writes, or corpus files other than the
      cell's (its saved vocabulary differs from the one they give).
  """
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
  folder = Path(out) / dataset / "cells"
  if not folder.is_dir():
    raise ValueError(f"{folder} does not exist: is {out} a `reproduce --data {dataset}` "
                     "output folder?")
  names = sorted(p.name for p in folder.iterdir() if p.is_dir()) if cells is None \
      else list(cells)
  loaded = {}  # data_id -> splits: cells trained on the same data share one load
  results = {}
  for name in names:
    run_dir = folder / name / "run"
    if not (run_dir / "config.json").is_file():
      if cells is not None:
        raise ValueError(f"cell {name!r} has no saved run in {run_dir}")
      print(f"[split_accuracy] {dataset}/{name}: no saved run (still training?); skipped",
            file=sys.stderr)
      continue
    if not (run_dir / PARAMS_FILE).is_file():
      if cells is not None:
        raise ValueError(f"cell {name!r} has no parameters in {run_dir} (archived: "
                         "`attnjax.reproduce.archive`); evaluate it where it was trained")
      print(f"[split_accuracy] {dataset}/{name}: archived without parameters; skipped",
            file=sys.stderr)
      continue
    run = load_run(run_dir)
    data_id = run.extra.get("stamp", {}).get("data_id")
    if not isinstance(data_id, str):
      raise ValueError(f"{run_dir / 'config.json'} has no data stamp (extra.stamp.data_id): "
                       "was it written by `reproduce`?")
    if data_id not in loaded:
      options = json.loads(data_id)
      if options.pop("dataset") != dataset:
        raise ValueError(f"{run_dir} was trained on {data_id}, not on {dataset!r}")
      loaded[data_id] = load_dataset(dataset, options.pop("splits"), data_dir=data_dir,
                                     **options)
    splits = loaded[data_id]
    if run.vocab_path is not None and Vocab.load(run.vocab_path) != splits["train"].vocab:
      raise ValueError(f"{run.vocab_path} differs from the vocabulary built from "
                       f"{data_dir}: the corpus files are not the ones {name!r} was trained on")
    data = splits[split]
    accuracy = evaluate(run.result.model, run.result.params, data,
                        buckets=run.result.config.buckets)["accuracy"]
    results[name] = {"accuracy": [float(a) for a in accuracy],
                     "seeds": [int(s) for s in run.result.seeds], "n": len(data),
                     "summary": mean_ci(accuracy)}
  return results
