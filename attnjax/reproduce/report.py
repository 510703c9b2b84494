"""report.md and each experiment's PNG figures (`attnjax.reproduce.findings.EXPERIMENTS`), from
the findings' JSON-able results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from attnjax.io import write_atomic
from attnjax.reproduce import figures
from attnjax.reproduce.findings import EXPERIMENTS


def _number(value) -> float:
  return float("nan") if value is None else float(value)


def _fmt(summary: dict) -> str:
  """A table cell: "mean ± CI (n=…)"; a published figure as "value (published)"; "—" if absent."""
  if not summary:  # this row does not measure this column
    return "—"
  if "positions" in summary:  # finding i: how many positions have an MI estimate
    low, high = summary["min_over_seeds"], summary["max_over_seeds"]
    return f"{low}{'' if low == high else f'–{high}'} of {summary['positions']}"
  if "bias" in summary:  # finding i: the estimator's error at the operating point
    return (f"bias {_signed(_number(summary['bias']))} ± {_number(summary['spread']):.3f} "
            f"(truth {_number(summary['truth']):.3f}, null {_signed(_number(summary['null']))}; "
            f"{summary.get('method')}, t = {summary.get('position')}, N = {summary.get('n')})")
  mean, ci = _number(summary.get("mean")), _number(summary.get("ci"))
  if summary.get("published"):
    return f"{mean:.3f} (published)"
  n = summary.get("n")
  count = "" if n is None else f" (n={int(n)})"
  if not np.isfinite(mean):
    return f"undefined{count}"
  return (f"{mean:.3f} ± {ci:.3f}" if np.isfinite(ci) else f"{mean:.3f}") + count


def _left_out(summary: dict) -> str | None:
  """What a summary left out, in words, or None when nothing was."""
  parts = []
  dropped = int(summary.get("dropped") or 0)
  if dropped:
    parts.append(f"{dropped} of {dropped + int(summary.get('n') or 0)} per-seed value(s) "
                 "undefined and left out of the interval")
  values = summary.get("values")
  if values and values["defined"] < values["total"]:
    parts.append(f"{values['total'] - values['defined']} of {values['total']} values "
                 "undefined and left out of the per-seed means")
  if not parts:
    return None
  reason = summary.get("undefined")
  return "; ".join(parts) + (f" ({reason})" if reason else "")


def _signed(value: float) -> str:
  return f"{value:+.3f}" if np.isfinite(value) else "undefined"


def _p(value: float) -> str:
  if not np.isfinite(value):
    return "undefined"
  return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def format_comparison(c: dict) -> str:
  """One comparison in words: "a − b (measure): +0.012 [-0.004, +0.028], Welch t(7.6) = 1.73,
  p = 0.122, Holm p = 0.244, n = 5 / 5 → inconclusive"."""
  difference = _number(c["difference"])
  low, high = (_number(x) for x in c["ci"])
  interval = (f"[{_signed(low)}, {_signed(high)}]" if np.isfinite(low) and np.isfinite(high)
              else "[no interval: fewer than 2 values]")
  adjusted = [_number(x) for x in c.get("ci_adjusted", (np.nan, np.nan))]
  if c.get("family", 1) > 1 and all(np.isfinite(adjusted)):
    interval += (f" (Bonferroni over {c['family']}: [{_signed(adjusted[0])}, "
                 f"{_signed(adjusted[1])}])")
  name = {"welch": "Welch t", "one-sample": "one-sample t"}.get(c["test"], "paired t")
  test = f"{name}({_number(c['dof']):.1f}) = {_number(c['t']):.2f}" if np.isfinite(
      _number(c["t"])) else name
  n_a, n_b = c["n"]
  count = {"welch": f"n = {n_a} / {n_b}", "one-sample": f"n = {n_a}"}.get(c["test"],
                                                                       f"n = {n_a} pairs")
  dropped = [int(d) for d in c.get("dropped", (0, 0))]
  if any(dropped):
    count += (f" ({dropped[0]} / {dropped[1]} undefined left out)" if c["test"] == "welch"
              else f" ({dropped[0]} pair(s) with an undefined value left out)")
  holm = "" if "p_holm" not in c else f", Holm p = {_p(_number(c['p_holm']))}"
  predicted = "" if not c.get("predicted") else f" (predicted {c['predicted']})"
  note = f" [{c['note']}]" if c.get("note") else ""
  return (f"{c['a']} − {c['b']} ({c['measure']}): {_signed(difference)} {interval}, {test}, "
          f"p = {_p(_number(c['p']))}{holm}, {count} → {c.get('outcome', '?')}{predicted}{note}")


