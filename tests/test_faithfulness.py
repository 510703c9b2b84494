"""Faithfulness metrics against closed forms, a per-example loop and exhaustive enumeration."""

import functools
import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax import explain
from attnjax.explain.faithfulness import KEYS, bin_tokens, kept_copies
from attnjax.models import AttentionClassifier, init_params

# The hand-built model: only tokens 4, 5 and <unk> (1) have non-zero embeddings, and each
# of them scores 60 under attention against 0 for every other token, so the context is the
# plain mean of the embeddings of those tokens in the example (0 if there is none) and the
# logits are that mean @ KERNEL + BIAS. Coordinate 0 only drives attention (KERNEL row 0 is 0).
EMBEDDINGS = {4: [100.0, 2.0, 0.0], 5: [100.0, 0.0, 2.0], 1: [100.0, -1.0, -1.0]}
KERNEL = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, -1.0], [0.5, 1.2, 0.0]], np.float32)
BIAS = np.array([0.0, 0.0, 0.3], np.float32)


@functools.cache
def _hand_model():
  model = AttentionClassifier(vocab_size=12, num_classes=3, embed_dim=3, hidden_dim=3,
                              attention_dim=3, encoder="embedding")
  params = init_params(model, jax.random.key(0))
  tree = params["params"]
  table = np.zeros((12, 3), np.float32)
  for token, row in EMBEDDINGS.items():
    table[token] = row
  tree["embedding"]["embedding"] = jnp.asarray(table)
  tree["attention"]["W"]["kernel"] = jnp.eye(3)
  tree["attention"]["W"]["bias"] = jnp.zeros(3)
  tree["attention"]["v"]["kernel"] = jnp.array([[60.0], [0.0], [0.0]])
  tree["output_layer"]["kernel"] = jnp.asarray(KERNEL)
  tree["output_layer"]["bias"] = jnp.asarray(BIAS)
  return model, params


def _closed_form(*tokens):
  """The hand model's class probabilities on an example holding `tokens` (others irrelevant)."""
  rows = [EMBEDDINGS[t] for t in tokens if t in EMBEDDINGS]
  context = np.mean(rows, axis=0) if rows else np.zeros(3)
  logits = context @ KERNEL + BIAS
  return np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()


def _pad(rows, max_length):
  return (jnp.array([row + [0] * (max_length - len(row)) for row in rows], jnp.int32),
          jnp.array([len(row) for row in rows], jnp.int32))


# Example 0 holds tokens 4 (position 1) and 5 (position 3) among eight that do not matter.
TRUTH_TOKENS = [7, 4, 3, 5, 9, 2, 8, 6, 10, 11]


