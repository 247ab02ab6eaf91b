"""Where each household lived, and since when: a dated residence history.

A household's history is a run of *spells*, oldest first: the dwelling it moved into and the day
it moved in. The last spell is the household's home today (``Population.hh_dwelling``); the
dwellings before are other households' homes now (a dwelling left is someone else's).

Moves are drawn backwards from the reference day as a renewal process. A household's hazard of
moving at a time depends on its tenure (the owner and renter annual rates) and on its head's age
then (``age_factors``, relative rates by age band), so the gap back to the move before is drawn by
inverting the cumulative hazard, piecewise constant over the head's age bands: a renter household
can move several times in a year, an older owner household not at all in thirty. The history goes
back until it covers the household's *horizon*, the earliest day some record about it was made
(ICE's final order, the IRS's last return), so no more is drawn than is used. Each earlier
dwelling is in the same ZIP area as the one moved into at ``same_zip_share``, else in another area
of the block (:func:`previous_dwellings`).

Lookups are vectorized: :meth:`History.dwelling_at` (where a household lived on a day) walks
back from each household's newest spell in a compiled loop, and :meth:`History.moves_between`
(how many times it moved in a span of days) counts its spells in one (the numpy references,
binary searches on one sorted key ``household * 2**32 + day``, are kept for the tests).

>>> import numpy as np
>>> h = History(offsets=np.array([0, 2, 3]), dwelling=np.array([7, 4, 9]), moved_in=np.array([100, 500, 50]))
>>> h.dwelling_at(np.array([0, 0, 0, 1]), np.array([99, 100, 600, 60])).tolist()
[7, 7, 4, 9]
>>> h.moves_between(np.array([0, 0]), np.array([100, 0]), np.array([600, 99])).tolist()
[1, 0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.world import kernels

DAYS_PER_YEAR = 365.25
_DAY_BITS = 32
_DAY_OFFSET = 1 << 31          # days since 1970 as unsigned within a key
_FIRST_DAY = -25567.0          # 1900-01-01: before it is "always" (no record reaches it, and a day must fit its key)


@dataclass
class History:
    """Each household's spells, oldest first: ``dwelling[offsets[h]:offsets[h + 1]]`` and the days
    they were moved into, ``moved_in`` (days since 1970-01-01). The last spell is the current home."""

    offsets: np.ndarray           # (n_households + 1,)
    dwelling: np.ndarray
    moved_in: np.ndarray

    @property
    def n_households(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_moves(self) -> np.ndarray:
        """Moves in each household's history (its spells less one: the oldest spell's move-in is
        dated, its origin is not recorded)."""
        return np.diff(self.offsets) - 1

    def current_moved_in(self) -> np.ndarray:
        """The day each household moved into its current home."""
        return self.moved_in[self.offsets[1:] - 1]

    def previous(self) -> np.ndarray:
        """The dwelling each household lived in before its current one (its current one when the
        history has a single spell)."""
        last = self.offsets[1:] - 1
        return self.dwelling[np.maximum(last - 1, self.offsets[:-1])]

    def _keys(self) -> np.ndarray:
        """``household * 2**32 + day`` of every spell, sorted (computed once)."""
        keys = self.__dict__.get("_sorted_keys")
        if keys is None:
            household = np.repeat(np.arange(self.n_households, dtype=np.int64), np.diff(self.offsets))
            keys = (household << _DAY_BITS) + (self.moved_in.astype(np.int64) + _DAY_OFFSET)
            self.__dict__["_sorted_keys"] = keys
        return keys

    def spell_at(self, households: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Index (into ``dwelling``) of the spell each of ``households`` was in on ``days``: the
        latest moved into on or before the day; the oldest when the day is before the history
        begins (the household is taken to have lived there since)."""
        households = np.asarray(households, dtype=np.int64)
        days = np.broadcast_to(np.asarray(days, dtype=np.int64), households.shape)
        # a walk back from each household's newest spell (histories are short), compiled
        return kernels.spell_at(np.asarray(self.offsets, dtype=np.int64), self.moved_in, households, np.ascontiguousarray(days))

    def dwelling_at(self, households: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The dwelling each of ``households`` lived in on ``days``."""
        return self.dwelling[self.spell_at(households, days)]

    def moves_between(self, households: np.ndarray, after: np.ndarray, until: np.ndarray) -> np.ndarray:
        """How many times each of ``households`` moved on a day in ``(after, until]``."""
        households = np.asarray(households, dtype=np.int64)
        after = np.broadcast_to(np.asarray(after, dtype=np.int64), households.shape)
        until = np.broadcast_to(np.asarray(until, dtype=np.int64), households.shape)
        # a count over each household's few spells, compiled (no key of every spell needed)
        return kernels.moves_between(np.asarray(self.offsets, dtype=np.int64), self.moved_in, households,
                                     np.ascontiguousarray(after), np.ascontiguousarray(until))

    def moves_between_numpy(self, households: np.ndarray, after: np.ndarray, until: np.ndarray) -> np.ndarray:
        """:meth:`moves_between` by binary searches on the sorted keys, the reference its compiled
        loop is tested against."""
        households = np.asarray(households, dtype=np.int64)
        keys = self._keys()
        lo = np.searchsorted(keys, (households << _DAY_BITS) + (np.asarray(after, np.int64) + _DAY_OFFSET), side="right")
        hi = np.searchsorted(keys, (households << _DAY_BITS) + (np.asarray(until, np.int64) + _DAY_OFFSET), side="right")
        # the oldest spell's move-in is not a move within the history
        return np.maximum(hi - np.maximum(lo, self.offsets[households] + 1), 0)


def annual_hazard(rate: np.ndarray | float) -> np.ndarray:
    """The hazard (per year) of an annual probability: ``-log(1 - rate)``."""
    return -np.log1p(-np.minimum(np.asarray(rate, dtype=np.float64), 0.999999))


def gaps_back(hazards: np.ndarray, group: np.ndarray, band_lower: np.ndarray, age: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
    """Years back from each household's present to its move before, for heads now ``age`` years
    old: a unit exponential of cumulative hazard spent walking down the head's age bands.

    ``hazards[g, b]`` is the hazard per year of a household of ``group`` g while its head is in
    age band b, from ``band_lower[b]`` to the next band's lower edge (the last band is open
    above, the first below). A household whose hazard runs out never moved before (``inf``).

    >>> gaps_back(np.array([[0.0, 0.5]]), np.array([0]), np.array([0.0, 30.0]), np.array([30.0]), np.random.default_rng(1)).tolist()
    [inf]
    """
    need = rng.exponential(1.0, len(age))
    gap = np.empty(len(age))
    lower = np.asarray(band_lower, dtype=np.float64)
    knots = lower[1:]                                   # where the head moves from one band to the next
    for g in np.unique(group):
        mine = np.flatnonzero(group == g)
        h = np.asarray(hazards[g], dtype=np.float64)
        # cumulative hazard from the first knot, at each knot (flat where a band's hazard is 0)
        cum = np.concatenate([[0.0], np.cumsum(h[1:-1] * np.diff(knots))]) if len(knots) else np.zeros(0)
        a = np.asarray(age, dtype=np.float64)[mine]
        gap[mine] = _invert(a, need[mine], h, knots, cum)
    return gap


def _invert(age: np.ndarray, need: np.ndarray, h: np.ndarray, knots: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Years back from ``age`` until ``need`` of cumulative hazard is spent, for one group's
    piecewise constant hazard ``h`` (band 0 below ``knots[0]``, band k+1 from ``knots[k]``)."""
    if len(knots) == 0:                                 # one band: a constant hazard
        return need / h[0] if h[0] > 0 else np.full(len(age), np.inf)
    def at(x):                                          # the cumulative hazard at age x
        k = np.searchsorted(knots, x, side="right") - 1 # the knot at or below x (-1: below the first)
        below = k < 0
        kk = np.maximum(k, 0)
        return np.where(below, h[0] * (x - knots[0]), cum[kk] + h[kk + 1] * (x - knots[kk]))
    target = at(age) - need
    k = np.searchsorted(cum, target, side="right") - 1  # the last knot whose cumulative hazard <= target
    kk = np.maximum(k, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        above = knots[kk] + (target - cum[kk]) / h[kk + 1]
        below = knots[0] + target / h[0]
    start = np.where(k >= 0, np.where(h[kk + 1] > 0, above, knots[kk]), np.where(h[0] > 0, below, -np.inf))
    return np.maximum(age - start, 0.0)


def previous_dwellings(current: np.ndarray, dw_zip: np.ndarray, by_zip: np.ndarray, n_zip: int,
                       same_zip_share: float, rng: np.random.Generator, count: np.ndarray | None = None) -> np.ndarray:
    """The dwelling each household lived in before ``current``: another dwelling of the same
    area with probability ``same_zip_share``, else a dwelling of another area of the block
    (or of its own area when the block has no other). Never ``current`` itself.

    Drawing the share explicitly keeps local moves as common at every scale, however many
    areas a block holds. ``by_zip`` lists the dwellings in area order (stable).
    """
    n = len(current)
    if count is None:                       # dwellings per area (the caller may count them once)
        count = np.bincount(dw_zip, minlength=n_zip)
    first = np.cumsum(count) - count
    z = dw_zip[current]
    total = len(dw_zip)
    u = rng.random(n)
    local = (rng.random(n) < same_zip_share) | (count[z] == total)
    # same area: any of its dwellings but the current one
    k = (u * np.maximum(count[z] - 1, 1)).astype(np.int64)
    same = by_zip[first[z] + k]
    same = np.where(same == current, by_zip[np.minimum(first[z] + count[z] - 1, total - 1)], same)
    # another area: a position outside this area's run of the sorted dwellings
    j = (u * np.maximum(total - count[z], 1)).astype(np.int64)
    j = np.where(j >= first[z], j + count[z], j)
    other = by_zip[np.minimum(j, total - 1)]
    previous = np.where(local, same, other)
    return np.where(previous == current, (current + 1) % max(total, 1), previous)


def build_history(current: np.ndarray, hazards: np.ndarray, group: np.ndarray, band_lower: np.ndarray,
                  head_age: np.ndarray, horizon: np.ndarray, reference_day: int, dw_zip: np.ndarray,
                  by_zip: np.ndarray, n_zip: int, same_zip_share: float, rng: np.random.Generator) -> History:
    """Each household's history back to its ``horizon`` (a day): spells drawn newest first, one
    round per move, each round for the households whose history does not yet reach back that far
    (the draws of :func:`gaps_back` and :func:`previous_dwellings` in numpy, their arithmetic in
    compiled loops, :mod:`sim.world.kernels`; :func:`build_history_numpy` is the same in numpy).

    ``current``: each household's dwelling today; ``hazards``: (groups x age bands) hazards per
    year and ``group`` each household's row of it; ``head_age``: the head's age today in years."""
    n = len(current)
    hazards = np.ascontiguousarray(hazards, dtype=np.float64)
    knots = np.asarray(band_lower, dtype=np.float64)[1:]
    # each group's cumulative hazard at the knots, as gaps_back computes it
    cums = np.array([np.concatenate([[0.0], np.cumsum(h[1:-1] * np.diff(knots))]) if len(knots) else np.zeros(0)
                     for h in hazards]).reshape(len(hazards), len(knots))
    group = np.asarray(group, dtype=np.int64)
    horizon = np.asarray(horizon, dtype=np.int64)
    count = np.bincount(dw_zip, minlength=n_zip)
    # the dwellings' areas and their order as int32 where they fit: half the bytes to gather from
    small = len(dw_zip) < 2**31 - 1
    dw_zip = np.asarray(dw_zip, dtype=np.int32 if small else np.int64)
    by_zip = np.asarray(by_zip, dtype=np.int32 if small else np.int64)
    first = np.cumsum(count) - count
    rounds_hh, rounds_dw, rounds_in = [], [], []
    active = np.arange(n)
    dwelling = np.asarray(current, dtype=np.int64)
    day = np.full(n, float(reference_day))
    age = np.asarray(head_age, dtype=np.float64).copy()
    while len(active):
        # the draws of gaps_back and previous_dwellings, in their order; the arithmetic compiled
        need = rng.exponential(1.0, len(active))
        moved_in, more_hh, day, age, more_dw = kernels.history_round(need, active, dwelling, group, age, day, horizon,
                                                                     hazards, knots, cums, DAYS_PER_YEAR, _FIRST_DAY)
        rounds_hh.append(active)
        rounds_dw.append(dwelling)
        rounds_in.append(moved_in)
        u, v = rng.random(len(more_hh)), rng.random(len(more_hh))
        active = more_hh
        dwelling = kernels.previous_dwellings(more_dw, dw_zip, by_zip, count, first, u, v, same_zip_share)
    bounds = np.cumsum([0] + [len(a) for a in rounds_hh])
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.int64)  # noqa: E731
    # dwellings int32 where they fit, days int32 (1900-2100 are within 25,600 days of 1970):
    # half the bytes for every gather of a history
    spells = np.empty(bounds[-1], np.int32 if small else np.int64)
    moved_in = np.empty(bounds[-1], np.int32)
    offsets = kernels.assemble_history(cat(rounds_hh), cat(rounds_dw), cat(rounds_in), bounds, n, spells, moved_in)
    return History(offsets=offsets, dwelling=spells, moved_in=moved_in)


