"""The estimator registry and its two entry points, `estimate` and `per_position`.

`ESTIMATORS` declares, per method, its function, the options it accepts and the
kind of y it takes; the entry points validate against it, and callers ask it
(`needs_num_classes`) which methods take `num_classes=`.

Both validate shapes and options eagerly (clear `ValueError`s), then run a
`jax.jit`-ted function compiled once per (method, options, shapes); both also
work inside the caller's own `jit` / `vmap` (options must then be static Python
values, and discrete-label methods that one-hot encode need `num_classes=`).

Non-finite inputs: a NaN or ±inf in a masked-in sample of x (or of a
continuous y) raises a `ValueError` naming the rows when the inputs are
concrete; under `jit` / `vmap`, where values cannot be inspected, the estimate
is NaN instead (per position for `per_position`). Non-finite values in
masked-out samples are ignored, as every masked-out value is.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import warnings
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from attnjax.checks import check_int, is_concrete, is_int
from attnjax.mi import binning, crossfit, inputs, knn, probe, variational
from attnjax.mi import options as option_ranges
from attnjax.mi.blocks import default_block_size
from attnjax.mi.result import MIResult

_WANTED = {"discrete": "integer labels y [N]", "continuous": "float y [N, Dy]"}


@dataclasses.dataclass(frozen=True)
class Estimator:
  """An estimator and what it takes, declared once for the entry points and their callers.

  Attributes:
    fn: `(x, y, *, mask=None, key=None, **options) -> MIResult`.
    options: the keyword options `fn` accepts besides `mask` and `key`.
    y_kind: "discrete" (integer labels <int32>[N]), "continuous"
      (<float32>[N, Dy]) or "any".
    counterpart: the method for the other kind of y, named in the error a y
      of the wrong kind raises (None: none).
  """
  fn: Callable[..., MIResult]
  options: frozenset[str]
  y_kind: str = "any"
  counterpart: str | None = None

  @property
  def needs_num_classes(self) -> bool:
    """Whether it takes `num_classes=`: the static width it one-hot encodes labels to."""
    return "num_classes" in self.options


_KNN = frozenset({"k", "metric", "standardize", "jitter", "block_size"})
_PROBE = frozenset({"num_classes", "hidden", "steps", "batch_size", "learning_rate",
                    "momentum", "weight_decay", "train_fraction", "validation_fraction",
                    "eval_every", "standardize"})
_CROSSFIT = frozenset({"num_classes", "folds", "ridge", "standardize", "dims", "iterations",
                       "memory"})
_CRITIC = frozenset(variational.OPTIONS + ("num_classes",))

ESTIMATORS = types.MappingProxyType({
    "ksg": Estimator(knn.ksg, _KNN, "continuous", counterpart="mixed_ksg"),
    "mixed_ksg": Estimator(knn.mixed_ksg, _KNN, "discrete", counterpart="ksg"),
    "binning": Estimator(binning.binning,
                         frozenset({"bins", "strategy", "bias_correction", "block_size"})),
    "infonce": Estimator(variational.infonce, _CRITIC),
    "nwj": Estimator(variational.nwj, _CRITIC),
    "mine": Estimator(variational.mine, _CRITIC),
    "smile": Estimator(variational.smile, _CRITIC),
    "probe": Estimator(probe.probe, _PROBE, "discrete"),
    "crossfit_probe": Estimator(crossfit.crossfit_probe, _CROSSFIT, "discrete"),
})
"""Estimator name → `Estimator` (its function, options and kind of y)."""

METHODS = types.MappingProxyType({name: e.fn for name, e in ESTIMATORS.items()})
"""Estimator name → function `(x, y, *, mask=None, key=None, **options) -> MIResult`."""

MIN_COUNT = 20
"""Default minimum number of usable samples; fewer give a NaN estimate."""


def estimate(x, y, *, method: str, key=None, mask=None, min_count: int = MIN_COUNT,
             **options) -> MIResult:
  """Estimates I(x; y) in nats with the estimator `method`.

  Args:
    x: <float32>[N, Dx] (or [N]); NumPy or JAX.
    y: <int32>[N] discrete labels, or <float32>[N, Dy] (or [N]) continuous.
    method: a name in `METHODS`.
    key: PRNG key; required by the trained estimators, optional jitter key for
      the k-NN ones.
    mask: <bool>[N] samples to use (default all).
    min_count: fewer usable samples than this give value NaN (and a warning
      when the mask is concrete).
    **options: the method's options (see its docstring in `METHODS`).

  Returns:
    `MIResult`; `float(result.value)` is the estimate. Under `jit` / `vmap`
    the value is NaN when a masked-in sample of x or (continuous) y is NaN
    or ±inf, or (methods with `num_classes`) a masked-in label lies outside
    [0, num_classes).

  Raises:
    ValueError: unknown method or option, an option out of its range,
      malformed shapes, no samples (N = 0), and, for concrete inputs, a
      non-finite masked-in sample (naming how many values and which rows) or
      a label outside [0, num_classes).
  """
  _lookup(method)
  _check_min_count(min_count)
  x, y = _as_xy(x, y, method)
  mask = _as_mask(mask, (x.shape[0],))
  options = _resolve_options(method, y, options, x.shape[0])
  _raise_if_bad_values(x[:, None], y, mask[:, None], method, options, per_position=False)
  result = _compiled_estimate(method, min_count, _freeze(options))(x, y, mask, key)
  if is_concrete(mask):
    _warn_if_few(jnp.sum(mask, keepdims=True), min_count, f"{method}: the input has")
  return result


def per_position(h, y, *, method: str, mask=None, key=None, min_count: int = MIN_COUNT,
                 position_batch: int | str | None = "auto", return_counts: bool = False,
                 **options):
  """I(h_t; y) for every position t, by `jax.vmap` over positions.

  Position t is estimated on the examples where it is real (`mask[:, t]`),
  the others kept but ignored, so shapes stay static. A position with fewer
  than `min_count` real examples gets NaN; outside `jit` a warning names
  those positions (inside it the NaN is the only signal, and
  `return_counts=True` tells how many positions were estimable). A NaN or
  ±inf in a masked-in h[n, t] (or in a continuous y[n] used at t) raises a
  `ValueError` naming the positions when the inputs are concrete; under
  `jit` / `vmap` it makes that position's value NaN. Position t uses
  the key `jax.random.split(key, T)[t]`, so the result equals a loop of
  `estimate(h[:, t], y, mask=mask[:, t], key=keys[t]).value` (on CPU, with the
  default `position_batch`, bit for bit; tested). Seeds go on a
  leading axis with an outer `jax.vmap`: [S, N, T, D] → [S, T].

  Args:
    h: <float32>[N, T, D] hidden states.
    y: <int32>[N] labels, or <float32>[N, Dy], shared by all positions.
    method: a name in `METHODS`.
    mask: <bool>[N, T] real (non-padding) tokens (default all).
    key: PRNG key, as for `estimate`.
    min_count: minimum real examples per position.
    position_batch: estimate this many positions at a time (`lax.map` over
      chunks, each chunk vmapped); None vmaps all T at once. "auto" (the
      default) follows `auto_position_batch`: one position at a time on CPU,
      all T at once on accelerators. The critic estimators hold a
      [B, B, hidden] pair tensor per position while training (4 MiB at the
      defaults) and, to score held-out pairs, an [M, M] score matrix (M ≤
      `eval_size`: 25 MB for N = 5,000) built from 16 MiB chunks, so
      T = 64 at once needs ~1–3 GiB.
    return_counts: also return the number of masked-in samples per position.
    **options: the method's options. k-NN and binning default `block_size`
      to keep the distance blocks of the positions estimated together within
      32 MiB per array (under an outer vmap over S seeds, S times that: pass
      a smaller `block_size`).

  Returns:
    <float32>[T] estimates in nats; with `return_counts`, the pair
    (values <float32>[T], counts <int32>[T]), counts[t] = sum(mask[:, t]):
    values are NaN where counts < min_count (and where inputs are
    non-finite, under `jit`).

  Raises:
    ValueError: as `estimate`; for concrete inputs, a non-finite masked-in
      value names its positions and (row, position) pairs.
  """
  _lookup(method)
  _check_min_count(min_count)
  h = _as_array("h", h)
  if h.ndim != 3:
    raise ValueError(f"h must have shape [N, T, D], got {h.shape}")
  n, positions, _ = h.shape
  if n == 0 or positions == 0:
    raise ValueError(f"h has no {'samples' if n == 0 else 'positions'}: shape {h.shape}")
  _, y = _as_xy(h[:, 0], y, method)
  mask = _as_mask(mask, (n, positions))
  if position_batch == "auto":
    position_batch = auto_position_batch()
  elif position_batch is not None:
    check_int("position_batch", position_batch, 1, "or None or 'auto'")
  options = _resolve_options(method, y, options, n)
  _raise_if_bad_values(h, y, mask, method, options, per_position=True)
  positions_per_batch = min(position_batch or positions, positions)
  if "block_size" in _accepted_options(method) and options.get("block_size") is None:
    options["block_size"] = default_block_size(n, positions_per_batch)
  compiled = _compiled_per_position(method, min_count, positions_per_batch, _freeze(options))
  values = compiled(h, y, mask, key)
  counts = jnp.sum(mask, axis=0, dtype=jnp.int32)
  if is_concrete(mask):
    _warn_if_few(counts, min_count, f"{method}: positions {{}} have")
  return (values, counts) if return_counts else values


def auto_position_batch(backend: str | None = None) -> int | None:
  """`per_position`'s default chunk of positions for a backend (default: JAX's default one).

  CPU: 1. A CPU estimate of one position already keeps every core busy (its
  matrix products are multi-threaded), so vmapping T positions only multiplies
  the working set: whole-T vmap measured 0.56–0.92× a Python loop of
  `estimate` for 7 of 8 methods on 2 cores, while one position at a time
  inside one compiled program (`lax.map`) is the loop without its per-call
  dispatch (benchmarks/README.md, "per_position"). GPU/TPU: None, all T at
  once: one position rarely fills an accelerator.
  """
  return 1 if (backend or jax.default_backend()) == "cpu" else None


def needs_num_classes(method: str) -> bool:
  """Whether estimator `method` takes `num_classes=` (needed for labels under `jit` / `vmap`).

  Raises:
    ValueError: unknown method.
  """
  return _lookup(method).needs_num_classes


def _lookup(method) -> Estimator:
  if method not in ESTIMATORS:
    raise ValueError(f"unknown method {method!r}; choose one of {sorted(ESTIMATORS)}")
  return ESTIMATORS[method]


def _as_array(name, value):
  """`jnp.asarray(value)`, a `ValueError` unless it holds numbers (or booleans)."""
  dtype = value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype
  if not (jnp.issubdtype(dtype, jnp.number) or jnp.issubdtype(dtype, jnp.bool_)):
    raise ValueError(f"{name} must be a numeric array, got dtype {dtype}")
  return jnp.asarray(value)


def _as_xy(x, y, method):
  """Checks shapes and the kind of y; returns x [N, Dx] and y [N] or [N, Dy]."""
  x = _as_array("x", x)
  x = x[:, None] if x.ndim == 1 else x
  if x.ndim != 2:
    raise ValueError(f"x must have shape [N, D] or [N], got {x.shape}")
  if x.shape[0] == 0:
    raise ValueError(f"x has no samples: shape {x.shape} (N = 0)")
  x = x.astype(jnp.float32)
  y = _as_array("y", y)
  if y.ndim == 0 or y.ndim > 2 or y.shape[0] != x.shape[0]:
    raise ValueError(f"y must have shape [N] or [N, Dy] with N = {x.shape[0]}, got {y.shape}")
  if inputs.is_discrete(y):
    if y.ndim != 1:
      raise ValueError(f"integer labels y must have shape [N], got {y.shape}")
    y = y.astype(jnp.int32)
  else:
    y = (y[:, None] if y.ndim == 1 else y).astype(jnp.float32)
  kind = "discrete" if inputs.is_discrete(y) else "continuous"
  estimator = ESTIMATORS[method]
  if estimator.y_kind not in ("any", kind):
    wanted = _WANTED[estimator.y_kind]
    if estimator.counterpart is not None:
      other = "labels" if kind == "discrete" else "vectors"
      wanted += f"; for {other} use {estimator.counterpart!r}"
    raise ValueError(f"method {method!r} needs {wanted}; got {y.dtype} {y.shape}")
  return x, y


def _as_mask(mask, shape):
  if mask is None:
    return jnp.ones(shape, dtype=bool)
  mask = _as_array("mask", mask)
  if mask.shape != shape:
    raise ValueError(f"mask must have shape {list(shape)}, got {list(mask.shape)}")
  return mask.astype(bool)


def _accepted_options(method) -> frozenset[str]:
  """The options `method` accepts besides `mask` and `key`, as `ESTIMATORS` declares them."""
  return ESTIMATORS[method].options


def _resolve_options(method, y, options, n):
  accepted = _accepted_options(method)
  unknown = set(options) - accepted
  if unknown:
    raise ValueError(f"unknown option(s) {sorted(unknown)} for method {method!r}; "
                     f"accepted: {sorted(accepted)}")
  _check_option_values(method, options, n)
  options = dict(options)
  if ESTIMATORS[method].needs_num_classes and inputs.is_discrete(y):
    options["num_classes"] = inputs.label_count(y, options.get("num_classes"))
  return options


def _freeze(options):
  """Options as a hashable, order-free tuple (sequences become tuples)."""
  hashable = lambda v: tuple(v) if isinstance(v, (list, tuple)) else v
  return tuple(sorted((name, hashable(value)) for name, value in options.items()))


def _guarded(method, min_count, frozen_options):
  fn, options = ESTIMATORS[method].fn, dict(frozen_options)

  def run(x, y, mask, key):
    valid = _valid_rows(x, y, options.get("num_classes"))
    # Masked-out rows are ignored: zero their non-finite values, which sums would spread.
    x = jnp.where(mask[:, None] | jnp.isfinite(x), x, 0.0)
    if not inputs.is_discrete(y):
      y = jnp.where(mask[:, None] | jnp.isfinite(y), y, 0.0)
    result = fn(x, y, mask=mask, key=key, **options)
    ok = (jnp.sum(mask) >= min_count) & jnp.all(valid | ~mask)
    return result._replace(value=jnp.where(ok, result.value, jnp.nan))
  return run


def _valid_rows(x, y, num_classes):
  """<bool>[N]: x finite, y finite (continuous) or a label in [0, num_classes) (if given)."""
  valid = jnp.all(jnp.isfinite(x), axis=-1)
  if not inputs.is_discrete(y):
    return valid & jnp.all(jnp.isfinite(y), axis=-1)
  if num_classes is not None:
    return valid & (y >= 0) & (y < num_classes)
  return valid


COMPILED_CACHE_SIZE = 64
"""How many compiled estimators (per method, min_count and options) are kept; the least
recently used one is dropped beyond that, so a long run's settings do not pile up."""


