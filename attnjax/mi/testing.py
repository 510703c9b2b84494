"""Ground-truth tasks: samplers whose mutual information is known.

Used by the tests and the benchmark to check estimators against the truth;
the estimators never import this module.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def correlated_gaussians(key, n: int, dim: int, rho: float):
  """x, z ∈ R^dim, standard normal, corr(x_j, z_j) = rho, other pairs independent.

  Args:
    key: PRNG key.
    n: samples.
    dim: d.
    rho: per-coordinate correlation, |rho| < 1.

  Returns:
    `(x <float32>[n, dim], z <float32>[n, dim], mi)`, with the exact
    mi = −(d/2)·log(1 − ρ²) nats as a Python float.
  """
  key_x, key_e = jax.random.split(key)
  x = jax.random.normal(key_x, (n, dim))
  z = rho * x + np.sqrt(1.0 - rho**2) * jax.random.normal(key_e, (n, dim))
  return x, z, float(-0.5 * dim * np.log1p(-rho**2))


def student_t_pairs(key, n: int, dim: int, rho: float, dof: float):
  """x, z ∈ R^dim jointly multivariate Student-t: heavy tails and a shared scale.

  (x, z) = (g_x, g_z) / sqrt(w / ν) with (g_x, g_z) the `correlated_gaussians`
  pair and w ~ χ²_ν shared by all 2·dim coordinates, so even ρ = 0 gives
  dependent x and z (the common scale), and ν = 1 is a Cauchy-tailed pair.

  Args:
    key: PRNG key.
    n: samples.
    dim: d (of x and of z).
    rho: per-coordinate correlation of the Gaussian part, |rho| < 1.
    dof: ν > 0.

  Returns:
    `(x <float32>[n, dim], z <float32>[n, dim], mi)`, mi from
    `student_t_mi(dim, dim, rho, dof)`.
  """
  key_g, key_w = jax.random.split(key)
  x, z, _ = correlated_gaussians(key_g, n, dim, rho)
  scale = jnp.sqrt(2.0 * jax.random.gamma(key_w, dof / 2.0, (n, 1)) / dof)   # √(χ²_ν / ν)
  return x / scale, z / scale, student_t_mi(dim, dim, rho, dof)


def student_t_mi(dim_x: int, dim_y: int, rho: float, dof: float) -> float:
  """I(x; z) of a multivariate Student-t with ν = dof, blocks of dim_x and dim_y.

  The Gaussian part −(min(dim_x, dim_y)/2)·log(1 − ρ²) (ρ between paired
  coordinates) plus the dependence through the shared scale, which does not
  depend on ρ:

    log[Γ(ν/2) Γ((ν+m+n)/2) / (Γ((ν+m)/2) Γ((ν+n)/2))]
      + (ν+m)/2 ψ((ν+m)/2) + (ν+n)/2 ψ((ν+n)/2) − ν/2 ψ(ν/2) − (ν+m+n)/2 ψ((ν+m+n)/2),

  m = dim_x, n = dim_y (0.224 nats for m = n = 1, ν = 1).

  References:
    Arellano-Valle, Contreras-Reyes & Genton (2013), "Shannon Entropy and
    Mutual Information for Multivariate Skew-Elliptical Distributions",
    Scand. J. Statist.; Czyż et al. (2023), "Beyond Normal: On the Evaluation
    of Mutual Information Estimators", NeurIPS.
  """
  from scipy.special import digamma, gammaln

  m, n, v = float(dim_x), float(dim_y), float(dof)
  scale = (gammaln(v / 2) + gammaln((v + m + n) / 2) - gammaln((v + m) / 2) - gammaln((v + n) / 2)
           + (v + m) / 2 * digamma((v + m) / 2) + (v + n) / 2 * digamma((v + n) / 2)
           - v / 2 * digamma(v / 2) - (v + m + n) / 2 * digamma((v + m + n) / 2))
  return float(-0.5 * min(dim_x, dim_y) * np.log1p(-rho**2) + scale)


def gaussian_classes(key, n: int, means, probs=None):
  """Labels y ~ Categorical(probs) and x | y ~ N(means[y], I).

  Args:
    key: PRNG key.
    n: samples.
    means: <float32>[C, D] class means.
    probs: <float32>[C] class probabilities (default uniform).

  Returns:
    `(x <float32>[n, D], y <int32>[n])`.
  """
  means = jnp.asarray(means, jnp.float32)
  probs = _probs(means, probs)
  key_y, key_x = jax.random.split(key)
  y = jax.random.categorical(key_y, jnp.log(probs), shape=(n,)).astype(jnp.int32)
  x = means[y] + jax.random.normal(key_x, (n, means.shape[1]))
  return x, y


def gaussian_classes_mi(means, probs=None, *, key, samples: int = 200_000) -> float:
  """I(x; y) of `gaussian_classes`, by Monte Carlo with exact posteriors.

  I = H(y) − E_x[H(y | x)], averaging the exact posterior entropy over sampled
  x (Rao–Blackwellised, so 2e5 samples give ~1e-3 nats accuracy).

  Returns:
    The MI in nats, a Python float.
  """
  means = jnp.asarray(means, jnp.float32)
  probs = _probs(means, probs)
  x, _ = gaussian_classes(key, samples, means, probs)
  log_joint = jnp.log(probs)[None, :] - 0.5 * jnp.sum(
      jnp.square(x[:, None, :] - means[None, :, :]), axis=-1)
  log_post = jax.nn.log_softmax(log_joint, axis=1)
  h_y_given_x = -jnp.sum(jnp.exp(log_post) * log_post, axis=1).mean()
  h_y = -jnp.sum(probs * jnp.log(probs))
  return float(h_y - h_y_given_x)


def position_stack(key, n: int, strengths, dim: int, num_classes: int = 2):
  """Hidden states whose position t carries the label with strength s_t.

  Position t holds h_t = s_t · e_y + noise, with e_y the y-th basis vector of
  R^dim and N(0, I) noise, so I(h_t; y) grows with s_t and is 0 where s_t = 0.

  Args:
    key: PRNG key.
    n: examples.
    strengths: <float32>[T] signal strengths s_t ≥ 0.
    dim: D ≥ num_classes.
    num_classes: C.

  Returns:
    `(hidden <float32>[n, T, dim], labels <int32>[n], mi <float64>[T])`, with
    mi[t] the exact (Monte-Carlo) I(h_t; y) in nats.
  """
  strengths = np.asarray(strengths, np.float32)
  basis = jnp.eye(num_classes, dim)
  key_y, key_h, key_mi = jax.random.split(key, 3)
  labels = jax.random.randint(key_y, (n,), 0, num_classes)
  noise = jax.random.normal(key_h, (n, len(strengths), dim))
  hidden = strengths[None, :, None] * basis[labels][:, None, :] + noise
  mi = np.array([gaussian_classes_mi(s * basis[:, :num_classes], key=key_mi, samples=50_000)
                 if s > 0 else 0.0 for s in strengths])
  return hidden, labels, mi


def _probs(means, probs):
  if probs is None:
    return jnp.full(means.shape[0], 1.0 / means.shape[0])
  return jnp.asarray(probs, jnp.float32)