@pytest.mark.parametrize("mode", ["remove", "mask"])
def test_ground_truth_ranking_scores_its_closed_forms_and_beats_the_reversed_one(mode):
  model, params = _hand_model()
  tokens, lengths = _pad([TRUTH_TOKENS], 10)
  truth = jnp.array([[0, 1, 0, 1, 0, 0, 0, 0, 0, 0]], jnp.float32)
  bins = (0.1, 0.2, 0.5)  # k = 1, 2, 5
  out = explain.faithfulness(model, params, tokens, lengths, truth, bins=bins, mode=mode)
  reverse = explain.faithfulness(model, params, tokens, lengths, -truth, bins=bins, mode=mode)

  both, only_5, only_4, none = (_closed_form(4, 5), _closed_form(5), _closed_form(4),
                                _closed_form())
  assert np.argmax(both) == 0 and np.argmax(only_5) == 1 and np.argmax(none) == 2
  p0 = both[0]
  np.testing.assert_array_equal(out["predicted"], [0])
  np.testing.assert_allclose(out["probability"], [p0], rtol=1e-5)
  np.testing.assert_array_equal(out["bin_tokens"], [[1, 2, 5]])
  # Truth: k = 1 removes token 4 (the earlier of the tied pair), k ≥ 2 both.
  np.testing.assert_allclose(out["comprehensiveness_bins"],
                             [[p0 - only_5[0], p0 - none[0], p0 - none[0]]], rtol=1e-5, atol=1e-6)
  # Keeping exactly the tokens the output depends on (k ≥ 2) loses nothing.
  np.testing.assert_allclose(out["sufficiency_bins"], [[p0 - only_4[0], 0.0, 0.0]], atol=1e-6)
  np.testing.assert_allclose(out["comprehensiveness"], [(p0 - only_5[0] + 2 * (p0 - none[0])) / 3],
                             rtol=1e-5)
  np.testing.assert_allclose(out["sufficiency"], [(p0 - only_4[0]) / 3], rtol=1e-5, atol=1e-6)
  # Reversed: the eight others go first, so k ≤ 5 removes nothing that matters and keeps
  # nothing that does.
  np.testing.assert_allclose(reverse["comprehensiveness_bins"], np.zeros((1, 3)), atol=1e-6)
  np.testing.assert_allclose(reverse["sufficiency_bins"], np.full((1, 3), p0 - none[0]),
                             rtol=1e-5)
  assert out["comprehensiveness"][0] > reverse["comprehensiveness"][0] + 0.1
  assert out["sufficiency"][0] < reverse["sufficiency"][0] - 0.1
  # Flips: removing token 4 alone turns class 0 into class 1 (m = 1); reversed, at m = 9.
  np.testing.assert_allclose(out["flip_fraction"], [0.1], rtol=1e-6)
  np.testing.assert_array_equal(out["first_token_flip"], [True])
  np.testing.assert_allclose(reverse["flip_fraction"], [0.9], rtol=1e-6)
  np.testing.assert_array_equal(reverse["first_token_flip"], [False])
  np.testing.assert_array_equal(reverse["flipped"], [True])
  # Deletion curve of the reversed ranking: flat for 8 removals, then {5}, then empty.
  emptied = _closed_form(1) if mode == "remove" else none
  np.testing.assert_allclose(reverse["deletion_curve"][0],
                             [p0] * 9 + [only_5[0], emptied[0]], rtol=1e-5)


def test_flip_fraction_is_one_when_nothing_flips_and_emptying_counts_as_m_equal_l():
  model, params = _hand_model()
  tokens, lengths = _pad([[7, 3, 9, 2], [4, 7, 3]], 4)
  scores = jnp.array([[4.0, 3.0, 2.0, 1.0], [0.0, 1.0, 1.0, 0.0]])  # token 4 last
  for mode in ("remove", "mask"):
    out = explain.faithfulness(model, params, tokens, lengths, scores, mode=mode)
    # Example 0 has no token that matters: every copy, the empty one too, predicts class 2.
    # Example 1 predicts 0 until the last removal, which empties it (class 2 either way).
    np.testing.assert_array_equal(out["predicted"], [2, 0])
    np.testing.assert_array_equal(out["flip_fraction"], [1.0, 1.0])
    np.testing.assert_array_equal(out["flipped"], [False, True])
    np.testing.assert_array_equal(out["first_token_flip"], [False, False])


def test_an_emptied_example_is_one_unk_token_when_removing():
  model, params = _hand_model()
  tokens, lengths = _pad([[5], [4, 5]], 3)
  scores = jnp.ones((2, 3))
  p0 = np.array([_closed_form(5)[1], _closed_form(4, 5)[0]])
  unk, none = _closed_form(1), _closed_form()
  assert abs(unk[1] - none[1]) > 0.1  # the convention is visible
  bins = (0.5, 1.0)  # k = 1, 1 for L = 1; k = 1, 2 for L = 2
  removed = explain.faithfulness(model, params, tokens, lengths, scores, bins=bins)
  np.testing.assert_allclose(removed["comprehensiveness_bins"][0], p0[0] - unk[1], rtol=1e-5)
  np.testing.assert_allclose(removed["comprehensiveness_bins"][1, 1], p0[1] - unk[0], rtol=1e-5)
  np.testing.assert_allclose(removed["deletion_curve"][0], [p0[0], unk[1], unk[1], unk[1]],
                             rtol=1e-5)
  # unk_id is an argument: a token that does not matter empties to the bias alone.
  other = explain.faithfulness(model, params, tokens, lengths, scores, bins=bins, unk_id=3)
  np.testing.assert_allclose(other["comprehensiveness_bins"][0], p0[0] - none[1], rtol=1e-5)
  # "mask" keeps the length: everything masked is padding ids, or mask_id.
  masked = explain.faithfulness(model, params, tokens, lengths, scores, bins=bins, mode="mask")
  np.testing.assert_allclose(masked["comprehensiveness_bins"][0], p0[0] - none[1], rtol=1e-5)
  as_unk = explain.faithfulness(model, params, tokens, lengths, scores, bins=bins, mode="mask",
                                mask_id=1)
  np.testing.assert_allclose(as_unk["comprehensiveness_bins"][0], p0[0] - unk[1], rtol=1e-5)
  # Sufficiency with k = L keeps the whole example.
  np.testing.assert_allclose(removed["sufficiency_bins"][:, -1], [0.0, 0.0], atol=1e-7)


