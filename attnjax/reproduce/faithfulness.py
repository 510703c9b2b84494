"""Experiment 7: which explanation is faithful? ERASER's comprehensiveness and sufficiency
(AOPC over bins), decision flips and deletion curves for attention, MI and every explainer.

On the BiLSTM + additive and + scaled_dot cells, the test examples experiment 6
explained are scored by `attnjax.explain.faithfulness` ("remove" mode: ERASER's
deletion, the emptied example as one `<unk>`) under every ranking experiment 6
computed (`explanations.METHODS`, its cached scores reused), under `draws`
uniformly random rankings (the chance level, averaged per example over draws)
and, on a planted task, under the ground truth (planted tokens first, the rest
in position order: the ceiling). Per-cell results are cached in
`cells/<name>/faithfulness.npz`, reused only while `faithfulness.json` (the
explanations' stamp, the PRNG key of the random rankings, the options and
`faithfulness_code()`) matches. `measure` measures, `judge` judges, `figures` draws.

Numbers are per example, averaged per seed, then summarised over seeds (mean ±
95% CI); the verdict compares, paired over seeds, every method with random
and every other method with attention (`judge`).
"""

from __future__ import annotations

import functools
from typing import Mapping

import numpy as np

from attnjax import explain
from attnjax.analysis.summary import mean_ci, nanmean, seed_summary
from attnjax.explain.faithfulness import BINS
from attnjax.fingerprint import fingerprint, module_closure
from attnjax.io import read_cache_json, write_json_atomic
from attnjax.models.encoders import sequence_mask
from attnjax.models.seeds import num_seeds
from attnjax.reproduce.cells import key_stamp, load_arrays, save_arrays
from attnjax.reproduce.experiment import Experiment
from attnjax.reproduce.explanations import ATTENTIONS, METHODS, explained_cell
from attnjax.reproduce.explanations import cells as explained_cells
from attnjax.reproduce.figures import figure
from attnjax.reproduce.verdicts import comparison, decide

MEASURES = {"comprehensiveness": "comprehensiveness (AOPC)",
            "sufficiency": "sufficiency (AOPC)",
            "flip_fraction": "flip fraction",
            "first_token_flip": "top token flips"}
"""Stored measure → its column in the report (each per example, [S, B])."""

FRACTIONS = np.linspace(0.0, 1.0, 21)
"""Deletion curves are resampled at these fractions of each example's length (m = ⌊f·L + ½⌋)."""

RANDOM, GROUND_TRUTH = "random", "planted"
"""The chance-level ranking, and the planted task's ground-truth ranking (the ceiling)."""


def deletion_at_fractions(curve_SxBxT1, lengths_B, fractions=FRACTIONS) -> np.ndarray:
  """p(ŷ | x without its top-m tokens) at m = ⌊f·L + ½⌋ for each fraction f.

  Args:
    curve_SxBxT1: <float>[..., B, T + 1] deletion curves (m = 0 … T).
    lengths_B: <int>[B] real lengths.
    fractions: <float>[F] in [0, 1].

  Returns:
    <float64>[..., B, F]: every example's curve on a common length-free axis.
  """
  curve = np.asarray(curve_SxBxT1, np.float64)
  m_BxF = np.floor(np.outer(np.asarray(lengths_B), np.asarray(fractions)) + 0.5).astype(int)
  return np.take_along_axis(curve, np.broadcast_to(m_BxF, curve.shape[:-1] + m_BxF.shape[-1:]),
                            axis=-1)


def planted_ranking(importance_BxT, lengths_B) -> np.ndarray:
  """Scores that rank the planted tokens first (in position order), then the rest.

  Args:
    importance_BxT: <number>[B, T] > 0 at planted tokens.
    lengths_B: <int>[B].

  Returns:
    <float32>[B, T]: T − position + T at planted tokens, T − position elsewhere
    (distinct, so the ranking is the ground truth with ties broken by position).
  """
  importance = np.asarray(importance_BxT)
  t = importance.shape[-1]
  position = np.arange(t)
  scores = (t - position) + t * (importance > 0)
  return np.where(sequence_mask(np.asarray(lengths_B), t), scores, 0).astype(np.float32)


