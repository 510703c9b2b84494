"""Finding (iv): Gumbel-softmax with temperature < 1 gives more skewed attention than softmax.

  python experiments/gumbel.py --quick                       # planted task, minutes on CPU
  python experiments/gumbel.py --data planted,sst2,ag_news --data-dir ../shared/data --out runs/paper

Writes OUT/report.md, OUT/results.json and OUT/figures/*_finding4.png (see attnjax.reproduce).
"""

import sys

from attnjax.cli import finding_script

if __name__ == "__main__":
  sys.exit(finding_script(4))
