"""Households, people, dwellings and moves for one block of ZIP areas.

Everything is columnar: a household or person is a position in numpy arrays, a name is an index
into the vocabulary, an address is a street index, a house number and a unit number. The rules,
in the order they are applied:

1. Each area's 2025 population is split over the six Census groups in its 2010 proportions and
   cut into households of realistic sizes (ACS); requested people (ICE's docket) come in
   households of their own, larger ones, whose origin group follows where that group lives.
2. Each household rents or owns; renters mostly live in multi-unit buildings. Streets carry real
   suffix frequencies and no two streets of an area share a name; buildings are numbered along
   streets; apartments get unit numbers. Some requested households are doubled up in the unit
   of a household of their own community (shared homes).
3. People: a head, often a partner, children and other adult relatives, with ages and sexes
   that fit their roles. Names follow the household's naming pool: Hispanic two-surname
   households pass the father's and mother's first surnames to the children; other households
   share one surname, partners taking it at the pool's rate.
4. Moves: each household has a dated residence history (:mod:`sim.world.history`): its moves
   back to the oldest record about it, at annual rates by tenure and the head's age then, each
   earlier home now someone else's (so an out-of-date address points at another household), in
   the same ZIP area at ``same_zip_move_share``, else in another. The same hazards, at the
   head's age today, give the chance of a move between ICE's file and the disclosure
   (``hh_move_hazard``; drawn in :mod:`sim.world.requests`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from sim.config import Config
from sim.world import kernels
from sim.world.geography import Block, Plan
from sim.world.history import DAYS_PER_YEAR, History, build_history
from sim.world.vocab import RACES, Vocabulary, draw_from_cdf, origin_groups_data

GENERAL = -1  # origin code of households not named in ICE's file
ROLE_HEAD, ROLE_PARTNER, ROLE_CHILD, ROLE_RELATIVE = 0, 1, 2, 3
# Rate at which a partner takes the head's surname, by naming pool (Hispanic and Chinese women
# usually keep their own surnames; Census-pattern US households mostly share one).
PARTNER_TAKES_SURNAME = {"chinese": 0.1, "vietnamese": 0.1, "hispanic": 0.0, "brazilian": 0.3, "haitian": 0.6}
PARTNER_TAKES_SURNAME_DEFAULT = 0.75
TWO_SURNAME_POOLS = ("hispanic", "brazilian")


@dataclass
class Population:
    """One block's world: households, people and dwellings as parallel arrays."""

    # households
    hh_zip: np.ndarray            # row in plan.zips
    hh_pool: np.ndarray           # index into pool_names
    hh_origin: np.ndarray         # index into plan.groups, GENERAL for everyone else
    hh_size: np.ndarray
    hh_renter: np.ndarray
    hh_dwelling: np.ndarray       # current dwelling
    hh_doubled_up: np.ndarray
    history: History              # every household's dwellings back to its oldest record, dated
    hh_move_hazard: np.ndarray    # hazard per year of a move now (tenure, the head's age today)
    hh_filing_draw: np.ndarray    # uniform draw setting the year of the household's last return (master_file)
    # dwellings (a unit of a building)
    dw_building: np.ndarray
    dw_unit: np.ndarray           # 0 = no unit number
    # buildings
    bl_street: np.ndarray
    bl_number: np.ndarray
    bl_zip4: np.ndarray
    # streets
    st_zip: np.ndarray
    st_stem: np.ndarray
    st_suffix: np.ndarray
    st_predir: np.ndarray         # -1 = none
    st_base: np.ndarray           # house number of the street's first building
    st_step: np.ndarray           # numbering step along the street
    # people
    household: np.ndarray         # index of the person's household
    person_id: np.ndarray         # national identifier, independent of scale
    role: np.ndarray
    female: np.ndarray
    age: np.ndarray
    dob: np.ndarray               # days since 1970-01-01
    given1: np.ndarray
    given2: np.ndarray            # -1 = none
    sur1: np.ndarray
    sur2: np.ndarray              # -1 = none (second surname: the mother's for Hispanic names)
    requested: np.ndarray         # the person ICE's file names (one per requested household)
    pool_names: tuple[str, ...]
    reference_day: int            # the day the world is observed (days since 1970-01-01)

    @property
    def hh_previous(self) -> np.ndarray:
        """The dwelling each household lived in before its current one."""
        return self.history.previous()

    @property
    def hh_years_since_move(self) -> np.ndarray:
        """Years since each household moved into its current home."""
        return (self.reference_day - self.history.current_moved_in()) / DAYS_PER_YEAR

    @property
    def n_people(self) -> int:
        return len(self.household)

    @cached_property
    def hh_start(self) -> np.ndarray:
        """Position of each household's head (members are stored head first). Computed once:
        the master file and the requests read it several times."""
        return np.cumsum(self.hh_size) - self.hh_size

    def household_id(self, people: np.ndarray) -> np.ndarray:
        """The household identifier (its head's person id) of each of ``people`` (positions)."""
        return self.person_id[self.hh_start[self.household[people]]]


