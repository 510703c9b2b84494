"""Experiment 7: which explanation is faithful? ERASER's comprehensiveness and sufficiency
(AOPC over 1, 5, 10, 20, 50% of the tokens), decision flips and deletion curves for
attention, instance MI, gradient, input×gradient, integrated gradients, leave-one-out,
random rankings and (planted task) the ground truth.

  python experiments/faithfulness.py --quick                  # planted task, minutes on CPU
  python experiments/faithfulness.py --quick --data planted,sst2,ag_news_2class \
      --data-dir ../shared/data --out runs/faithfulness

On experiment 6's BiLSTM + additive and + scaled_dot cells and explained test examples
(their explainer scores are reused when cached). Writes OUT/report.md, OUT/results.json
and OUT/figures/*_finding7.png (see attnjax.reproduce.faithfulness).
"""

import sys

from attnjax.cli import finding_script

if __name__ == "__main__":
  sys.exit(finding_script(7))
