"""The planted-token task: the built-in data on which "which inputs matter" is known."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from attnjax.data.dataset import TextDataset

PAD_ID = 0
UNK_ID = 1
FIRST_SIGNAL_ID = 2


def signal_token_ids(num_classes: int, signals_per_class: int) -> np.ndarray:
  """<int32>[C, signals_per_class]: the signal token ids tied to each class."""
  return (FIRST_SIGNAL_ID + np.arange(num_classes * signals_per_class, dtype=np.int32)
          ).reshape(num_classes, signals_per_class)


def planted(key, n: int, *, seq_len: int = 40, vocab_size: int = 1000, num_classes: int = 2,
            min_len: int | None = None, num_planted: int = 2, signals_per_class: int = 4,
            label_noise: float = 0.0) -> TextDataset:
  """Random filler sequences whose label is decided by a few planted signal tokens.

  Token ids: 0 is padding, 1 is reserved (`<unk>`), ids 2 … 2 + C·S − 1 are the
  signal tokens (S = `signals_per_class` per class, see `signal_token_ids`), the
  rest are filler drawn uniformly. Each example draws a length uniformly in
  [min_len, seq_len], a class y uniformly, and puts `num_planted` signal tokens
  of class y (each one uniformly among y's S) at distinct uniformly random real
  positions. With probability `label_noise` the label is then replaced by a
  uniformly random *other* class (the tokens keep pointing at the true class).

  Args:
    key: PRNG key; the data are a deterministic function of it and the options.
    n: number of examples N.
    seq_len: padded length T.
    vocab_size: V, including padding, `<unk>` and signal ids.
    num_classes: C ≥ 2.
    min_len: shortest length (default max(num_planted, seq_len // 2)).
    num_planted: signal tokens per example (≥ 1).
    signals_per_class: S.
    label_noise: probability in [0, 1) of a flipped label.

  Returns:
    `TextDataset` with tokens <int32>[N, T], lengths <int32>[N], labels
    <int32>[N] and importance <bool>[N, T] (True exactly where a signal token was
    planted).
  """
  min_len = max(num_planted, seq_len // 2) if min_len is None else min_len
  first_filler = FIRST_SIGNAL_ID + num_classes * signals_per_class
  _check(n >= 1, "n", n, ">= 1")
  _check(num_classes >= 2, "num_classes", num_classes, ">= 2")
  _check(num_planted >= 1, "num_planted", num_planted, ">= 1")
  _check(signals_per_class >= 1, "signals_per_class", signals_per_class, ">= 1")
  _check(num_planted <= min_len <= seq_len, "min_len", min_len,
         f"in [num_planted={num_planted}, seq_len={seq_len}]")
  _check(vocab_size > first_filler, "vocab_size", vocab_size,
         f"> {first_filler} (pad, unk and {num_classes}x{signals_per_class} signal ids)")
  _check(0.0 <= label_noise < 1.0, "label_noise", label_noise, "in [0, 1)")

  k_len, k_class, k_filler, k_pos, k_signal, k_noise, k_flip = jax.random.split(key, 7)
  lengths = jax.random.randint(k_len, (n,), min_len, seq_len + 1)
  classes = jax.random.randint(k_class, (n,), 0, num_classes)
  positions = jnp.arange(seq_len)[None, :]
  real = positions < lengths[:, None]
  filler = jax.random.randint(k_filler, (n, seq_len), first_filler, vocab_size)

  # Distinct random real positions: the `num_planted` smallest uniform keys.
  order_keys = jnp.where(real, jax.random.uniform(k_pos, (n, seq_len)), 2.0)
  rank = jnp.argsort(jnp.argsort(order_keys, axis=1), axis=1)
  importance = rank < num_planted

  signal_choice = jax.random.randint(k_signal, (n, seq_len), 0, signals_per_class)
  signals = jnp.asarray(signal_token_ids(num_classes, signals_per_class))[classes[:, None],
                                                                           signal_choice]
  tokens = jnp.where(importance, signals, jnp.where(real, filler, PAD_ID))

  flip = jax.random.uniform(k_noise, (n,)) < label_noise
  offset = jax.random.randint(k_flip, (n,), 1, num_classes)
  labels = jnp.where(flip, (classes + offset) % num_classes, classes)

  return TextDataset(
      tokens=np.asarray(tokens, np.int32), lengths=np.asarray(lengths, np.int32),
      labels=np.asarray(labels, np.int32),
      label_names=tuple(f"class_{c}" for c in range(num_classes)),
      importance=np.asarray(importance))


def _check(ok: bool, name: str, value, allowed: str):
  if not ok:
    raise ValueError(f"planted: {name}={value!r} is not allowed; it must be {allowed}")
