"""Cells: one trained model configuration (S seeds) and its analysis, cached on disk.

A cell directory holds the run (`run/`, see `attnjax.training.save_run`),
`analysis.npz` (per-seed, per-example arrays) and `analysis.json` (its stamp).
Every cached artefact is keyed on what computed it, and recomputed on a
mismatch:

- the run (`run/config.json`, "extra"): the `TrainConfig` and seeds (these
  also decide every training PRNG key), the data (`data_id`) and `run_code()`,
  the fingerprint of the training and data-loading code. Another config, seeds
  or data raise (a cell is never silently reused for another experiment);
  another code fingerprint retrains the cell.
- the analysis (`analysis.json`): `AnalysisSettings`, the analysis PRNG key,
  `analysis_code()` and the run's stamp. A mismatch re-analyses the saved run
  without retraining and removes the files derived from the old analysis
  (`DERIVED`).

Fingerprints hash the code with comments and docstrings ignored
(`attnjax.fingerprint`). Library versions (jax, flax, …) are recorded in
results.json but do not invalidate a cache. All files are written atomically,
stamps last, so a cell whose stamp matches is complete; a killed `reproduce`
resumes by skipping complete cells, and removes the temporary files a kill
left behind.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import io
import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from attnjax import analysis, explain, mi
from attnjax.compiled import release_if_crowded
from attnjax.data.dataset import TextDataset
from attnjax.fingerprint import fingerprint, module_closure
from attnjax.io import (read_cache_json, remove_stale_temporaries, write_atomic,
                        write_json_atomic)
from attnjax.models.encoders import sequence_mask
from attnjax.training import TrainConfig, collect, load_run, save_run, train
from attnjax.training.checkpoint import CONFIG_FILE

DERIVED = ("explanations.npz", "explanations.json")
"""Cell files computed from `analysis.npz`, removed when it is recomputed."""


@dataclasses.dataclass(frozen=True)
class AnalysisSettings:
  """How a trained cell is analysed.

  Attributes:
    eval_examples: test examples used for dataset-level MI and attention stats.
    explain_examples: test examples given instance-level MI (costly: K forward
      passes and T estimates each).
    num_samples: K perturbed copies per explained example.
    perturbation, scale: see `attnjax.explain.perturbed_internals`.
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
  """
  eval_examples: int = 400
  explain_examples: int = 24
  num_samples: int = 64
  perturbation: str = "gaussian"
  scale: float = 1.0
  dataset_method: str = "mixed_ksg"
  instance_method: str = "ksg"
  robustness_method: str | None = "crossfit_probe"
  calibration_replicates: int = 3

  def __post_init__(self):
    for name in ("dataset_method", "instance_method", "robustness_method"):
      value = getattr(self, name)
      if not (value in mi.METHODS or (value is None and name == "robustness_method")):
        raise ValueError(f"AnalysisSettings.{name} = {value!r} is not an estimator; allowed: "
                         f"{sorted(mi.METHODS)}")
    if not (isinstance(self.calibration_replicates, int) and (
        self.calibration_replicates == 0 or self.calibration_replicates >= 2)):
      raise ValueError(f"calibration_replicates must be 0 or an integer >= 2, got "
                       f"{self.calibration_replicates!r}")


@functools.cache
def run_code() -> str:
  """Fingerprint of the code that trains a cell: the training loop, the models, data loading."""
  return fingerprint(module_closure("attnjax.training.loop", "attnjax.data.load"))


@functools.cache
def analysis_code() -> str:
  """Fingerprint of the code of `analyze`: it and its helpers here, the MI estimators,
  models, the calibration and `collect`."""
  closure = module_closure("attnjax.explain.instance", "attnjax.analysis.attention_stats",
                           "attnjax.analysis.ranking", "attnjax.analysis.calibration",
                           "attnjax.training.collect")
  return fingerprint((analyze, class_options, calibration_position, calibrate_cell, *closure))


def analysis_stamp(settings: AnalysisSettings) -> dict:
  """What every analysis of a run was computed with: the settings and `analysis_code()`."""
  return {**dataclasses.asdict(settings), "code": analysis_code()}


def named_key(key, *names: str):
  """`key` folded with a stable 32-bit hash of each name (SHA-256; no collisions by anagram)."""
  for name in names:
    key = jax.random.fold_in(key, int.from_bytes(hashlib.sha256(name.encode()).digest()[:4],
                                                  "little"))
  return key


def key_stamp(key) -> list[int]:
  """A PRNG key as JSON (its raw key data)."""
  return np.asarray(jax.random.key_data(key)).ravel().tolist()


def save_arrays(path: Path, arrays: dict) -> None:
  buffer = io.BytesIO()
  np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
  write_atomic(path, buffer.getvalue())


def load_arrays(path: Path) -> dict:
  with np.load(path) as data:
    return {k: data[k] for k in data.files}


def class_options(method: str, num_classes: int) -> dict:
  """{"num_classes": C} for an estimator that takes it (needed under vmap), else {}."""
  return {"num_classes": num_classes} if "num_classes" in inspect.signature(
      mi.METHODS[method]).parameters else {}


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


def analyze(config: TrainConfig, params, test: TextDataset, settings: AnalysisSettings, key):
  """Every per-seed measurement the five experiments read, as host arrays.

  Returns a dict with (S seeds, N eval examples, B explained examples):
    accuracy [S]; attention/mask [S, N, T]/[N, T]; stats_<name> [S, N]
    (`attention_statistics`); dataset_mi [S, T] (I(h_t ; ŷ)); context_mi [S]
    (I(context ; ŷ)); instance_mi [S, B, T]; tau [S, B] (Kendall τ-b between
    attention and instance MI per explained example); spearman [S, B];
    importance [N, T] and precision_attention / precision_mi [S, B] when the
    data have ground truth; calibration (a 0-d string: the JSON of
    `calibrate_cell`) unless `settings.calibration_replicates` is 0.
  """
  model = config.model
  n = min(settings.eval_examples, len(test))
  subset = test.take(np.arange(n))
  logits, aux = collect(model, params, subset, batch_size=config.eval_batch_size,
                        buckets=config.buckets)
  mask = np.asarray(sequence_mask(subset.lengths, subset.max_length))
  predicted = logits.argmax(-1).astype(np.int32)
  k_dataset, k_context, k_instance = jax.random.split(key, 3)
  out = {"accuracy": (predicted == subset.labels[None]).mean(-1), "mask": mask,
         "attention": aux.attention, "labels": subset.labels, "tokens": subset.tokens}
  stats = analysis.attention_statistics(aux.attention, mask[None])
  out.update({f"stats_{k}": np.asarray(v) for k, v in stats.items()})
  classes = class_options(settings.dataset_method, model.num_classes)
  out["dataset_mi"] = np.asarray(analysis.position_mi(
      aux.hidden, predicted, mask, method=settings.dataset_method, key=k_dataset, **classes))
  if settings.robustness_method:
    out["dataset_mi_robust"] = np.asarray(analysis.position_mi(
        aux.hidden, predicted, mask, method=settings.robustness_method,
        key=jax.random.fold_in(k_dataset, 1),
        **class_options(settings.robustness_method, model.num_classes)))
  if settings.calibration_replicates:
    calibration = calibrate_cell(aux.hidden, predicted, mask, settings, model.num_classes,
                                 jax.random.fold_in(k_dataset, 2))
    out["calibration"] = np.array(json.dumps(calibration))
  keys = jax.random.split(k_context, len(predicted))
  out["context_mi"] = np.asarray(jax.vmap(
      lambda c, y, k: mi.estimate(c, y, method=settings.dataset_method, key=k, **classes).value)(
          jnp.asarray(aux.context), jnp.asarray(predicted), keys))
  b = min(settings.explain_examples, n)
  instance = explain.instance_position_mi(
      model, params, subset.tokens[:b], subset.lengths[:b], key=k_instance,
      settings=explain.InstanceMI(num_samples=settings.num_samples,
                                  perturbation=settings.perturbation, scale=settings.scale,
                                  method=settings.instance_method))
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


def cell_stamps(settings: AnalysisSettings, key, data_id: str | None) -> tuple[dict, dict]:
  """(run stamp, analysis stamp) a cached cell must carry to be reused: the run's is the
  training code and the data; the analysis's adds the settings, `analysis_code()` and key."""
  run_stamp = {"code": run_code(), "data_id": data_id}
  return run_stamp, {**analysis_stamp(settings), "key": key_stamp(key), "run": run_stamp}