def reference_day(world) -> int:
    """Days since 1970-01-01 of the day the world is observed: June 27 (ICE's file) of
    ``world.reference_year``."""
    return _day(f"{world.reference_year}-06-27")


def disclosure_day(world) -> int:
    """Days since 1970-01-01 of the day the IRS disclosed the addresses: August 7 of
    ``world.reference_year`` (FACTS: the IRS declaration of Feb 11 2026)."""
    return _day(f"{world.reference_year}-08-07")


def _day(iso: str) -> int:
    return int((np.datetime64(iso) - np.datetime64("1970-01-01")).astype(np.int64))


def _cut(totals: np.ndarray, sizes_draw, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Cut consecutive cells of ``totals`` people into groups whose sizes come from ``sizes_draw``.

    Returns (cell of each group, size of each group); sizes sum exactly to each cell's total.
    A group straddling two cells is split in two, which slightly favours small groups at cell
    edges (one group per cell).
    """
    total = int(totals.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pieces = []
    covered = 0
    while covered < total:
        draw = sizes_draw(rng, max(int((total - covered) / 2.0) + 16, 16))
        pieces.append(draw)
        covered += int(draw.sum())
    # the running sums below the total and the cells' ends, merged (each cut once), in one pass
    sizes = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)      # mostly one piece: no copy
    return kernels.cut_cells(sizes.astype(np.int64, copy=False), np.asarray(totals, dtype=np.int64))


def _size_sampler(shares: list[float]):
    cdf = np.cumsum(shares) / np.sum(shares)

    def draw(rng: np.random.Generator, n: int) -> np.ndarray:
        return kernels.searchsorted_small(cdf, rng.random(n), 1)

    return draw


def _categorical_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of a (n, k) probability matrix."""
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    return (rng.random((len(probs), 1)) > cdf).sum(axis=1).clip(max=probs.shape[1] - 1)


def rank_within(keys: np.ndarray) -> np.ndarray:
    """0-based position of each element among equal keys, in array order."""
    if len(keys) and 0 <= keys.min() and keys.max() < 4 * len(keys) + 1024:   # a count per key: one pass
        return kernels.rank_counting(keys, int(keys.max()) + 1)
    return _rank_within_sort(keys)


def _rank_within_sort(keys: np.ndarray) -> np.ndarray:
    """:func:`rank_within` by a stable sort, for any keys."""
    # numpy's stable sort is a linear radix sort for 16-bit keys
    small = len(keys) and 0 <= keys.min() and keys.max() < 2**16
    order = np.argsort(keys.astype(np.uint16) if small else keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    run = np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - run
    return rank


def build(config: Config, plan: Plan, block: Block, vocab: Vocabulary, rng: np.random.Generator) -> Population:
    """Generate the households, people and dwellings of ``block``: the stages of the module's
    docstring, each drawing from ``rng`` in turn in the order called here (which fixes the
    world's draws)."""
    world = config.world
    zips = plan.areas(block)
    hh = _households(world.households, plan, block, zips, vocab, rng)
    place = _dwellings(world.households, hh, len(zips), vocab, rng)
    doubled = _double_up(world.households, hh, place.hh_dwelling, len(zips), len(vocab.pools), rng)
    people = _people(world, hh, zips, rng)
    given1, given2, sur1, sur2 = _names(hh, people, vocab, rng)
    filing_draw = rng.random(len(hh.zip))
    history, move_hazard = _history(world, hh, place, people.age[hh.start], filing_draw, len(zips), rng)

    i32 = lambda a: a.astype(np.int32)  # noqa: E731  compact address arrays: gathers stay in cache
    return Population(
        hh_zip=hh.zip, hh_pool=hh.pool, hh_origin=hh.origin, hh_size=hh.size, hh_renter=hh.renter,
        hh_dwelling=i32(place.hh_dwelling), hh_doubled_up=doubled, history=history, hh_move_hazard=move_hazard,
        hh_filing_draw=filing_draw,
        dw_building=i32(place.dw_building), dw_unit=i32(place.dw_unit),
        bl_street=i32(place.bl_street), bl_number=i32(place.bl_number), bl_zip4=i32(place.bl_zip4),
        st_zip=i32(place.st_zip), st_stem=i32(place.st_stem), st_suffix=i32(place.st_suffix),
        st_predir=i32(place.st_predir), st_base=i32(place.st_base), st_step=i32(place.st_step),
        household=people.household, person_id=people.person_id, role=people.role, female=people.female,
        age=people.age, dob=people.dob, given1=given1, given2=given2, sur1=sur1, sur2=sur2,
        requested=_requested_heads(hh, len(people.household)), pool_names=tuple(vocab.pools),
        reference_day=reference_day(world),
    )


def _requested_heads(hh: "_Households", n: int) -> np.ndarray:
    """Who ICE requested: the head of each requested household, its first member (set from the
    households, not tested person by person)."""
    requested = np.zeros(n, dtype=bool)
    requested[hh.start[hh.requested]] = True
    return requested


@dataclass
class _Households:
    """Stage 1: each household's area, naming pool, origin group, size and tenure, in area
    order (general households first within an area)."""
    zip: np.ndarray
    pool: np.ndarray
    origin: np.ndarray
    size: np.ndarray
    requested: np.ndarray         # a household of ICE's docket
    renter: np.ndarray
    multiunit: np.ndarray

    @cached_property
    def start(self) -> np.ndarray:
        """Position of each household's first member: computed once, as the later stages and
        the population's assembly each read it."""
        return np.cumsum(self.size) - self.size


def _households(hcfg, plan: Plan, block: Block, zips, vocab: Vocabulary, rng: np.random.Generator) -> _Households:
    n_zip = len(zips)
    groups_data = origin_groups_data()
    pool_code = {p: i for i, p in enumerate(vocab.pools)}
    pool_code["general"] = pool_code["general_white"]  # an alias: households get the real pool

    pop = zips["population"]
    race_share = np.stack([zips[f"pop_{r}"] for r in RACES], axis=1)
    race_share = race_share / race_share.sum(axis=1, keepdims=True)
    by_race = rng.multinomial(pop, race_share)                        # (n_zip, 6)
    g_cell, g_size = _cut(by_race.ravel(), _size_sampler(hcfg.size_shares_general), rng)    # area * 6 + race

    n_req = zips["n_requests"]
    r_zip = np.repeat(np.arange(n_zip), n_req)
    r_origin = _categorical_rows(rng, plan.group_weights[block.rows][r_zip] + 1e-300)
    r_size = _size_sampler(hcfg.size_shares_immigrant)(rng, len(r_zip))
    # the naming pool of each requested household, from its origin group's mixture
    r_pool = np.empty(len(r_zip), dtype=np.int64)
    u = rng.random(len(r_zip))
    for j, group in enumerate(plan.groups):
        mix = groups_data[group]["names"]
        names, w = list(mix), np.cumsum(list(mix.values()))
        choice = draw_from_cdf(w / w[-1], u)
        mine = r_origin == j
        r_pool[mine] = np.array([pool_code[n] for n in names])[choice[mine]]

    # Area order, general households first within an area (person numbering depends on it).
    # Both lists are already in area order: a merge.
    zip_, pool, origin, size, is_req = kernels.merge_households(
        g_cell, g_size, len(RACES), np.array([pool_code[f"general_{r}"] for r in RACES]), r_zip, r_origin, r_pool, r_size,
        GENERAL)
    n_hh = len(zip_)
    renter = kernels.below(rng.random(n_hh, dtype=np.float32), is_req, hcfg.renter_share_immigrant, hcfg.renter_share_general)
    multiunit = kernels.below(rng.random(n_hh, dtype=np.float32), renter, hcfg.multiunit_share_renter, hcfg.multiunit_share_owner)
    return _Households(zip=zip_, pool=pool, origin=origin, size=size, requested=is_req, renter=renter, multiunit=multiunit)


@dataclass
class _Dwellings:
    """Stage 2: streets, buildings along them and the dwellings (units) in those, and each
    household's dwelling. Buildings and dwellings are numbered single-family houses first, in
    area order, then the multi-unit buildings and their apartments, in area order."""
    st_zip: np.ndarray
    st_stem: np.ndarray
    st_suffix: np.ndarray
    st_predir: np.ndarray
    st_base: np.ndarray
    st_step: np.ndarray
    bl_zip: np.ndarray
    bl_street: np.ndarray
    bl_number: np.ndarray
    bl_zip4: np.ndarray
    dw_building: np.ndarray
    dw_unit: np.ndarray
    hh_dwelling: np.ndarray


def _dwellings(hcfg, hh: _Households, n_zip: int, vocab: Vocabulary, rng: np.random.Generator) -> _Dwellings:
    hh_per_zip = np.bincount(hh.zip, minlength=n_zip)
    n_streets = np.maximum(3, np.ceil(hh_per_zip / 25).astype(np.int64))
    st_zip = np.repeat(np.arange(n_zip), n_streets)
    n_st = len(st_zip)
    st_stem = vocab.street_sampler.draw(rng.random(n_st))
    st_suffix = draw_from_cdf(vocab.suffix_cdf, rng.random(n_st))
    st_predir = np.where(rng.random(n_st) < vocab.predirectional_rate, rng.integers(0, len(vocab.directionals), n_st), -1)
    st_first = np.concatenate([[0], np.cumsum(n_streets)[:-1]])
    # USPS addresses are unique: no two streets of an area share a name (OAK ST and OAK AVE may
    # both exist, as they do, but not two N OAK STs); repeats redraw their stem. A round need
    # only look again at the areas where the last round redrew a stem (the others have no
    # repeat), and finds the repeats in the order of a sort by area and name.
    areas = np.arange(n_zip)
    n_suffix = len(vocab.suffix_cdf)
    for _ in range(50):
        repeat = kernels.street_repeats(areas, st_first, n_streets, st_predir, st_suffix, st_stem, n_suffix,
                                        len(vocab.street_stems))
        if len(repeat) == 0:
            break
        st_stem[repeat] = vocab.street_sampler.draw(rng.random(len(repeat)))
        areas = np.unique(st_zip[repeat])

    # multi-unit households, shuffled within their area, cut into buildings
    mu = np.flatnonzero(hh.multiunit)
    mu = mu[_order_within_areas(hh.zip[mu], rng.random(len(mu)))]   # area order, random within an area
    mean_extra = max(hcfg.mean_building_units - 2.0, 1e-9)
    building_sizes = lambda r, n: 1 + r.geometric(1.0 / (mean_extra + 1.0), n)  # noqa: E731  mean = mean_building_units
    mu_counts = np.bincount(hh.zip[mu], minlength=n_zip)
    b_cell, b_units = _cut(mu_counts, building_sizes, rng)
    sf = np.flatnonzero(~hh.multiunit)
    bl_zip = np.concatenate([hh.zip[sf], b_cell])
    n_bl = len(bl_zip)
    u_street = rng.random(n_bl)
    # number buildings along each street: a base, then a fixed step (same side of the street)
    st_base = rng.integers(1, 99, n_st) * 100 + rng.integers(0, 2, n_st)
    st_step = np.array([2, 4, 6, 10, 20])[rng.integers(0, 5, n_st)]
    bl_street, bl_number = kernels.buildings(bl_zip, u_street, st_first, n_streets, st_base, st_step)
    bl_zip4 = rng.integers(1, 10000, n_bl)

    # dwellings: single-family buildings have one; multi-unit buildings one per unit
    units_per_building = np.concatenate([np.ones(len(sf), np.int64), b_units])
    # unit numbers: none in a house; 1, 2, ... in a small building; by floor (101-112, 201-212,
    # ...) in one of more than 8 units
    dw_building, dw_unit = kernels.units(units_per_building, 8, 12)
    hh_dwelling = np.empty(len(hh.zip), dtype=np.int64)
    hh_dwelling[sf] = np.arange(len(sf))
    hh_dwelling[mu] = len(sf) + np.arange(len(mu))
    return _Dwellings(st_zip=st_zip, st_stem=st_stem, st_suffix=st_suffix, st_predir=st_predir, st_base=st_base,
                      st_step=st_step, bl_zip=bl_zip, bl_street=bl_street, bl_number=bl_number, bl_zip4=bl_zip4,
                      dw_building=dw_building, dw_unit=dw_unit, hh_dwelling=hh_dwelling)


def _order_within_areas(area: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``np.argsort(area + u)`` for ascending areas and uniforms ``u``: sorted area by area
    (compiled) unless two keys tie, where numpy's own (unstable) sort decides."""
    order, ok = kernels.order_within_areas(area, u)
    return order if ok else np.argsort(area + u)


def _double_up(hcfg, hh: _Households, hh_dwelling: np.ndarray, n_zip: int, n_pools: int,
               rng: np.random.Generator) -> np.ndarray:
    """Doubled up: a requested household living in the unit of another household of its area
    that stays in its own unit, of the same naming community where the area has one (shared
    homes are family and compatriots: FACTS, D. Mass.), otherwise any. Moves the guests into
    their hosts' dwellings (``hh_dwelling``, in place) and returns who is a guest."""
    doubled, hosts_per_zip = kernels.doubled_up(hh.requested, rng.random(len(hh.zip)), hcfg.doubled_up_share, hh.zip, n_zip)
    kernels.host_dwellings(doubled, hosts_per_zip, hh.zip, hh.pool, n_pools, rng.random(int(doubled.sum())), hh_dwelling)
    return doubled


def age_band_shares(bands: tuple[float, ...], mean: float, sd: float, lo: float, hi: float) -> np.ndarray:
    """The share of heads in each age band (lower edges ``bands``) when their age is normal
    (``mean``, ``sd``) clipped to ``[lo, hi]``, as the world draws them.

    >>> age_band_shares((15, 45), 45.0, 10.0, 18, 95).round(3).tolist()
    [0.5, 0.5]
    """
    def cdf(x: float) -> float:
        if x < lo:
            return 0.0
        if x >= hi:
            return 1.0
        return 0.5 * (1 + math.erf((x - mean) / (sd * math.sqrt(2)))) if sd > 0 else float(x >= mean)

    uppers = [*bands[1:], math.inf]
    return np.array([cdf(u) - (cdf(b) if i else 0.0) for i, (b, u) in enumerate(zip(bands, uppers))])


def filing_gap(draw: np.ndarray, rate: np.ndarray | float | tuple[np.ndarray, np.ndarray], most: int) -> np.ndarray:
    """Tax years between the latest one and a household's last return, from its uniform ``draw``:
    geometric at the household's filing ``rate`` (it files for each year at that rate), at most
    ``most``. A lower rate never gives a shorter gap for the same draw, so the lowest rate bounds
    how far back a household's history must reach.

    ``rate``: one rate, a rate per household, or ``(rates, which)``, a few rates and each
    household's index into them (the same gaps, without a rate and its logarithm per household;
    the rest of the arithmetic then runs in one compiled pass, :func:`kernels.geometric_gaps`).

    >>> filing_gap(np.array([0.05, 0.5, 0.95]), 0.9, 15).tolist()
    [0, 0, 1]
    >>> filing_gap(np.array([0.05, 0.5, 0.95]), (np.array([0.9, 0.5]), np.array([1, 1, 0])), 15).tolist()
    [0, 1, 1]
    """
    keep_log = lambda r: np.log1p(-np.minimum(np.asarray(r, dtype=np.float64), 1.0))  # noqa: E731
    with np.errstate(divide="ignore", invalid="ignore"):
        spent = np.log1p(-np.asarray(draw, dtype=np.float64))
        if isinstance(rate, tuple):
            rates, which = rate
            return kernels.geometric_gaps(spent, np.atleast_1d(keep_log(rates)), np.asarray(which), int(most))
        if np.ndim(rate) == 0:
            return kernels.geometric_gaps(spent, np.atleast_1d(keep_log(rate)), _NO_INDEX, int(most))
        gap = np.floor(spent / keep_log(rate))
    return np.minimum(np.nan_to_num(gap, nan=0.0, posinf=most), most).astype(np.int64)


_NO_INDEX = np.zeros(0, np.int64)


def last_return_window(world, gap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first and last day a return for the tax year ``gap`` years before the latest is
    processed: February 1 to the end of May of the year after it."""
    gap = np.asarray(gap, dtype=np.int64)
    if gap.size > 64 and int(gap.max()) - int(gap.min()) < 64:    # a few distinct gaps: each year's January 1 once
        lo = int(gap.min())
        return tuple(w[gap - lo] for w in last_return_window(world, np.arange(lo, int(gap.max()) + 1)))
    year = world.reference_year - gap                       # the year it is processed in
    january = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    return january + 31, january + 150


@lru_cache(maxsize=64)
def _band_hazards_cached(rate: float, factors: tuple[float, ...], shares: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(band_hazards(rate, factors, np.asarray(shares)).tolist())


def band_hazards(rate: float, factors: tuple[float, ...], shares: np.ndarray) -> np.ndarray:
    """Hazards per year by age band, proportional to ``factors``, such that the share of heads
    (in the bands at ``shares``) who move within a year is ``rate``: the configured tenure rate
    stays the annual mover rate of today's heads, whatever the factors.

    >>> band_hazards(0.19, (1.0, 1.0), np.array([0.5, 0.5])).round(6).tolist() == [round(-math.log(0.81), 6)] * 2
    True
    """
    f = np.asarray(factors, dtype=np.float64)
    lo, hi = 0.0, 1.0
    while np.dot(shares, 1 - np.exp(-hi * f)) < rate and hi < 1e6:
        hi *= 2
    for _ in range(100):                                   # bisection: the share rises with the scale
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.dot(shares, 1 - np.exp(-mid * f)) < rate else (lo, mid)
    return (lo + hi) / 2 * f


def _history(world, hh: _Households, place: _Dwellings, head_age: np.ndarray, filing_draw: np.ndarray, n_zip: int,
             rng: np.random.Generator) -> tuple[History, np.ndarray]:
    """Stage 4: each household's residence history, back to the oldest record about it: ICE's
    oldest final orders for a requested household; for any other, its last return (whose year
    ``filing_draw`` sets, at most as far back as the lower of the two filing rates allows).
    Also each household's hazard of a move today (its tenure, its head's age band)."""
    mob, hcfg = world.mobility, world.households
    day = reference_day(world)
    # one row of band hazards per (requested?, renter?): heads' ages as the world draws them
    table = np.array([_band_hazards_cached(rate, tuple(mob.age_factors),
                                           tuple(age_band_shares(mob.age_bands, *ages, 18, top).tolist()))
                      for ages, top in ((hcfg.head_age_general, 95), (hcfg.head_age_requested, 75))
                      for rate in (mob.owner_annual_move_rate, mob.renter_annual_move_rate)])
    group = 2 * hh.requested.astype(np.int64) + hh.renter.astype(np.int64)
    bands = np.asarray(mob.age_bands, np.float64)
    mcfg = world.master_file
    earliest_return, _ = last_return_window(world, filing_gap(filing_draw, min(mcfg.filing_rate_ssn, mcfg.filing_rate_itin),
                                                              mcfg.max_filing_gap_years))
    oldest_order = day - int(np.ceil(max(b for _, b in world.requests.record.order_age.bands()) * DAYS_PER_YEAR))
    horizon = np.where(hh.requested, np.minimum(oldest_order, earliest_return), earliest_return)
    # dwellings in area order (stable: an area's single-family houses, then its apartments),
    # by a count per area rather than a sort
    dw_zip = place.bl_zip[place.dw_building]
    by_zip = kernels.counting_order(dw_zip, n_zip)
    history = build_history(place.hh_dwelling, table, group, bands, head_age, horizon, day, dw_zip, by_zip, n_zip,
                            mob.same_zip_move_share, rng)
    history.dwelling = history.dwelling.astype(np.int32, copy=False)   # compact: gathers stay in cache
    return history, kernels.hazard_now(table, group, bands, head_age)


@dataclass
class _People:
    """Stage 3: each person's household, role, sex, age and date of birth, and identifier;
    members stored head first, households in order."""
    household: np.ndarray
    role: np.ndarray
    female: np.ndarray
    age: np.ndarray
    dob: np.ndarray
    person_id: np.ndarray


def _people(world, hh: _Households, zips, rng: np.random.Generator) -> _People:
    """Stage 3: the draws in numpy, in the order and sizes of :func:`_people_numpy`; what they
    make in two compiled passes (:func:`sim.world.kernels.roles`, :func:`sim.world.kernels.ages`)."""
    hcfg = world.households
    n_hh = len(hh.zip)
    n = int(hh.size.sum())
    hh_start = hh.start
    u = rng.random(n, dtype=np.float32)
    household, role, n_partner, n_child, n_relative = kernels.roles(
        hh.size, u, np.float32(hcfg.child_share), np.float32(hcfg.partner_share), ROLE_HEAD, ROLE_PARTNER, ROLE_CHILD, ROLE_RELATIVE)
    head_female = kernels.below(rng.random(n_hh, dtype=np.float32), hh.requested, hcfg.requested_head_female_share, 0.5)
    female = rng.random(n, dtype=np.float32) < 0.5
    z = rng.standard_normal(n_hh, dtype=np.float32)
    (m_req, sd_req), (m_gen, sd_gen) = hcfg.head_age_requested, hcfg.head_age_general
    head_age = np.where(hh.requested, np.clip(m_req + sd_req * z, 18, 75), np.clip(m_gen + sd_gen * z, 18, 95)).astype(np.float32)
    partner_normal = rng.standard_normal(n_partner, dtype=np.float32)
    child_uniform = rng.random(n_child, dtype=np.float32)
    relative_normal = rng.standard_normal(n_relative, dtype=np.float32)
    day_of_year = rng.integers(0, 365, n, dtype=np.int32)
    age, dob = kernels.ages(household, role, hh_start, female, head_female, head_age, partner_normal, child_uniform,
                            relative_normal, day_of_year, reference_day(world), ROLE_HEAD, ROLE_PARTNER, ROLE_CHILD)
    return _People(household=household, role=role, female=female, age=age, dob=dob,
                   person_id=_person_ids(hh, zips, n))


def _person_ids(hh: _Households, zips, n: int) -> np.ndarray:
    """Person identifiers: the area's national offset + position in the area. Households are in
    area order, so a person's position in its area is its position in the block minus the first
    position of the area (one compiled pass, :func:`sim.world.kernels.person_ids`)."""
    ids = kernels.person_ids(hh.zip, hh.size, np.asarray(zips["person_offset"], dtype=np.int64))
    assert len(ids) == n
    return ids


def _people_numpy(world, hh: _Households, zips, rng: np.random.Generator) -> _People:
    """:func:`_people` in numpy, the reference its compiled passes are tested against."""
    hcfg = world.households
    n_hh = len(hh.zip)
    n = int(hh.size.sum())
    hh_start = hh.start
    household = np.repeat(np.arange(n_hh, dtype=np.int32), hh.size)
    member = np.arange(n, dtype=np.int32) - np.repeat(hh_start.astype(np.int32), hh.size)
    # role by position: the head first; the second member is a partner or another adult
    # relative; later members are children or adult relatives (world.households shares). Heads
    # of requested households are mostly men (ICE's docket); partners are of the other sex.
    u = rng.random(n, dtype=np.float32)
    role = np.full(n, ROLE_CHILD, dtype=np.int8)
    role[(member == 1) | (u >= hcfg.child_share)] = ROLE_RELATIVE
    role[(member == 1) & (u < hcfg.partner_share)] = ROLE_PARTNER
    role[hh_start] = ROLE_HEAD
    head_female = rng.random(n_hh, dtype=np.float32) < np.where(hh.requested, hcfg.requested_head_female_share, 0.5)
    female = rng.random(n, dtype=np.float32) < 0.5
    female[hh_start] = head_female
    partners = np.flatnonzero(role == ROLE_PARTNER)
    female[partners] = ~head_female[household[partners]]
    z = rng.standard_normal(n_hh, dtype=np.float32)
    (m_req, sd_req), (m_gen, sd_gen) = hcfg.head_age_requested, hcfg.head_age_general
    head_age = np.where(hh.requested, np.clip(m_req + sd_req * z, 18, 75), np.clip(m_gen + sd_gen * z, 18, 95)).astype(np.float32)
    age = head_age[household]
    partner, child, relative = role == ROLE_PARTNER, role == ROLE_CHILD, role == ROLE_RELATIVE
    age[partner] = np.clip(age[partner] - 2 + 4 * rng.standard_normal(int(partner.sum()), dtype=np.float32), 18, 99)
    age[child] = rng.random(int(child.sum()), dtype=np.float32) * np.clip(age[child] - 17, 1, 24)
    age[relative] = np.clip(age[relative] + 10 * rng.standard_normal(int(relative.sum()), dtype=np.float32), 18, 99)
    ref_day = reference_day(world)
    # days of age: whole years, then a uniform day within the year of age
    dob = ref_day - (np.floor(age) * np.float32(365.25)).astype(np.int32) - rng.integers(0, 365, n, dtype=np.int32)

    return _People(household=household, role=role, female=female, age=age, dob=dob, person_id=_person_ids(hh, zips, n))


def _names(hh: _Households, people: _People, vocab: Vocabulary,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stage 3, names: given names and surnames, naming pool by pool. Two-surname pools pass
    the father's and mother's first surnames to the children; others share one surname,
    partners taking it at the pool's rate. Returns given1, given2, sur1, sur2 (-1: none)."""
    pool_names = tuple(vocab.pools)
    role, female, household = people.role, people.female, people.household
    birth_year = kernels.birth_years(people.dob)
    n = len(household)
    hh_start = hh.start
    given1 = np.empty(n, np.int32)
    given2 = np.full(n, -1, np.int32)
    sur1 = np.empty(n, np.int32)
    sur2 = np.full(n, -1, np.int32)
    head_index = hh_start
    # people grouped by naming pool, in block order within a pool: group households, then
    # expand each household to its members
    hh_by_pool = np.argsort(hh.pool, kind="stable")
    hh_bounds = np.concatenate([[0], np.cumsum(np.bincount(hh.pool, minlength=len(pool_names)))])
    sizes_by_pool = hh.size[hh_by_pool]
    starts_by_pool = hh_start[hh_by_pool]
    person_bounds = np.concatenate([[0], np.cumsum(sizes_by_pool)])
    for code, name in enumerate(pool_names):
        pool = vocab.pools[name]
        a, b = hh_bounds[code], hh_bounds[code + 1]
        if a == b:
            continue
        sz = sizes_by_pool[a:b]
        first = person_bounds[a:b] - person_bounds[a]
        members = kernels.members_of(starts_by_pool[a:b], sz)
        if len(members) == 0:
            continue
        if name not in TWO_SURNAME_POOLS and pool.cohort is not None and pool.compound_rate == 0:
            # the general population's pools, most people: given names by birth cohort and one
            # household surname, each step one compiled pass (the same draws as below)
            pool.given_into(rng, female, birth_year, members, given1)
            takes = rng.random(len(members), dtype=np.float32) < PARTNER_TAKES_SURNAME.get(name, PARTNER_TAKES_SURNAME_DEFAULT)
            own, n_own = kernels.own_surname(members, role, takes, ROLE_HEAD, ROLE_PARTNER)
            kernels.share_surname(members, sz, own, pool.surnames(rng, n_own), sur1)
            continue
        g1, g2 = pool.given(rng, female[members], birth_year[members])
        given1[members], given2[members] = g1, g2
        r = role[members]
        head_at = np.repeat(first, sz)        # each household's head is its first person in `members`
        if name in TWO_SURNAME_POOLS:
            # heads and partners carry surnames of their own; children take one from each
            # parent, relatives (the head's siblings) the head's two
            own = (r == ROLE_HEAD) | (r == ROLE_PARTNER)
            own1 = np.zeros(len(members), np.int32)
            own2 = np.zeros(len(members), np.int32)
            own1[own] = pool.surnames(rng, int(own.sum()))
            own2[own] = pool.surnames(rng, int(own.sum()))
            hh_p = household[members]
            head_p = head_index[hh_p]
            partner_pos = np.minimum(head_p + 1, n - 1)
            has_partner = (hh.size[hh_p] > 1) & (role[partner_pos] == ROLE_PARTNER)
            partner_at = np.searchsorted(members, partner_pos).clip(max=len(members) - 1)
            head_own1, head_own2 = own1[head_at], own2[head_at]
            # a parent who does not live here still gives all the children the same surname
            absent = pool.surnames(rng, b - a)[np.repeat(np.arange(b - a), sz)]
            partner_own1 = np.where(has_partner, own1[partner_at], absent)
            father_is_head = ~female[head_p]
            father1 = np.where(father_is_head, head_own1, partner_own1)
            mother1 = np.where(father_is_head, partner_own1, head_own1)
            if name == "hispanic":   # father's first surname, then mother's first surname
                child1, child2 = father1, mother1
            else:                    # Portuguese order: mother's surname, then father's
                child1, child2 = mother1, father1
            sur1[members] = np.select([r == ROLE_CHILD, r == ROLE_RELATIVE], [child1, head_own1], own1)
            sur2[members] = np.select([r == ROLE_CHILD, r == ROLE_RELATIVE], [child2, head_own2], own2)
        else:
            # one household surname: the head's, shared by children and relatives and taken by
            # partners at the pool's rate; only heads and the other partners draw their own
            takes = rng.random(len(members), dtype=np.float32) < PARTNER_TAKES_SURNAME.get(name, PARTNER_TAKES_SURNAME_DEFAULT)
            own = (r == ROLE_HEAD) | ((r == ROLE_PARTNER) & ~takes)
            surname = np.zeros(len(members), np.int32)
            surname[own] = pool.surnames(rng, int(own.sum()))
            sur1[members] = np.where(own, surname, surname[head_at])
    return given1, given2, sur1, sur2
