"""`attnjax reproduce`: the paper's five findings and experiments 6–7, cell by cell, with a report
and figures.

    from attnjax.reproduce import ReproduceOptions, reproduce
    reproduce("runs/reproduce", data=("planted",), preset="quick")
    reproduce("runs/sst2", ReproduceOptions(data=("sst2",), preset="paper", seeds=3))

writes `report.md`, `results.json`, `figures/*.png` and `<dataset>/cells/*`
(trained runs and their analysis). Cells and findings are saved atomically as
they finish; re-running skips finished cells, so a killed run resumes.
Verdicts come from comparisons over seeds (`attnjax.reproduce.verdicts`);
`attnjax.reproduce.rejudge` recomputes them in a stored results.json without re-running.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax

from attnjax.data.load import PLANTED_VOCAB_SIZE
from attnjax.io import nan_for_null, read_json, remove_stale_temporaries, write_json_atomic
from attnjax.presets import base_config, data_options, load_dataset
from attnjax.reproduce.cell_measurements import AnalysisSettings
from attnjax.reproduce.cells import analysis_stamp, run_code
from attnjax.reproduce.cluster import CellsFailed, RayOptions, RaySession, run_cells
from attnjax.reproduce.explanations import explanation_code
from attnjax.reproduce.faithfulness import faithfulness_code
from attnjax.reproduce.findings import (EXPERIMENTS, DatasetCells, estimator_checked_cells,
                                        plan_cells)
from attnjax.reproduce.options import DATASETS, ReproduceOptions
from attnjax.reproduce.rejudge import rejudge_results
from attnjax.reproduce.report import write_figures, write_report

__all__ = ["DATASETS", "AnalysisSettings", "CellsFailed", "RayOptions", "ReproduceOptions",
           "compute_cell", "dataset_cells", "reproduce"]


def reproduce(out, options: ReproduceOptions | None = None, **fields) -> dict:
  """Runs the experiments on each dataset; returns {dataset: {finding: result}}.

  Args:
    out: output folder.
    options: a `ReproduceOptions` (default `ReproduceOptions()`: planted data, 5 seeds,
      every experiment, the "full" preset, the local executor).
    **fields: `ReproduceOptions` fields (data=("sst2",), seeds=3, only=(1, 6),
      preset="paper", executor="ray", ...) replacing those of `options`.

  Raises:
    ValueError: a bad option (from `ReproduceOptions`, naming it and what is allowed).
    CellsFailed: (a RuntimeError) with the Ray executor, some cells failed (after the report
      of everything else is written; a re-run resumes).
  """
  o = dataclasses.replace(options or ReproduceOptions(), **fields)
  out = Path(out)
  preset, only, analysis = o.preset, o.experiments, o.settings
  results_path = out / "results.json"
  meta = {"seeds": o.seeds, "quick": preset == "quick", "preset": preset, "only": only,
          "analysis": analysis_stamp(analysis),
          "code": {"run": run_code(), "explanations": explanation_code(),
                   "faithfulness": faithfulness_code()},
          "environment": _environment()}
  for folder in (out, out / "figures"):
    remove_stale_temporaries(folder)  # left by a killed run's atomic writes
  # Findings kept from an earlier run with the same settings and code are judged again too.
  results = rejudge_results({"meta": meta, "results": _earlier_results(results_path, meta)},
                            mark=False)[0]["results"]
  start = time.time()

  def log(message):
    if o.progress:
      print(f"[reproduce {time.time() - start:6.0f}s] {message}", file=sys.stderr, flush=True)

  with contextlib.ExitStack() as stack:
    if o.executor == "ray":
      stack.enter_context(RaySession(o.ray_options))
    failed = _run_datasets(out, results, results_path, meta, log, o)
  if failed:
    cells = ", ".join(f"{dataset}/{name}" for dataset, names in failed.items() for name in names)
    raise CellsFailed(f"cells failed on Ray: {cells} (tracebacks above); the report holds "
                       "the rest; re-run the same command to resume")
  log(f"done: {out / 'report.md'}")
  return results


def dataset_cells(out, dataset: str, options: ReproduceOptions,
                  log=lambda message: None) -> tuple[DatasetCells, dict[str, dict]]:
  """The cells `reproduce(out, options)` computes for `dataset`, with its data loaded.

  Returns:
    (the `DatasetCells` of `out/<dataset>`, its plan: {cell name: `TrainConfig` changes}
    of every cell the experiments `options.experiments` read, in first-use order).
  """
  o = options
  data = {**data_options(dataset, o.preset, o.source), **(o.data_overrides or {})}
  if o.train_split is not None:
    data["splits"] = (o.train_split, *data["splits"][1:])
    if dataset != "planted":
      data["vocab_split"] = o.train_split
  split_names = data.pop("splits")
  log(f"{dataset}: loading {', '.join(split_names)}")
  splits = load_dataset(dataset, split_names, source=o.source, data_dir=o.data_dir, **data)
  vocab = splits["train"].vocab
  vocab_size = len(vocab) if vocab is not None else PLANTED_VOCAB_SIZE
  base = base_config(dataset, o.preset, vocab_size, splits["train"].num_classes)
  base = base.replace(**(o.config_changes or {}))
  data_id = json.dumps({"dataset": dataset, "source": o.source, "splits": split_names, **data},
                       sort_keys=True, default=str)
  lab = DatasetCells(directory=Path(out) / dataset, base=base, seeds=tuple(range(o.seeds)),
                     splits=splits, data_id=data_id, settings=o.settings,
                     key=jax.random.key(0), progress=o.progress,
                     on_cell=lambda name: log(f"{dataset}: cell {name}"),
                     encoders=tuple(o.encoders),
                     temperatures=tuple(float(t) for t in o.temperatures))
  plan = plan_cells(lab, o.experiments)
  lab = dataclasses.replace(lab, planned=frozenset(plan),
                            estimator_checked=estimator_checked_cells(lab))
  return lab, plan


def compute_cell(lab: DatasetCells, name: str, changes: dict, experiments) -> None:
  """Trains and analyses cell `name` (unless cached) and caches every measurement the
  `experiments` (numbers) read from its parameters (`Experiment.from_parameters`), so
  the cell's archive (`attnjax.reproduce.archive`) serves their report without
  retraining. `reproduce` computes the same files as it needs them.

  Raises:
    ValueError: `name` is not a cell of `lab`'s plan.
  """
  if name not in lab.planned:
    raise ValueError(f"unknown cell {name!r} for experiments {', '.join(map(str, experiments))}"
                     f"; allowed: {', '.join(sorted(lab.planned))}")
  lab.cell(name, **changes)
  for number in experiments:
    if EXPERIMENTS[number].from_parameters is not None:
      EXPERIMENTS[number].from_parameters(lab, name)


def _run_datasets(out, results, results_path, meta, log, o: ReproduceOptions) -> dict:
  """`reproduce`'s loop over datasets; returns {dataset: [failed cell names]} (Ray only)."""
  failed_cells = {}
  only = o.experiments
  for dataset in o.data:
    lab, plan = dataset_cells(out, dataset, o, log)
    failed = run_cells(lab, plan, o.ray_options, log=lambda m, d=dataset: log(f"{d}: {m}")) \
        if o.executor == "ray" else {}
    findings = results.setdefault(dataset, {})
    missing = {}
    for number in only:
      lost = [name for name in EXPERIMENTS[number].cells(lab) if name in failed]
      if lost:
        missing[str(number)] = lost
        findings.pop(str(number), None)
        log(f"{dataset}: finding {number} left out: cells {', '.join(lost)} failed")
        continue
      log(f"{dataset}: finding {number}")
      findings[str(number)] = EXPERIMENTS[number].run(lab)
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
    write_figures(out, dataset, findings, example, lab.splits["test"].vocab)
    write_report(out, results, meta)
  return failed_cells


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
  stored = earlier.get("meta", {})
  same = all(stored.get(k) == meta[k] for k in keys)
  if not same:
    print(f"[reproduce] {path} holds results of another setting {earlier.get('meta')}; "
          "they are replaced", file=sys.stderr)
    return {}
  return nan_for_null(earlier.get("results", {}))

