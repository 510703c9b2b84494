"""Keeping a long-lived process's compiled XLA programs within the kernel's limits.

Every compiled XLA:CPU executable holds a handful of memory mappings (~7, measured)
for as long as a JAX cache keeps it. A process that compiles thousands of programs (a
full `reproduce` over many cells and corpora, a test suite) can pass Linux's
`vm.max_map_count` (65,530 by default), after which the next compilation segfaults
inside LLVM. `release_if_crowded` drops JAX's caches when the process nears the limit;
what it drops is recompiled on next use, and no number changes.
"""

from __future__ import annotations

import gc
from pathlib import Path

import jax

_MAPS = Path("/proc/self/maps")
_LIMIT = Path("/proc/sys/vm/max_map_count")


def mapping_count() -> tuple[int, int] | None:
  """(memory mappings this process holds, the kernel's limit), or None off Linux."""
  try:
    with _MAPS.open("rb") as maps:
      count = sum(1 for _ in maps)
    return count, int(_LIMIT.read_text())
  except (OSError, ValueError):
    return None


def release_if_crowded(fraction: float = 0.5) -> bool:
  """Clears JAX's compilation caches when mappings exceed `fraction` of the limit.

  Returns whether it cleared them. A no-op where the counts cannot be read.
  """
  if not 0 < fraction <= 1:
    raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}")
  counts = mapping_count()
  if counts is None or counts[0] <= fraction * counts[1]:
    return False
  jax.clear_caches()
  gc.collect()
  return True
