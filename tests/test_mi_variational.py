"""Trained estimators (InfoNCE, NWJ, MINE, SMILE critics; the probe) against truths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax import mi
from attnjax.mi import testing, variational

N = 4000
BOUNDS = variational.BOUNDS
# Steps and batch for the tests: the defaults' accuracy at a third of the cost.
FAST = {"steps": 600, "batch_size": 128}


@pytest.fixture(scope="module")
def classes():
  """Four Gaussian classes in R^2 (two share a mean): x, labels, exact MI ≈ 0.98."""
  means = np.array([[3.0, 0.0], [0.0, 3.0], [3.0, 0.0], [-3.0, 0.0]], np.float32)
  x, labels = testing.gaussian_classes(jax.random.key(0), N, means)
  return x, labels, testing.gaussian_classes_mi(means, key=jax.random.key(1))


@pytest.mark.parametrize("method", BOUNDS)
def test_bounds_on_gaussian_classes(method, classes):
  # Docstring: a lower bound, up to 0.03 of noise above, within 0.12 below.
  x, labels, truth = classes
  value = float(mi.estimate(x, labels, method=method, key=jax.random.key(2), **FAST).value)
  assert truth - 0.12 <= value <= truth + 0.03, (value, truth)


@pytest.mark.parametrize("method", ["infonce", "mine"])
def test_bounds_on_correlated_gaussians(method):
  x, z, truth = testing.correlated_gaussians(jax.random.key(3), N, 2, 0.8)  # 1.02 nats
  value = float(mi.estimate(x, z, method=method, key=jax.random.key(4), **FAST).value)
  assert truth - 0.12 <= value <= truth + 0.03, (value, truth)


def test_infonce_never_exceeds_log_batch_size():
  x, z, truth = testing.correlated_gaussians(jax.random.key(5), 2000, 4, 0.95)  # 4.7 nats
  result = mi.estimate(x, z, method="infonce", key=jax.random.key(6), steps=300, batch_size=16,
                       learning_rate=5e-3)
  assert float(result.ceiling) == pytest.approx(np.log(16))
  assert 0.8 * np.log(16) < float(result.value) <= np.log(16) + 1e-5 < truth


def test_held_out_value_on_independent_data_is_near_zero(classes):
  x, labels, _ = classes
  shuffled = jax.random.permutation(jax.random.key(7), labels)
  for method in ("nwj", "probe"):
    value = float(mi.estimate(x, shuffled, method=method, key=jax.random.key(8), **FAST).value)
    assert -0.06 < value < 0.03, (method, value)


def test_masked_out_samples_do_not_enter_training(classes):
  x, labels, _ = classes
  poisoned = jnp.where(jnp.arange(N)[:, None] < N // 2, x, 1e4)   # garbage in the masked half
  mask = jnp.arange(N) < N // 2
  clean = mi.estimate(x[: N // 2], labels[: N // 2], method="probe", key=jax.random.key(9))
  masked = mi.estimate(poisoned, labels, mask=mask, method="probe", key=jax.random.key(9))
  assert int(masked.n) == pytest.approx(N // 4, rel=0.1)
  assert abs(float(masked.value) - float(clean.value)) < 0.05


def test_sparse_mask_leaves_empty_held_out_batches_harmless(classes):
  # 60 usable samples among 4,000 slots: most held-out batches are empty.
  x, labels, truth = classes
  mask = jnp.arange(N) % 66 == 0
  value = float(mi.estimate(x, labels, mask=mask, method="infonce", key=jax.random.key(12),
                            **FAST).value)
  assert np.isfinite(value) and value < truth + 0.3


def test_probe_on_gaussian_classes(classes):
  # A linear-softmax probe can represent the Bayes posterior here.
  x, labels, truth = classes
  result = mi.estimate(x, labels, method="probe", key=jax.random.key(10))
  assert truth - 0.05 <= float(result.value) <= truth + 0.03
  assert float(result.diagnostics["cross_entropy"]) < float(result.diagnostics["h_y"])
  assert result.diagnostics["train_curve"][-50:].mean() < result.diagnostics["train_curve"][:50].mean()


def test_critic_choice_separable_runs_and_bounds(classes):
  x, labels, truth = classes
  value = float(mi.estimate(x, labels, method="infonce", key=jax.random.key(11),
                            critic="separable", **FAST).value)
  assert truth - 0.2 <= value <= truth + 0.03
