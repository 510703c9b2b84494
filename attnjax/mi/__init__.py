"""Mutual-information estimators, jitted and vmapped over positions and seeds.

    result = attnjax.mi.estimate(x, y, method="mixed_ksg")        # MIResult
    curve = attnjax.mi.per_position(hidden, labels, mask=mask,
                                    method="mixed_ksg", key=key)  # [T]

Estimator families, one module each: `knn` (KSG, Ross's mixed estimator),
`binning` (histograms), `variational` (InfoNCE, NWJ, MINE, SMILE critics),
`probe` (Barber–Agakov), `crossfit` (the cross-fitted, regularisation-tuned
linear probe for high-dimensional states). `testing` holds ground-truth tasks with known MI.
"""

from attnjax.mi.registry import METHODS, MIN_COUNT, estimate, per_position
from attnjax.mi.result import MIResult

__all__ = ["METHODS", "MIN_COUNT", "MIResult", "estimate", "per_position"]
