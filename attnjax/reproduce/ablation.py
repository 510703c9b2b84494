"""Finding (ii): learned vs frozen-random vs uniform attention (trained so, and swapped after training).

`measure` reads a `DatasetCells`'s cells, `judge` gives the verdict, `figures` draws the result.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from attnjax import analysis, explain
from attnjax.analysis.summary import seed_summary
from attnjax.fingerprint import fingerprint, module_closure
from attnjax.io import read_cache_json, write_json_atomic
from attnjax.reproduce.cells import key_stamp, load_arrays, save_arrays
from attnjax.reproduce.experiment import Experiment
from attnjax.reproduce.figures import panel, tau_bars
from attnjax.reproduce.dataset_cells import TAU_UNDEFINED, DatasetCells
from attnjax.reproduce.verdicts import (ALL_PREDICTED_RULE, all_predicted, comparison, decide,
                                       number)


def cells(lab: DatasetCells) -> dict[str, dict]:
  """The cells finding ii reads: {name: `TrainConfig` changes}."""
  return {"bilstm-additive": {"model.attention": "additive"},
          "bilstm-additive-uniform": {"model.attention_mode": "uniform"},
          "bilstm-additive-frozen": {"frozen": ("attention",)}}


SWAPS = ("uniform", "random", "permute")


def swapped_scores(run, test, learned: dict, keys: dict) -> dict:
  """The learned model run with its attention replaced after training.

  Args:
    run: the learned cell's `TrainResult` (stacked params [S, ...]).
    test: the N test examples the cell was analysed on.
    learned: the cell's analysis (`instance_mi` [S, B, T], `mask` [B, T]).
    keys: {mode: PRNG key} for each of `SWAPS`.

  Returns:
    {f"accuracy_{mode}": [S], f"tau_{mode}": [S, B] Kendall τ(swapped attention,
    learned instance MI), NaN where undefined} for each mode.
  """
  b = learned["instance_mi"].shape[1]
  mask = learned["mask"]
  out = {}
  for mode in SWAPS:
    logits, aux = explain.ablate(run.model, run.params, test.tokens, test.lengths, mode=mode,
                                  key=keys[mode])
    out[f"accuracy_{mode}"] = (np.asarray(logits).argmax(-1) == test.labels[None]).mean(-1)
    out[f"tau_{mode}"] = np.asarray(analysis.rank_correlation(
        np.asarray(aux.attention)[:, :b], learned["instance_mi"], mask[None, :b]))
  return out


def swapped_code() -> str:
  """Fingerprint of the code behind the cached swapped-attention scores."""
  return fingerprint((swapped_scores, *module_closure("attnjax.explain", "attnjax.analysis")))


def swapped(lab: DatasetCells, learned: dict) -> dict:
  """{mode: {"accuracy": [S], "tau": [S, B]}} of `swapped_scores`, computed once and cached
  in the learned cell's folder (`swapped.npz`, keyed on its analysis, keys and code), so a
  report re-derived from archived cells needs no parameters."""
  name = "bilstm-additive"
  folder = lab.folder(name)
  path, stamp_path = folder / "swapped.npz", folder / "swapped.json"
  keys = {mode: lab.cell_key(name, f"swapped {mode}") for mode in SWAPS}
  stamp = {"analysis": read_cache_json(folder / "analysis.json"),
           "keys": {mode: key_stamp(key) for mode, key in keys.items()}, "code": swapped_code()}
  if path.is_file() and read_cache_json(stamp_path) == stamp:
    scores = load_arrays(path)
  else:
    stamp_path.unlink(missing_ok=True)
    run = lab.trained(name, **cells(lab)[name])
    test = lab.splits["test"].take(np.arange(len(learned["labels"])))
    scores = swapped_scores(run, test, learned, keys)
    save_arrays(path, scores)
    write_json_atomic(stamp_path, stamp)
  return {mode: {"accuracy": scores[f"accuracy_{mode}"], "tau": scores[f"tau_{mode}"]}
          for mode in SWAPS}


def measure(lab: DatasetCells) -> dict:
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
  for mode, arrays in swapped(lab, learned).items():
    rows[f"swapped {mode}"] = {"accuracy": seed_summary(arrays["accuracy"]),
                               "tau": seed_summary(arrays["tau"], undefined=TAU_UNDEFINED)}
  return {"title": "Ablation (finding ii)", "rows": rows}


def judge(finding: dict, analysis: Mapping) -> dict:
  """(ii) learned attention's τ with instance MI exceeds every ablation's (where τ is defined)."""
  rows = finding["rows"]
  learned = rows["learned"]["tau"]
  defined = [name for name, row in rows.items() if name != "learned" and "tau" in row
             and np.isfinite(number(row["tau"].get("mean")))]
  undefined = [name for name, row in rows.items() if name != "learned" and name not in defined]
  comparisons = decide([comparison("learned", learned, name, rows[name]["tau"], measure="tau",
                                   predicted=">", paired=name.startswith("swapped"))
                        for name in defined])
  left_out = (f"; left out, τ undefined (constant attention): {', '.join(undefined)}"
              if undefined else "")
  return {"verdict": all_predicted(comparisons), "comparisons": comparisons,
          "rule": ("learned − each ablation of mean Kendall τ(attention, instance MI) per seed "
                   "(predicted > 0): paired t over seeds for the swapped rows (the same seed's "
                   "model), Welch's t for the separately trained ones, Holm over the "
                   f"{len(comparisons)}{left_out}; {ALL_PREDICTED_RULE}")}


def from_parameters(lab: DatasetCells, name: str) -> None:
  """Caches the swapped-attention scores when `name` is the learned cell (they are
  computed from its parameters)."""
  if name == "bilstm-additive":
    swapped(lab, lab.cell(name, **cells(lab)[name]))


def figures(finding: dict) -> dict:
  """{"finding2": Figure}."""
  fig, ax = panel()
  rows = finding["rows"]
  tau_bars(ax, rows, finding["title"])
  return {"finding2": fig}


EXPERIMENT = Experiment(cells=cells, measure=measure, judge=judge, draw=figures,
                        figures=(("finding2", "finding 2"),), from_parameters=from_parameters)
