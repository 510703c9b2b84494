"""Test-wide JAX settings: CPU, and no silent rank promotion."""

import jax

jax.config.update("jax_platforms", "cpu")
jax.config.update("jax_numpy_rank_promotion", "raise")
