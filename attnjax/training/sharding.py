"""Sharding the seed axis across devices (a `Mesh` with one axis, "seed").

On a CPU-only machine JAX shows one device, whose operations share the cores
through an intra-op thread pool. `use_cpu_devices(n)` exposes n CPU devices
instead (typically one per core); `train` then splits the seeds over them, and
each device runs its share of the seeds as its own program. On 2 cores, 8 seeds
train ≈ 1.1–1.2× faster than on one device (benchmarks/README.md). Per-seed
numbers equal the one-device run to float32 round-off, not bit for bit.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def use_cpu_devices(count: int) -> None:
  """Exposes `count` CPU devices, so that `train` shards seeds over them.

  Must run before JAX computes anything (JAX fixes its devices when it starts);
  afterwards it is accepted only if JAX already has `count` CPU devices.

  Args:
    count: number of CPU devices, >= 1; the number of cores is a good choice.

  Raises:
    ValueError: `count` is not a positive integer, or JAX has already started
      with a different number of CPU devices.
  """
  if isinstance(count, bool) or not isinstance(count, int) or count < 1:
    raise ValueError(f"count must be a positive integer number of CPU devices, got {count!r}")
  try:
    jax.config.update("jax_num_cpu_devices", count)
  except RuntimeError:  # JAX has started; fine if it already has `count` CPU devices.
    current = len(jax.devices("cpu"))
    if current != count:
      raise ValueError(f"cannot expose {count} CPU devices: JAX has already started with "
                       f"{current}; call use_cpu_devices (or pass --cpu-devices) before "
                       "any JAX computation") from None


def seed_mesh(num_seeds: int, devices: Sequence[Any] | None = None) -> Mesh | None:
  """A 1-D mesh over the most devices that divide `num_seeds` evenly.

  Returns None when that is a single device (nothing to shard).
  """
  devices = list(jax.devices() if devices is None else devices)
  count = max(d for d in range(1, len(devices) + 1) if num_seeds % d == 0)
  if count == 1:
    return None
  return Mesh(devices[:count], ("seed",))


def shard_seeds(mesh: Mesh | None, tree):
  """Places every leaf of `tree` split along its leading (seed) axis."""
  if mesh is None:
    return tree
  return jax.device_put(tree, NamedSharding(mesh, PartitionSpec("seed")))


def replicate(mesh: Mesh | None, tree):
  """Places every leaf of `tree` whole on every device of `mesh`."""
  if mesh is None:
    return tree
  return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))
