"""Partial correlation: how two per-example statistics move together once a third is discounted.

Finding iii asks whether attention spread and τ(attention, MI) rise together; both also
fall with the example's length. `partial_correlation` removes a smooth function of the
confound (a polynomial in it, by least squares) from both and correlates what is left.
Unlike Kendall's partial τ (`attnjax.analysis.partial_tau`), which stays well above 0 when
two statistics share a strong monotone dependence on the confound and nothing else
(`tests/test_verdicts.py`), the residual correlation is ≈ 0 then, whenever the
polynomial can follow the dependence.
"""

from __future__ import annotations

import numpy as np


def partial_correlation(x, y, z, *, degree: int = 3, mask=None) -> np.ndarray:
  """Pearson correlation of x and y after a degree-d polynomial in z is regressed out of both.

  Args:
    x, y, z: <float>[..., N] values (e.g. one row per seed, N examples).
    degree: the polynomial's degree in z (standardised within each row); 1 gives the classic
      first-order partial correlation (r_xy − r_xz r_yz) / √((1 − r_xz²)(1 − r_yz²)).
    mask: optional <bool>[..., N], the values to use (non-finite values are left out too).

  Returns:
    <float64>[...]; NaN where a row has fewer than degree + 3 usable values or a residual is
    constant.
  """
  if int(degree) != degree or degree < 0:
    raise ValueError(f"degree must be an integer >= 0, got {degree!r}")
  x, y, z = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (x, y, z)))
  keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
  if mask is not None:
    keep &= np.broadcast_to(np.asarray(mask, bool), keep.shape)
  out = np.full(x.shape[:-1], np.nan)
  for index in np.ndindex(out.shape):  # rows are seeds: a handful, on the host
    k = keep[index]
    if k.sum() < degree + 3:
      continue
    zz = z[index][k]
    zz = (zz - zz.mean()) / (zz.std() or 1.0)
    basis = np.vander(zz, degree + 1)
    residual = lambda v: v - basis @ np.linalg.lstsq(basis, v, rcond=None)[0]
    rx, ry = residual(x[index][k]), residual(y[index][k])
    norm = np.sqrt((rx @ rx) * (ry @ ry))
    if norm > 1e-12 * max(1.0, np.abs(x[index][k]).max() * np.abs(y[index][k]).max()):
      out[index] = (rx @ ry) / norm
  return out