def build_history_numpy(current: np.ndarray, hazards: np.ndarray, group: np.ndarray, band_lower: np.ndarray,
                        head_age: np.ndarray, horizon: np.ndarray, reference_day: int, dw_zip: np.ndarray,
                        by_zip: np.ndarray, n_zip: int, same_zip_share: float, rng: np.random.Generator) -> History:
    """:func:`build_history` in numpy, the reference its compiled loops are tested against."""
    n = len(current)
    rounds_hh, rounds_dw, rounds_in, rounds_k = [], [], [], []
    active = np.arange(n)
    dwelling = np.asarray(current, dtype=np.int64)
    day = np.full(n, float(reference_day))
    age = np.asarray(head_age, dtype=np.float64).copy()
    count = np.bincount(dw_zip, minlength=n_zip)
    while len(active):
        gap = gaps_back(hazards, group[active], band_lower, age, rng)
        start = day - gap * DAYS_PER_YEAR
        # before 1900 is "always": no record reaches it, and the day must fit its key
        moved_in = np.floor(np.maximum(start, _FIRST_DAY)).astype(np.int64)
        rounds_hh.append(active)
        rounds_dw.append(dwelling)
        rounds_in.append(moved_in)
        rounds_k.append(np.full(len(active), len(rounds_k), np.int64))
        more = moved_in > horizon[active]
        # the head's age on the (whole) day moved in, so the next gap starts where this one ended
        active, day, age = active[more], moved_in[more].astype(np.float64), age[more] - (day[more] - moved_in[more]) / DAYS_PER_YEAR
        dwelling = previous_dwellings(dwelling[more], dw_zip, by_zip, n_zip, same_zip_share, rng, count)
    household = np.concatenate(rounds_hh) if rounds_hh else np.zeros(0, np.int64)
    spells = np.concatenate(rounds_dw) if rounds_dw else np.zeros(0, np.int64)
    moved_in = np.concatenate(rounds_in) if rounds_in else np.zeros(0, np.int64)
    later = -np.concatenate(rounds_k) if rounds_k else np.zeros(0, np.int64)
    order = np.lexsort((later, household))             # by household, oldest (last drawn) first
    offsets = np.concatenate([[0], np.cumsum(np.bincount(household, minlength=n))])
    return History(offsets=offsets, dwelling=spells[order], moved_in=moved_in[order])


__all__ = ["History", "DAYS_PER_YEAR", "annual_hazard", "gaps_back", "previous_dwellings", "build_history", "build_history_numpy"]
