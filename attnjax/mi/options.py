"""What each estimator option may be: one table, shared by the registry and the option types.

`check(name, value, owner)` raises a `ValueError` naming the option, its value, who
takes it and what is allowed; an option not in `RANGES` is not checked here.
"""

from __future__ import annotations

import math

from attnjax.checks import is_int, is_real

RANGES = {
    "bins": (lambda v: is_int(v) and v >= 1, "an integer >= 1"),
    "steps": (lambda v: is_int(v) and v >= 1, "an integer >= 1"),
    "batch_size": (lambda v: is_int(v) and v >= 1, "an integer >= 1"),
    "block_size": (lambda v: v is None or (is_int(v) and v >= 1), "None or an integer >= 1"),
    "eval_every": (lambda v: is_int(v) and v >= 1, "an integer >= 1"),
    "eval_size": (lambda v: is_int(v) and v >= 1, "an integer >= 1"),
    "divergence_nats": (lambda v: is_real(v) and 0 < v < math.inf, "a finite number > 0"),
    "embed_dim": (lambda v: is_int(v) and v >= 1, "an integer >= 1"),
    "num_classes": (lambda v: v is None or (is_int(v) and v >= 1), "None or an integer >= 1"),
    "hidden": (lambda v: isinstance(v, (list, tuple)) and all(is_int(w) and w >= 1 for w in v),
               "a sequence of integers >= 1"),
    "learning_rate": (lambda v: is_real(v) and 0 < v < math.inf, "a finite number > 0"),
    "jitter": (lambda v: is_real(v) and 0 <= v < math.inf, "a finite number >= 0"),
    "tau": (lambda v: is_real(v) and 0 < v < math.inf, "a finite number > 0"),
    "train_fraction": (lambda v: is_real(v) and 0 < v < 1, "a number in (0, 1)"),
    "momentum": (lambda v: is_real(v) and 0 <= v < 1, "a number in [0, 1)"),
    "weight_decay": (lambda v: is_real(v) and 0 <= v < math.inf, "a finite number >= 0"),
    "ema_rate": (lambda v: is_real(v) and 0 < v <= 1, "a number in (0, 1]"),
}
"""Option name → (test, what is allowed)."""


def check(name: str, value, owner: str) -> None:
  """`ValueError` if `value` is outside option `name`'s range (`owner` names who takes it)."""
  if name in RANGES and not RANGES[name][0](value):
    raise ValueError(f"option {name}={value!r} of {owner} must be {RANGES[name][1]}")
