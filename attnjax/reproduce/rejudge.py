"""Re-judge stored results: verdicts recomputed from a results.json, without re-running cells.

    attnjax rejudge experiments/results/sst2_quick [more folders]

reads each folder's `results.json`, recomputes every finding's verdict, rule
and comparisons from the stored summaries with today's rules
(each experiment's `judge`: Welch's t from each cell's mean, std and n; the
paired test where per-seed values are stored), and rewrites `results.json`
and `report.md` atomically (figures are kept; the file's key order, which is
the tables' row and column order, is kept). Each re-judged finding records
its previous verdict ("rejudged"); a rule that needs data the file does not
hold says so in its rule and comparisons (e.g. a paired comparison done as
Welch's t on the summaries), and finding iii's verdict is "not judged" when
the result holds no per-seed length-controlled statistic. Results whose
archived cell arrays are kept can be measured again with today's code by
`experiments/rederive.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from attnjax.io import nan_for_null, read_json, write_json_atomic
from attnjax.reproduce.explanations import REFERENCE_NOTE
from attnjax.reproduce.report import write_report
from attnjax.reproduce.findings import judge

JUDGED = ("verdict", "rule", "comparisons", "robustness", "order", "comparisons_random",
          "comparisons_attention", "comparisons_uncontrolled", "summary")
"""The keys of a finding that `judge` recomputes (the rest is kept as stored)."""


def rejudge_results(document: dict, *, mark: bool = True) -> tuple[dict, list[dict]]:
  """Every finding of a results.json document re-judged from its stored summaries.

  Args:
    document: {"meta": ..., "results": {dataset: {finding number: finding}}},
      as `attnjax reproduce` writes it (JSON null for undefined numbers is fine).
    mark: record each finding's previous verdict under "rejudged".

  Returns:
    (the new document, with NaN for undefined numbers; the input is not
    changed), and one {"dataset", "finding", "before", "after"} per finding.
  """
  if "results" not in document:
    raise ValueError("not a results.json document: it has no 'results' entry")
  meta = document.get("meta", {})
  analysis = meta.get("analysis") or {}
  results, changes = {}, []
  for dataset, findings in nan_for_null(document["results"]).items():
    results[dataset] = {}
    for number, finding in findings.items():
      kept = {k: v for k, v in finding.items() if k not in JUDGED and k != "rejudged"}
      judged = judge(int(number), kept, analysis)
      if int(number) == 6:
        kept.setdefault("note", REFERENCE_NOTE)
      before = finding.get("rejudged", {}).get("previous_verdict", finding.get("verdict"))
      results[dataset][number] = {**kept, **judged}
      if mark:
        results[dataset][number]["rejudged"] = {"previous_verdict": before}
      changes.append({"dataset": dataset, "finding": int(number), "before": before,
                      "after": judged["verdict"]})
  return {**nan_for_null(document), "results": results}, changes


def rejudge(directory) -> list[dict]:
  """Re-judges `directory/results.json` and rewrites it and `directory/report.md` (atomically).

  Returns:
    The changes, as `rejudge_results` gives them.

  Raises:
    ValueError: the folder has no results.json, or it is not a results document.
  """
  directory = Path(directory)
  document = read_json(directory / "results.json")
  if document is None:
    raise ValueError(f"{directory} holds no results.json to re-judge")
  document, changes = rejudge_results(document)
  write_json_atomic(directory / "results.json", document, sort_keys=False)  # keeps table order
  write_report(directory, document["results"], document.get("meta", {}))
  return changes


def describe(directory, changes: list[dict]) -> list[str]:
  """One line per re-judged finding, "before → after", starred where the verdict changed."""
  return [f"{'  ' if c['before'] == c['after'] else '* '}{directory} {c['dataset']} finding "
          f"{c['finding']}: {c['before']} → {c['after']}" for c in changes]


def each_folder(directories, action, name: str) -> int:
  """Runs `action(directory)` on each folder and prints its verdict changes (`describe`);
  stops at the first `ValueError` / `FileNotFoundError`, printed as "NAME: error: …".

  Returns:
    The exit code: 0, or 2 after an error.
  """
  for directory in directories:
    try:
      changes = action(directory)
    except (ValueError, FileNotFoundError) as error:
      print(f"{name}: error: {error}", file=sys.stderr)
      return 2
    print("\n".join(describe(directory, changes)))
  return 0