def test_ties_are_broken_by_position_and_padding_ranks_last():
  ranks = explain.rank_positions(jnp.array([[0.0, 2.0, 0.0, 2.0, 9.0],
                                            [-0.0, 0.0, 1.0, 0.0, 0.0]]), jnp.array([4, 5]))
  np.testing.assert_array_equal(ranks, [[2, 0, 3, 1, 4], [1, 2, 0, 3, 4]])
  model, params = _hand_model()
  tokens, lengths = _pad([[4, 7, 8, 5, 9], [7, 4, 8, 5, 9]], 5)
  out = explain.faithfulness(model, params, tokens, lengths, jnp.zeros((2, 5)), bins=(0.2,))
  both = _closed_form(4, 5)[0]
  # All scores equal: the top token is position 0, token 4 in the first example only.
  np.testing.assert_allclose(out["comprehensiveness_bins"][:, 0],
                             [both - _closed_form(5)[0], 0.0], rtol=1e-5, atol=1e-6)


def test_tokens_per_bin_round_halves_up_and_take_at_least_one():
  table = bin_tokens((0.05, 0.1, 0.25, 0.5, 1.0), 30)
  assert table.shape == (31, 5) and table.dtype == np.int32
  np.testing.assert_array_equal(table[[1, 3, 5, 10, 30]], [[1, 1, 1, 1, 1],
                                                           [1, 1, 1, 2, 3],
                                                           [1, 1, 1, 3, 5],
                                                           [1, 1, 3, 5, 10],
                                                           [2, 3, 8, 15, 30]])
  for length in range(1, 31):
    for j, b in enumerate((0.05, 0.1, 0.25, 0.5, 1.0)):
      assert table[length, j] == max(1, int(b * length + 0.5))


# ---- the batched computation against a straightforward per-example loop ----------------

CNN = AttentionClassifier(vocab_size=20, num_classes=3, embed_dim=8, hidden_dim=8,
                          attention_dim=8, encoder="cnn")
TOKENS = jnp.array([[3, 7, 12, 9, 15, 2, 6, 11],
                    [5, 1, 4, 4, 8, 0, 0, 0],
                    [2, 0, 0, 0, 0, 0, 0, 0],
                    [13, 17, 19, 0, 0, 0, 0, 0]], jnp.int32)
LENGTHS = jnp.array([8, 5, 1, 3], jnp.int32)
REAL = np.arange(8)[None, :] < np.asarray(LENGTHS)[:, None]


@functools.cache
def _stacked_params():
  keys = jax.random.split(jax.random.key(0), 2)
  return jax.jit(jax.vmap(lambda k: init_params(CNN, k)))(keys)


def _tied_scores(seed):
  """Integer scores in {0, 1, 2} (many ties) with garbage on padding."""
  scores = np.asarray(jax.random.randint(jax.random.key(seed), (4, 8), 0, 3)).astype(np.float32)
  return jnp.asarray(np.where(REAL, scores, 50.0))


@functools.cache
def _apply():
  return jax.jit(CNN.apply)


def _probs(params, row, max_length):
  """Class probabilities of one example given as a list of ids."""
  tokens, lengths = _pad([row], max_length)
  return np.asarray(jax.nn.softmax(_apply()(params, tokens, lengths)[0][0]))


