"""Finding (iii): when attention values are nearly equal, their order disagrees with MI's.

`finding_3` measures it on a `Lab`'s cells; `figures` draws its result.
"""

from __future__ import annotations

import numpy as np

from attnjax.analysis.summary import mean_ci, seed_summary
from attnjax.reproduce.figures import panel
from attnjax.reproduce.lab import TAU_UNDEFINED, Lab
from attnjax.reproduce.verdicts import NEAR_TIE_UNDEFINED, judge, near_tie_quartiles


def cells(lab: Lab) -> dict[str, dict]:
  """The cells finding iii reads: {name: `TrainConfig` changes}."""
  return {"bilstm-additive": {"model.attention": "additive"}}


def finding_3(lab: Lab, buckets: int = 4) -> dict:
  """(iii) When attention values are nearly equal, their order disagrees with MI's."""
  cell = lab.cell("bilstm-additive", **cells(lab)["bilstm-additive"])
  b = cell["tau"].shape[1]
  spread = cell["stats_spread"][:, :b].ravel()
  tau = cell["tau"].ravel()
  seed = np.repeat(np.arange(cell["tau"].shape[0]), b)
  keep = np.isfinite(tau)
  spread, tau, seed = spread[keep], tau[keep], seed[keep]
  left_out = int((~keep).sum())
  quartiles = near_tie_quartiles(spread, tau, seed, cell["tau"].shape[0], buckets)
  edges = quartiles["edges"]
  rows = {}
  for q in range(buckets):
    chosen = tau[quartiles["index"] == q]
    rows[f"spread q{q + 1}"] = {
        "spread_range": [float(edges[q]), float(edges[q + 1])], "tau": mean_ci(chosen),
        "tau_over_seeds": seed_summary(quartiles["seed_means"][q], undefined=NEAR_TIE_UNDEFINED),
        "examples": int(chosen.size)}
  out = {"title": "Near-ties (finding iii)", "rows": rows,
         "dropped": {"count": left_out, "of": int(keep.size), "reason": TAU_UNDEFINED},
         "scatter": {"spread": spread.tolist(), "tau": tau.tolist(), "seed": seed.tolist()}}
  return {**out, **judge(3, out)}


def figures(finding: dict) -> dict:
  """{"finding3": Figure}."""
  fig, ax = panel()
  rows = finding["rows"]
  scatter = finding["scatter"]
  ax.scatter(scatter["spread"], scatter["tau"], s=6, alpha=0.4)
  centres = [np.mean(r["spread_range"]) for r in rows.values()]
  ax.plot(centres, [r["tau"]["mean"] for r in rows.values()], "o-", color="tab:red",
          label="quartile mean")
  ax.set(xlabel="attention spread (max − min)", ylabel="Kendall τ (attention, MI)",
         title="Near-ties", xscale="log")
  ax.legend(fontsize=8)
  return {"finding3": fig}
