"""Training for the trained estimators (critics, probes): split, fit, evaluate.

Pure functions: data are a pytree of arrays with a leading sample axis plus
`weights <float32>[N]` (1 for a usable sample, 0 for a masked-out one), so
shapes stay static under `jit` and `vmap`. The whole optimisation is one
`lax.scan`; many fits (positions, seeds) run side by side under `vmap`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax


def train_eval_split(key, data, weights, train_fraction: float):
  """Random split into a training part and a held-out part.

  Args:
    key: PRNG key.
    data: pytree of arrays with leading axis N.
    weights: <float32>[N].
    train_fraction: share of the N slots that go to training.

  Returns:
    `((train_data, train_weights), (eval_data, eval_weights))`, with
    round(train_fraction·N) and N − round(train_fraction·N) slots.
  """
  n = weights.shape[0]
  n_train = min(max(int(round(train_fraction * n)), 1), n - 1)
  order = jnp.argsort(jax.random.uniform(key, (n,)))  # compiles faster than permutation
  take = lambda idx: (jax.tree.map(lambda a: a[idx], data), weights[idx])
  return take(order[:n_train]), take(order[n_train:])


def require_key(key, method: str, trains: str) -> None:
  """`ValueError` when a trained estimator gets no PRNG key."""
  if key is None:
    raise ValueError(f"method {method!r} trains {trains}: pass key=jax.random.key(...)")


class FitSplits(NamedTuple):
  """The samples of a trained estimator, split three ways (`fit_splits`), and its keys."""
  train: Any
  train_w: jax.Array
  validation: Any
  validation_w: jax.Array | None
  held_out: Any
  held_out_w: jax.Array
  key_init: jax.Array
  key_train: jax.Array


def fit_splits(key, data, mask, train_fraction: float, validation_fraction: float) -> FitSplits:
  """The preamble every trained estimator shares (probe, critic): keys and splits.

  `key` splits into (split, init, train) keys; the samples (`data`, a pytree
  with leading axis N, usable where `mask`) split into a training part
  (`train_fraction`) and a held-out part the estimate is measured on; with
  `validation_fraction` > 0 that share of the training part is set aside to
  choose the early-stopping step (else `validation` and `validation_w` are None).
  """
  key_split, key_init, key_train = jax.random.split(key, 3)
  (train, train_w), (held_out, held_out_w) = train_eval_split(
      key_split, data, mask.astype(jnp.float32), train_fraction)
  validation = validation_w = None
  if validation_fraction > 0:
    (train, train_w), (validation, validation_w) = train_eval_split(
        jax.random.fold_in(key_split, 1), train, train_w, 1 - validation_fraction)
  return FitSplits(train, train_w, validation, validation_w, held_out, held_out_w, key_init,
                   key_train)


def draw_batch(key, weights, batch_size: int):
  """Indices of `batch_size` distinct samples, usable ones (weight > 0) first.

  Returns:
    <int32>[batch_size]; when fewer samples are usable, the batch is topped up
    with masked-out ones, which the losses ignore through their weights.
  """
  priority = jnp.where(weights > 0, jax.random.uniform(key, weights.shape), 2.0)
  return jnp.argsort(priority)[:batch_size]


class Fit(NamedTuple):
  """What `minimize` returns.

  Attributes:
    params: the final parameters, or with `select` the best-scoring ones.
    curve: <float32>[steps] the loss_fn metric of every step.
    scores: <float32>[checks] the `select` score at step 0, after every
      `eval_every` steps and at the end (None without `select`).
    best_step: <int32>[] the step whose parameters were kept (None without
      `select`).
  """
  params: Any
  curve: jax.Array
  scores: jax.Array | None = None
  best_step: jax.Array | None = None


def minimize(loss_fn, params, state, data, weights, key, *, steps: int, batch_size: int,
             optimizer: optax.GradientTransformation, select=None,
             eval_every: int = 25) -> Fit:
  """Minimises `loss_fn` over random minibatches, the loop one `lax.scan`.

  With `select`, early stopping in static shapes: all `steps` run, and the
  parameters kept are those with the lowest `select` score among step 0 and
  every `eval_every`-th step (and the last).

  Args:
    loss_fn: `(params, state, batch, batch_weights) -> (loss, (metric, state))`;
      `state` is an extra pytree carried from step to step (e.g. MINE's
      moving average), `metric` a scalar logged per step.
    params: initial parameters.
    state: initial carried state.
    data: pytree of arrays with leading axis N (the training split).
    weights: <float32>[N].
    key: PRNG key for the batches.
    steps: optimisation steps.
    batch_size: samples per step.
    optimizer: an optax transformation.
    select: optional `(params, state) -> scalar`, lower is better (e.g. the
      loss on a validation split the batches never draw from).
    eval_every: steps between two `select` checks, >= 1.

  Returns:
    `Fit(params, curve, scores, best_step)`.
  """
  if select is not None and (int(eval_every) != eval_every or eval_every < 1):
    raise ValueError(f"eval_every must be an integer >= 1, got {eval_every!r}")
  grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

  def step(carry, step_key):
    params, opt_state, state = carry
    idx = draw_batch(step_key, weights, batch_size)
    batch = jax.tree.map(lambda a: a[idx], data)
    (_, (metric, state)), grads = grad_fn(params, state, batch, weights[idx])
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state, state), metric

  carry = (params, optimizer.init(params), state)
  keys = jax.random.split(key, steps)
  if select is None:
    (params, _, _), curve = lax.scan(step, carry, keys)
    return Fit(params, curve)

  def run_and_check(carry_best, xs):
    """`len(keys)` steps, then a check; keeps (score, params, step) of the best so far."""
    carry, best = carry_best
    step_keys, end_step = xs
    carry, curve = lax.scan(step, carry, step_keys)
    score = jnp.asarray(select(carry[0], carry[2]), jnp.float32)
    better = score < best[0]
    best = jax.tree.map(lambda new, old: jnp.where(better, new, old),
                        (score, carry[0], end_step), best)
    return (carry, best), (curve, score)

  best = (jnp.asarray(select(params, state), jnp.float32), params, jnp.int32(0))
  rounds, rest = divmod(steps, int(eval_every))
  curves, scores = [], [best[0][None]]
  if rounds:
    # keys[1:] is () for typed keys, (2,) for raw uint32 ones (`jax.random.PRNGKey`).
    full = keys[:rounds * eval_every].reshape((rounds, eval_every) + keys.shape[1:])
    ends = (jnp.arange(1, rounds + 1) * eval_every).astype(jnp.int32)
    (carry, best), (curve, score) = lax.scan(run_and_check, (carry, best), (full, ends))
    curves.append(curve.reshape(-1))
    scores.append(score)
  if rest:
    (carry, best), (curve, score) = run_and_check((carry, best),
                                                  (keys[rounds * eval_every:], jnp.int32(steps)))
    curves.append(curve)
    scores.append(score[None])
  curve = jnp.concatenate(curves) if curves else jnp.zeros((0,), jnp.float32)
  return Fit(best[1], curve, jnp.concatenate(scores), best[2])
