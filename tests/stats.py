"""Statistical helpers shared by the tests."""

from __future__ import annotations

import numpy as np


def four_se(p: float, n: int) -> float:
    """Four binomial standard errors of a share ``p`` estimated from ``n`` draws: the tolerance
    of a share test (a false failure about once in 16,000 runs)."""
    return 4 * np.sqrt(p * (1 - p) / n)


def binomial_plausible(k: int, n: int, p: float, *, alpha: float = 1e-6) -> bool:
    """Whether ``k`` successes in ``n`` draws are plausible for a share ``p``: the exact two-sided
    binomial tail is at least ``alpha``. For a small share in a small sample the normal
    approximation behind :func:`four_se` is too tight on the upper tail (33 of 216 at p = 0.07
    is 4.8 standard errors, yet its exact tail is 2e-5)."""
    from scipy.stats import binom

    return 2 * min(binom.cdf(k, n, p), binom.sf(k - 1, n, p)) >= alpha
