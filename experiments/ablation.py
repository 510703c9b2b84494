"""Finding (ii): learned vs frozen-random vs uniform attention (trained so, and swapped after training).

  python experiments/ablation.py --quick                       # planted task, minutes on CPU
  python experiments/ablation.py --data planted,sst2,ag_news --data-dir ../shared/data --out runs/paper

Writes OUT/report.md, OUT/results.json and OUT/figures/*_finding2.png (see attnjax.reproduce).
"""

import sys

from attnjax.cli import finding_script

if __name__ == "__main__":
  sys.exit(finding_script(2))
