"""Memory-bounded pairwise computations: queries taken in row blocks.

A statistic over all pairs of N samples (neighbour distances, same-cell counts)
is computed for a block of B query rows at a time against all N samples, with
`lax.map` over the blocks, so memory is O(B·N) rather than O(N²) and shapes
stay static under `jit` and `vmap`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

# Entries one row block may hold: 2**23 float32 = 32 MiB per [B, N] array.
BLOCK_ELEMENTS = 1 << 23


def default_block_size(n: int, copies: int = 1) -> int:
  """Rows per block so that `copies` stacked [B, n] blocks fit BLOCK_ELEMENTS.

  `copies` counts the estimates computed side by side (e.g. positions under
  `vmap`), which multiply the memory of one block.

  Example:
    default_block_size(4096) → 2048; default_block_size(4096, copies=64) → 32
  """
  return max(1, min(n, BLOCK_ELEMENTS // max(1, n * copies)))


def map_row_blocks(fn, n: int, block_size: int):
  """Applies `fn(rows)` to blocks of row indices covering 0 … n-1.

  Args:
    fn: maps `rows <int32>[B]` to a pytree of arrays with leading axis B.
    n: number of rows.
    block_size: B. The last block is padded by repeating row n-1; the padded
      outputs are dropped.

  Returns:
    `fn`'s pytree with leading axis n.
  """
  blocks = -(-n // block_size)
  rows = jnp.minimum(jnp.arange(blocks * block_size), n - 1).reshape(blocks, block_size)
  out = lax.map(fn, rows)
  return jax.tree.map(lambda a: a.reshape((blocks * block_size,) + a.shape[2:])[:n], out)
