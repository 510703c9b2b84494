"""What the benchmark scripts share: a median wall time and the machine's CPU model."""

from __future__ import annotations

import platform
import statistics
import time
from pathlib import Path

import jax


def median_time(fn, repeats: int) -> float:
  """Median wall time of `repeats` calls of `fn` (results blocked on), after one warm-up."""
  jax.block_until_ready(fn())
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def cpu_model() -> str:
  """The CPU's model name (/proc/cpuinfo), else `platform.processor()`."""
  try:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
      if line.startswith("model name"):
        return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor()
