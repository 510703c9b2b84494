"""Measure stored results again with the current experiment code, from the arrays they kept.

`attnjax rejudge` recomputes verdicts from a results.json's summaries. When an
experiment's *measurement* changes (a statistic added or replaced), the summaries are
not enough: `rederive(directory)` recomputes finding iii and experiment 6 from the cell
arrays an archive carries (`attnjax.reproduce.archive`: `analysis.npz`,
`explanations.npz` under `<directory>/<dataset>/cells/<cell>/`), with the same
functions a run uses (`near_ties.summarize`, `explanations.summarize`), then re-judges every
finding and rewrites results.json, report.md and the two experiments' figures. Nothing
is trained or analysed again, so no code fingerprint needs to match.

Where a result kept no arrays (no archived cells), what can be
rebuilt from results.json is:

- finding iii: each seed's spread and τ from the stored scatter (seed-major, with seed
  indices) and each explained example's length from the test split, loaded with the
  result's preset (`data_dir` needed); refused unless every seed has the same number of
  points as there are explained examples (a dropped point's example is unknown);
- experiment 6: the agreement matrix's means of the new rows (per-seed values were not
  stored: no interval, and experiment 6's `judge` leaves them out of its comparisons).

Each re-derived finding records how ("rederived").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from attnjax.io import nan_for_null, read_json, write_json_atomic
from attnjax.models.encoders import sequence_mask
from attnjax import presets
from attnjax.reproduce import explanations, near_ties
from attnjax.reproduce.cells import load_arrays
from attnjax.reproduce.rejudge import rejudge_results
from attnjax.reproduce.report import write_figures, write_report

FROM_ARRAYS = "the archived cell arrays"


def _cell(directory: Path, dataset: str, name: str, file: str) -> dict | None:
  path = directory / dataset / "cells" / name / file
  return load_arrays(path) if path.is_file() else None


def test_lengths(dataset: str, meta: dict, data_dir) -> np.ndarray:
  """The test split's lengths [N] as the result's preset loads them (files source)."""
  preset = meta.get("preset", "quick" if meta.get("quick") else "full")
  options = presets.data_options(dataset, preset, "files")
  names = options.pop("splits")
  return presets.load_dataset(dataset, names, data_dir=data_dir, **options)["test"].lengths


def near_ties_cell(stored: dict, lengths, seeds: int | None = None,
                   explained: int | None = None) -> dict:
  """Finding iii's arrays rebuilt from a stored scatter and the explained examples' lengths.

  `seeds` and `explained` (S and B of the run) place a scatter stored without seed indices
  when it holds S × B points, none left out: it was written in seed order.

  Raises:
    ValueError: the scatter has no seed indices, or a seed's points are not one per
      explained example (a point left out as undefined cannot be placed).
  """
  scatter = stored.get("scatter", {})
  size = len(scatter.get("tau", []))
  if "seed" in scatter:
    seed = np.asarray(scatter["seed"], int)
  elif seeds and explained and size == seeds * explained and not (
      stored.get("dropped") or {}).get("count"):
    seed = np.repeat(np.arange(seeds), explained)  # none left out: stored in seed order
  else:
    raise ValueError(f"finding iii's scatter has no seed indices and its {size} points are "
                     f"not {seeds} seeds × {explained} explained examples")
  seeds = int(seed.max()) + 1
  counts = np.bincount(seed, minlength=seeds)
  if len(set(counts.tolist())) != 1 or (stored.get("dropped") or {}).get("count"):
    raise ValueError(f"finding iii's scatter has {counts.tolist()} points per seed with some "
                     "left out as undefined: the example of each point is unknown")
  b = int(counts[0])
  if b > len(lengths):
    raise ValueError(f"{b} explained examples per seed but the test split has {len(lengths)}")
  order = np.argsort(seed, kind="stable")
  spread = np.asarray(nan_for_null(scatter["spread"]), np.float64)[order].reshape(seeds, b)
  tau = np.asarray(nan_for_null(scatter["tau"]), np.float64)[order].reshape(seeds, b)
  lengths = np.asarray(lengths[:b])
  return {"stats_spread": spread, "tau": tau,
          "mask": np.asarray(sequence_mask(lengths, int(lengths.max())))}


def _jain_wallace_rows(stored: dict, dataset: str) -> dict:
  """Experiment 6 from a stored result without arrays: the new rows from its agreement
  matrix's means (no per-seed values), the reference rows rebuilt."""
  finding = dict(stored)
  rows = {name: row for name, row in stored["rows"].items() if "Jain & Wallace" not in name}
  for attention, table in stored["agreement"].items():
    row = dict(rows[f"bilstm + {attention}"])
    methods, mean = table["methods"], np.asarray(nan_for_null(table["mean"]), np.float64)
    seeds = row["accuracy"]["n"]
    for a, b in explanations.PAIRS:
      name = f"τ {a}–{b}"
      if name not in row:
        row[name] = {"mean": float(mean[methods.index(a), methods.index(b)]), "ci": np.nan,
                     "n": seeds, "std": np.nan, "dropped": 0,
                     "source": "the stored agreement matrix's mean; per-seed values not stored"}
    rows[f"bilstm + {attention}"] = {k: row[k] for k in _row_order(row)}
    reference = explanations.reference_row(dataset, attention)
    if reference:
      rows[f"bilstm + {attention} (Jain & Wallace 2019)"] = reference
  finding["rows"] = rows
  finding["note"] = explanations.REFERENCE_NOTE
  return finding


