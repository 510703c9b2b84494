"""`attnjax reproduce`: the paper's five findings and experiments 6–7, cell by cell, with a report
and figures.

    from attnjax.reproduce import reproduce
    reproduce("runs/reproduce", data=("planted",), quick=True)

writes `report.md`, `results.json`, `figures/*.png` and `<dataset>/cells/*`
(trained runs and their analysis). Cells and findings are saved atomically as
they finish; re-running skips finished cells, so a killed run resumes.
Verdicts come from comparisons over seeds (`attnjax.reproduce.verdicts`);
`attnjax.reproduce.rejudge` recomputes them in a stored results.json without re-running.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Sequence

import jax

from attnjax.data import load_splits
from attnjax.data.load import DEFAULT_SOURCE, PLANTED_VOCAB_SIZE
from attnjax.checks import check_choice
from attnjax.io import nan_for_null, read_json, remove_stale_temporaries, write_json_atomic
from attnjax.models import ENCODERS
from attnjax.reproduce.cells import AnalysisSettings, analysis_stamp, run_code
from attnjax.reproduce.explanations import explanation_code
from attnjax.reproduce.faithfulness import faithfulness_code
from attnjax.reproduce.cluster import EXECUTORS, CellsFailed, RayOptions, RaySession, run_cells
from attnjax.reproduce.findings import (EXPERIMENTS, FINDINGS, TEMPERATURES, Lab, checked_cells,
                                        plan_cells)
from attnjax.reproduce.presets import (PRESETS, TWO_CLASS, analysis_settings, base_config,
                                       check_preset, data_options)
from attnjax.reproduce.report import write_figures, write_report

DATASETS = ("planted", "sst2", "ag_news", "ag_news_2class", "imdb", "yelp")
"""`ag_news_2class` is AG News restricted to World vs Business, as Jain & Wallace (2019) used it."""


def reproduce(out, *, data: Sequence[str] = ("planted",), seeds: int = 5,
              only: Sequence[int] | None = None, preset: str | None = None,
              quick: bool = False, source: str = DEFAULT_SOURCE,
              data_dir=None, progress: bool = True, analysis: AnalysisSettings | None = None,
              config_changes: dict | None = None, data_overrides: dict | None = None,
              encoders: Sequence[str] = ENCODERS, temperatures: Sequence[float] = TEMPERATURES,
              train_split: str | None = None, executor: str = "local",
              ray: RayOptions | None = None) -> dict:
  """Runs the findings on each dataset; returns {dataset: {finding: result}}.

  Args:
    out: output folder.
    data: dataset names (`DATASETS`); real corpora load with `source`/`data_dir`
      (see `attnjax.data.load_splits`; for files, the folder holding `<name>/`).
    seeds: S seeds per cell, trained together in one program.
    only: experiment numbers to run (default all: findings 1–5, experiment 6,
      the explainers side by side, `attnjax.reproduce.explanations`, and
      experiment 7, their faithfulness, `attnjax.reproduce.faithfulness`).
    preset: model, training and data settings, one of `PRESETS` (see
      `attnjax.reproduce.presets`): "quick" (minutes on 2 CPU cores), "full"
      (the default) or "paper" (per-corpus settings at published accuracy).
    quick: the same as preset="quick" (kept for earlier callers).
    progress: progress lines and training bars on stderr.
    analysis: how cells are analysed (default: the preset's).
    config_changes: `TrainConfig.replace` overrides for every cell (tests).
    encoders: the encoders of finding v (default all four).
    temperatures: the Gumbel-softmax τ values of finding iv.
    data_overrides: `load_splits` overrides, e.g. {"splits": ("train[:200]",
      "dev[:50]", "test[:60]"), "max_len": 12} (tests).
    train_split: the training split of every dataset (e.g. "train[:20000]"),
      replacing the mode's default; the vocabulary is built on it too.
    executor: "local" (cells one after another in this process) or "ray"
      (every cell a Ray task first, `attnjax.reproduce.cluster`; same results).
    ray: `RayOptions` of the "ray" executor (default: a local cluster).

  Raises:
    CellsFailed: (a RuntimeError) with the Ray executor, some cells failed (after the report
      of everything else is written; a re-run resumes).
  """
  out = Path(out)
  check_choice("executor", executor, EXECUTORS)
  if ray is not None and executor != "ray":
    raise ValueError(f"Ray options were given but executor={executor!r}; pass executor='ray'")
  ray = ray or RayOptions()
  only = sorted(FINDINGS) if only is None else sorted(set(only))
  unknown = [n for n in only if n not in FINDINGS]
  if unknown:
    raise ValueError(f"unknown findings {unknown}; allowed: {sorted(FINDINGS)}")
  bad = [d for d in data if d not in DATASETS]
  if bad:
    raise ValueError(f"unknown datasets {bad}; allowed: {', '.join(DATASETS)}")
  bad = [e for e in encoders if e not in ENCODERS]
  if bad:
    raise ValueError(f"unknown encoders {bad}; allowed: {', '.join(ENCODERS)}")
  bad = [t for t in temperatures if not float(t) > 0]
  if bad:
    raise ValueError(f"Gumbel temperatures must be > 0, got {bad}")
  if seeds < 2:
    raise ValueError(f"seeds must be >= 2 for confidence intervals, got {seeds}")
  if preset is None:
    preset = "quick" if quick else "full"
  elif quick and check_preset(preset) != "quick":
    raise ValueError(f"quick=True contradicts preset={preset!r}: pass one of them")
  check_preset(preset)
  quick = preset == "quick"
  analysis = analysis or analysis_settings(preset)
  results_path = out / "results.json"
  meta = {"seeds": seeds, "quick": quick, "preset": preset, "only": only, "analysis": analysis_stamp(analysis),
          "code": {"run": run_code(), "explanations": explanation_code(),
                   "faithfulness": faithfulness_code()},
          "environment": _environment()}
  for folder in (out, out / "figures"):
    remove_stale_temporaries(folder)  # left by a killed run's atomic writes
  # Findings kept from an earlier run are judged by today's verdict rules too. (Imported
  # here so that `python -m attnjax.reproduce.rejudge` does not import itself twice.)
  from attnjax.reproduce.rejudge import rejudge_results
  results = rejudge_results({"meta": meta, "results": _earlier_results(results_path, meta)},
                            mark=False)[0]["results"]
  start = time.time()

  def say(message):
    if progress:
      print(f"[reproduce {time.time() - start:6.0f}s] {message}", file=sys.stderr, flush=True)

  with contextlib.ExitStack() as stack:
    if executor == "ray":
      stack.enter_context(RaySession(ray))
    failed = _run_datasets(out, results, results_path, meta, say, data=data, preset=preset,
                           source=source, data_dir=data_dir, data_overrides=data_overrides,
                           train_split=train_split, config_changes=config_changes,
                           seeds=seeds, analysis=analysis, progress=progress, encoders=encoders,
                           temperatures=temperatures, only=only, executor=executor,
                           ray=ray)
  if failed:
    cells = ", ".join(f"{dataset}/{name}" for dataset, names in failed.items() for name in names)
    raise CellsFailed(f"cells failed on Ray: {cells} (tracebacks above); the report holds "
                       "the rest; re-run the same command to resume")
  say(f"done: {out / 'report.md'}")
  return results


def _run_datasets(out, results, results_path, meta, say, *, data, preset, source, data_dir,
                  data_overrides, train_split, config_changes, seeds, analysis, progress,
                  encoders, temperatures, only, executor, ray) -> dict:
  """`reproduce`'s loop over datasets; returns {dataset: [failed cell names]} (Ray only)."""
  failed_cells = {}
  for dataset in data:
    options = {**data_options(dataset, preset, source), **(data_overrides or {})}
    if train_split is not None:
      options["splits"] = (train_split, *options["splits"][1:])
      if dataset != "planted":
        options["vocab_split"] = train_split
    split_names = options.pop("splits")
    say(f"{dataset}: loading {', '.join(split_names)}")
    corpus, classes = TWO_CLASS.get(dataset, (dataset, None))
    loaded = load_splits(corpus, split_names, source=source, data_dir=data_dir, **options)
    splits = dict(zip(("train", "dev", "test"), (loaded[s] for s in split_names)))
    if classes is not None:
      splits = {k: v.select_classes(classes) for k, v in splits.items()}
    vocab = splits["train"].vocab
    vocab_size = len(vocab) if vocab is not None else PLANTED_VOCAB_SIZE
    base = base_config(dataset, preset, vocab_size, splits["train"].num_classes)
    base = base.replace(**(config_changes or {}))
    data_id = json.dumps({"dataset": dataset, "source": source, "splits": split_names,
                          **options}, sort_keys=True, default=str)
    lab = Lab(directory=out / dataset, base=base, seeds=tuple(range(seeds)), splits=splits,
              data_id=data_id,
              settings=analysis, key=jax.random.key(0), progress=progress,
              on_cell=lambda name, d=dataset: say(f"{d}: cell {name}"),
              encoders=tuple(encoders), temperatures=tuple(float(t) for t in temperatures))
    plan = plan_cells(lab, only)
    lab.planned, lab.checked = frozenset(plan), checked_cells(lab)
    failed = run_cells(lab, plan, ray, say=lambda m, d=dataset: say(f"{d}: {m}")) \
        if executor == "ray" else {}
    findings = results.setdefault(dataset, {})
    missing = {}
    for number in only:
      lost = [name for name in EXPERIMENTS[number].cells(lab) if name in failed]
      if lost:
        missing[str(number)] = lost
        findings.pop(str(number), None)
        say(f"{dataset}: finding {number} left out: cells {', '.join(lost)} failed")
        continue
      say(f"{dataset}: finding {number}")
      findings[str(number)] = FINDINGS[number](lab)
      # Keys in insertion order: a report rewritten from the file (resume, rejudge) keeps
      # the tables' row and column order.
      write_json_atomic(results_path, {"meta": meta, "results": results}, sort_keys=False)
    meta.setdefault("missing", {}).pop(dataset, None)
    if missing:
      meta["missing"][dataset] = missing
    if failed:
      failed_cells[dataset] = sorted(failed)
    if not meta["missing"]:
      meta.pop("missing")
    write_json_atomic(results_path, {"meta": meta, "results": results}, sort_keys=False)
    example = None
    if "bilstm-additive" in plan and "bilstm-additive" not in failed:
      example = lab.cell("bilstm-additive", **plan["bilstm-additive"])
    write_figures(out, dataset, findings, example)
    write_report(out, results, meta)
  return failed_cells


def default_analysis(preset: str | bool) -> AnalysisSettings:
  """The analysis settings of a preset (True / False: "quick" / "full", as before presets)."""
  if isinstance(preset, bool):
    preset = "quick" if preset else "full"
  return analysis_settings(preset)


def _environment() -> dict:
  """Versions that can change numbers (recorded in results.json; they do not key caches)."""
  import platform

  import flax
  import jaxlib
  import numpy
  import optax
  return {"python": platform.python_version(), "jax": jax.__version__,
          "jaxlib": jaxlib.__version__, "flax": flax.__version__, "optax": optax.__version__,
          "numpy": numpy.__version__, "platform": jax.default_backend(),
          "machine": platform.machine()}


def _earlier_results(path: Path, meta: dict) -> dict:
  """Results already in `path` from runs with the same seeds, mode, analysis and code (kept).

  So `reproduce --only 6` after `reproduce` adds experiment 6 to the same report
  instead of replacing findings 1–5. Results of a different seed count, mode,
  analysis settings or code fingerprint are not mixed in: that file is left as
  it is until this run overwrites it. Undefined numbers (JSON null) are read
  back as NaN.

  Raises:
    ValueError: `path` exists but is not readable JSON (it is not overwritten).
  """
  earlier = read_json(path)
  if earlier is None:
    return {}
  keys = ("seeds", "quick", "preset", "analysis", "code")
  stored = dict(earlier.get("meta", {}))
  stored.setdefault("preset", "quick" if stored.get("quick") else "full")  # before presets
  same = all(stored.get(k) == meta[k] for k in keys)
  if not same:
    print(f"[reproduce] {path} holds results of another setting {earlier.get('meta')}; "
          "they are replaced", file=sys.stderr)
    return {}
  return nan_for_null(earlier.get("results", {}))

