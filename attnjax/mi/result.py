"""`MIResult`: what every estimator returns."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax


class MIResult(NamedTuple):
  """A mutual-information estimate and its diagnostics (a pytree).

  Every leaf is an array, so a result can leave `jax.jit` and be stacked by
  `jax.vmap` (then each leaf gains the vmapped axes).

  Attributes:
    value: <float32>[] the estimate, in nats. Not clipped at 0: k-NN estimates
      of a near-zero MI can be slightly negative, and clipping would bias an
      average over positions or seeds upwards. NaN when fewer than `min_count`
      samples were usable.
    n: <int32>[] samples the value was computed on (the held-out split for the
      trained estimators).
    ceiling: <float32>[] the largest value the estimator can report whatever
      the truth: log(batch size) for InfoNCE, +inf for the others.
    diagnostics: dict of method-specific arrays, e.g. `k` for the k-NN
      estimators, `train_curve` <float32>[steps] for the trained ones.
  """
  value: jax.Array
  n: jax.Array
  ceiling: jax.Array
  diagnostics: dict[str, Any]
