"""Trained estimators (InfoNCE, NWJ, MINE, SMILE critics; the probe) against truths."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.integrate
import scipy.stats

from attnjax import mi
from attnjax.mi import fit, inputs, testing, variational

N = 4000
BOUNDS = variational.BOUNDS
# Steps for the tests: near the defaults' accuracy at 60% of the cost.
FAST = {"steps": 600}
DIVERGING_LR = 1.0


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


def test_infonce_never_exceeds_log_of_its_evaluation_block():
  # 1,000 held-out samples scored in 63 blocks of 16 slots (the last holding 8 samples):
  # all pairs within a block, so each block's bound is at most log(its samples).
  x, z, truth = testing.correlated_gaussians(jax.random.key(5), 2000, 4, 0.95)  # 4.7 nats
  result = mi.estimate(x, z, method="infonce", key=jax.random.key(6), steps=300, batch_size=16,
                       learning_rate=5e-3, eval_size=16)
  ceiling = (62 * 16 * np.log(16) + 8 * np.log(8)) / 1000
  assert float(result.ceiling) == pytest.approx(ceiling, rel=1e-5)
  assert 0.8 * ceiling < float(result.value) <= ceiling + 1e-5 < truth


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


def test_rank_gauss_is_the_normal_scores_of_mid_ranks():
  rng = np.random.default_rng(0)
  x = rng.standard_cauchy((50, 3)).astype(np.float32)
  x[:10, 1] = 2.0                                       # ties share their mean rank
  mask = np.arange(50) % 7 != 3
  got = np.asarray(inputs.rank_gauss(jnp.asarray(x), jnp.asarray(mask)))
  n = mask.sum()
  want = scipy.stats.norm.ppf((scipy.stats.rankdata(x[mask], axis=0) - 0.5) / n)
  np.testing.assert_allclose(got[mask], want, atol=1e-5)
  np.testing.assert_array_equal(got[~mask], 0.0)


def _student_t_mi_by_quadrature(rho, dof):
  """∫∫ p log p/(p_x p_z) for the bivariate t, u = tan θ mapping (−π/2, π/2)² onto R²."""
  from scipy.special import gammaln
  c2 = gammaln((dof + 2) / 2) - gammaln(dof / 2) - np.log(dof * np.pi) - 0.5 * np.log1p(-rho**2)
  c1 = gammaln((dof + 1) / 2) - gammaln(dof / 2) - 0.5 * np.log(dof * np.pi)
  marginal = lambda u: c1 - (dof + 1) / 2 * np.log1p(u * u / dof)

  def integrand(a, b):
    x, z = np.tan(a), np.tan(b)
    q = (x * x - 2 * rho * x * z + z * z) / (1 - rho**2)
    log_joint = c2 - (dof + 2) / 2 * np.log1p(q / dof)
    jacobian = 1.0 / (np.cos(a) ** 2 * np.cos(b) ** 2)
    return np.exp(log_joint) * (log_joint - marginal(x) - marginal(z)) * jacobian
  half = np.pi / 2
  return scipy.integrate.dblquad(integrand, -half, half, -half, half, epsabs=1e-7)[0]


@pytest.mark.parametrize("rho, dof", [(0.0, 1.0), (0.6, 1.0), (0.5, 3.0)])
def test_student_t_mi_formula_matches_quadrature(rho, dof):
  assert testing.student_t_mi(1, 1, rho, dof) == pytest.approx(
      _student_t_mi_by_quadrature(rho, dof), abs=1e-5)
  assert testing.student_t_mi(1, 1, 0.0, 1.0) == pytest.approx(0.2242, abs=1e-4)  # bmi's task


@pytest.fixture(scope="module")
def heavy_tailed():
  """bmi's 1-D Student-t task (ν = 1, ρ = 0: dependence only through the shared scale)."""
  return testing.student_t_pairs(jax.random.key(20), N, 1, 0.0, 1.0)   # truth 0.224


@pytest.mark.parametrize("method", ["nwj", "infonce"])
def test_heavy_tailed_student_t_is_finite_and_close(method, heavy_tailed):
  # NWJ without the validated checkpoint and the copula inputs measured −1037 nats here.
  x, z, truth = heavy_tailed
  result = mi.estimate(x, z, method=method, key=jax.random.key(21), **FAST)
  value = float(result.value)
  assert truth - 0.06 <= value <= truth + 0.03, (value, truth)
  assert not bool(result.diagnostics["diverged"])
  assert 0 < int(result.diagnostics["best_step"]) <= FAST["steps"]


