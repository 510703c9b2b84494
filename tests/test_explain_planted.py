"""Explainers on a trained planted-task model, where the important token is known."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax import explain
from attnjax.data import planted
from attnjax.models import AttentionClassifier
from attnjax.training import TrainConfig, evaluate, train

OPTIONS = dict(seq_len=30, vocab_size=400, num_planted=1, min_len=16)


@functools.cache
def _trained():
  """BiLSTM + additive attention trained briefly on the planted task (one signal token)."""
  key = jax.random.key(11)
  train_data = planted(jax.random.fold_in(key, 0), 1500, **OPTIONS)
  test_data = planted(jax.random.fold_in(key, 1), 64, **OPTIONS)
  model = AttentionClassifier(vocab_size=400, num_classes=2, embed_dim=32, hidden_dim=32,
                              attention_dim=32)
  config = TrainConfig(model=model, epochs=3, batch_size=32, learning_rate=3e-3,
                       select_best=False)
  params = jax.tree.map(lambda x: x[0], train(config, [0], train_data, progress=False).params)
  assert evaluate(model, params, test_data)["accuracy"][0] >= 0.95
  return model, params, test_data


def precision_at_k(scores_BxT, importance_BxT, lengths_B):
  """Mean over examples of the share of the k top-scored real positions that are important.

  k is each example's number of important positions.
  """
  real = np.arange(scores_BxT.shape[1])[None, :] < np.asarray(lengths_B)[:, None]
  order = np.argsort(-np.where(real, scores_BxT, -np.inf), axis=1, kind="stable")
  k = importance_BxT.sum(1)
  return float(np.mean([importance_BxT[b, order[b, :k[b]]].mean() for b in range(len(k))]))


@pytest.mark.slow
@pytest.mark.parametrize("method, options", [
    ("gradient", {}), ("gradient", {"detach_attention": False}), ("leave_one_out", {}),
    ("integrated_gradients", {"absolute": True}),
    ("instance_mi", {}),  # chance: 1 / length ≈ 0.05
])
def test_explainers_find_the_planted_token(method, options):
  model, params, data = _trained()
  scores = np.asarray(explain.explain(model, params, data.tokens, data.lengths, method=method,
                                      **options))
  assert precision_at_k(scores, data.importance, data.lengths) >= 0.8


@pytest.mark.slow
def test_counterfactual_attention_keeps_the_output_and_moves_the_weights():
  model, params, data = _trained()
  tokens, lengths = data.tokens[:32], data.lengths[:32]
  max_tvd = 0.01
  result = explain.counterfactual_attention(model, params, tokens, lengths, max_tvd=max_tvd,
                                            steps=100, key=jax.random.key(5))
  logits, aux = model.apply(params, tokens, lengths)
  new_logits, _ = model.apply(params, tokens, lengths, attention=result.attention)
  tvd = explain.total_variation(jax.nn.softmax(new_logits), jax.nn.softmax(logits))
  assert np.all(tvd <= max_tvd + 1e-6), tvd.max()
  np.testing.assert_allclose(tvd, result.tvd, atol=1e-6)
  np.testing.assert_allclose(explain.jensen_shannon(result.attention, aux.attention), result.jsd,
                             rtol=1e-5, atol=1e-7)
  assert np.all(result.jsd > 0) and np.all(result.jsd <= np.log(2) + 1e-6)
  assert float(jnp.mean(result.jsd)) > 0.1
  real = np.arange(tokens.shape[1])[None, :] < lengths[:, None]
  assert np.all(np.asarray(result.attention)[~real] == 0)
  np.testing.assert_allclose(result.attention.sum(-1), 1.0, rtol=1e-5)
