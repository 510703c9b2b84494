"""Cross-fitted linear probe: I(x; y) ≥ H(y) − CE, every sample held out once.

The Barber–Agakov bound of `attnjax.mi.probe`, made accurate where hidden
states live (D = 64–512, N = a few hundred to tens of thousands):

- **Cross-fitting.** The samples are split into K folds; a probe fitted on
  the other K − 1 folds scores each fold, so the held-out cross-entropy is
  averaged over all N samples (not a held-out half) and every probe trains on
  (K − 1)/K of them.
- **Fitted to convergence.** Each probe is an L2-penalised softmax regression
  minimised by full-batch L-BFGS (`fit_softmax_regression`), not a fixed
  number of SGD steps.
- **Regularisation chosen on held-out data, without using the fold it
  scores.** A grid of candidate probes (below) is fitted on every fold;
  fold k's candidate is the one with the lowest cross-entropy summed over
  the *other* folds. The bound stays a lower bound in expectation: fold k's
  labels never choose the probe that scores them, they only train probes
  that score other folds.

Candidates. x is centred and divided by its root-mean-square entry. For each
k < D in `dims`, probes on the k leading principal components (labels
unused), one per ridge strength λ: they win when the label lives in a few
high-variance directions, as a class signal in a hidden state does. For
k = D, probes on all D coordinates with penalty λ·(1 − ω + ω·v_j) on
coordinate j (variance v_j), one per (λ, ω) with ω in `standardize`: ω = 0
is plain ridge (one scale for all coordinates), ω = 1 ridge on
per-coordinate standardised x (it wins when informative coordinates have
a smaller scale than uninformative ones).

All folds and penalties of one width run side by side under one `vmap`
(the data are shared, so an L-BFGS iteration is two matrix products with
all probes' weights side by side); a static loop runs over the few widths.
The estimator is `jit`-table and `vmap`-able over positions and seeds.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from attnjax.checks import check_int, is_int, is_real
from attnjax.mi import inputs
from attnjax.mi.result import MIResult

RIDGE = (1e-3, 1e-2, 1e-1, 1.0)
"""Default ridge strengths λ (the penalty is λ/2·‖W‖² on the mean cross-entropy)."""

STANDARDIZE = (0.0, 1.0)
"""Default standardisation levels ω of the full-width candidates (see the module docstring)."""

_MIN_PENALTY = 1e-2
"""Floor of a coordinate's penalty, times λ (a near-constant coordinate is not left free)."""


