"""Cells: one trained model configuration (S seeds) and its analysis, cached on disk.

A cell directory holds the run (`run/`, see `attnjax.training.save_run`),
`analysis.npz` (per-seed, per-example arrays) and `analysis.json` (the
`AnalysisSettings` and `ANALYSIS_VERSION` it was computed with). All are written
atomically, `analysis.json` last, so a cell whose `analysis.json` matches is
complete and a killed `reproduce` resumes by skipping it. A cell analysed with
other settings (or by an older analysis version) keeps its trained run and is
analysed again; files derived from the analysis (`DERIVED`) are then removed.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from attnjax import analysis, mi
from attnjax.data.dataset import TextDataset
from attnjax.io import read_json, write_atomic, write_json_atomic
from attnjax.models.encoders import sequence_mask
from attnjax.training import TrainConfig, collect, load_run, save_run, train
from attnjax.training.checkpoint import CONFIG_FILE

ANALYSIS_VERSION = 2
"""Bumped when `analyze` changes its numbers for the same settings (2: the probe
estimator's early stopping and SGD), so cached analyses are recomputed, not reused."""

DERIVED = ("explanations.npz",)
"""Cell files computed from `analysis.npz`, removed when it is recomputed."""


@dataclasses.dataclass(frozen=True)
class AnalysisSettings:
  """How a trained cell is analysed.

  Attributes:
    eval_examples: test examples used for dataset-level MI and attention stats.
    explain_examples: test examples given instance-level MI (costly: K forward
      passes and T estimates each).
    num_samples: K perturbed copies per explained example.
    perturbation, scale: see `attnjax.analysis.perturbed_internals`.
    dataset_method: estimator of dataset-level I(h_t ; ŷ).
    instance_method: estimator of instance-level I(h_t ; output).
    robustness_method: a second dataset-level estimator taking `num_classes`
      (None: skip), so the report can say whether finding i's ordering
      depends on the estimator.
  """
  eval_examples: int = 400
  explain_examples: int = 24
  num_samples: int = 64
  perturbation: str = "gaussian"
  scale: float = 1.0
  dataset_method: str = "mixed_ksg"
  instance_method: str = "ksg"
  robustness_method: str | None = "probe"


def analysis_stamp(settings: AnalysisSettings) -> dict:
  """What a cached analysis was computed with: `ANALYSIS_VERSION` and the settings (JSON)."""
  return {"version": ANALYSIS_VERSION, **dataclasses.asdict(settings)}


def save_arrays(path: Path, arrays: dict) -> None:
  buffer = io.BytesIO()
  np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
  write_atomic(path, buffer.getvalue())


def load_arrays(path: Path) -> dict:
  with np.load(path) as data:
    return {k: data[k] for k in data.files}


def analyze(config: TrainConfig, params, test: TextDataset, settings: AnalysisSettings, key):
  """Every per-seed measurement the five experiments read, as host arrays.

  Returns a dict with (S seeds, N eval examples, B explained examples):
    accuracy [S]; attention/mask [S, N, T]/[N, T]; stats_<name> [S, N]
    (`attention_statistics`); dataset_mi [S, T] (I(h_t ; ŷ)); context_mi [S]
    (I(context ; ŷ)); instance_mi [S, B, T]; tau [S, B] (Kendall τ-b between
    attention and instance MI per explained example); spearman [S, B];
    importance [N, T] and precision_attention / precision_mi [S, B] when the
    data have ground truth.
  """
  model = config.model
  n = min(settings.eval_examples, len(test))
  subset = test.take(np.arange(n))
  logits, aux = collect(model, params, subset, batch_size=config.eval_batch_size)
  mask = np.asarray(sequence_mask(subset.lengths, subset.max_length))
  predicted = logits.argmax(-1).astype(np.int32)
  k_dataset, k_context, k_instance = jax.random.split(key, 3)
  out = {"accuracy": (predicted == subset.labels[None]).mean(-1), "mask": mask,
         "attention": aux.attention, "labels": subset.labels, "tokens": subset.tokens}
  stats = analysis.attention_statistics(aux.attention, mask[None])
  out.update({f"stats_{k}": np.asarray(v) for k, v in stats.items()})
  out["dataset_mi"] = np.asarray(analysis.position_mi(
      aux.hidden, predicted, mask, method=settings.dataset_method, key=k_dataset))
  if settings.robustness_method:
    out["dataset_mi_robust"] = np.asarray(analysis.position_mi(
        aux.hidden, predicted, mask, method=settings.robustness_method,
        key=jax.random.fold_in(k_dataset, 1), num_classes=model.num_classes))
  keys = jax.random.split(k_context, len(predicted))
  out["context_mi"] = np.asarray(jax.vmap(
      lambda c, y, k: mi.estimate(c, y, method=settings.dataset_method, key=k).value)(
          jnp.asarray(aux.context), jnp.asarray(predicted), keys))
  b = min(settings.explain_examples, n)
  instance = analysis.instance_position_mi(
      model, params, subset.tokens[:b], subset.lengths[:b], key=k_instance,
      num_samples=settings.num_samples, perturbation=settings.perturbation,
      scale=settings.scale, method=settings.instance_method)
  out["instance_mi"] = np.asarray(instance)
  attention_b = aux.attention[:, :b]
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


def run_cell(directory: Path, config: TrainConfig, seeds, splits: dict[str, TextDataset],
             settings: AnalysisSettings, key, *, progress: bool = True,
             data_id: str | None = None) -> dict:
  """Trains (or reloads) a cell and analyses it (or reloads the analysis).

  A cached cell is reused only for the same config, seeds and data: `data_id`
  (any string naming the data, e.g. the JSON of the load options) is stored in
  `data.json` and compared, and a mismatch raises instead of mixing results.
  The analysis is reused only for the same `settings` and `ANALYSIS_VERSION`;
  otherwise it is recomputed from the saved run (no retraining).
  """
  directory = Path(directory)
  arrays_file = directory / "analysis.npz"
  done = directory / "analysis.json"
  stamp = analysis_stamp(settings)
  run_dir = directory / "run"
  data_file = directory / "data.json"
  if data_id is not None and data_file.is_file():
    stored = json.loads(data_file.read_text()).get("data_id")
    if stored != data_id:
      raise ValueError(f"{directory} was computed on other data ({stored}); now asked for "
                       f"{data_id}: remove it or use another --out")
  config_file = run_dir / CONFIG_FILE
  if config_file.is_file():
    saved = json.loads(config_file.read_text())  # the check reads the config, not the params
    if TrainConfig.from_dict(saved["train"]) != config or saved["seeds"] != list(seeds):
      raise ValueError(f"{run_dir} holds a different run (config or seeds changed); "
                       f"remove it or use another --out")
    if read_json(done) == stamp and arrays_file.is_file():
      if data_id is not None and not data_file.is_file():
        write_json_atomic(data_file, {"data_id": data_id})
      return load_arrays(arrays_file)
    result = load_run(run_dir).result
  else:
    if data_id is not None:
      write_json_atomic(data_file, {"data_id": data_id})
    result = train(config, seeds, splits["train"], splits["dev"], progress=progress)
    save_run(run_dir, result, vocab=splits["train"].vocab)
  done.unlink(missing_ok=True)
  for name in DERIVED:
    (directory / name).unlink(missing_ok=True)
  arrays = analyze(config, result.params, splits["test"], settings, key)
  arrays["history_eval_accuracy"] = result.history["eval_accuracy"]
  save_arrays(arrays_file, arrays)
  write_json_atomic(done, stamp)
  return arrays

