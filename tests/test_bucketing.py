"""Length buckets: assignment, per-seed shuffling, and equality with the padded computation."""

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax import explain
from attnjax.data import buckets as buckets_lib
from attnjax.data import planted
from attnjax.models import AttentionClassifier
from attnjax.training import TrainConfig, collect, evaluate, train
from attnjax.training import loop

TINY = dict(vocab_size=60, num_classes=2, embed_dim=8, hidden_dim=8, attention_dim=8)
STOCHASTIC = dict(dropout=0.2, word_dropout=0.2, normalizer="gumbel", temperature=0.5)


def _data(n=100, key=0):
  return planted(jax.random.key(key), n, seq_len=12, vocab_size=60)


def test_auto_buckets_are_optimal_and_hold_every_example():
  rng = np.random.default_rng(0)
  for trial in range(20):
    lengths = rng.integers(1, 14, size=rng.integers(1, 40))
    for count in (1, 2, 3):
      got = buckets_lib.auto_buckets(lengths, count)
      assert len(got) <= count and got[-1] == lengths.max() and list(got) == sorted(set(got))
      cost = lambda b: np.asarray(b)[buckets_lib.assign(lengths, b)].sum()
      # Brute force over every set of `count` distinct lengths ending at the longest one.
      candidates = sorted(set(lengths) - {lengths.max()})
      best = min(cost(tuple(c) + (lengths.max(),))
                 for k in range(count) for c in itertools.combinations(candidates, k))
      assert cost(got) == best, (trial, count, lengths, got)
  lengths = np.array([1, 3, 3, 7, 12, 5])
  index = buckets_lib.assign(lengths, (3, 8, 12))
  np.testing.assert_array_equal(index, [0, 0, 0, 1, 2, 1])
  # Explicit lengths are capped at T, and T is added when an example is longer.
  assert buckets_lib.bucket_lengths((4, 40), lengths, 16, 8) == (4, 16)
  assert buckets_lib.bucket_lengths((4, 16), lengths, 16, 8) == (4, 16)
  assert buckets_lib.bucket_lengths(None, lengths, 16, 8) == (16,)
  # "auto" uses at most N / (25 · batch) buckets: 6 examples in batches of 8 get one,
  # and `resolve` sends data of fewer than 50 batches down the padded path.
  assert buckets_lib.bucket_lengths("auto", lengths, 16, 8) == (12,)
  assert buckets_lib.resolve("auto", lengths, 8) is None
  assert buckets_lib.resolve("auto", np.ones(400), 8) == "auto"
  assert buckets_lib.resolve((4, 8), lengths, 8) == (4, 8)


def test_length_chunks_sort_and_cover_every_example_once():
  lengths = np.array([5, 1, 9, 2, 2, 8, 3])
  chunks = buckets_lib.length_chunks(lengths, (2, 4, 9), 3)
  seen = np.concatenate([indices for indices, _ in chunks])
  np.testing.assert_array_equal(np.sort(seen), np.arange(len(lengths)))
  np.testing.assert_array_equal(lengths[seen], np.sort(lengths))
  assert [length for _, length in chunks] == [2, 9, 9]  # [1 2 2] [3 5 8] [9]


def test_schedule_and_per_seed_orders():
  steps = [3, 1, 2]
  buckets, batches = loop._bucket_schedule(0, steps)
  for b, count in enumerate(steps):
    np.testing.assert_array_equal(batches[buckets == b], np.arange(count))
  schedules = {tuple(loop._bucket_schedule(e, [4, 4, 4])[0]) for e in range(5)}
  assert len(schedules) > 1  # epochs are shuffled differently
  keys = jax.vmap(loop._split_seed_key)(loop.seed_keys([0, 1, 2]))[1]
  indices = np.asarray(loop._shuffled_batches(keys, (0, 1), 10, 4))
  chex.assert_shape(indices, (3, 3, 4))
  for seed_indices in indices:
    np.testing.assert_array_equal(np.sort(seed_indices.ravel()), [-1, -1] + list(range(10)))
    assert (seed_indices.ravel()[-2:] == -1).all()  # the padded slots are the last batch's
  assert not np.array_equal(indices[0], indices[1])
  # Seed 1's order does not depend on the other seeds in the group.
  alone = np.asarray(loop._shuffled_batches(keys[1:2], (0, 1), 10, 4))
  np.testing.assert_array_equal(alone[0], indices[1])