def test_diverging_critic_is_flagged_and_never_returned(heavy_tailed):
  # Raw Cauchy tails and a huge step: NWJ's e^f overflows during training.
  x, z, _ = heavy_tailed
  result = mi.estimate(x, z, method="nwj", key=jax.random.key(22), copula=False,
                       standardize=False, learning_rate=DIVERGING_LR, **FAST)
  curve = np.asarray(result.diagnostics["validation_curve"])
  assert bool(result.diagnostics["diverged"])
  assert not np.all(np.isfinite(curve)) or curve.min() < -1.0
  assert np.isfinite(float(result.value)) and float(result.value) >= -0.1
  assert curve[0] == 0.0   # the zero critic of step 0, always a candidate


@pytest.mark.parametrize("method", ["nwj", "infonce"])
def test_independent_heavy_tailed_pairs_read_about_zero(method, heavy_tailed):
  x, z, _ = heavy_tailed
  shuffled = jax.random.permutation(jax.random.key(23), z)
  result = mi.estimate(x, shuffled, method=method, key=jax.random.key(24), **FAST)
  assert -0.1 <= float(result.value) < 0.03, float(result.value)


def test_vmap_over_seeds_matches_separate_calls():
  x, z, _ = testing.correlated_gaussians(jax.random.key(25), 1000, 2, 0.8)
  keys = jax.random.split(jax.random.key(26), 2)
  run = lambda key: variational.variational(x, z, bound="nwj", key=key, steps=100)
  stacked = jax.jit(jax.vmap(run))(keys)
  chex.assert_shape(stacked.value, (2,))
  chex.assert_shape(stacked.diagnostics["validation_curve"], (2, 1 + 100 // 50))
  chex.assert_shape(stacked.diagnostics["diverged"], (2,))
  for i in range(2):
    # vmap batches the critic's matrix products differently: last-bit differences that
    # 100 Adam steps at 1e-2 carry to ~0.002 nats at the default batch of 128 (measured;
    # within 1e-5 at 256), a tenth of the estimator's own spread over keys.
    np.testing.assert_allclose(stacked.value[i], jax.jit(run)(keys[i]).value, atol=0.01)


def test_critic_options_are_one_validated_type_equal_to_keywords():
  x, z, _ = testing.correlated_gaussians(jax.random.key(27), 600, 2, 0.8)
  key = jax.random.key(28)
  options = variational.CriticOptions(steps=60, hidden=[8], critic="separable")
  assert options.hidden == (8,) and hash(options) == hash(dataclasses.replace(options))
  run = lambda **kw: jax.jit(lambda x, z: variational.variational(x, z, bound="infonce",
                                                                   key=key, **kw))(x, z)
  typed = run(options=options)
  keywords = run(steps=60, hidden=(8,), critic="separable")
  through_registry = mi.estimate(x, z, method="infonce", key=key, steps=60, hidden=[8],
                                 critic="separable")
  assert float(typed.value) == float(keywords.value)
  # The registry's guard (masking, NaN checks) compiles into the same program: XLA fuses it
  # differently, and 60 Adam steps carry the last-bit differences to ~0.005 nats.
  np.testing.assert_allclose(float(through_registry.value), float(typed.value), atol=0.02)
  # A keyword replaces the options' field (the same program as `typed`: a cache hit).
  replaced = run(options=dataclasses.replace(options, steps=500), steps=60)
  assert float(replaced.value) == float(typed.value)
  assert replaced.diagnostics["train_curve"].shape == (60,)
  for bad, message in [({"steps": 0}, "steps=0 of CriticOptions must be an integer >= 1"),
                       ({"critic": "mlp"}, "unknown critic 'mlp'; allowed: separable, concat"),
                       ({"validation_fraction": 0.0}, "validation_fraction must be in \\(0, 1\\)"),
                       ({"copula": "yes"}, "copula='yes' of CriticOptions must be True or False"),
                       ({"hidden": (8, 0)}, "hidden=\\(8, 0\\) of CriticOptions")]:
    with pytest.raises(ValueError, match=message):
      variational.CriticOptions(**bad)
  with pytest.raises(ValueError, match="option tau=-1.0 of method 'smile' must be"):
    mi.estimate(x, z, method="smile", key=key, tau=-1.0)
  with pytest.raises(ValueError, match="unknown option\\(s\\) \\['k'\\] for method 'nwj'"):
    mi.estimate(x, z, method="nwj", key=key, k=3)
