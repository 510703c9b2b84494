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
