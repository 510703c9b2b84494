"""Mutual-information estimators, jitted and vmapped over positions and seeds.

    result = attnjax.mi.estimate(x, y, method="mixed_ksg")        # MIResult
    curve = attnjax.mi.per_position(hidden, labels, mask=mask,
                                    method="mixed_ksg", key=key)  # [T]

Estimator families, one module each: `knn` (KSG, Ross's mixed estimator),
`binning` (histograms), `variational` (InfoNCE, NWJ, MINE, SMILE critics),
`probe` (Barber–Agakov), `crossfit` (the cross-fitted, regularisation-tuned
linear probe for high-dimensional states). `testing` holds ground-truth tasks with known MI.
`ESTIMATORS` declares each method's options and kind of y; `needs_num_classes(method)`
says whether it takes `num_classes=` (needed for labels under `jit` / `vmap`).
"""

from attnjax.mi.registry import (ESTIMATORS, METHODS, MIN_COUNT, Estimator, estimate,
                                 needs_num_classes, per_position)
from attnjax.mi.result import MIResult

__all__ = ["ESTIMATORS", "Estimator", "METHODS", "MIN_COUNT", "MIResult", "estimate",
           "needs_num_classes", "per_position"]
