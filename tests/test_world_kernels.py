"""The compiled loops of world generation (sim/world/kernels.py) against the numpy expressions
they replace: the same values, bit for bit, on random input and at the edges."""

from __future__ import annotations

import numpy as np
import pytest

from sim.world import kernels
from sim.world.population import ROLE_CHILD, ROLE_HEAD, ROLE_PARTNER, ROLE_RELATIVE
from sim.world.vocab import CohortNames, Sampler


def _cdf(rng, k, zeros=0.2):
    w = rng.random(k) * (rng.random(k) > zeros)      # some categories of probability 0
    w[-1] += 1e-3
    c = np.cumsum(w)
    return c / c[-1]


def _uniforms(rng, n):
    u = rng.random(n)
    u[:4] = [0.0, 1 - 2.0 ** -53, 0.5, 1 - 2.0 ** -41]
    return u


@pytest.mark.parametrize("k", [1, 3, 50, 20_000])
def test_sample_equals_numpy(k):
    rng = np.random.default_rng(k)
    sampler = Sampler(_cdf(rng, k))
    u = _uniforms(rng, 50_000)
    u = np.concatenate([u, sampler.cdf[: min(k, 1000)]])   # draws exactly on the edges
    expected = sampler.draw_numpy(u.copy())
    assert np.array_equal(sampler.draw(u), expected)
    idx = rng.permutation(k).astype(np.int32)
    got = kernels.sample_idx(sampler.cdf, sampler.guide, idx, u)
    assert got.dtype == np.int32 and np.array_equal(got, idx[expected])


def test_sample_cohort_equals_numpy():
    rng = np.random.default_rng(7)
    n_years, first = 30, 1950
    group = np.repeat(np.arange(2 * n_years), rng.integers(1, 40, 2 * n_years))
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    within = np.concatenate([_cdf(rng, n) for n in np.diff(np.r_[starts, len(group)])])
    idx = rng.integers(0, 10_000, len(group)).astype(np.int32)
    names = CohortNames(first, n_years, idx, Sampler((group + within) / (2 * n_years)))
    n = 40_000
    u, female, year = _uniforms(rng, n), rng.random(n) < 0.5, rng.integers(first - 10, first + n_years + 10, n)
    expected = names.draw_numpy(u, female, year)
    assert np.array_equal(names.draw(u, female, year), expected)
    members = np.sort(rng.choice(2 * n, n, replace=False))
    out = np.full(2 * n, -7, np.int32)
    f2, y2 = np.zeros(2 * n, bool), np.zeros(2 * n, np.int64)
    f2[members], y2[members] = female, year
    kernels.sample_cohort_into(names.sampler.cdf, names.sampler.guide, idx, u, f2, y2, members, first, n_years, out)
    assert np.array_equal(out[members], expected)
    assert (np.delete(out, members) == -7).all()


@pytest.mark.parametrize("spread", [100, 40_000, 10_000_000])
def test_birth_years_equal_numpy(spread):
    rng = np.random.default_rng(spread)
    days = rng.integers(-spread, spread, 5_000).astype(np.int32)
    days[:6] = [-1, 0, 59, 365, -719468, 10957]
    expected = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    assert np.array_equal(kernels.birth_years(days), expected)


def test_household_surnames_equal_numpy():
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 7, 2_000)
    n = int(sizes.sum())
    starts = np.cumsum(sizes) - sizes
    members = np.repeat(starts, sizes) + (np.arange(n) - np.repeat(starts, sizes))
    assert np.array_equal(kernels.members_of(starts, sizes), members)
    role = rng.choice([ROLE_PARTNER, ROLE_CHILD, ROLE_RELATIVE], n).astype(np.int8)
    role[starts] = ROLE_HEAD
    takes = rng.random(n) < 0.5
    own = (role == ROLE_HEAD) | ((role == ROLE_PARTNER) & ~takes)
    got_own, n_own = kernels.own_surname(members, role, takes, ROLE_HEAD, ROLE_PARTNER)
    assert np.array_equal(got_own, own) and n_own == own.sum()
    drawn = rng.integers(0, 1000, n_own).astype(np.int32)
    surname = np.zeros(n, np.int32)
    surname[own] = drawn
    expected = np.where(own, surname, surname[np.repeat(starts, sizes)])
    out = np.empty(n, np.int32)
    kernels.share_surname(members, sizes, own, drawn, out)
    assert np.array_equal(out, expected)
    # households whose first member owns none (the others who own none get 0), and none at all
    for own in (rng.random(n) < 0.3, np.zeros(n, bool)):
        drawn = rng.integers(1, 1000, int(own.sum())).astype(np.int32)
        surname = np.zeros(n, np.int32)
        surname[own] = drawn
        kernels.share_surname(members, sizes, own, drawn, out)
        assert np.array_equal(out, np.where(own, surname, surname[np.repeat(starts, sizes)]))


