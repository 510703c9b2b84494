"""Gradient explainers: gradient norm, input × gradient and integrated gradients.

All three differentiate ŷ_target — by default the target-class probability
softmax(logits)[target], the output Jain & Wallace differentiate; `output="logit"`
uses the raw logit instead — with respect to the input embeddings e_t
(<float32>[B, T, E], fed to the model through its `embedded=` argument). Examples
are independent, so one backward pass of Σ_b ŷ_b gives every example's gradient.

`detach_attention` (gradient, input × gradient): with True (the default, as
Jain & Wallace) the model's attention weights are computed first and passed
back through the external-attention hook under `jax.lax.stop_gradient`, so the
gradient flows only through the attended vectors `hidden` (the encoder), not
through the weights; with False it is the full gradient of the model, attention
included. Integrated gradients always differentiate the whole model, since
completeness holds only for the model's own function.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from attnjax.checks import check_choice
from attnjax.explain.inputs_and_target import (OUTPUTS, check_inputs, mask_padding,
                                               resolve_target, target_output)
from attnjax.models.encoders import sequence_mask
from attnjax.models.seeds import map_seeds

BASELINES = ("pad", "zeros")


def gradient(model, params, tokens, lengths, *, target=None, detach_attention: bool = True,
             output: str = "probability"):
  """Gradient norm ‖∂ŷ_target/∂e_t‖₂ per position.

  Args:
    model: the `AttentionClassifier`.
    params: its parameters; stacked on a leading seed axis S gives [S, B, T].
    tokens: <int32>[B, T] token ids.
    lengths: <int32>[B] real lengths.
    target: None (explain the predicted class) or <int32>[B] class ids.
    detach_attention: stop the gradient at the attention weights (see the
      module docstring); False differentiates through them too.
    output: ŷ, "probability" or "logit".

  Returns:
    <float32>[B, T] (or [S, B, T]) non-negative scores, exactly 0 on padding.

  References:
    Simonyan, Vedaldi & Zisserman (2014), "Deep Inside Convolutional Networks:
    Visualising Image Classification Models and Saliency Maps", ICLR workshop.
    Jain & Wallace (2019), "Attention is not Explanation", NAACL.
  """
  tokens, lengths, target = check_inputs(model, params, tokens, lengths, target)
  check_choice("output", output, OUTPUTS)
  return _gradient(model, params, tokens, lengths, target, detach_attention=bool(detach_attention),
                   output=output, kind="norm")


def input_x_gradient(model, params, tokens, lengths, *, target=None,
                     detach_attention: bool = True, absolute: bool = False,
                     output: str = "probability"):
  """Input × gradient e_t · ∂ŷ_target/∂e_t per position (summed over the embedding).

  Args:
    model, params, tokens, lengths, target, detach_attention, output: as
      `gradient`.
    absolute: return |e_t · ∂ŷ/∂e_t| instead of the signed value.

  Returns:
    <float32>[B, T] (or [S, B, T]) scores, exactly 0 on padding; signed
    unless `absolute`.

  References:
    Shrikumar, Greenside, Shcherbina & Kundaje (2016), "Not Just a Black Box:
    Learning Important Features Through Propagating Activation Differences",
    arXiv:1605.01713.
  """
  tokens, lengths, target = check_inputs(model, params, tokens, lengths, target)
  check_choice("output", output, OUTPUTS)
  return _gradient(model, params, tokens, lengths, target, detach_attention=bool(detach_attention),
                   output=output, kind="absolute" if absolute else "signed")


def integrated_gradients(model, params, tokens, lengths, *, target=None, steps: int = 32,
                         baseline: str = "pad", output: str = "probability",
                         batch_steps: int = 16, absolute: bool = False, pad_id: int = 0):
  """Integrated gradients along the straight path from a baseline embedding.

  attribution_t = (e_t − e'_t) · ∫₀¹ ∂ŷ/∂e_t(e' + α(e − e')) dα, the integral by
  the trapezoid rule on `steps` intervals (steps + 1 gradient evaluations).
  The baseline differs from the input only at real positions; lengths are
  unchanged. Completeness: Σ_t attribution_t ≈ ŷ(e) − ŷ(e'), up to the
  trapezoid error, O(1 / steps²).

  The path points are evaluated `batch_steps` at a time (`jax.vmap`), the
  batches one after another in a `lax.scan` that accumulates the weighted
  gradient, so memory is about `batch_steps` backward passes whatever `steps`.

  Args:
    model, params, tokens, lengths, target, output: as `gradient`; the target
      (the predicted class when None) is fixed at the input, not re-chosen
      along the path.
    steps: number of trapezoid intervals, ≥ 1.
    baseline: e' at real positions: "pad" (the embedding of `pad_id`) or
      "zeros" (the zero vector).
    batch_steps: path points per vmapped batch, ≥ 1.
    absolute: return |attribution| instead of the signed value.
    pad_id: the padding token id (0 by convention).

  Returns:
    <float32>[B, T] (or [S, B, T]) attributions, exactly 0 on padding.

  References:
    Sundararajan, Taly & Yan (2017), "Axiomatic Attribution for Deep Networks",
    ICML.
  """
  tokens, lengths, target = check_inputs(model, params, tokens, lengths, target)
  check_choice("output", output, OUTPUTS)
  check_choice("baseline", baseline, BASELINES)
  for name, value in (("steps", steps), ("batch_steps", batch_steps)):
    if int(value) != value or value < 1:
      raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
  return _integrated_gradients(model, params, tokens, lengths, target, steps=int(steps),
                               baseline=baseline, output=output, batch_steps=int(batch_steps),
                               absolute=bool(absolute), pad_id=int(pad_id))


def _output_fn(model, params, tokens, lengths, target_B, output, attention_BxT=None):
  """ŷ_target <float32>[B] as a function of the input embeddings [B, T, E]."""
  def output_of(embedded_BxTxE):
    logits_BxC, _ = model.apply(params, tokens, lengths, embedded=embedded_BxTxE,
                                attention=attention_BxT)
    return target_output(logits_BxC, target_B, output)
  return output_of


def _embedding_gradient(output_of, embedded_BxTxE):
  """∂ŷ_b/∂e_b for every example b: one pullback of ones, examples being independent."""
  values_B, pullback = jax.vjp(output_of, embedded_BxTxE)
  return pullback(jnp.ones_like(values_B))[0]


@functools.partial(jax.jit, static_argnames=("model", "detach_attention", "output", "kind"))
def _gradient(model, params, tokens, lengths, target, *, detach_attention, output, kind):
  def one_seed(p):
    logits_BxC, aux = model.apply(p, tokens, lengths)
    attention_BxT = jax.lax.stop_gradient(aux.attention) if detach_attention else None
    output_of = _output_fn(model, p, tokens, lengths, resolve_target(target, logits_BxC), output,
                           attention_BxT)
    embedded_BxTxE = model.apply(p, tokens, method=model.embed)
    grads_BxTxE = _embedding_gradient(output_of, embedded_BxTxE)
    if kind == "norm":
      scores_BxT = jnp.sqrt(jnp.sum(grads_BxTxE ** 2, axis=-1))
    else:
      scores_BxT = jnp.sum(embedded_BxTxE * grads_BxTxE, axis=-1)
      scores_BxT = jnp.abs(scores_BxT) if kind == "absolute" else scores_BxT
    return mask_padding(scores_BxT, lengths)
  return map_seeds(one_seed, params, model=model)


def trapezoid_batches(steps: int, batch_steps: int):
  """Trapezoid nodes α and weights on [0, 1], split into equal batches.

  Args:
    steps: intervals; the nodes are k / steps, k = 0 … steps.
    batch_steps: most nodes per batch.

  Returns:
    (alphas, weights), each <float32>[num_batches, size] with the fewest
    batches of at most `batch_steps` nodes; filler nodes have weight 0.

  Example:
    >>> alphas, weights = trapezoid_batches(2, 2)
    >>> alphas.tolist(), weights.tolist()
    ([[0.0, 0.5], [1.0, 0.0]], [[0.25, 0.5], [0.25, 0.0]])
  """
  nodes = steps + 1
  num_batches = math.ceil(nodes / batch_steps)
  size = math.ceil(nodes / num_batches)
  index = np.arange(num_batches * size)
  weights = np.where(index < nodes, 1.0 / steps, 0.0)
  weights[[0, steps]] *= 0.5
  alphas = np.where(index < nodes, index / steps, 0.0)
  return (jnp.asarray(alphas.reshape(num_batches, size), jnp.float32),
          jnp.asarray(weights.reshape(num_batches, size), jnp.float32))


@functools.partial(jax.jit, static_argnames=("model", "steps", "baseline", "output",
                                             "batch_steps", "absolute", "pad_id"))
def _integrated_gradients(model, params, tokens, lengths, target, *, steps, baseline, output,
                          batch_steps, absolute, pad_id):
  alphas_NxK, weights_NxK = trapezoid_batches(steps, batch_steps)

  def one_seed(p):
    logits_BxC, _ = model.apply(p, tokens, lengths)
    output_of = _output_fn(model, p, tokens, lengths, resolve_target(target, logits_BxC), output)
    embedded_BxTxE = model.apply(p, tokens, method=model.embed)
    baseline_BxTxE = baseline_embedding(model, p, tokens, lengths, baseline, pad_id)
    delta_BxTxE = embedded_BxTxE - baseline_BxTxE

    def batch(total_BxTxE, nodes):
      alphas_K, weights_K = nodes
      grads_KxBxTxE = jax.vmap(
          lambda a: _embedding_gradient(output_of, baseline_BxTxE + a * delta_BxTxE))(alphas_K)
      return total_BxTxE + jnp.einsum("k,kbte->bte", weights_K, grads_KxBxTxE), None

    mean_grad_BxTxE, _ = jax.lax.scan(batch, jnp.zeros_like(embedded_BxTxE),
                                      (alphas_NxK, weights_NxK))
    scores_BxT = jnp.sum(delta_BxTxE * mean_grad_BxTxE, axis=-1)
    return mask_padding(jnp.abs(scores_BxT) if absolute else scores_BxT, lengths)
  return map_seeds(one_seed, params, model=model)


def baseline_embedding(model, params, tokens, lengths, baseline: str = "pad", pad_id: int = 0):
  """The integrated-gradients baseline e' <float32>[B, T, E] of one seed's params.

  At real positions the embedding of `pad_id` ("pad") or 0 ("zeros"); at padded
  positions the input's own embedding, so the path moves real positions only.
  """
  check_choice("baseline", baseline, BASELINES)
  embedded_BxTxE = model.apply(params, tokens, method=model.embed)
  if baseline == "pad":
    replacement = model.apply(params, jnp.full_like(tokens, pad_id), method=model.embed)
  else:
    replacement = jnp.zeros_like(embedded_BxTxE)
  mask_BxTx1 = sequence_mask(lengths, tokens.shape[1])[..., None]
  return jnp.where(mask_BxTx1, replacement, embedded_BxTxE)
