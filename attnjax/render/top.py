"""Which tokens a display marks as a text's top ones."""

from __future__ import annotations

import numpy as np


def top_positions(scores, fraction: float):
  """<bool>[..., L] the positions among the top max(1, round(fraction·L)) of each row by
  score (ties by position, the earlier first; a non-finite score ranks last).

  Args:
    scores: <float>[..., L] one row per text (no padding).
    fraction: in (0, 1].
  """
  if not 0 < fraction <= 1:
    raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
  scores = np.asarray(scores, np.float64)
  k = max(1, int(fraction * scores.shape[-1] + 0.5))
  values = np.where(np.isfinite(scores), scores, -np.inf)
  order = np.argsort(-values, axis=-1, kind="stable")
  top = np.zeros(scores.shape, bool)
  np.put_along_axis(top, order[..., :k], True, axis=-1)
  return top
