"""Statistical helpers shared by the tests."""

from __future__ import annotations

import numpy as np


def four_se(p: float, n: int) -> float:
    """Four binomial standard errors of a share ``p`` estimated from ``n`` draws: the tolerance
    of a share test (a false failure about once in 16,000 runs)."""
    return 4 * np.sqrt(p * (1 - p) / n)
