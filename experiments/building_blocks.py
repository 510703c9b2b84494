"""Finding (v): encoder x attention heat map of the attention-MI Kendall tau.

  python experiments/building_blocks.py --quick                       # planted task, minutes on CPU
  python experiments/building_blocks.py --data planted,sst2,ag_news --data-dir ../shared/data --out runs/paper

Writes OUT/report.md, OUT/results.json and OUT/figures/*_finding5.png (see attnjax.reproduce).
"""

import sys

from attnjax.cli import finding_script

if __name__ == "__main__":
  sys.exit(finding_script(5))
