"""sim.world.requests: ICE's request file of the session world, against the population and the
master file it was derived from.

Tolerances are 4 binomial standard errors, sqrt(p(1-p)/n), unless a comment says otherwise;
the session world has ~5,000 requests, so a share of 0.5 is checked to +-0.028.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from sim.normalize import PARTICLES
from sim.world.address import ADDRESS_CLASSES
from sim.world.requests import CORRUPTIONS, SSN_SOURCES, SWAP_POOLS
from sim.world.vocab import vocabulary
from tests.stats import binomial_plausible, four_se

NAME_CORRUPTIONS = {"particles_dropped", "one_surname", "given_truncated", "transliterated", "name_order_swapped", "first_name_typo", "last_name_typo"}
STREET_CLASSES = ("complete", "missing_unit", "no_street_number", "out_of_date", "shared")


def has(corruption: str, frame: pd.DataFrame) -> np.ndarray:
    return frame["truth_corruptions"].map(lambda c: corruption in c).to_numpy()


def one_edit_apart(a: str, b: str) -> bool:
    """True if b is a with one letter replaced, dropped, doubled/inserted, or two adjacent swapped."""
    if a == b:
        return False
    if len(a) == len(b):
        d = [i for i in range(len(a)) if a[i] != b[i]]
        return len(d) == 1 or (len(d) == 2 and d[1] == d[0] + 1 and a[d[0]] == b[d[1]] and a[d[1]] == b[d[0]])
    if abs(len(a) - len(b)) != 1:
        return False
    long, short = (a, b) if len(a) > len(b) else (b, a)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


# --- canonical address text ----------------------------------------------------------------------

def _canonical_words() -> dict[str, str]:
    v = vocabulary()
    words = {full: abbr for abbr, full in zip(v.suffix_abbr, v.suffix_full)}
    words.update({full: abbr for abbr, full in zip(v.directionals, v.directionals_full)})
    words["#"] = "APT"
    return words


CANONICAL = _canonical_words()


def canonical(text: str) -> str:
    """ICE's free text without its formatting variation: upper case, no commas, single blanks,
    USPS abbreviations for suffixes and directionals, '#' as APT."""
    return " ".join(CANONICAL.get(w, w) for w in text.upper().replace(",", " ").split())


@pytest.fixture(scope="module")
def rq(requests_df, world_truth) -> pd.DataFrame:
    """Requests with their person's truth and the parts of their current and previous address, and
    of the one they lived at when ICE recorded it (``recorded``)."""
    rows = world_truth.rows(requests_df["truth_person_id"].to_numpy())
    truth = world_truth.people.iloc[rows]
    frame = requests_df.copy()
    for column in ["household_id", "role", "female", "age", "pool", "origin", "sur1", "sur2", "given1", "given2", "requested", "block", "pos"]:
        frame[f"true_{column}"] = truth[column].to_numpy()
    recorded = requests_df["truth_address_recorded"].to_numpy().astype("datetime64[D]").astype(np.int64)
    for which in ("current", "previous", "recorded"):
        parts = world_truth.addresses(requests_df["truth_person_id"], which, recorded if which == "recorded" else None)
        for column in parts:
            frame[f"{which}_{column}"] = parts[column].to_numpy()
    # the dwelling ICE's text names: the person's home when ICE recorded it
    for column in parts:
        frame[f"named_{column}"] = frame[f"recorded_{column}"]
    frame["text"] = frame["earm_address"].map(canonical)
    # a mistyped ZIP (address_zip_typo) is checked on its own; the other checks read the text
    # with the ZIP it should have had (institutions excepted: their ZIP is not the person's)
    frame["written_zip"] = frame["text"].str.extract(r"(\d{5})$", expand=False)
    fix = has("address_zip_typo", frame) & (frame["truth_address_class"] != "shared").to_numpy()
    frame.loc[fix, "text"] = [t[:-5] + z for t, z in zip(frame.loc[fix, "text"], frame.loc[fix, "named_zip5"])]
    return frame


def street_line(row, which: str, *, number: bool = True, unit: bool = True, raw_name: bool = False) -> tuple[str, str, str]:
    """(before the street name, the street name, after it) of the canonical full address;
    ``raw_name`` keeps the street name as it is (a street named LANE is not the suffix LN, so a
    typo in it is one edit from LANE)."""
    get = lambda part: row[f"{which}_{part}"]  # noqa: E731
    before = " ".join(p for p in [get("number") if number else None, get("predir")] if isinstance(p, str))
    after = " ".join(p for p in [get("suffix"), f"APT {get('unit')}" if unit and isinstance(get("unit"), str) else None, get("city"), get("state"), get("zip5")] if isinstance(p, str))
    return canonical(before), (get("street_name").upper() if raw_name else canonical(get("street_name"))), canonical(after)


def matches(text: str, parts: tuple[str, str, str], typo: bool) -> bool:
    before, name, after = parts
    if not typo:
        return text == " ".join(p for p in parts if p)
    head = f"{before} " if before else ""
    if not (text.startswith(head) and text.endswith(f" {after}")):
        return False
    return one_edit_apart(name, text[len(head): len(text) - len(after) - 1])


# --- rows and identifiers ----------------------------------------------------------------------


def test_one_request_per_planned_request_of_the_sampled_areas(requests_df, world_plan):
    assert len(requests_df) == world_plan.sampled["n_requests"].sum()
    assert requests_df["truth_person_id"].is_unique


def test_request_ids_are_unique_and_stable_per_area(requests_df, world_plan):
    # An area's requests are numbered from its national request offset, whatever the scale: the
    # ids of ZIP area z are R{offset(z)} .. R{offset(z) + n_requests(z) - 1}.
    assert requests_df["request_id"].is_unique
    assert requests_df["request_id"].str.fullmatch(r"R\d{7}").all()
    number = requests_df["request_id"].str[1:].astype(np.int64)
    sampled = world_plan.sampled.set_index("zip")
    for zip5, ids in number.groupby(requests_df["truth_zip"].to_numpy()):
        start, n = sampled.loc[zip5, ["request_offset", "n_requests"]]
        assert sorted(ids) == list(range(start, start + n)), zip5


def test_each_request_names_a_requested_person_and_their_truth(rq, world_plan, world_truth, world_config):
    assert rq["true_requested"].all()
    assert (rq["truth_household_id"] == rq["true_household_id"]).all()
    assert (rq["truth_origin_group"].to_numpy() == np.asarray(world_plan.groups, dtype=object)[rq["true_origin"].to_numpy()]).all()
    assert (rq["truth_name_pool"].astype(str).to_numpy() == rq["true_pool"].astype(str).to_numpy()).all()
    assert (rq["truth_zip"] == rq["current_zip5"]).all()
    doubled = np.array([world_truth.pops[b].hh_doubled_up[world_truth.pops[b].household[p]] for b, p in zip(rq["true_block"], rq["true_pos"])])
    assert (rq["truth_doubled_up"].to_numpy() == doubled).all()
    ref = np.datetime64(f"{world_config.world.reference_year}-06-27")
    correct = ~has("dob_error", rq)   # a mistyped year can move an age across the bounds
    dob = rq["date_of_birth"].to_numpy().astype("datetime64[D]")[correct]
    age = (ref - dob).astype(np.int64) / 365.25  # whole days: 18 years can read 17.9986
    assert ((age >= 18 - 1 / 365) & (age < 76 + 1 / 365)).all()


def test_final_orders_and_fins_look_like_ice_data(requests_df, world_config):
    ref = np.datetime64(f"{world_config.world.reference_year}-06-27")
    order = requests_df["final_order_date"].to_numpy().astype("datetime64[D]")
    days = (ref - order).astype(np.int64)
    oldest = world_config.world.requests.record.order_age.bands()[-1][1]
    assert ((days >= 30) & (days <= oldest * 365.25 + 1)).all()
    assert requests_df["fin"].str.fullmatch(r"[1-9]\d{9}").all()


def test_final_orders_are_issued_after_the_persons_16th_birthday(requests_df):
    # Drawn regardless of age, ~0.3% of orders once predated the person's birth (fixed in 7fd7182).
    # ICE's own date of birth may be mistyped (dob_error), so only correct dates are compared.
    correct = ~requests_df["truth_corruptions"].map(lambda c: "dob_error" in list(c)).to_numpy()
    born = requests_df["date_of_birth"].to_numpy().astype("datetime64[D]").astype(np.int64)[correct]
    ordered = requests_df["final_order_date"].to_numpy().astype("datetime64[D]").astype(np.int64)[correct]
    assert (ordered >= born + int(16 * 365.25)).all(), f"{(ordered < born + int(16 * 365.25)).sum()} orders before age 16"


def test_dates_of_birth_are_mistyped_at_the_configured_rate_and_only_then(rq, world_config, world_truth):
    rate = world_config.world.requests.dates.dob_error_rate
    flagged = has("dob_error", rq)
    unknown = has("dob_day_unknown", rq) | has("dob_day_month_unknown", rq)
    assert abs(flagged.mean() - rate) <= four_se(rate, len(rq))
    true_dob = world_truth.people.loc[rq["truth_person_id"].to_numpy(), "dob"].to_numpy()
    ice_dob = rq["date_of_birth"].to_numpy().astype("datetime64[D]").astype(np.int64)
    assert not (flagged & unknown).any()
    assert (ice_dob[~flagged & ~unknown] == true_dob[~flagged & ~unknown]).all()
    assert (ice_dob[flagged] != true_dob[flagged]).all()
    # a clerical error stays close: a day, a year, or day and month swapped within the year
    assert (np.abs(ice_dob[flagged] - true_dob[flagged]) <= 366).all()


def test_unknown_days_of_birth_are_the_first_of_the_month_or_january_first_at_each_origins_share(rq, world_config, world_truth):
    """An unknown day is written as the 1st of the true month, an unknown day and month as January
    1 of the true year, at the configured share of each origin group (a date already on the 1st,
    or on January 1, is unchanged and not flagged)."""
    dates = world_config.world.requests.dates
    true_dob = world_truth.people.loc[rq["truth_person_id"].to_numpy(), "dob"].to_numpy().astype("datetime64[D]")
    ice_dob = rq["date_of_birth"].to_numpy().astype("datetime64[D]")
    day, both = has("dob_day_unknown", rq), has("dob_day_month_unknown", rq)
    assert day.sum() > 0 and both.sum() > 0 and not (day & both).any()
    assert (ice_dob[day] == true_dob[day].astype("datetime64[M]").astype("datetime64[D]")).all()
    assert (ice_dob[both] == true_dob[both].astype("datetime64[Y]").astype("datetime64[D]")).all()
    assert (ice_dob[day | both] != true_dob[day | both]).all()
    shares = dates.unknown_dob.as_dict()
    expected = rq["truth_origin_group"].map(shares).to_numpy() * (1 - dates.dob_error_rate)
    # a date already on the 1st (or January 1) stays as it is: about 1 in 30 (1 in 365)
    expected_day = expected * (1 - dates.january_first_share) * (1 - 12 / 365.25)
    expected_both = expected * dates.january_first_share * (1 - 1 / 365.25)
    n = len(rq)
    assert binomial_plausible(int(day.sum()), n, float(expected_day.mean()))
    assert binomial_plausible(int(both.sum()), n, float(expected_both.mean()))
    # the origins with the higher shares carry more of them
    high = rq["truth_origin_group"].isin(["haiti", "honduras", "guatemala"]).to_numpy()
    assert (day | both)[high].mean() > (day | both)[~high].mean()


def test_cubas_requests_are_mostly_in_florida(rq, world_plan):
    # Nationally 75% by construction (test_world_geography); the session world samples ~130 ZIP
    # areas, so its ~200 Cuban requests come from a few Florida areas: only a majority is safe.
    state = world_plan.zips.set_index("zip").loc[rq["truth_zip"], "state"].to_numpy()
    cuba = rq["truth_origin_group"].to_numpy() == "cuba"
    assert cuba.sum() > 50
    assert (state[cuba] == "FL").mean() > 0.5


# --- names ----------------------------------------------------------------------------------


def _strip_particles(name: str) -> str:
    words = name.split(" ")
    while len(words) > 1 and words[0] in PARTICLES:
        words = words[1:]
    return " ".join(words)


def test_names_are_the_persons_name_with_exactly_the_recorded_corruptions(rq):
    """Rebuild ICE's spelling of each name from the person's true name and the recorded
    corruptions; a name with none recorded is the person's full name."""
    v = vocabulary()
    surnames, given = v.surnames, v.given_names
    wrong = []
    for r in rq.itertuples():
        c = set(r.truth_corruptions)
        s1 = surnames[r.true_sur1]
        s2 = surnames[r.true_sur2] if r.true_sur2 >= 0 else None
        if "particles_dropped" in c:
            s1, s2 = _strip_particles(s1), (_strip_particles(s2) if s2 else None)
        firsts = [s1]
        if "transliterated" in c:
            firsts = [surnames[a] for a in v.translit[r.true_sur1] if a >= 0]
        lasts = [f if (s2 is None or "one_surname" in c) else f"{f} {s2}" for f in firsts]
        first = given[r.true_given1] if (r.true_given2 < 0 or "given_truncated" in c) else f"{given[r.true_given1]} {given[r.true_given2]}"
        ice_first, ice_last = r.first_name, r.last_name
        if "name_order_swapped" in c:
            ice_first, ice_last = ice_last, ice_first
            first_typo, last_typo = "last_name_typo" in c, "first_name_typo" in c
        else:
            first_typo, last_typo = "first_name_typo" in c, "last_name_typo" in c
        ok_first = one_edit_apart(first, ice_first) if first_typo else first == ice_first
        ok_last = any((one_edit_apart(x, ice_last) if last_typo else x == ice_last) for x in lasts)
        if not (ok_first and ok_last):
            wrong.append((r.request_id, r.first_name, r.last_name, first, lasts, sorted(c)))
    assert wrong == []


