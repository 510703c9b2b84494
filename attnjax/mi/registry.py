"""The estimator registry and its two entry points, `estimate` and `per_position`.

Both validate shapes eagerly (clear `ValueError`s), then run a `jax.jit`-ted
function compiled once per (method, options, shapes); both also work inside
the caller's own `jit` / `vmap` (options must then be static Python values,
and discrete-label methods that one-hot encode need `num_classes=`).
"""

from __future__ import annotations

import functools
import inspect
import types
import warnings

import jax
import jax.numpy as jnp

from attnjax.mi import binning, inputs, knn, probe, variational
from attnjax.mi.blocks import default_block_size
from attnjax.mi.result import MIResult

METHODS = types.MappingProxyType({
    "ksg": knn.ksg,
    "mixed_ksg": knn.mixed_ksg,
    "binning": binning.binning,
    "infonce": variational.infonce,
    "nwj": variational.nwj,
    "mine": variational.mine,
    "smile": variational.smile,
    "probe": probe.probe,
})
"""Estimator name → function `(x, y, *, mask=None, key=None, **options) -> MIResult`."""

# Methods that accept only one kind of y; the others take labels or vectors.
_Y_KIND = {"ksg": "continuous", "mixed_ksg": "discrete", "probe": "discrete"}

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
    `MIResult`; `float(result.value)` is the estimate.

  Raises:
    ValueError: unknown method or option, or malformed shapes.
  """
  _lookup(method)
  x, y = _as_xy(x, y, method)
  mask = _as_mask(mask, (x.shape[0],))
  options = _resolve_options(method, y, options)
  result = _compiled_estimate(method, min_count, _freeze(options))(x, y, mask, key)
  if _is_concrete(mask):
    _warn_if_few(jnp.sum(mask, keepdims=True), min_count, f"{method}: the input has")
  return result


def per_position(h, y, *, method: str, mask=None, key=None, min_count: int = MIN_COUNT,
                 position_batch: int | None = None, **options):
  """I(h_t; y) for every position t, by `jax.vmap` over positions.

  Position t is estimated on the examples where it is real (`mask[:, t]`),
  the others kept but ignored, so shapes stay static. A position with fewer
  than `min_count` real examples gets NaN; outside `jit` a warning names
  those positions (inside it the NaN is the only signal). Position t uses
  the key `jax.random.split(key, T)[t]`, so the result equals a loop of
  `estimate(h[:, t], y, mask=mask[:, t], key=keys[t]).value`. Seeds go on a
  leading axis with an outer `jax.vmap`: [S, N, T, D] → [S, T].

  Args:
    h: <float32>[N, T, D] hidden states.
    y: <int32>[N] labels, or <float32>[N, Dy], shared by all positions.
    method: a name in `METHODS`.
    mask: <bool>[N, T] real (non-padding) tokens (default all).
    key: PRNG key, as for `estimate`.
    min_count: minimum real examples per position.
    position_batch: estimate this many positions at a time (`lax.map` over
      chunks, each chunk vmapped) to bound memory; None vmaps all T at once.
      The trained estimators hold a [B, B, hidden] pair tensor per position
      (8 MiB at the defaults), so T = 64 at once needs ~0.5 GiB per tensor;
      on CPU chunks of 4–8 are also no slower.
    **options: the method's options. k-NN and binning default `block_size`
      to keep the distance blocks of the positions estimated together within
      32 MiB per array (under an outer vmap over S seeds, S times that: pass
      a smaller `block_size`).

  Returns:
    <float32>[T] estimates in nats.
  """
  _lookup(method)
  h = jnp.asarray(h)
  if h.ndim != 3:
    raise ValueError(f"h must have shape [N, T, D], got {h.shape}")
  n, positions, _ = h.shape
  _, y = _as_xy(h[:, 0], y, method)
  mask = _as_mask(mask, (n, positions))
  options = _resolve_options(method, y, options)
  together = min(position_batch or positions, positions)
  if "block_size" in _accepted_options(method) and options.get("block_size") is None:
    options["block_size"] = default_block_size(n, together)
  values = _compiled_per_position(method, min_count, together, _freeze(options))(h, y, mask, key)
  if _is_concrete(mask):
    _warn_if_few(jnp.sum(mask, axis=0), min_count, f"{method}: positions {{}} have")
  return values


def _lookup(method):
  if method not in METHODS:
    raise ValueError(f"unknown method {method!r}; choose one of {sorted(METHODS)}")
  return METHODS[method]


def _as_xy(x, y, method):
  """Checks shapes and the kind of y; returns x [N, Dx] and y [N] or [N, Dy]."""
  x = jnp.asarray(x)
  x = x[:, None] if x.ndim == 1 else x
  if x.ndim != 2:
    raise ValueError(f"x must have shape [N, D] or [N], got {x.shape}")
  x = x.astype(jnp.float32)
  y = jnp.asarray(y)
  if y.ndim == 0 or y.ndim > 2 or y.shape[0] != x.shape[0]:
    raise ValueError(f"y must have shape [N] or [N, Dy] with N = {x.shape[0]}, got {y.shape}")
  if inputs.is_discrete(y):
    if y.ndim != 1:
      raise ValueError(f"integer labels y must have shape [N], got {y.shape}")
    y = y.astype(jnp.int32)
  else:
    y = (y[:, None] if y.ndim == 1 else y).astype(jnp.float32)
  kind = "discrete" if inputs.is_discrete(y) else "continuous"
  if _Y_KIND.get(method, kind) != kind:
    wanted = {"ksg": "float y [N, Dy]; for labels use 'mixed_ksg'",
              "mixed_ksg": "integer labels y [N]; for vectors use 'ksg'",
              "probe": "integer labels y [N]"}[method]
    raise ValueError(f"method {method!r} needs {wanted}; got {y.dtype} {y.shape}")
  return x, y


def _as_mask(mask, shape):
  if mask is None:
    return jnp.ones(shape, dtype=bool)
  mask = jnp.asarray(mask)
  if mask.shape != shape:
    raise ValueError(f"mask must have shape {list(shape)}, got {list(mask.shape)}")
  return mask.astype(bool)


@functools.cache
def _accepted_options(method) -> frozenset:
  fn = variational.variational if method in variational.BOUNDS else METHODS[method]
  params = inspect.signature(fn).parameters.values()
  keyword = {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
  return frozenset(keyword - {"mask", "key", "bound"})


def _resolve_options(method, y, options):
  unknown = set(options) - _accepted_options(method)
  if unknown:
    raise ValueError(f"unknown option(s) {sorted(unknown)} for method {method!r}; "
                     f"accepted: {sorted(_accepted_options(method))}")
  options = dict(options)
  if "num_classes" in _accepted_options(method) and inputs.is_discrete(y):
    options["num_classes"] = inputs.label_count(y, options.get("num_classes"))
  return options


def _freeze(options):
  """Options as a hashable, order-free tuple (sequences become tuples)."""
  hashable = lambda v: tuple(v) if isinstance(v, (list, tuple)) else v
  return tuple(sorted((name, hashable(value)) for name, value in options.items()))


def _guarded(method, min_count, frozen_options):
  fn, options = METHODS[method], dict(frozen_options)

  def run(x, y, mask, key):
    result = fn(x, y, mask=mask, key=key, **options)
    enough = jnp.sum(mask) >= min_count
    return result._replace(value=jnp.where(enough, result.value, jnp.nan))
  return run


@functools.cache
def _compiled_estimate(method, min_count, frozen_options):
  return jax.jit(_guarded(method, min_count, frozen_options))


@functools.cache
def _compiled_per_position(method, min_count, together, frozen_options):
  run = _guarded(method, min_count, frozen_options)

  def all_positions(h, y, mask, key):
    positions = h.shape[1]
    keys = None if key is None else jax.random.split(key, positions)
    one = lambda args: run(args[0], y, args[1], args[2]).value
    args = (jnp.swapaxes(h, 0, 1), mask.T, keys)
    if together >= positions:
      return jax.vmap(one)(args)
    return jax.lax.map(one, args, batch_size=together)
  return jax.jit(all_positions)


def _is_concrete(array) -> bool:
  return not isinstance(array, jax.core.Tracer)


def _warn_if_few(counts, min_count, subject):
  """Warns when any count is below min_count; `subject` may hold {} for their indices."""
  few = [int(t) for t in jnp.flatnonzero(counts < min_count)]
  if few:
    warnings.warn(f"{subject.format(few)} fewer than min_count={min_count} usable samples: "
                  "MI set to NaN", RuntimeWarning, stacklevel=3)