def _reference(params, tokens, lengths, scores, bins, mode):
  """faithfulness, one example, one k and one m at a time, straight from the definitions."""
  out = {key: [] for key in KEYS}
  for row, length, row_scores in zip(np.asarray(tokens), np.asarray(lengths), np.asarray(scores)):
    x = [int(t) for t in row[:length]]
    order = sorted(range(length), key=lambda t: (-row_scores[t], t))

    def without(dropped):
      if mode == "mask":
        return [0 if t in dropped else x[t] for t in range(length)]
      return [x[t] for t in range(length) if t not in dropped] or [1]

    def only(kept):
      return without(set(range(length)) - set(kept))

    probs = _probs(params, x, len(row))
    predicted = int(np.argmax(probs))
    p0 = probs[predicted]
    ks = [max(1, int(b * length + 0.5)) for b in bins]
    curve_probs = [_probs(params, without(set(order[:m])), len(row)) for m in range(1, length + 1)]
    curve = [p0] + [p[predicted] for p in curve_probs]
    flips = [m for m, p in enumerate(curve_probs, 1) if np.argmax(p) != predicted]
    comprehensiveness = [p0 - curve[k] for k in ks]
    sufficiency = [p0 - _probs(params, only(order[:k]), len(row))[predicted] for k in ks]
    for key, value in [
        ("comprehensiveness", np.mean(comprehensiveness)), ("sufficiency", np.mean(sufficiency)),
        ("comprehensiveness_bins", comprehensiveness), ("sufficiency_bins", sufficiency),
        ("bin_tokens", ks), ("flip_fraction", flips[0] / length if flips else 1.0),
        ("flipped", bool(flips)), ("first_token_flip", flips[:1] == [1]),
        ("deletion_curve", curve + [curve[-1]] * (len(row) - length)),
        ("probability", p0), ("predicted", predicted)]:
      out[key].append(value)
  return {key: np.array(value) for key, value in out.items()}


