"""The attention text classifier: embedding → encoder → attention → context → logits."""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from attnjax.checks import check_choice, check_int, is_real
from attnjax.models import attention as attention_lib
from attnjax.models import encoders


ATTENTION_MODES = ("learned", "uniform")


class Aux(NamedTuple):
  """What the classifier exposes besides its logits.

  Attributes:
    attention: <float32>[B, T] weights, 0 on padding, rows sum to 1 (all 0
      for an example of length 0 under `jit`; see `AttentionClassifier.__call__`).
    scores: <float32>[B, T] raw attention scores (before masking).
    hidden: <float32>[B, T, D] the vectors attention weighs (0 on padding).
    context: <float32>[B, D] the attention-weighted sum of `hidden`.
  """
  attention: Any
  scores: Any
  hidden: Any
  context: Any


class AttentionClassifier(nn.Module):
  """Text classifier with one attention layer over an encoder's outputs.

  Call as `logits, aux = model.apply(params, tokens, lengths)`; see `__call__`.
  RNG streams: "dropout" (when `dropout > 0` and `train=True`) and "gumbel"
  (when the Gumbel normaliser samples).

  Gumbel-softmax: with `normalizer="gumbel"` training draws a sample
  softmax((scores + g)/τ), g ~ Gumbel(0, 1), with the "gumbel" PRNG stream.
  Evaluation uses, by default (`gumbel_eval="deterministic"`), the noise-free
  softmax(scores/τ), so predictions and attention are deterministic functions
  of the input; `gumbel_eval="sample"` keeps sampling at evaluation.

  Attributes:
    vocab_size: V, number of token ids (0 is padding by convention).
    num_classes: C.
    embed_dim: E.
    embedding_std: standard deviation of the N(0, σ²) embedding init (1.0, as
      PyTorch's nn.Embedding; much smaller values let the BiLSTM spread the
      planted signal to every position before attention learns to focus).
    hidden_dim: H, encoder width (BiLSTM output is 2H).
    encoder: one of `encoders.ENCODERS`.
    attention: one of `attention.ATTENTIONS`.
    normalizer: one of `attention.NORMALIZERS`.
    temperature: τ > 0 (finite) of the Gumbel-softmax.
    dropout: rate on embeddings and on the context vector during training.
    word_dropout: probability that a real token is replaced by `<unk>` (id
      `unk_id`) during training (Iyyer et al. 2015; Flax's sst2 example).
    unk_id: the id word dropout substitutes.
    attention_dim: width of the additive scorer / d_k of scaled dot-product.
    deep_layer_dims: widths of the deep scorer's hidden layers (≥ 2).
    gumbel_eval: "deterministic" or "sample" (see above).
    attention_mode: "learned" (default) or "uniform": 1/L on every real
      position whatever the scores (the uniform-attention ablation, trained
      or evaluated so).
    cnn_kernel_size: width of the CNN encoder's convolution.
    unroll: LSTM scan unroll factor (speed only).
    lstm_autodiff: differentiate the (Bi)LSTM with JAX's autodiff of its scan
      instead of the faster hand-written backward pass (equal to 1e-4). Set it
      for forward-mode differentiation (`jax.jvp`, `jax.jacfwd`,
      `jax.hessian`) through the model, which the default cannot do.
  """
  vocab_size: int
  num_classes: int
  embed_dim: int = 128
  embedding_std: float = 1.0
  hidden_dim: int = 128
  encoder: str = "bilstm"
  attention: str = "additive"
  normalizer: str = "softmax"
  temperature: float = 1.0
  dropout: float = 0.0
  word_dropout: float = 0.0
  unk_id: int = 1
  attention_dim: int = 128
  deep_layer_dims: Sequence[int] = (128, 128)
  gumbel_eval: str = "deterministic"
  attention_mode: str = "learned"
  cnn_kernel_size: int = 3
  unroll: int = 1
  lstm_autodiff: bool = False

  def __post_init__(self):
    check_choice("encoder", self.encoder, encoders.ENCODERS)
    check_choice("attention", self.attention, attention_lib.ATTENTIONS)
    check_choice("normalizer", self.normalizer, attention_lib.NORMALIZERS)
    check_choice("gumbel_eval", self.gumbel_eval, attention_lib.GUMBEL_EVAL_MODES)
    check_choice("attention_mode", self.attention_mode, ATTENTION_MODES)
    for field in ("vocab_size", "embed_dim", "hidden_dim", "attention_dim", "cnn_kernel_size",
                  "unroll"):
      check_int(field, getattr(self, field), 1)
    check_int("num_classes", self.num_classes, 2)
    check_int("unk_id", self.unk_id, 0)
    if self.unk_id >= self.vocab_size:
      raise ValueError(f"unk_id must be a token id in [0, vocab_size={self.vocab_size}), "
                       f"got {self.unk_id!r}")
    if not isinstance(self.deep_layer_dims, Sequence):
      raise ValueError(f"deep_layer_dims must be a sequence of widths, got "
                       f"{self.deep_layer_dims!r}")
    if self.attention == "deep" and len(self.deep_layer_dims) < 2:
      raise ValueError(f"deep attention needs >= 2 layers, got deep_layer_dims="
                       f"{tuple(self.deep_layer_dims)}")
    for width in self.deep_layer_dims:
      check_int("every deep_layer_dims width", width, 1)
    for field in ("temperature", "embedding_std"):
      value = _as_float(field, getattr(self, field))
      if not value > 0:
        raise ValueError(f"{field} must be > 0, got {getattr(self, field)!r}")
      if not value < math.inf:
        raise ValueError(f"{field} must be finite, got {getattr(self, field)!r}")
    for field in ("dropout", "word_dropout"):
      if not 0.0 <= _as_float(field, getattr(self, field)) < 1.0:
        raise ValueError(f"{field} must be in [0, 1), got {getattr(self, field)!r}")
    super().__post_init__()

  def setup(self):
    self.embedding = nn.Embed(self.vocab_size, self.embed_dim,
                              embedding_init=nn.initializers.normal(self.embedding_std))
    self.encoder_module = encoders.make_encoder(
        self.encoder, self.hidden_dim, unroll=self.unroll, lstm_autodiff=self.lstm_autodiff,
        kernel_size=self.cnn_kernel_size)
    self.scorer = attention_lib.make_attention(
        self.attention, attention_dim=self.attention_dim, deep_layer_dims=self.deep_layer_dims)
    self.output_layer = nn.Dense(self.num_classes)
    self.dropout_layer = nn.Dropout(self.dropout)

  def embed(self, tokens_BxT):
    """<int32>[B, T] → <float32>[B, T, E] input embeddings."""
    return self.embedding(tokens_BxT)

  def __call__(self, tokens_BxT, lengths_B, *, train: bool = False, attention=None,
               embedded=None, num_steps=None):
    """Classifies a batch.

    Bad lengths and token ids: when `lengths` are concrete (a plain call, not
    under `jit`/`vmap`), a length outside 1 ≤ length ≤ T raises a `ValueError`
    naming the examples, and so does (with `embedded=None`) a token id outside
    [0, V). Traced values cannot be checked, so there the output is defined
    instead: lengths are clipped to [0, T], and an example of length 0 has
    attention weights all 0, `hidden` and `context` all 0 and logits equal to
    the output layer's bias (no NaN, also in gradients). Token ids are not
    checked under a transformation (an id ≥ V embeds as NaN).

    Args:
      tokens_BxT: <int32>[B, T] token ids in [0, V), padded at the end.
      lengths_B: <int32>[B] real lengths, 1 ≤ lengths ≤ T (see above).
      train: enables dropout and Gumbel sampling.
      attention: optional <float32>[B, T] externally supplied weights used
        instead of the model's own (ablations, counterfactual attention). They
        are used as given (callers keep them 0 on padding); `aux.scores` still
        holds the model's own scores.
      embedded: optional <float32>[B, T, E] input embeddings used instead of
        looking up `tokens` (gradients and perturbations w.r.t. embeddings).
      num_steps: optional int32 scalar n ≥ max(lengths), possibly traced: an
        LSTM encoder's recurrences run n steps instead of T (the same outputs
        at a batch's longest example's cost, one compiled program for every
        n; `encoders.lstm_directions`). None: T. Training passes its step's
        longest length (`attnjax.training`).

    Returns:
      (logits <float32>[B, C], aux: `Aux`).

    Raises:
      ValueError: malformed shapes or dtypes, and (concrete inputs only) a
        length outside [1, T] or a token id outside [0, V).
    """
    tokens_BxT = jnp.asarray(tokens_BxT)
    lengths_B = jnp.asarray(lengths_B)
    if tokens_BxT.ndim != 2:
      raise ValueError(f"tokens must be [B, T], got shape {tokens_BxT.shape}")
    batch, max_length = tokens_BxT.shape
    if lengths_B.shape != (batch,):
      raise ValueError(f"lengths must be [B]={batch,}, got shape {lengths_B.shape}")
    if not jnp.issubdtype(tokens_BxT.dtype, jnp.integer):
      raise ValueError(f"tokens must be integer token ids, got dtype {tokens_BxT.dtype}")
    if not jnp.issubdtype(lengths_B.dtype, jnp.integer):
      raise ValueError(f"lengths must be integers, got dtype {lengths_B.dtype}")
    if not isinstance(lengths_B, jax.core.Tracer):
      _check_in_range(lengths_B, 1, max_length,
                      f"lengths must lie in 1 <= length <= T={max_length}")
    if embedded is None and not isinstance(tokens_BxT, jax.core.Tracer):
      _check_in_range(tokens_BxT, 0, self.vocab_size - 1,
                      f"tokens must be ids in [0, vocab_size={self.vocab_size})")
    lengths_B = jnp.clip(lengths_B, 0, max_length)
    if attention is not None and jnp.shape(attention) != (batch, max_length):
      raise ValueError(f"attention must be [B, T]={(batch, max_length)}, got shape "
                       f"{jnp.shape(attention)}")
    mask_BxT = encoders.sequence_mask(lengths_B, max_length)
    if embedded is None:
      if train and self.word_dropout > 0:
        drop_BxT = jax.random.bernoulli(self.make_rng("dropout"), self.word_dropout,
                                        tokens_BxT.shape)
        tokens_BxT = jnp.where(drop_BxT & mask_BxT, self.unk_id, tokens_BxT)
      embedded = self.embed(tokens_BxT)
    elif jnp.shape(embedded) != (batch, max_length, self.embed_dim):
      raise ValueError(f"embedded must be [B, T, E]={(batch, max_length, self.embed_dim)}, "
                       f"got shape {jnp.shape(embedded)}")

    embedded = self.dropout_layer(embedded, deterministic=not train)
    hidden_BxTxD = self.encoder_module(embedded, lengths_B, num_steps)
    return self.attend(hidden_BxTxD, lengths_B, train=train, attention=attention)

  def attend(self, hidden_BxTxD, lengths_B, *, train: bool = False, attention=None):
    """The layers after the encoder: attention over `hidden`, context, logits.

    `__call__` is `attend(encoder(embed(tokens)), lengths)`; leave-one-out's
    state reuse (`attnjax.explain.occlusion`) calls it on hidden states it
    assembles itself. Inputs are used as given (no checks).

    Args:
      hidden_BxTxD: <float32>[B, T, D] encoder outputs, 0 on padding.
      lengths_B: <int32>[B] lengths in [0, T].
      train, attention: as in `__call__`.

    Returns:
      (logits <float32>[B, C], aux: `Aux`).
    """
    max_length = hidden_BxTxD.shape[1]
    scores_BxT = self.scorer(hidden_BxTxD)
    sample = self.normalizer == "gumbel" and (train or self.gumbel_eval == "sample")
    # A length-0 example attends to position 0, where its `hidden` is 0, so its context is
    # 0 and nothing divides by 0; its reported weights are then set to 0 (`attention_BxT`).
    # For lengths >= 1 these are the plain masked softmax's operations, bit for bit.
    attended_BxT = encoders.sequence_mask(jnp.maximum(lengths_B, 1), max_length)
    weights_BxT = attention_lib._normalize(
        scores_BxT, attended_BxT, normalizer=self.normalizer, temperature=self.temperature,
        key=self.make_rng("gumbel") if sample else None, sample=sample,
        softmax=attention_lib._softmax_nonempty)
    if self.attention_mode == "uniform":
      weights_BxT = attended_BxT / jnp.maximum(lengths_B, 1)[:, None].astype(hidden_BxTxD.dtype)
    if attention is not None:
      weights_BxT = jnp.asarray(attention, hidden_BxTxD.dtype)
    context_BxD = jnp.einsum("bt,btd->bd", weights_BxT, hidden_BxTxD)
    logits_BxC = self.output_layer(self.dropout_layer(context_BxD, deterministic=not train))
    attention_BxT = weights_BxT if attention is not None else jnp.where(
        (lengths_B > 0)[:, None], weights_BxT, 0.0)
    return logits_BxC, Aux(attention=attention_BxT, scores=scores_BxT, hidden=hidden_BxTxD,
                           context=context_BxD)

  def encoder_states(self, tokens_BxT, lengths_B):
    """The LSTM encoder's recurrent states at every position of the inputs.

    With `resume_encoder` and `attend`, what it takes to run the model on
    edited copies of an input from the states they share with it
    (leave-one-out's state reuse, `attnjax.explain.occlusion`): the copies'
    `hidden` is assembled from these states and the resumed runs, then
    passed to `attend`. Inputs are used as given (no checks), in evaluation
    mode (no dropout).

    Args:
      tokens_BxT: <int32>[B, T] token ids.
      lengths_B: <int32>[B] lengths in [1, T].

    Returns:
      `LSTMEncoder.states`: a tuple of D `encoders.LSTMState`s (forward, then
      backward for the BiLSTM), each field <float32>[B, T, H].

    Raises:
      ValueError: the encoder is not an LSTM (`encoders.LSTM_ENCODERS`).
    """
    return self._lstm_encoder("encoder_states").states(self.embed(tokens_BxT), lengths_B)

  def resume_encoder(self, tokens_KxT, starts, initial, steps, num_steps):
    """The LSTM encoder's recurrences run from given states over part of K sequences.

    `LSTMEncoder.resume` on the embeddings of `tokens_KxT`; see there for
    the arguments. Inputs are used as given (no checks), in evaluation mode.

    Args:
      tokens_KxT: <int32>[K, T] token ids.
      starts, initial, steps, num_steps: as `LSTMEncoder.resume` (D entries
        each: <int32>[K] positions, `LSTMState`s of <float32>[K, H], <int32>[K]
        step counts; a scalar loop length).

    Returns:
      Tuple of D <float32>[K, T, H]: each run's outputs at the positions it
      read, 0 elsewhere.

    Raises:
      ValueError: the encoder is not an LSTM (`encoders.LSTM_ENCODERS`).
    """
    return self._lstm_encoder("resume_encoder").resume(self.embed(tokens_KxT), starts, initial,
                                                       steps, num_steps)

  def _lstm_encoder(self, method: str):
    if self.encoder not in encoders.LSTM_ENCODERS:
      raise ValueError(f"{method} needs an LSTM encoder ({', '.join(encoders.LSTM_ENCODERS)}), "
                       f"got encoder {self.encoder!r}")
    return self.encoder_module