def test_members_of_households_in_any_order():
    """Households taken out of order (grouped by naming pool, as the names stage does), with
    empty ones among them: each household's positions, in the order given."""
    rng = np.random.default_rng(5)
    sizes = rng.integers(0, 9, 3_000)
    starts = np.cumsum(sizes) - sizes
    order = rng.permutation(len(sizes))
    expected = np.concatenate([np.arange(s, s + z) for s, z in zip(starts[order], sizes[order])])
    got = kernels.members_of(starts[order], sizes[order])
    assert got.dtype == np.int32 and np.array_equal(got, expected)
    assert len(kernels.members_of(starts[:0], sizes[:0])) == 0


def test_digits_equal_arrow():
    import pyarrow as pa
    import pyarrow.compute as pc

    from sim.world.address import digits

    rng = np.random.default_rng(9)
    for width, numbers in ((9, rng.integers(0, 10**9, 10_000)), (5, np.array([0, 7, 99_999])), (5, np.array([3, 123_456, -4])),
                           (9, np.zeros(0, np.int64)), (9, np.array([0, 1, 10**8, 10**9 - 1])), (4, np.array([0, 42, 9_999])),
                           (1, np.arange(10))):
        expected = pc.utf8_lpad(pc.cast(pa.array(numbers.astype(np.int64)), pa.string()), width, "0")
        got = digits(numbers, width)
        assert got.type == pa.string() and got.equals(expected)


def test_join_codes_equals_arrow_join():
    import pyarrow as pa

    from sim.world.address import join, join_codes, take

    rng = np.random.default_rng(11)
    # strings shorter and longer than the copy's chunk (16 bytes), of exactly one and two chunks
    t1 = pa.array(["N", "SOUTH", "", "É", "MARTIN LUTHER KING JUNIOR BOULEVARD EAST"], pa.string())
    t2 = pa.array([f"STREET{i}" * (i % 3) for i in range(50)], pa.string()).slice(5)   # an offset, empty strings
    t3 = pa.array(["APT 0", "APT 1", "APT 22", "#3", "X" * 16, "Y" * 17, "Z" * 32], pa.string())
    n = 5_000
    c1, c2, c3 = rng.integers(-1, 5, n), rng.integers(0, 45, n), rng.integers(0, 7, n)
    rows = rng.integers(0, n, 3_000)
    expected = join(take(t1, c1[rows], null_below=0), take(t2, c2[rows]), take(t3, c3[rows], null_below=1))
    got = join_codes(((t1, c1), (t2, c2), (t3, c3)), rows, lo3=1)
    assert got.type == pa.string() and got.equals(expected)
    assert join_codes(((t1, c1), (t2, c2), (t3, c3)), np.zeros(0, np.int64)).equals(pa.array([], pa.string()))


