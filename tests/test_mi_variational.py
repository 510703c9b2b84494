"""Trained estimators (InfoNCE, NWJ, MINE, SMILE critics; the probe) against truths."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from attnjax import mi
from attnjax.mi import fit, testing, variational

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


def test_minimize_with_select_keeps_the_best_checkpoint_exactly():
  # Least squares whose validation target differs from the training one: the
  # validation loss falls, then rises, so the best check is in the middle.
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(64, 3)), jnp.float32)
  data = (x, x @ jnp.array([1.0, -2.0, 0.5]))
  weights = jnp.ones(64)
  validation_w = jnp.array([0.4, -0.8, 0.2])

  def loss(params, state, batch, w):
    value = jnp.sum(w * (batch[0] @ params - batch[1]) ** 2) / jnp.sum(w)
    return value, (value, state)

  run = lambda steps, **kw: fit.minimize(loss, jnp.zeros(3), (), data, weights, jax.random.key(0),
                                         steps=steps, batch_size=16, optimizer=optax.sgd(0.05),
                                         **kw)
  select = lambda params, _: jnp.sum((params - validation_w) ** 2)
  fitted = run(53, select=select, eval_every=10)
  chex.assert_shape(fitted.curve, (53,))
  chex.assert_shape(fitted.scores, (1 + 5 + 1,))  # step 0, every 10th, the last (53)
  checks = np.array([0, 10, 20, 30, 40, 50, 53])
  best = int(fitted.best_step)
  assert best == checks[np.argmin(fitted.scores)] and 0 < best < 53
  np.testing.assert_allclose(fitted.scores, [float(select(run(int(s)).params, ())) for s in checks],
                             rtol=1e-5)
  np.testing.assert_array_equal(fitted.params, run(best).params)
  with pytest.raises(ValueError, match="eval_every must be an integer >= 1, got 0"):
    run(10, select=select, eval_every=0)


@pytest.fixture(scope="module")
def wide_classes():
  """The four classes of `classes` padded with 62 noise coordinates; n = 400 samples."""
  means = np.zeros((4, 64), np.float32)
  means[:, :2] = [[3.0, 0.0], [0.0, 3.0], [3.0, 0.0], [-3.0, 0.0]]
  return testing.gaussian_classes(jax.random.key(13), 400, means)


def test_probe_early_stopping_on_few_samples_in_many_dimensions(wide_classes, classes):
  # 160 training samples in 64 dimensions (truth 0.98): the probe overfits within a few
  # dozen steps. Without early stopping the held-out bound falls below 0 (measured
  # −0.83 to −1.09); with it the probe keeps what it learned first (0.35–0.47).
  x, labels = wide_classes
  truth = classes[2]
  stopped = mi.estimate(x, labels, method="probe", key=jax.random.key(14))
  overfit = mi.estimate(x, labels, method="probe", key=jax.random.key(14),
                        validation_fraction=0.0)
  assert 0.25 < float(stopped.value) < truth + 0.03
  assert float(overfit.value) < float(stopped.value) - 0.5
  curve = stopped.diagnostics["validation_curve"]
  chex.assert_shape(curve, (1 + 1000 // 5,))
  best = int(stopped.diagnostics["best_step"])
  assert 0 < best < 1000 and float(curve[best // 5]) == pytest.approx(float(curve.min()))
  assert "validation_curve" not in overfit.diagnostics
  with pytest.raises(ValueError, match="validation_fraction must be in \\[0, 1\\), got 1.0"):
    mi.estimate(x, labels, method="probe", key=jax.random.key(14), validation_fraction=1.0)
