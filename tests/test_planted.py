"""The planted-token task: determinism, planted positions, labels, noise, errors."""

import jax
import numpy as np
import pytest

from attnjax.data import planted, signal_token_ids


def test_planted_structure_and_determinism():
  data = planted(jax.random.key(0), 3000, seq_len=30, vocab_size=200, num_classes=3,
                 num_planted=2, signals_per_class=4)
  again = planted(jax.random.key(0), 3000, seq_len=30, vocab_size=200, num_classes=3,
                  num_planted=2, signals_per_class=4)
  np.testing.assert_array_equal(data.tokens, again.tokens)
  assert data.tokens.dtype == np.int32 and data.tokens.shape == (3000, 30)
  real = np.arange(30)[None] < data.lengths[:, None]
  assert np.all(data.tokens[~real] == 0) and np.all(data.tokens[real] >= 2)
  np.testing.assert_array_equal(data.importance.sum(1), 2)
  assert not np.any(data.importance & ~real)
  signals = signal_token_ids(3, 4)
  is_signal = (data.tokens >= signals.min()) & (data.tokens <= signals.max())
  np.testing.assert_array_equal(is_signal, data.importance)
  planted_class = (data.tokens[data.importance].reshape(-1, 2) - signals.min()) // 4
  np.testing.assert_array_equal(planted_class[:, 0], data.labels)
  np.testing.assert_array_equal(planted_class[:, 1], data.labels)
  assert data.lengths.min() >= 15 and data.lengths.max() <= 30
  assert np.bincount(data.labels).min() > 900


def test_label_noise_rate():
  clean = planted(jax.random.key(1), 20000, label_noise=0.0)
  noisy = planted(jax.random.key(1), 20000, label_noise=0.2)
  np.testing.assert_array_equal(clean.tokens, noisy.tokens)
  flipped = np.mean(clean.labels != noisy.labels)
  assert abs(flipped - 0.2) < 0.015


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_classes=1), "num_classes=1"),
    (dict(vocab_size=8), "vocab_size=8"),
    (dict(label_noise=1.0), "label_noise=1.0"),
    (dict(min_len=1, num_planted=2), "min_len=1"),
])
def test_planted_bad_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    planted(jax.random.key(0), 10, **kwargs)
