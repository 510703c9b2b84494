"""What one `attnjax reproduce` run does, as one frozen, validated value: `ReproduceOptions`.

    from attnjax.reproduce import ReproduceOptions, reproduce
    options = ReproduceOptions(data=("sst2",), preset="paper", seeds=3, only=(1, 6))
    reproduce("runs/sst2", options)   # the same as reproduce("runs/sst2", data=("sst2",), ...)

Every check of the arguments happens once, here, when the value is built; the
fields keep what was given (so `dataclasses.replace` behaves), and the values the run
reads are derived in one place: `experiments`, `settings`, `ray_options`.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from attnjax.checks import check_choice
from attnjax.data.load import DEFAULT_SOURCE
from attnjax.models import ENCODERS
from attnjax.presets import check_preset
from attnjax.reproduce.cell_measurements import AnalysisSettings
from attnjax.reproduce.cluster import EXECUTORS, RayOptions
from attnjax.reproduce.findings import EXPERIMENTS, TEMPERATURES

def analysis_settings(preset: str) -> AnalysisSettings:
  """The default `AnalysisSettings` of `preset` (quick: fewer examples, integration and
  optimisation steps and random rankings; jw: every test example explained). Instance-level
  MI's K perturbed copies are `attnjax.explain.InstanceMI`'s in every preset."""
  if check_preset(preset) == "quick":
    return AnalysisSettings()
  # jw: every test example explained (no test split here has more than 25,000).
  explained = 25_000 if preset == "jw" else 100
  return AnalysisSettings(eval_examples=2000, explain_examples=explained, ig_steps=32,
                          counterfactual_steps=200, faithfulness_draws=10)


DATASETS = ("planted", "sst2", "ag_news", "ag_news_2class", "imdb", "yelp")
"""`ag_news_2class` is AG News restricted to World vs Business, as Jain & Wallace (2019) used it."""


@dataclasses.dataclass(frozen=True)
class ReproduceOptions:
  """How `reproduce` runs: which data, experiments, models, analysis and executor.

  Attributes:
    data: dataset names (`DATASETS`); real corpora load with `source`/`data_dir`
      (see `attnjax.data.load_splits`; for files, the folder holding `<name>/`).
    seeds: S ≥ 2 seeds per cell, trained together in one program.
    only: experiment numbers to run (None: all, findings 1–5, experiment 6,
      the explainers side by side, `attnjax.reproduce.explanations`, and
      experiment 7, their faithfulness, `attnjax.reproduce.faithfulness`);
      `experiments` holds them sorted.
    preset: model, training and data settings, one of `attnjax.presets.PRESETS`:
      "quick" (minutes on 2 CPU cores), "full" (the default), "paper" (per-corpus
      settings at published accuracy) or "jw" (Jain & Wallace's protocol, SST-2).
    source, data_dir: where corpora load from (`attnjax.data.load_splits`).
    progress: progress lines and training bars on stderr.
    analysis: how cells are analysed (None: the preset's; `settings`).
    config_changes: `TrainConfig.replace` overrides for every cell (tests).
    data_overrides: `load_splits` overrides, e.g. {"splits": ("train[:200]",
      "dev[:50]", "test[:60]"), "max_len": 12} (tests).
    encoders: the encoders of finding v (default all four).
    temperatures: the Gumbel-softmax τ values of finding iv (each > 0).
    train_split: the training split of every dataset (e.g. "train[:20000]"),
      replacing the preset's; the vocabulary is built on it too.
    executor: "local" (cells one after another in this process) or "ray"
      (every cell a Ray task first, `attnjax.reproduce.cluster`; same results).
    ray: `RayOptions` of the "ray" executor (None: a local cluster; `ray_options`).

  Raises:
    ValueError: on construction, naming the bad value and what is allowed.
  """
  data: tuple[str, ...] = ("planted",)
  seeds: int = 5
  only: tuple[int, ...] | None = None
  preset: str = "full"
  source: str = DEFAULT_SOURCE
  data_dir: str | None = None
  progress: bool = True
  analysis: AnalysisSettings | None = None
  config_changes: Mapping | None = None
  data_overrides: Mapping | None = None
  encoders: tuple[str, ...] = ENCODERS
  temperatures: tuple[float, ...] = TEMPERATURES
  train_split: str | None = None
  executor: str = "local"
  ray: RayOptions | None = None

  def __post_init__(self):
    check_choice("executor", self.executor, EXECUTORS)
    if self.ray is not None and self.executor != "ray":
      raise ValueError(f"Ray options were given but executor={self.executor!r}; pass "
                       "executor='ray'")
    for name in ("data", "encoders", "temperatures", "only"):
      if isinstance(getattr(self, name), str):
        raise ValueError(f"{name} must be a sequence, e.g. {name}=({getattr(self, name)!r},), "
                         f"not the string {getattr(self, name)!r}")
    unknown = [n for n in self.experiments if n not in EXPERIMENTS]
    if unknown:
      raise ValueError(f"unknown findings {unknown}; allowed: {sorted(EXPERIMENTS)}")
    bad = [d for d in self.data if d not in DATASETS]
    if bad:
      raise ValueError(f"unknown datasets {bad}; allowed: {', '.join(DATASETS)}")
    bad = [e for e in self.encoders if e not in ENCODERS]
    if bad:
      raise ValueError(f"unknown encoders {bad}; allowed: {', '.join(ENCODERS)}")
    bad = [t for t in self.temperatures if not float(t) > 0]
    if bad:
      raise ValueError(f"Gumbel temperatures must be > 0, got {bad}")
    if self.seeds < 2:
      raise ValueError(f"seeds must be >= 2 for confidence intervals, got {self.seeds}")
    check_preset(self.preset)

  @property
  def experiments(self) -> list[int]:
    """The experiment numbers to run, sorted, each once (`only`, or all)."""
    return sorted(EXPERIMENTS) if self.only is None else sorted(set(self.only))

  @property
  def settings(self) -> AnalysisSettings:
    """`analysis`, or the preset's."""
    return self.analysis or analysis_settings(self.preset)

  @property
  def ray_options(self) -> RayOptions:
    """`ray`, or a local cluster's `RayOptions()`."""
    return self.ray or RayOptions()
