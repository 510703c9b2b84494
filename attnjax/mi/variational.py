"""Variational lower bounds on I(x; y) with a trained critic: InfoNCE, NWJ, MINE, SMILE.

A critic f(x, y) scores every pair of a minibatch, <float32>[B, B] with the
true pairs on the diagonal and the B(B−1) mismatched pairs as samples of the
product of marginals. The critic is trained with Adam on the training split
(one `lax.scan`, `attnjax.mi.fit`), checkpoints are chosen by the bound on
all pairs of a validation split, and the estimate is the chosen critic's
bound on all pairs of the held-out split, so it never sees a sample that
trained or chose the critic.

Bounds in this module take `scores <float32>[B, B]` and `weights <float32>[B]`
(0 for masked-out samples, whose rows and columns are ignored).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from attnjax.checks import check_choice, is_real
from attnjax.mi import fit, inputs
from attnjax.mi import options as option_ranges
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


# NWJ reads its critic shifted by one, E_p[f + 1] − E_q[e^f]: the zero critic, where
# every critic starts, then gives exactly 0 for every bound here.
_SHIFT = {"nwj": 1.0}


def _objective(bound: str, tau: float, ema_rate: float):
  """`(scores, weights, state) -> (surrogate, (value, state))`: maximise surrogate."""
  if bound in ("infonce", "nwj"):
    bound_fn = _estimate_value(bound, tau)

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
  """The bound reported on validation and held-out data, `(scores, weights) -> value`."""
  if bound == "infonce":
    return infonce_bound
  if bound == "nwj":
    return lambda s, w: nwj_bound(s + _SHIFT["nwj"], w)
  if bound == "mine":
    return dv_bound
  return lambda s, w: smile_bound(s, w, tau)


def make_critic(critic: str, hidden: Sequence[int], embed_dim: int) -> nn.Module:
  """The critic module named `critic` ("separable" or "concat")."""
  check_choice("critic", critic, CRITICS)
  if critic == "separable":
    return SeparableCritic(hidden=tuple(hidden), embed_dim=embed_dim)
  return ConcatCritic(hidden=tuple(hidden))


def _zero_output(params):
  """The critic's last layer set to zero (kernel and bias): every score starts at 0.

  The bounds of the zero critic are exactly 0, so the step-0 checkpoint is a
  floor that the validated selection can always fall back to.
  """
  def zero_last(tree):
    dense = sorted((k for k in tree if k.startswith("Dense_")), key=lambda k: int(k[6:]))
    if dense:   # an MLP: its last Dense is the output layer
      return {**tree, dense[-1]: jax.tree.map(jnp.zeros_like, tree[dense[-1]])}
    return {k: zero_last(v) if isinstance(v, dict) else v for k, v in tree.items()}
  layers = params["params"]
  # The concatenation critic's output is its "mlp"; the separable one's is g's.
  name = "mlp" if "mlp" in layers else "g"
  return {**params, "params": {**layers, name: zero_last(layers[name])}}


def all_pairs_bound(value_fn, scores_fn, data, weights, block_size: int, row_chunk: int):
  """A bound on all pairs of each block of `block_size` samples, averaged over blocks.

  The samples are cut into ⌈M / block_size⌉ blocks of equal size (the last
  padded with zero-weight samples); each block's [S, S] score matrix is built
  `row_chunk` rows at a time.

  Args:
    value_fn: `(scores <float32>[S, S], weights <float32>[S]) -> bound`.
    scores_fn: `(x_rows, y) -> <float32>[rows, S]` critic scores.
    data: `(x <float32>[M, Dx], y <float32>[M, Dy])`.
    weights: <float32>[M].
    block_size: S at most.
    row_chunk: rows of the score matrix computed at once.

  Returns:
    `(value, log_count)`: the usable-sample-weighted mean of the blocks'
    bounds and of their log(usable samples) (InfoNCE's ceiling).
  """
  m = weights.shape[0]
  blocks = -(-m // block_size)
  size = -(-m // blocks)
  chunk = min(row_chunk, size)
  size = -(-size // chunk) * chunk

  def one_block(block):
    (x, y), w = block
    rows = x.reshape((size // chunk, chunk) + x.shape[1:])
    scores = jax.lax.map(lambda r: scores_fn(r, y), rows).reshape(size, size)
    count = jnp.sum(w)
    return value_fn(scores, w), jnp.log(jnp.maximum(count, 1.0)), count

  pad = lambda a: jnp.pad(a, [(0, blocks * size - m)] + [(0, 0)] * (a.ndim - 1)).reshape(
      (blocks, size) + a.shape[1:])
  values, log_counts, counts = jax.lax.map(one_block, jax.tree.map(pad, (data, weights)))
  values = jnp.where(counts > 0, values, 0.0)  # a block with no usable sample (sparse mask)
  total = jnp.maximum(jnp.sum(counts), 1.0)
  return jnp.sum(values * counts) / total, jnp.sum(log_counts * counts) / total


@dataclasses.dataclass(frozen=True)
class CriticOptions:
  """How `variational` trains and scores its critic, validated once (a `ValueError` on a bad value).

  Attributes:
    critic: "separable" (g(x)ᵀh(y)) or "concat" (MLP on [x; y]).
    hidden: hidden widths of the critic ((16, 8) as bmi's default critic;
      (64,) read the same or lower on bmi's tasks at 1,000 steps).
    embed_dim: embedding width of the separable critic.
    steps: Adam steps.
    batch_size: B, samples per training step (all B² pairs are scored). 128:
      on bmi's 40 tasks at 1,000 steps as accurate as 256 (InfoNCE 20 within
      0.1 nats either way, NWJ 20 vs 18) at about a third of the time.
    learning_rate: Adam step size (1e-2: 1e-3 left the critic still
      improving at 1,000 steps on bmi's tasks; the validated checkpoint
      guards against the faster overfitting).
    train_fraction: share of the samples used to train and validate the
      critic; the rest is held out for the estimate.
    validation_fraction: share of the training part set aside to choose the
      checkpoint, in (0, 1).
    eval_every: steps between two validation checks.
    eval_size: largest block of samples whose all pairs score one bound
      (memory: an [eval_size, eval_size] score matrix).
    copula: replace every continuous coordinate of x and y by the normal
      scores of its ranks (`inputs.rank_gauss`; MI-invariant, tames heavy
      tails); labels stay one-hot.
    standardize: without `copula`, scale continuous columns to unit variance.
    tau: SMILE's clipping threshold.
    ema_rate: MINE's moving-average rate α.
    divergence_nats: a validation bound below −divergence_nats flags a
      diverged critic (the zero critic scores 0).
  """
  critic: str = "concat"
  hidden: Sequence[int] = (16, 8)
  embed_dim: int = 32
  steps: int = 1000
  batch_size: int = 128
  learning_rate: float = 1e-2
  train_fraction: float = 0.5
  validation_fraction: float = 0.2
  eval_every: int = 50
  eval_size: int = 4096
  copula: bool = True
  standardize: bool = True
  tau: float = 5.0
  ema_rate: float = 0.01
  divergence_nats: float = 1.0

  def __post_init__(self):
    check_choice("critic", self.critic, CRITICS)
    for field in dataclasses.fields(self):
      option_ranges.check(field.name, getattr(self, field.name), "CriticOptions")
    if not (is_real(self.validation_fraction) and 0 < self.validation_fraction < 1):
      raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
    for name in ("copula", "standardize"):
      if not isinstance(getattr(self, name), bool):
        raise ValueError(f"option {name}={getattr(self, name)!r} of CriticOptions must be "
                         "True or False")
    object.__setattr__(self, "hidden", tuple(self.hidden))  # hashable: a static jit argument


OPTIONS = tuple(field.name for field in dataclasses.fields(CriticOptions))
"""The option names `variational` (and infonce, nwj, mine, smile) take as keywords."""


def variational(x, y, *, bound: str, mask=None, key=None, num_classes: int | None = None,
                options: CriticOptions | None = None, **fields):
  """Trains a critic, keeps its best validated checkpoint, reports `bound` held out.

  The samples are split three ways: the critic is trained (Adam, one
  `lax.scan`) on `train_fraction · (1 − validation_fraction)` of them; every
  `eval_every` steps its bound on all pairs of the validation part is
  measured, and the checkpoint with the highest validation bound is kept,
  the zero critic of step 0 (bound exactly 0) among the candidates; the
  estimate is that checkpoint's bound on all pairs of the held-out part
  (blocks of at most `eval_size` samples). A critic that diverges (its
  training objective or validation bound non-finite, or the validation bound
  below −`divergence_nats`) is flagged; the estimate is never such a value:
  a non-finite held-out bound falls back to the zero critic's 0.

  Accuracy (defaults, 1,000 steps) on bmi's 40 benchmark tasks, N = 5,000,
  one draw (benchmarks/README.md, "Trained estimators on bmi's benchmark"):
  within 0.1 nats of the truth on 20 (InfoNCE) and 20 (NWJ) tasks, bmi 20 and
  17; lowest value 0.065 (InfoNCE) and 0.086 (NWJ). On the 1-D Student-t
  (ν = 1, truth 0.224) NWJ reads 0.19–0.20; without the validated checkpoint
  and the copula inputs it measured −1037 nats there.
  Tested: that Student-t within [−0.06, +0.03] at 600 steps, independent
  heavy-tailed pairs in [−0.1, 0.03).

  Args:
    x: <float32>[N, Dx].
    y: <int32>[N] labels (one-hot encoded; the critic's first layer is then an
      embedding) or <float32>[N, Dy].
    bound: "infonce", "nwj", "mine" or "smile".
    mask: <bool>[N] samples to use (default all).
    key: PRNG key (split, initialisation, batches); required.
    num_classes: label count, for discrete y (inferred from concrete labels
      by `attnjax.mi.estimate`).
    options: a `CriticOptions` (default `CriticOptions()`).
    **fields: `CriticOptions` fields (steps=600, critic="separable", ...)
      replacing those of `options`.

  Returns:
    `MIResult` with `n` the held-out samples, `ceiling` the mean log(block
    size) for InfoNCE, diagnostics `train_curve <float32>[steps]` (the bound
    on each training batch), `validation_curve <float32>[checks]` (the
    validation bound at step 0, every `eval_every` steps and the last),
    `best_step` (0: no checkpoint beat the zero critic) and `diverged`.
  """
  fit.require_key(key, bound, "a critic")
  o = dataclasses.replace(options or CriticOptions(), **fields)
  mask = inputs.full_mask(x, mask)
  x = jnp.asarray(x, jnp.float32)
  y = _features(y, mask, num_classes, o.standardize, o.copula)
  if o.copula:
    x = inputs.rank_gauss(x, mask)
  elif o.standardize:
    x = inputs.standardize(x, mask)
  (train, train_w, validation, validation_w, held_out, held_out_w, key_init,
   key_train) = fit.fit_splits(key, (x, y), mask, o.train_fraction, o.validation_fraction)

  model = make_critic(o.critic, o.hidden, o.embed_dim)
  params = _zero_output(model.init(key_init, x[:2], y[:2]))
  objective = _objective(bound, o.tau, o.ema_rate)
  value_fn = _estimate_value(bound, o.tau)
  # Rows of a score matrix at once: about 2^22 floats of the widest pair tensor.
  row_chunk = max(1, 2**22 // (min(o.eval_size, x.shape[0]) * max(o.hidden or (1,))))

  def loss(params, state, batch, weights):
    surrogate, (value, state) = objective(model.apply(params, *batch), weights, state)
    return -surrogate, (value, state)

  def bound_on(params, data, weights):
    return all_pairs_bound(value_fn, lambda rows, y_all: model.apply(params, rows, y_all),
                           data, weights, o.eval_size, row_chunk)

  def select(params, _):
    value = bound_on(params, validation, validation_w)[0]
    return jnp.where(jnp.isfinite(value), -value, jnp.inf)

  state = (jnp.asarray(-jnp.inf, jnp.float32), jnp.asarray(0.0, jnp.float32))
  fitted = fit.minimize(loss, params, state, train, train_w, key_train, steps=o.steps,
                        batch_size=o.batch_size, optimizer=optax.adam(o.learning_rate),
                        select=select, eval_every=o.eval_every)
  value, log_count = bound_on(fitted.params, held_out, held_out_w)
  validation_curve = -fitted.scores
  diverged = (~jnp.all(jnp.isfinite(fitted.curve)) | ~jnp.all(jnp.isfinite(validation_curve))
              | jnp.any(validation_curve < -o.divergence_nats) | ~jnp.isfinite(value))
  value = jnp.where(jnp.isfinite(value), value, 0.0)
  ceiling = log_count if bound == "infonce" else jnp.asarray(jnp.inf, jnp.float32)
  return MIResult(value, jnp.sum(held_out_w).astype(jnp.int32), ceiling,
                  {"train_curve": fitted.curve, "validation_curve": validation_curve,
                   "best_step": fitted.best_step, "diverged": diverged})


def _features(y, mask, num_classes, standardize, copula):
  """Critic input for y: one-hot labels, or rank-Gaussianised / standardised values."""
  if inputs.is_discrete(y):
    return jax.nn.one_hot(y, inputs.label_count(y, num_classes), dtype=jnp.float32)
  y = jnp.asarray(y, jnp.float32)
  if copula:
    return inputs.rank_gauss(y, mask)
  return inputs.standardize(y, mask) if standardize else y


def infonce(x, y, **options):
  """InfoNCE (van den Oord et al. 2018) with a trained critic; see `variational`.

  The estimate is the bound on held-out blocks of up to `eval_size` samples,
  so it cannot exceed log(block size) whatever the truth (`MIResult.ceiling`:
  7.8 nats for 2,500 held-out samples). The critic trains on batches of B
  (default 128), whose bound stops at log B = 4.85 nats: far above that its
  training signal saturates.

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
