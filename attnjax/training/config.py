"""`TrainConfig`: everything that defines a training run, saved as JSON with the run."""

from __future__ import annotations

import dataclasses
import json

from attnjax.models.classifier import AttentionClassifier, model_from_dict, model_to_dict


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """A training run's settings (the model is part of it).

  Attributes:
    model: the `AttentionClassifier` to train (its fields are the model config).
    epochs: passes over the training data.
    batch_size: examples per step, per seed.
    learning_rate: Adam step size.
    weight_decay: decoupled weight decay (AdamW) when > 0.
    grad_clip: global-norm clip (None or 0 disables).
    eval_batch_size: batch size of evaluation and `collect`.
    select_best: keep, per seed, the parameters of the epoch with the best
      eval accuracy (needs eval data); otherwise the last epoch's.
    patience: stop when no seed improved its eval accuracy for this many
      epochs (None: run all epochs).
    steps_per_call: training steps compiled into one call (progress granularity).
    frozen: top-level parameter groups kept at their initial values, e.g.
      ("attention",) trains with a frozen random-init attention scorer.
  """
  model: AttentionClassifier
  epochs: int = 5
  batch_size: int = 64
  learning_rate: float = 1e-3
  weight_decay: float = 0.0
  grad_clip: float | None = 1.0
  eval_batch_size: int = 256
  select_best: bool = True
  patience: int | None = None
  steps_per_call: int = 50
  frozen: tuple[str, ...] = ()

  def __post_init__(self):
    if not isinstance(self.model, AttentionClassifier):
      raise ValueError(f"model must be an AttentionClassifier, got {type(self.model).__name__}")
    for name in ("epochs", "batch_size", "eval_batch_size", "steps_per_call"):
      if int(getattr(self, name)) < 1:
        raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
    if not self.learning_rate > 0:
      raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
    if self.weight_decay < 0:
      raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
    object.__setattr__(self, "frozen", tuple(self.frozen))
    if self.patience is not None and self.patience < 1:
      raise ValueError(f"patience must be >= 1 or None, got {self.patience!r}")

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
    config = dict(config)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(config) - known)
    if unknown:
      raise ValueError(f"unknown TrainConfig fields {unknown}; allowed: {sorted(known)}")
    config["model"] = model_from_dict(config["model"])
    return cls(**config)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> "TrainConfig":
    return cls.from_dict(json.loads(text))