def _as_float(what: str, value) -> float:
  if not is_real(value):
    raise ValueError(f"{what} must be a number, got {value!r}")
  return float(value)


def _check_in_range(values, low: int, high: int, message: str, shown: int = 5):
  """`ValueError(message + the first `shown` entries of `values` outside [low, high])`."""
  values = np.asarray(values)
  bad = np.argwhere((values < low) | (values > high))
  if len(bad):
    at = (lambda i: f"index {int(i[0])}") if values.ndim == 1 else (
        lambda i: f"[b, t] = {tuple(int(j) for j in i)}")
    where = ", ".join(f"{values[tuple(i)]} at {at(i)}" for i in bad[:shown])
    more = f" (and {len(bad) - shown} more)" if len(bad) > shown else ""
    raise ValueError(f"{message}; got {where}{more}")


def model_to_dict(model: AttentionClassifier) -> dict:
  """The constructor arguments of `model` as JSON-able values."""
  out = {}
  for field in dataclasses.fields(model):
    if field.name in ("parent", "name"):
      continue
    value = getattr(model, field.name)
    out[field.name] = list(value) if isinstance(value, tuple) else value
  return out


def model_from_dict(config: dict) -> AttentionClassifier:
  """Inverse of `model_to_dict`.

  Raises:
    ValueError: `config` is not a dict, misses `vocab_size` or `num_classes`,
      has unknown fields, or holds a value the model rejects.
  """
  if not isinstance(config, dict):
    raise ValueError(f"a model config must be a dict of AttentionClassifier fields, got "
                     f"{type(config).__name__}: {config!r:.80}")
  fields = [f for f in dataclasses.fields(AttentionClassifier) if f.name not in ("parent", "name")]
  known = {f.name for f in fields}
  unknown = sorted(set(config) - known)
  if unknown:
    raise ValueError(f"unknown model fields {unknown}; allowed: {sorted(known)}")
  missing = [f.name for f in fields
             if f.default is dataclasses.MISSING and f.name not in config]
  if missing:
    raise ValueError(f"model config misses the required fields {missing}")
  config = dict(config)
  if "deep_layer_dims" in config:
    config["deep_layer_dims"] = tuple(config["deep_layer_dims"])
  return AttentionClassifier(**config)


