"""Analysis, arrays in and statistics out: per-position MI, rank agreement with attention,
attention statistics, summaries over seeds and comparisons between them, an estimator's
error at an operating point. Code that runs a model (ablations, instance-level perturbed
copies) is in `attnjax.explain`."""

from attnjax.analysis.agreement import agreement
from attnjax.analysis.attention_stats import attention_statistics
from attnjax.analysis.calibration import calibrate
from attnjax.analysis.compare import holm, paired, welch, welch_from_summaries
from attnjax.analysis.partial import partial_correlation
from attnjax.analysis.position_mi import LEVELS, PROJECTIONS, position_mi, project_hidden
from attnjax.analysis.ranking import (RANK_CORRELATIONS, average_ranks, kendall_tau_b,
                                      partial_tau, precision_at_k, rank_correlation, spearman_rho)
from attnjax.analysis.summary import (mean_ci, nanmean, seed_summary, student_t_cdf,
                                     student_t_quantile, student_t_two_sided_p)
