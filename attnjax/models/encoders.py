"""Sequence encoders: the vectors `hidden` that attention weighs.

Every encoder maps embeddings `<float32>[B, T, E]` and `lengths <int32>[B]` to
`hidden <float32>[B, T, D]` with `hidden == 0` at padded positions, and outputs at
real positions that do not depend on padding (neither on how much there is nor
on the padding token ids).

The LSTMs are written as one `lax.scan` over time with the input projection of
all time steps hoisted out of the loop (one large matmul instead of T small
ones) and, for the BiLSTM, both directions advanced in the same scan. That keeps
the per-step work to the recurrent matmul, which is what makes many seeds in
one program (``jax.vmap`` over parameters) cheap: see benchmarks/README.md.
"""

from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp


def sequence_mask(lengths, max_length: int):
  """Boolean mask of real tokens.

  Args:
    lengths: <int32>[B] number of real tokens per example.
    max_length: T, the padded length.

  Returns:
    <bool>[B, T], True where position t < lengths[b].

  Example:
    >>> sequence_mask(jnp.array([1, 3]), 3)
    Array([[ True, False, False],
           [ True,  True,  True]], dtype=bool)
  """
  return jnp.arange(max_length)[None, :] < jnp.asarray(lengths)[:, None]


def flip_sequences(inputs, lengths):
  """Reverses each sequence within its length; padding stays at the end.

  Args:
    inputs: <float32>[B, T, ...].
    lengths: <int32>[B].

  Returns:
    Same shape; example b is `inputs[b, :lengths[b]][::-1]` followed by its
    padding unchanged. Applying it twice is the identity.

  Example:
    >>> flip_sequences(jnp.array([[1, 2, 3, 0]]), jnp.array([3]))
    Array([[3, 2, 1, 0]], dtype=int32)
  """
  max_length = inputs.shape[1]
  positions = jnp.arange(max_length)[None, :]
  lengths = jnp.asarray(lengths)[:, None]
  source = jnp.where(positions < lengths, lengths - 1 - positions, positions)
  source = source.reshape(source.shape + (1,) * (inputs.ndim - 2))
  return jnp.take_along_axis(inputs, source, axis=1)


def _lstm_scan(gates_in_TxDxBxG, recurrent_DxHxG, unroll: int = 1):
  """Runs D independent LSTMs over time given precomputed input gates.

  Args:
    gates_in_TxDxBxG: <float32>[T, D, B, 4H] input projections plus bias.
    recurrent_DxHxG: <float32>[D, H, 4H] recurrent kernels.
    unroll: `lax.scan` unroll factor.

  Returns:
    <float32>[T, D, B, H] hidden states.
  """
  _, num_dirs, batch, four_h = gates_in_TxDxBxG.shape
  hidden_size = four_h // 4
  zeros = jnp.zeros((num_dirs, batch, hidden_size), gates_in_TxDxBxG.dtype)

  def step(carry, gates_in_DxBxG):
    h, c = carry
    gates = gates_in_DxBxG + jnp.einsum("dbh,dhg->dbg", h, recurrent_DxHxG)
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (h, c), h

  _, hidden_TxDxBxH = jax.lax.scan(step, (zeros, zeros), gates_in_TxDxBxG,
                                     unroll=unroll)
  return hidden_TxDxBxH


def _stacked_orthogonal(num: int):
  """Orthogonal init of each of `num` stacked [H, 4H] recurrent kernels."""
  orthogonal = nn.initializers.orthogonal()

  def init(key, shape, dtype=jnp.float32):
    keys = jax.random.split(key, num)
    return jax.vmap(lambda k: orthogonal(k, shape[1:], dtype))(keys)

  return init


def _forget_bias_init(hidden_size: int):
  """Zero biases except the forget gate, set to 1 (Jozefowicz et al. 2015)."""

  def init(key, shape, dtype=jnp.float32):
    del key
    bias = jnp.zeros(shape, dtype)
    return bias.at[..., hidden_size:2 * hidden_size].set(1.0)

  return init


