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
          learning_rate: float = 5e-2, momentum: float = 0.9, weight_decay: float = 1e-4,
          train_fraction: float = 0.5, validation_fraction: float = 0.2,
          eval_every: int = 5, standardize: bool = True):
  """Barber–Agakov lower bound H(y) − CE(q(y | x)) with a trained probe q.

  A linear (`hidden=()`) or MLP classifier is trained with SGD (momentum,
  decoupled weight decay) on a training split; H(y) (plug-in) and the
  cross-entropy are measured on the held-out split. Any probe gives a lower bound up to sampling noise; the gap is the
  probe's excess risk, so a linear probe reports only linearly decodable
  information. Early stopping keeps the probe, among step 0 and every
  `eval_every`-th step, with the lowest cross-entropy on a validation part
  of the training split; the held-out split is never used to choose. The
  probe starts as the label prior (zero output kernel, bias log p̂(y)), so
  step 0 already reads ≈ 0 rather than a random classifier's negative value.

  Accuracy (3 keys each): for Gaussian class-conditionals, whose Bayes
  posterior is linear-softmax so a linear probe can reach the bound, at
  n = 4,000 it reads 0.974–0.982 for a truth of 0.984 (d = 2; tested within
  [−0.05, +0.03]); shuffled labels give −0.003–0.000. With noise coordinates
  added to the same 2 informative ones: d = 64, n = 400: 0.35–0.47 (tested
  > 0.25; without early stopping −0.83 to −1.09, tested below it by > 0.5);
  d = 256, n = 400: 0.15–0.20; d = 256, n = 4,000: 0.62–0.66 (0.69–0.71
  without early stopping, which trains on 20% more samples). AdamW in place
  of SGD read ≈ 0 at n = 400 and 0.44–0.51 at d = 256, n = 4,000.

  Args:
    x: <float32>[N, Dx].
    y: <int32>[N] labels in [0, num_classes).
    mask: <bool>[N] samples to use (default all).
    key: PRNG key (split, initialisation, batches); required.
    num_classes: C (inferred from concrete labels by `attnjax.mi.estimate`).
    hidden: hidden widths of the probe; () is a linear (softmax) probe.
    steps: SGD steps.
    batch_size: samples per step.
    learning_rate: SGD step size (x is standardised, so one size fits most data).
    momentum: SGD momentum.
    weight_decay: decoupled weight decay (per step, times `learning_rate`).
    train_fraction: share of the samples used to train (and validate) the
      probe; the rest is the held-out split the bound is measured on.
    validation_fraction: share of the training split set aside to choose
      the early-stopping step; 0 trains on all of it and keeps the last step.
    eval_every: steps between two validation checks.
    standardize: scale each column of x to unit variance first.

  Returns:
    `MIResult` with `n` the held-out samples; diagnostics `train_curve`
    <float32>[steps] (training cross-entropy), `h_y` and `cross_entropy`
    (held-out, nats), and with early stopping `validation_curve`
    <float32>[checks] (validation cross-entropy at each check) and
    `best_step`.

  References:
    Barber & Agakov (2003), "The IM Algorithm: A Variational Approach to
    Information Maximization", NeurIPS; Poole et al. (2019), "On Variational
    Bounds of Mutual Information", ICML.
  """
  fit.require_key(key, "probe", "a classifier")
  if not inputs.is_discrete(y):
    raise ValueError("method 'probe' needs integer labels y")
  if not 0 <= validation_fraction < 1:
    raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}")
  mask = inputs.full_mask(x, mask)
  classes = inputs.label_count(y, num_classes)
  x = jnp.asarray(x, jnp.float32)
  if standardize:
    x = inputs.standardize(x, mask)
  (train, train_w, validation, validation_w, held_out, held_out_w, key_init,
   key_train) = fit.fit_splits(key, (x, y), mask, train_fraction, validation_fraction)

  model = MLP((*hidden, classes))
  params = _start_at_prior(model.init(key_init, x[:1]), train[1], train_w, classes)

  def cross_entropy(params, batch, weights):
    logits = model.apply(params, batch[0])
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, batch[1])
    return jnp.sum(nll * weights) / jnp.maximum(jnp.sum(weights), 1.0)

  def loss(params, state, batch, weights):
    ce = cross_entropy(params, batch, weights)
    return ce, (ce, state)

  select = None
  if validation is not None:
    select = lambda params, _: cross_entropy(params, validation, validation_w)
  fitted = fit.minimize(loss, params, (), train, train_w, key_train, steps=steps,
                        batch_size=batch_size, select=select, eval_every=eval_every,
                        optimizer=_sgd(learning_rate, momentum, weight_decay))
  params = fitted.params
  ce = cross_entropy(params, held_out, held_out_w)
  n_held_out = jnp.sum(held_out_w)
  p_y = _class_counts(held_out[1], held_out_w, classes) / jnp.maximum(n_held_out, 1.0)
  h_y = -jnp.sum(jnp.where(p_y > 0, p_y * jnp.log(jnp.where(p_y > 0, p_y, 1.0)), 0.0))
  return MIResult(h_y - ce, n_held_out.astype(jnp.int32), jnp.asarray(jnp.inf, jnp.float32),
                  {"train_curve": fitted.curve, "h_y": h_y, "cross_entropy": ce,
                   **({} if select is None else {"validation_curve": fitted.scores,
                                                 "best_step": fitted.best_step})})


def _class_counts(y, weights, classes: int):
  """<float32>[C] weighted count of each label."""
  return jnp.sum(jax.nn.one_hot(y, classes) * weights[:, None], axis=0)


def _start_at_prior(params, y, weights, classes: int):
  """Zero output kernel, output bias log p̂(y): the probe starts as the label prior.

  Its cross-entropy then starts at the (training) label entropy, a bound of
  ≈ 0, and training only moves it from there.
  """
  counts = _class_counts(y, weights, classes)
  log_prior = jnp.log((counts + 1.0) / (jnp.sum(counts) + classes))  # add-one smoothed
  layers = params["params"]
  last = f"Dense_{len(layers) - 1}"
  layers = {**layers, last: {"kernel": jnp.zeros_like(layers[last]["kernel"]),
                             "bias": log_prior.astype(layers[last]["bias"].dtype)}}
  return {**params, "params": layers}


def _sgd(learning_rate: float, momentum: float, weight_decay: float):
  """SGD with momentum and decoupled weight decay.

  Not Adam: Adam's per-coordinate normalisation moves every weight at the same
  rate, so with few samples in many dimensions the noise coordinates swamp the
  informative ones before the validation loss can improve (measured: Adam read
  ≈ 0 where this reads 0.35–0.47 of a true 0.98, 400 samples in 64-d).
  """
  return optax.chain(optax.add_decayed_weights(weight_decay),
                     optax.sgd(learning_rate, momentum=momentum))