def crossfit_probe(x, y, *, mask=None, key=None, num_classes: int | None = None,
                   folds: int = 5, ridge: Sequence[float] = RIDGE,
                   standardize: Sequence[float] = STANDARDIZE,
                   dims: Sequence[int] | None = None, iterations: int = 30,
                   memory: int = 10):
  """Cross-fitted, regularisation-tuned linear probe bound H(y) − CE(q(y | x)).

  Accuracy (tests/test_mi_crossfit.py; benchmarks/mi_accuracy.py side by side
  with `probe`, scikit-learn's cross-validated logistic regression and the
  k-NN and variational estimators): see benchmarks/README.md.

  Args:
    x: <float32>[N, D].
    y: <int32>[N] labels in [0, num_classes).
    mask: <bool>[N] samples to use (default all).
    key: PRNG key (the fold assignment); required.
    num_classes: C (inferred from concrete labels by `attnjax.mi.estimate`).
    folds: K ≥ 2 folds.
    ridge: ridge strengths λ > 0 to choose from.
    standardize: levels ω in [0, 1] for the full-width candidates.
    dims: widths to choose from, each in [1, D]: k < D is the k leading
      principal components, D all coordinates; default 4, 16, 64, … below
      D, and D.
    iterations: L-BFGS iterations per probe (they converge in 5–20 on
      standardised-scale data; `final_change` tells).
    memory: L-BFGS history length.

  Returns:
    `MIResult` with `n` the masked-in samples (each held out once) and
    diagnostics: `h_y`, `cross_entropy` (held-out, nats); per candidate h
    (H of them), `grid_value` <float32>[H] (the bound if every fold used
    candidate h: optimistic when maximised), `grid_dims`, `grid_ridge`,
    `grid_standardize` <[H]>; `choice` <int32>[K] (each fold's candidate);
    `final_change` (the largest change of any probe's objective over its
    last 5 iterations: ≈ 0 when converged).

  References:
    Barber & Agakov (2003), "The IM Algorithm", NeurIPS; Chernozhukov et al.
    (2018), "Double/debiased machine learning", Econometrics Journal (cross-
    fitting); Liu & Nocedal (1989), "On the limited memory BFGS method".
  """
  if key is None:
    raise ValueError("method 'crossfit_probe' draws its folds at random: pass "
                     "key=jax.random.key(...)")
  if not inputs.is_discrete(y):
    raise ValueError("method 'crossfit_probe' needs integer labels y")
  x = jnp.asarray(x, jnp.float32)
  d = x.shape[1]
  dims = default_dims(d) if dims is None else tuple(dims)
  _check(folds, ridge, standardize, dims, d, iterations, memory)
  mask = inputs.full_mask(x, mask)
  classes = inputs.label_count(y, num_classes)
  weight = mask.astype(jnp.float32)
  onehot = jax.nn.one_hot(y, classes) * weight[:, None]
  x, variance_D = centre_and_scale(x, weight)
  x_pc = principal_components(x, weight) if any(k < d for k in dims) else None
  held_KxN = _fold_weights(key, weight, folds)
  train_KxN = weight[None] - held_KxN
  strengths = jnp.asarray(ridge, jnp.float32)
  levels = jnp.asarray(standardize, jnp.float32)

  nll, changes, grid = [], [], []
  for k in dims:  # a few static shapes; everything else runs side by side
    if k < d:
      x_k, penalty_PxK = x_pc[:, :k], jnp.broadcast_to(strengths[:, None], (len(ridge), k))
      grid += [(k, r, 0.0) for r in ridge]
    else:
      scale_LxD = jnp.maximum(1.0 - levels[:, None] + levels[:, None] * variance_D[None],
                              _MIN_PENALTY)
      x_k, penalty_PxK = x, (strengths[:, None, None] * scale_LxD[None]).reshape(-1, d)
      grid += [(k, r, w) for r in ridge for w in standardize]
    sums, change = _held_out_nll(x_k, onehot, train_KxN, held_KxN, penalty_PxK,
                                 iterations=iterations, memory=memory)
    nll.append(sums)
    changes.append(change)
  nll_KxH = jnp.concatenate(nll, axis=1)
  # Fold k's candidate: the lowest held-out cross-entropy on the other folds.
  choice = jnp.argmin(jnp.sum(nll_KxH, 0, keepdims=True) - nll_KxH, axis=1)
  used = jnp.maximum(jnp.sum(weight), 1.0)
  ce = jnp.sum(jnp.take_along_axis(nll_KxH, choice[:, None], 1)) / used
  p_y = jnp.sum(onehot, 0) / used
  h_y = -jnp.sum(jnp.where(p_y > 0, p_y * jnp.log(jnp.where(p_y > 0, p_y, 1.0)), 0.0))
  column = lambda i, dtype: jnp.asarray([g[i] for g in grid], dtype)
  return MIResult(h_y - ce, jnp.sum(mask).astype(jnp.int32), jnp.asarray(jnp.inf, jnp.float32),
                  {"h_y": h_y, "cross_entropy": ce,
                   "grid_value": h_y - jnp.sum(nll_KxH, 0) / used,
                   "grid_dims": column(0, jnp.int32), "grid_ridge": column(1, jnp.float32),
                   "grid_standardize": column(2, jnp.float32),
                   "choice": choice.astype(jnp.int32),
                   "final_change": jnp.max(jnp.stack(changes))})


def _held_out_nll(x, onehot, train_KxN, held_KxN, penalty_PxD, *, iterations, memory):
  """Fits a probe per (fold, penalty) side by side; their held-out summed NLL.

  Returns:
    `(nll <float32>[K, P], change <float32>[])`: nll[k, p] sums −log q(y|x)
    over fold k of the probe with penalty p fitted on the other folds;
    change is the largest objective change over any fit's last 5 iterations.
  """
  folds, candidates = held_KxN.shape[0], penalty_PxD.shape[0]

  def one(train, held, penalty):
    logits, curve = fit_softmax_regression(x, onehot, train, penalty, iterations=iterations,
                                           memory=memory)
    nll = -jnp.sum(held * jnp.sum(onehot * jax.nn.log_softmax(logits), -1))
    return nll, jnp.max(jnp.abs(curve[-5:] - curve[-1]))

  sums, change = jax.vmap(one)(jnp.repeat(train_KxN, candidates, 0),
                               jnp.repeat(held_KxN, candidates, 0),
                               jnp.tile(penalty_PxD, (folds, 1)))
  return sums.reshape(folds, candidates), jnp.max(change)