@pytest.mark.parametrize("attention", ["additive", "scaled_dot"])
def test_bucketed_batch_loss_and_gradients_equal_padded(attention):
  data = _data(32)
  model = AttentionClassifier(**TINY, attention=attention)
  config = TrainConfig(model=model)
  params = loop.init_state(config, jax.random.key(0))[0]
  short = np.asarray(data.lengths) <= 8
  tokens, lengths = data.tokens[short], data.lengths[short]
  labels, weights = data.labels[short], jnp.ones(int(short.sum()))
  assert tokens.shape[1] == 12 and lengths.max() == 8 and lengths.min() == 6
  value_and_grad = jax.jit(jax.value_and_grad(
      lambda p, t: loop._loss_fn(config, p, t, lengths, labels, weights, jax.random.key(1))[0]))
  bucketed, padded = value_and_grad(params, tokens[:, :8]), value_and_grad(params, tokens)
  np.testing.assert_allclose(bucketed[0], padded[0], rtol=1e-6)
  assert float(jnp.abs(padded[1]["params"]["encoder"]["recurrent_kernel"]).max()) > 1e-4
  chex.assert_trees_all_close(bucketed[1], padded[1], rtol=1e-5, atol=1e-7)


def _setup(**changes):
  model = AttentionClassifier(**TINY, **STOCHASTIC)
  config = TrainConfig(model=model, epochs=2, batch_size=16, steps_per_call=3,
                       buckets=(7, 9))
  return config.replace(**changes), _data(100), _data(40, key=1)


def test_bucketed_training_is_deterministic_per_seed():
  # (The padded path's steps_per_call and group invariances: tests/test_training.py, whose
  # small data "auto" sends down the padded path.)
  config, data, _ = _setup(epochs=1)  # no dev data: the bucketed evaluation is tested below
  # Steps: each bucket's examples in batches of 16, partial batches per bucket.
  sizes = np.bincount(buckets_lib.assign(data.lengths, (7, 9, 12)), minlength=3)
  np.testing.assert_array_equal(sizes, [31, 25, 44])
  together = train(config, [0, 1], data, progress=False)
  again = train(config.replace(steps_per_call=1), [0, 1], data, progress=False)
  chex.assert_trees_all_equal(together.params, again.params)  # bit for bit
  for name, values in together.history.items():
    np.testing.assert_array_equal(values, again.history[name])
  alone = train(config, [1], data, progress=False)
  chex.assert_trees_all_close(jax.tree.map(lambda x: x[1], together.params),
                              jax.tree.map(lambda x: x[0], alone.params), rtol=1e-4, atol=1e-5)
  for name, values in together.history.items():
    np.testing.assert_allclose(values[1], alone.history[name][0], rtol=1e-4, atol=1e-5)
  assert not np.allclose(together.params["params"]["output_layer"]["kernel"][0],
                         together.params["params"]["output_layer"]["kernel"][1])