@functools.lru_cache(maxsize=COMPILED_CACHE_SIZE)
def _compiled_estimate(method, min_count, frozen_options):
  return jax.jit(_guarded(method, min_count, frozen_options))


@functools.lru_cache(maxsize=COMPILED_CACHE_SIZE)
def _compiled_per_position(method, min_count, positions_per_batch, frozen_options):
  run = _guarded(method, min_count, frozen_options)

  def all_positions(h, y, mask, key):
    positions = h.shape[1]
    keys = None if key is None else jax.random.split(key, positions)
    one = lambda args: run(args[0], y, args[1], args[2]).value
    args = (jnp.swapaxes(h, 0, 1), mask.T, keys)
    if positions_per_batch >= positions:
      return jax.vmap(one)(args)
    if positions_per_batch == 1:
      # A plain scan over positions: each position's program is `estimate`'s, so the values
      # equal a loop of it bit for bit; a vmap of one around it (`batch_size=1`) costs 15%
      # more on CPU (measured on crossfit_probe's batched L-BFGS) and rounds differently
      # in float32.
      return jax.lax.map(one, args)
    return jax.lax.map(one, args, batch_size=positions_per_batch)
  return jax.jit(all_positions)


def _check_min_count(min_count):
  check_int("min_count", min_count, 0)


