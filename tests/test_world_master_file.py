"""sim.world.master_file: the IRS master file of the session world, against its population.

Tolerances are 4 binomial standard errors, sqrt(p(1-p)/n), unless a comment says otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sim.normalize import name_controls
from sim.world.population import ROLE_HEAD, ROLE_PARTNER
from sim.world.vocab import names_data
from tests.stats import binomial_plausible, four_se

ITIN_GROUPS = {*range(50, 66), *range(70, 89), *range(90, 93), *range(94, 100)}  # FACTS
ROLE_NAMES = {0: "head", 1: "partner", 2: "child", 3: "relative"}


def same(a: dict, b: dict) -> np.ndarray:
    """Row-wise equality of two address-code dicts."""
    return np.logical_and.reduce([a[k] == b[k] for k in a])


@pytest.fixture(scope="module")
def mf(master_df, master_file, world_truth) -> pd.DataFrame:
    """The master file's people's truth, row by row, and how their address compares with where
    they live (``is_current``), lived before (``is_previous``) and lived on the day the IRS
    learned the address (``is_then``, from ``truth_lka_age_years`` and the residence history)."""
    rows = world_truth.rows(master_df["truth_person_id"].to_numpy())
    truth = world_truth.people.iloc[rows]
    frame = pd.DataFrame({f"true_{c}": truth[c].to_numpy() for c in ["household_id", "role", "female", "age", "pool", "origin", "sur1", "sur2", "given1", "given2", "requested"]})
    for c in ["truth_person_id", "truth_household_id", "tin_type", "truth_role", "truth_requested", "truth_origin_group", "truth_lka_current",
              "last_name", "first_name", "middle_initial", "last_return_tax_year", "truth_lka_age_years"]:
        frame[c] = master_df[c].to_numpy()
    written = world_truth.address_codes_of_table(master_file)
    current = world_truth.address_codes(master_df["truth_person_id"], "current")
    previous = world_truth.address_codes(master_df["truth_person_id"], "previous")
    frame["is_current"] = same(written, current)
    frame["is_previous"] = same(written, previous)
    frame["moved_somewhere"] = ~same(previous, current)
    reference = int((np.datetime64(f"{world_truth.config.world.reference_year}-06-27") - np.datetime64("1970-01-01")).astype(np.int64))
    learned = np.rint(reference - master_df["truth_lka_age_years"].to_numpy().astype(np.float64) * 365.25).astype(np.int64)
    frame["learned_day"] = learned
    frame["is_then"] = same(written, world_truth.address_codes(master_df["truth_person_id"], "on", learned))
    block, pos = world_truth.locate(master_df["truth_person_id"].to_numpy())
    moved_in = np.empty(len(master_df), dtype=np.int64)
    for i in np.unique(block):
        rows = block == i
        pop = world_truth.pops[i]
        moved_in[rows] = pop.history.current_moved_in()[pop.household[pos[rows]]]
    frame["moved_in"] = moved_in          # the day the household moved into its current home
    # the address as two integers (ZIP and house number; the rest), to compare within households
    frame["address_a"] = written["zip5"] * 2**24 + written["number"]
    frame["address_b"] = (((written["predir"] + 1) * 2**16 + written["street_name"]) * 2**8 + written["suffix"]) * 2**20 + written["unit"]
    return frame


# --- identity ---------------------------------------------------------------------------------


def test_one_row_per_tin_and_per_person(master_df, master_file):
    assert pc.all(pc.match_substring_regex(master_file["tin"], r"^\d{9}$")).as_py()
    assert master_df["tin"].is_unique
    assert master_df["truth_person_id"].is_unique


def test_ssns_are_valid(master_df):
    ssn = master_df.loc[master_df["tin_type"] == "SSN", "tin"].astype(np.int64)
    area, group, serial = ssn // 1_000_000, ssn // 10_000 % 100, ssn % 10_000
    assert ((area >= 1) & (area <= 899) & (area != 666)).all()
    assert ((group >= 1) & (serial >= 1)).all()


def test_itins_have_the_published_format(master_df):
    itin = master_df.loc[master_df["tin_type"] == "ITIN", "tin"].astype(np.int64)
    assert len(itin) > 1000
    assert (itin // 1_000_000 >= 900).all()
    assert (itin // 10_000 % 100).isin(ITIN_GROUPS).all()
    assert (itin % 10_000 >= 1).all()
    assert set(master_df["tin_type"].astype(str)) == {"SSN", "ITIN"}


def test_itins_go_only_to_adults_of_requested_households_at_the_configured_share(mf, world_config):
    itin = (mf["tin_type"] == "ITIN").to_numpy()
    requested_hh = (mf["true_origin"] >= 0).to_numpy()
    adult = (mf["true_age"] >= 18).to_numpy()
    assert not (itin & ~(requested_hh & adult)).any()
    p = world_config.world.requested.itin_share
    eligible = requested_hh & adult
    assert abs(itin[eligible].mean() - p) <= four_se(p, eligible.sum())


def test_truth_columns_agree_with_the_population(mf, world_plan):
    assert (mf["truth_household_id"].to_numpy() == mf["true_household_id"].to_numpy()).all()
    assert (mf["truth_role"].astype(str).to_numpy() == mf["true_role"].map(ROLE_NAMES).to_numpy()).all()
    assert (mf["truth_requested"].to_numpy() == mf["true_requested"].to_numpy()).all()
    groups = np.array([*world_plan.groups, "general"], dtype=object)
    assert (mf["truth_origin_group"].astype(str).to_numpy() == groups[mf["true_origin"].to_numpy()]).all()
    heads = mf["truth_role"] == "head"
    assert (mf.loc[heads, "truth_person_id"] == mf.loc[heads, "truth_household_id"]).all()


def test_dates_of_birth_are_the_peoples(master_df, master_file, world_truth, world_config):
    block, pos = world_truth.locate(master_df["truth_person_id"].to_numpy())
    dob = np.empty(len(master_df), dtype=np.int64)
    for i in np.unique(block):
        rows = block == i
        dob[rows] = world_truth.pops[i].dob[pos[rows]]
    got = np.asarray(master_file["date_of_birth"].cast(pa.int32()), dtype=np.int64)  # days since 1970
    assert (got == dob).all()
    assert got.max() <= (np.datetime64(f"{world_config.world.reference_year}-06-27") - np.datetime64("1970-01-01")).astype(np.int64)


# --- who is on file --------------------------------------------------------------------------


def test_who_is_on_file_follows_the_configured_rates(world_truth, master_df, world_config):
    people = world_truth.people
    on_file = people.index.isin(master_df["truth_person_id"])
    adult = (people["age"] >= 18).to_numpy()
    requested_hh = (people["origin"] >= 0).to_numpy()
    requested = people["requested"].to_numpy()
    w = world_config.world
    cases = {
        "general adults": (~requested_hh & adult, w.master_file.adult_on_file_rate),
        "16- and 17-year-olds": (~adult & (people["age"] >= 16).to_numpy(), w.master_file.child_on_file_rate),
        "children under 16 (no address of their own)": ((people["age"] < 16).to_numpy(), 0.0),
        "requested people": (requested, w.requested.in_master_file_share),
        "other adults of requested households": (requested_hh & adult & ~requested, w.requested.household_on_file_rate),
    }
    for name, (who, p) in cases.items():
        assert abs(on_file[who].mean() - p) <= max(four_se(p, who.sum()), 1e-12), f"{name}: {on_file[who].mean():.4f} vs {p}"


def test_requested_people_on_file_are_the_requests_marked_in_master_file(master_df, requests_df):
    on_file = set(master_df.loc[master_df["truth_requested"], "truth_person_id"])
    marked = set(requests_df.loc[requests_df["truth_in_master_file"], "truth_person_id"])
    assert on_file == marked
    assert set(master_df.loc[master_df["truth_requested"], "truth_person_id"]) <= set(requests_df["truth_person_id"])


# --- names ------------------------------------------------------------------------------------


def test_name_control_is_the_irs_name_control_of_the_last_name_on_every_row(master_file):
    expected = pa.array(name_controls(master_file["last_name"]), pa.string())
    got = master_file["name_control"]
    got = got.cast(got.type.value_type) if pa.types.is_dictionary(got.type) else got
    wrong = pc.invert(pc.equal(got.combine_chunks() if isinstance(got, pa.ChunkedArray) else got, expected))
    bad = np.flatnonzero(np.asarray(wrong))
    assert len(bad) == 0, [(master_file["last_name"][int(i)].as_py(), got[int(i)].as_py(), expected[int(i)].as_py()) for i in bad[:10]]


def test_one_surname_people_file_under_their_surname(mf, world_truth):
    single = mf[mf["true_sur2"] < 0]
    assert (single["last_name"].to_numpy() == world_truth.vocab.surnames[single["true_sur1"].to_numpy()]).all()


def test_first_names_and_middle_initials_come_from_the_given_names(mf, world_truth):
    given = world_truth.vocab.given_names
    g1 = given[mf["true_given1"].to_numpy()]
    has2 = mf["true_given2"].to_numpy() >= 0
    g2 = given[np.maximum(mf["true_given2"].to_numpy(), 0)]
    first = mf["first_name"].to_numpy()
    compound = np.zeros(len(mf), bool)
    compound[has2] = first[has2] == g1[has2] + " " + g2[has2]
    # a filer of a requested household may use the English form of a single given name
    english = world_truth.vocab.anglicized[mf["true_given1"].to_numpy()]
    anglicized = (english >= 0) & ~has2 & (first == given[np.maximum(english, 0)])
    assert ((first == g1) | compound | anglicized).all()
    assert (mf.loc[anglicized, "truth_origin_group"] != "general").all()
    middle = mf["middle_initial"].astype(object).to_numpy()
    # a second given name not kept in the first name shows as the middle initial; kept, there is none
    dropped = has2 & ~compound
    assert pd.isna(middle[compound]).all()
    assert (middle[dropped] == np.array([g[0] for g in g2[dropped]], dtype=object)).all()
    # the IRS keeps the compound name for about half (master_file.py: 0.5)
    assert abs(compound[has2].mean() - 0.5) <= four_se(0.5, has2.sum())
    assert set(pd.unique(middle[~pd.isna(middle)])) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def test_given_names_are_anglicized_only_in_requested_households_at_the_configured_share(mf, world_truth, world_config):
    """JOSE as JOSEPH: a single given name with an English form (names.toml) is filed in it at
    the configured share, by filers of a requested household only; the general population files
    the name it was given."""
    given = world_truth.vocab.given_names
    g1 = mf["true_given1"].to_numpy()
    english = world_truth.vocab.anglicized[g1]
    could = (english >= 0) & (mf["true_given2"].to_numpy() < 0) & (mf["truth_origin_group"] != "general").to_numpy()
    anglicized = could & (mf["first_name"].to_numpy() == given[np.maximum(english, 0)])
    assert could.sum() > 200
    assert binomial_plausible(int(anglicized.sum()), int(could.sum()), world_config.world.master_file.anglicized_given_share)
    general = (mf["truth_origin_group"] == "general").to_numpy() & (mf["true_given2"].to_numpy() < 0)
    assert (mf["first_name"].to_numpy()[general] == given[g1[general]]).all()


def test_two_surname_names_are_filed_in_the_configured_forms(mf, world_truth, world_config):
    surnames = world_truth.vocab.surnames
    two = mf[(mf["true_sur2"] >= 0) & (mf["true_pool"] != "brazilian") & (mf["true_sur1"] != mf["true_sur2"])]
    s1 = surnames[two["true_sur1"].to_numpy()].astype(str)
    s2 = surnames[two["true_sur2"].to_numpy()].astype(str)
    last = two["last_name"].to_numpy().astype(str)
    form = np.select(
        [last == s1, last == s2, last == np.char.add(np.char.add(s1, "-"), s2), last == np.char.add(np.char.add(s1, " "), s2),
         np.char.startswith(last, np.char.add(s1, " DE "))],
        ["paternal_only", "maternal_only", "hyphenated", "both_spaced", "married_de"], "other",
    )
    assert (form != "other").all(), sorted(set(last[form == "other"]))[:10]
    shares = world_config.world.master_file.hispanic_surname_forms.as_dict()
    # a married woman: a female partner (her husband is the head), or a female head with a
    # partner (her husband is that partner)
    people = world_truth.people
    partner_rows = people[people["role"] == ROLE_PARTNER]
    partner_of = pd.Series(partner_rows.index.to_numpy(), index=partner_rows["household_id"].to_numpy())
    is_head = (two["true_role"] == ROLE_HEAD).to_numpy()
    head_with_partner = is_head & two["truth_household_id"].isin(partner_of.index).to_numpy()
    married_women = (((two["true_role"] == ROLE_PARTNER).to_numpy() | head_with_partner) & two["true_female"].to_numpy())
    # married_de only for a married woman (her husband's surname follows DE); for everyone else
    # that share falls back to both_spaced
    assert (form[~married_women] != "married_de").all()
    others = form[~married_women]
    for name, p in shares.items():
        if name == "married_de":
            continue
        p_others = p + (shares["married_de"] if name == "both_spaced" else 0.0)
        assert abs((others == name).mean() - p_others) <= four_se(p_others, len(others)), name
    women = form[married_women]
    p = shares["married_de"]
    assert abs((women == "married_de").mean() - p) <= four_se(p, len(women))
    wives = married_women & (form == "married_de")
    household = two.loc[wives, "truth_household_id"].to_numpy()
    husband = np.where(is_head[wives], partner_of.reindex(household).to_numpy(), household)
    husband_sur = people.loc[husband, "sur1"].to_numpy()
    assert (np.char.endswith(last[wives], np.char.add(" DE ", surnames[husband_sur].astype(str)))).all()
    assert is_head[wives].any(), "requested women head their households and marry too"


def test_brazilians_mostly_file_under_the_fathers_last_surname(mf, world_truth):
    surnames = world_truth.vocab.surnames
    br = mf[(mf["true_pool"] == "brazilian") & (mf["true_sur1"] != mf["true_sur2"])]
    s1 = surnames[br["true_sur1"].to_numpy()].astype(str)
    s2 = surnames[br["true_sur2"].to_numpy()].astype(str)
    last = br["last_name"].to_numpy().astype(str)
    assert ((last == s2) | (last == np.char.add(np.char.add(s1, " "), s2))).all()
    p = names_data()["brazilian"]["irs_last_surname_only"]
    assert abs((last == s2).mean() - p) <= four_se(p, len(br))


# --- last known address -----------------------------------------------------------------------


def test_last_known_address_is_the_home_on_the_day_the_irs_learned_it(mf):
    """The last return's address, or a move USPS reported since: the household's home that day
    (sim.world.history), which is the current one exactly when truth_lka_current says so."""
    assert mf["is_then"].all()
    current = mf["truth_lka_current"].to_numpy()
    assert mf["is_current"].to_numpy()[current].all()
    assert not mf["is_current"].to_numpy()[~current].any()
    assert (mf["truth_lka_age_years"] >= 0).all()


def test_a_non_current_last_known_address_is_one_the_household_left(mf):
    stale = ~mf["truth_lka_current"].to_numpy()
    assert stale.sum() > 1_000
    assert mf["moved_somewhere"].to_numpy()[stale].all(), "a household that moved has a dwelling before its current one"


def test_the_last_return_follows_the_filing_rates_and_is_processed_february_to_may(mf, world_config):
    """A household files for each tax year at its rate (an ITIN holder's at the ITIN rate): the
    share whose last return is for the latest tax year is that rate; the address dates from a
    day between February and May of the year after its tax year, unless USPS reported a move."""
    w = world_config.world
    first = mf.drop_duplicates("truth_household_id")
    itin_households = set(mf.loc[mf["tin_type"] == "ITIN", "truth_household_id"])
    itin = first["truth_household_id"].isin(itin_households).to_numpy()
    latest = first["last_return_tax_year"].to_numpy() == w.reference_year - 1
    for mine, rate in ((itin, w.master_file.filing_rate_itin), (~itin, w.master_file.filing_rate_ssn)):
        assert abs(latest[mine].mean() - rate) <= four_se(rate, int(mine.sum())), rate
    year = first["last_return_tax_year"].to_numpy()
    assert (year >= w.reference_year - 1 - w.master_file.max_filing_gap_years).all()
    learned = first["learned_day"].to_numpy().astype("datetime64[D]")
    reported = first["truth_lka_current"].to_numpy() & (first["learned_day"].to_numpy() == first["moved_in"].to_numpy())
    month = learned.astype("datetime64[M]").astype(np.int64) % 12 + 1
    in_year = learned.astype("datetime64[Y]").astype(np.int64) + 1970 == year + 1
    assert (in_year & (month >= 2) & (month <= 5))[~reported].all()
    # the rest are moves USPS reported, within the IRS's window and after the last return
    reference = np.datetime64(f"{w.reference_year}-06-27")
    window = (reference - learned[reported]).astype(np.int64) / 365.25
    assert (window <= w.mobility.ncoa_window_years + 1e-3).all()
    share = reported.mean()
    assert 0.001 < share < 0.5, share


def test_a_household_shares_one_last_known_address_and_tax_year(mf, world_config):
    per_household = mf.groupby("truth_household_id")[["address_a", "address_b", "last_return_tax_year", "truth_lka_current"]].nunique()
    assert (per_household == 1).all().all()
    year = mf["last_return_tax_year"]
    assert year.max() == world_config.world.reference_year - 1
    assert (year <= world_config.world.reference_year - 1).all()


def test_zip4_is_known_at_the_configured_rate(master_df, world_config):
    p = 1 - world_config.world.master_file.zip4_known_rate
    missing = master_df["zip4"].isna()
    assert abs(missing.mean() - p) <= four_se(p, len(master_df))
    assert master_df.loc[~missing, "zip4"].str.fullmatch(r"\d{4}").all()


def test_zip_city_and_state_are_one_real_area_of_the_sample(master_df, world_plan):
    sampled = world_plan.sampled.set_index("zip")
    triples = master_df[["zip5", "city", "state"]].astype(str).drop_duplicates()
    assert triples["zip5"].is_unique, "one city and state per ZIP"
    assert triples["zip5"].isin(sampled.index).all()
    area = sampled.loc[triples["zip5"]]
    assert (area["city"].to_numpy() == triples["city"].to_numpy()).all()
    assert (area["state"].to_numpy() == triples["state"].to_numpy()).all()


def test_street_address_is_the_usps_line_of_the_structured_columns(master_file):
    def plain(name):
        c = master_file[name]
        return c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c

    apt = pc.binary_join_element_wise(pa.scalar("APT"), plain("unit"), " ")  # null where no unit
    expected = pc.binary_join_element_wise(
        plain("street_number"), plain("street_predir"), plain("street_name"), plain("street_suffix"), apt, " ",
        null_handling="skip",
    )
    assert pc.all(pc.equal(plain("street_address"), expected)).as_py()
    assert pc.all(pc.match_substring_regex(plain("street_number"), r"^[1-9]\d*$")).as_py()


def test_extend_table_codes_text_in_the_table_and_appends_the_values_it_lacks():
    """master_file.extend_table: a value the table holds keeps its code (a joined name the
    vocabulary lists whole); the others are appended once each, in order of first appearance;
    the table is returned as it is where nothing is new."""
    from sim.world.master_file import extend_table

    table = pa.array(["GARCIA", "LOPEZ", "DE LA CRUZ", "ANA MARIA"], pa.string())
    text = pa.array(["LOPEZ GARCIA", "ANA MARIA", "GARCIA-LOPEZ", "LOPEZ GARCIA", "DE LA CRUZ", "RUIZ DE LOPEZ"], pa.string())
    extended, codes = extend_table(table, text)
    assert extended.to_pylist() == ["GARCIA", "LOPEZ", "DE LA CRUZ", "ANA MARIA", "LOPEZ GARCIA", "GARCIA-LOPEZ", "RUIZ DE LOPEZ"]
    assert codes.tolist() == [4, 3, 5, 4, 2, 6]
    same, codes = extend_table(table, pa.array(["LOPEZ", "ANA MARIA"], pa.string()))
    assert same is table and codes.tolist() == [1, 3]
    same, codes = extend_table(table, pa.array([], pa.string()))
    assert same is table and codes.size == 0
