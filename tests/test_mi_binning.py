"""Histogram estimator: exact on discrete data, documented bias on Gaussians."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax import mi
from attnjax.mi import binning, testing


def plug_in_mi(a, b):
  """Plug-in MI of two discrete sequences (rows of `a` are cells)."""
  cells_a = np.unique(a, axis=0, return_inverse=True)[1].ravel()
  joint = np.zeros((cells_a.max() + 1, b.max() + 1))
  np.add.at(joint, (cells_a, b), 1.0)
  joint /= joint.sum()
  outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
  nz = joint > 0
  return float(np.sum(joint[nz] * np.log(joint[nz] / outer[nz])))


def test_equals_the_plug_in_mi_on_discrete_data():
  rng = np.random.default_rng(0)
  x = rng.integers(0, 4, size=(3000, 2))           # 16 cells, 4 bins per column
  y = (x[:, 0] + (rng.random(3000) < 0.3)) % 3
  result = mi.estimate(x.astype(np.float32), y, method="binning", bins=4)
  assert plug_in_mi(x, y) > 0.4
  np.testing.assert_allclose(float(result.value), plug_in_mi(x, y), atol=1e-5)
  assert float(result.diagnostics["cells_x"]) == pytest.approx(16.0, rel=1e-5)


@pytest.mark.parametrize("bins, tolerance", [(16, 0.10), (8, 0.20)])
def test_correlated_gaussians_in_one_dimension(bins, tolerance):
  x, z, truth = testing.correlated_gaussians(jax.random.key(0), 4000, 1, 0.8)
  value = float(mi.estimate(x, z, method="binning", bins=bins, strategy="equal_frequency").value)
  assert abs(value - truth) <= tolerance * truth, (value, truth)
  assert value < truth + 0.02  # coarse bins lose information


def test_miller_madow_shrinks_the_bias_on_independent_data():
  keys = jax.random.split(jax.random.key(1), 2)
  x = jax.random.normal(keys[0], (2000, 1))
  labels = jax.random.randint(keys[1], (2000,), 0, 4)
  plain = float(mi.estimate(x, labels, method="binning", bins=16).value)
  corrected = float(mi.estimate(x, labels, method="binning", bins=16, bias_correction=True).value)
  assert 0.0 < plain < 0.03
  assert abs(corrected) < plain / 3


def test_equal_frequency_bins_hold_equal_counts_of_real_samples():
  values = jax.random.uniform(jax.random.key(2), (1200, 2))
  mask = jnp.arange(1200) < 1000
  cells = binning.bin_columns(values, mask, 4, "equal_frequency")
  for column in range(2):
    counts = np.bincount(np.asarray(cells[:1000, column]), minlength=4)
    np.testing.assert_array_equal(counts, [250, 250, 250, 250])


def test_masked_out_samples_are_ignored():
  rng = np.random.default_rng(3)
  x = rng.normal(size=(500, 1)).astype(np.float32)
  y = (x[:, 0] + rng.normal(size=500) > 0).astype(np.int32)
  padded_x = np.concatenate([x, np.full((100, 1), 50.0, np.float32)])
  padded_y = np.concatenate([y, np.ones(100, np.int32)])
  mask = np.arange(600) < 500
  for strategy in binning.STRATEGIES:
    subset = mi.estimate(x, y, method="binning", strategy=strategy)
    masked = mi.estimate(padded_x, padded_y, mask=mask, method="binning", strategy=strategy)
    chex.assert_trees_all_close(subset, masked, atol=1e-6)
