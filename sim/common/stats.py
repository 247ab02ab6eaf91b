"""The statistics every study, sweep and calibration reports its figures with, in one place.

A figure of a study is the mean over replicate seeds (each seed a different simulated world)
with a 95% Student-t interval of the mean; a comparison of two policies or two sweep points is
the mean of their differences within each seed (the same worlds), with its own interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from sim.common.metrics import metric

#: The interval every figure of a study is reported with.
INTERVAL_LEVEL = 0.95
INTERVAL_METHOD = "mean over replicate seeds, 95% Student-t interval of the mean"


def interval(values: Sequence[float | None], *, digits: int = 6) -> dict:
    """Mean, 95% Student-t interval of the mean, standard deviation, min and max of ``values``
    (None values, an undefined rate in one seed, are left out and counted in ``n``).

    >>> interval([10, 12, 14])["mean"], interval([10, 12, 14])["lo"] < 10
    (12.0, True)
    >>> interval([5])["lo"] is None
    True
    """
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    n = int(v.size)
    if n == 0:
        return {"n": 0, "mean": None, "lo": None, "hi": None, "sd": None, "min": None, "max": None}
    mean = float(v.mean())
    sd = float(v.std(ddof=1)) if n > 1 else None
    lo = hi = None
    if sd is not None:
        half = float(stats.t.ppf(0.5 + INTERVAL_LEVEL / 2, n - 1)) * sd / math.sqrt(n)
        lo, hi = mean - half, mean + half

    def r(x):
        return None if x is None else round(x, digits)

    return {"n": n, "mean": r(mean), "lo": r(lo), "hi": r(hi), "sd": r(sd), "min": r(float(v.min())), "max": r(float(v.max()))}


def seed_differences(units: Sequence[Mapping], baseline: Sequence[Mapping], metrics: Sequence[str], *,
                     digits: int = 6) -> dict:
    """Each of ``metrics`` (dotted, as :func:`metric` reads them) of the run summaries ``units``
    minus the same in ``baseline``'s, within each seed both have, as :func:`interval` s; a seed
    where either is undefined (a rate without its denominator) is left out of that metric."""
    by_seed = {u["seed"]: u for u in baseline}
    pairs = [(u, by_seed[u["seed"]]) for u in units if u["seed"] in by_seed]
    out = {}
    for m in metrics:
        values = [(metric(u, m), metric(b, m)) for u, b in pairs]
        out[m] = interval([None if a is None or b is None else a - b for a, b in values], digits=digits)
    return out


__all__ = ["INTERVAL_LEVEL", "INTERVAL_METHOD", "interval", "seed_differences"]