@pytest.mark.parametrize("lower", [np.array([0.0, 25.0, 35.0, 50.0, 65.0]), np.array([18.0])])
def test_build_history_equals_numpy(lower):
    from sim.world.history import annual_hazard, build_history, build_history_numpy

    rng = np.random.default_rng(5)
    n, n_zip, ref = 20_000, 30, 20_000
    dw_zip = np.sort(rng.integers(0, n_zip, 3 * n))
    dw_zip[:n_zip] = np.arange(n_zip)
    dw_zip.sort()
    by_zip = np.arange(len(dw_zip))
    current = rng.permutation(len(dw_zip))[:n]
    hazards = annual_hazard(rng.random((4, len(lower))) * 0.4)
    hazards[1, len(lower) // 2] = 0.0                       # a band without moves
    hazards[3] = 0.0 if len(lower) == 1 else hazards[3]     # a group that never moved
    group = rng.integers(0, 4, n)
    age = rng.uniform(18, 95, n)
    horizon = ref - rng.integers(0, 60 * 365, n)
    args = (current, hazards, group, lower, age, horizon, ref, dw_zip, by_zip, n_zip, 0.35)
    a = build_history(*args, np.random.default_rng(8))
    b = build_history_numpy(*args, np.random.default_rng(8))
    assert np.array_equal(a.offsets, b.offsets)
    assert np.array_equal(a.dwelling, b.dwelling) and np.array_equal(a.moved_in, b.moved_in)
    # the lookup: the walk back equals the binary search on the sorted keys
    hh = rng.integers(0, n, 50_000)
    days = ref - rng.integers(-100, 80 * 365, len(hh))
    keys = b._keys()
    found = np.searchsorted(keys, (hh.astype(np.int64) << 32) + (days + (1 << 31)), side="right") - 1
    assert np.array_equal(a.spell_at(hh, days), np.maximum(found, b.offsets[hh]))
    after = days - rng.integers(-50, 20 * 365, len(hh))
    assert np.array_equal(a.moves_between(hh, after, days), b.moves_between_numpy(hh, after, days))


def test_hazard_now_and_last_return_window_equal_numpy():
    from types import SimpleNamespace

    from sim.world.population import last_return_window

    rng = np.random.default_rng(2)
    lower = np.array([15.0, 25.0, 35.0, 45.0, 55.0, 65.0])
    age = rng.uniform(0, 100, 10_000).astype(np.float32)
    age[:3] = [15.0, 25.0, 14.999]
    band = np.maximum(np.searchsorted(lower, age, side="right") - 1, 0)
    table = rng.random((4, len(lower)))
    group = rng.integers(0, 4, len(age))
    got = kernels.hazard_now(table, group, lower, age)
    assert got.dtype == np.float32 and np.array_equal(got, table[group, band].astype(np.float32))
    world = SimpleNamespace(reference_year=2025)
    gap = rng.integers(0, 16, 5_000)
    january = (world.reference_year - gap - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    first, last = last_return_window(world, gap)
    assert np.array_equal(first, january + 31) and np.array_equal(last, january + 150)


@pytest.mark.parametrize("shares", [{}, {"world.households.child_share": 0.7, "world.households.partner_share": 0.3}])
def test_people_equal_numpy(shares):
    from pathlib import Path

    from sim.config import config_with, load_config
    from sim.world import geography, population
    from sim.world.vocab import vocabulary

    config = config_with(load_config(Path(__file__).parents[1] / "configs" / "august-2025.toml"),
                         **{"world.scale": 0.001, **shares})
    plan = geography.plan(config)
    block = plan.blocks[0]
    zips = plan.areas(block)
    hh = population._households(config.world.households, plan, block, zips, vocabulary(), np.random.default_rng(1))
    a = population._people(config.world, hh, zips, np.random.default_rng(2))
    b = population._people_numpy(config.world, hh, zips, np.random.default_rng(2))
    for name in ("household", "role", "female", "age", "dob", "person_id"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name


def test_roles_compare_draws_with_the_shares_in_float32():
    sizes = np.full(6, 3)
    edge = [np.nextafter(np.float32(0.72), np.float32(0)), np.float32(0.72), np.nextafter(np.float32(0.72), np.float32(1))]
    u = np.array([0.5, *edge, 0.5, 0.5] + [0.5, 0.5, np.float32(0.85)] * 4, dtype=np.float32)
    _, role, *_ = kernels.roles(sizes, u, np.float32(0.85), np.float32(0.72), ROLE_HEAD, ROLE_PARTNER, ROLE_CHILD, ROLE_RELATIVE)
    member = np.tile(np.arange(3), 6)
    expected = np.full(len(u), ROLE_CHILD, np.int8)
    expected[(member == 1) | (u >= 0.85)] = ROLE_RELATIVE
    expected[(member == 1) & (u < 0.72)] = ROLE_PARTNER
    expected[member == 0] = ROLE_HEAD
    assert np.array_equal(role, expected)


def test_categories_at_rows_equal_numpy():
    import pyarrow as pa

    from sim.world.address import categories

    rng = np.random.default_rng(4)
    table = pa.array([f"V{i}" for i in range(40)], pa.string())
    codes = rng.integers(-2, 40, 10_000).astype(np.int32)
    codes[::97] = -40_000                               # wraps to a valid code if cast to int16 first
    rows = rng.integers(0, len(codes), 7_003)           # not a whole number of bitmap bytes
    for null_below, dtype in [(None, np.int32), (0, np.int32), (1, np.int32), (None, np.int8), (0, np.int8), (1, np.int64)]:
        codes = np.maximum(codes, -128) if dtype == np.int8 else codes
        codes = codes.astype(dtype)
        c = np.maximum(codes, 0) if null_below is None else codes
        want_codes = c[rows]
        mask = None if null_below is None else want_codes < null_below
        idx = (np.maximum(want_codes, null_below) if mask is not None else want_codes).astype(np.int16)
        expected = pa.DictionaryArray.from_arrays(pa.array(idx, mask=mask), table)
        assert categories(table, c, null_below=null_below, rows=rows).equals(expected)
        assert categories(table, want_codes, null_below=null_below).equals(expected)


@pytest.mark.parametrize("null_below", [None, 0])
@pytest.mark.parametrize("bad", [40, 1000, -1])
def test_categories_refuse_a_code_outside_the_table(null_below, bad):
    """categories() skips Arrow's own check of the codes (it checks them in its gathering pass):
    a code beyond the table, or negative where no null is allowed, is refused, not written."""
    import pyarrow as pa

    from sim.world.address import categories

    table = pa.array([f"V{i}" for i in range(40)], pa.string())
    codes = np.arange(40, dtype=np.int32)
    codes[17] = bad
    if bad < 0 and null_below is not None:
        assert categories(table, codes, null_below=null_below).null_count == 1   # a null, not an error
        return
    with pytest.raises(ValueError, match=f"codes from {min(bad, 0)} to {max(bad, 39)} do not all index the table of 40 values"):
        categories(table, codes, null_below=null_below)
    with pytest.raises(ValueError, match="do not all index the table"):
        categories(table, codes, null_below=null_below, rows=np.array([3, 17, 5]))
    assert categories(table, codes, null_below=null_below, rows=np.array([3, 5])).to_pylist() == ["V3", "V5"]
    # nothing but nulls: no code to check, whatever the table
    assert categories(table[:1], np.zeros(3, np.int32), null_below=1).null_count == 3


@pytest.mark.parametrize("domain", [1000, 10**5 + 3, 88_119_912, 2**31 + 5])
def test_feistel_walk_equals_numpy(domain):
    from sim.world import tin

    rng = np.random.default_rng(domain)
    x = np.unique(np.r_[0, domain - 1, rng.integers(0, domain, 20_000)])
    for key in (0, 7, 2**61 + 3):
        forward = tin.permute(x, domain, key)
        assert np.array_equal(forward, tin._walk(x, domain, key, tin._feistel))
        assert np.array_equal(tin.unpermute(forward, domain, key), x)
        assert np.array_equal(tin._walk(forward, domain, key, tin._feistel_inverse), x)


def test_ssn_numbers_equal_numpy():
    from sim.world import tin

    rng = np.random.default_rng(12)
    ids = np.r_[0, tin.SSN_DOMAIN - 1, rng.integers(0, tin.SSN_DOMAIN, 50_000)]
    got = tin.ssn_numbers(ids, 99)
    assert got.dtype == np.int64 and np.array_equal(got, tin.ssn_numbers_numpy(ids, 99))


def test_cut_rank_and_small_search_equal_numpy():
    from sim.world.population import _rank_within_sort, rank_within

    rng = np.random.default_rng(13)
    for _ in range(20):
        totals = rng.integers(0, 6, rng.integers(1, 40)) * (rng.random(1)[0] < 0.9)
        total = int(totals.sum())
        if total == 0:                  # _cut returns before cutting
            continue
        sizes = rng.integers(1, 5, total + 3)
        ends = np.cumsum(sizes)
        ends = ends[ends < total]
        cell_ends = np.cumsum(totals)
        cuts = np.unique(np.concatenate([ends, cell_ends[totals > 0]]))
        starts = np.concatenate([[0], cuts[:-1]])
        cell, size = kernels.cut_cells(sizes, totals)
        assert np.array_equal(cell, np.searchsorted(cell_ends, starts, side="right")) and np.array_equal(size, cuts - starts)
    keys = rng.integers(0, 300, 5_000)
    assert np.array_equal(rank_within(keys), _rank_within_sort(keys))
    cdf = np.cumsum(rng.random(7))
    cdf /= cdf[-1]
    u = np.r_[rng.random(10_000), cdf, 1.0]
    assert np.array_equal(kernels.searchsorted_small(cdf, u, 1), np.searchsorted(cdf, u, side="right").clip(max=6) + 1)


def test_order_within_areas_equals_numpy():
    rng = np.random.default_rng(14)
    area = np.sort(rng.integers(0, 40, 20_000)).astype(np.int32)
    u = rng.random(len(area))
    got, ok = kernels.order_within_areas(area, u)
    assert ok and np.array_equal(got, np.argsort(area + u))
    from sim.world.population import _order_within_areas

    tied = u.copy()
    tied[np.flatnonzero(area[1:] == area[:-1])[0] + 1] = tied[np.flatnonzero(area[1:] == area[:-1])[0]]
    assert not kernels.order_within_areas(area, tied)[1]
    assert np.array_equal(_order_within_areas(area, tied), np.argsort(area + tied))
    top = u.copy()
    top[-1] = 1 - 2.0 ** -53                    # rounds up to area + 1
    assert np.array_equal(_order_within_areas(area, top), np.argsort(area + top))


def test_on_file_and_middle_initials_equal_numpy():
    rng = np.random.default_rng(15)
    n, n_hh = 20_000, 8_000
    household = np.sort(rng.integers(0, n_hh, n)).astype(np.int32)
    hh_origin = np.where(rng.random(n_hh) < 0.3, rng.integers(0, 5, n_hh), -1).astype(np.int8)
    age = rng.uniform(0, 90, n).astype(np.float32)
    age[:4] = [16.0, 18.0, np.nextafter(np.float32(18), np.float32(0)), 15.99]
    requested = rng.random(n) < 0.05
    rates = (0.83, 0.72, 0.9, 0.1)
    u = rng.random(n, dtype=np.float32)
    u[4:8] = np.float32(0.9), np.nextafter(np.float32(0.9), np.float32(1)), np.float32(0.72), np.float32(0.1)
    requested_hh, adult = hh_origin[household] != -1, age >= 18
    rate = np.select([requested, requested_hh & adult, adult, age >= 16], list(rates), 0.0)
    got = kernels.on_file(u, requested, hh_origin, household, age, -1, *rates)
    assert np.array_equal(got[0], u < rate) and np.array_equal(got[1], requested_hh) and np.array_equal(got[2], adult)
    letters = rng.integers(0, 26, n, dtype=np.int8)
    assert np.array_equal(kernels.middle_initials(u, np.float32(0.9), letters), np.where(u < 0.9, letters, np.int8(-1)))


def test_ssn_numbers_into_equals_numpy():
    from sim.world import tin

    rng = np.random.default_rng(16)
    ids = rng.integers(0, tin.SSN_DOMAIN, 30_000)
    where = rng.random(len(ids)) < 0.7
    out = np.full(len(ids), -1, np.int64)
    tin.ssn_numbers_into(ids, where, 5, out)
    expected = np.full(len(ids), -1, np.int64)
    expected[where] = tin.ssn_numbers_numpy(ids[where], 5)
    assert np.array_equal(out, expected)
    with pytest.raises(ValueError):
        tin.ssn_numbers_into(np.array([tin.SSN_DOMAIN]), np.array([True]), 5, np.zeros(1, np.int64))


def test_last_known_addresses_equal_numpy():
    from pathlib import Path

    from sim.common.rng import stream
    from sim.config import config_with, load_config
    from sim.world import geography, master_file, population
    from sim.world.vocab import vocabulary

    config = config_with(load_config(Path(__file__).parents[1] / "configs" / "august-2025.toml"), **{"world.scale": 0.001})
    plan = geography.plan(config)
    block = plan.blocks[0]
    pop = population.build(config, plan, block, vocabulary(), stream(config.seed, "population", *block.key))
    itin = np.random.default_rng(3).random(len(pop.hh_size)) < 0.2
    a = master_file.last_known_addresses(config.world, pop, itin, np.random.default_rng(4))
    b = master_file.last_known_addresses_numpy(config.world, pop, itin, np.random.default_rng(4))
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and np.array_equal(x, y)


def test_on_file_rows_equal_numpy():
    """kernels.on_file_rows: the master file's people on file, what it takes from their
    households, and their dwellings on file, as the numpy expressions it replaced give them."""
    rng = np.random.default_rng(11)
    sizes = rng.integers(1, 7, 3_000)
    household = np.repeat(np.arange(len(sizes)), sizes)
    n, n_hh = len(household), len(sizes)
    hh_start = np.cumsum(sizes) - sizes
    on_file = rng.random(n) < 0.6
    person_id = rng.permutation(10 * n)[:n].astype(np.int64)
    person_tin = rng.integers(0, 10**9, n)
    dob = rng.integers(-20_000, 20_000, n).astype(np.int32)
    requested = rng.random(n) < 0.1
    tax_year = rng.integers(2015, 2025, n_hh).astype(np.int16)
    lka_current = rng.random(n_hh) < 0.8
    lka_age = rng.random(n_hh).astype(np.float32) * 10
    n_dw = 5_000
    lka_dwelling = rng.integers(0, n_dw, n_hh)
    got = kernels.on_file_rows(on_file, household, hh_start, person_id, person_tin, dob, requested, tax_year,
                               lka_current, lka_age, lka_dwelling, n_dw)

    rows = np.flatnonzero(on_file)
    hh_rows = household[rows]
    listed = np.zeros(n_dw, bool)
    listed[lka_dwelling[hh_rows]] = True
    want = (rows, hh_rows, person_id[rows], person_id[hh_start[hh_rows]], person_tin[rows], dob[rows], requested[rows],
            tax_year[hh_rows], lka_current[hh_rows], lka_age[hh_rows], np.flatnonzero(listed),
            (np.cumsum(listed) - 1)[lka_dwelling[hh_rows]])
    assert len(got) == len(want)
    # positions in the block as int32, ids and TINs as int64; the rest in the dtype of the column
    # they come from
    dtypes = [np.int32, np.int32, np.int64, np.int64, np.int64, np.int32, np.bool_, np.int16, np.bool_, np.float32, np.int32, np.int32]
    for g, w, dtype in zip(got, want, dtypes):
        assert g.dtype == dtype
        assert np.array_equal(g, w)
    assert 0 < len(got[10]) < n_dw                     # some dwellings listed, not all


def test_components_equal_numpy():
    """address.components' one compiled pass gives numpy's gathers, values and types."""
    rng = np.random.default_rng(12)
    n_st, n_bl, n_dw = 50, 400, 900
    st = [rng.integers(-1, 9, n_st).astype(np.int32) for _ in range(4)]                 # predir, stem, suffix, zip
    bl_street, bl_number, bl_zip4 = (rng.integers(0, n_st, n_bl).astype(np.int32), rng.integers(1, 9999, n_bl).astype(np.int32),
                                     rng.integers(1, 10_000, n_bl).astype(np.int32))
    dw_building, dw_unit = rng.integers(0, n_bl, n_dw).astype(np.int32), rng.integers(0, 30, n_dw).astype(np.int32)
    dwelling = rng.integers(0, n_dw, 2_000)
    got = kernels.components(dwelling, dw_building, dw_unit, bl_street, bl_number, bl_zip4, *st)
    building = dw_building[dwelling]
    street = bl_street[building]
    want = (street, bl_number[building], st[0][street], st[1][street], st[2][street], dw_unit[dwelling], st[3][street],
            bl_zip4[building])
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and np.array_equal(g, w)


def test_units_equal_numpy():
    """Unit numbers in one compiled pass: numpy's repeat, rank within the building and where."""
    units_per_building = np.array([1, 3, 1, 9, 12, 8, 1, 25, 2], np.int64)
    building, unit = kernels.units(units_per_building, 8, 12)
    want_building = np.repeat(np.arange(len(units_per_building)), units_per_building)
    j = np.arange(len(want_building)) - np.repeat(np.cumsum(units_per_building) - units_per_building, units_per_building)
    size = units_per_building[want_building]
    want_unit = np.where(size == 1, 0, np.where(size > 8, (j // 12 + 1) * 100 + j % 12 + 1, j + 1))
    assert building.dtype == unit.dtype == np.int64
    assert np.array_equal(building, want_building) and np.array_equal(unit, want_unit)
    assert unit[units_per_building[:3].sum() + 1:][:12].tolist()[:3] == [102, 103, 104]   # the 9-unit building, by floor


def test_person_ids_equal_numpy():
    """Person ids in one pass: the area's offset plus the position in the area, areas in order,
    some without a household."""
    rng = np.random.default_rng(13)
    n_zip = 40
    hh_zip = np.sort(rng.choice(np.arange(0, n_zip, 2), 500)).astype(np.int32)      # odd areas empty
    hh_size = rng.integers(1, 7, len(hh_zip))
    person_offset = np.cumsum(rng.integers(100, 1000, n_zip)).astype(np.int64)
    per_zip = np.bincount(hh_zip, weights=hh_size, minlength=n_zip).astype(np.int64)
    first = np.cumsum(per_zip) - per_zip
    want = np.repeat(person_offset - first, per_zip) + np.arange(int(hh_size.sum()))
    got = kernels.person_ids(hh_zip, hh_size, person_offset)
    assert got.dtype == np.int64 and np.array_equal(got, want)


def test_below_equals_numpy():
    """A float32 draw against one of two rates, compared in float64 as numpy compares them."""
    u = np.array([0.3, np.nextafter(np.float32(0.3), np.float32(1)), 0.7, 0.1], np.float32)
    choose = np.array([True, True, False, False])
    assert np.array_equal(kernels.below(u, choose, 0.3, 0.5), u < np.where(choose, 0.3, 0.5))
    u = np.random.default_rng(14).random(10_000, dtype=np.float32)
    choose = u > 0.4
    assert np.array_equal(kernels.below(u, choose, 0.45, 0.2), u < np.where(choose, 0.45, 0.2))


def test_categories_through_via_equal_the_codes_gathered_first():
    """categories(..., rows, via) reads codes[via[rows]]: an area's city at a row's dwelling."""
    import pyarrow as pa

    from sim.world.address import categories

    rng = np.random.default_rng(15)
    table = pa.array([f"CITY{i}" for i in range(30)], pa.string())
    codes = rng.integers(0, 30, 50)                                  # per area
    via = rng.integers(0, 50, 400).astype(np.int32)                  # each dwelling's area
    rows = rng.integers(0, 400, 1_000).astype(np.int32)              # each row's dwelling
    assert categories(table, codes, rows=rows, via=via).equals(categories(table, codes[via], rows=rows))
    assert categories(table, codes, via=via).equals(categories(table, codes[via]))
    bad = codes.copy()
    bad[via[rows[7]]] = 30
    with pytest.raises(ValueError, match="do not all index the table"):
        categories(table, bad, rows=rows, via=via)
    with pytest.raises(ValueError, match="without nulls"):
        categories(table, codes, rows=rows, via=via, null_below=0)


@pytest.mark.parametrize("rates", [(0.9, 0.45), (1.0, 0.0), (0.3, 1e-300)])
def test_filing_gaps_in_one_pass_equal_numpy(rates):
    """filing_gap's compiled pass, from a scalar rate or (rates, which), gives numpy's gaps:
    certain filers (rate 1), never filers (rate 0) and a draw of 0 included."""
    from sim.world.population import filing_gap

    rng = np.random.default_rng(16)
    draw = rng.random(20_000)
    draw[:3] = [0.0, 0.5, np.nextafter(1.0, 0.0)]
    which = rng.integers(0, 2, len(draw)).astype(np.int8)
    per_household = np.asarray(rates)[which]
    want = filing_gap(draw, per_household, 15)                       # the numpy path, a rate per household
    assert want.dtype == np.int64
    assert np.array_equal(filing_gap(draw, (np.asarray(rates), which), 15), want)
    for r in rates:
        assert np.array_equal(filing_gap(draw, r, 15), filing_gap(draw, np.full(len(draw), r), 15))


def test_take_equals_numpy_indexing():
    values = np.arange(100, 200, dtype=np.int32)
    for dtype in (np.int8, np.int32, np.int64, np.uint16):
        positions = np.random.default_rng(17).integers(0, 100, 1_000).astype(dtype)
        got = kernels.take(values, positions)
        assert got.dtype == values.dtype and np.array_equal(got, values[positions])


def test_street_repeats_equal_numpy():
    """Streets named as an earlier street of their area: the same streets in the same order as
    numpy's stable sort of the (area, directional, suffix, stem) key, names repeated up to many
    times, some areas left out."""
    rng = np.random.default_rng(17)
    count = rng.integers(1, 300, 25)
    first = np.cumsum(count) - count
    n = int(count.sum())
    area = np.repeat(np.arange(len(count)), count)
    predir, suffix, stem = rng.integers(-1, 2, n), rng.integers(0, 3, n), rng.integers(0, 40, n)
    for areas in (np.arange(len(count)), np.array([2, 3, 11, 24]), np.array([], np.int64)):
        check = np.flatnonzero(np.isin(area, areas))
        key = ((area[check] * 3 + predir[check] + 1) * 3 + suffix[check]) * 40 + stem[check]
        order = np.argsort(key, kind="stable")
        expected = check[order[1:][key[order][1:] == key[order][:-1]]]
        got = kernels.street_repeats(areas, first, count, predir, suffix, stem, 3, 40)
        assert len(expected) > 0 or len(areas) == 0
        assert np.array_equal(got, expected)


def test_buildings_equal_numpy():
    """Each building's street and number in one pass: the street placed by its uniform among
    its area's, numbered after the buildings of the street before it."""
    from sim.world.population import rank_within

    rng = np.random.default_rng(19)
    n_streets = rng.integers(3, 30, 50)
    st_first = np.cumsum(n_streets) - n_streets
    n_st = int(n_streets.sum())
    st_base = rng.integers(1, 99, n_st) * 100 + rng.integers(0, 2, n_st)
    st_step = np.array([2, 4, 6, 10, 20])[rng.integers(0, 5, n_st)]
    bl_zip = np.sort(rng.integers(0, 50, 20_000)).astype(np.int32)
    u = _uniforms(rng, len(bl_zip))
    street = st_first[bl_zip] + (u * n_streets[bl_zip]).astype(np.int64)
    got_street, got_number = kernels.buildings(bl_zip, u, st_first, n_streets, st_base, st_step)
    assert np.array_equal(got_street, street)
    assert np.array_equal(got_number, st_base[street] + rank_within(street) * st_step[street])


def test_merge_households_equals_numpy():
    """General and requested households merged in area order, an area's general ones first,
    some areas with only one kind or none."""
    rng = np.random.default_rng(23)
    n_zip, n_races = 30, 6
    g_cell = np.sort(rng.integers(0, n_zip * n_races, 2_000))
    g_cell = g_cell[g_cell // n_races % 5 != 3]                            # areas without general ones
    g_size = rng.integers(1, 8, len(g_cell))
    n_req = rng.integers(0, 40, n_zip) * (np.arange(n_zip) % 4 != 1)      # and without requested
    r_zip = np.repeat(np.arange(n_zip), n_req)
    r_origin, r_pool, r_size = rng.integers(0, 9, len(r_zip)), rng.integers(0, 20, len(r_zip)), rng.integers(1, 8, len(r_zip))
    race_pool = np.array([3, 5, 7, 11, 13, 17])
    g_zip = g_cell // n_races
    g_place = np.arange(len(g_zip)) + (np.cumsum(n_req) - n_req)[g_zip]
    r_place = np.arange(len(r_zip)) + np.cumsum(np.bincount(g_zip, minlength=n_zip))[r_zip]

    def merged(general, requested, dtype):
        out = np.empty(len(g_zip) + len(r_zip), dtype=dtype)
        out[g_place], out[r_place] = general, requested
        return out

    origin = merged(-1, r_origin, np.int8)
    expected = (merged(g_zip, r_zip, np.int32), merged(race_pool[g_cell % n_races], r_pool, np.int8), origin,
                merged(g_size, r_size, np.int64), origin != -1)
    got = kernels.merge_households(g_cell, g_size, n_races, race_pool, r_zip, r_origin, r_pool, r_size, -1)
    for x, y in zip(got, expected):
        assert x.dtype == y.dtype and np.array_equal(x, y)


def test_doubling_up_equals_numpy():
    """Guests drawn among requested households, moved into a host of their community (area and
    pool) or else of their area; an area whose every household is drawn keeps them home."""
    rng = np.random.default_rng(29)
    n_zip, n_pools, n = 12, 5, 3_000
    hh_zip = np.sort(rng.integers(0, n_zip, n)).astype(np.int32)
    hh_pool = rng.integers(0, n_pools - 1, n).astype(np.int8)
    requested = (rng.random(n) < 0.4) | (hh_zip == 4)                    # area 4: everyone drawn
    u1 = rng.random(n)
    u1[hh_zip == 4] = 0.0
    hh_pool[requested & (u1 < 0.6) & (rng.random(n) < 0.2)] = n_pools - 1      # a pool only guests have
    hh_dwelling = rng.permutation(n).astype(np.int64)

    doubled = requested & (u1 < 0.6)
    hosts = np.flatnonzero(~doubled)
    community = hh_zip.astype(np.int64) * n_pools + hh_pool
    hosts_by_community = hosts[np.argsort(community[hosts], kind="stable")]
    per_community = np.bincount(community[hosts], minlength=n_zip * n_pools)
    first_in_community = np.cumsum(per_community) - per_community
    hosts_per_zip = np.bincount(hh_zip[hosts], minlength=n_zip)
    first_host = np.cumsum(hosts_per_zip) - hosts_per_zip
    doubled &= hosts_per_zip[hh_zip] > 0
    guest = np.flatnonzero(doubled)
    u2 = _uniforms(rng, len(guest))
    same = per_community[community[guest]]
    anyone = hosts[first_host[hh_zip[guest]] + (u2 * hosts_per_zip[hh_zip[guest]]).astype(np.int64)]
    kin = hosts_by_community[np.minimum(first_in_community[community[guest]] + (u2 * same).astype(np.int64), len(hosts) - 1)]
    expected = hh_dwelling.copy()
    expected[guest] = hh_dwelling[np.where(same > 0, kin, anyone)]
    assert (same == 0).any() and (same > 0).any() and hosts_per_zip[4] == 0

    got_doubled, got_hosts = kernels.doubled_up(requested, u1, 0.6, hh_zip, n_zip)
    assert np.array_equal(got_doubled, doubled) and np.array_equal(got_hosts, hosts_per_zip)
    got = hh_dwelling.copy()
    kernels.host_dwellings(got_doubled, got_hosts, hh_zip, hh_pool, n_pools, u2, got)
    assert np.array_equal(got, expected)


def test_counting_order_equals_a_stable_argsort():
    rng = np.random.default_rng(31)
    for n_keys in (1, 7, 500):
        keys = rng.integers(0, n_keys, 5_000).astype(np.int32)
        assert np.array_equal(kernels.counting_order(keys, n_keys + 3), np.argsort(keys, kind="stable"))
    assert len(kernels.counting_order(np.zeros(0, np.int32), 4)) == 0
