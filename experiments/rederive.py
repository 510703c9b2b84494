"""Measure stored full-size results again with the current finding iii and experiment 6 code.

  python experiments/rederive.py experiments/results/sst2_full [DIR ...] --data-dir ../shared/data

From each folder's archived cell arrays (or, without them, from what results.json kept;
see `attnjax.reproduce.rederive`), recomputes finding iii and experiment 6, re-judges every
finding with the current rules and rewrites results.json, report.md and the two experiments'
figures. Nothing is trained or analysed again. Prints each verdict as stored and as
re-judged.
"""

import argparse
import sys

from attnjax.reproduce.rederive import rederive
from attnjax.reproduce.rejudge import each_folder


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("directories", nargs="+", metavar="DIR", help="folders with a results.json")
  parser.add_argument("--data-dir", default=None,
                      help="folder of the corpus files (for results that kept no arrays)")
  args = parser.parse_args(argv)
  return each_folder(args.directories, lambda d: rederive(d, data_dir=args.data_dir), "rederive")


if __name__ == "__main__":
  sys.exit(main())