def test_name_corruptions_happen_only_where_they_can(rq):
    two = rq["true_sur2"].to_numpy() >= 0
    compound = rq["true_given2"].to_numpy() >= 0
    pool = rq["truth_name_pool"].astype(str).to_numpy()
    assert not (has("one_surname", rq) & ~two).any()
    assert not (has("given_truncated", rq) & ~compound).any()
    assert set(pool[has("transliterated", rq)]) <= {"chinese"}
    assert set(pool[has("particles_dropped", rq)]) <= {"hispanic"}
    assert set(pool[has("name_order_swapped", rq)]) <= set(SWAP_POOLS)


def test_name_corruptions_happen_at_the_configured_rates(rq, world_config):
    cfg = world_config.world.requests.names
    two = rq["true_sur2"].to_numpy() >= 0
    compound = rq["true_given2"].to_numpy() >= 0
    swappable = rq["truth_name_pool"].astype(str).isin(SWAP_POOLS).to_numpy()
    cases = {
        "one_surname": (two, cfg.ice_one_surname),
        "given_truncated": (compound, cfg.ice_compound_given_truncated),
        "name_order_swapped": (swappable, cfg.given_surname_swapped),
        "first_name_typo": (np.ones(len(rq), bool), cfg.typo_rate),
        "last_name_typo": (np.ones(len(rq), bool), cfg.typo_rate),
    }
    for name, (eligible, p) in cases.items():
        got = has(name, rq)[eligible].mean()
        assert abs(got - p) <= four_se(p, eligible.sum()), f"{name}: {got:.4f} vs {p} (n={eligible.sum()})"
    # particles: dropped for ~90% of Hispanic names whose FIRST surname carries one (INS/DHS
    # indexing ignores the particles before the first surname; few such names in the world)
    surnames = vocabulary().surnames
    with_particle = np.array([
        pool == "hispanic" and _strip_particles(surnames[s1]) != surnames[s1]
        for pool, s1 in zip(rq["truth_name_pool"].astype(str), rq["true_sur1"])
    ])
    p = cfg.ice_particles_dropped
    assert abs(has("particles_dropped", rq)[with_particle].mean() - p) <= four_se(p, with_particle.sum())


