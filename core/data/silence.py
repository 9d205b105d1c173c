"""The paper's silence rule, in numpy (the evaluation has the same rule for tensors).

A signal ``x`` of ``n`` samples is silent when ``||x||_2 / n < 1.5e-5`` (core/METHOD.md
section 6): the L2 norm divided by the number of samples, not the RMS. For a
262 144-sample chunk this marks as silent anything with an RMS below
``1.5e-5 * sqrt(262144)`` = 7.7e-3 (about -42 dBFS).
"""

from __future__ import annotations

import numpy as np

SILENCE_THRESHOLD = 1.5e-5


def is_silent(x: np.ndarray, threshold: float = SILENCE_THRESHOLD) -> np.ndarray:
    """``(..., n)`` -> ``(...)`` bool: ``||x||_2 / n < threshold`` along the last axis."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    if n == 0:
        return np.ones(x.shape[:-1], dtype=bool)
    return np.sqrt(np.sum(x * x, axis=-1)) / n < threshold
