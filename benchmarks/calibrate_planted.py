"""Finding i's estimators calibrated at the planted task's operating points, side by side.

    PYTHONPATH=. python benchmarks/calibrate_planted.py /tmp/calib_planted [--out FILE]

Reads the trained cells of a `attnjax reproduce --quick --only 1 --out DIR` run
(DIR/planted/cells/bilstm-<attention>/run), recomputes each cell's hidden
states on the same test examples, and runs `attnjax.analysis.calibrate` for
mixed_ksg, probe and crossfit_probe on seed 0's states at
`calibration_position` (the operating point `reproduce` calibrates at):
truth, bias, spread, null for each. Writes a JSON file (default
benchmarks/results/calibrate_planted.json).
"""

import argparse
import time
from pathlib import Path

import jax
import numpy as np

from attnjax import analysis
from attnjax.data.load import load_splits
from attnjax.io import write_json_atomic
from attnjax.models import ATTENTIONS
from attnjax.models.encoders import sequence_mask
from attnjax.presets import data_options
from attnjax.reproduce.cell_measurements import AnalysisSettings, calibration_position
from attnjax.training import collect, load_run

METHODS = ("mixed_ksg", "probe", "crossfit_probe")


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("directory")
  parser.add_argument("--out", default="benchmarks/results/calibrate_planted.json")
  parser.add_argument("--replicates", type=int, default=3)
  args = parser.parse_args()
  options = data_options("planted", "quick", "files")
  splits = options.pop("splits")
  test = load_splits("planted", splits, **options)[splits[2]]
  n = AnalysisSettings().eval_examples
  subset = test.take(np.arange(min(n, len(test))))
  mask = np.asarray(sequence_mask(subset.lengths, subset.max_length))
  rows = {}
  for attention in ATTENTIONS:
    run = load_run(Path(args.directory) / "planted" / "cells" / f"bilstm-{attention}" / "run")
    logits, aux = collect(run.result.model, run.result.params, subset)
    predicted = np.asarray(logits).argmax(-1).astype(np.int32)
    t = calibration_position(mask)
    h, y = np.asarray(aux.hidden[0][:, t]), predicted[0]
    rows[attention] = {}
    for method in METHODS:
      start = time.time()
      result = analysis.calibrate(h, y, method=method, key=jax.random.key(0), mask=mask[:, t],
                                  num_classes=run.result.model.num_classes,
                                  replicates=args.replicates)
      rows[attention][method] = {**result, "position": t, "seconds": time.time() - start}
      print(attention, method, {k: result[k] for k in ("truth", "bias", "spread", "null")},
            f"{time.time() - start:.0f}s", flush=True)
  write_json_atomic(Path(args.out), {"directory": str(args.directory), "rows": rows})


if __name__ == "__main__":
  main()
