"""Instance-level MI (`explain.instance_position_mi`) against known truths: a model whose
output reads one position only, and a linear-Gaussian model whose I(h_t ; output) over the
perturbations is analytic. (The planted-token check is in `test_explain_planted.py`.)"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax import explain
from attnjax.models import AttentionClassifier
from attnjax.models.classifier import init_params

V, E, T = 12, 4, 10
MARKER = V - 1


def _params(model, **groups):
  params = jax.tree.map(np.asarray, init_params(model, jax.random.key(0)))
  for group, values in groups.items():
    params["params"][group] = values
  return jax.tree.map(jnp.asarray, params)


def _one_position_model():
  """Embedding encoder; the additive scorer puts all attention on the marker token (its
  embedding's first coordinate is 10, every other token's 0, noise σ = 1), and the readout
  reads the other coordinates: the output depends on the marker's position alone."""
  model = AttentionClassifier(vocab_size=V, num_classes=2, embed_dim=E, hidden_dim=E,
                              attention_dim=E, encoder="embedding")
  embedding = np.random.default_rng(0).normal(0, 1, (V, E)).astype(np.float32)
  embedding[:, 0] = 0.0
  embedding[MARKER, 0] = 10.0
  kernel = np.zeros((E, E), np.float32)
  kernel[0, 0] = 1.0  # tanh(h_0 − 5): +1 on the marker, −1 elsewhere
  readout = np.zeros((E, 2), np.float32)
  readout[1:] = [[-0.3, 1.0], [0.8, -0.5], [0.2, 0.7]]
  return model, _params(
      model, embedding={"embedding": embedding},
      attention={"W": {"kernel": kernel, "bias": np.full(E, -5.0, np.float32)},
                 "v": {"kernel": np.full((E, 1), 30.0 / E, np.float32)}},
      output_layer={"kernel": readout, "bias": np.zeros(2, np.float32)})


def test_instance_mi_peaks_where_the_output_reads_in_every_example():
  model, params = _one_position_model()
  rng = np.random.default_rng(1)
  lengths = rng.integers(4, T + 1, 16)
  tokens = np.where(np.arange(T)[None] < lengths[:, None], rng.integers(2, MARKER, (16, T)), 0)
  marker = np.array([rng.integers(0, n) for n in lengths])
  tokens[np.arange(16), marker] = MARKER
  _, aux = model.apply(params, jnp.asarray(tokens), jnp.asarray(lengths))
  assert float(np.asarray(aux.attention)[np.arange(16), marker].min()) > 0.999
  scores = np.asarray(explain.instance_position_mi(model, params, tokens, lengths,
                                                   key=jax.random.key(0)))
  np.testing.assert_array_equal(scores.argmax(1), marker)  # shifted positions would fail
  others = np.where(np.arange(T)[None] == marker[:, None], np.nan, scores)
  real = np.arange(T)[None] < lengths[:, None]
  assert scores[np.arange(16), marker].min() > 0.8  # a constant output would give ≈ 0
  assert np.nanmax(np.where(real, others, np.nan)) < 0.3
  assert np.all(scores[~real] == 0)


@pytest.mark.parametrize("length", [2, 4, 8])
def test_instance_mi_equals_the_linear_gaussian_closed_form(length):
  """Embedding encoder, uniform attention, linear readout, Gaussian noise σ on every
  embedding: Δ = logit₁ − logit₀ = (1/L) Σ_s w·h_s with w·h_s ~ N(w·e_s, σ²|w|²)
  independent, and the readout projection of h_t carries h_t's part through w·h_t only, so
  I(W h_t ; p) = I(w·h_t ; Δ) = ½ log(L / (L − 1)) whatever σ and w (p is invertible in Δ;
  weights small enough that p never saturates). KSG at K = 512 copies reads it within
  0.04 nats, averaged over positions and 8 examples."""
  model = AttentionClassifier(vocab_size=V, num_classes=2, embed_dim=E, hidden_dim=E,
                              attention_dim=E, encoder="embedding", attention_mode="uniform")
  readout = np.random.default_rng(2).normal(0, 0.05, (E, 2)).astype(np.float32)
  params = _params(model, output_layer={"kernel": readout, "bias": np.zeros(2, np.float32)})
  rng = np.random.default_rng(3)
  tokens = np.where(np.arange(8)[None] < length, rng.integers(2, V, (8, 8)), 0)
  lengths = np.full(8, length)
  truth = 0.5 * np.log(length / (length - 1))
  for output in ("probs", "confidence"):
    scores = np.asarray(explain.instance_position_mi(
        model, params, tokens, lengths, key=jax.random.key(1), num_samples=512, output=output))
    assert abs(scores[:, :length].mean() - truth) < 0.04, (output, scores[:, :length].mean())
    assert np.all(scores[:, length:] == 0)