def _check_option_values(method, options, n):
  """`ValueError` naming an option outside its range (`k` must also be < N)."""
  for name, value in options.items():
    option_ranges.check(name, value, f"method {method!r}")
  if "k" in options and not (is_int(options["k"]) and 1 <= options["k"] < n):
    raise ValueError(f"option k={options['k']!r} of method {method!r} must be an integer in "
                     f"[1, N) with N = {n} samples")


def _raise_if_bad_values(h, y, mask, method, options, *, per_position, shown=5):
  """For concrete inputs, a `ValueError` naming non-finite masked-in values or bad labels.

  Args:
    h: <float32>[N, T, D] (T = 1 for `estimate`).
    y: <int32>[N] or <float32>[N, Dy].
    mask: <bool>[N, T].
    per_position: name positions (`per_position`) or only rows (`estimate`).
  """
  name = "h" if per_position else "x"
  bad_x = ~jnp.isfinite(h) & mask[..., None]
  if is_concrete(bad_x):
    bad_x = np.asarray(bad_x)
    if bad_x.any():
      cells = np.argwhere(bad_x.any(-1))  # (row, position) pairs
      if per_position:
        where = (f"at positions {_first(np.unique(cells[:, 1]), shown)}, (row, position) "
                 f"{_first([tuple(map(int, c)) for c in cells], shown)}")
      else:
        where = f"in rows {_first(cells[:, 0], shown)}"
      raise ValueError(f"{name} holds {int(bad_x.sum())} non-finite value(s) (NaN or inf) in "
                       f"masked-in samples, {where}; MI estimators need finite inputs: fix "
                       f"them, or leave those samples out with mask=")
  used_rows = jnp.any(mask, axis=-1)
  if not inputs.is_discrete(y):
    bad_y = ~jnp.isfinite(y) & used_rows[:, None]
    if is_concrete(bad_y):
      bad_y = np.asarray(bad_y)
      if bad_y.any():
        rows = np.flatnonzero(bad_y.any(-1))
        where = f"in rows {_first(rows, shown)}"
        if per_position:
          positions = np.flatnonzero(np.asarray(mask)[rows].any(0))
          where += f", used at positions {_first(positions, shown)}"
        raise ValueError(f"y holds {int(bad_y.sum())} non-finite value(s) (NaN or inf) in "
                         f"masked-in samples, {where}; MI estimators need finite inputs: fix "
                         f"them, or leave those samples out with mask=")
  elif options.get("num_classes") is not None:
    classes = options["num_classes"]
    bad = ((y < 0) | (y >= classes)) & used_rows
    if is_concrete(bad):
      bad = np.asarray(bad)
      if bad.any():
        rows = np.flatnonzero(bad)
        values = np.asarray(y)[rows[:shown]].tolist()
        raise ValueError(f"method {method!r} needs labels y in [0, num_classes={classes}); "
                         f"got {values} in rows {_first(rows, shown)}")


def _first(items, shown):
  """`[a, b, c]`, or `[a, b, c, ...] (7 in all)` when there are more than `shown`."""
  items = [int(i) if isinstance(i, (int, np.integer)) else i for i in items]
  if len(items) <= shown:
    return str(items)
  return f"{str(items[:shown])[:-1]}, ...] ({len(items)} in all)"


def _warn_if_few(counts, min_count, subject):
  """Warns when any count is below min_count; `subject` may hold {} for their indices."""
  few = [int(t) for t in jnp.flatnonzero(counts < min_count)]
  if few:
    warnings.warn(f"{subject.format(few)} fewer than min_count={min_count} usable samples: "
                  "MI set to NaN", RuntimeWarning, stacklevel=3)