def test_buckets_at_their_own_length_or_at_t_train_alike(monkeypatch):
  """Bucketed batches run at T in one program, the recurrence bounded by each step's longest
  example (`bucket_shapes=False`), train as running each bucket at its own length (True)
  and as "auto" mixing the two: the same batches and keys, so, without noise, the same
  numbers up to float round-off."""
  config = TrainConfig(model=AttentionClassifier(**TINY), epochs=2, batch_size=16,
                       steps_per_call=4, buckets=(7, 9))
  data = _data(100)  # buckets of 31, 25, 44 examples: 2, 2, 3 steps per epoch
  _, members = loop._bucket_members(config, data)
  for min_steps, shaped in ((100, [False] * 3), (5, [False, False, True]), (1, [True] * 3)):
    monkeypatch.setattr(loop, "MIN_STEPS_PER_SHAPE", min_steps)
    assert loop._shaped_buckets(config, members) == shaped
  monkeypatch.setattr(loop, "MIN_STEPS_PER_SHAPE", 5)  # "auto": only the third at its length
  mixed = train(config, [0, 1], data, progress=False)
  for other in (train(config.replace(bucket_shapes=True), [0, 1], data, progress=False),
                train(config.replace(bucket_shapes=False), [0, 1], data, progress=False)):
    chex.assert_trees_all_close(mixed.params, other.params, rtol=1e-4, atol=1e-6)
    for name, values in mixed.history.items():
      np.testing.assert_allclose(values, other.history[name], rtol=1e-5)
  # Not the padded run's batches: the buckets change which examples form a batch.
  padded = train(config.replace(buckets=None), [0, 1], data, progress=False)
  assert not np.allclose(mixed.history["train_loss"], padded.history["train_loss"])


@pytest.mark.parametrize("buckets", ["auto", (7, 9)])
def test_collect_and_evaluate_bucketed_equal_padded(buckets, monkeypatch):
  monkeypatch.setattr(buckets_lib, "MIN_BATCHES_PER_BUCKET", 4)  # "auto" buckets 100 examples
  config, data, _ = _setup()
  params = train(config.replace(epochs=1), [0, 1], data, progress=False).params
  model = config.model
  padded_logits, padded_aux = collect(model, params, data, batch_size=16, buckets=None)
  logits, aux = collect(model, params, data, batch_size=8, buckets=buckets)
  assert len(buckets_lib.bucket_lengths(buckets, data.lengths, 12, 8)) == 3  # "auto": 100 // 32
  np.testing.assert_allclose(logits, padded_logits, rtol=1e-5, atol=1e-5)
  for name in ("attention", "scores", "hidden", "context"):
    got, want = getattr(aux, name), getattr(padded_aux, name)
    assert got.shape == want.shape, name
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)
  mask = np.arange(12)[None] < np.asarray(data.lengths)[:, None]
  assert (aux.attention[:, ~mask] == 0).all() and (aux.hidden[:, ~mask] == 0).all()
  metrics = evaluate(model, params, data, batch_size=8, buckets=buckets)
  reference = evaluate(model, params, data, batch_size=16, buckets=None)
  np.testing.assert_array_equal(metrics["accuracy"], reference["accuracy"])
  np.testing.assert_allclose(metrics["loss"], reference["loss"], rtol=1e-5)


@pytest.mark.parametrize("method", ["gradient", "leave_one_out"])
def test_explain_in_buckets_equals_one_call(method):
  config, data, _ = _setup()
  params = train(config.replace(epochs=1), [0, 1], data, progress=False).params
  tokens, lengths = data.tokens[:40], data.lengths[:40]
  whole = np.asarray(explain.explain(config.model, params, tokens, lengths, method=method))
  chunked = explain.explain_in_buckets(config.model, params, tokens, lengths, method=method,
                                       batch_size=16, buckets=(7, 9))
  chex.assert_shape(chunked, (2, 40, 12))
  np.testing.assert_allclose(chunked, whole, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("bad", ["fast", "", (), (0, 8), (4.5,), ("8",), 16, True])
def test_bad_buckets_raise(bad):
  model = AttentionClassifier(**TINY)
  with pytest.raises(ValueError, match="buckets must be 'auto', None or 'none'.*got"):
    TrainConfig(model=model, buckets=bad)


def test_buckets_config_round_trip():
  model = AttentionClassifier(**TINY)
  config = TrainConfig(model=model, buckets=[32, 8, 8])
  assert config.buckets == (8, 32)
  assert TrainConfig.from_json(config.to_json()) == config
  assert TrainConfig(model=model, buckets="none").buckets is None
  assert TrainConfig(model=model).buckets == "auto"
