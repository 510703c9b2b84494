"""Carry a `reproduce` run's cells between machines or output folders, without their parameters.

  python experiments/archive_cells.py archive runs/imdb_full experiments/cells/imdb_full
  python experiments/archive_cells.py restore experiments/cells/imdb_full runs/imdb_full

`archive` copies every trained cell's measurements (analysis, explanation,
faithfulness and swapped-attention arrays with their stamps; the run's config
and metrics) and leaves out parameters, vocabularies and checkpoints;
`restore` copies them back into an output folder, where `attnjax reproduce
--out` reuses each cell whose stamps match (`attnjax.reproduce.archive`).
"""

import argparse
import sys

from attnjax.reproduce.archive import archive_cells, restore_cells


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("action", choices=("archive", "restore"))
  parser.add_argument("source", help="archive: a `reproduce --out` folder; restore: an archive")
  parser.add_argument("target",
                      help="archive: the archive folder; restore: a `reproduce --out` folder")
  args = parser.parse_args(argv)
  copy = archive_cells if args.action == "archive" else restore_cells
  written = copy(args.source, args.target)
  print(f"{args.action}: {len(written)} file(s) written under {args.target}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