def faithfulness_scores(model, params, tokens, lengths, rankings: dict, key, *, draws: int,
                        bins=BINS, batch_copies: int = 256) -> dict:
  """Faithfulness of every ranking on a cell's explained examples, stacked over seeds.

  Args:
    model: the cell's `AttentionClassifier`.
    params: its S seeds' parameters, stacked [S, ...].
    tokens, lengths: <int32>[B, T], [B] the explained examples.
    rankings: {method: <float>[S, B, T] or [B, T]} scores (non-finite values
      at real positions rank last; an example with none finite has NaN measures).
    key: PRNG key of the random rankings.
    draws: random rankings averaged per example (the "random" method).
    bins: ERASER's bins (fractions of each example's tokens).
    batch_copies: perturbed copies per model call (bounds memory).

  Returns:
    {f"{method}/{measure}": <float64>[S, B]} for every method (and "random")
    and `MEASURES`, plus f"{method}/curve": [S, B, F] deletion curves at
    `FRACTIONS`, "probability" [S, B] p(ŷ | x).
  """
  seeds = num_seeds(params, model)
  if seeds is None:
    raise ValueError("faithfulness_scores needs parameters stacked over seeds [S, ...]; stack "
                     "one model's with attnjax.models.stack_seeds(params)")
  mask = np.asarray(sequence_mask(lengths, tokens.shape[1]))
  out = {}

  def store(method, result, draw_axis=None, unranked=None):
    for name in MEASURES:
      values = np.asarray(result[name], np.float64)
      out[f"{method}/{name}"] = values if draw_axis is None else values.mean(draw_axis)
    curve = deletion_at_fractions(result["deletion_curve"], lengths)
    out[f"{method}/curve"] = curve if draw_axis is None else curve.mean(draw_axis)
    if unranked is not None and unranked.any():  # no ranking, so no faithfulness: NaN
      for name in (*MEASURES, "curve"):
        out[f"{method}/{name}"][unranked] = np.nan

  for method, scores in rankings.items():
    scores = np.broadcast_to(np.asarray(scores, np.float32), (seeds,) + tokens.shape)
    # An undefined score ranks last; an example with none has no ranking: NaN measures.
    scores, unranked = explain.rankable_scores(scores, mask)  # [S, B, T], [S, B]
    result = explain.faithfulness(model, params, tokens, lengths, scores, bins=bins,
                                  mode="remove", batch_copies=batch_copies)
    out["probability"] = np.asarray(result["probability"], np.float64)
    store(method, result, unranked=unranked)
  chance = explain.random_baseline(model, params, tokens, lengths, key=key, draws=draws,
                                   bins=bins, mode="remove", batch_copies=batch_copies)
  store(RANDOM, {k: np.asarray(v) for k, v in chance.items()}, draw_axis=1)
  return out


@functools.cache
def faithfulness_code() -> str:
  """Fingerprint of the code behind experiment 7's cached scores."""
  return fingerprint((faithfulness_scores, deletion_at_fractions, planted_ranking,
                      *module_closure("attnjax.explain")))


def _faithful_cell(lab, attention: str) -> dict:
  """A cell's faithfulness arrays, computed once and cached next to its explanations."""
  name = f"bilstm-{attention}"
  scores = explained_cell(lab, attention)
  folder = lab.directory / "cells" / name
  path, stamp_path = folder / "faithfulness.npz", folder / "faithfulness.json"
  options = {"draws": lab.settings.faithfulness_draws, "mode": "remove",
             "bins": list(BINS)}
  key = lab.cell_key(name, "faithfulness random rankings")
  stamp = {"explanations": read_cache_json(folder / "explanations.json"),
           "key": key_stamp(key), "options": options, "code": faithfulness_code()}
  if path.is_file() and read_cache_json(stamp_path) == stamp:
    return load_arrays(path)
  stamp_path.unlink(missing_ok=True)
  lengths = scores["lengths"]
  tokens = lab.splits["test"].take(np.arange(len(lengths))).tokens
  rankings = {method: scores[method] for method in METHODS}
  if "importance" in scores:
    rankings[GROUND_TRUTH] = planted_ranking(scores["importance"], lengths)
  run = lab.trained(name, **explained_cells(lab)[name])
  result = faithfulness_scores(run.model, run.params, tokens, lengths, rankings, key,
                               draws=options["draws"], bins=BINS)
  result["lengths"] = lengths
  save_arrays(path, result)
  write_json_atomic(stamp_path, stamp)
  return result


