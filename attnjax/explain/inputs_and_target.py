"""The explainers' shared inputs and target: input checks, the class and output ŷ explained.

Every explainer takes the arguments `model.apply(params, tokens, lengths)` takes
plus `target`, checks them here (`check_inputs`, eagerly, with clear
`ValueError`s), explains the target class (`resolve_target`: the given one or
the predicted one) through its output ŷ (`target_output`, `OUTPUTS`), runs one
example-batched computation per seed, and returns scores exactly 0 on padding
(`mask_padding`). Stacked parameters (a leading seed axis) go through
`attnjax.models.seeds.map_seeds`, a `jax.vmap`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from attnjax.checks import check_choice, is_concrete
from attnjax.models.classifier import AttentionClassifier, check_params
from attnjax.models.encoders import sequence_mask
from attnjax.models.seeds import num_seeds

__all__ = ["OUTPUTS", "check_choice", "check_inputs", "mask_padding", "resolve_target",
           "target_output"]

OUTPUTS = ("probability", "logit")
"""What ŷ_target means for the gradient methods: softmax probability or raw logit."""


def check_inputs(model: AttentionClassifier, params, tokens, lengths, target=None):
  """Validates an explainer's inputs.

  Args:
    model: the classifier.
    params: its parameters, optionally stacked on a leading seed axis.
    tokens: <int32>[B, T] token ids.
    lengths: <int32>[B] real lengths in [1, T].
    target: None, or an int scalar / <int32>[B] class ids in [0, C).

  Returns:
    (tokens <int32>[B, T], lengths <int32>[B], target <int32>[B] or None).

  Raises:
    ValueError: a wrong model type, params that do not fit the model, a wrong
      shape or dtype, a length outside [1, T], a token id outside [0, V), or
      a target outside [0, C) (values are checked only when concrete, i.e.
      outside the caller's `jit`).
  """
  if not isinstance(model, AttentionClassifier):
    raise ValueError(f"model must be an AttentionClassifier, got {type(model).__name__}")
  try:
    num_seeds(params)  # reads the embedding table: a {'params': {...}} tree
  except (KeyError, TypeError) as error:
    raise ValueError("params must be the classifier's parameters {'params': {...}}") from error
  check_params(model, params)
  tokens, lengths = jnp.asarray(tokens), jnp.asarray(lengths)
  if tokens.ndim != 2 or not jnp.issubdtype(tokens.dtype, jnp.integer):
    raise ValueError(f"tokens must be integer [B, T], got {tokens.dtype} {tokens.shape}")
  batch, max_length = tokens.shape
  if lengths.shape != (batch,) or not jnp.issubdtype(lengths.dtype, jnp.integer):
    raise ValueError(f"lengths must be integer [B]={batch,}, got {lengths.dtype} {lengths.shape}")
  if is_concrete(lengths) and batch and not (
      1 <= int(lengths.min()) and int(lengths.max()) <= max_length):
    raise ValueError(f"lengths must lie in [1, T={max_length}], got range "
                     f"[{int(lengths.min())}, {int(lengths.max())}]")
  if is_concrete(tokens) and tokens.size and not (
      0 <= int(tokens.min()) and int(tokens.max()) < model.vocab_size):
    raise ValueError(f"tokens must be ids in [0, vocab_size={model.vocab_size}), got range "
                     f"[{int(tokens.min())}, {int(tokens.max())}]")
  if target is not None:
    target = jnp.asarray(target)
    if not jnp.issubdtype(target.dtype, jnp.integer) or target.ndim > 1 or (
        target.ndim == 1 and target.shape != (batch,)):
      raise ValueError(f"target must be None or integer class ids [B]={batch,}, got "
                       f"{target.dtype} {target.shape}")
    if is_concrete(target) and target.size and not (
        0 <= int(target.min()) and int(target.max()) < model.num_classes):
      raise ValueError(f"target class ids must lie in [0, C={model.num_classes}), got range "
                       f"[{int(target.min())}, {int(target.max())}]")
    target = jnp.broadcast_to(target, (batch,)).astype(jnp.int32)
  return tokens.astype(jnp.int32), lengths.astype(jnp.int32), target


def resolve_target(target_B, logits_BxC):
  """The given classes, or the predicted ones (argmax of the logits) when `target` is None."""
  return jnp.argmax(logits_BxC, axis=-1) if target_B is None else target_B


def target_output(logits_BxC, target_B, output: str):
  """ŷ_target per example.

  Args:
    logits_BxC: <float32>[B, C].
    target_B: <int32>[B].
    output: "probability" (softmax(logits)[target], Jain & Wallace's ŷ) or
      "logit" (logits[target]).

  Returns:
    <float32>[B].
  """
  values = jax.nn.softmax(logits_BxC, axis=-1) if output == "probability" else logits_BxC
  return jnp.take_along_axis(values, target_B[:, None], axis=1)[:, 0]


def mask_padding(scores_BxT, lengths_B):
  """`scores` with padded positions set to exactly 0."""
  mask_BxT = sequence_mask(lengths_B, scores_BxT.shape[1])
  return jnp.where(mask_BxT, scores_BxT, 0.0).astype(jnp.float32)
