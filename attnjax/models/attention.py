"""Attention scorers and normalisers.

A scorer maps `hidden <float32>[B, T, D]` to raw `scores <float32>[B, T]`; a
normaliser turns scores into weights over the real positions only (padding gets
exactly 0 weight, every row sums to 1 over its real positions).
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class AdditiveAttention(nn.Module):
  """Additive attention: score_t = vᵀ tanh(W h_t + b).

  Attributes:
    attention_dim: width of W (the tanh layer).

  References:
    Bahdanau, Cho & Bengio (2015), "Neural Machine Translation by Jointly
    Learning to Align and Translate", ICLR.
  """
  attention_dim: int = 128

  @nn.compact
  def __call__(self, hidden_BxTxD):
    projected = jnp.tanh(nn.Dense(self.attention_dim, name="W")(hidden_BxTxD))
    return nn.Dense(1, use_bias=False, name="v")(projected)[..., 0]


class DeepAttention(nn.Module):
  """Deep (multi-layer) attention: score_t = vᵀ f(W_L … f(W_1 h_t)).

  Attributes:
    layer_dims: widths of the L ≥ 2 hidden layers W_1 … W_L.
    activation: f, applied after every hidden layer.

  References:
    Pavlopoulos, Malakasiotis & Androutsopoulos (2017), "Deeper Attention to
    Abusive User Content Moderation", EMNLP.
  """
  layer_dims: Sequence[int] = (128, 128)
  activation: Callable = nn.relu

  @nn.compact
  def __call__(self, hidden_BxTxD):
    x = hidden_BxTxD
    for i, width in enumerate(self.layer_dims):
      x = self.activation(nn.Dense(width, name=f"W_{i + 1}")(x))
    return nn.Dense(1, use_bias=False, name="v")(x)[..., 0]


class ScaledDotProductAttention(nn.Module):
  """Scaled dot-product attention with a learned query: q · (W_k h_t) / sqrt(d_k).

  Attributes:
    key_dim: d_k.

  References:
    Vaswani et al. (2017), "Attention Is All You Need", NeurIPS.
  """
  key_dim: int = 128

  @nn.compact
  def __call__(self, hidden_BxTxD):
    query = self.param("query", nn.initializers.normal(1.0), (self.key_dim,))
    keys_BxTxK = nn.Dense(self.key_dim, use_bias=False, name="W_k")(hidden_BxTxD)
    return keys_BxTxK @ query / jnp.sqrt(self.key_dim).astype(keys_BxTxK.dtype)


ATTENTIONS = ("additive", "deep", "scaled_dot")
NORMALIZERS = ("softmax", "gumbel")
GUMBEL_EVAL_MODES = ("deterministic", "sample")


def make_attention(name: str, *, attention_dim: int = 128,
                   deep_layer_dims: Sequence[int] = (128, 128)) -> nn.Module:
  """Scorer module by name: one of `ATTENTIONS`."""
  if name == "additive":
    return AdditiveAttention(attention_dim, name="attention")
  if name == "deep":
    if len(deep_layer_dims) < 2:
      raise ValueError(f"deep attention needs >= 2 layers, got deep_layer_dims={tuple(deep_layer_dims)}")
    return DeepAttention(tuple(deep_layer_dims), name="attention")
  if name == "scaled_dot":
    return ScaledDotProductAttention(attention_dim, name="attention")
  raise ValueError(f"unknown attention {name!r}; allowed: {', '.join(ATTENTIONS)}")


def masked_softmax(scores_BxT, mask_BxT):
  """Softmax over the positions where `mask` is True; exactly 0 elsewhere.

  A row with no True (an example of length 0) gets weights all 0, not the
  NaN of 0/0, and a gradient of 0; the other rows are
  `jax.nn.softmax(jnp.where(mask, scores, -inf))`.

  Args:
    scores_BxT: <float32>[B, T].
    mask_BxT: <bool>[B, T].

  Returns:
    <float32>[B, T] rows summing to 1 (rows with no True: all 0).
  """
  real_Bx1 = jnp.any(mask_BxT, axis=-1, keepdims=True)
  # Empty rows take a finite softmax over every position, which the `where` then discards.
  return jnp.where(real_Bx1, _softmax_nonempty(scores_BxT, mask_BxT | ~real_Bx1), 0.0)


def _softmax_nonempty(scores_BxT, mask_BxT):
  """`masked_softmax` for masks with a True in every row (NaN rows otherwise).

  The classifier uses it with such masks: it has none of the empty-row guard's
  operations, which change XLA's fusion and so the last bits of gradients.
  """
  return jax.nn.softmax(jnp.where(mask_BxT, scores_BxT, -jnp.inf), axis=-1)


def gumbel_softmax(key, scores_BxT, mask_BxT, temperature: float):
  """A Gumbel-softmax sample softmax((scores + g) / τ), g ~ Gumbel(0, 1), over real positions.

  Rows of `mask` with no True give weights all 0 (see `masked_softmax`).

  References:
    Jang, Gu & Poole (2017), "Categorical Reparameterization with
    Gumbel-Softmax", ICLR; Maddison, Mnih & Teh (2017), "The Concrete
    Distribution", ICLR.
  """
  return _gumbel_softmax(key, scores_BxT, mask_BxT, temperature, masked_softmax)


def _gumbel_softmax(key, scores_BxT, mask_BxT, temperature, softmax):
  noise = jax.random.gumbel(key, scores_BxT.shape, scores_BxT.dtype)
  return softmax((scores_BxT + noise) / temperature, mask_BxT)


def normalize(scores_BxT, mask_BxT, *, normalizer: str, temperature: float = 1.0,
              key=None, sample: bool = False):
  """Attention weights from scores.

  Args:
    scores_BxT: <float32>[B, T] raw scores.
    mask_BxT: <bool>[B, T] real positions.
    normalizer: "softmax" or "gumbel".
    temperature: τ > 0 of the Gumbel-softmax (ignored by "softmax").
    key: PRNG key for the Gumbel noise; required when `sample`.
    sample: draw a Gumbel-softmax sample (training); otherwise the
      deterministic softmax(scores / τ): the Gumbel-softmax with its noise
      set to 0, which is what evaluation uses by default.

  Returns:
    <float32>[B, T] weights, 0 on padding, rows summing to 1 (a row of `mask`
    with no True: all 0, see `masked_softmax`).
  """
  return _normalize(scores_BxT, mask_BxT, normalizer=normalizer, temperature=temperature,
                    key=key, sample=sample, softmax=masked_softmax)


def _normalize(scores_BxT, mask_BxT, *, normalizer, temperature, key, sample, softmax):
  """`normalize` with the masked softmax `softmax` (`masked_softmax` or `_softmax_nonempty`)."""
  if normalizer == "softmax":
    return softmax(scores_BxT, mask_BxT)
  if normalizer == "gumbel":
    if sample:
      if key is None:
        raise ValueError("gumbel sampling needs a PRNG key (rngs={'gumbel': key})")
      return _gumbel_softmax(key, scores_BxT, mask_BxT, temperature, softmax)
    return softmax(scores_BxT / temperature, mask_BxT)
  raise ValueError(f"unknown normalizer {normalizer!r}; allowed: {', '.join(NORMALIZERS)}")
