"""Experiment 6: attention and MI beside the classic explainers, with Jain & Wallace's table.

For the BiLSTM with additive and with scaled dot-product attention (the cells
finding i trains, so they are shared), every explainer of `attnjax.explain` is
run on the cell's explained test examples, the pairwise Kendall τ-b agreement
is tabulated (`attnjax.analysis.agreement`), and Jain & Wallace's adversarial
("counterfactual") attention is searched for. Per-cell results are cached in
`cells/<name>/explanations.npz`, written atomically, and reused only while
`explanations.json` (its stamp: the cell's analysis stamp, the PRNG key, the
explainer options and `explanation_code()`) matches, so a killed run resumes
and changed explainer code recomputes. `measure` measures, `judge` judges, `figures` draws.
"""

from __future__ import annotations

import functools
from typing import Mapping

import numpy as np

from attnjax import analysis, explain
from attnjax.analysis.summary import seed_summary
from attnjax.fingerprint import fingerprint, module_closure
from attnjax.io import read_cache_json, write_json_atomic
from attnjax.models.encoders import sequence_mask
from attnjax.reproduce.cells import key_stamp, load_arrays, save_arrays
from attnjax.reproduce.experiment import Experiment
from attnjax.reproduce.figures import figure
from attnjax.reproduce.verdicts import comparison, decide, number

JAIN_WALLACE_2019 = {
    "citation": ("Jain & Wallace (2019), \"Attention is not Explanation\", NAACL-HLT: BiLSTM "
                 "encoder, mean over test examples of Kendall's τ-b between attention and "
                 "|e_t · ∂p/∂e_t| (input × gradient, absolute, attention detached; their "
                 "code's XxE[X]) and between attention and leave-one-out's |Δp|, and test "
                 "accuracy, as they publish them (one training run each; their repository's "
                 "graph_outputs/CorrStats_kendalltau holds the same τ). Their AG News is the "
                 "two-class World vs Business subset (our `ag_news_2class`)"),
    "tau_attention_input_x_gradient": {
        "additive": {"sst2": 0.351, "imdb": 0.437, "ag_news_2class": 0.389},
        "scaled_dot": {"sst2": 0.073, "imdb": 0.122, "ag_news_2class": 0.305}},
    "tau_attention_loo": {"additive": {"sst2": 0.291, "imdb": 0.341, "ag_news_2class": 0.367}},
    "accuracy": {"additive": {"sst2": 0.808, "imdb": 0.898, "ag_news_2class": 0.958}},
}
"""Published BiLSTM figures of Jain & Wallace (2019), keyed by our dataset names.

Their gradient quantity, read from their code (github.com/successar/AttentionExplanation,
`model/Binary_Classification.py: gradient_mem`, `Trainers/PlottingBC.py`): the gradient of
the sigmoid output p(y = 1) with respect to the input embeddings, with the attention
weights detached, times the embedding and summed over its dimensions, absolute value, τ-b
with attention over the real tokens; with two classes our |e_t · ∂p(ŷ)/∂e_t| is the same
number (p(ŷ) is p(1) or 1 − p(1)). That is `input_x_gradient(absolute=True,
detach_attention=True)`, experiment 6's "τ attention–input_x_gradient", not the gradient
norm ‖∂p(ŷ)/∂e_t‖₂ of its "τ attention–gradient" row.
"""

REFERENCE_NOTE = f"Reference rows: {JAIN_WALLACE_2019['citation']}"
"""Experiment 6's note under its rule: where its published reference rows come from."""

METHODS = ("attention", "instance_mi", "gradient", "input_x_gradient", "integrated_gradients",
           "leave_one_out")
"""The explainers compared in experiment 6 (rows and columns of the agreement table)."""

REFERENCES = ("gradient", "input_x_gradient", "leave_one_out")
"""The classic explainers attention and instance MI are compared with: the gradient norm,
Jain & Wallace's |input × gradient| and leave-one-out."""

PAIRS = (*((m, r) for m in ("attention", "instance_mi") for r in REFERENCES),
         ("gradient", "leave_one_out"), ("attention", "instance_mi"))
"""The τ columns of experiment 6's table; gradient–LOO is the reference agreement."""

ATTENTIONS = ("additive", "scaled_dot")


