"""How peaked is an attention distribution? Per-example statistics over real positions."""

from __future__ import annotations

import jax.numpy as jnp


def attention_statistics(attention, mask=None, *, top_k: int = 3) -> dict:
  """Entropy, max weight, Gini, top-k mass and spread of each attention row.

  Args:
    attention: <float32>[..., T] weights summing to 1 over real positions.
    mask: optional <bool>[..., T] real positions (default: all).
    top_k: k of the top-k mass.

  Returns:
    dict of <float32>[...] arrays:
      "entropy": −Σ a log a (nats);
      "normalized_entropy": entropy / log(L) (1 = uniform; 0 when L = 1);
      "max": the largest weight;
      "gini": Gini coefficient Σ_ij |a_i − a_j| / (2 L Σ a) (0 = uniform);
      "top_k_mass": total weight of the k largest;
      "spread": max − min over real positions (0 = all equal).
  """
  attention = jnp.asarray(attention, jnp.float32)
  m = jnp.ones(attention.shape, bool) if mask is None else jnp.broadcast_to(mask, attention.shape)
  a = jnp.where(m, attention, 0.0)
  length = m.sum(-1)
  entropy = -jnp.where(a > 0, a * jnp.log(jnp.where(a > 0, a, 1.0)), 0.0).sum(-1)
  log_length = jnp.log(jnp.maximum(length, 1))
  pair = m[..., :, None] & m[..., None, :]
  gini = (jnp.abs(a[..., :, None] - a[..., None, :]) * pair).sum((-2, -1)) / (
      2 * jnp.maximum(length, 1) * jnp.maximum(a.sum(-1), 1e-30))
  top = -jnp.sort(-a, axis=-1)[..., :top_k].sum(-1)
  high = jnp.where(m, a, -jnp.inf).max(-1)
  low = jnp.where(m, a, jnp.inf).min(-1)
  return {
      "entropy": entropy,
      "normalized_entropy": jnp.where(length > 1, entropy / jnp.where(length > 1, log_length, 1),
                                      0.0),
      "max": high,
      "gini": gini,
      "top_k_mass": top,
      "spread": high - low,
  }
