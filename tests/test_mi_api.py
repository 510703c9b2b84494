"""`estimate`, `per_position` and the registry: dispatch, errors, padding, vmap."""

import inspect

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from attnjax import mi
from attnjax.mi import registry, testing, variational

STRENGTHS = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 0.0, 0.8], np.float32)
N, D = 2000, 8


@pytest.fixture(scope="module")
def stack():
  """hidden <float32>[N, T, D], labels <int32>[N], true MI <float64>[T], mask <bool>[N, T]."""
  hidden, labels, truth = testing.position_stack(jax.random.key(0), N, STRENGTHS, D, 3)
  lengths = jax.random.randint(jax.random.key(1), (N,), 4, len(STRENGTHS) + 1)
  mask = jnp.arange(len(STRENGTHS))[None, :] < lengths[:, None]
  return hidden, labels, truth, mask


def test_unknown_method_lists_the_registry():
  with pytest.raises(ValueError, match="unknown method 'kde'.*mixed_ksg"):
    mi.estimate(np.zeros((10, 2)), np.zeros(10, np.int32), method="kde")


def test_declared_options_are_the_estimators_keywords():
  for name, estimator in mi.ESTIMATORS.items():
    if name in variational.BOUNDS:  # `variational` takes the CriticOptions fields as **fields
      expected = set(variational.OPTIONS) | {"num_classes"}
    else:
      params = inspect.signature(estimator.fn).parameters.values()
      expected = {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
      expected -= {"mask", "key"}
    assert estimator.options == expected, name
    assert estimator.y_kind in ("any", "discrete", "continuous"), name
    assert estimator.counterpart in (None, *mi.ESTIMATORS), name
  assert dict(mi.METHODS) == {name: e.fn for name, e in mi.ESTIMATORS.items()}


def test_needs_num_classes_names_the_one_hot_encoders():
  takes = [m for m in mi.METHODS if mi.needs_num_classes(m)]
  assert takes == ["infonce", "nwj", "mine", "smile", "probe", "crossfit_probe"]
  with pytest.raises(ValueError, match="unknown method 'kde'"):
    mi.needs_num_classes("kde")


@pytest.mark.parametrize("x_shape, y_shape, message", [
    ((10, 2, 3), (10,), r"x must have shape \[N, D\]"),
    ((10, 2), (9,), r"y must have shape \[N\] or \[N, Dy\] with N = 10"),
])
def test_bad_shapes_raise(x_shape, y_shape, message):
  with pytest.raises(ValueError, match=message):
    mi.estimate(np.zeros(x_shape), np.zeros(y_shape, np.int32), method="mixed_ksg")


def test_bad_kind_of_y_and_bad_options_raise():
  x = np.random.default_rng(0).normal(size=(50, 2))
  with pytest.raises(ValueError, match="use 'mixed_ksg'"):
    mi.estimate(x, np.zeros(50, np.int32), method="ksg")
  with pytest.raises(ValueError, match="needs integer labels"):
    mi.estimate(x, x, method="mixed_ksg")
  with pytest.raises(ValueError, match=r"unknown option\(s\) \['neighbours'\].*'k'"):
    mi.estimate(x, x, method="ksg", neighbours=3)
  with pytest.raises(ValueError, match="pass key="):
    mi.estimate(x, np.zeros(50, np.int32), method="infonce")
  with pytest.raises(ValueError, match=r"mask must have shape \[50, 1\]"):
    mi.per_position(x[:, None, :], np.zeros(50, np.int32), mask=np.ones(50, bool),
                    method="mixed_ksg")


def test_result_is_a_pytree_with_a_float_value():
  x, z, truth = testing.correlated_gaussians(jax.random.key(2), 500, 1, 0.8)
  result = mi.estimate(np.asarray(x), np.asarray(z), method="ksg")
  assert isinstance(result, mi.MIResult)
  assert abs(float(result.value) - truth) < 0.1
  assert int(result.n) == 500 and float(result.ceiling) == np.inf
  assert all(jnp.shape(leaf) == () for leaf in jax.tree.leaves(result))


def test_per_position_recovers_the_true_ordering(stack):
  hidden, labels, truth, mask = stack
  values = mi.per_position(hidden, labels, mask=mask, method="mixed_ksg", key=jax.random.key(3))
  chex.assert_shape(values, (len(STRENGTHS),))
  assert scipy.stats.spearmanr(values, truth).statistic >= 0.9
  # Positions 6 and 7 exist in ~1/2 and ~1/4 of the examples; fewer samples, same rule.
  np.testing.assert_allclose(values, truth, atol=max(0.05, 0.1 * truth.max()))


def test_per_position_equals_a_loop_of_estimates(stack):
  hidden, labels, _, mask = stack
  key = jax.random.key(4)
  for method, position_batch in (("mixed_ksg", None), ("binning", 3), ("mixed_ksg", "auto")):
    options = {"block_size": 512} if method == "mixed_ksg" else {"bins": 4}
    vmapped = mi.per_position(hidden[..., :2], labels, mask=mask, method=method, key=key,
                              position_batch=position_batch, **options)
    keys = jax.random.split(key, len(STRENGTHS))
    looped = [mi.estimate(hidden[:, t, :2], labels, mask=mask[:, t], method=method, key=keys[t],
                          **options).value for t in range(len(STRENGTHS))]
    chex.assert_trees_all_close(vmapped, jnp.stack(looped), atol=1e-5)
    if position_batch == "auto" and jax.default_backend() == "cpu":
      # One position at a time runs `estimate`'s own program: equal bit for bit.
      chex.assert_trees_all_equal(vmapped, jnp.stack(looped))


def test_auto_position_batch_follows_the_backend():
  from attnjax.mi.registry import auto_position_batch
  assert auto_position_batch("cpu") == 1
  assert auto_position_batch("gpu") is None and auto_position_batch("tpu") is None
  assert auto_position_batch() == (1 if jax.default_backend() == "cpu" else None)


def test_per_position_vmaps_over_seeds_and_jits(stack):
  hidden, labels, _, mask = stack
  seeds = jnp.stack([hidden[:500], hidden[500:1000]])            # [S, N, T, D]
  seed_labels = jnp.stack([labels[:500], labels[500:1000]])
  seed_masks = jnp.stack([mask[:500], mask[500:1000]])
  curve = lambda h, y, m: mi.per_position(h, y, mask=m, method="mixed_ksg", block_size=100)
  together = jax.jit(jax.vmap(curve))(seeds, seed_labels, seed_masks)
  chex.assert_shape(together, (2, len(STRENGTHS)))
  for s in range(2):
    chex.assert_trees_all_close(together[s], curve(seeds[s], seed_labels[s], seed_masks[s]),
                                atol=1e-5)


def test_too_few_real_examples_give_nan_and_a_warning(stack):
  hidden, labels, _, mask = stack
  mask = mask.at[:, 7].set(jnp.arange(N) < 10)  # position 7 real in 10 examples only
  with pytest.warns(RuntimeWarning, match=r"positions \[7\] have fewer than min_count=20"):
    values = mi.per_position(hidden, labels, mask=mask, method="mixed_ksg", key=jax.random.key(3))
  assert np.isnan(values[7]) and np.isfinite(values[:7]).all()


def test_no_retracing_for_new_data_of_the_same_shape(stack):
  hidden, labels, _, mask = stack
  options = {"bins": 3, "block_size": 250}
  mi.per_position(hidden, labels, mask=mask, method="binning", **options)
  together = registry.auto_position_batch() or len(STRENGTHS)
  compiled = registry._compiled_per_position("binning", mi.MIN_COUNT, together,
                                             registry._freeze(options))
  mi.per_position(hidden + 1.0, labels, mask=mask, method="binning", **options)
  assert compiled._cache_size() == 1


def test_compiled_estimators_are_kept_in_a_bounded_cache():
  for compiled in (registry._compiled_estimate, registry._compiled_per_position):
    assert compiled.cache_info().maxsize == registry.COMPILED_CACHE_SIZE
