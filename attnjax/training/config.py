"""`TrainConfig`: everything that defines a training run, saved as JSON with the run."""

from __future__ import annotations

import dataclasses
import json
import math

from attnjax.checks import is_int, is_real
from attnjax.data.buckets import check_buckets
from attnjax.models.classifier import AttentionClassifier, model_from_dict, model_to_dict


OPTIMIZERS = ("adam", "amsgrad")
WEIGHT_DECAY_KINDS = ("decoupled", "l2")
SELECT_METRICS = ("accuracy", "roc_auc")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """A training run's settings (the model is part of it).

  Attributes:
    model: the `AttentionClassifier` to train (its fields are the model config).
    epochs: passes over the training data.
    batch_size: examples per step, per seed.
    learning_rate: Adam step size.
    optimizer: "adam" or "amsgrad" (Reddi, Kale & Kumar 2018: Adam with the
      running maximum of the second moment, `optax.scale_by_amsgrad`).
    weight_decay: weight decay coefficient (0: none), of the kind below.
    weight_decay_kind: "decoupled" (AdamW: Loshchilov & Hutter 2019) or "l2"
      (λ·θ added to the gradient before the Adam moments, as PyTorch's
      `torch.optim.Adam(weight_decay=λ)`).
    weight_decay_exclude: top-level parameter groups without weight decay, e.g.
      ("attention",).
    grad_clip: global-norm clip (None or 0 disables).
    eval_batch_size: batch size of evaluation and `collect`.
    select_best: keep, per seed, the parameters of the epoch with the best
      eval `select_metric` (needs eval data); otherwise the last epoch's.
    select_metric: what "best" means: "accuracy" or "roc_auc" (two classes
      only; the area under the ROC curve of p(class 1), `evaluate`).
    patience: stop when no seed improved its eval `select_metric` for this many
      epochs (None: run all epochs).
    steps_per_call: training steps compiled into one call (progress granularity).
    frozen: top-level parameter groups kept at their initial values, e.g.
      ("attention",) trains with a frozen random-init attention scorer.
    buckets: length buckets of training, evaluation and `collect`
      (`attnjax.data.buckets`): "auto" (up to 6 lengths fitted to the data),
      None (or "none": every batch padded to the dataset's T) or a sequence of
      lengths such as (16, 32, 64). Training forms each batch from one bucket
      (examples of similar length); see `bucket_shapes` for how it runs them.
    bucket_shapes: how bucketed steps run. False: every step at the
      dataset's T in one compiled program, its LSTM recurrence only as far as
      the step's longest example (`AttentionClassifier.__call__`'s
      `num_steps`). True: each bucket's steps at the bucket's length, one
      compiled program per bucket (a shorter shape also shortens every layer,
      but each program costs a compile). "auto" (the default): a bucket runs
      at its own length when it runs at least
      `attnjax.training.loop.MIN_STEPS_PER_SHAPE` (50)
      steps over the run (steps per epoch × epochs), the others at T in one
      program (benchmarks/README.md). The batches are the same either way;
      without dropout or Gumbel noise so are the numbers, up to float
      round-off; with them, a batch's noise is drawn at the shape it runs at.
  """
  model: AttentionClassifier
  epochs: int = 5
  batch_size: int = 64
  learning_rate: float = 1e-3
  optimizer: str = "adam"
  weight_decay: float = 0.0
  weight_decay_kind: str = "decoupled"
  weight_decay_exclude: tuple[str, ...] = ()
  grad_clip: float | None = 1.0
  eval_batch_size: int = 256
  select_best: bool = True
  select_metric: str = "accuracy"
  patience: int | None = None
  steps_per_call: int = 50
  frozen: tuple[str, ...] = ()
  buckets: str | tuple[int, ...] | None = "auto"
  bucket_shapes: bool | str = "auto"

  def __post_init__(self):
    if not isinstance(self.model, AttentionClassifier):
      raise ValueError(f"model must be an AttentionClassifier, got {type(self.model).__name__}")
    for name in ("epochs", "batch_size", "eval_batch_size", "steps_per_call"):
      if not is_int(getattr(self, name)):
        raise ValueError(f"{name} must be an integer, got {getattr(self, name)!r}")
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
    if not (is_real(self.learning_rate) and 0 < self.learning_rate < math.inf):
      raise ValueError(f"learning_rate must be > 0 and finite, got {self.learning_rate!r}")
    if not (is_real(self.weight_decay) and 0 <= self.weight_decay < math.inf):
      raise ValueError(f"weight_decay must be >= 0 and finite, got {self.weight_decay!r}")
    if self.grad_clip is not None and not (is_real(self.grad_clip)
                                           and 0 <= self.grad_clip < math.inf):
      raise ValueError(f"grad_clip must be None, 0 (no clipping) or a finite number > 0, "
                       f"got {self.grad_clip!r}")
    for name, allowed in (("optimizer", OPTIMIZERS), ("weight_decay_kind", WEIGHT_DECAY_KINDS),
                          ("select_metric", SELECT_METRICS)):
      if getattr(self, name) not in allowed:
        raise ValueError(f"unknown {name} {getattr(self, name)!r}; allowed: {', '.join(allowed)}")
    if self.select_metric == "roc_auc" and self.model.num_classes != 2:
      raise ValueError(f"select_metric 'roc_auc' needs two classes, the model has "
                       f"{self.model.num_classes}")
    if not isinstance(self.select_best, bool):
      raise ValueError(f"select_best must be True or False, got {self.select_best!r}")
    if not (isinstance(self.bucket_shapes, bool) or self.bucket_shapes == "auto"):
      raise ValueError(f"bucket_shapes must be True, False or 'auto', got "
                       f"{self.bucket_shapes!r}")
    if isinstance(self.frozen, str) or not all(isinstance(g, str) for g in self.frozen):
      raise ValueError(f"frozen must be a sequence of parameter group names, e.g. "
                       f"('attention',), got {self.frozen!r}")
    object.__setattr__(self, "frozen", tuple(self.frozen))
    if isinstance(self.weight_decay_exclude, str) or not all(
        isinstance(g, str) for g in self.weight_decay_exclude):
      raise ValueError(f"weight_decay_exclude must be a sequence of parameter group names, "
                       f"e.g. ('attention',), got {self.weight_decay_exclude!r}")
    object.__setattr__(self, "weight_decay_exclude", tuple(self.weight_decay_exclude))
    if self.patience is not None and not (is_int(self.patience) and self.patience >= 1):
      raise ValueError(f"patience must be >= 1 or None, got {self.patience!r}")
    object.__setattr__(self, "buckets", check_buckets(self.buckets))

  def replace(self, **changes) -> "TrainConfig":
    """A copy with `changes`; keys prefixed "model." change model fields."""
    model_changes = {k[len("model."):]: v for k, v in changes.items() if k.startswith("model.")}
    changes = {k: v for k, v in changes.items() if not k.startswith("model.")}
    if model_changes:
      changes["model"] = model_from_dict({**model_to_dict(changes.get("model", self.model)),
                                          **model_changes})
    return dataclasses.replace(self, **changes)

  def to_dict(self) -> dict:
    out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
    out["model"] = model_to_dict(self.model)
    return out

  @classmethod
  def from_dict(cls, config: dict) -> "TrainConfig":
    """Inverse of `to_dict`; a `ValueError` names a missing, unknown or bad field."""
    if not isinstance(config, dict):
      raise ValueError(f"a TrainConfig must be a dict of its fields, got "
                       f"{type(config).__name__}: {config!r:.80}")
    config = dict(config)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(config) - known)
    if unknown:
      raise ValueError(f"unknown TrainConfig fields {unknown}; allowed: {sorted(known)}")
    if "model" not in config:
      raise ValueError("a TrainConfig needs its 'model' (the AttentionClassifier's fields)")
    config["model"] = model_from_dict(config["model"])
    for name in ("frozen", "weight_decay_exclude"):
      if isinstance(config.get(name), list):
        config[name] = tuple(config[name])
    return cls(**config)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> "TrainConfig":
    try:
      config = json.loads(text)
    except json.JSONDecodeError as error:
      raise ValueError(f"a TrainConfig must be JSON; this is not valid JSON: {error}") from None
    return cls.from_dict(config)
