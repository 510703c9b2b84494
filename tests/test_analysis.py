"""Analysis: rank statistics vs scipy, attention statistics, precision@k, position MI."""

import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from attnjax import analysis
from attnjax.data import planted
from attnjax.models import AttentionClassifier, init_params, sequence_mask
from attnjax.mi.testing import position_stack


def _masked_pairs(rng, n=40, t=12):
  a = rng.normal(size=(n, t)).round(1)  # rounding makes ties
  b = (a + rng.normal(size=(n, t))).round(1)
  lengths = rng.integers(3, t + 1, size=n)
  return a, b, np.arange(t)[None] < lengths[:, None]


@pytest.mark.parametrize("kind", ["kendall", "spearman"])
def test_rank_correlation_matches_scipy_with_ties_and_masks(kind):
  rng = np.random.default_rng(0)
  a, b, mask = _masked_pairs(rng)
  b[0, :] = 1.0  # constant row: undefined
  ours = np.asarray(jax.jit(lambda a, b, m: analysis.rank_correlation(a, b, m, kind))(a, b, mask))
  reference = stats.kendalltau if kind == "kendall" else stats.spearmanr
  expected = np.array([reference(a[i][mask[i]], b[i][mask[i]])[0] for i in range(len(a))])
  assert np.isnan(ours[0]) and np.isnan(expected[0])
  np.testing.assert_allclose(ours[1:], expected[1:], rtol=1e-5, atol=1e-6)
  vmapped = jax.vmap(lambda a, b, m: analysis.rank_correlation(a, b, m, kind))(
      np.stack([a, b]), np.stack([b, a]), np.stack([mask, mask]))
  np.testing.assert_allclose(vmapped[0], ours, rtol=1e-6)
  with pytest.raises(ValueError, match="unknown rank correlation 'pearson'"):
    analysis.rank_correlation(a, b, mask, "pearson")


def test_attention_statistics_on_known_distributions():
  mask = jnp.array([[True] * 4 + [False] * 2] * 2)
  attention = jnp.array([[0.25, 0.25, 0.25, 0.25, 0, 0], [1.0, 0, 0, 0, 0, 0]])
  s = analysis.attention_statistics(attention, mask, top_k=2)
  np.testing.assert_allclose(s["entropy"], [np.log(4), 0.0], atol=1e-6)
  np.testing.assert_allclose(s["normalized_entropy"], [1.0, 0.0], atol=1e-6)
  np.testing.assert_allclose(s["max"], [0.25, 1.0])
  np.testing.assert_allclose(s["spread"], [0.0, 1.0])
  np.testing.assert_allclose(s["top_k_mass"], [0.5, 1.0])
  np.testing.assert_allclose(s["gini"], [0.0, 0.75], atol=1e-6)  # (n-1)/n for one-hot


def test_precision_at_k():
  scores = jnp.array([[0.1, 0.9, 0.3, 0.8, 5.0], [1.0, 1.0, 1.0, 1.0, 0.0]])
  relevant = jnp.array([[False, True, False, True, False], [False, False, True, True, False]])
  mask = jnp.array([[True, True, True, True, False], [True] * 5])
  np.testing.assert_allclose(analysis.precision_at_k(scores, relevant, mask), [1.0, 0.0])
  np.testing.assert_allclose(analysis.precision_at_k(scores, relevant, mask, k=3), [2 / 3, 1 / 3])


def test_forced_attention_gives_precision_one():
  """A model whose attention is forced onto the planted positions scores precision@k = 1."""
  data = planted(jax.random.key(0), 50, seq_len=20, vocab_size=100)
  model = AttentionClassifier(100, 2, embed_dim=8, hidden_dim=8, attention_dim=8)
  params = init_params(model, jax.random.key(1))
  forced = data.importance / data.importance.sum(1, keepdims=True)
  _, aux = model.apply(params, data.tokens, data.lengths, attention=forced)
  mask = sequence_mask(data.lengths, 20)
  np.testing.assert_array_equal(analysis.precision_at_k(aux.attention, data.importance, mask), 1.0)


