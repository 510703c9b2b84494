"""Counterfactual (adversarial) attention: very different weights, (almost) the same output."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from attnjax.explain.inputs_and_target import check_inputs
from attnjax.models.attention import masked_softmax
from attnjax.models.encoders import sequence_mask
from attnjax.models.seeds import map_seeds


class CounterfactualAttention(NamedTuple):
  """What `counterfactual_attention` returns (a leading S axis with stacked params).

  Attributes:
    attention: <float32>[B, T] adversarial weights, 0 on padding, rows summing to 1.
    jsd: <float32>[B] Jensen–Shannon divergence (nats, ≤ ln 2) from the learned attention.
    tvd: <float32>[B] total variation distance of the output distribution, ≤ `max_tvd`.
  """
  attention: jax.Array
  jsd: jax.Array
  tvd: jax.Array


def counterfactual_attention(model, params, tokens, lengths, *, max_tvd: float = 0.01,
                             steps: int = 200, learning_rate: float = 0.1,
                             penalty: float = 100.0, init_scale: float = 1.0,
                             key=None) -> CounterfactualAttention:
  """Attention as far as possible from the learned one that keeps the prediction.

  Searches attention logits s <float32>[B, T] (weights α̃ = masked softmax(s)),
  fed to the model through its external-attention hook, maximising

      JSD(α̃, α) − penalty · max(0, TVD(p(α̃), p(α)) − max_tvd)

  with Adam, where α is the learned attention and p(·) the output distribution
  — Jain & Wallace's relaxed objective for one adversary. The penalty only
  steers the search; the constraint is then enforced by selection: every
  iterate is scored, and each example keeps its iterate of largest JSD among
  those with TVD ≤ `max_tvd` (the learned attention itself, JSD 0, when none
  is). So the returned weights always satisfy the constraint. Examples are
  independent and optimised together (one vectorised objective; Adam is
  element-wise). The start is s = learned scores + `init_scale`·N(0, 1) noise,
  since JSD has zero gradient at α̃ = α.

  Args:
    model: the `AttentionClassifier` (its normaliser's deterministic weights
      are the learned attention).
    params: its parameters; stacked on a leading seed axis S gives S results.
    tokens: <int32>[B, T] token ids.
    lengths: <int32>[B] real lengths.
    max_tvd: the largest allowed output change ε ≥ 0 (total variation).
    steps: Adam steps, ≥ 1.
    learning_rate: Adam step size on the attention logits.
    penalty: weight λ of the constraint violation in the objective.
    init_scale: standard deviation of the starting noise.
    key: PRNG key of the starting noise (default `jax.random.key(0)`).

  Returns:
    `CounterfactualAttention(attention [B, T], jsd [B], tvd [B])`.

  References:
    Jain & Wallace (2019), "Attention is not Explanation", NAACL, §4.2.2
    (adversarial attention).
    Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR.
  """
  tokens, lengths, _ = check_inputs(model, params, tokens, lengths)
  if int(steps) != steps or steps < 1:
    raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
  if not max_tvd >= 0:
    raise ValueError(f"max_tvd must be >= 0, got {max_tvd!r}")
  for name, value in (("learning_rate", learning_rate), ("init_scale", init_scale)):
    if not value > 0:
      raise ValueError(f"{name} must be > 0, got {value!r}")
  if not penalty >= 0:
    raise ValueError(f"penalty must be >= 0, got {penalty!r}")
  key = jax.random.key(0) if key is None else key
  return _counterfactual(model, params, tokens, lengths, key, max_tvd=float(max_tvd),
                         steps=int(steps), learning_rate=float(learning_rate),
                         penalty=float(penalty), init_scale=float(init_scale))


def jensen_shannon(p_BxT, q_BxT):
  """Jensen–Shannon divergence in nats between the rows of two distributions.

  JSD(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m), m = ½(p + q); 0 ≤ JSD ≤ ln 2. Zero
  entries (padding) contribute 0, with finite gradients.

  Args:
    p_BxT: <float32>[B, T] rows summing to 1.
    q_BxT: <float32>[B, T] rows summing to 1.

  Returns:
    <float32>[B].

  References:
    Lin (1991), "Divergence Measures Based on the Shannon Entropy", IEEE Trans.
    Information Theory.
  """
  m_BxT = 0.5 * (p_BxT + q_BxT)

  def kl_to_m(x_BxT):
    positive = x_BxT > 0
    ratio = jnp.where(positive, x_BxT, 1.0) / jnp.where(positive, m_BxT, 1.0)
    return jnp.sum(jnp.where(positive, x_BxT * jnp.log(ratio), 0.0), axis=-1)
  return 0.5 * kl_to_m(p_BxT) + 0.5 * kl_to_m(q_BxT)


def total_variation(p_BxC, q_BxC):
  """½ Σ_c |p_c − q_c| per row: <float32>[B]."""
  return 0.5 * jnp.sum(jnp.abs(p_BxC - q_BxC), axis=-1)


@functools.partial(jax.jit, static_argnames=("model", "max_tvd", "steps", "learning_rate",
                                             "penalty", "init_scale"))
def _counterfactual(model, params, tokens, lengths, key, *, max_tvd, steps, learning_rate,
                    penalty, init_scale):
  mask_BxT = sequence_mask(lengths, tokens.shape[1])
  optimizer = optax.adam(learning_rate)

  def one_seed(p):
    logits_BxC, aux = model.apply(p, tokens, lengths)
    learned_BxT = aux.attention
    probs_BxC = jax.nn.softmax(logits_BxC, axis=-1)

    def measure(scores_BxT):
      attention_BxT = masked_softmax(scores_BxT, mask_BxT)
      new_logits, _ = model.apply(p, tokens, lengths, attention=attention_BxT)
      tvd_B = total_variation(jax.nn.softmax(new_logits, axis=-1), probs_BxC)
      jsd_B = jensen_shannon(attention_BxT, learned_BxT)
      return -jnp.sum(jsd_B - penalty * jax.nn.relu(tvd_B - max_tvd)), (attention_BxT, jsd_B,
                                                                          tvd_B)

    def keep_best(best, measured):
      attention_BxT, jsd_B, tvd_B = measured
      better_B = (tvd_B <= max_tvd) & (jsd_B > best.jsd)
      return CounterfactualAttention(
          attention=jnp.where(better_B[:, None], attention_BxT, best.attention),
          jsd=jnp.where(better_B, jsd_B, best.jsd), tvd=jnp.where(better_B, tvd_B, best.tvd))

    def step(carry, _):
      scores_BxT, opt_state, best = carry
      (_, measured), grads = jax.value_and_grad(measure, has_aux=True)(scores_BxT)
      updates, opt_state = optimizer.update(grads, opt_state, scores_BxT)
      return (optax.apply_updates(scores_BxT, updates), opt_state,
              keep_best(best, measured)), None

    start_BxT = aux.scores + init_scale * jax.random.normal(key, aux.scores.shape)
    learned = CounterfactualAttention(attention=learned_BxT, jsd=jnp.zeros(tokens.shape[:1]),
                                      tvd=jnp.zeros(tokens.shape[:1]))
    (scores_BxT, _, best), _ = jax.lax.scan(
        step, (start_BxT, optimizer.init(start_BxT), learned), None, length=steps)
    return keep_best(best, measure(scores_BxT)[1])
  return map_seeds(one_seed, params, model=model)
