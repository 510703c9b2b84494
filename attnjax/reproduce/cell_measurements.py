"""What a trained cell is measured with: the per-cell measurements every experiment reads.

`analyze` runs the model once over the test examples (`collect`: logits,
attention, hidden states, context vectors) and then each measurement of
`MEASUREMENTS`, a table of named functions: `CellInputs` in, {array name:
host array} out, with its own PRNG key (`CellInputs.keys`) and a switch on
the settings (e.g. the second estimator runs only when
`AnalysisSettings.robustness_method` is set). Adding a per-cell measurement is
one function and one table entry; the findings that read it do so from the
cell's arrays (`attnjax.reproduce.dataset_cells.DatasetCells.cell`). Caching is
`attnjax.reproduce.cells`'s business, not this module's.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from attnjax import analysis, explain, mi
from attnjax.data.dataset import TextDataset
from attnjax.models.classifier import AttentionClassifier
from attnjax.models.encoders import sequence_mask
from attnjax.training import collect


@dataclasses.dataclass(frozen=True)
class AnalysisSettings:
  """How a trained cell is analysed.

  Attributes:
    eval_examples: test examples used for dataset-level MI and attention stats.
    explain_examples: test examples given instance-level MI (costly: K forward
      passes and T estimates each).
    num_samples, perturbation, scale, rate: instance-level MI's perturbed copies
      (`attnjax.explain.InstanceMI`, whose defaults these are; `instance_settings`).
    dataset_method: estimator of dataset-level I(h_t ; ŷ).
    instance_method: estimator of instance-level I(h_t ; output).
    robustness_method: a second dataset-level estimator (None: skip), so the
      report can say whether finding i's ordering depends on the estimator.
      Default crossfit_probe, chosen by calibration on the planted task
      (benchmarks/calibrate_planted.py, N = 380, D = 64): its error of a
      difference between two cells was 0.036–0.047 nats against the plain
      probe's 0.068–0.113 (spread 0.010–0.023 vs 0.047–0.060, bias −0.03 to
      −0.05 vs −0.02 to −0.06). mixed_ksg stays the dataset estimator: its bias
      there (−0.04 to −0.07) matched crossfit_probe's and its spread was
      smaller (0.005–0.013).
    calibration_replicates: R surrogate draws (and label permutations) of the
      calibration of both dataset-level estimators (0: no calibration; see
      `calibration_position`).
    ig_steps, counterfactual_steps: experiment 6's integrated-gradients path steps and
      counterfactual-attention optimisation steps.
    faithfulness_draws: random rankings per example in experiment 7.
  The defaults are the quick preset's; `attnjax.reproduce.options.analysis_settings`
  gives the full-size ones.
  """
  eval_examples: int = 400
  explain_examples: int = 24
  num_samples: int = explain.InstanceMI.num_samples
  perturbation: str = explain.InstanceMI.perturbation
  scale: float = explain.InstanceMI.scale
  rate: float = explain.InstanceMI.rate
  dataset_method: str = "mixed_ksg"
  instance_method: str = "ksg"
  robustness_method: str | None = "crossfit_probe"
  calibration_replicates: int = 3
  ig_steps: int = 16
  counterfactual_steps: int = 100
  faithfulness_draws: int = 4

  def __post_init__(self):
    for name in ("dataset_method", "instance_method", "robustness_method"):
      value = getattr(self, name)
      if not (value in mi.METHODS or (value is None and name == "robustness_method")):
        raise ValueError(f"AnalysisSettings.{name} = {value!r} is not an estimator; allowed: "
                         f"{sorted(mi.METHODS)}")
    # Checked here, before any cell trains: the analysis runs only after training.
    for name, minimum in (("eval_examples", mi.MIN_COUNT), ("explain_examples", 1),
                          ("num_samples", mi.MIN_COUNT), ("ig_steps", 1),
                          ("counterfactual_steps", 1), ("faithfulness_draws", 1)):
      value = getattr(self, name)
      if not (isinstance(value, int) and not isinstance(value, bool) and value >= minimum):
        why = (" (the MI estimators' minimum sample count, attnjax.mi.MIN_COUNT)"
               if minimum == mi.MIN_COUNT else "")
        raise ValueError(f"AnalysisSettings.{name} must be an integer >= {minimum}{why}, "
                         f"got {value!r}")
    self.instance_settings  # perturbation, scale and rate checked by InstanceMI
    if not (isinstance(self.calibration_replicates, int) and (
        self.calibration_replicates == 0 or self.calibration_replicates >= 2)):
      raise ValueError(f"calibration_replicates must be 0 or an integer >= 2, got "
                       f"{self.calibration_replicates!r}")

  @property
  def instance_settings(self) -> explain.InstanceMI:
    """Instance-level MI's settings: K, perturbation, σ, rate and the estimator."""
    return explain.InstanceMI(num_samples=self.num_samples, perturbation=self.perturbation,
                              scale=self.scale, rate=self.rate, method=self.instance_method)


def class_options(method: str, num_classes: int) -> dict:
  """{"num_classes": C} for an estimator that takes it (needed under vmap), else {}."""
  return {"num_classes": num_classes} if mi.needs_num_classes(method) else {}


