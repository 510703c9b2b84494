"""Running a trained model with its attention replaced (the ablations of finding ii).

Models in, outputs out: `ablate` runs the classifier with uniform, frozen-random or
permuted weights in place of its own (`attnjax.explain`, not `attnjax.analysis`, which
takes arrays).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from attnjax.models.classifier import AttentionClassifier, init_params
from attnjax.models.encoders import sequence_mask
from attnjax.models.seeds import map_seeds, split_over_seeds

ABLATIONS = ("uniform", "random", "permute")


def uniform_attention(lengths, max_length: int):
  """<float32>[B, T]: 1/L on each example's L real positions, 0 on padding."""
  mask = sequence_mask(lengths, max_length)
  return mask / jnp.asarray(lengths, jnp.float32)[:, None]


def permute_attention(key, attention, lengths):
  """Shuffles each row's weights among its real positions (padding stays 0).

  Args:
    key: PRNG key (one independent permutation per example).
    attention: <float32>[B, T].
    lengths: <int32>[B].

  Returns:
    <float32>[B, T], each row a permutation of the input row's real weights.
  """
  mask = sequence_mask(lengths, attention.shape[-1])
  order = jnp.argsort(jnp.where(mask, jax.random.uniform(key, attention.shape), jnp.inf), axis=-1)
  return jnp.take_along_axis(attention, order, axis=-1)


def _ablate_one(model, params, tokens, lengths, mode, key):
  if mode == "uniform":
    weights = uniform_attention(lengths, tokens.shape[1])
  elif mode == "random":
    random_scorer = init_params(model, key)["params"]["attention"]
    swapped = {"params": {**params["params"], "attention": random_scorer}}
    weights = model.apply(swapped, tokens, lengths)[1].attention
  else:
    weights = permute_attention(key, model.apply(params, tokens, lengths)[1].attention, lengths)
  return model.apply(params, tokens, lengths, attention=weights)


def ablate(model: AttentionClassifier, params, tokens, lengths, *, mode: str, key=None):
  """Runs a trained model with its attention weights replaced after training.

  Modes:
    "uniform": 1/L on every real position.
    "random": the weights of a frozen random-init scorer (a fresh
      initialisation of the attention parameters from `key`) applied to the
      model's own hidden states.
    "permute": the model's own weights shuffled among each example's real
      positions (Jain & Wallace 2019).
  The rest of the network (encoder, classifier) is the trained one. For
  *training* with attention so fixed use `AttentionClassifier(attention_mode=
  "uniform")` or `TrainConfig(frozen=("attention",))`.

  Args:
    model: the classifier.
    params: its parameters, optionally stacked on a leading seed axis.
    tokens: <int32>[B, T]; lengths: <int32>[B].
    mode: one of `ABLATIONS`.
    key: PRNG key (required by "random" and "permute"); split per seed.

  Returns:
    (logits, aux) as `model.apply`, with a leading seed axis when params are
    stacked; `aux.attention` holds the weights that were used.

  References:
    Jain & Wallace (2019), "Attention is not Explanation", NAACL.
    Wiegreffe & Pinter (2019), "Attention is not not Explanation", EMNLP.
  """
  if mode not in ABLATIONS:
    raise ValueError(f"unknown ablation mode {mode!r}; allowed: {', '.join(ABLATIONS)}")
  if mode != "uniform" and key is None:
    raise ValueError(f"ablation mode {mode!r} needs a PRNG key")
  key = jax.random.key(0) if key is None else key
  tokens, lengths = jnp.asarray(tokens), jnp.asarray(lengths)
  return map_seeds(lambda p, k: _ablate_one(model, p, tokens, lengths, mode, k), params,
                   model=model, per_seed=(split_over_seeds(key, params, model),))
