"""Finding (iii): when attention values are nearly equal, their order disagrees with MI's.

Per explained example: the attention spread (largest − smallest weight over its real
tokens), τ = Kendall's τ-b between its attention and its instance MI, and its length.
Spread falls with length (more tokens share the attention) and so can τ, so a rise of τ
with spread may be length alone. The finding is therefore measured two ways, per seed:

- **length-controlled** (the verdict): the partial correlation of log spread and τ given
  log length over the seed's explained examples (`attnjax.analysis.partial_correlation`: a
  cubic in log length regressed out of both), then the one-sample t over seeds of that
  statistic (predicted > 0). Kendall's partial τ is not used: where spread and τ both
  follow length and nothing else it stays well above 0 (`tests/test_verdicts.py`);
- **uncontrolled**: each seed's examples cut into quartiles of its own spread, the mean τ
  per quartile, and the paired t over seeds of the highest − the lowest quartile.

`summarize` takes a cell's arrays (as `analysis.npz` holds them, or rebuilt from a stored
result) and returns the measurement; `measure` runs it on a `DatasetCells`'s cell; `judge` gives the
verdict; `figures` draws it.
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
import numpy as np

from attnjax.analysis import compare, kendall_tau_b, partial_correlation, seed_summary
from attnjax.reproduce.experiment import Experiment
from attnjax.reproduce.figures import figure
from attnjax.reproduce.dataset_cells import TAU_UNDEFINED, DatasetCells
from attnjax.reproduce.verdicts import NOT_JUDGED, comparison, decide, floats

QUARTILE_UNDEFINED = "a seed with no defined τ in this quartile"
LENGTH_CONTROL, PARTIAL = "length control", "partial r(log spread, τ given log length)"
"""The row holding the per-seed statistics of spread, τ and length, and the column the
verdict tests (`judge`)."""
CONTROL_UNDEFINED = ("a seed with fewer defined examples than the length control needs, or "
                     "whose spread or τ is a function of length alone")


def cells(lab: DatasetCells) -> dict[str, dict]:
  """The cells finding iii reads: {name: `TrainConfig` changes}."""
  return {"bilstm-additive": {"model.attention": "additive"}}


def measure(lab: DatasetCells, buckets: int = 4) -> dict:
  """(iii) When attention values are nearly equal, their order disagrees with MI's."""
  return summarize(lab.cell("bilstm-additive", **cells(lab)["bilstm-additive"]), buckets)


def seed_quartiles(spread, tau, buckets: int = 4) -> dict:
  """Each seed's examples in quantile buckets of its own spread, and the mean τ of each.

  Args:
    spread: <float>[S, B] attention spread of each seed's explained examples.
    tau: <float>[S, B] their τ(attention, instance MI) (NaN: undefined, left out).
    buckets: how many spread quantiles.

  Returns:
    {"index": <int>[S, B] bucket of each example (−1 where τ is undefined),
    "edges": <float64>[S, buckets + 1] each seed's quantile edges, "means":
    <float64>[buckets, S] mean τ per bucket and seed (NaN where empty), "medians":
    <float64>[buckets, S] median spread per bucket and seed, "counts": <int>[buckets, S]}.
  """
  spread, tau = np.asarray(spread, np.float64), np.asarray(tau, np.float64)
  seeds = tau.shape[0]
  index = np.full(tau.shape, -1)
  edges = np.full((seeds, buckets + 1), np.nan)
  means, medians = (np.full((buckets, seeds), np.nan) for _ in range(2))
  counts = np.zeros((buckets, seeds), int)
  for s in range(seeds):  # S ≤ a handful: host statistics, not a hot path
    keep = np.isfinite(tau[s])
    if not keep.any():
      continue
    edges[s] = np.quantile(spread[s, keep], np.linspace(0, 1, buckets + 1))
    index[s, keep] = np.clip(np.searchsorted(edges[s], spread[s, keep], side="right") - 1, 0,
                             buckets - 1)
    for q in range(buckets):
      chosen = index[s] == q
      counts[q, s] = chosen.sum()
      if chosen.any():
        means[q, s], medians[q, s] = tau[s, chosen].mean(), np.median(spread[s, chosen])
  return {"index": index, "edges": edges, "means": means, "medians": medians, "counts": counts}


