"""Test-wide JAX settings: CPU, no silent rank promotion, compiled programs freed per module."""

import gc

import jax
import pytest

jax.config.update("jax_platforms", "cpu")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
  """Drops JAX's compilation caches after each test module.

  Every compiled XLA:CPU executable holds ~7 memory mappings until its cache entry
  goes; the suite compiles thousands of programs, and one process past the kernel's
  `vm.max_map_count` (65,530 by default) segfaults inside the next compilation
  (seen in CI at ~86% of the suite). Clearing per module keeps the count bounded.
  """
  yield
  jax.clear_caches()
  gc.collect()
