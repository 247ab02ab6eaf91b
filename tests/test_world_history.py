"""sim.world.history: dated residence histories, checked against what their hazards imply."""

from __future__ import annotations

import numpy as np
import pytest

from sim.world.history import DAYS_PER_YEAR, History, annual_hazard, build_history, gaps_back, previous_dwellings
from tests.stats import four_se

R = 20_000                      # the reference day (2024-10-04)
LOWER = np.array([0.0, 25.0, 35.0, 50.0, 65.0])


def world(n_hh: int, n_zip: int = 40, units_per_zip: int = 200):
    """Dwellings in area order, and one household in each of the first n_hh."""
    dw_zip = np.repeat(np.arange(n_zip), units_per_zip)
    by_zip = np.arange(len(dw_zip))
    current = np.arange(n_hh) % len(dw_zip)
    return dw_zip, by_zip, current


def history(rate, n=100_000, age=40.0, years=30.0, same_zip=0.35, seed=1) -> tuple[History, np.ndarray]:
    dw_zip, by_zip, current = world(n)
    # one group: every household has the same hazards by band (a rate, or a row of hazards)
    table = np.asarray(rate, dtype=np.float64).reshape(1, -1) if np.ndim(rate) == 2 else \
        np.broadcast_to(np.atleast_1d(annual_hazard(rate)), (1, len(LOWER))).copy()
    horizon = np.full(n, R - int(years * DAYS_PER_YEAR))
    h = build_history(current, table[:1], np.zeros(n, np.int64), LOWER, np.full(n, age), horizon, R, dw_zip, by_zip, 40,
                      same_zip, np.random.default_rng(seed))
    return h, current


def test_the_share_that_moved_in_the_last_year_is_the_annual_rate():
    n = 100_000
    for rate in (0.038, 0.19):
        h, _ = history(rate, n=n)
        moved = np.mean(h.current_moved_in() > R - DAYS_PER_YEAR)
        assert abs(moved - rate) < four_se(rate, n), (rate, moved)


def test_moves_in_a_span_are_poisson_at_the_hazard_and_the_history_covers_its_horizon():
    n, rate, years = 50_000, 0.19, 20.0
    h, _ = history(rate, n=n, years=years)
    moves = h.moves_between(np.arange(n), np.full(n, R - int(years * DAYS_PER_YEAR)), np.full(n, R))
    expected = annual_hazard(rate) * years
    assert abs(moves.mean() - expected) < 4 * np.sqrt(expected / n)
    assert abs(moves.var() / moves.mean() - 1) < 0.05          # Poisson: variance equals the mean
    assert (h.moved_in[h.offsets[:-1]] <= R - int(years * DAYS_PER_YEAR)).all()
    assert (h.n_moves >= moves).all()


def test_the_hazard_follows_the_heads_age_band_going_back():
    """Heads of 60 with no hazard from 35 to 50 and a high one elsewhere: going back, their moves
    stop in the band where the hazard is 0 and resume below it."""
    n = 20_000
    hazard = annual_hazard(np.array([0.3, 0.3, 0.0, 0.3, 0.3])).reshape(1, -1)
    h, _ = history(hazard, n=n, age=60.0, years=40.0)
    household = np.repeat(np.arange(n), np.diff(h.offsets))
    head_age = 60.0 - (R - h.moved_in) / DAYS_PER_YEAR
    moves = h.moved_in > h.moved_in[h.offsets[household]]        # spells but the oldest
    day = 1 / DAYS_PER_YEAR                                       # move-ins are whole days, rounded down
    assert not ((head_age > 35.0 + day) & (head_age < 50.0 - day) & moves).any()
    assert (moves & (head_age < 35.0)).sum() > n // 2 and (moves & (head_age > 50.0)).sum() > n // 2


def test_no_hazard_means_never_moved():
    n = 100
    hazard = np.zeros((1, len(LOWER)))
    h, current = history(hazard, n=n)
    assert (np.diff(h.offsets) == 1).all() and (h.dwelling == current).all()
    assert np.isinf(gaps_back(hazard, np.zeros(n, np.int64), LOWER, np.full(n, 40.0), np.random.default_rng(0))).all()


def test_the_gap_back_is_the_inverse_of_the_cumulative_hazard():
    """Walking back with hazards 0.1 below 25, 0.2 in 25-35 and 0.4 above 35: from 40, 1 unit of
    hazard is 2.5 years (all above 35) and 3 units are 5 years above 35 (2) and 5 in 25-35 (1);
    from 30, 1.5 units are 5 years in 25-30 (1) and 5 below 25 (0.5)."""
    table = np.array([[0.1, 0.2, 0.4]])
    lower = np.array([0.0, 25.0, 35.0])

    class Fixed:                      # an rng whose exponentials are the given hazards
        def __init__(self, values):
            self.values = np.asarray(values, dtype=np.float64)

        def exponential(self, scale, n):
            return self.values[:n]

    gaps = gaps_back(table, np.zeros(3, np.int64), lower, np.array([40.0, 40.0, 30.0]), Fixed([1.0, 3.0, 1.5]))
    np.testing.assert_allclose(gaps, [2.5, 10.0, 10.0])


def test_where_a_household_lived_on_a_day():
    n = 20_000
    h, current = history(0.19, n=n)
    hh = np.arange(n)
    assert (h.dwelling_at(hh, np.full(n, R)) == current).all()
    assert (h.dwelling_at(hh, np.full(n, -20_000)) == h.dwelling[h.offsets[:-1]]).all()
    # the day before the current move-in is the previous spell's, when there is one
    has_previous = np.diff(h.offsets) > 1
    day_before = h.current_moved_in() - 1
    last = h.offsets[1:] - 1
    earlier_same_day = has_previous & (h.moved_in[np.maximum(last - 1, 0)] == h.current_moved_in())
    check = has_previous & ~earlier_same_day
    assert (h.dwelling_at(hh[check], day_before[check]) == h.dwelling[last[check] - 1]).all()
    assert (h.previous()[has_previous] == h.dwelling[last[has_previous] - 1]).all()
    # a move is never to the dwelling just left
    successive = np.flatnonzero(np.diff(h.dwelling) == 0)
    same_household = np.searchsorted(h.offsets, successive, side="right") == np.searchsorted(h.offsets, successive + 1, side="right")
    assert not same_household.any()


def test_previous_dwellings_stay_in_the_area_at_the_share():
    n = 100_000
    dw_zip, by_zip, current = world(n)
    prev = previous_dwellings(current, dw_zip, by_zip, 40, 0.35, np.random.default_rng(3))
    assert (prev != current).all()
    same = np.mean(dw_zip[prev] == dw_zip[current])
    assert abs(same - 0.35) < four_se(0.35, n)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_same_seed_gives_the_same_history(seed):
    a, _ = history(0.19, n=5_000, seed=seed)
    b, _ = history(0.19, n=5_000, seed=seed)
    for name in ("offsets", "dwelling", "moved_in"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