def calibration_position(mask, min_count: int = mi.MIN_COUNT) -> int:
  """The position whose states calibrate the dataset-level estimators.

  Finding i averages per-position estimates whose sample counts N_t (real
  examples at t) fall with t; the calibration is run at the position whose
  N_t is the median over the estimable positions (N_t ≥ min_count) (the
  last position with N_t ≥ that median), so its operating point is the typical one of that average
  (not the best-sampled first position, whose error would be optimistic).

  Args:
    mask: <bool>[N, T] real positions.

  Returns:
    t, a Python int.
  """
  counts = np.asarray(mask).sum(0)
  estimable = np.flatnonzero(counts >= min_count)
  if estimable.size == 0:
    return 0
  median = np.sort(counts[estimable])[(estimable.size - 1) // 2]
  return int(estimable[counts[estimable] >= median][-1])


def calibrate_cell(hidden, predicted, mask, settings: AnalysisSettings, num_classes: int,
                   key) -> dict:
  """Calibrations of the dataset-level estimators on seed 0's states at `calibration_position`.

  Args:
    hidden: <float32>[S, N, T, D]; predicted: <int32>[S, N]; mask: <bool>[N, T].

  Returns:
    {"dataset": calibration, "robust": calibration (when a robustness method is
    set)}, each `attnjax.analysis.calibrate`'s dict plus "position" and "seed".
  """
  t = calibration_position(mask)
  h, y, m = np.asarray(hidden[0][:, t]), np.asarray(predicted[0]), np.asarray(mask[:, t])
  out = {}
  for role, method in (("dataset", settings.dataset_method),
                       ("robust", settings.robustness_method)):
    if method:
      # One key for both: the same surrogate draws (common random numbers) and the same truth.
      out[role] = {**analysis.calibrate(h, y, method=method, key=key, mask=m,
                                        num_classes=num_classes,
                                        replicates=settings.calibration_replicates),
                   "position": t, "seed": 0}
  return out


@dataclasses.dataclass(frozen=True)
class CellInputs:
  """What every measurement of a cell reads (S seeds, N eval examples, T positions, D state size).

  Attributes:
    model: the cell's model; params: its parameters, stacked over seeds.
    subset: the first N test examples.
    settings: how the cell is analysed.
    logits: <float32>[S, N, C]; attention: <float32>[S, N, T]; hidden: <float32>[S, N, T, D];
      context: <float32>[S, N, D] (`attnjax.training.collect`).
    mask: <bool>[N, T] real positions; predicted: <int32>[S, N] the model's labels ŷ.
    keys: {"dataset", "context", "instance"}: the PRNG keys of the dataset-level MI
      (and, folded with 1 and 2, of its second estimator and calibration), of I(context ; ŷ)
      and of the instance-level MI.
  """
  model: AttentionClassifier
  params: dict
  subset: TextDataset
  settings: AnalysisSettings
  logits: np.ndarray
  attention: np.ndarray
  hidden: np.ndarray
  context: np.ndarray
  mask: np.ndarray
  predicted: np.ndarray
  keys: dict


def predictions(cell: CellInputs) -> dict:
  """accuracy [S], attention [S, N, T], mask [N, T], labels [N], tokens [N, T]."""
  return {"accuracy": (cell.predicted == cell.subset.labels[None]).mean(-1), "mask": cell.mask,
          "attention": cell.attention, "labels": cell.subset.labels,
          "tokens": cell.subset.tokens}


def attention_stats(cell: CellInputs) -> dict:
  """stats_<name> [S, N]: `attnjax.analysis.attention_statistics` of each example's attention."""
  stats = analysis.attention_statistics(cell.attention, cell.mask[None])
  return {f"stats_{k}": np.asarray(v) for k, v in stats.items()}


def _states_mi(cell: CellInputs, method: str, key) -> np.ndarray:
  """<float32>[S, T]: I(h_t ; ŷ) per seed and position with `method`."""
  return np.asarray(analysis.position_mi(cell.hidden, cell.predicted, cell.mask, method=method,
                                         key=key, **class_options(method, cell.model.num_classes)))


def dataset_mi(cell: CellInputs) -> dict:
  """dataset_mi [S, T]: I(h_t ; ŷ) per position, with `settings.dataset_method`."""
  return {"dataset_mi": _states_mi(cell, cell.settings.dataset_method, cell.keys["dataset"])}


def dataset_mi_robust(cell: CellInputs) -> dict:
  """dataset_mi_robust [S, T]: I(h_t ; ŷ) with the second estimator (`robustness_method`)."""
  return {"dataset_mi_robust": _states_mi(cell, cell.settings.robustness_method,
                                          jax.random.fold_in(cell.keys["dataset"], 1))}


def calibration(cell: CellInputs) -> dict:
  """calibration/<role>/<field>: `calibrate_cell`'s dict (both estimators' error), one
  array per field (a 0-d array per number, string or flag; [R] per list of draws)."""
  calibrated = calibrate_cell(cell.hidden, cell.predicted, cell.mask, cell.settings,
                              cell.model.num_classes, jax.random.fold_in(cell.keys["dataset"], 2))
  return {f"calibration/{role}/{field}": np.asarray(value)
          for role, fields in calibrated.items() for field, value in fields.items()}


def context_mi(cell: CellInputs) -> dict:
  """context_mi [S]: I(context ; ŷ), one estimate per seed (vmapped)."""
  method = cell.settings.dataset_method
  classes = class_options(method, cell.model.num_classes)
  keys = jax.random.split(cell.keys["context"], len(cell.predicted))
  return {"context_mi": np.asarray(jax.vmap(
      lambda c, y, k: mi.estimate(c, y, method=method, key=k, **classes).value)(
          jnp.asarray(cell.context), jnp.asarray(cell.predicted), keys))}


def instance_mi(cell: CellInputs) -> dict:
  """On the first B explained examples: instance_mi [S, B, T] (I(h_t ; output) over K
  perturbed copies), tau / spearman [S, B] (its rank correlation with attention), and,
  on data with planted tokens, importance [N, T] and precision_attention / precision_mi [S, B]."""
  settings, subset, mask = cell.settings, cell.subset, cell.mask
  b = min(settings.explain_examples, len(subset))
  instance = explain.instance_position_mi(
      cell.model, cell.params, subset.tokens[:b], subset.lengths[:b], key=cell.keys["instance"],
      settings=settings.instance_settings)
  out = {"instance_mi": np.asarray(instance)}
  attention_b = cell.attention[:, :b]
  out["tau"] = np.asarray(analysis.rank_correlation(attention_b, instance, mask[None, :b]))
  out["spearman"] = np.asarray(analysis.rank_correlation(attention_b, instance, mask[None, :b],
                                                         "spearman"))
  if subset.importance is not None:
    relevant = subset.importance[None, :b]
    out["importance"] = subset.importance
    out["precision_attention"] = np.asarray(
        analysis.precision_at_k(attention_b, relevant, mask[None, :b]))
    out["precision_mi"] = np.asarray(analysis.precision_at_k(instance, relevant, mask[None, :b]))
  return out


@dataclasses.dataclass(frozen=True)
class Measurement:
  """One per-cell measurement: `measure` (CellInputs → {name: array}), run when `runs(settings)`."""
  measure: Callable[[CellInputs], dict]
  runs: Callable[[AnalysisSettings], bool] = lambda settings: True


MEASUREMENTS = {
    "predictions": Measurement(predictions),
    "attention_stats": Measurement(attention_stats),
    "dataset_mi": Measurement(dataset_mi),
    "dataset_mi_robust": Measurement(dataset_mi_robust,
                                     lambda settings: bool(settings.robustness_method)),
    "calibration": Measurement(calibration, lambda settings: settings.calibration_replicates > 0),
    "context_mi": Measurement(context_mi),
    "instance_mi": Measurement(instance_mi),
}
"""Name → per-cell measurement, in the order `analyze` runs them (finding i reads dataset_mi,
dataset_mi_robust, calibration, context_mi; ii–v and experiment 6 read the others)."""


def analyze(config, params, test: TextDataset, settings: AnalysisSettings, key) -> dict:
  """Every per-seed measurement the experiments read, as host arrays: `MEASUREMENTS` in order.

  Args:
    config: the cell's `TrainConfig` (its model and evaluation batching); params: stacked
      over S seeds; test: the test split (its first `settings.eval_examples` are used);
      key: the analysis PRNG key (split into the keys of `CellInputs.keys`).

  Returns a dict with (S seeds, N eval examples, B explained examples):
    accuracy [S]; attention/mask [S, N, T]/[N, T]; stats_<name> [S, N]
    (`attention_statistics`); dataset_mi [S, T] (I(h_t ; ŷ)); context_mi [S]
    (I(context ; ŷ)); instance_mi [S, B, T]; tau [S, B] (Kendall τ-b between
    attention and instance MI per explained example); spearman [S, B];
    importance [N, T] and precision_attention / precision_mi [S, B] when the
    data have ground truth; dataset_mi_robust [S, T] when `settings.robustness_method`
    is set; calibration/<role>/<field> (`calibrate_cell`'s dict, one array per field)
    unless `settings.calibration_replicates` is 0.
  """
  model = config.model
  n = min(settings.eval_examples, len(test))
  subset = test.take(np.arange(n))
  logits, aux = collect(model, params, subset, batch_size=config.eval_batch_size,
                        buckets=config.buckets)
  k_dataset, k_context, k_instance = jax.random.split(key, 3)
  cell = CellInputs(model=model, params=params, subset=subset, settings=settings, logits=logits,
                    attention=aux.attention, hidden=aux.hidden, context=aux.context,
                    mask=np.asarray(sequence_mask(subset.lengths, subset.max_length)),
                    predicted=logits.argmax(-1).astype(np.int32),
                    keys={"dataset": k_dataset, "context": k_context, "instance": k_instance})
  out = {}
  for measurement in MEASUREMENTS.values():
    if measurement.runs(settings):
      out.update(measurement.measure(cell))
  return out
