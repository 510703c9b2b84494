"""Training for the trained estimators (critics, probes): split, fit, evaluate.

Pure functions: data are a pytree of arrays with a leading sample axis plus
`weights <float32>[N]` (1 for a usable sample, 0 for a masked-out one), so
shapes stay static under `jit` and `vmap`. The whole optimisation is one
`lax.scan`; many fits (positions, seeds) run side by side under `vmap`.
"""

from __future__ import annotations

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


def draw_batch(key, weights, batch_size: int):
  """Indices of `batch_size` distinct samples, usable ones (weight > 0) first.

  Returns:
    <int32>[batch_size]; when fewer samples are usable, the batch is topped up
    with masked-out ones, which the losses ignore through their weights.
  """
  priority = jnp.where(weights > 0, jax.random.uniform(key, weights.shape), 2.0)
  return jnp.argsort(priority)[:batch_size]


def minimize(loss_fn, params, state, data, weights, key, *, steps: int, batch_size: int,
             optimizer: optax.GradientTransformation):
  """Minimises `loss_fn` over random minibatches, the loop one `lax.scan`.

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

  Returns:
    `(params, curve <float32>[steps])`.
  """
  grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

  def step(carry, step_key):
    params, opt_state, state = carry
    idx = draw_batch(step_key, weights, batch_size)
    batch = jax.tree.map(lambda a: a[idx], data)
    (_, (metric, state)), grads = grad_fn(params, state, batch, weights[idx])
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state, state), metric

  carry = (params, optimizer.init(params), state)
  (params, _, _), curve = lax.scan(step, carry, jax.random.split(key, steps))
  return params, curve


def map_batches(fn, data, weights, batch_size: int):
  """Applies `fn(batch, batch_weights) -> scalar` to consecutive batches.

  The last batch is padded with zero-weight samples.

  Returns:
    `(values <float32>[batches], counts <float32>[batches])`, counts being the
    usable samples of each batch (weight them to average).
  """
  n = weights.shape[0]
  batches = -(-n // batch_size)
  pad = batches * batch_size - n
  shape = lambda a: jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1)).reshape(
      (batches, batch_size) + a.shape[1:])
  batched = jax.tree.map(shape, (data, weights))
  values = lax.map(lambda b: fn(*b), batched)
  return values, jnp.sum(batched[1], axis=1)
