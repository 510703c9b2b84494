"""Variational lower bounds on I(x; y) with a trained critic: InfoNCE, NWJ, MINE, SMILE.

A critic f(x, y) scores every pair of a minibatch, <float32>[B, B] with the
true pairs on the diagonal and the B(B−1) mismatched pairs as samples of the
product of marginals. The critic is trained with Adam on the training split
(one `lax.scan`, `attnjax.mi.fit`) and the bound is evaluated on the held-out
split, in batches of the training batch size, so the estimate never sees a
training sample.

Bounds in this module take `scores <float32>[B, B]` and `weights <float32>[B]`
(0 for masked-out samples, whose rows and columns are ignored).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from attnjax.mi import fit, inputs
from attnjax.mi.result import MIResult

BOUNDS = ("infonce", "nwj", "mine", "smile")
CRITICS = ("separable", "concat")


class MLP(nn.Module):
  """ReLU perceptron; the last of `features` is the (linear) output width."""
  features: Sequence[int]

  @nn.compact
  def __call__(self, x):
    for width in self.features[:-1]:
      x = nn.relu(nn.Dense(width)(x))
    return nn.Dense(self.features[-1])(x)


class SeparableCritic(nn.Module):
  """f(x, y) = g(x)ᵀ h(y), two MLP embeddings; all B² scores from one matmul.

  Attributes:
    hidden: hidden widths of g and h.
    embed_dim: width of the embeddings.
  """
  hidden: Sequence[int] = (64,)
  embed_dim: int = 32

  @nn.compact
  def __call__(self, x, y):
    g = MLP((*self.hidden, self.embed_dim), name="g")(x)
    h = MLP((*self.hidden, self.embed_dim), name="h")(y)
    return g @ h.T


class ConcatCritic(nn.Module):
  """f(x, y) = MLP([x; y]) on all B² pairs of a batch.

  The first layer W[x; y] = W_x x + W_y y is applied to the B rows of x and of
  y separately and broadcast, so its cost is 2B rows, not B².

  Attributes:
    hidden: hidden widths (at least one).
  """
  hidden: Sequence[int] = (64,)

  @nn.compact
  def __call__(self, x, y):
    z = nn.Dense(self.hidden[0], name="in_x")(x)[:, None, :] + nn.Dense(
        self.hidden[0], use_bias=False, name="in_y")(y)[None, :, :]
    return MLP((*self.hidden[1:], 1), name="mlp")(nn.relu(z))[..., 0]


def _pair_weights(weights):
  positive = weights
  negative = weights[:, None] * weights[None, :] * (1.0 - jnp.eye(weights.shape[0]))
  return positive, negative


def _mean(values, weights):
  return jnp.sum(values * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def _log_mean_exp(values, weights):
  return jax.nn.logsumexp(values, b=weights) - jnp.log(jnp.maximum(jnp.sum(weights), 1.0))


def infonce_bound(scores, weights):
  """InfoNCE: ⟨f(x_i, y_i) − log Σ_j f(x_i, y_j)⟩ + log B ≤ I, and ≤ log B.

  References:
    van den Oord, Li & Vinyals (2018), "Representation Learning with
    Contrastive Predictive Coding"; Poole et al. (2019), "On Variational
    Bounds of Mutual Information", ICML.
  """
  row = (jnp.diagonal(scores) - jax.nn.logsumexp(scores, b=weights[None, :], axis=1)
         + jnp.log(jnp.maximum(jnp.sum(weights), 1.0)))
  return _mean(row, weights)


def nwj_bound(scores, weights):
  """NWJ: E_p[f] − e⁻¹ E_q[e^f] ≤ I (the f-divergence bound of KL).

  References:
    Nguyen, Wainwright & Jordan (2010), "Estimating Divergence Functionals and
    the Likelihood Ratio by Convex Risk Minimization", IEEE Trans. Inf. Theory.
  """
  positive, negative = _pair_weights(weights)
  return _mean(jnp.diagonal(scores), positive) - _mean(jnp.exp(scores - 1.0), negative)


def dv_bound(scores, weights):
  """Donsker–Varadhan: E_p[f] − log E_q[e^f] ≤ I.

  References:
    Donsker & Varadhan (1983); Belghazi et al. (2018), "Mutual Information
    Neural Estimation", ICML.
  """
  positive, negative = _pair_weights(weights)
  return _mean(jnp.diagonal(scores), positive) - _log_mean_exp(scores, negative)


def js_bound(scores, weights):
  """Jensen–Shannon f-GAN objective E_p[−softplus(−f)] − E_q[softplus(f)] (trains SMILE)."""
  positive, negative = _pair_weights(weights)
  return (_mean(-jax.nn.softplus(-jnp.diagonal(scores)), positive)
          - _mean(jax.nn.softplus(scores), negative))


def smile_bound(scores, weights, tau: float):
  """SMILE: the DV bound with e^f clipped to [e^−τ, e^τ] (lower variance).

  References:
    Song & Ermon (2020), "Understanding the Limitations of Variational Mutual
    Information Estimators", ICLR.
  """
  positive, negative = _pair_weights(weights)
  return (_mean(jnp.diagonal(scores), positive)
          - _log_mean_exp(jnp.clip(scores, -tau, tau), negative))


def _objective(bound: str, tau: float, ema_rate: float):
  """`(scores, weights, state) -> (surrogate, (value, state))`: maximise surrogate."""
  if bound in ("infonce", "nwj"):
    bound_fn = infonce_bound if bound == "infonce" else nwj_bound

    def plain(s, w, state):
      value = bound_fn(s, w)
      return value, (value, state)
    return plain
  if bound == "smile":
    # Song & Ermon's recipe: gradients of the JS objective, value of clipped DV.
    def smile(s, w, state):
      js, value = js_bound(s, w), smile_bound(s, w, tau)
      return js + jax.lax.stop_gradient(value - js), (value, state)
    return smile
  if bound == "mine":
    def mine(s, w, state):
      # Belghazi et al.'s bias correction: the gradient of log E_q[e^f] is taken
      # as ∇E_q[e^f] / a moving average of E_q[e^f] (bias-corrected, log domain).
      log_ema, step = state
      positive, negative = _pair_weights(w)
      log_neg = _log_mean_exp(s, negative)
      log_ema = jnp.logaddexp(jnp.log1p(-ema_rate) + log_ema,
                              jnp.log(ema_rate) + jax.lax.stop_gradient(log_neg))
      step = step + 1
      log_ema_hat = log_ema - jnp.log1p(-(1.0 - ema_rate) ** step)
      pos = _mean(jnp.diagonal(s), positive)
      surrogate = pos - jnp.exp(log_neg - jax.lax.stop_gradient(log_ema_hat))
      return surrogate, (pos - log_neg, (log_ema, step))
    return mine
  raise ValueError(f"bound must be one of {BOUNDS}, got {bound!r}")


def _estimate_value(bound: str, tau: float):
  """The bound reported on held-out data."""
  if bound == "infonce":
    return infonce_bound
  if bound == "nwj":
    return nwj_bound
  if bound == "mine":
    return dv_bound
  return lambda s, w: smile_bound(s, w, tau)


def make_critic(critic: str, hidden: Sequence[int], embed_dim: int) -> nn.Module:
  """The critic module named `critic` ("separable" or "concat")."""
  if critic == "separable":
    return SeparableCritic(hidden=tuple(hidden), embed_dim=embed_dim)
  if critic == "concat":
    return ConcatCritic(hidden=tuple(hidden))
  raise ValueError(f"critic must be one of {CRITICS}, got {critic!r}")


def variational(x, y, *, bound: str, mask=None, key=None, num_classes: int | None = None,
                critic: str = "concat", hidden: Sequence[int] = (64,), embed_dim: int = 32,
                steps: int = 1000, batch_size: int = 128, learning_rate: float = 1e-3,
                train_fraction: float = 0.5, standardize: bool = True, tau: float = 5.0,
                ema_rate: float = 0.01):
  """Trains a critic on a training split and reports `bound` on the held-out split.

  Accuracy (measured at the defaults, n = 4,000, 2 seeds; truth in brackets):
  correlated Gaussians d = 2 (1.02): 0.95–0.98; d = 4 (2.04): 1.92–1.99;
  d = 8 (4.09): InfoNCE 3.37 (saturating towards log B = 4.85), NWJ / MINE /
  SMILE 3.82–3.89. Gaussian classes in d = 2 (0.98): 0.92–0.96; d = 8
  (0.68): 0.59–0.63. Tested: never above the truth by more than 0.03, and
  at most 0.12 below it on 2-D tasks at 600 steps; independent data give
  values in (−0.06, 0.03). The separable critic is fine for InfoNCE but
  unstable for NWJ and MINE (measured: MINE at −26 nats on the 2-D
  Gaussians), hence the concatenation critic by default.

  Args:
    x: <float32>[N, Dx].
    y: <int32>[N] labels (one-hot encoded; the critic's first layer is then an
      embedding) or <float32>[N, Dy].
    bound: "infonce", "nwj", "mine" or "smile".
    mask: <bool>[N] samples to use (default all).
    key: PRNG key (split, initialisation, batches); required.
    num_classes: label count, for discrete y (inferred from concrete labels
      by `attnjax.mi.estimate`).
    critic: "separable" (g(x)ᵀh(y)) or "concat" (MLP on [x; y]).
    hidden: hidden widths of the critic.
    embed_dim: embedding width of the separable critic.
    steps: Adam steps.
    batch_size: B, samples per step and per evaluation batch.
    learning_rate: Adam step size.
    train_fraction: share of the samples used to train the critic.
    standardize: scale continuous columns to unit variance first.
    tau: SMILE's clipping threshold.
    ema_rate: MINE's moving-average rate α.

  Returns:
    `MIResult` with `n` the held-out samples, `ceiling` = log B for InfoNCE,
    diagnostics `train_curve <float32>[steps]` (the bound on each training
    batch).
  """
  if key is None:
    raise ValueError(f"method {bound!r} trains a critic: pass key=jax.random.key(...)")
  mask = inputs.full_mask(x, mask)
  x = jnp.asarray(x, jnp.float32)
  y = _features(y, mask, num_classes, standardize)
  if standardize:
    x = inputs.standardize(x, mask)
  key_split, key_init, key_train = jax.random.split(key, 3)
  (train, train_w), (held_out, held_out_w) = fit.train_eval_split(
      key_split, (x, y), mask.astype(jnp.float32), train_fraction)

  model = make_critic(critic, hidden, embed_dim)
  params = model.init(key_init, x[:2], y[:2])
  objective = _objective(bound, tau, ema_rate)

  def loss(params, state, batch, weights):
    surrogate, (value, state) = objective(model.apply(params, *batch), weights, state)
    return -surrogate, (value, state)

  state = (jnp.asarray(-jnp.inf, jnp.float32), jnp.asarray(0.0, jnp.float32))
  params, curve, _, _ = fit.minimize(loss, params, state, train, train_w, key_train, steps=steps,
                                     batch_size=batch_size, optimizer=optax.adam(learning_rate))
  value_fn = _estimate_value(bound, tau)
  values, counts = fit.map_batches(lambda b, w: value_fn(model.apply(params, *b), w),
                                   held_out, held_out_w, batch_size)
  # A held-out batch may hold no usable sample (a rare padded position): skip it.
  values = jnp.where(counts > 0, values, 0.0)
  value = jnp.sum(values * counts) / jnp.maximum(jnp.sum(counts), 1.0)
  ceiling = jnp.log(float(batch_size)) if bound == "infonce" else jnp.inf
  return MIResult(value, jnp.sum(held_out_w).astype(jnp.int32),
                  jnp.asarray(ceiling, jnp.float32), {"train_curve": curve})


def _features(y, mask, num_classes, standardize):
  """Critic input for y: one-hot labels, or (standardised) continuous values."""
  if inputs.is_discrete(y):
    return jax.nn.one_hot(y, inputs.label_count(y, num_classes), dtype=jnp.float32)
  y = jnp.asarray(y, jnp.float32)
  return inputs.standardize(y, mask) if standardize else y


def infonce(x, y, **options):
  """InfoNCE (van den Oord et al. 2018) with a trained critic; see `variational`.

  Bounded by log(batch_size) whatever the truth (`MIResult.ceiling`); with
  the default B = 128 (ceiling 4.85 nats) it is accurate only well below it.

  References:
    van den Oord, Li & Vinyals (2018), "Representation Learning with
    Contrastive Predictive Coding".
  """
  return variational(x, y, bound="infonce", **options)


def nwj(x, y, **options):
  """NWJ (Nguyen, Wainwright & Jordan 2010) with a trained critic; see `variational`.

  References:
    Nguyen, Wainwright & Jordan (2010), IEEE Trans. Inf. Theory 56(11).
  """
  return variational(x, y, bound="nwj", **options)


def mine(x, y, **options):
  """MINE: Donsker–Varadhan with the moving-average gradient correction; see `variational`.

  References:
    Belghazi et al. (2018), "Mutual Information Neural Estimation", ICML.
  """
  return variational(x, y, bound="mine", **options)


def smile(x, y, **options):
  """SMILE: clipped Donsker–Varadhan (τ = `tau`), trained on JS; see `variational`.

  References:
    Song & Ermon (2020), "Understanding the Limitations of Variational Mutual
    Information Estimators", ICLR.
  """
  return variational(x, y, bound="smile", **options)