def _comparisons(finding: dict) -> list[str]:
  """The comparisons behind a verdict (and finding i's robustness check), one bullet each."""
  lines = []
  for title, comparisons in (("Comparisons", finding.get("comparisons")),
                             ("Other methods against random, a separate family",
                              finding.get("comparisons_random")),
                             ("Comparisons with attention, a separate family",
                              finding.get("comparisons_attention")),
                             ("Without the length control, a separate family, not part of the "
                              "verdict", finding.get("comparisons_uncontrolled")),
                             ("Robustness comparisons, not part of the verdict",
                              finding.get("robustness", {}).get("comparisons"))):
    if comparisons:
      level = f"{comparisons[0].get('level', 0.95):.0%}"
      count = len(comparisons)
      adjusted = (" (unadjusted) and, in brackets after it, the Bonferroni interval at the "
                  "family's size" if count > 1 else "")
      lines += [f"{title} (difference of means, its {level} interval{adjusted}, two-sided p and "
                f"Holm's p over {count} comparison{'s' if count > 1 else ''}; significant when "
                f"Holm p < {comparisons[0].get('alpha', 0.05):g}):", ""]
      lines += [f"- {format_comparison(c)}" for c in comparisons] + [""]
  return lines


def _table(rows: dict) -> list[str]:
  """A markdown table of `rows`, then a note for every cell that left values out."""
  columns = []
  for row in rows.values():
    columns += [k for k, v in row.items() if isinstance(v, dict) and (
        "mean" in v or "positions" in v or "bias" in v) and k not in columns]
  lines = ["| cell | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
  notes = []
  for name, row in rows.items():
    cells = []
    for column in columns:
      text = _fmt(row.get(column, {}))
      note = _left_out(row.get(column, {}))
      if note:
        notes.append(f"{name}, {column}: {note}.")
        text += f" [{len(notes)}]"
      cells.append(text)
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
  if notes:
    lines += [""] + [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
  return lines


ESTIMATORS = {"mixed_ksg": "Ross's mixed k-NN estimator (mixed_ksg)",
              "crossfit_probe": "the cross-fitted linear probe bound (crossfit_probe)",
              "probe": "the held-out linear probe bound (probe)"}


def _estimator(meta: dict) -> str:
  method = (meta.get("analysis") or {}).get("dataset_method", "mixed_ksg")
  robust = (meta.get("analysis") or {}).get("robustness_method")
  text = ESTIMATORS.get(method, method)
  if robust:
    text += f", checked with {ESTIMATORS.get(robust, robust)}"
  if (method, robust) == ("mixed_ksg", "crossfit_probe"):
    text += (" (the defaults, chosen by their error measured on Gaussian surrogates of the "
             "planted task's states: `benchmarks/calibrate_planted.py`)")
  return text


def _perturbation(meta: dict) -> str:
  """How the run's instance-level MI perturbed each example, in words."""
  settings = meta.get("analysis") or {}
  k = settings.get("num_samples")
  copies = f"{k} perturbed copies: " if k else ""
  kind, scale, rate = (settings.get(name) for name in ("perturbation", "scale", "rate"))
  gaussian = f"Gaussian noise of σ {scale:g} on the input embeddings" if scale else "Gaussian noise"
  dropped = f"tokens replaced by <unk> at rate {rate:g}" if rate else "tokens dropped"
  if kind == "auto":
    return f"{copies}{dropped}, or {gaussian} for the embedding encoder"
  return copies + (dropped if kind == "dropout" else gaussian)


def _test_examples(meta: dict) -> str:
  """The sentence saying which test examples accuracy and the dataset-level numbers are over."""
  n = meta.get("analysis", {}).get("eval_examples")
  if n is None:  # results written before the analysis settings were recorded
    return ""
  return (f"Accuracy, attention statistics and dataset-level MI are over the first {n:,} test "
          "examples (all of them when the test split is smaller); "
          "`python experiments/split_accuracy.py OUT --data NAME` evaluates every cell on the "
          "whole split. ")


def _intervals(meta: dict) -> str:
  """What every interval of the report covers, in words."""
  seeds = meta.get("seeds")
  return ("Every interval is over seeds: the variation between models trained with different "
          "seeds on the same data, measured on the same test and explained examples (a "
          "per-example statistic is first averaged over a seed's examples); it does not cover "
          "another draw of test examples or another training set. "
          + (f"With n = {seeds} seeds no distribution-free test can reach p < 0.05 (the "
             f"smallest two-sided p of a sign or rank test over {seeds} values is "
             f"{2 / 2 ** seeds:.2g}); the t-tests used assume per-seed values near normal. "
             if isinstance(seeds, int) and 2 ** seeds < 40 else ""))


def _header(meta: dict) -> list[str]:
  """The report's title and the paragraph saying what every number is."""
  preset = meta["preset"]
  return ["# attnjax reproduce: do attention weights track I(h_t ; output)?", "",
           f"Seeds per cell: {meta['seeds']}; mode: {preset}. "
           "Numbers are mean ± half-width of the 95% Student-t interval over seeds, with n the "
           "number of values it is over; values that are undefined (NaN) are left out and "
           "counted in a numbered note under the table. "
           f"{_intervals(meta)}"
           f"{_test_examples(meta)}τ is Kendall's τ-b between a model's attention weights and "
           f"its instance-level MI I(h_t ; output) per example ({_perturbation(meta)}, k-NN "
           "estimator on the readout projection of h_t; see `attnjax.explain.InstanceMI` and "
           "`attnjax.analysis.position_mi`). Dataset-level MI is I(h_t ; predicted label) by "
           f"{_estimator(meta)}. Finding i's calibration columns give each estimator's "
           "measured error at that cell's operating point (`attnjax.analysis.calibrate`): "
           "bias (mean estimate − truth) ± spread (std over surrogate draws) on Gaussian "
           "surrogates with the cell's class means, pooled within-class covariance and class "
           "counts at the same N and D (seed 0's states at position t, the median-sampled "
           "position), their known MI (truth), and the estimate on shuffled labels (null, truth "
           "0). Verdicts come from comparisons over seeds (the "
           "difference of two cells' means, its 95% interval, Welch's t for separately trained "
           "cells or the paired t where both values come from the same seed's model, and "
           "Holm's adjustment over a finding's comparisons); a verdict is **inconclusive** "
           "when no comparison separates the cases (`attnjax.reproduce.verdicts`).", ""]


def _finding_section(out: Path, dataset: str, number: str, finding: dict) -> list[str]:
  """One finding's heading, rule, comparisons, notes, table and figures."""
  lines = [f"### {finding['title']}: **{finding['verdict']}**", "",
           f"Rule: {finding['rule']}.", ""]
  lines += _comparisons(finding)
  if finding.get("summary"):
    lines += ["In words:", ""] + [f"- {sentence}." for sentence in finding["summary"]] + [""]
  if finding.get("rederived"):
    lines += [f"Measured again with the current code from {finding['rederived']['from']}, "
              "nothing trained or analysed again (`experiments/rederive.py`); the verdict "
              f"was **{finding['rejudged']['previous_verdict']}** by the rule of its run.",
              ""]
  elif finding.get("rejudged"):
    lines += [f"Re-judged from the stored summaries without re-running anything "
              f"(`attnjax.reproduce.rejudge`); the verdict was "
              f"**{finding['rejudged']['previous_verdict']}** by the rule of its run.", ""]
  if finding.get("note"):
    lines += [f"{finding['note']}.", ""]
  lines += _table(finding["rows"]) + [""]
  if finding.get("dropped", {}).get("count"):
    dropped = finding["dropped"]
    lines += [f"Left out: {dropped['count']} of {dropped['of']} values "
              f"({dropped['reason']}).", ""]
  for name, caption in EXPERIMENTS[int(number)].figures:
    figure = f"figures/{dataset}_{name}.png"
    if (out / figure).is_file():
      lines += [f"![{caption}]({figure})", ""]
  return lines


def write_report(out: Path, results: dict, meta: dict) -> Path:
  """Writes `out/report.md`: per dataset, a table and verdict per finding."""
  lines = _header(meta)
  for dataset in list(results) + [d for d in meta.get("missing", {}) if d not in results]:
    findings = results.get(dataset, {})
    lines += [f"## Dataset: {dataset}", ""]
    for number, cells in sorted(meta.get("missing", {}).get(dataset, {}).items(),
                                key=lambda kv: int(kv[0])):
      lines += [f"**Experiment {number} left out**: its cells {', '.join(cells)} failed on "
                "their Ray workers (tracebacks in the driver's output); re-run the same "
                "command to resume.", ""]
    for number, finding in sorted(findings.items(), key=lambda kv: int(kv[0])):
      lines += _finding_section(out, dataset, number, finding)
    tokens = f"figures/{dataset}_tokens.png"
    if (out / tokens).is_file():
      lines += ["### Attention vs instance MI on a few examples", "", f"![tokens]({tokens})", ""]
  return write_atomic(out / "report.md", "\n".join(lines))


def write_figures(out: Path, dataset: str, findings: dict, example_cell: dict | None,
                  vocab=None) -> list[Path]:
  """The figures of every experiment in `findings` (`EXPERIMENTS[n].draw`) and the coloured
  words of `example_cell` (`figures.token_figure`, decoded with `vocab`); returns the paths
  written.

  Every mean over seeds is drawn with its 95% interval over seeds (a band for
  per-position MI curves, error bars for per-cell values).
  """
  written = []
  folder = out / "figures"
  for number, finding in findings.items():
    for name, fig in EXPERIMENTS[int(number)].draw(finding).items():
      written.append(figures.save(fig, folder / f"{dataset}_{name}.png"))
  if example_cell is not None:
    written.append(figures.save(figures.token_figure(example_cell, vocab),
                                folder / f"{dataset}_tokens.png"))
  return written