def explanation_scores(run, test, cell: dict, key, *, ig_steps: int = 32,
                       counterfactual_steps: int = 200, max_tvd: float = 0.01) -> dict:
  """Every method's scores on a cell's explained examples, stacked over seeds.

  Args:
    run: the cell's `TrainResult` (stacked params [S, ...]).
    test: the cell's test `TextDataset`; its first B examples are explained,
      B = the cell's instance-MI examples.
    cell: the cell's analysis (`attnjax.reproduce.cell_measurements.analyze`); attention
      and instance MI are read from it rather than recomputed.
    key: PRNG key of the counterfactual search's starting noise.

  Returns:
    {method: <float32>[S, B, T]} for `METHODS`, plus `lengths` [B],
    `counterfactual_jsd` / `counterfactual_tvd` [S, B] and `max_attention`
    [S, B] (the learned attention's largest weight), and `importance` [B, T]
    when the data have planted ground truth.
  """
  b = cell["instance_mi"].shape[1]
  subset = test.take(np.arange(b))
  model, params = run.model, run.params
  tokens, lengths = subset.tokens, subset.lengths
  out = {"lengths": lengths, "attention": cell["attention"][:, :b],
         "instance_mi": cell["instance_mi"]}
  # Length-bucketed chunks (`explain_in_buckets`): equal to one call to float round-off.
  in_buckets = functools.partial(explain.explain_in_buckets, model, params, tokens, lengths,
                                 buckets=run.config.buckets)
  out["gradient"] = in_buckets(method="gradient")
  out["input_x_gradient"] = in_buckets(method="input_x_gradient", absolute=True)
  out["integrated_gradients"] = in_buckets(method="integrated_gradients", steps=ig_steps,
                                           absolute=True)
  out["leave_one_out"] = in_buckets(method="leave_one_out")
  adversary = explain.counterfactual_attention(model, params, tokens, lengths, max_tvd=max_tvd,
                                               steps=counterfactual_steps, key=key)
  out["counterfactual_jsd"], out["counterfactual_tvd"] = adversary.jsd, adversary.tvd
  out["max_attention"] = out["attention"].max(-1)
  if subset.importance is not None:
    out["importance"] = subset.importance
  return {k: np.asarray(v) for k, v in out.items()}


@functools.cache
def explanation_code() -> str:
  """Fingerprint of the code of `explanation_scores`: it, the explainers and the models."""
  return fingerprint((explanation_scores, *module_closure("attnjax.explain")))


def cells(lab) -> dict[str, dict]:
  """The cells experiments 6 and 7 read: {name: `TrainConfig` changes}."""
  return {f"bilstm-{attention}": {"model.attention": attention} for attention in ATTENTIONS}


def explained_cell(lab, attention: str) -> dict:
  """The cell's explanation scores, computed once and cached next to its analysis."""
  name = f"bilstm-{attention}"
  cell = lab.cell(name, **cells(lab)[name])
  folder = lab.directory / "cells" / name
  path, stamp_path = folder / "explanations.npz", folder / "explanations.json"
  options = {"ig_steps": lab.settings.ig_steps,
             "counterfactual_steps": lab.settings.counterfactual_steps}
  key = lab.cell_key(name, "counterfactual")
  stamp = {"analysis": read_cache_json(folder / "analysis.json"), "key": key_stamp(key),
           "options": options, "code": explanation_code()}
  if path.is_file() and read_cache_json(stamp_path) == stamp:
    return load_arrays(path)
  stamp_path.unlink(missing_ok=True)
  run = lab.trained(name, **cells(lab)[name])
  scores = explanation_scores(run, lab.splits["test"], cell, key, **options)
  scores["accuracy"] = cell["accuracy"]
  save_arrays(path, scores)
  write_json_atomic(stamp_path, stamp)
  return scores


def _tau(scores: dict, a: str, b: str) -> np.ndarray:
  """Kendall τ-b(a, b) of every explained example, per seed [S, B] (NaN where undefined)."""
  mask = sequence_mask(scores["lengths"], scores[a].shape[-1])
  return np.asarray(analysis.rank_correlation(scores[a], scores[b], mask[None]))


TAU_UNDEFINED = ("τ is undefined for an example where either ranking is constant (e.g. "
                 "zero gradient) or that has fewer than 2 tokens")


def measure(lab) -> dict:
  """Do attention and MI agree with gradient / leave-one-out? (Experiment 6.)"""
  scores = {attention: explained_cell(lab, attention) for attention in ATTENTIONS}
  return summarize(scores, lab.directory.name, lab.splits["test"])