def length_control(spread, tau, lengths) -> dict:
  """Per seed, how spread, τ and length go together over the explained examples.

  Args:
    spread, tau: <float>[S, B] as in `seed_quartiles`.
    lengths: <int>[B] each explained example's number of real tokens.

  Returns:
    {"τ(spread, τ)", "τ(spread, length)", "τ(τ, length)": Kendall's τ-b; PARTIAL: the
    partial correlation of log spread and τ given a cubic in log length}, each <float64>[S],
    over the examples with a defined τ (NaN where a statistic is undefined).
  """
  spread, tau = np.asarray(spread, np.float64), np.asarray(tau, np.float64)
  length = np.broadcast_to(np.asarray(lengths, np.float64), tau.shape)
  defined = np.isfinite(tau)
  rank = lambda a, b: np.asarray(kendall_tau_b(
      jnp.asarray(a, jnp.float32), jnp.asarray(np.nan_to_num(b), jnp.float32),
      jnp.asarray(defined)), np.float64)
  with np.errstate(divide="ignore"):
    log_spread = np.log(spread)
  return {"τ(spread, τ)": rank(spread, tau), "τ(spread, length)": rank(spread, length),
          "τ(τ, length)": rank(np.nan_to_num(tau), length),
          PARTIAL: partial_correlation(log_spread, tau, np.log(length), mask=defined)}


def summarize(cell: dict, buckets: int = 4) -> dict:
  """Finding iii from a cell's arrays.

  Args:
    cell: {"stats_spread": <float>[S, N], "tau": <float>[S, B] (the first B ≤ N test
      examples are the explained ones), "mask": <bool>[N, T] real positions}.
    buckets: spread quantiles per seed.

  Returns:
    The finding's JSON-able measurement (`judge` gives its verdict).
  """
  tau = np.asarray(cell["tau"], np.float64)
  seeds, b = tau.shape
  spread = np.asarray(cell["stats_spread"], np.float64)[:, :b]
  lengths = np.asarray(cell["mask"])[:b].sum(-1)
  quartiles = seed_quartiles(spread, tau, buckets)
  rows = {}
  for q in range(buckets):
    rows[f"spread q{q + 1}"] = {
        "tau": seed_summary(quartiles["means"][q], undefined=QUARTILE_UNDEFINED),
        "spread (median)": seed_summary(quartiles["medians"][q], undefined=QUARTILE_UNDEFINED),
        "examples per seed": quartiles["counts"][q].tolist()}
  rows[LENGTH_CONTROL] = {name: seed_summary(values, undefined=CONTROL_UNDEFINED)
                          for name, values in length_control(spread, tau, lengths).items()}
  keep = np.isfinite(tau)
  seed = np.broadcast_to(np.arange(seeds)[:, None], tau.shape)
  length = np.broadcast_to(lengths, tau.shape)
  return {"title": "Near-ties (finding iii)", "rows": rows,
          "dropped": {"count": int((~keep).sum()), "of": int(keep.size), "reason": TAU_UNDEFINED},
          "scatter": {"spread": spread[keep].tolist(), "tau": tau[keep].tolist(),
                      "seed": seed[keep].tolist(), "length": length[keep].astype(int).tolist()}}