def test_position_mi_ranks_planted_informative_position_first():
  strengths = [0.0, 0.7, 2.0, 0.0, 1.2, 0.0]
  h, y, truth = position_stack(jax.random.key(0), 2000, strengths, dim=4)
  h2 = jnp.stack([h, h[:, ::-1]])  # two "seeds": the second reversed
  mask = jnp.ones(h.shape[:2], bool)
  values = analysis.position_mi(h2, jnp.stack([y, y]), mask, method="mixed_ksg",
                                key=jax.random.key(1))
  chex.assert_shape(values, (2, 6))
  assert int(jnp.argmax(values[0])) == 2 and int(jnp.argmax(values[1])) == 3
  np.testing.assert_allclose(values[1], values[0][::-1], atol=0.05)
  v = np.asarray(values[0])
  assert v[2] > v[4] > v[1] > max(v[0], v[3], v[5])
  np.testing.assert_allclose(values[0], truth, atol=0.06)


def test_mean_ci_matches_scipy_t_interval():
  values = np.array([0.61, 0.58, 0.66, 0.59, 0.63])
  summary = analysis.mean_ci(values)
  low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
  np.testing.assert_allclose(summary["mean"], values.mean())
  np.testing.assert_allclose(summary["ci"], (high - low) / 2, rtol=1e-6)
  assert np.isnan(analysis.mean_ci([1.0])["ci"])


def test_nanmean_ignores_nan_and_is_quiet_where_all_are_nan():
  tau = np.array([[0.5, np.nan, 0.1], [np.nan, np.nan, np.nan]])  # [seeds, examples]
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    per_seed = analysis.nanmean(tau, 1)
  np.testing.assert_allclose(per_seed[0], 0.3)
  assert np.isnan(per_seed[1])


def test_agreement_table_is_symmetric_with_unit_diagonal_and_matches_scipy():
  rng = np.random.default_rng(1)
  lengths = np.array([6, 4, 8, 5])
  attention = rng.random((2, 4, 8))
  gradient = attention + 0.5 * rng.random((2, 4, 8))
  noise = rng.random((2, 4, 8))
  table = analysis.agreement({"attention": attention, "gradient": gradient, "noise": noise},
                             lengths)
  assert table["methods"] == ["attention", "gradient", "noise"]
  np.testing.assert_allclose(np.diag(table["mean"]), 1.0, rtol=1e-6)
  np.testing.assert_allclose(table["mean"], table["mean"].T)
  per_seed = [np.mean([stats.kendalltau(attention[s, b, :n], gradient[s, b, :n])[0]
                        for b, n in enumerate(lengths)]) for s in range(2)]
  np.testing.assert_allclose(table["mean"][0, 1], np.mean(per_seed), rtol=1e-5)
  # The interval is over the 2 per-seed means, never over the 8 seed-examples pooled.
  interval = stats.t.interval(0.95, 1, loc=np.mean(per_seed), scale=stats.sem(per_seed))
  np.testing.assert_allclose(table["ci"][0, 1], (interval[1] - interval[0]) / 2, rtol=1e-5)
  assert table["n"][0, 1] == 2 and table["defined"][0, 1] == 8 and table["over"] == "seeds"
  one = analysis.agreement({"attention": attention[0], "gradient": gradient[0]}, lengths)
  examples = [stats.kendalltau(attention[0, b, :n], gradient[0, b, :n])[0]
              for b, n in enumerate(lengths)]
  interval = stats.t.interval(0.95, 3, loc=np.mean(examples), scale=stats.sem(examples))
  np.testing.assert_allclose(one["ci"][0, 1], (interval[1] - interval[0]) / 2, rtol=1e-5)
  assert one["n"][0, 1] == 4 and one["over"] == "examples"
  with pytest.raises(ValueError, match="share one shape"):
    analysis.agreement({"a": attention, "b": noise[:, :3]}, lengths)
