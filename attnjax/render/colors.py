"""One colour scale for token scores, shared by the web page and the figure.

Each method's scores are scaled by the largest |score| of that row (`normalise`), so
every row spans [-1, 1] whatever its units; positive values are orange, negative
ones blue, the opacity grows with |value|, and an undefined score is grey.
"""

from __future__ import annotations

import numpy as np

POSITIVE = (230, 97, 1)
NEGATIVE = (33, 102, 172)
UNDEFINED = (190, 190, 190)
MAX_ALPHA = 0.85


def normalise(scores) -> np.ndarray:
  """<float64>[L] `scores` / max |finite score| (NaN stays NaN; an all-zero row stays 0).

  None is read as NaN, so a JSON row can be passed as it is."""
  values = np.asarray([np.nan if v is None else v for v in np.ravel(scores).tolist()],
                      np.float64)
  finite = np.isfinite(values)
  top = np.abs(values[finite]).max() if finite.any() else 0.0
  return values / top if top > 0 else np.where(finite, 0.0, np.nan)


def rgba(value: float) -> tuple[int, int, int, float]:
  """The (r, g, b, alpha) of a normalised value in [-1, 1] (NaN: grey)."""
  if not np.isfinite(value):
    return (*UNDEFINED, 0.6)
  base = POSITIVE if value >= 0 else NEGATIVE
  return (*base, round(MAX_ALPHA * min(abs(float(value)), 1.0), 3))


def css(value: float) -> str:
  """The CSS `rgba(...)` of a normalised value."""
  r, g, b, a = rgba(value)
  return f"rgba({r}, {g}, {b}, {a})"


def text_colour(value: float) -> str:
  """Black, or white on the darkest backgrounds, so every word stays legible."""
  return "#fff" if np.isfinite(value) and abs(value) > 0.7 else "#111"
