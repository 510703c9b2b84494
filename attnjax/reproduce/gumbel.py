"""Finding (iv): Gumbel-softmax with τ < 1 gives more skewed attention than softmax.

`finding_4` measures it on a `Lab`'s cells; `figures` draws its result.
"""

from __future__ import annotations

from attnjax.analysis.summary import seed_summary
from attnjax.reproduce.figures import errors, panel, tau_bars
from attnjax.reproduce.lab import TAU_UNDEFINED, Lab
from attnjax.reproduce.verdicts import judge


def cells(lab: Lab) -> dict[str, dict]:
  """The cells finding iv reads: {name: `TrainConfig` changes}."""
  plan = {"bilstm-additive": {"model.attention": "additive"}}
  for temperature in lab.temperatures:
    plan[f"bilstm-additive-gumbel-{temperature:g}"] = {"model.normalizer": "gumbel",
                                                       "model.temperature": temperature}
  return plan


def finding_4(lab: Lab) -> dict:
  """(iv) Gumbel-softmax with τ < 1 gives more skewed attention than softmax."""
  row_names = ["softmax"] + [f"gumbel τ={temperature:g}" for temperature in lab.temperatures]
  cells_ = {row: lab.cell(name, **changes)
            for row, (name, changes) in zip(row_names, cells(lab).items())}
  rows = {name: {"entropy": seed_summary(c["stats_entropy"].mean(1)),
                 "max": seed_summary(c["stats_max"].mean(1)),
                 "accuracy": seed_summary(c["accuracy"]),
                 "tau": seed_summary(c["tau"], undefined=TAU_UNDEFINED)}
          for name, c in cells_.items()}
  out = {"title": "Gumbel-softmax (finding iv)", "rows": rows}
  return {**out, **judge(4, out)}


def figures(finding: dict) -> dict:
  """{"finding4": Figure}."""
  fig, ax = panel()
  rows = finding["rows"]
  names = tau_bars(ax, rows, finding["title"])
  ax2 = ax.twinx()
  entropy = [rows[n]["entropy"] for n in names]
  ax2.errorbar(range(len(names)), [e["mean"] for e in entropy], yerr=errors(entropy),
               fmt="o-", capsize=3, color="tab:red")
  ax2.set_ylabel("attention entropy [nats]", color="tab:red")
  return {"finding4": fig}