# --- the SSN field -----------------------------------------------------------------------------


def test_share_of_requests_with_a_number(rq, world_config):
    w = world_config.world
    p_file = w.requested.in_master_file_share
    expected = p_file * w.requests.ssn.share_if_on_file + (1 - p_file) * w.requests.ssn.share_if_not_on_file
    got = rq["ssn"].notna().mean()
    assert abs(got - expected) <= four_se(expected, len(rq))
    # and given what is on file, the configured shares (on file: ~280 requests, so +-0.10)
    on = rq["truth_in_master_file"].to_numpy()
    for mask, p in ((on, w.requests.ssn.share_if_on_file), (~on, w.requests.ssn.share_if_not_on_file)):
        assert abs(rq["ssn"].notna().to_numpy()[mask].mean() - p) <= four_se(p, mask.sum())
    assert abs(on.mean() - p_file) <= four_se(p_file, len(rq))


@pytest.fixture(scope="module")
def ssn_rows(rq, master_df) -> pd.DataFrame:
    """Requests that carry a number, with its owner on the master file (if any) and the
    person's own TIN (if any)."""
    tin_owner = pd.Series(master_df["truth_person_id"].to_numpy(), index=master_df["tin"].to_numpy())
    own_tin = pd.Series(master_df["tin"].to_numpy(), index=master_df["truth_person_id"].to_numpy())
    hh_of = pd.Series(master_df["truth_household_id"].to_numpy(), index=master_df["truth_person_id"].to_numpy())
    frame = rq[rq["ssn"].notna()].copy()
    frame["owner"] = tin_owner.reindex(frame["ssn"].to_numpy()).to_numpy()
    frame["own_tin"] = own_tin.reindex(frame["truth_person_id"].to_numpy()).to_numpy()
    frame["owner_household"] = hh_of.reindex(frame["owner"].fillna(-1).astype(np.int64).to_numpy()).to_numpy()
    return frame


