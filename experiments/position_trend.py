"""Finding (v)'s position confound: τ(attention, instance MI) with and without the shared trend along the sentence.

  python experiments/position_trend.py experiments/results/sst2_full --data sst2

Reads every encoder × attention cell's cached analysis arrays of a `reproduce` output or of
an archive of one (`experiments/archive_cells.py`; no parameters needed, nothing trained),
prints per cell τ(attention, position), τ(instance MI, position), τ(attention, instance MI) and
Kendall's partial τ of attention and MI given position (mean ± 95% CI over seeds), and the
finding's comparisons of BiLSTM + additive with the other cells on both (Welch's t, Holm);
writes OUT/<dataset>_position_trend.json (strict JSON, atomically). See
`attnjax.reproduce.position_trend`.
"""

import argparse
import sys
from pathlib import Path

from attnjax.io import write_json_atomic
from attnjax.reproduce.position_trend import markdown, position_trend


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("out", help="a `reproduce` output folder or an archive of one")
  parser.add_argument("--data", required=True, help="its dataset (sst2, imdb, ag_news_2class, ...)")
  args = parser.parse_args(argv)
  result = position_trend(args.out, args.data)
  path = Path(args.out) / f"{args.data}_position_trend.json"
  write_json_atomic(path, result)
  print(markdown(result))
  print(f"written: {path}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