def methods_of(arrays: dict) -> list[str]:
  """The methods stored in a cell's faithfulness arrays, in the table's order."""
  stored = {key.split("/")[0] for key in arrays if "/" in key}
  order = [GROUND_TRUTH, *METHODS, RANDOM]
  return [m for m in order if m in stored]


def measure(lab) -> dict:
  """Which ranking's top tokens drive the prediction? (Experiment 7.)"""
  rows, curves = {}, {}
  for attention in ATTENTIONS:
    arrays = _faithful_cell(lab, attention)
    curves[attention] = {}
    for method in methods_of(arrays):
      rows[row_name(attention, method)] = {
          column: seed_summary(arrays[f"{method}/{measure}"])
          for measure, column in MEASURES.items()}
      curve = nanmean(arrays[f"{method}/curve"], 1)  # [S, F]: each seed's mean curve
      curves[attention][method] = {"mean": curve.mean(0).tolist(),
                                   "per_seed": curve.tolist()}
  return {"title": "Faithfulness: comprehensiveness, sufficiency, decision flips (experiment 7)",
          "rows": rows, "curves": curves, "fractions": FRACTIONS.tolist(),
          "note": ("Per explained test example (experiment 6's), 'remove' mode: "
                   "comprehensiveness = p(ŷ|x) − p(ŷ|x without its top-k tokens), sufficiency = "
                   "p(ŷ|x) − p(ŷ|only its top-k tokens), each averaged over k = 1, 5, 10, 20, 50% "
                   "of the tokens (AOPC; higher comprehensiveness and lower sufficiency are more "
                   "faithful); flip fraction = the share of tokens removed, best first, before "
                   "the prediction changes (1 when it never does; lower is more faithful); top "
                   "token flips = removing the top token alone changes it. 'random' is the mean "
                   "of random rankings (chance), 'planted' the ground truth where there is one")}


def row_name(attention: str, method: str) -> str:
  """The row of `method`'s ranking in the cell of `attention` ("additive: attention")."""
  return f"{attention}: {method}"


def split_row(name: str) -> tuple[str, str]:
  """(attention, method) of a `row_name` row."""
  attention, _, method = name.partition(": ")
  return attention, method


