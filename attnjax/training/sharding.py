"""Sharding the seed axis across devices (a `Mesh` with one axis, "seed")."""

from __future__ import annotations

from typing import Any, Sequence

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec


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
