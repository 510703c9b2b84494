"""Experiment 7 (faithfulness in `reproduce`): its arrays against direct calls, its resampled
deletion curves and ground-truth ranking by hand, and its verdict on constructed cases."""

import jax
import numpy as np
import pytest

from attnjax import explain
from attnjax.analysis import seed_summary
from attnjax.models import AttentionClassifier, init_params
from attnjax.reproduce import faithfulness as experiment

SPREAD = np.array([-0.02, -0.01, 0.0, 0.01, 0.02])


def test_deletion_at_fractions_picks_the_rounded_count_of_each_example():
  rng = np.random.default_rng(0)
  curve = rng.random((2, 3, 9))  # [S, B, T + 1], T = 8
  lengths = np.array([8, 5, 1])
  fractions = np.array([0.0, 0.1, 0.3, 0.5, 1.0])
  got = experiment.deletion_at_fractions(curve, lengths, fractions)
  assert got.shape == (2, 3, 5)
  for b, length in enumerate(lengths):
    for j, f in enumerate(fractions):
      m = int(np.floor(f * length + 0.5))  # 0.5·5 = 2.5 → 3; 0.1·8 = 0.8 → 1
      np.testing.assert_array_equal(got[:, b, j], curve[:, b, m])
  np.testing.assert_array_equal(got[..., -1], curve[np.arange(2)[:, None], np.arange(3), lengths])


def test_planted_ranking_puts_planted_tokens_first_in_position_order():
  importance = np.array([[0, 1, 0, 1, 0, 1], [1, 0, 0, 0, 0, 0]])
  lengths = np.array([5, 3])  # the planted token at position 5 of example 0 is padding
  scores = experiment.planted_ranking(importance, lengths)
  ranks = np.asarray(explain.rank_positions(scores, lengths))
  np.testing.assert_array_equal(ranks[0, :5], [2, 0, 3, 1, 4])
  np.testing.assert_array_equal(ranks[1, :3], [0, 1, 2])
  assert np.all(scores[0, 5:] == 0) and np.all(scores[1, 3:] == 0)


@pytest.fixture(scope="module")
def stacked():
  model = AttentionClassifier(vocab_size=20, num_classes=2, embed_dim=6, hidden_dim=5,
                              attention_dim=4)
  params = jax.vmap(lambda k: init_params(model, k))(jax.random.split(jax.random.key(3), 2))
  rng = np.random.default_rng(1)
  lengths = np.array([6, 3, 1, 5], np.int32)
  tokens = np.where(np.arange(7) < lengths[:, None], rng.integers(2, 20, (4, 7)), 0).astype(np.int32)
  return model, params, tokens, lengths