def default_dims(d: int) -> tuple[int, ...]:
  """4, 16, 64, … below d, then d itself: `default_dims(256)` → (4, 16, 64, 256)."""
  out, k = [], 4
  while k < d:
    out.append(k)
    k *= 4
  return (*out, d)


def centre_and_scale(x, weight):
  """Centres x and divides it by its root-mean-square entry (one scale for all columns).

  Args:
    x: <float32>[N, D].
    weight: <float32>[N] 1 for a sample to use, 0 for a masked-out one
      (transformed too, but never in the statistics).

  Returns:
    `(x <float32>[N, D], variance <float32>[D])`, the column variances after
    scaling (they average to 1 unless x is constant).
  """
  used = jnp.maximum(jnp.sum(weight), 1.0)
  x = x - jnp.sum(x * weight[:, None], 0, keepdims=True) / used
  variance = jnp.sum(jnp.square(x) * weight[:, None], 0) / used
  scale = jnp.sqrt(jnp.mean(variance))
  scale = jnp.where(scale > 0, scale, 1.0)
  return x / scale, variance / jnp.square(scale)


def principal_components(x, weight):
  """<float32>[N, D]: centred x on its principal axes, variance decreasing column by column."""
  covariance = (x * weight[:, None]).T @ x / jnp.maximum(jnp.sum(weight), 1.0)
  _, axes = jnp.linalg.eigh(covariance)  # ascending eigenvalues
  return x @ axes[:, ::-1]


def _fold_weights(key, weight, folds: int):
  """<float32>[K, N]: row k is 1 on the samples of fold k (masked-out samples in none).

  The usable samples are shuffled and dealt round-robin, so fold sizes differ
  by at most one.
  """
  n = weight.shape[0]
  priority = jnp.where(weight > 0, jax.random.uniform(key, (n,)), 2.0)
  rank = jnp.zeros(n, jnp.int32).at[jnp.argsort(priority)].set(jnp.arange(n, dtype=jnp.int32))
  return jax.nn.one_hot(rank % folds, folds).T * weight[None]


# Step sizes tried besides the 1-D Newton step along the L-BFGS direction.
_STEPS = (1.0, 0.1)


def fit_softmax_regression(x, onehot, weight, penalty, *, iterations: int = 30,
                           memory: int = 10):
  """L2-penalised softmax regression fitted by full-batch L-BFGS.

  Minimises Σ_i w_i·CE(softmax(x_i W + b), y_i) / Σ_i w_i
  + ½·Σ_j penalty_j·‖W_j‖² (row j of W weighs input j; the bias b is not
  penalised), starting from W = 0 and b = the (add-one
  smoothed) log prior of the weighted labels. Each iteration takes the
  L-BFGS direction and the best of a few step sizes along it (the 1-D Newton
  step, half of it, 1 and 0.1; no step if none lowers the objective). The
  logits are linear in the parameters, so every trial step costs one product
  x·direction, shared by all trials.

  Args:
    x: <float32>[N, D].
    onehot: <float32>[N, C] one-hot labels (zero rows are ignored).
    weight: <float32>[N] sample weights (0 leaves a sample out).
    penalty: <float32>[D] (or a scalar) ridge strength of each input.
    iterations: L-BFGS iterations (a static number: the loop is a `lax.scan`).
    memory: number of (step, gradient change) pairs kept.

  Returns:
    `(logits <float32>[N, C] at the solution, for every sample,
    objective <float32>[iterations] after each iteration)`.
  """
  n, d = x.shape
  c = onehot.shape[1]
  penalty = jnp.broadcast_to(jnp.asarray(penalty, jnp.float32), (d,))[:, None]  # [D, 1]
  w = (weight / jnp.maximum(jnp.sum(weight), 1e-12))[:, None]  # [N, 1]
  counts = jnp.sum(onehot * weight[:, None], 0)
  bias = jnp.log((counts + 1.0) / (jnp.sum(counts) + c))

  def cross_entropy(logits_AxNxC):  # -> [A]
    log_q = jax.nn.log_softmax(logits_AxNxC)
    return -jnp.sum(onehot[None] * log_q * w[None], (1, 2))

  def gradient(kernel, probs):
    residual = (probs - onehot) * w
    return jnp.concatenate([(x.T @ residual + penalty * kernel).ravel(), jnp.sum(residual, 0)])

  unflatten = lambda v: (v[:d * c].reshape(d, c), v[d * c:])
  kernel = jnp.zeros((d, c), jnp.float32)
  logits = jnp.broadcast_to(bias[None], (n, c))
  probs = jax.nn.softmax(logits)
  objective = cross_entropy(logits[None])[0]
  history = (jnp.zeros((memory, d * c + c)), jnp.zeros((memory, d * c + c)), jnp.zeros(memory))

  def step(carry, i):
    kernel, logits, probs, objective, grad, (s_hist, y_hist, rho) = carry
    direction = -_two_loop(grad, s_hist, y_hist, rho, i)
    direction = jnp.where(direction @ grad < 0, direction, -grad)  # keep a descent direction
    d_kernel, d_bias = unflatten(direction)
    d_logits = x @ d_kernel + d_bias[None]
    # 1-D Newton step: slope over curvature of the objective along the direction.
    mean_d = jnp.sum(probs * d_logits, 1, keepdims=True)
    pen_kk, pen_kd, pen_dd = (jnp.sum(penalty * kernel * kernel),
                              jnp.sum(penalty * kernel * d_kernel),
                              jnp.sum(penalty * d_kernel * d_kernel))
    curvature = jnp.sum(w * probs * jnp.square(d_logits - mean_d)) + pen_dd
    newton = jnp.clip(-(direction @ grad) / jnp.maximum(curvature, 1e-30), 0.0, 4.0)
    trials = jnp.stack([newton, 0.5 * newton, *(jnp.float32(s) for s in _STEPS)])
    values = (cross_entropy(logits[None] + trials[:, None, None] * d_logits[None])
              + 0.5 * (pen_kk + 2.0 * trials * pen_kd + jnp.square(trials) * pen_dd))
    best = jnp.argmin(values)
    improved = values[best] < objective
    size = jnp.where(improved, trials[best], 0.0)
    objective = jnp.where(improved, values[best], objective)
    kernel = kernel + size * d_kernel
    logits = logits + size * d_logits
    probs = jax.nn.softmax(logits)
    new_grad = gradient(kernel, probs)
    history = _remember(s_hist, y_hist, rho, i % memory, size * direction, new_grad - grad)
    return (kernel, logits, probs, objective, new_grad, history), objective

  carry = (kernel, logits, probs, objective, gradient(kernel, probs), history)
  (_, logits, _, _, _, _), curve = lax.scan(step, carry, jnp.arange(iterations))
  return logits, curve