@pytest.mark.parametrize("mode, batch_copies", [("remove", 5), ("remove", None), ("mask", 128)])
def test_batched_equals_a_per_example_loop(mode, batch_copies):
  params = jax.tree.map(lambda x: x[0], _stacked_params())
  scores = _tied_scores(1)
  bins = (0.1, 0.3, 0.5, 1.0)
  out = explain.faithfulness(CNN, params, TOKENS, LENGTHS, scores, bins=bins, mode=mode,
                             batch_copies=batch_copies)
  assert set(out) == set(KEYS)
  expected = _reference(params, TOKENS, LENGTHS, scores, bins, mode)
  for key in KEYS:
    assert out[key].shape == expected[key].shape, key
    np.testing.assert_allclose(out[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
  assert out["flipped"].dtype == bool and out["predicted"].dtype == np.int32
  assert out["comprehensiveness"].dtype == np.float32
  assert np.any(out["flipped"]) and np.any(np.abs(out["comprehensiveness"]) > 1e-3)


def test_stacked_seeds_equal_per_seed_calls():
  stacked = _stacked_params()
  per_seed_scores = jnp.stack([_tied_scores(1), _tied_scores(2)])
  together = explain.faithfulness(CNN, stacked, TOKENS, LENGTHS, per_seed_scores)
  shared = explain.faithfulness(CNN, stacked, TOKENS, LENGTHS, per_seed_scores[0])
  assert together["comprehensiveness"].shape == (2, 4)
  assert together["deletion_curve"].shape == (2, 4, 9)
  for seed in range(2):
    params = jax.tree.map(lambda x: x[seed], stacked)
    for scores, out in ((per_seed_scores[seed], together), (per_seed_scores[0], shared)):
      alone = explain.faithfulness(CNN, params, TOKENS, LENGTHS, scores)
      chex.assert_trees_all_close(jax.tree.map(lambda x: x[seed], out), alone, rtol=1e-5,
                                  atol=1e-6)
  assert not np.allclose(together["comprehensiveness"][0], together["comprehensiveness"][1])


def test_padding_is_never_ranked_removed_or_kept():
  params = jax.tree.map(lambda x: x[1], _stacked_params())
  scores = _tied_scores(3)
  out = explain.faithfulness(CNN, params, TOKENS, LENGTHS, scores)
  # Other ids and any scores (NaN, huge) on padding, and more of it: nothing changes.
  noise = np.asarray(jax.random.randint(jax.random.key(4), (4, 11), 1, 20))
  longer_real = np.arange(11)[None, :] < np.asarray(LENGTHS)[:, None]
  tokens = np.where(longer_real, np.pad(np.asarray(TOKENS), ((0, 0), (0, 3))), noise)
  garbage = np.where(longer_real, np.pad(np.asarray(scores), ((0, 0), (0, 3))),
                     np.array([np.nan, 1e30, -1e30] * 4)[:11])
  for mode in ("remove", "mask"):
    out = explain.faithfulness(CNN, params, TOKENS, LENGTHS, scores, mode=mode)
    padded = explain.faithfulness(CNN, params, jnp.asarray(tokens), LENGTHS,
                                  jnp.asarray(garbage), mode=mode)
    for key in KEYS:
      if key == "deletion_curve":
        np.testing.assert_allclose(padded[key][:, :9], out[key], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(padded[key][:, 9:], np.repeat(out[key][:, -1:], 3, 1),
                                   rtol=1e-5, atol=1e-6)
      else:
        np.testing.assert_allclose(padded[key], out[key], rtol=1e-5, atol=1e-6, err_msg=key)
  # The copies themselves hold no padding as a token.
  keep = jnp.ones((4, 2, 11), bool).at[:, 1, 0].set(False)
  for mode in ("remove", "mask"):
    copies, copy_lengths = kept_copies(jnp.asarray(tokens), LENGTHS, keep, mode=mode)
    copies = np.asarray(copies)
    for b in range(4):
      length = int(LENGTHS[b])
      np.testing.assert_array_equal(copies[b, 0, :length], tokens[b, :length])
      assert np.all(copies[b, :, length:] == 0)
    np.testing.assert_array_equal(copy_lengths[:, 1], LENGTHS - (mode == "remove")
                                  * (LENGTHS > 1))


# ---- the random baseline --------------------------------------------------------------

def test_random_scores_are_keyed_distinct_permutations_zero_on_padding():
  lengths = jnp.array([3, 6, 1])
  scores = np.asarray(explain.random_scores(jax.random.key(0), lengths, 6, 4))
  assert scores.shape == (4, 3, 6) and scores.dtype == np.float32
  real = np.arange(6)[None, :] < np.asarray(lengths)[:, None]
  assert np.all(scores[:, ~real] == 0) and np.all(scores[:, real] >= 1)
  for draw in scores:
    for row, length in zip(draw, lengths):
      assert len(set(row[:int(length)])) == length
  np.testing.assert_array_equal(scores, explain.random_scores(jax.random.key(0), lengths, 6, 4))
  assert not np.array_equal(scores, explain.random_scores(jax.random.key(1), lengths, 6, 4))


def test_random_baseline_expectation_equals_exhaustive_enumeration():
  """Mean over draws = the average over all k-subsets (and all orders, for flips), within MC error."""
  params = jax.tree.map(lambda x: x[0], _stacked_params())
  tokens, lengths = TOKENS[3:4, :3], LENGTHS[3:4]  # L = 3
  bins = (0.34, 0.67)  # k = 1, 2
  draws = 3000
  out = explain.random_baseline(CNN, params, tokens, lengths, key=jax.random.key(5),
                                draws=draws, bins=bins)
  assert out["comprehensiveness_bins"].shape == (draws, 1, 2)
  x = [int(t) for t in tokens[0]]
  probs = _probs(params, x, 3)
  predicted = int(np.argmax(probs))
  p = lambda row: _probs(params, row or [1], 3)[predicted]
  for j, k in enumerate((1, 2)):
    subsets = list(itertools.combinations(range(3), k))
    expected_comp = np.mean([probs[predicted] - p([x[t] for t in range(3) if t not in s])
                             for s in subsets])
    expected_suff = np.mean([probs[predicted] - p([x[t] for t in s]) for s in subsets])
    for key, expected in (("comprehensiveness_bins", expected_comp),
                          ("sufficiency_bins", expected_suff)):
      values = np.asarray(out[key][:, 0, j])
      error = 4 * values.std() / np.sqrt(draws) + 1e-6
      assert abs(values.mean() - expected) < error, (key, k, values.mean(), expected)
      assert values.std() > 1e-3  # the draws do differ
  # Flip fraction: the average over all 3! orders.
  fractions = []
  for order in itertools.permutations(range(3)):
    flips = [m for m in range(1, 4)
             if np.argmax(_probs(params, [x[t] for t in range(3) if t not in order[:m]] or [1],
                                 3)) != predicted]
    fractions.append(flips[0] / 3 if flips else 1.0)
  values = np.asarray(out["flip_fraction"][:, 0])
  assert abs(values.mean() - np.mean(fractions)) < 4 * values.std() / np.sqrt(draws) + 1e-6


def test_random_baseline_keeps_a_seed_axis_first():
  stacked = _stacked_params()
  out = explain.random_baseline(CNN, stacked, TOKENS, LENGTHS, key=jax.random.key(0), draws=3,
                                bins=(0.5,))
  assert out["sufficiency"].shape == (2, 3, 4) and out["deletion_curve"].shape == (2, 3, 4, 9)
  scores = explain.random_scores(jax.random.key(0), LENGTHS, 8, 3)
  params = jax.tree.map(lambda x: x[1], stacked)
  direct = explain.faithfulness(CNN, params, TOKENS, LENGTHS, scores[2], bins=(0.5,))
  chex.assert_trees_all_close(jax.tree.map(lambda x: x[1, 2], out), direct, rtol=1e-5, atol=1e-6)


# ---- bad inputs -----------------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    ({"bins": (0.0, 0.5)}, r"every bin must be a fraction in \(0, 1\], got 0.0"),
    ({"bins": (0.5, 1.5)}, r"every bin must be a fraction in \(0, 1\], got 1.5"),
    ({"bins": ()}, r"bins must be a non-empty sequence of fractions in \(0, 1\]"),
    ({"bins": 0.5}, r"bins must be a non-empty sequence"),
    ({"bins": ("a",)}, r"every bin must be a fraction in \(0, 1\], got 'a'"),
    ({"mode": "drop"}, "unknown mode 'drop'; allowed: remove, mask"),
    ({"unk_id": 20}, r"unk_id must be a token id in \[0, vocab_size=20\), got 20"),
    ({"mask_id": -1}, r"mask_id must be a token id in \[0, vocab_size=20\), got -1"),
    ({"batch_copies": 0}, "batch_copies must be None or an integer >= 1"),
    ({"scores": jnp.zeros((4, 7))}, r"scores must be real numbers shaped like tokens.*\(4, 8\)"),
    ({"scores": jnp.zeros((2, 4, 8))}, r"scores must be .*got float32 \(2, 4, 8\)"),
    ({"scores": jnp.zeros((4, 8), bool)}, "scores must be real numbers"),
    ({"scores": jnp.zeros((4, 8)).at[1, 4].set(jnp.inf)},
     r"scores must be finite at real positions; got inf at index \(1, 4\)"),
    ({"lengths": jnp.array([8, 5, 0, 3])}, r"lengths must lie in \[1, T=8\]"),
])
def test_bad_input_raises_value_error(options, message):
  params = jax.tree.map(lambda x: x[0], _stacked_params())
  args = {"tokens": TOKENS, "lengths": LENGTHS, "scores": jnp.zeros((4, 8))} | options
  positional = [args.pop(name) for name in ("tokens", "lengths", "scores")]
  with pytest.raises(ValueError, match=message):
    explain.faithfulness(CNN, params, *positional, **args)


def test_bad_seed_axis_and_draws_raise():
  with pytest.raises(ValueError, match=r"or \[S, B, T\] for stacked params.*got float32 \(3, 4, 8\)"):
    explain.faithfulness(CNN, _stacked_params(), TOKENS, LENGTHS, jnp.zeros((3, 4, 8)))
  with pytest.raises(ValueError, match="draws must be an integer >= 1"):
    explain.random_scores(jax.random.key(0), LENGTHS, 8, 0)
  with pytest.raises(ValueError, match="draws must be an integer >= 1"):
    explain.random_baseline(CNN, _stacked_params(), TOKENS, LENGTHS, key=jax.random.key(0),
                            draws=0)