def _analysis_cached(directory: Path, stamp: dict) -> bool:
  return read_cache_json(directory / "analysis.json") == stamp and \
      (directory / "analysis.npz").is_file()


def cell_done(directory: Path, config: TrainConfig, seeds, settings: AnalysisSettings, key, *,
              data_id: str | None = None) -> bool:
  """True when `run_cell` with these arguments would only reload the cell: trained by
  today's training code on these data with this config and seeds, and analysed with
  these settings, key and analysis code."""
  directory = Path(directory)
  saved = read_cache_json(directory / "run" / CONFIG_FILE)
  if saved is None:
    return False
  run_stamp, stamp = cell_stamps(settings, key, data_id)
  return (saved.get("extra", {}).get("stamp") == run_stamp and saved.get("seeds") == list(seeds)
          and TrainConfig.from_dict(saved["train"]) == config
          and _analysis_cached(directory, stamp))


def run_cell(directory: Path, config: TrainConfig, seeds, splits: dict[str, TextDataset],
             settings: AnalysisSettings, key, *, progress: bool = True,
             data_id: str | None = None) -> dict:
  """Trains (or reloads) a cell and analyses it (or reloads the analysis).

  A cached run is reused only for the same config, seeds and data (`data_id`,
  any string naming the data, e.g. the JSON of the load options; a mismatch
  raises instead of mixing results) and the same `run_code()` (a mismatch
  retrains). The analysis is reused only for the same settings, `key`,
  `analysis_code()` and run; otherwise it is recomputed from the saved run.
  """
  directory = Path(directory)
  remove_stale_temporaries(directory, recursive=True)
  arrays_file = directory / "analysis.npz"
  done = directory / "analysis.json"
  run_dir = directory / "run"
  run_stamp, stamp = cell_stamps(settings, key, data_id)
  saved = read_cache_json(run_dir / CONFIG_FILE)  # the check reads the config, not the params
  result = None
  if saved is not None:
    stored = saved.get("extra", {}).get("stamp", {})
    if "data_id" in stored and stored["data_id"] != data_id:
      raise ValueError(f"{directory} was computed on other data ({stored['data_id']}); now "
                       f"asked for {data_id}: remove it or use another --out")
    if TrainConfig.from_dict(saved["train"]) != config or saved["seeds"] != list(seeds):
      raise ValueError(f"{run_dir} holds a different run (config or seeds changed); "
                       f"remove it or use another --out")
    if stored == run_stamp:
      if _analysis_cached(directory, stamp):
        return load_arrays(arrays_file)
      result = load_run(run_dir).result
    elif progress:
      print(f"[reproduce] {directory.name}: trained by other code (run fingerprint "
            f"{stored.get('code')} != {run_stamp['code']}); retraining", file=sys.stderr)
  done.unlink(missing_ok=True)
  for name in DERIVED:
    (directory / name).unlink(missing_ok=True)
  if result is None:
    result = train(config, seeds, splits["train"], splits["dev"], progress=progress)
    save_run(run_dir, result, vocab=splits["train"].vocab, extra={"stamp": run_stamp})
  arrays = analyze(config, result.params, splits["test"], settings, key)
  arrays["history_eval_accuracy"] = result.history["eval_accuracy"]
  save_arrays(arrays_file, arrays)
  write_json_atomic(done, stamp)
  release_if_crowded()  # a long reproduction compiles thousands of programs
  return arrays
