"""Leave-one-out with the original's LSTM states reused equals the plain batched path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax import explain
from attnjax.models import AttentionClassifier, init_params

TOKENS = jnp.array([[3, 7, 12, 9, 15, 2, 6],
                    [5, 1, 4, 4, 8, 0, 0],
                    [2, 0, 0, 0, 0, 0, 0],
                    [13, 17, 0, 0, 0, 0, 0]], jnp.int32)
LENGTHS = jnp.array([7, 5, 1, 2], jnp.int32)


@pytest.mark.parametrize("encoder, mode, batch_copies, distance", [
    ("bilstm", "remove", 5, "tvd"),      # chunks that mix examples and positions
    ("bilstm", "mask", None, "logit"),   # all copies in one chunk
    ("lstm", "remove", 3, "logit"),      # forward runs only
])
def test_reused_states_equal_the_plain_path(encoder, mode, batch_copies, distance):
  model = AttentionClassifier(vocab_size=20, num_classes=3, embed_dim=6, hidden_dim=5,
                              attention_dim=6, encoder=encoder)
  keys = jax.random.split(jax.random.key(1), 2)
  stacked = jax.jit(jax.vmap(lambda k: init_params(model, k)))(keys)
  plain = explain.leave_one_out(model, stacked, TOKENS, LENGTHS, mode=mode, distance=distance,
                                batch_copies=batch_copies)
  reused = explain.leave_one_out(model, stacked, TOKENS, LENGTHS, mode=mode, distance=distance,
                                 batch_copies=batch_copies, reuse_states=True)
  assert reused.shape == (2, 4, 7)
  np.testing.assert_allclose(reused, plain, rtol=1e-5, atol=1e-7)
  assert np.all(np.asarray(reused)[:, np.arange(7)[None, :] >= np.asarray(LENGTHS)[:, None]] == 0)
  assert np.abs(np.asarray(plain)).max() > 1e-3


def test_reuse_states_needs_an_lstm():
  model = AttentionClassifier(vocab_size=20, num_classes=3, embed_dim=6, hidden_dim=5,
                              attention_dim=6, encoder="cnn")
  params = init_params(model, jax.random.key(0))
  with pytest.raises(ValueError, match="reuse_states needs an LSTM encoder.*got encoder 'cnn'"):
    explain.leave_one_out(model, params, TOKENS, LENGTHS, reuse_states=True)
