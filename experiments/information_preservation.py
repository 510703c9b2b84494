"""Finding (i): Additive and Deep attention preserve more I(h_t ; output) than Scaled Dot-product.

  python experiments/information_preservation.py --quick                       # planted task, minutes on CPU
  python experiments/information_preservation.py --data planted,sst2,ag_news --data-dir ../shared/data --out runs/paper

Writes OUT/report.md, OUT/results.json and OUT/figures/*_finding1.png (see attnjax.reproduce).
"""

import sys

from attnjax.cli import finding_script

if __name__ == "__main__":
  sys.exit(finding_script(1))
