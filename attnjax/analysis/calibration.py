"""An MI estimator's error at an operating point: surrogate tasks with known MI.

Given real hidden states h and labels y, `calibrate` builds a task with the
same number of samples N, dimension D, classes C and class frequencies whose
MI is known, runs the estimator on it with the same options, and reports the
bias and spread of its estimates, plus the shuffled-label null on the real
states (truth 0):

- **Surrogate.** x | y ~ N(μ_y, Σ) with μ_c the real states' class means and
  Σ their pooled within-class covariance (divided by N − C). The labels are
  the real labels (so the class counts, and the mask, are exactly the real
  ones); only x is redrawn, R times (`replicates`).
- **Shrinkage.** When Σ is singular or nearly so (smallest eigenvalue ≤
  1e-6 × the mean eigenvalue, e.g. N − C < D, or a saturated unit that never
  varies), Σ is replaced by (1 − α)Σ + α·diag(Σ) with α = `shrinkage`
  (0.01), and every diagonal entry is floored at 1e-6 × the mean variance.
  Otherwise Σ is used as it is. `shrunk` in the output says which.
- **Truth.** MI is invariant under invertible linear maps, so with Σ = V Λ Vᵀ
  the task equals one with identity covariance and whitened means
  m_c = Λ^(−1/2) Vᵀ μ_c; I(x; y) = H(y) − E_x[H(y | x)] is averaged over
  `truth_samples` draws with the exact posterior of each (Rao–Blackwellised),
  and its Monte-Carlo standard error is reported (`truth_se`).
- **Null.** The same estimator on the real states with the labels permuted
  (R permutations); the truth is 0, so its values are its bias at no signal.

The R replicates (and the R permutations) run under one `vmap`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from attnjax import mi
from attnjax.checks import is_int

SHRINKAGE = 0.01
"""α of the shrinkage towards the diagonal, used only when Σ is (near) singular."""

_SINGULAR = 1e-6
"""Σ counts as singular when its smallest eigenvalue is ≤ this × its mean eigenvalue."""


def pooled_covariance(h, y, mask, num_classes: int):
  """Class means and pooled within-class covariance of the masked-in rows.

  Args:
    h: <float32>[N, D].
    y: <int32>[N] labels in [0, num_classes).
    mask: <bool>[N].
    num_classes: C.

  Returns:
    (means <float32>[C, D] (0 for an absent class), covariance <float32>[D, D]
    (the within-class scatter divided by max(N − C_present, 1)), counts
    <float32>[C]).
  """
  h = jnp.asarray(h, jnp.float32)
  weight = jnp.asarray(mask, jnp.float32)
  onehot = jax.nn.one_hot(y, num_classes) * weight[:, None]  # [N, C]
  counts = jnp.sum(onehot, 0)
  means = (onehot.T @ h) / jnp.maximum(counts, 1.0)[:, None]
  centred = (h - means[y]) * weight[:, None]
  dof = jnp.maximum(jnp.sum(weight) - jnp.sum(counts > 0), 1.0)
  return means, centred.T @ centred / dof, counts


def shrink(covariance, shrinkage: float = SHRINKAGE):
  """(Σ', shrunk): Σ itself when well conditioned, else the shrunk Σ (module docstring)."""
  eigenvalues = jnp.linalg.eigvalsh(covariance)
  scale = jnp.maximum(jnp.mean(eigenvalues), 1e-12)
  singular = eigenvalues[0] <= _SINGULAR * scale
  diagonal = jnp.diag(jnp.maximum(jnp.diag(covariance), _SINGULAR * scale))
  shrunk = (1.0 - shrinkage) * covariance + shrinkage * diagonal
  shrunk = shrunk.at[jnp.diag_indices_from(shrunk)].set(
      jnp.maximum(jnp.diag(shrunk), _SINGULAR * scale))
  return jnp.where(singular, shrunk, covariance), singular


def gaussian_mi(means, covariance, probs, *, key, samples: int = 100_000):
  """I(x; y) for y ~ Categorical(probs), x | y ~ N(means[y], covariance), by Monte Carlo.

  Whitens the means (x ↦ Λ^(−1/2) Vᵀ x with covariance = V Λ Vᵀ, which leaves
  the MI unchanged) and averages the exact posterior entropy over `samples`
  draws. Classes with probability 0 are ignored.

  Args:
    means: <float32>[C, D].
    covariance: <float32>[D, D] positive definite.
    probs: <float32>[C] class probabilities (summing to 1).
    key: PRNG key.
    samples: Monte-Carlo draws.

  Returns:
    (mi, standard error), nats, as JAX scalars.
  """
  means = jnp.asarray(means, jnp.float32)
  probs = jnp.asarray(probs, jnp.float32)
  eigenvalues, vectors = jnp.linalg.eigh(jnp.asarray(covariance, jnp.float32))
  white = (means @ vectors) / jnp.sqrt(eigenvalues)[None]  # [C, D]
  present = probs > 0
  log_p = jnp.where(present, jnp.log(jnp.where(present, probs, 1.0)), -jnp.inf)
  key_y, key_z = jax.random.split(key)
  y = jax.random.categorical(key_y, log_p, shape=(samples,))
  x = white[y] + jax.random.normal(key_z, (samples, white.shape[1]))
  # log N(x; m_c, I) up to a constant: x·m_c − |m_c|²/2 (the |x|² term cancels).
  log_joint = log_p[None] + x @ white.T - 0.5 * jnp.sum(white**2, 1)[None]
  log_post = jax.nn.log_softmax(log_joint, axis=1)
  post = jnp.exp(log_post)
  entropy = -jnp.sum(jnp.where(post > 0, post * log_post, 0.0), axis=1)  # [samples]
  h_y = -jnp.sum(jnp.where(present, probs * log_p, 0.0))
  return h_y - jnp.mean(entropy), jnp.std(entropy) / jnp.sqrt(samples)


def calibrate(h, y, *, method: str, key, mask=None, num_classes: int | None = None,
              replicates: int = 3, truth_samples: int = 100_000,
              shrinkage: float = SHRINKAGE, **options) -> dict:
  """The error of `method` at the operating point of (h, y): surrogate truth, bias, spread, null.

  Args:
    h: <float32>[N, D] real hidden states (e.g. one position's states over a dataset).
    y: <int32>[N] labels in [0, num_classes).
    method: an `attnjax.mi.METHODS` name taking integer labels.
    key: PRNG key (surrogate draws, the truth's Monte Carlo, the estimator's keys,
      the permutations).
    mask: <bool>[N] rows to use (default all); the surrogate keeps it.
    num_classes: C (default max(y) + 1, from concrete labels).
    replicates: R ≥ 2 surrogate draws (and label permutations).
    truth_samples: Monte-Carlo draws of the truth.
    shrinkage: α in [0, 1] (used only when the covariance is near singular).
    **options: the estimator's options, as passed to `attnjax.mi.estimate`.

  Returns:
    A JSON-able dict: "method", "n" (masked-in rows), "d", "classes",
    "truth", "truth_se" (its Monte-Carlo standard error), "estimates" [R],
    "mean", "bias" (mean estimate − truth), "spread" (std of the estimates
    over replicates, ddof 1), "null" (mean over the R permutations),
    "null_values" [R], "shrunk" (whether Σ was shrunk). NaN values where the
    estimator gives none (e.g. fewer than `min_count` rows).
  """
  if method not in mi.METHODS:
    raise ValueError(f"unknown method {method!r}; choose one of {sorted(mi.METHODS)}")
  if not (is_int(replicates) and replicates >= 2):
    raise ValueError(f"replicates must be an integer >= 2, got {replicates!r}")
  if not (is_int(truth_samples) and truth_samples >= 1000):
    raise ValueError(f"truth_samples must be an integer >= 1000, got {truth_samples!r}")
  if not 0.0 <= shrinkage <= 1.0:
    raise ValueError(f"shrinkage must be in [0, 1], got {shrinkage!r}")
  h = jnp.asarray(h, jnp.float32)
  y = jnp.asarray(y, jnp.int32)
  if h.ndim != 2 or y.shape != h.shape[:1]:
    raise ValueError(f"calibrate needs h [N, D] and y [N], got {h.shape} and {y.shape}")
  mask = jnp.ones(y.shape, bool) if mask is None else jnp.asarray(mask, bool)
  if num_classes is None:
    num_classes = int(jnp.max(jnp.where(mask, y, 0))) + 1
  means, covariance, counts = pooled_covariance(h, y, mask, num_classes)
  covariance, shrunk = shrink(covariance, shrinkage)
  probs = counts / jnp.maximum(jnp.sum(counts), 1.0)
  key_truth, key_draw, key_est, key_null = jax.random.split(key, 4)
  truth, truth_se = gaussian_mi(means, covariance, probs, key=key_truth, samples=truth_samples)
  factor = jnp.linalg.cholesky(covariance)

  def surrogate(k):
    return means[y] + jax.random.normal(k, h.shape) @ factor.T

  if mi.needs_num_classes(method):
    options = {"num_classes": num_classes, **options}

  def run(x, labels, k):
    return mi.estimate(x, labels, method=method, key=k, mask=mask, **options).value

  draws = jax.random.split(key_draw, replicates)
  estimates = jax.vmap(lambda kd, ke: run(surrogate(kd), y, ke))(
      draws, jax.random.split(key_est, replicates))
  null = jax.vmap(lambda kp, ke: run(h, permute_within(kp, y, mask), ke))(
      jax.random.split(key_null, replicates),
      jax.random.split(jax.random.fold_in(key_null, 1), replicates))
  estimates, null = np.asarray(estimates, np.float64), np.asarray(null, np.float64)
  truth = float(truth)
  return {"method": method, "n": int(jnp.sum(mask)), "d": int(h.shape[1]),
          "classes": int(num_classes), "truth": truth, "truth_se": float(truth_se),
          "estimates": estimates.tolist(), "mean": float(np.mean(estimates)),
          "bias": float(np.mean(estimates) - truth),
          "spread": float(np.std(estimates, ddof=1)),
          "null": float(np.mean(null)), "null_values": null.tolist(), "shrunk": bool(shrunk)}


def permute_within(key, y, mask):
  """<int32>[N] y with the masked-in labels randomly permuted among the masked-in rows
  (masked-out rows keep theirs), so the label counts are unchanged."""
  order = jnp.argsort(jnp.where(mask, jax.random.uniform(key, y.shape), 2.0), stable=True)
  rows = jnp.argsort(~mask, stable=True)  # masked-in rows first, in their order
  return y.at[rows].set(y[order])