def test_ssn_field_is_nine_digits_and_source_none_means_no_number(rq, ssn_rows):
    assert ssn_rows["ssn"].str.fullmatch(r"\d{9}").all()
    assert set(rq["truth_ssn_source"]) <= set(SSN_SOURCES)
    assert (rq["ssn"].isna() == (rq["truth_ssn_source"] == "none")).all()
    assert rq.loc[rq["ssn"].isna(), "truth_ssn_owner_id"].isna().all()


def test_correct_numbers_are_the_persons_own_tin(ssn_rows):
    rows = ssn_rows[ssn_rows["truth_ssn_source"] == "correct"]
    assert len(rows) > 50
    assert (rows["ssn"] == rows["own_tin"]).all()
    assert rows["truth_in_master_file"].all()


def test_borrowed_relative_numbers_belong_to_another_member_of_the_household(ssn_rows):
    rows = ssn_rows[ssn_rows["truth_ssn_source"] == "borrowed_relative"]
    assert len(rows) > 10
    assert rows["owner"].notna().all()
    assert (rows["owner"] != rows["truth_person_id"]).all()
    assert (rows["owner_household"] == rows["truth_household_id"]).all()


def test_borrowed_stranger_numbers_belong_to_someone_outside_the_household(ssn_rows):
    rows = ssn_rows[ssn_rows["truth_ssn_source"] == "borrowed_stranger"]
    assert len(rows) > 10
    assert rows["owner"].notna().all()
    assert (rows["owner_household"] != rows["truth_household_id"]).all()


def test_mistyped_numbers_are_the_own_tin_with_one_keyboard_error(ssn_rows):
    rows = ssn_rows[ssn_rows["truth_ssn_source"] == "mistyped"]
    assert rows["truth_in_master_file"].all()
    for typed, own in zip(rows["ssn"], rows["own_tin"]):
        diff = [i for i in range(9) if typed[i] != own[i]]
        swap = len(diff) == 2 and diff[1] == diff[0] + 1 and typed[diff[0]] == own[diff[1]] and typed[diff[1]] == own[diff[0]]
        assert len(diff) == 1 or swap, (typed, own)


def test_never_issued_numbers_are_invalid_and_on_no_ones_file(ssn_rows):
    rows = ssn_rows[ssn_rows["truth_ssn_source"] == "never_issued"]
    assert len(rows) > 10
    n = rows["ssn"].astype(np.int64)
    area, group, serial = n // 1_000_000, n // 10_000 % 100, n % 10_000
    assert ((area == 0) | (area == 666) | (group == 0) | (serial == 0)).all()
    assert rows["owner"].isna().all()
    assert rows["truth_ssn_owner_id"].isna().all()