def _two_loop(grad, s_hist, y_hist, rho, i):
  """L-BFGS two-loop recursion: the inverse-Hessian estimate times `grad`.

  Slots with rho = 0 (unfilled, or a step rejected for non-positive
  curvature) are skipped; slot (i − 1) mod m is the newest.
  """
  memory = rho.shape[0]
  order = (i - 1 - jnp.arange(memory)) % memory  # newest first

  def newest_first(q, slot):
    a = rho[slot] * (s_hist[slot] @ q)
    return q - a * y_hist[slot], a

  q, alphas = lax.scan(newest_first, grad, order)
  newest = order[0]
  yy = y_hist[newest] @ y_hist[newest]
  gamma = jnp.where(rho[newest] > 0, (s_hist[newest] @ y_hist[newest]) / jnp.maximum(yy, 1e-30),
                    1.0)

  def oldest_first(r, slot_alpha):
    slot, a = slot_alpha
    b = rho[slot] * (y_hist[slot] @ r)
    return r + s_hist[slot] * (a - b), None

  r, _ = lax.scan(oldest_first, gamma * q, (order[::-1], alphas[::-1]))
  return r


def _remember(s_hist, y_hist, rho, slot, s, y):
  """Stores the pair (s, y) in `slot` when its curvature s·y is positive."""
  sy = s @ y
  keep = sy > 1e-10
  return (jnp.where(keep, s_hist.at[slot].set(s), s_hist),
          jnp.where(keep, y_hist.at[slot].set(y), y_hist),
          jnp.where(keep, rho.at[slot].set(1.0 / jnp.where(keep, sy, 1.0)), rho))


def _check(folds, ridge, standardize, dims, d, iterations, memory):
  check_int("folds", folds, 2)
  check_int("iterations", iterations, 1)
  check_int("memory", memory, 1)
  if len(ridge) == 0 or not all(is_real(r) and 0 < r < float("inf") for r in ridge):
    raise ValueError(f"ridge must be a non-empty sequence of finite numbers > 0, got {ridge!r}")
  if len(standardize) == 0 or not all(is_real(w) and 0 <= w <= 1 for w in standardize):
    raise ValueError(f"standardize must be a non-empty sequence of numbers in [0, 1], got "
                     f"{standardize!r}")
  if len(dims) == 0 or not all(is_int(k) and 1 <= k <= d for k in dims):
    raise ValueError(f"dims must be a non-empty sequence of integers in [1, D={d}], got {dims!r}")