def _row_order(row: dict) -> list[str]:
  """Experiment 6's columns in `explanations.PAIRS` order, the rest after."""
  pairs = [f"τ {a}–{b}" for a, b in explanations.PAIRS]
  return (["accuracy"] + [k for k in pairs if k in row]
          + [k for k in row if k != "accuracy" and k not in pairs])


def rederive_findings(directory, document: dict, *, data_dir=None) -> dict:
  """{dataset: {finding number: re-derived finding}} for findings 3 and 6 of `document`."""
  directory = Path(directory)
  meta, out = document.get("meta", {}), {}
  for dataset, findings in document["results"].items():
    out[dataset] = {}
    if "3" in findings:
      arrays = _cell(directory, dataset, "bilstm-additive", "analysis.npz")
      how = FROM_ARRAYS
      if arrays is None:
        arrays = near_ties_cell(findings["3"], test_lengths(dataset, meta, data_dir),
                                meta.get("seeds"),
                                (meta.get("analysis") or {}).get("explain_examples"))
        how = "the stored scatter and the test split's lengths"
      out[dataset]["3"] = {**near_ties.summarize(arrays), "rederived": {"from": how}}
    if "6" in findings:
      stored = findings["6"]
      scores = {a: _cell(directory, dataset, f"bilstm-{a}", "explanations.npz")
                for a in explanations.ATTENTIONS}
      if all(s is not None for s in scores.values()):
        finding = explanations.summarize(scores, dataset, examples=stored.get("examples"))
        how = FROM_ARRAYS
      else:
        finding = _jain_wallace_rows(stored, dataset)
        how = "the stored agreement matrix (means only)"
      out[dataset]["6"] = {**finding, "rederived": {"from": how}}
  return out


def rederive(directory, *, data_dir=None) -> list[dict]:
  """Re-derives findings 3 and 6 of `directory/results.json`, re-judges every finding and
  rewrites results.json, report.md and the re-derived findings' figures (atomically).

  Returns:
    {"dataset", "finding", "before", "after"} per finding (the verdicts).
  """
  directory = Path(directory)
  document = read_json(directory / "results.json")
  if document is None:
    raise ValueError(f"{directory} holds no results.json to re-derive")
  new = rederive_findings(directory, document, data_dir=data_dir)
  results = {}
  for dataset, findings in document["results"].items():
    results[dataset] = {}
    for number, finding in findings.items():
      if number in new[dataset]:
        previous = finding.get("rejudged", {}).get("previous_verdict", finding.get("verdict"))
        finding = {**new[dataset][number], "rejudged": {"previous_verdict": previous}}
      results[dataset][number] = finding
  document, changes = rejudge_results({**document, "results": results})
  write_json_atomic(directory / "results.json", document, sort_keys=False)
  for dataset, findings in new.items():
    if findings:
      write_figures(directory, dataset, {n: document["results"][dataset][n] for n in findings},
                    None)
  write_report(directory, document["results"], document.get("meta", {}))
  return changes
