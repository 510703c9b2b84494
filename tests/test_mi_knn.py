"""k-NN estimators (KSG, Ross's mixed) against analytic truths."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax import mi
from attnjax.mi import knn, testing

N = 4000


def within(estimate, truth, *, nats=0.05, relative=0.10):
  """The docstrings' tolerance: |estimate − truth| ≤ max(nats, relative·truth)."""
  return abs(estimate - truth) <= max(nats, relative * truth)


def three_classes(dim, separation):
  means = np.zeros((3, dim), np.float32)
  means[0, 0] = separation
  means[1, : min(2, dim)] = -separation / 2
  return means


@pytest.mark.parametrize("dim, rho", [(1, 0.5), (2, 0.8), (3, 0.6)])
def test_ksg_correlated_gaussians(dim, rho):
  x, z, truth = testing.correlated_gaussians(jax.random.key(dim), N, dim, rho)
  value = float(mi.estimate(x, z, method="ksg").value)
  assert within(value, truth), (value, truth)


@pytest.mark.parametrize("dim, rho, low, high", [(4, 0.6, 0.80, 0.95), (8, 0.5, 0.5, 0.7)])
def test_ksg_bias_in_higher_dimension_is_downwards_as_documented(dim, rho, low, high):
  # Docstring: −13% at d = 4, −39% at d = 8 per side.
  x, z, truth = testing.correlated_gaussians(jax.random.key(dim), N, dim, rho)
  value = float(mi.estimate(x, z, method="ksg").value)
  assert low * truth < value < high * truth, (value, truth)


@pytest.mark.parametrize("dim, separation", [(1, 1.0), (2, 2.0), (8, 1.5)])
def test_mixed_ksg_gaussian_classes(dim, separation):
  means = three_classes(dim, separation)
  truth = testing.gaussian_classes_mi(means, key=jax.random.key(99))
  x, y = testing.gaussian_classes(jax.random.key(dim), N, means)
  value = float(mi.estimate(x, y, method="mixed_ksg", key=jax.random.key(0)).value)
  assert within(value, truth), (value, truth)


@pytest.mark.parametrize("dim", [1, 8])
def test_independent_data_give_near_zero_unclipped(dim):
  keys = jax.random.split(jax.random.key(dim), 3)
  x = jax.random.normal(keys[0], (N, dim))
  z = jax.random.normal(keys[1], (N, dim))
  labels = jax.random.randint(keys[2], (N,), 0, 3)
  for value in (mi.estimate(x, z, method="ksg").value,
                mi.estimate(x, labels, method="mixed_ksg").value):
    assert abs(float(value)) < 0.03


def test_mixed_ksg_counts_duplicated_states_as_ties():
  # Embedding-encoder-like states: 6 distinct vectors in R^32 (the Gram
  # distance path), each repeated ~N/6 times; y depends on which vector.
  # Truth: the discrete I(token; y) of the sampling distribution.
  p_y_given_token = np.array([[.9, .1], [.8, .2], [.5, .5], [.3, .7], [.1, .9], [.5, .5]])
  keys = jax.random.split(jax.random.key(3), 3)
  tokens = jax.random.randint(keys[0], (N,), 0, 6)
  labels = (jax.random.uniform(keys[1], (N,)) > p_y_given_token[np.asarray(tokens), 0]).astype(jnp.int32)
  states = jax.random.normal(keys[2], (6, 32))[tokens]
  p_y = p_y_given_token.mean(0)
  truth = float(np.mean(np.sum(p_y_given_token * np.log(p_y_given_token / p_y), axis=1)))
  for key in (None, jax.random.key(1)):
    value = float(mi.estimate(states, labels, method="mixed_ksg", key=key).value)
    assert within(value, truth, nats=0.03), (value, truth)


def test_block_size_does_not_change_the_estimate():
  x, y = testing.gaussian_classes(jax.random.key(4), 1000, three_classes(3, 2.0))
  whole = mi.estimate(x, y, method="mixed_ksg").value
  blocked = mi.estimate(x, y, method="mixed_ksg", block_size=37).value
  chex.assert_trees_all_close(whole, blocked, atol=1e-5)


def test_masked_out_samples_are_ignored():
  x, y = testing.gaussian_classes(jax.random.key(5), 1000, three_classes(4, 2.0))
  padded_x = jnp.concatenate([x, 100.0 * jnp.ones((300, 4))])
  padded_y = jnp.concatenate([y, jnp.zeros(300, jnp.int32)])
  mask = jnp.arange(1300) < 1000
  subset = mi.estimate(x, y, method="mixed_ksg", jitter=0.0)
  masked = mi.estimate(padded_x, padded_y, mask=mask, method="mixed_ksg", jitter=0.0)
  chex.assert_trees_all_close(subset.value, masked.value, atol=1e-5)
  assert int(masked.n) == 1000


class JitTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_jit_and_eager_agree(self):
    x, z, _ = testing.correlated_gaussians(jax.random.key(6), 500, 2, 0.8)
    labels = (z[:, 0] > 0).astype(jnp.int32)
    result = self.variant(knn.mixed_ksg)(x, labels, key=jax.random.key(0))
    chex.assert_shape(result.value, ())
    chex.assert_trees_all_close(result.value, mi.estimate(x, labels, method="mixed_ksg",
                                                          key=jax.random.key(0)).value, atol=1e-5)


def test_k_smallest_keeps_ties():
  got = knn.k_smallest(jnp.array([[3.0, 1.0, 1.0, 2.0], [0.0, 5.0, 4.0, 4.0]]), 3)
  np.testing.assert_array_equal(got, [[1.0, 1.0, 2.0], [0.0, 4.0, 4.0]])


def test_one_dimensional_sorted_path_matches_brute_force():
  # 1-D x takes the O(N log N) sorted path; a zero second column forces brute force
  # with the same distances. Rounded values make ties; the mask drops 10%.
  rng = np.random.default_rng(7)
  labels = rng.integers(0, 3, 1500)
  x = np.round(2.0 * (labels == 1) + rng.normal(size=1500), 1).astype(np.float32)[:, None]
  mask = rng.random(1500) < 0.9
  sorted_path = mi.estimate(x, labels, mask=mask, method="mixed_ksg", jitter=0.0)
  brute = mi.estimate(np.concatenate([x, 0 * x], 1), labels, mask=mask, method="mixed_ksg",
                      jitter=0.0)
  assert float(sorted_path.value) > 0.2
  chex.assert_trees_all_close(sorted_path.value, brute.value, atol=1e-3)
