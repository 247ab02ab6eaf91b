"""ICE's request file for one block: one row per requested person, fields as ICE sent them.

Each field is derived from the person's true record by the corruptions ICE's data carries, every
one configurable and recorded in the ground truth (``truth_corruptions``):

* names (``world.requests.names``): both surnames, with the particles before the first one
  dropped (INS/DHS indexing), or only the first surname; a compound given name cut to its first
  part; another romanization of a Chinese surname; given name and surname swapped; keyboard
  errors;
* the date of birth (``world.requests.dates``): clerical errors (day and month swapped, a year or
  a day off), and dates recorded without a known day (the 1st of the month) or day and month
  (January 1), at a share by origin group;
* the given name as born, where the person's own master-file record carries its English form
  (JOSE / JOSEPH: ``given_anglicized``, drawn with the master file);
* the SSN field (``world.requests.ssn``): absent, the person's own TIN, mistyped, borrowed from a
  household member or a stranger in the same ZIP area, or a number never issued;
* the free-text ``earm_address``: the person's home on the day ICE last recorded it
  (``world.requests.record``: the final order, drawn from the docket's age mix, or a later
  check-in for people who report or are on Alternatives to Detention; the residence history
  says where that was), in one quality class (``world.requests.address``: complete, missing
  unit, no street number, city/state only, ZIP only, placeholder text with a ZIP, blank,
  shared/institutional) rendered with realistic formatting variation, typos in the street name
  and the ZIP. A home the household has left since is out of date: a complete address of it is
  the class ``out_of_date``, and any text naming it is ``truth_address_stale``.

The truth columns also say where the person lived on the day of the file (``truth_street_address``
in the USPS form the master file uses, and ``truth_zip``) and whether the household moved in the
six weeks before the IRS disclosed (``truth_moved_before_disclosure``), so
:mod:`sim.evaluate` can tell whether a disclosed address was current on August 7.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config import Config, SsnSources
from sim.world import address, tin as tins
from sim.world.address import ADDRESS_CLASSES
from sim.world.geography import Block, Plan
from sim.world.master_file import NO_TIN, MasterFile
from sim.world.history import DAYS_PER_YEAR
from sim.world.population import Population, disclosure_day, rank_within
from sim.world.vocab import Vocabulary, draw_from_cdf, names_data

SSN_SOURCES = ("none", *SsnSources.model_fields)   # the config's table is the one place they are named
CORRUPTIONS = (
    "particles_dropped", "one_surname", "given_truncated", "transliterated", "name_order_swapped",
    "first_name_typo", "last_name_typo", "given_anglicized", "dob_error", "dob_day_unknown", "dob_day_month_unknown",
    "ssn_mistyped", "ssn_borrowed_relative", "ssn_borrowed_stranger", "ssn_never_issued",
    "address_missing_unit", "address_no_street_number", "address_city_state_only", "address_zip_only",
    "address_placeholder", "address_blank", "address_out_of_date", "address_shared", "address_typo",
    "address_zip_typo",
)
SWAP_POOLS = ("chinese", "haitian", "vietnamese")
#: How ICE last recorded a requested person's address (``truth_record_source``): at the final
#: order, at a check-in of someone who reports, or on Alternatives to Detention.
RECORD_SOURCES = ("order", "reporting", "atd")
FIN_DOMAIN = 3_000_000_000


def _categorical(rng: np.random.Generator, n: int, shares: dict[str, float]) -> np.ndarray:
    names = np.asarray(list(shares), dtype=object)
    w = np.asarray(list(shares.values()), dtype=np.float64)
    if w.sum() <= 0:
        return np.full(n, names[-1], dtype=object)
    cdf = np.cumsum(w) / w.sum()
    return names[draw_from_cdf(cdf, rng.random(n))]


def _list_column(flags: dict[str, np.ndarray], n: int) -> pa.Array:
    """A list<string> column holding, per row, the names of the flags that are set."""
    names = list(flags)
    matrix = np.stack([flags[k] for k in names], axis=1) if names else np.zeros((n, 0), bool)
    counts = matrix.sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = np.asarray(names, dtype=object)[np.nonzero(matrix)[1]]
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, pa.string()))


def build(config: Config, plan: Plan, block: Block, pop: Population, master: MasterFile, vocab: Vocabulary,
          rngs: dict[str, np.random.Generator], tin_key: int) -> pa.Table:
    """The block's requests. ``rngs`` holds the streams ``names``, ``ssn``, ``address``,
    ``misc`` and ``after`` (one per concern, so a setting of one leaves the others' draws unchanged);
    ``tin_key`` is the key of the TIN permutation, used to find a mistyped number's owner."""
    world = config.world
    zips = plan.areas(block)
    person = np.flatnonzero(pop.requested)
    n = len(person)
    hh = pop.household[person]
    pool = np.asarray(pop.pool_names, dtype=object)[pop.hh_pool[hh]]
    flags: dict[str, np.ndarray] = {}

    # ---- names ------------------------------------------------------------------------------
    rng = rngs["names"]
    ncfg = world.requests.names
    strip, surnames = vocab.without_particles
    s1, s2 = pop.sur1[person], pop.sur2[person]
    two = s2 >= 0
    drop = np.isin(pool, ("hispanic",)) & (rng.random(n) < ncfg.ice_particles_dropped)
    s1_ice = np.where(drop, strip[s1], s1)
    s2_ice = s2   # INS/DHS indexing drops the particles before the first surname only (FACTS)
    flags["particles_dropped"] = drop & (s1_ice != s1)
    one = two & (rng.random(n) < ncfg.ice_one_surname)
    flags["one_surname"] = one
    translit_alt = vocab.translit[s1]
    n_alt = (translit_alt >= 0).sum(axis=1)
    translit = (pool == "chinese") & (n_alt > 0) & (rng.random(n) < ncfg.transliteration_variant)
    pick = (rng.random(n) * np.maximum(n_alt, 1)).astype(np.int64)
    s1_ice = np.where(translit, translit_alt[np.arange(n), np.minimum(pick, 2)], s1_ice)
    flags["transliterated"] = translit
    last = pc.if_else(
        pa.array(two & ~one),
        address.join(surnames.take(pa.array(s1_ice)), surnames.take(pa.array(np.maximum(s2_ice, 0)))),
        surnames.take(pa.array(s1_ice)),
    )
    given = vocab.given_arrow
    g1 = given.take(pa.array(pop.given1[person]))
    g2 = pop.given2[person]
    truncated = (g2 >= 0) & (rng.random(n) < ncfg.ice_compound_given_truncated)
    flags["given_truncated"] = truncated
    first = pc.if_else(pa.array((g2 >= 0) & ~truncated), address.join(g1, given.take(pa.array(np.maximum(g2, 0)))), g1)
    swapped = np.isin(pool, SWAP_POOLS) & (rng.random(n) < ncfg.given_surname_swapped)
    flags["name_order_swapped"] = swapped
    first, last = pc.if_else(pa.array(swapped), last, first), pc.if_else(pa.array(swapped), first, last)
    typo_first = rng.random(n) < ncfg.typo_rate
    typo_last = rng.random(n) < ncfg.typo_rate
    first = address.with_typos(first, typo_first, rng)
    last = address.with_typos(last, typo_last, rng)
    flags["first_name_typo"], flags["last_name_typo"] = typo_first, typo_last
    # the person's own record on the master file carries the English form of the given name
    flags["given_anglicized"] = master.anglicized[person]

    # ---- the SSN field ------------------------------------------------------------------------
    rng = rngs["ssn"]
    scfg = world.requests.ssn
    own = master.person_tin[person]
    has_own = own != NO_TIN
    has_number = rng.random(n) < np.where(has_own, scfg.share_if_on_file, scfg.share_if_not_on_file)
    sources = scfg.sources.as_dict()
    foreign = {k: v for k, v in sources.items() if k in ("borrowed_relative", "borrowed_stranger", "never_issued")}
    source = np.where(has_own, _categorical(rng, n, sources), _categorical(rng, n, foreign))
    source = np.where(has_number, source, "none")

    # a household member's number: the on-file member (not the person) with the smallest random key
    relative_tin, relative_id = _pick_relative(pop, master, person, rng)
    no_relative = (source == "borrowed_relative") & (relative_tin == NO_TIN)
    source = np.where(no_relative, "borrowed_stranger", source)
    stranger = _neighbour_on_file(pop, master, person, rng)
    source = np.where((source == "borrowed_stranger") & (stranger < 0), "never_issued", source)
    stranger = np.maximum(stranger, 0)
    mistyped = tins.mistype(rng, np.where(has_own, own, 0))
    invalid = tins.never_issued(rng, n)
    number = np.select(
        [source == "correct", source == "mistyped", source == "borrowed_relative", source == "borrowed_stranger", source == "never_issued"],
        [own, mistyped, relative_tin, master.person_tin[stranger], invalid],
        NO_TIN,
    )
    # whose number it is: known for own and borrowed numbers, computed for mistyped ones (a
    # mistyped number may belong to someone else in the area)
    owner = np.select(
        [source == "correct", source == "borrowed_relative", source == "borrowed_stranger"],
        [pop.person_id[person], relative_id, pop.person_id[stranger]],
        -1,
    )
    mis = source == "mistyped"
    owner[mis] = _owner_of(number[mis], master, pop, tin_key)
    ssn = pc.if_else(pa.array(number == NO_TIN), pa.scalar(None, pa.string()), tins.format_tin(np.maximum(number, 0)))
    for kind in ("mistyped", "borrowed_relative", "borrowed_stranger", "never_issued"):
        flags[f"ssn_{kind}"] = source == kind

    # ---- the address ------------------------------------------------------------------------
    rng = rngs["address"]
    acfg = world.requests.address
    # ICE's address is the person's home on the day ICE last recorded it (the final order, or a
    # later check-in); it is out of date when the household has moved since. A complete address
    # of a home left is the class out_of_date; a partial one (no unit, no number, a ZIP or a city
    # only) keeps its class and names the old place (truth_address_stale).
    order_day, record_day, record_source = record_dates(world.requests.record, pop.dob[person], pop.reference_day, rng)
    recorded = pop.history.dwelling_at(hh, record_day)
    moved = recorded != pop.hh_dwelling[hh]
    cls = _address_classes(pop, recorded, acfg.classes.as_dict(), rng)
    cls = np.where((cls == "complete") & moved, "out_of_date", cls)
    stale = moved & ~np.isin(cls, ("blank", "shared"))
    comp = address.components(pop, recorded)
    shared = cls == "shared"
    comp, institution = _institutions(pop, comp, shared, rng)
    labels = address.Labels(vocab, zips)
    earm = _render(comp, labels, cls, acfg.formatting, vocab, rng, flags)
    for c in ADDRESS_CLASSES[1:]:
        flags[f"address_{c}"] = cls == c

    # ---- identifiers and dates --------------------------------------------------------------
    rng = rngs["misc"]
    zip_of = pop.hh_zip[hh]
    rank = rank_within(zip_of)
    request_no = zips["request_offset"][zip_of] + rank
    # fingerprint identification numbers: 10 digits, unique nationally (a keyed permutation of
    # the request number, like the TINs)
    fin = 1_000_000_000 + tins.permute(request_no, FIN_DOMAIN, tin_key + 2)
    dcfg = world.requests.dates
    dob, flags["dob_error"] = _mistyped_dates(pop.dob[person], dcfg.dob_error_rate, rng)
    unknown = dcfg.unknown_dob.as_dict()
    share = np.array([unknown.get(g, unknown["other"]) for g in plan.groups])[pop.hh_origin[hh]]
    dob, flags["dob_day_unknown"], flags["dob_day_month_unknown"] = _unknown_dates(
        dob, share, dcfg.january_first_share, ~flags["dob_error"], rng)
    origin_names = np.asarray(plan.groups, dtype=object)
    household_id = pop.household_id(person)
    home = address.components(pop, pop.hh_dwelling[hh])

    # ---- between the file and the disclosure ---------------------------------------------------
    # a household moves in the weeks from ICE's file to the IRS's disclosure at its hazard today
    # (tenure, the head's age), the same hazard its history was drawn with
    rng = rngs["after"]
    years = (disclosure_day(world) - pop.reference_day) / DAYS_PER_YEAR
    moved_after = rng.random(n) < -np.expm1(-pop.hh_move_hazard[hh].astype(np.float64) * years)

    return pa.table({
        "request_id": pc.binary_join_element_wise(pa.scalar("R"), pc.utf8_lpad(pc.cast(pa.array(request_no), pa.string()), 7, "0"), ""),
        "first_name": first,
        "last_name": last,
        "date_of_birth": pa.array(dob, pa.int32()).cast(pa.date32()),
        "earm_address": earm,
        "ssn": ssn,
        "fin": pc.cast(pa.array(fin), pa.string()),
        "final_order_date": pa.array(order_day.astype(np.int32), pa.int32()).cast(pa.date32()),
        "truth_person_id": pa.array(pop.person_id[person], pa.int64()),
        "truth_household_id": pa.array(household_id, pa.int64()),
        "truth_origin_group": pa.array(origin_names[pop.hh_origin[hh]], pa.string()),
        "truth_name_pool": pa.array(pool, pa.string()),
        "truth_in_master_file": pa.array(has_own),
        "truth_ssn_source": pa.array(source, pa.string()),
        "truth_ssn_owner_id": pa.array(owner, pa.int64(), mask=owner < 0),
        "truth_address_class": pa.array(cls, pa.string()),
        "truth_zip": labels.area("zip5", home.zip_row),
        "truth_street_address": address.usps_street_line(home, labels.street_labels(pop)),
        "truth_moved_before_disclosure": pa.array(moved_after),
        "truth_address_stale": pa.array(stale),
        "truth_address_recorded": pa.array(record_day.astype(np.int32), pa.int32()).cast(pa.date32()),
        "truth_record_source": pa.array(np.asarray(RECORD_SOURCES, dtype=object)[record_source], pa.string()),
        "truth_address_age_years": pa.array(((pop.reference_day - record_day) / DAYS_PER_YEAR).astype(np.float32)),
        "truth_moves_since_record": pa.array(pop.history.moves_between(hh, record_day, np.full(n, pop.reference_day)).astype(np.int16)),
        "truth_institution": pa.array(institution, pa.string()),
        "truth_doubled_up": pa.array(pop.hh_doubled_up[hh]),
        "truth_corruptions": _list_column(flags, n),
    })


def _mistyped_dates(days: np.ndarray, rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Dates (days since 1970) with clerical errors at ``rate``: day and month swapped where the
    day could be a month, else the year or the day off by one. Returns (dates, changed)."""
    n = len(days)
    chosen = rng.random(n) < rate
    kind = rng.integers(0, 3, n)
    step = np.where(rng.random(n) < 0.5, -1, 1)
    d = days.astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (month_start - d.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int64) + 1
    day = (d - month_start).astype(np.int64) + 1

    def make(y, m, dd):
        start = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
        length = ((start + 1).astype("datetime64[D]") - start.astype("datetime64[D]")).astype(np.int64)
        return (start.astype("datetime64[D]") + np.minimum(dd, length) - 1).astype(np.int64)

    swappable = (day <= 12) & (day != month)
    swapped = make(year, np.minimum(day, 12), month)
    year_off = make(year + step, month, day)
    day_off = days + step
    out = np.select([~chosen, (kind == 0) & swappable, kind == 1], [days, swapped, year_off], day_off)
    return out.astype(np.int32), chosen & (out != days)


def _unknown_dates(days: np.ndarray, share: np.ndarray, january_first: float, eligible: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dates (days since 1970) recorded without a known day, at each row's ``share`` among the
    ``eligible`` rows: written as January 1 of the year at ``january_first``, else as the 1st of
    the month. Returns (dates, day unknown and changed, day and month unknown and changed).

    >>> d = np.array([np.datetime64("1990-07-15") - np.datetime64("1970-01-01")] * 2).astype(np.int64)
    >>> [str(np.datetime64(int(_unknown_dates(d, np.ones(2), jan, np.array([True, False]), np.random.default_rng(3))[0][0]), "D"))
    ...  for jan in (0.0, 1.0)]
    ['1990-07-01', '1990-01-01']
    """
    n = len(days)
    unknown = eligible & (rng.random(n) < share)
    whole = unknown & (rng.random(n) < january_first)
    d = days.astype("datetime64[D]")
    out = np.select([whole, unknown], [d.astype("datetime64[Y]").astype("datetime64[D]"),
                                       d.astype("datetime64[M]").astype("datetime64[D]")], d).astype(np.int64)
    changed = out != days
    return out.astype(np.int32), unknown & ~whole & changed, whole & changed


def _pick_relative(pop: Population, master: MasterFile, person: np.ndarray, rng: np.random.Generator):
    """For each requested person, the TIN and person id of a random on-file member of the household."""
    n = len(person)
    tin_out = np.full(n, NO_TIN, dtype=np.int64)
    id_out = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return tin_out, id_out
    hh = pop.household[person]
    start = pop.hh_start[hh]
    size = pop.hh_size[hh]
    member = np.repeat(np.arange(n), size)
    pos = np.repeat(start, size) + (np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size))
    ok = (master.person_tin[pos] != NO_TIN) & (pos != np.repeat(person, size))
    key = np.where(ok, rng.random(len(pos)), 2.0)
    order = np.lexsort((key, member))
    first_of = np.concatenate([[0], np.cumsum(size)[:-1]])
    best = pos[order][first_of]
    good = ok[order][first_of]
    tin_out[good] = master.person_tin[best[good]]
    id_out[good] = pop.person_id[best[good]]
    return tin_out, id_out


def _owner_of(number: np.ndarray, master: MasterFile, pop: Population, tin_key: int) -> np.ndarray:
    """Person id of the block resident on file under each number, or -1.

    SSNs are a keyed permutation of person ids, so the candidate owner of a number is computed,
    not searched; it owns the number if it lives in the block and is on file with that SSN.

    Known gaps, both for mistyped numbers only: an owner in another block is not recorded
    (at scale 1 about 3 in 10 mistyped SSNs belong to someone on file elsewhere), and a
    mistyped ITIN's owner is not looked up. ``truth_ssn_owner_id`` is therefore a lower bound
    for mistyped numbers; an evaluation that needs every owner joins the SSN to the whole
    master file, which holds the answer.
    """
    candidate = tins.ssn_person_ids(np.where(number == NO_TIN, 0, number), tin_key)
    pos = np.searchsorted(pop.person_id, candidate).clip(max=max(pop.n_people - 1, 0))
    hit = (number != NO_TIN) & (candidate >= 0) & (pop.person_id[pos] == candidate) & (master.person_tin[pos] == number)
    return np.where(hit, candidate, -1)


def record_dates(rcfg, dob: np.ndarray, day: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each requested person: the day of the final order, the day ICE last recorded the
    address and how (an index into :data:`RECORD_SOURCES`).

    The order's age is drawn from the docket's age bands (uniform within a band), at least 30
    days before ``day`` and after the person's 16th birthday. People who report to ICE, or are
    on Alternatives to Detention, were last in touch within their interval before ``day`` (never
    before their order)."""
    n = len(dob)
    bands = np.asarray(rcfg.order_age.bands(), dtype=np.float64)
    shares = np.asarray(list(rcfg.order_age.as_dict().values()), dtype=np.float64)
    band = draw_from_cdf(np.cumsum(shares) / shares.sum(), rng.random(n))
    age = bands[band, 0] + rng.random(n) * (bands[band, 1] - bands[band, 0])
    latest = day - 30
    earliest = np.minimum(dob.astype(np.int64) + int(16 * DAYS_PER_YEAR), latest)
    order_day = np.clip(day - np.floor(age * DAYS_PER_YEAR).astype(np.int64), earliest, latest)
    u = rng.random(n)
    source = np.where(u < rcfg.atd_share, 2, np.where(u < rcfg.atd_share + rcfg.reporting_share, 1, 0))
    interval = np.where(source == 2, rcfg.atd_interval_years, rcfg.reporting_interval_years)
    contact = day - np.floor(rng.random(n) * interval * DAYS_PER_YEAR).astype(np.int64)
    record_day = np.where(source > 0, np.maximum(order_day, contact), order_day)
    return order_day, record_day, source.astype(np.int8)


def _address_classes(pop: Population, dwelling: np.ndarray, shares: dict[str, float],
                     rng: np.random.Generator) -> np.ndarray:
    """One quality class per request, for the address of ``dwelling`` as ICE recorded it.

    Classes have the configured shares; ``missing_unit`` is drawn only where the dwelling has a
    unit, thinned first with the probability that keeps its overall share (capped at all of
    them; the shortfall goes to the other classes)."""
    n = len(dwelling)
    out = np.empty(n, dtype=object)
    if n == 0:
        return out
    has_unit = pop.dw_unit[dwelling] > 0
    p = min(shares["missing_unit"] * n / max(has_unit.sum(), 1), 1.0)
    hit = has_unit & (rng.random(n) < p)
    out[hit] = "missing_unit"
    rest = {k: v for k, v in shares.items() if k != "missing_unit"}
    out[~hit] = _categorical(rng, int((~hit).sum()), rest)
    return out


def _institutions(pop: Population, comp: address.Components, shared: np.ndarray, rng: np.random.Generator):
    """Replace the address of each shared-class request by an institution's, and name its kind.

    A few institutions per block (shelters, legal-aid offices, churches, ICE field offices),
    each on a street of an area where shared-class requests live, at a house number just before
    the street's first home, so no household lives there; popularity is Zipf, so a few take
    most requests (FACTS: 780 addresses used 20+ times, 7 used 500+ times).
    """
    inst = names_data()["institutions"]
    rows = np.flatnonzero(shared)
    kind_names = np.full(len(shared), None, dtype=object)
    if len(rows) == 0:
        return comp, kind_names
    k = max(1, int(round(len(rows) / inst["requests_per_institution"])))
    home_zip = comp.zip_row[rows[rng.integers(0, len(rows), k)]]          # areas they serve
    streets_per_zip = np.bincount(pop.st_zip, minlength=int(pop.st_zip.max()) + 1)
    first_street = np.cumsum(streets_per_zip) - streets_per_zip
    street = first_street[home_zip] + (rng.random(k) * streets_per_zip[home_zip]).astype(np.int64)
    number = pop.st_base[street] - pop.st_step[street]
    zip4 = rng.integers(1, 10_000, k)
    kind = np.asarray(inst["kinds"], dtype=object)[rng.integers(0, len(inst["kinds"]), k)]
    w = np.arange(1, k + 1, dtype=np.float64) ** (-inst["popularity_exponent"])
    pick = draw_from_cdf(np.cumsum(w) / w.sum(), rng.random(len(rows)))

    def put(values, new):
        out = values.copy()
        out[rows] = new[pick]
        return out

    comp = address.Components(
        street=put(comp.street, street), number=put(comp.number, number),
        predir=put(comp.predir, pop.st_predir[street]), stem=put(comp.stem, pop.st_stem[street]),
        suffix=put(comp.suffix, pop.st_suffix[street]), unit=put(comp.unit, np.zeros(k, comp.unit.dtype)),
        zip_row=put(comp.zip_row, pop.st_zip[street]), zip4=put(comp.zip4, zip4),
    )
    kind_names[rows] = kind[pick]
    return comp, kind_names


def _neighbour_on_file(pop: Population, master: MasterFile, person: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each requested person, a random person on file in the same ZIP area outside their
    household (position in ``pop``), or -1 where the area has none. Drawing from the area, not
    the block, keeps a borrowed stranger's number local at every scale."""
    n = len(person)
    on_file = master.rows                        # ascending, so in area order
    out = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(on_file) == 0:
        return out
    # each area's people on file: those from the area's first person on (households, and so
    # people, are in area order), found by a binary search of the people on file
    n_zip = int(pop.hh_zip.max()) + 1
    first_hh = np.searchsorted(pop.hh_zip, np.arange(n_zip + 1))
    area_start = np.where(first_hh < len(pop.hh_zip), pop.hh_start[np.minimum(first_hh, len(pop.hh_zip) - 1)], pop.n_people)
    before = np.searchsorted(on_file, area_start)
    first, count = before[:-1], np.diff(before)
    z = pop.hh_zip[pop.household[person]]
    k = (rng.random(n) * np.maximum(count[z], 1)).astype(np.int64)
    pick = on_file[np.minimum(first[z] + k, len(on_file) - 1)]
    # someone of the person's own household is no stranger: take the next one in the area
    own = pop.household[pick] == pop.household[person]
    nxt = on_file[np.minimum(first[z] + (k + 1) % np.maximum(count[z], 1), len(on_file) - 1)]
    pick = np.where(own, nxt, pick)
    ok = (count[z] > 0) & (pop.household[pick] != pop.household[person])
    out[ok] = pick[ok]
    return out


def _render(comp: address.Components, labels: address.Labels, cls: np.ndarray, fmt, vocab: Vocabulary,
            rng: np.random.Generator, flags: dict) -> pa.Array:
    """EARM_ADDRESS text for each request, by class, with formatting variation."""
    n = len(cls)
    null = pa.scalar(None, pa.string())
    take = address.take

    def chance(p: float) -> pa.Array:
        return pa.array(rng.random(n) < p)

    suffix = pc.if_else(chance(fmt.suffix_spelled_out), take(labels.suffix_full, comp.suffix), take(labels.suffix, comp.suffix))
    predir = pc.if_else(chance(fmt.directional_spelled_out), labels.predirs(comp, full=True), labels.predirs(comp))
    designator = pc.if_else(chance(fmt.unit_hash), pa.scalar("#"), pa.scalar("APT"))
    no_unit = np.isin(cls, ("missing_unit", "shared"))
    unit = pc.if_else(pa.array(no_unit), null, pc.binary_join_element_wise(designator, comp.unit_text(), " "))
    number = pc.if_else(pa.array(cls == "no_street_number"), null, comp.number_text())
    typo = rng.random(n) < fmt.typo_rate
    name = address.with_typos(take(labels.stem, comp.stem), typo, rng)
    street = address.join(number, predir, name, suffix, unit)
    commas = ~(rng.random(n) < fmt.no_commas)
    sep = pa.array(np.where(commas, ", ", " "), pa.string())
    city, state, zip5 = (labels.area(name, comp.zip_row) for name in ("city", "state", "zip5"))
    zip_typo = rng.random(n) < fmt.zip_typo_rate
    wrong_zip = address.digits(tins.mistype_digits(rng, np.array(pc.cast(zip5, pa.int64())), 5), 5)
    zip5 = pc.if_else(pa.array(zip_typo), wrong_zip, zip5)
    state_zip = address.join(state, zip5)
    full = pc.binary_join_element_wise(street, city, state_zip, sep)
    city_state = pc.binary_join_element_wise(city, state, sep)
    placeholder = address.join(take(pa.array(vocab.placeholders, pa.string()), rng.integers(0, len(vocab.placeholders), n)), zip5)
    text = pc.case_when(
        pc.make_struct(
            pa.array(cls == "blank"), pa.array(cls == "zip_only"), pa.array(cls == "placeholder"),
            pa.array(cls == "city_state_only"),
        ),
        pa.scalar(""), zip5, placeholder, city_state, full,
    )
    case = rng.random(n)
    lower = case < fmt.lowercase
    title = (case >= fmt.lowercase) & (case < fmt.lowercase + fmt.titlecase)
    text = pc.if_else(pa.array(lower), pc.utf8_lower(text), pc.if_else(pa.array(title), pc.utf8_title(text), text))
    flags["address_typo"] = typo & np.isin(cls, ("complete", "missing_unit", "no_street_number", "out_of_date", "shared"))
    flags["address_zip_typo"] = zip_typo & np.isin(cls, ("complete", "missing_unit", "no_street_number", "zip_only", "placeholder", "out_of_date", "shared"))
    return text