def summarize(scores: dict, dataset: str, test=None, *, examples: dict | None = None) -> dict:
  """Experiment 6 from the explained cells' scores.

  Args:
    scores: {attention type: `explanation_scores` of its cell (+ "accuracy" [S])}.
    dataset: the dataset's name (for Jain & Wallace's reference rows).
    test: the test split, whose vocabulary spells the token figure's words (None: no
      words), unless `examples` is given.
    examples: the token figure's data, kept from a stored result.

  Returns:
    The finding's JSON-able measurement (`judge` gives its verdict).
  """
  rows, agreements, counterfactual = {}, {}, {}
  for attention, cell in scores.items():
    row = {"accuracy": seed_summary(cell["accuracy"])}
    for a, b in PAIRS:
      row[f"τ {a}–{b}"] = seed_summary(_tau(cell, a, b), undefined=TAU_UNDEFINED)
    if "importance" in cell:
      mask = sequence_mask(cell["lengths"], cell["attention"].shape[-1])
      for method in METHODS:
        precision = analysis.precision_at_k(cell[method], cell["importance"][None], mask[None])
        row[f"p@k {method}"] = seed_summary(
            precision, undefined="precision@k is undefined without planted tokens")
    row["counterfactual JSD"] = seed_summary(cell["counterfactual_jsd"].mean(1))
    rows[f"bilstm + {attention}"] = row
    table = analysis.agreement({m: cell[m] for m in METHODS}, cell["lengths"])
    agreements[attention] = {"methods": table["methods"], "mean": table["mean"].tolist(),
                             "ci": table["ci"].tolist(), "over": table["over"]}
    counterfactual[attention] = {"jsd": cell["counterfactual_jsd"].ravel().tolist(),
                                 "max_attention": cell["max_attention"].ravel().tolist()}
    if examples is None and attention == "additive":
      examples = _examples(cell, test)
    reference = reference_row(dataset, attention)
    if reference:
      rows[f"bilstm + {attention} (Jain & Wallace 2019)"] = reference
  return {"title": "Explainers side by side (experiment 6)", "rows": rows,
          "agreement": agreements, "counterfactual": counterfactual, "examples": examples,
          "note": REFERENCE_NOTE}


def _has_seed_values(summary: dict | None) -> bool:
  return summary is not None and (summary.get("per_seed") is not None
                                  or np.isfinite(number(summary.get("std"))))


def judge(finding: dict, analysis: Mapping) -> dict:
  """Experiment 6: instance MI's vs attention's τ with each classic explainer."""
  comparisons, unmeasured = [], []
  for name, row in finding["rows"].items():
    for reference in REFERENCES:
      mi, attention = (row.get(f"τ {m}–{reference}") for m in ("instance_mi", "attention"))
      if mi is None or attention is None:  # e.g. a published reference row
        continue
      if not (_has_seed_values(mi) and _has_seed_values(attention)):
        unmeasured.append(f"{name}: τ with {reference}")
        continue
      comparisons.append(comparison("instance MI", mi, "attention", attention,
                                    measure=f"{name}: τ with {reference}", paired=True))
  decide(comparisons)
  directions = [c["direction"] for c in comparisons]
  verdict = ("inconclusive" if not any(directions) else
             "MI agrees better" if all(d > 0 for d in directions) else
             "attention agrees better" if all(d < 0 for d in directions) else "mixed")
  left_out = (f"; left out, per-seed values not stored: {', '.join(unmeasured)}"
              if unmeasured else "")
  return {"verdict": verdict, "comparisons": comparisons,
          "rule": ("instance MI's − attention's Kendall τ with the gradient norm, with "
                   "|input × gradient| (Jain & Wallace's quantity) and with leave-one-out, "
                   "per attention type, paired t over seeds (the same seed's model and "
                   f"examples), Holm over the {len(comparisons)}: 'MI agrees better' / "
                   "'attention agrees better' when every comparison is significant that way, "
                   "inconclusive when none is, mixed otherwise; gradient–LOO is the agreement "
                   f"between two classic explainers, for scale{left_out}")}


def _examples(scores: dict, test, count: int = 4) -> dict:
  """Seed 0's scores of a few examples, each method's row scaled to [0, 1] (token figure)."""
  count = min(count, len(scores["lengths"]))
  lengths = scores["lengths"][:count]
  if test is not None and test.vocab is not None:
    words = [test.vocab.decode(test.tokens[i, :lengths[i]]) for i in range(count)]
  elif test is not None:
    words = [[str(t) for t in test.tokens[i, :lengths[i]]] for i in range(count)]
  else:
    words = []
  rows = {}
  for method in METHODS:
    values = np.abs(scores[method][0, :count]).astype(float)
    rows[method] = (values / np.maximum(values.max(-1, keepdims=True), 1e-12)).tolist()
  if "importance" in scores:
    rows["planted"] = scores["importance"][:count].astype(float).tolist()
  return {"lengths": lengths.tolist(), "rows": rows, "words": words}


