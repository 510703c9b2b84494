"""attnjax.analysis.calibration: surrogate truth, bias and spread of an estimator, the null."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax.analysis import calibration
from attnjax.mi import testing

MEANS = jnp.zeros((2, 4)).at[0, 0].set(2.0)


def _data(n=1000):
  return testing.gaussian_classes(jax.random.key(1), n, MEANS)


def test_truth_matches_gaussian_classes_mi_for_identity_covariance():
  means = jnp.zeros((3, 10)).at[0, 0].set(1.5).at[1, 1].set(1.5)
  probs = jnp.array([0.5, 0.3, 0.2])
  truth, se = calibration.gaussian_mi(means, jnp.eye(10), probs, key=jax.random.key(0),
                                       samples=50_000)
  expected = testing.gaussian_classes_mi(means, probs, key=jax.random.key(3), samples=50_000)
  assert 0 < float(se) < 2e-3
  assert abs(float(truth) - expected) < 5 * np.sqrt(2) * float(se)  # two independent MC runs


def test_truth_is_invariant_to_an_invertible_linear_map_of_the_states():
  x, y = _data()
  mask = jnp.ones(y.shape, bool)
  a = jax.random.normal(jax.random.key(5), (4, 4)) + 2.0 * jnp.eye(4)
  truths = []
  for states in (x, x @ a):
    means, cov, counts = calibration.pooled_covariance(states, y, mask, 2)
    cov, shrunk = calibration.shrink(cov)
    assert not bool(shrunk)
    truth, se = calibration.gaussian_mi(means, cov, counts / counts.sum(), key=jax.random.key(0))
    truths.append(float(truth))
  # Same Mahalanobis geometry; the whitened frames differ by a rotation, so the MC draws
  # differ: equal within 4 standard errors of a difference (measured 9e-4, se 7e-4).
  assert abs(truths[0] - truths[1]) < 4 * np.sqrt(2) * float(se)
  # and the pooled truth is near the generating task's (sample means, N = 1,000)
  assert abs(truths[0] - testing.gaussian_classes_mi(MEANS, key=jax.random.key(0))) < 0.03


def test_singular_covariance_is_shrunk_and_stays_positive_definite():
  x, y = _data(50)
  h = jnp.concatenate([x, x[:, :1], jnp.zeros((50, 1))], axis=1)  # a copied and a dead unit
  means, cov, _ = calibration.pooled_covariance(h, y, jnp.ones(50, bool), 2)
  shrunk_cov, shrunk = calibration.shrink(cov)
  assert bool(shrunk)
  assert float(jnp.linalg.eigvalsh(shrunk_cov)[0]) > 0


def test_permute_within_keeps_masked_out_rows_and_counts():
  y = jnp.arange(10, dtype=jnp.int32) % 3
  mask = jnp.arange(10) < 7
  p = calibration.permute_within(jax.random.key(0), y, mask)
  np.testing.assert_array_equal(p[7:], y[7:])
  assert sorted(np.asarray(p[:7]).tolist()) == sorted(np.asarray(y[:7]).tolist())


def test_crossfit_bias_small_bad_probe_bias_large_null_near_zero():
  x, y = _data()
  key = jax.random.key(0)
  good = calibration.calibrate(x, y, method="crossfit_probe", key=key, truth_samples=20_000,
                               folds=4, dims=(4,), ridge=(1e-2,), standardize=(0.0,))
  assert abs(good["bias"]) < 0.03 and good["spread"] < 0.03
  assert abs(good["null"]) < 0.02 and len(good["estimates"]) == 3
  assert good["n"] == 1000 and good["d"] == 4 and good["classes"] == 2
  bad = calibration.calibrate(x, y, method="probe", key=key, truth_samples=20_000, steps=5)
  assert bad["truth"] == pytest.approx(good["truth"])
  assert bad["bias"] < -0.1  # 5 SGD steps: far from converged (measured −0.21)


def test_critic_estimators_get_num_classes_under_vmap():
  x, y = _data(200)
  result = calibration.calibrate(x, y, method="nwj", key=jax.random.key(0), replicates=2,
                                 truth_samples=2000, steps=20, eval_every=10)
  assert np.isfinite(result["estimates"]).all() and np.isfinite(result["null_values"]).all()


def test_bad_arguments():
  x, y = _data(100)
  with pytest.raises(ValueError, match="replicates"):
    calibration.calibrate(x, y, method="probe", key=jax.random.key(0), replicates=1)
  with pytest.raises(ValueError, match="unknown method"):
    calibration.calibrate(x, y, method="nope", key=jax.random.key(0))
