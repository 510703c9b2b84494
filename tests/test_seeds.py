"""The seed axis (`attnjax.models.seeds`): decided by the model's shapes, mapped over by one helper."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax.models import (SEED_AXIS, AttentionClassifier, init_params, is_stacked, map_seeds,
                            num_seeds, select_seed, split_over_seeds, stack_seeds)

MODEL = AttentionClassifier(vocab_size=20, num_classes=3, embed_dim=4, hidden_dim=4,
                            attention_dim=4)
TOKENS = jnp.array([[3, 7, 2, 0], [5, 1, 4, 4]], jnp.int32)
LENGTHS = jnp.array([3, 4], jnp.int32)


def _stacked(seeds=3):
  return jax.vmap(lambda k: init_params(MODEL, k))(jax.random.split(jax.random.key(0), seeds))


def test_num_seeds_with_and_without_the_model():
  stacked = _stacked(3)
  one = select_seed(stacked, 1)
  assert SEED_AXIS == 0
  assert num_seeds(stacked, MODEL) == num_seeds(stacked) == 3
  assert num_seeds(one, MODEL) is None and num_seeds(one) is None
  assert is_stacked(stacked, MODEL) and not is_stacked(one, MODEL)
  other = AttentionClassifier(vocab_size=21, num_classes=3, embed_dim=4, hidden_dim=4,
                              attention_dim=4)
  with pytest.raises(ValueError, match="params do not fit the model"):
    num_seeds(stacked, other)


def test_stack_seeds_adds_an_axis_of_one_only_to_unstacked_params():
  stacked = _stacked(2)
  assert stack_seeds(stacked, MODEL) is stacked
  one = stack_seeds(select_seed(stacked, 0), MODEL)
  assert num_seeds(one, MODEL) == 1
  chex.assert_trees_all_equal(select_seed(one, 0), select_seed(stacked, 0))


@pytest.mark.parametrize("jit", [False, True])
def test_map_seeds_equals_a_loop_over_seeds(jit):
  stacked = _stacked(3)
  key = jax.random.key(5)

  def noisy_logits(p, k):
    logits, _ = MODEL.apply(p, TOKENS, LENGTHS)
    return logits + jax.random.normal(k, logits.shape)

  def run(params, keys):
    return map_seeds(noisy_logits, params, model=MODEL, per_seed=(keys,))

  run = jax.jit(run) if jit else run
  keys = split_over_seeds(key, stacked, MODEL)
  out = run(stacked, keys)
  chex.assert_shape(out, (3, 2, 3))
  for s in range(3):
    np.testing.assert_allclose(out[s], noisy_logits(select_seed(stacked, s), keys[s]),
                               rtol=1e-6, atol=1e-6)
  one = select_seed(stacked, 0)
  assert split_over_seeds(key, one, MODEL) is key
  np.testing.assert_allclose(run(one, key), noisy_logits(one, key), rtol=1e-6, atol=1e-6)
  shared = map_seeds(lambda p, t, l: MODEL.apply(p, t, l)[0], stacked, TOKENS, LENGTHS)
  chex.assert_shape(shared, (3, 2, 3))
