"""Experiment 6: attention and instance MI beside gradient, input×gradient, integrated
gradients and leave-one-out, with Jain & Wallace's (2019) BiLSTM table side by side.

  python experiments/explanations.py --quick                  # planted task, minutes on CPU
  python experiments/explanations.py --quick --data planted,sst2,ag_news,ag_news_2class,imdb \
      --data-dir ../shared/data --out runs/explanations

For BiLSTM + additive and BiLSTM + scaled_dot (5 seeds each, shared with finding i's
cells): test accuracy, mean Kendall τ-b of attention and of instance MI with gradient and
leave-one-out (gradient–LOO as the reference agreement), precision@k against planted tokens,
and counterfactual attention's JSD vs the learned attention's max weight. Writes
OUT/report.md, OUT/results.json, OUT/figures/*_finding6.png and *_explanations_tokens.png
(see attnjax.reproduce.explanations).
"""

import sys

from attnjax.cli import finding_script

if __name__ == "__main__":
  sys.exit(finding_script(6))