def test_owner_id_is_the_master_file_owner_of_the_number(ssn_rows):
    owner = ssn_rows["owner"].to_numpy(dtype=float)
    recorded = ssn_rows["truth_ssn_owner_id"].to_numpy(dtype=float)
    both_missing = np.isnan(owner) & np.isnan(recorded)
    assert (both_missing | (owner == recorded)).all()


def test_sources_follow_the_configured_shares(rq, world_config):
    # Among people with a TIN on file, the configured shares (~220 requests, so an exact binomial test:
    # the normal approximation is too tight for the small shares).
    # Without one, only borrowed and never-issued numbers, renormalised. A borrowed_relative with
    # no relative on file becomes borrowed_stranger, so those two are checked together.
    shares = world_config.world.requests.ssn.sources.as_dict()
    shares["borrowed"] = shares.pop("borrowed_relative") + shares.pop("borrowed_stranger")
    numbered = rq[rq["ssn"].notna()]
    source = numbered["truth_ssn_source"].replace({"borrowed_relative": "borrowed", "borrowed_stranger": "borrowed"})
    own = numbered["truth_in_master_file"].to_numpy()
    for name, p in shares.items():
        k = int((source[own] == name).sum())
        assert binomial_plausible(k, int(own.sum()), p), f"{name}: {k} of {own.sum()} vs {p}"
    assert set(source[~own]) <= {"borrowed", "never_issued"}
    p = shares["never_issued"] / (shares["never_issued"] + shares["borrowed"])
    got = (source[~own] == "never_issued").mean()
    assert abs(got - p) <= four_se(p, (~own).sum()), f"never_issued without a TIN: {got:.3f} vs {p:.3f}"


# --- the address ------------------------------------------------------------------------------


def test_address_classes_follow_the_configured_shares(rq, world_config):
    """Each quality class has its configured share; out_of_date is no share of its own but the
    complete addresses of homes left since, so complete and out_of_date share complete's."""
    shares = world_config.world.requests.address.classes.as_dict()
    assert tuple(shares) == tuple(c for c in ADDRESS_CLASSES if c != "out_of_date")
    got = rq["truth_address_class"].value_counts(normalize=True)
    assert set(got.index) == set(ADDRESS_CLASSES)
    got["complete"] += got.pop("out_of_date")
    for cls, p in shares.items():
        assert abs(got[cls] - p) <= four_se(p, len(rq)), f"{cls}: {got[cls]:.4f} vs {p}"


def by_class(rq, cls):
    return rq[rq["truth_address_class"] == cls]


def test_blank_addresses_are_empty(rq):
    assert (by_class(rq, "blank")["earm_address"] == "").all()
    assert (rq.loc[rq["truth_address_class"] != "blank", "earm_address"] != "").all()


def test_mistyped_zips_are_one_keyboard_error_from_the_true_one(rq, world_config):
    rows = rq[rq["written_zip"].notna() & (rq["truth_address_class"] != "shared")]
    typo = has("address_zip_typo", rows)
    assert (rows.loc[~typo, "written_zip"] == rows.loc[~typo, "named_zip5"]).all()
    for written, true in zip(rows.loc[typo, "written_zip"], rows.loc[typo, "named_zip5"]):
        diff = [i for i in range(5) if written[i] != true[i]]
        swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and written[diff[0]] == true[diff[1]] and written[diff[1]] == true[diff[0]]
        assert len(diff) == 1 or swapped, (written, true)
    p = world_config.world.requests.address.formatting.zip_typo_rate
    assert abs(typo.mean() - p) <= four_se(p, len(rows))


def test_zip_only_addresses_are_the_persons_zip(rq):
    # the current ZIP, or the one the person left when they moved after ICE's record
    rows = by_class(rq, "zip_only")
    assert rows["earm_address"].str.fullmatch(r"\d{5}").all()
    assert (rows["text"] == rows["named_zip5"]).all()
    assert 0 < rows["truth_address_stale"].mean() < 1


def test_placeholder_addresses_are_a_placeholder_text_and_the_persons_zip(rq):
    texts = {t.upper() for t in vocabulary().placeholders}
    rows = by_class(rq, "placeholder")
    for text, zip5 in zip(rows["text"], rows["named_zip5"]):
        m = re.fullmatch(r"(.+) (\d{5})", text)
        assert m is not None and m.group(1).upper() in texts and m.group(2) == zip5, text
    # the placeholder texts are what the FACTS quote
    assert {"FAILED TO PROVIDE", "UNKNOWN ADDRESS"} <= texts


def test_city_state_only_addresses_have_no_digits(rq):
    rows = by_class(rq, "city_state_only")
    assert not rows["earm_address"].str.contains(r"\d").any()
    expected = (rows["named_city"] + " " + rows["named_state"]).map(canonical)
    assert (rows["text"] == expected).all()