def reference_row(dataset: str, attention: str) -> dict:
  """Jain & Wallace's published numbers for this dataset and attention, as table cells."""
  nan = float("nan")
  row = {}
  for column, source in (("accuracy", "accuracy"),
                         ("τ attention–input_x_gradient", "tau_attention_input_x_gradient"),
                         ("τ attention–leave_one_out", "tau_attention_loo")):
    value = JAIN_WALLACE_2019[source].get(attention, {}).get(dataset)
    if value is not None:
      row[column] = {"mean": value, "ci": nan, "n": 0, "published": True}
  return row


def figures(finding: dict) -> dict:
  """Experiment 6's figures: {"finding6": agreement heat maps + counterfactual JSD,
  "explanations_tokens": a token heat map per method (`explanation_tokens_figure`)}."""
  agreement, counterfactual = finding["agreement"], finding["counterfactual"]
  fig, axes = figure(5.2 * (len(agreement) + 1), 4.4, 1, len(agreement) + 1)
  axes = axes[0]
  for index, (ax, (attention, table)) in enumerate(zip(axes, agreement.items())):
    grid = np.asarray(table["mean"], float)
    image = ax.imshow(grid, cmap="RdBu_r", vmin=-1, vmax=1)
    labels = [m.replace("_", " ") for m in table["methods"]]
    ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels if index == 0 else [], fontsize=8)
    for (i, j), value in np.ndenumerate(grid):
      ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
              color="w" if abs(value) > 0.6 else "k")
    ax.set_title(f"Kendall τ-b, BiLSTM + {attention}", fontsize=9)
  fig.colorbar(image, ax=list(axes[:-1]), shrink=0.8)
  ax = axes[-1]
  for attention, points in counterfactual.items():
    ax.scatter(points["max_attention"], points["jsd"], s=8, alpha=0.5, label=attention)
  ax.set(xlabel="max learned attention weight", ylabel="JSD reached (nats)",
         title="Counterfactual attention (TVD ≤ 0.01)", ylim=(0, np.log(2) * 1.05))
  ax.legend(fontsize=8)
  return {"finding6": fig, "explanations_tokens": explanation_tokens_figure(finding["examples"])}


def explanation_tokens_figure(examples: dict):
  """Experiment 6's token heat maps: one panel per example, one row per explainer.

  Args:
    examples: {"lengths": [E], "rows": {method: [E][T] scores scaled to [0, 1]},
      "words": [E][L_e] (optional)}.

  Returns:
    a Matplotlib `Figure` (every word whole under its own panel).
  """
  count = len(examples["lengths"])
  names = list(examples["rows"])
  words = examples.get("words") or [[]] * count
  longest = max([len(w) for row in words for w in row] or [0])
  # Each example's words sit under its own heat map, rotated, with the height they need
  # (constrained layout reserves it), so no word is cut at the next example's edge.
  label_height = 0.045 * min(longest, 20) if any(words) else 0.0  # inches, 6 pt at 60°
  width = min(max(9.0, 0.17 * max(examples["lengths"] or [1])), 24.0)
  fig, axes = figure(width, (0.3 * len(names) + 0.6 + label_height) * count + 0.6, count, 1)
  for e, ax in enumerate(axes[:, 0]):
    length = examples["lengths"][e]
    ax.imshow(np.array([examples["rows"][m][e][:length] for m in names]), aspect="auto",
              cmap="magma", vmin=0, vmax=1)
    ax.set_yticks(range(len(names)), [m.replace("_", " ") for m in names], fontsize=7)
    if words[e] and length <= 120:
      ax.set_xticks(range(length), words[e], rotation=60, ha="right", rotation_mode="anchor",
                    fontsize=6)
    else:
      ax.set_xticks([])
  axes[0, 0].set_title("seed 0, BiLSTM + additive: every explainer (rows scaled to their max)")
  return fig


OUTCOMES = ("MI agrees better", "attention agrees better", "mixed", "inconclusive")
"""Experiment 6's verdicts: it asks a question rather than testing a prediction."""


def from_parameters(lab, name: str) -> None:
  """Caches the explanation scores of `name` when it is one of the explained cells (they
  are computed from its parameters)."""
  if name in cells(lab):
    explained_cell(lab, name.removeprefix("bilstm-"))


EXPERIMENT = Experiment(cells=cells, measure=measure, judge=judge, draw=figures,
                        figures=(("finding6", "finding 6"),
                                 ("explanations_tokens", "explainers on a few examples")),
                        outcomes=OUTCOMES, from_parameters=from_parameters)
