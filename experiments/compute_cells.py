"""Compute a reproduction's cells one at a time, archiving each as it finishes.

  python experiments/compute_cells.py runs/imdb --data imdb --preset paper --seeds 3 \
      --data-dir ../shared/data --archive experiments/results/imdb_full_pending \
      --cells embedding-additive,embedding-deep,bilstm-additive
  python experiments/compute_cells.py runs/imdb --data imdb --preset paper --seeds 3 --list

For a corpus whose cells outlast the machine (an IMDB cell trains for about an hour on 2
CPU cores): each named cell is trained and analysed as `attnjax reproduce` would
(`attnjax.reproduce.dataset_cells`, the same folders, keys and stamps), then every
measurement the experiments read from its parameters is cached (swapped attention,
explanations, faithfulness: `attnjax.reproduce.compute_cell`), its accuracy on the whole
test split is added to OUT/<dataset>_test_accuracy.json (keeping the entries already there
and in the archive's copy), and, with --archive, the cell and that file are archived
(`attnjax.reproduce.archive`). Nothing a later run needs the parameters for is left, so `attnjax reproduce` with the same options, run on the
restored archive, retrains nothing and writes the report.

Run it from the code that is to compute every cell (a worktree of one commit, with
PYTHONPATH pointing at it): the first line printed names the package it imported.
"""

import argparse
import sys
import time
from pathlib import Path

import attnjax
from attnjax.io import write_atomic
from attnjax.reproduce import ReproduceOptions, compute_cell, dataset_cells
from attnjax.reproduce.archive import archive_cells
from attnjax.reproduce.split_accuracy import split_accuracy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from split_accuracy import update  # noqa: E402  (the script beside this one)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("out", help="the `reproduce --out` folder the cells are computed in")
  parser.add_argument("--data", required=True, help="one dataset (imdb, sst2, ...)")
  parser.add_argument("--preset", default="paper")
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--only", default=None,
                      help="the experiments whose cells and measurements count (default all)")
  parser.add_argument("--data-dir", default=None)
  parser.add_argument("--cells", default=None, help="comma-separated cell names, in order")
  parser.add_argument("--list", action="store_true", help="print the plan's cells and exit")
  parser.add_argument("--archive", default=None, help="archive folder, updated after each cell")
  args = parser.parse_args(argv)
  only = None if args.only is None else tuple(int(n) for n in args.only.split(","))
  options = ReproduceOptions(data=(args.data,), preset=args.preset, seeds=args.seeds,
                             only=only, data_dir=args.data_dir)
  start = time.time()
  log = lambda message: print(f"[compute_cells {time.time() - start:6.0f}s] {message}",
                              file=sys.stderr, flush=True)
  log(f"attnjax from {Path(attnjax.__file__).parent}")
  lab, plan = dataset_cells(args.out, args.data, options, log)
  if args.list:
    print("\n".join(plan))
    return 0
  names = [n for n in (args.cells or "").split(",") if n]
  unknown = [n for n in names if n not in plan]
  if not names or unknown:
    parser.error(f"--cells: unknown or no cell names {unknown or names}; allowed: "
                 f"{', '.join(plan)}")
  accuracy_path = Path(args.out) / f"{args.data}_test_accuracy.json"
  for name in names:
    began = time.time()
    log(f"cell {name}: computing")
    compute_cell(lab, name, plan[name], options.experiments)
    kept = [Path(args.archive) / accuracy_path.name] if args.archive else []
    accuracy = update(accuracy_path, args.data, "test",
                      split_accuracy(args.out, args.data, data_dir=args.data_dir, cells=[name]),
                      kept)
    log(f"cell {name}: done in {time.time() - began:.0f} s; test accuracy per seed "
        f"{accuracy[name]['accuracy']}")
    if args.archive:
      written = archive_cells(args.out, args.archive)
      write_atomic(Path(args.archive) / accuracy_path.name, accuracy_path.read_bytes())
      log(f"archived: {len(written)} file(s) under {args.archive}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