def check_rendering(rq, cls, which, **parts):
    rows = by_class(rq, cls)
    assert len(rows) > 50
    typo = has("address_typo", rows)
    bad = [r.earm_address for r, t in zip(rows.itertuples(), typo)
           if not matches(r.text, street_line(r._asdict(), which, **parts), t)
           and not (t and matches(r.text, street_line(r._asdict(), which, raw_name=True, **parts), t))]
    assert bad == [], f"{len(bad)} of {len(rows)} {cls} addresses, e.g. {bad[:3]}"
    return rows


def test_complete_addresses_are_the_current_address(rq):
    rows = check_rendering(rq, "complete", "current")
    assert rows["earm_address"].str.match(r"\d+ ").all(), "a house number first"
    assert rows["earm_address"].str.contains(r"\b\d{5}$").all(), "a ZIP last"


def test_missing_unit_addresses_are_apartments_written_without_their_unit(rq):
    rows = check_rendering(rq, "missing_unit", "recorded", unit=False)
    assert rows["recorded_unit"].notna().all(), "only addresses with a unit can miss it"
    assert not rows["text"].str.contains(r"\bAPT\b").any()
    assert not rows["earm_address"].str.contains("#").any()


def test_no_street_number_addresses_begin_with_the_street_name(rq):
    # Not always a letter: numbered streets (1ST DR, 16TH AVENUE) begin with a digit, but never
    # with a house number (a token of digits only).
    rows = check_rendering(rq, "no_street_number", "recorded", number=False)
    assert not rows["earm_address"].str.match(r"\d+[ ,]").any()


def test_out_of_date_addresses_are_the_home_when_ice_recorded_it_and_not_today(rq):
    rows = check_rendering(rq, "out_of_date", "recorded")
    current_text = rows.apply(lambda r: " ".join(p for p in street_line(r, "current") if p), axis=1)
    assert (rows["text"] != current_text).all()
    assert (rows["truth_moves_since_record"] > 0).all()


def test_an_address_is_stale_exactly_when_the_person_moved_after_ice_recorded_it(rq):
    """Staleness is an outcome of the dates and the moves: a text that names a place (all but
    blanks and institutions) is stale when the household moved after ICE's record. A complete
    address of a home left is the class out_of_date, so complete ones are never stale."""
    moved = ((rq["recorded_zip5"] != rq["current_zip5"]) | (rq["recorded_street_name"] != rq["current_street_name"])
             | (rq["recorded_number"] != rq["current_number"]) | (rq["recorded_unit"].fillna("") != rq["current_unit"].fillna("")))
    names_a_place = ~rq["truth_address_class"].isin(["blank", "shared"])
    assert (rq["truth_address_stale"] == (moved & names_a_place)).all()
    stale = rq.groupby("truth_address_class")["truth_address_stale"].mean()
    assert stale["out_of_date"] == 1.0
    for cls in ("complete", "blank", "shared"):
        assert stale[cls] == 0.0, cls
    for cls in ("missing_unit", "zip_only", "city_state_only"):
        assert 0.05 < stale[cls] < 0.95, (cls, stale[cls])
    assert (rq.loc[rq["truth_address_stale"], "truth_moves_since_record"] > 0).all()