class LSTMEncoder(nn.Module):
  """(Bi)LSTM over padded sequences that honours each example's length.

  The backward direction reads each example from its last real token
  (`flip_sequences`), so real-position outputs never see padding.

  Attributes:
    hidden_dim: H, units per direction. Output D = 2H if bidirectional else H.
    bidirectional: run a backward LSTM too and concatenate [forward, backward].
    unroll: `lax.scan` unroll factor (a speed knob; results are identical).
  """
  hidden_dim: int
  bidirectional: bool = True
  unroll: int = 1

  @nn.compact
  def __call__(self, embedded_BxTxE, lengths_B):
    """Encodes.

    Args:
      embedded_BxTxE: <float32>[B, T, E].
      lengths_B: <int32>[B].

    Returns:
      <float32>[B, T, D], zero at padded positions.
    """
    _, max_length, embed_dim = embedded_BxTxE.shape
    num_dirs = 2 if self.bidirectional else 1
    four_h = 4 * self.hidden_dim
    input_kernel = self.param("input_kernel", nn.initializers.lecun_normal(batch_axis=(0,)),
                              (num_dirs, embed_dim, four_h))
    recurrent_kernel = self.param("recurrent_kernel", _stacked_orthogonal(num_dirs),
                                  (num_dirs, self.hidden_dim, four_h))
    bias = self.param("bias", _forget_bias_init(self.hidden_dim), (num_dirs, four_h))

    mask_BxT = sequence_mask(lengths_B, max_length)
    embedded_BxTxE = embedded_BxTxE * mask_BxT[..., None]
    directions = [embedded_BxTxE]
    if self.bidirectional:
      directions.append(flip_sequences(embedded_BxTxE, lengths_B))
    inputs_DxBxTxE = jnp.stack(directions)
    gates_in_TxDxBxG = (jnp.einsum("dbte,deg->tdbg", inputs_DxBxTxE, input_kernel)
                        + bias[None, :, None, :])
    hidden_TxDxBxH = _lstm_scan(gates_in_TxDxBxG, recurrent_kernel, self.unroll)
    hidden_DxBxTxH = jnp.transpose(hidden_TxDxBxH, (1, 2, 0, 3))
    outputs = [hidden_DxBxTxH[0]]
    if self.bidirectional:
      outputs.append(flip_sequences(hidden_DxBxTxH[1], lengths_B))
    hidden_BxTxD = jnp.concatenate(outputs, axis=-1)
    return hidden_BxTxD * mask_BxT[..., None]


class CNNEncoder(nn.Module):
  """1-D convolution with 'SAME' length output.

  Padded embeddings are zeroed first, so real-position outputs equal those of
  the unpadded sequence with zero boundary padding.

  Attributes:
    hidden_dim: D, output channels.
    kernel_size: convolution width (odd keeps it centred).
    activation: nonlinearity after the convolution.
  """
  hidden_dim: int
  kernel_size: int = 3
  activation: Callable = nn.relu

  @nn.compact
  def __call__(self, embedded_BxTxE, lengths_B):
    mask_BxT = sequence_mask(lengths_B, embedded_BxTxE.shape[1])
    embedded_BxTxE = embedded_BxTxE * mask_BxT[..., None]
    hidden_BxTxD = self.activation(
        nn.Conv(self.hidden_dim, (self.kernel_size,), padding="SAME")(embedded_BxTxE))
    return hidden_BxTxD * mask_BxT[..., None]


class EmbeddingEncoder(nn.Module):
  """No encoder: attention weighs the (masked) embeddings themselves (D = E)."""

  @nn.compact
  def __call__(self, embedded_BxTxE, lengths_B):
    mask_BxT = sequence_mask(lengths_B, embedded_BxTxE.shape[1])
    return embedded_BxTxE * mask_BxT[..., None]


ENCODERS = ("bilstm", "lstm", "cnn", "embedding")


def make_encoder(name: str, hidden_dim: int, *, unroll: int = 1,
                 kernel_size: int = 3) -> nn.Module:
  """Encoder module by name: one of `ENCODERS`."""
  if name == "bilstm":
    return LSTMEncoder(hidden_dim, bidirectional=True, unroll=unroll, name="encoder")
  if name == "lstm":
    return LSTMEncoder(hidden_dim, bidirectional=False, unroll=unroll, name="encoder")
  if name == "cnn":
    return CNNEncoder(hidden_dim, kernel_size=kernel_size, name="encoder")
  if name == "embedding":
    return EmbeddingEncoder(name="encoder")
  raise ValueError(f"unknown encoder {name!r}; allowed: {', '.join(ENCODERS)}")
