"""Finding (iii): near-equal attention values rank positions unlike MI (Kendall tau by attention spread).

  python experiments/near_ties.py --quick                       # planted task, minutes on CPU
  python experiments/near_ties.py --data planted,sst2,ag_news --data-dir ../shared/data --out runs/paper

Writes OUT/report.md, OUT/results.json and OUT/figures/*_finding3.png (see attnjax.reproduce).
"""

import sys

from attnjax.cli import finding_script

if __name__ == "__main__":
  sys.exit(finding_script(3))