def judge(finding: dict, analysis: Mapping) -> dict:
  """Experiment 7: each method's comprehensiveness against random and against attention.

  Three families, each Holm-adjusted on its own, paired t over seeds (the same
  seed's model, examples and random rankings): attention − random per attention
  type (the comparisons the verdict reads), every other method − random (is it
  better than chance?) and every other explainer − attention (is it more
  faithful than attention?). The verdict answers the first question; "summary"
  states all three in words.

  Returns:
    {"verdict", "rule", "comparisons" (attention against random),
    "comparisons_random" (the other methods against random), "comparisons_attention"
    (against attention), "summary" (one sentence per attention type)}.
  """
  measure = "comprehensiveness (AOPC)"
  cells: dict[str, dict] = {}
  for name, row in finding["rows"].items():
    cell, method = split_row(name)
    if measure in row:
      cells.setdefault(cell, {})[method] = row[measure]
  attention_random, others_random, versus_attention = [], [], []
  for cell, methods in cells.items():
    for method, summary in methods.items():
      if method in (RANDOM, GROUND_TRUTH):
        continue
      if RANDOM in methods:
        family = attention_random if method == "attention" else others_random
        family.append(comparison(method, summary, RANDOM, methods[RANDOM],
                                 measure=f"{cell}: {measure}", predicted=">", paired=True))
      if method != "attention" and "attention" in methods:
        versus_attention.append(comparison(method, summary, "attention", methods["attention"],
                                           measure=f"{cell}: {measure}", paired=True))
  for family in (attention_random, others_random, versus_attention):
    decide(family)
  attention = [c["direction"] for c in attention_random]
  verdict = ("inconclusive" if not any(attention) else
             "attention below random" if any(d < 0 for d in attention) else
             "attention beats random" if all(d > 0 for d in attention) else "mixed")
  versus_random = attention_random + others_random
  summary = []
  for cell in cells:
    def named(comparisons, direction):
      return [c["a"] for c in comparisons
              if c["measure"].startswith(f"{cell}:") and c["direction"] == direction]
    parts = [f"above random: {', '.join(named(versus_random, 1)) or 'none'}",
             f"below random: {', '.join(named(versus_random, -1)) or 'none'}",
             f"above attention: {', '.join(named(versus_attention, 1)) or 'none'}",
             f"below attention: {', '.join(named(versus_attention, -1)) or 'none'}"]
    summary.append(f"{cell}: " + "; ".join(parts))
  return {"verdict": verdict, "comparisons": attention_random,
          "comparisons_random": others_random, "comparisons_attention": versus_attention,
          "summary": summary,
          "rule": ("comprehensiveness AOPC, paired t over seeds (the same seed's model and "
                   "examples); three families, each Holm-adjusted: attention − random per "
                   f"attention type ({len(attention_random)}; the verdict's), every other "
                   f"method − random ({len(others_random)}) and every other method − "
                   f"attention ({len(versus_attention)}). 'attention beats random' when "
                   "attention is significantly above random in every attention type, "
                   "'attention below random' when it is significantly below in any, "
                   "inconclusive when in none, mixed otherwise; the summary names, per "
                   "attention type, the methods significantly above / below random and "
                   "attention")}


def figures(finding: dict) -> dict:
  """{"finding7": deletion curves per cell, each method's seed mean with its 95% band}."""
  curves, fractions = finding["curves"], np.asarray(finding["fractions"])
  fig, axes = figure(5.2 * len(curves), 3.8, 1, len(curves))
  colors = {GROUND_TRUTH: "k", RANDOM: "0.5"}
  palette = iter(["tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown"])
  colors.update({m: next(palette) for m in METHODS})
  for ax, (attention, methods) in zip(axes[0], curves.items()):
    for method, curve in methods.items():
      per_seed = np.asarray(curve["per_seed"], float)
      summaries = [mean_ci(per_seed[:, j]) for j in range(per_seed.shape[1])]
      mean = np.array([s["mean"] for s in summaries])
      half = np.nan_to_num(np.array([s["ci"] for s in summaries], float))
      style = "--" if method in (RANDOM, GROUND_TRUTH) else "-"
      ax.plot(fractions, mean, style, color=colors[method], label=method.replace("_", " "))
      ax.fill_between(fractions, mean - half, mean + half, color=colors[method], alpha=0.15)
    ax.set(xlabel="fraction of tokens removed, best-ranked first", ylabel="p(ŷ | what is left)",
           title=f"Deletion curves, BiLSTM + {attention}", ylim=(0, 1.02))
  axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
  return {"finding7": fig}


OUTCOMES = ("attention beats random", "attention below random", "mixed", "inconclusive")
"""Experiment 7's verdicts: is attention's ranking more faithful than chance?"""


def from_parameters(lab, name: str) -> None:
  """Caches the faithfulness arrays (and the explanations they rank by) of `name` when it
  is one of the explained cells (both are computed from its parameters)."""
  if name in explained_cells(lab):
    _faithful_cell(lab, name.removeprefix("bilstm-"))


EXPERIMENT = Experiment(cells=explained_cells, measure=measure, judge=judge, draw=figures,
                        figures=(("finding7",
                                  "deletion curves: p(ŷ) as the best-ranked tokens go"),),
                        outcomes=OUTCOMES, from_parameters=from_parameters)