def judge(finding: dict, analysis: Mapping) -> dict:
  """(iii) τ(attention, MI) rises with attention spread once length is controlled for.

  The verdict: the one-sample t over seeds of each seed's partial correlation of log
  spread and τ given a cubic in log length (predicted > 0). A separate family, not part
  of the verdict: the paired t over seeds of the highest − the lowest spread quartile's
  mean τ (quartiles within each seed), the comparison without the length control.
  """
  rows = finding["rows"]
  quartiles = [name for name in rows if name.startswith("spread q")]
  dropped = finding.get("dropped")
  over = (f"; τ over {dropped['of'] - dropped['count']} seed-examples, {dropped['count']} with "
          "undefined τ left out" if dropped else "")
  rule = ("one-sample t over seeds of each seed's partial correlation of log attention "
          "spread and τ(attention, instance MI) given a cubic in the example's log length, "
          "over its explained examples (predicted > 0): reproduced when significantly > 0, "
          "not reproduced when significantly < 0, inconclusive otherwise. Without the "
          "length control, a separate family not part of the verdict: paired t over seeds "
          "of the highest − the lowest "
          f"spread quartile's mean τ, quartiles within each seed{over}")
  uncontrolled = []
  if quartiles and all("per_seed" in rows[q].get("tau", {}) for q in quartiles):
    uncontrolled = decide([comparison(quartiles[-1], rows[quartiles[-1]]["tau"], quartiles[0],
                                      rows[quartiles[0]]["tau"], measure="mean τ per seed",
                                      predicted=">", paired=True)])
  control = rows.get(LENGTH_CONTROL, {}).get(PARTIAL)
  if control is None or "per_seed" not in control:
    return {"verdict": NOT_JUDGED, "comparisons": [], "comparisons_uncontrolled": uncontrolled,
            "rule": (f"{rule}. Not judged: these results store no per-seed {PARTIAL} (the "
                     "examples' lengths were not kept)")}
  (c,) = decide([{"a": PARTIAL, "b": "0", "measure": "per seed", "predicted": ">",
                  **compare.one_sample(floats(control["per_seed"]))}])
  verdict = {1: "reproduced", -1: "not reproduced", 0: "inconclusive"}[c["direction"]]
  return {"verdict": verdict, "comparisons": [c], "comparisons_uncontrolled": uncontrolled,
          "rule": rule}


def figures(finding: dict) -> dict:
  """{"finding3": Figure}: τ against spread (each quartile's mean over seeds with its 95%
  interval over seeds) and τ against length, the confound the verdict controls for."""
  fig, axes = figure(10.0, 3.8, 1, 2)
  rows = {k: v for k, v in finding["rows"].items() if k != LENGTH_CONTROL}
  scatter = finding["scatter"]
  left, right = axes[0]
  left.scatter(scatter["spread"], scatter["tau"], s=6, alpha=0.3)
  x = [r["spread (median)"]["mean"] for r in rows.values()]
  y = [r["tau"]["mean"] for r in rows.values()]
  error = [np.nan_to_num(r["tau"]["ci"]) for r in rows.values()]
  left.errorbar(x, y, yerr=error, fmt="o-", color="tab:red", capsize=3,
                label="quartile mean ± 95% CI over seeds")
  left.set(xlabel="attention spread (max − min)", ylabel="Kendall τ (attention, MI)",
           title="Near-ties", xscale="log")
  left.legend(fontsize=8)
  right.scatter(scatter["length"], scatter["tau"], s=6, alpha=0.3,
                c=np.log(np.maximum(scatter["spread"], 1e-12)),
                cmap="viridis")
  control = finding["rows"].get(LENGTH_CONTROL, {}).get(PARTIAL, {})
  title = "τ against length (colour: log spread)"
  if control:
    title += f"\n{PARTIAL} {control['mean']:+.3f} ± {control['ci']:.3f}"
  right.set(xlabel="example length (tokens)", ylabel="Kendall τ (attention, MI)", xscale="log",
            title=title)
  from matplotlib.ticker import NullFormatter
  for ax in (left, right):  # log axes: label the decades only, so labels never overlap
    ax.xaxis.set_minor_formatter(NullFormatter())
  return {"finding3": fig}


EXPERIMENT = Experiment(cells=cells, measure=measure, judge=judge, draw=figures,
                        figures=(("finding3", "finding 3"),))