def test_faithfulness_scores_equal_direct_calls_and_rank_undefined_scores_last(stacked):
  model, params, tokens, lengths = stacked
  rng = np.random.default_rng(2)
  scores = rng.random((2, 4, 7)).astype(np.float32)
  holes = scores.copy()
  holes[0, 0, 2] = np.nan  # undefined: must rank after every real scored position
  lowest = holes.copy()
  lowest[0, 0, 2] = -5.0
  key = jax.random.key(7)
  got = experiment.faithfulness_scores(model, params, tokens, lengths,
                                       {"a": holes, "shared": scores[0]}, key, draws=3)
  direct = explain.faithfulness(model, params, tokens, lengths, lowest)
  shared = explain.faithfulness(model, params, tokens, lengths, np.stack([scores[0]] * 2))
  for name in experiment.MEASURES:
    assert got[f"a/{name}"].shape == (2, 4)
    np.testing.assert_allclose(got[f"a/{name}"], np.asarray(direct[name], np.float64), atol=1e-6)
    np.testing.assert_allclose(got[f"shared/{name}"], np.asarray(shared[name], np.float64),
                               atol=1e-6)
  chance = explain.random_baseline(model, params, tokens, lengths, key=key, draws=3)
  for name in experiment.MEASURES:  # random: each example's mean over the draws
    np.testing.assert_allclose(got[f"random/{name}"],
                               np.asarray(chance[name], np.float64).mean(1), atol=1e-6)
  np.testing.assert_allclose(
      got["random/curve"],
      experiment.deletion_at_fractions(chance["deletion_curve"], lengths).mean(1), atol=1e-6)
  assert got["a/curve"].shape == (2, 4, len(experiment.FRACTIONS))
  np.testing.assert_allclose(got["a/curve"][..., 0], got["probability"], atol=1e-6)
  # An example with no finite score at a real position (seed 1, example 3) has no ranking:
  # its measures and curve are NaN; every other seed-example is as before.
  unranked = holes.copy()
  unranked[1, 3, :lengths[3]] = np.nan
  partly = experiment.faithfulness_scores(model, params, tokens, lengths, {"a": unranked}, key,
                                          draws=3)
  for name in (*experiment.MEASURES, "curve"):
    assert np.isnan(partly[f"a/{name}"][1, 3]).all()
    keep = np.ones((2, 4), bool)
    keep[1, 3] = False
    np.testing.assert_allclose(partly[f"a/{name}"][keep], got[f"a/{name}"][keep], atol=1e-6)
  with pytest.raises(ValueError, match="stacked over seeds"):
    experiment.faithfulness_scores(model, jax.tree.map(lambda x: x[0], params), tokens, lengths,
                                   {"a": scores[0]}, key, draws=1)


def _rows(attention_minus_random, leave_one_out_minus_attention=0.0):
  """Comprehensiveness rows of two cells: random 0.1, attention 0.1 + d, LOO above attention."""
  rows = {}
  other = SPREAD[::-1]  # paired differences vary over seeds (±0.04)
  for cell, d in zip(("additive", "scaled_dot"), attention_minus_random):
    attention = 0.1 + d
    for method, mean, noise in (("random", 0.1, SPREAD), ("attention", attention, other),
                                ("leave_one_out", attention + leave_one_out_minus_attention,
                                 SPREAD), ("planted", 0.9, SPREAD)):
      rows[f"{cell}: {method}"] = {"comprehensiveness (AOPC)": seed_summary(mean + noise)}
  return {"rows": rows}


@pytest.mark.parametrize("differences, verdict", [((0.3, 0.25), "attention beats random"),
                                                  ((0.3, -0.2), "attention below random"),
                                                  ((0.01, -0.01), "inconclusive"),
                                                  ((0.3, 0.01), "mixed")])
def test_experiment_7_outcomes(differences, verdict):
  judged = experiment.judge(_rows(differences), {})
  assert judged["verdict"] == verdict
  # Three families: attention − random per cell (the verdict's, Holm over 2); LOO − random;
  # LOO − attention; the planted ground truth is shown, never tested.
  assert [(c["a"], c["b"]) for c in judged["comparisons"]] == [("attention", "random")] * 2
  assert [(c["a"], c["b"]) for c in judged["comparisons_random"]] == [
      ("leave_one_out", "random")] * 2
  assert [c["b"] for c in judged["comparisons_attention"]] == ["attention"] * 2
  assert all(c["test"] == "paired" and c["family"] == 2 for c in judged["comparisons"])
  p = [c["p"] for c in judged["comparisons"]]
  np.testing.assert_allclose([c["p_holm"] for c in judged["comparisons"]],
                             [min(1, 2 * min(p)) if x == min(p) else max(min(1, 2 * min(p)), x)
                              for x in p])


def test_experiment_7_summary_names_the_significant_methods():
  judged = experiment.judge(_rows((0.3, 0.3), leave_one_out_minus_attention=0.2), {})
  assert judged["summary"][0] == ("additive: above random: attention, leave_one_out; below "
                                  "random: none; above attention: leave_one_out; below "
                                  "attention: none")
