"""Barber–Agakov bound with a classifier probe: I(x; y) ≥ H(y) − CE."""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import optax

from attnjax.mi import fit, inputs
from attnjax.mi.result import MIResult
from attnjax.mi.variational import MLP


def probe(x, y, *, mask=None, key=None, num_classes: int | None = None,
          hidden: Sequence[int] = (), steps: int = 1000, batch_size: int = 256,
          learning_rate: float = 3e-2, weight_decay: float = 1e-4,
          train_fraction: float = 0.5, standardize: bool = True):
  """Barber–Agakov lower bound H(y) − CE(q(y | x)) with a trained probe q.

  A linear (`hidden=()`) or MLP classifier is trained with AdamW on a training
  split; H(y) (plug-in) and the cross-entropy are measured on the held-out
  split. Any probe gives a lower bound up to sampling noise; the gap is the
  probe's excess risk, so a linear probe reports only linearly decodable
  information. Overfitting shows up as a low (possibly negative) value.

  Accuracy: for Gaussian class-conditionals (whose Bayes posterior is
  linear-softmax, so a linear probe can reach the bound) at n = 4,000 it
  reads 0.96 for a truth of 0.98 (d = 2, tested within [−0.05, +0.03]) and
  0.65 for 0.68 (d = 8, measured); shuffled labels give (−0.06, 0.03).

  Args:
    x: <float32>[N, Dx].
    y: <int32>[N] labels in [0, num_classes).
    mask: <bool>[N] samples to use (default all).
    key: PRNG key (split, initialisation, batches); required.
    num_classes: C (inferred from concrete labels by `attnjax.mi.estimate`).
    hidden: hidden widths of the probe; () is a linear (softmax) probe.
    steps: AdamW steps.
    batch_size: samples per step.
    learning_rate: AdamW step size.
    weight_decay: AdamW decoupled weight decay.
    train_fraction: share of the samples used to train the probe.
    standardize: scale each column of x to unit variance first.

  Returns:
    `MIResult` with `n` the held-out samples; diagnostics `train_curve`
    <float32>[steps] (training cross-entropy), `h_y` and `cross_entropy`
    (held-out, nats).

  References:
    Barber & Agakov (2003), "The IM Algorithm: A Variational Approach to
    Information Maximization", NeurIPS; Poole et al. (2019), "On Variational
    Bounds of Mutual Information", ICML.
  """
  if key is None:
    raise ValueError("method 'probe' trains a classifier: pass key=jax.random.key(...)")
  if not inputs.is_discrete(y):
    raise ValueError("method 'probe' needs integer labels y")
  mask = inputs.full_mask(x, mask)
  classes = inputs.label_count(y, num_classes)
  x = jnp.asarray(x, jnp.float32)
  if standardize:
    x = inputs.standardize(x, mask)
  key_split, key_init, key_train = jax.random.split(key, 3)
  (train, train_w), (held_out, held_out_w) = fit.train_eval_split(
      key_split, (x, y), mask.astype(jnp.float32), train_fraction)

  model = MLP((*hidden, classes))
  params = model.init(key_init, x[:1])

  def cross_entropy(params, batch, weights):
    logits = model.apply(params, batch[0])
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, batch[1])
    return jnp.sum(nll * weights) / jnp.maximum(jnp.sum(weights), 1.0)

  def loss(params, state, batch, weights):
    ce = cross_entropy(params, batch, weights)
    return ce, (ce, state)

  params, curve = fit.minimize(loss, params, (), train, train_w, key_train, steps=steps,
                               batch_size=batch_size,
                               optimizer=optax.adamw(learning_rate, weight_decay=weight_decay))
  ce = cross_entropy(params, held_out, held_out_w)
  n_held_out = jnp.sum(held_out_w)
  p_y = jnp.sum(jax.nn.one_hot(held_out[1], classes) * held_out_w[:, None], axis=0) / jnp.maximum(
      n_held_out, 1.0)
  h_y = -jnp.sum(jnp.where(p_y > 0, p_y * jnp.log(jnp.where(p_y > 0, p_y, 1.0)), 0.0))
  return MIResult(h_y - ce, n_held_out.astype(jnp.int32), jnp.asarray(jnp.inf, jnp.float32),
                  {"train_curve": curve, "h_y": h_y, "cross_entropy": ce})
