"""Finding (ii): learned vs frozen-random vs uniform attention (trained so, and swapped after training).

`finding_2` measures it on a `Lab`'s cells; `figures` draws its result.
"""

from __future__ import annotations

import numpy as np

from attnjax import analysis, explain
from attnjax.analysis.summary import seed_summary
from attnjax.reproduce.figures import panel, tau_bars
from attnjax.reproduce.lab import TAU_UNDEFINED, Lab
from attnjax.reproduce.verdicts import judge
from attnjax.training import load_run


def cells(lab: Lab) -> dict[str, dict]:
  """The cells finding ii reads: {name: `TrainConfig` changes}."""
  return {"bilstm-additive": {"model.attention": "additive"},
          "bilstm-additive-uniform": {"model.attention_mode": "uniform"},
          "bilstm-additive-frozen": {"frozen": ("attention",)}}


def finding_2(lab: Lab) -> dict:
  """(ii) Learned additive attention tracks MI; frozen-random and uniform do not."""
  plan = cells(lab)
  learned = lab.cell("bilstm-additive", **plan["bilstm-additive"])
  variants = {
      "learned": learned,
      "trained uniform": lab.cell("bilstm-additive-uniform", **plan["bilstm-additive-uniform"]),
      "trained frozen-random": lab.cell("bilstm-additive-frozen", **plan["bilstm-additive-frozen"]),
  }
  rows = {name: {"accuracy": seed_summary(c["accuracy"]),
                 "tau": seed_summary(c["tau"], undefined=TAU_UNDEFINED),
                 "mi_context": seed_summary(c["context_mi"])} for name, c in variants.items()}
  # Swapped after training: the learned model run with replaced attention.
  run = load_run(lab.directory / "cells" / "bilstm-additive" / "run").result
  test = lab.splits["test"].take(np.arange(len(learned["labels"])))
  b = learned["instance_mi"].shape[1]
  mask = learned["mask"]
  for mode in ("uniform", "random", "permute"):
    logits, aux = explain.ablate(run.model, run.params, test.tokens, test.lengths, mode=mode,
                                  key=lab.cell_key("bilstm-additive", f"swapped {mode}"))
    accuracy = (np.asarray(logits).argmax(-1) == test.labels[None]).mean(-1)
    tau = np.asarray(analysis.rank_correlation(np.asarray(aux.attention)[:, :b],
                                               learned["instance_mi"], mask[None, :b]))
    rows[f"swapped {mode}"] = {"accuracy": seed_summary(accuracy),
                               "tau": seed_summary(tau, undefined=TAU_UNDEFINED)}
  out = {"title": "Ablation (finding ii)", "rows": rows}
  return {**out, **judge(2, out)}


def figures(finding: dict) -> dict:
  """{"finding2": Figure}."""
  fig, ax = panel()
  rows = finding["rows"]
  tau_bars(ax, rows, finding["title"])
  return {"finding2": fig}