def check_params(model: AttentionClassifier, params) -> int | None:
  """Checks that `params` are `model`'s parameters, optionally stacked on a seed axis.

  Args:
    model: the classifier.
    params: a pytree like `init_params(model, key)`, or the same with one
      leading axis S on every leaf (stacked seeds).

  Returns:
    S for stacked params, None for unstacked ones.

  Raises:
    ValueError: naming the first entries whose presence or shape differ.
  """
  want = _param_shapes(model)
  try:
    got = {jax.tree_util.keystr(k): tuple(np.shape(v))
           for k, v in jax.tree_util.tree_leaves_with_path(params)}
  except Exception:  # noqa: BLE001 — anything unreadable is reported below as a mismatch
    got = {}
  if got == want:
    return None
  stacked = {k: g[0] for k, g in got.items()
             if k in want and len(g) == len(want[k]) + 1 and g[1:] == want[k]}
  if set(stacked) == set(got) == set(want) and len(set(stacked.values())) == 1:
    return next(iter(stacked.values()))
  if stacked:  # compare with the seed count most leaves have
    seeds = max(set(stacked.values()), key=list(stacked.values()).count)
    want = {k: (seeds,) + v for k, v in want.items()}
  differ = sorted(set(want) ^ set(got)) or sorted(k for k in want if got[k] != want[k])
  shown = ", ".join(f"{k}: {got.get(k, 'missing')} (expected {want.get(k, 'none')})"
                    for k in differ[:3])
  raise ValueError(f"params do not fit the model (unstacked, or stacked [S, ...]): {shown}"
                   f"{' ...' if len(differ) > 3 else ''}")


@functools.lru_cache(maxsize=32)
def _param_shapes(model: AttentionClassifier) -> dict[str, tuple[int, ...]]:
  expected = jax.eval_shape(lambda k: init_params(model, k), jax.random.key(0))
  return {jax.tree_util.keystr(k): tuple(v.shape)
          for k, v in jax.tree_util.tree_leaves_with_path(expected)}


def init_params(model: AttentionClassifier, key, max_length: int = 8):
  """Parameters for `model` from one PRNG key (shape-independent of T)."""
  tokens = jnp.zeros((1, max_length), jnp.int32)
  lengths = jnp.full((1,), max_length, jnp.int32)
  return model.init({"params": key}, tokens, lengths)
