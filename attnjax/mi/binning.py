"""Histogram (plug-in) estimator: the classic information-plane baseline."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from attnjax.mi import inputs
from attnjax.mi.blocks import default_block_size, map_row_blocks
from attnjax.mi.result import MIResult

STRATEGIES = ("equal_width", "equal_frequency")


def bin_columns(values, mask, bins: int, strategy: str):
  """Bin index of every entry, each column binned on its masked-in values.

  Args:
    values: <float32>[N, D].
    mask: <bool>[N].
    bins: bins per column.
    strategy: "equal_width" (between the column's min and max) or
      "equal_frequency" (between its quantiles).

  Returns:
    <int32>[N, D] in [0, bins).

  Example:
    bin_columns(jnp.array([[0.], [1.], [2.], [3.]]), jnp.ones(4, bool), 2,
                "equal_width") → [[0], [0], [1], [1]]
  """
  if strategy == "equal_width":
    lo = jnp.min(jnp.where(mask[:, None], values, jnp.inf), axis=0, keepdims=True)
    hi = jnp.max(jnp.where(mask[:, None], values, -jnp.inf), axis=0, keepdims=True)
    width = jnp.where(hi > lo, hi - lo, 1.0)
    index = jnp.floor((values - lo) / width * bins)
    return jnp.clip(index, 0, bins - 1).astype(jnp.int32)
  if strategy == "equal_frequency":
    levels = jnp.arange(1, bins) / bins
    edges = jnp.nanquantile(jnp.where(mask[:, None], values, jnp.nan), levels, axis=0)
    column_bins = jax.vmap(lambda e, v: jnp.searchsorted(e, v, side="right"), in_axes=1, out_axes=1)
    return column_bins(edges, values).astype(jnp.int32)
  raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")


def binning(x, y, *, mask=None, key=None, bins: int = 8, strategy: str = "equal_width",
            bias_correction: bool = False, block_size: int | None = None):
  """Plug-in estimate I = H(x̂) + H(ŷ) − H(x̂, ŷ) of binned x (and binned y if continuous).

  Each column of x is cut into `bins` bins; a cell is a tuple of bin indices,
  and cell frequencies are counted by comparing every sample with every other
  (in row blocks), so multivariate x needs no bins**D table. Discrete labels y
  are used as they are.

  Accuracy (measured, n = 4,000, 1-D correlated Gaussians, ρ = 0.8, I = 0.51,
  3 seeds): 8 equal-frequency bins give 0.44 (−14%, tested within 20%),
  16 give 0.50 (tested within 10%); coarse bins lose information, while the
  plug-in bias (≈ (cells_xy − cells_x − cells_y + 1) / 2n, removed by
  `bias_correction`) adds some. On discrete data whose values fall one per
  bin it equals the plug-in MI exactly (tested). In more dimensions most
  cells hold one sample and the estimate tends to H(ŷ): use it on
  low-dimensional projections only.

  Args:
    x: <float32>[N, Dx].
    y: <int32>[N] labels or <float32>[N, Dy].
    mask: <bool>[N] samples to use (default all).
    key: unused (the estimator is deterministic).
    bins: bins per continuous column.
    strategy: "equal_width" or "equal_frequency".
    bias_correction: add the Miller–Madow correction (cells − 1) / 2n to each
      entropy.
    block_size: query rows per block of the cell counts.

  Returns:
    `MIResult`; diagnostics: `h_x`, `h_y` (nats) and occupied `cells_x`,
    `cells_y`, `cells_xy`.

  References:
    Tishby & Zaslavsky (2015), "Deep learning and the information bottleneck
    principle"; Shwartz-Ziv & Tishby (2017), "Opening the Black Box of Deep
    Neural Networks via Information" (binned information planes);
    Miller (1955), "Note on the bias of information estimates".
  """
  del key
  mask = inputs.full_mask(x, mask)
  cells_x = bin_columns(jnp.asarray(x, jnp.float32), mask, bins, strategy)
  if inputs.is_discrete(y):
    cells_y = jnp.asarray(y, jnp.int32)[:, None]
  else:
    cells_y = bin_columns(jnp.asarray(y, jnp.float32), mask, bins, strategy)
  n = x.shape[0]

  def cell_counts(rows):
    same_x = jnp.all(cells_x[rows][:, None, :] == cells_x[None, :, :], axis=-1) & mask[None, :]
    same_y = jnp.all(cells_y[rows][:, None, :] == cells_y[None, :, :], axis=-1) & mask[None, :]
    return same_x.sum(1), same_y.sum(1), (same_x & same_y).sum(1)

  counts = map_row_blocks(cell_counts, n, block_size or default_block_size(n, 3))
  n_used = jnp.sum(mask)
  (h_x, cells_in_x), (h_y, cells_in_y), (h_xy, cells_in_xy) = (
      _entropy(c, mask, n_used, bias_correction) for c in counts)
  diagnostics = {"h_x": h_x, "h_y": h_y,
                 "cells_x": cells_in_x, "cells_y": cells_in_y, "cells_xy": cells_in_xy}
  return MIResult(h_x + h_y - h_xy, n_used.astype(jnp.int32),
                  jnp.asarray(jnp.inf, jnp.float32), diagnostics)


def _entropy(cell_count, mask, n_used, bias_correction):
  """Plug-in entropy from each sample's cell count, and the occupied cells."""
  n = jnp.maximum(n_used, 1).astype(jnp.float32)
  count = jnp.maximum(cell_count, 1).astype(jnp.float32)
  h = -jnp.sum(jnp.where(mask, jnp.log(count / n), 0.0)) / n
  cells = jnp.sum(jnp.where(mask, 1.0 / count, 0.0))
  if bias_correction:
    h = h + (cells - 1.0) / (2.0 * n)
  return h, cells
