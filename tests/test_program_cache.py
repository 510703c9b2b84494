"""Releasing compiled programs before the process runs out of memory mappings."""

import jax
import jax.numpy as jnp
import pytest

from attnjax import program_cache


def test_mapping_count_reads_this_process_and_the_limit():
  counts = program_cache.mapping_count()
  if counts is None:
    pytest.skip("no /proc/self/maps on this platform")
  count, limit = counts
  assert 0 < count < limit
  before = count
  programs = [jax.jit(lambda x, i=i: x * i) for i in range(20)]
  for f in programs:
    f(jnp.ones(3)).block_until_ready()
  assert program_cache.mapping_count()[0] > before  # each executable maps memory


def test_release_clears_compiled_programs_only_when_crowded():
  if program_cache.mapping_count() is None:
    pytest.skip("no /proc/self/maps on this platform")
  f = jax.jit(lambda x: x + 1)
  f(jnp.ones(3)).block_until_ready()
  assert f._cache_size() == 1
  assert not program_cache.release_if_crowded(1.0)  # far from the limit: kept
  assert f._cache_size() == 1
  assert program_cache.release_if_crowded(1e-9)  # "crowded": dropped, recompiled on next use
  assert f._cache_size() == 0
  assert float(f(jnp.ones(3))[0]) == 2.0


@pytest.mark.parametrize("fraction", [0.0, 1.5, -1])
def test_release_rejects_fractions_outside_0_1(fraction):
  with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]; got"):
    program_cache.release_if_crowded(fraction)