def test_ice_recorded_each_address_at_the_order_or_a_later_contact(rq, world_config):
    """The final order's age follows the docket's bands; reporting people and those on ATD were
    last in touch within their interval, never before their order."""
    rcfg = world_config.world.requests.record
    day = rq["final_order_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    recorded = rq["truth_address_recorded"].to_numpy().astype("datetime64[D]").astype(np.int64)
    reference = int((np.datetime64(f"{world_config.world.reference_year}-06-27") - np.datetime64("1970-01-01")).astype(np.int64))
    source = rq["truth_record_source"].to_numpy()
    assert (recorded >= day).all() and (recorded[source == "order"] == day[source == "order"]).all()
    for kind, interval in (("reporting", rcfg.reporting_interval_years), ("atd", rcfg.atd_interval_years)):
        mine = source == kind
        assert ((reference - recorded[mine]) <= np.maximum(interval * 365.25, reference - day[mine]) + 1).all()
    n = len(rq)
    for kind, share in (("reporting", rcfg.reporting_share), ("atd", rcfg.atd_share)):
        assert abs(np.mean(source == kind) - share) < four_se(share, n), kind
    age = (reference - day) / 365.25
    bands = rcfg.order_age.bands()
    edges, shares = [a for a, _ in bands] + [bands[-1][1]], np.asarray(list(rcfg.order_age.as_dict().values()))
    adults = rq["true_age"].to_numpy() >= edges[-1] + 16           # never held back by the 16th birthday
    counts = np.histogram(age[adults], bins=edges)[0] / adults.sum()
    assert np.all(np.abs(counts - shares) < [four_se(p, int(adults.sum())) + 0.005 for p in shares])
    np.testing.assert_allclose(rq["truth_address_age_years"], (reference - recorded) / 365.25, rtol=1e-6)


def test_the_true_home_is_the_current_dwelling_in_the_master_files_form(rq, master_df):
    """``truth_street_address`` is the current home in the USPS form: the master file's own
    delivery line for a person on file whose last known address is current, another where it
    is not (an area's dwellings have distinct addresses)."""
    parts = ("number", "predir", "street_name", "suffix")
    expected = rq.apply(lambda r: " ".join([p for p in (r[f"current_{k}"] for k in parts) if isinstance(p, str)]
                                           + ([f"APT {r['current_unit']}"] if isinstance(r["current_unit"], str) else [])), axis=1)
    assert (rq["truth_street_address"] == expected).all()
    assert (rq["truth_zip"] == rq["current_zip5"]).all()
    # the person's household on file (a household's members share its last known address)
    on_file = rq.merge(master_df[["truth_household_id", "street_address", "zip5", "truth_lka_current"]], on="truth_household_id")
    assert len(on_file) > 300 and (~on_file["truth_lka_current"]).sum() > 5
    same = (on_file["street_address"] == on_file["truth_street_address"]) & (on_file["zip5"].astype(str) == on_file["truth_zip"])
    assert (same == on_file["truth_lka_current"]).all()


def test_households_move_before_the_disclosure_at_their_hazard(rq, world_config, world_truth):
    """Between ICE's file (June 27) and the disclosure (August 7) a requested household moves at
    the hazard its history was drawn with: the expected share of each tenure is computed here
    from the config (head ages, tenure rates, age factors), not from the world."""
    from sim.world.population import age_band_shares, band_hazards

    mob, heads = world_config.world.mobility, world_config.world.households.head_age_requested
    shares = age_band_shares(tuple(mob.age_bands), *heads, 18, 75)
    years = int((np.datetime64("2025-08-07") - np.datetime64("2025-06-27")).astype(np.int64)) / 365.25
    block, pos = world_truth.locate(rq["truth_person_id"].to_numpy())
    renter = np.array([world_truth.pops[b].hh_renter[world_truth.pops[b].household[p]] for b, p in zip(block, pos)])
    moved = rq["truth_moved_before_disclosure"].to_numpy()
    for is_renter, rate in ((True, mob.renter_annual_move_rate), (False, mob.owner_annual_move_rate)):
        h = band_hazards(rate, tuple(mob.age_factors), shares)
        expected = float(np.dot(shares, -np.expm1(-h * years)))
        mine = renter == is_renter
        assert binomial_plausible(int(moved[mine].sum()), int(mine.sum()), expected), (is_renter, moved[mine].mean(), expected)
    assert 0 < moved.mean() < 0.05


def test_institutions_are_not_homes(rq, master_df):
    # a shared-class address is an institution's: labelled, and no one on the master file lives
    # at that house number on that street of that ZIP
    rows = by_class(rq, "shared")
    assert rows["truth_institution"].notna().all()
    assert rq.loc[rq["truth_address_class"] != "shared", "truth_institution"].isna().all()
    homes: dict[tuple[str, str], set[str]] = {}
    for zip5, number, name in zip(master_df["zip5"].astype(str), master_df["street_number"].astype(str), master_df["street_name"].astype(str)):
        homes.setdefault((zip5, number), set()).add(name)
    at_home = []
    for text in rows["text"]:
        words = text.split()
        names = homes.get((words[-1], words[0]), set())
        if any(f" {name} " in f" {text} " for name in names):
            at_home.append(text)
    assert at_home == [], f"{len(at_home)} institution addresses are homes, e.g. {at_home[:3]}"
    # the check can see a home: the same test on complete addresses finds the person's own
    complete = by_class(rq, "complete").head(200)
    found = sum(any(f" {n} " in f" {t} " for n in homes.get((t.split()[-1], t.split()[0]), set())) for t in complete["text"])
    assert found > 0


def test_shared_addresses_are_reused_by_many_requests(rq):
    # FACTS: 780 addresses used more than 20 times among 981,671 DHS records. An institution's
    # address is a building's street line without a unit, reused with formatting variation.
    rows = by_class(rq, "shared")
    assert rows["earm_address"].str.match(r"\d+ ").all()
    assert not rows["text"].str.contains(r"\bAPT\b").any()
    uses = rows.loc[~has("address_typo", rows) & ~has("address_zip_typo", rows), "text"].value_counts()
    assert (uses >= 5).sum() >= 3, uses.head(5).to_dict()
    assert uses.iloc[0] >= 20
    # and a shelter is not the person's own home
    own = rows.apply(lambda r: " ".join(p for p in street_line(r, "current", unit=False) if p), axis=1)
    assert (rows["text"] != own).mean() > 0.9


def test_formatting_varies_at_the_configured_rates(rq, world_config):
    fmt = world_config.world.requests.address.formatting
    street = rq[rq["truth_address_class"].isin(["complete", "out_of_date"])]
    text = street["earm_address"]
    lower = (text == text.str.lower()).to_numpy()
    upper = (text == text.str.upper()).to_numpy()
    title = ~lower & ~upper
    n = len(street)
    for name, got, p in (("lowercase", lower, fmt.lowercase), ("titlecase", title, fmt.titlecase), ("no_commas", ~text.str.contains(",").to_numpy(), fmt.no_commas)):
        assert abs(got.mean() - p) <= four_se(p, n), f"{name}: {got.mean():.4f} vs {p}"
    # suffix spelled out, where the full word differs from the abbreviation (WAY, LOOP do not)
    v = vocabulary()
    full_of = dict(zip(v.suffix_abbr, v.suffix_full))
    suffix = street["recorded_suffix"].to_numpy(dtype=object)
    differs = np.array([full_of[s] != s for s in suffix])
    spelled = np.array([f" {full_of[s]} " in f" {t.upper().replace(',', ' ')} " for s, t in zip(suffix, text)])
    p = fmt.suffix_spelled_out
    assert abs(spelled[differs].mean() - p) <= four_se(p, differs.sum())
    # a unit written with '#' rather than APT
    units = rq[rq["truth_address_class"] == "complete"]
    units = units[units["current_unit"].notna()]
    p = fmt.unit_hash
    assert abs(units["earm_address"].str.contains("#").mean() - p) <= four_se(p, len(units))
    # a keyboard error in the street name, only where a street is written
    street_rows = rq["truth_address_class"].isin(STREET_CLASSES).to_numpy()
    typo = has("address_typo", rq)
    assert not typo[~street_rows].any()
    assert abs(typo[street_rows].mean() - fmt.typo_rate) <= four_se(fmt.typo_rate, street_rows.sum())


# --- recorded corruptions ------------------------------------------------------------------------


def test_recorded_corruptions_are_known_and_agree_with_the_truth_columns(rq):
    all_recorded = {c for cs in rq["truth_corruptions"] for c in cs}
    assert all_recorded <= set(CORRUPTIONS)
    assert all(len(set(cs)) == len(cs) for cs in rq["truth_corruptions"])
    cls = rq["truth_address_class"].to_numpy()
    for c in ADDRESS_CLASSES[1:]:
        assert (has(f"address_{c}", rq) == (cls == c)).all(), c
    assert "address_complete" not in all_recorded
    source = rq["truth_ssn_source"].to_numpy()
    for s in SSN_SOURCES:
        if s in ("none", "correct"):
            assert f"ssn_{s}" not in all_recorded
        else:
            assert (has(f"ssn_{s}", rq) == (source == s)).all(), s


def test_strangers_are_on_file_in_the_persons_area_outside_their_household():
    """_neighbour_on_file reads each area's people on file from the master file's rows: the
    same picks as counting them person by person, each on file, in the person's area and not of
    their household, -1 only where the area has no one else on file."""
    from pathlib import Path

    from sim.config import config_with, load_config
    from sim.world import geography, master_file, population
    from sim.world.master_file import NO_TIN
    from sim.world.requests import _neighbour_on_file

    config = config_with(load_config(Path(__file__).parents[1] / "configs" / "august-2025.toml"), **{"world.scale": 0.002})
    plan = geography.plan(config)
    block = max(plan.blocks, key=lambda b: int(np.sum(plan.areas(b)["n_requests"])))
    vocab = vocabulary()
    pop = population.build(config, plan, block, vocab, np.random.default_rng(1))
    master = master_file.build(config, plan, block, pop, vocab, np.random.default_rng(2), 12345)
    person = np.flatnonzero(pop.requested)
    got = _neighbour_on_file(pop, master, person, np.random.default_rng(3))

    on_file = np.flatnonzero(master.person_tin != NO_TIN)
    assert np.array_equal(master.rows, on_file)
    zip_on = pop.hh_zip[pop.household[on_file]]
    count = np.bincount(zip_on, minlength=int(pop.hh_zip.max()) + 1)
    z = pop.hh_zip[pop.household[person]]
    k = (np.random.default_rng(3).random(len(person)) * np.maximum(count[z], 1)).astype(np.int64)
    first = (np.cumsum(count) - count)[z]
    pick = on_file[np.minimum(first + k, len(on_file) - 1)]
    nxt = on_file[np.minimum(first + (k + 1) % np.maximum(count[z], 1), len(on_file) - 1)]
    pick = np.where(pop.household[pick] == pop.household[person], nxt, pick)
    ok = (count[z] > 0) & (pop.household[pick] != pop.household[person])
    assert np.array_equal(got, np.where(ok, pick, -1))

    found = got >= 0
    assert len(person) > 100 and found.mean() > 0.9
    assert (master.person_tin[got[found]] != NO_TIN).all()
    assert np.array_equal(pop.hh_zip[pop.household[got[found]]], z[found])
    assert (pop.household[got[found]] != pop.household[person[found]]).all()


def test_with_typos_changes_only_the_chosen_rows():
    """One keyboard error in each chosen row (a chosen null becomes ""), the other rows as they
    were (nulls kept), and the same draws taken whatever is chosen."""
    import pyarrow as pa

    from sim.world.address import with_typos

    words = ["GARCIA", "NGUYEN", "O'BRIEN", "LI", None, "SMITH", None, "MARTINEZ"] * 50
    column = pa.array(words, pa.string())
    chosen = np.arange(len(words)) % 3 == 0
    rng = np.random.default_rng(4)
    got = with_typos(column, chosen, rng).to_pylist()
    after = rng.random()
    for word, new, c in zip(words, got, chosen):
        if not c:
            assert new == word
        elif word is None:
            assert new == ""
        elif len(word) > 2:
            assert one_edit_apart(word, new)
    assert all(new != word for word, new, c in zip(words, got, chosen) if c and word)
    rng = np.random.default_rng(4)
    with_typos(column, np.zeros(len(words), bool), rng)
    assert rng.random() == after
