"""The IRS master file of one block: one row per TIN on file.

Rules, in order:

1. Who is on file, with an address of their own: adults of the general population at
   ``adult_on_file_rate``; 16- and 17-year-olds who filed a return of their own at
   ``child_on_file_rate`` (a younger dependent appears on a parent's return but has no last known
   address of their own); a requested person at ``in_master_file_share``; the other adults of a
   requested household (US-citizen and LPR relatives, ITIN filers) at ``household_on_file_rate``.
2. Which number: requested people and the adults of their households hold an ITIN at
   ``itin_share``, everyone else an SSN (:mod:`sim.world.tin`).
3. The name as filed: SSA/IRS keep what the person filed. Hispanic two-surname names are held in
   one of the configured forms (first surname only, both, hyphenated, second only, or a married
   woman's "DE" + her husband's); Brazilians usually by their last (father's) surname. A filer of
   a requested household may file a Spanish, Portuguese or French given name in its English form
   (``anglicized_given_share``).
   The name control follows from the last name by the IRS rules (:func:`sim.name_control`).
4. The last known address: the home on the day the most recent return was processed (filing
   rates by TIN type), unless the household moved since and the IRS learned the move from USPS
   change of address (:func:`last_known_addresses`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config import Config
from sim.normalize import name_controls
from sim.world import address, kernels, tin as tins
from sim.world.address import categories, take
from sim.world.geography import Block, Plan
from sim.world.history import DAYS_PER_YEAR
from sim.world.population import GENERAL, ROLE_HEAD, ROLE_PARTNER, Population, filing_gap, last_return_window
from sim.world.vocab import Vocabulary, draw_from_cdf, names_data

ROLES = pa.array(["head", "partner", "child", "relative"], pa.string())   # ROLE_* codes
TIN_TYPES = pa.array(["SSN", "ITIN"], pa.string())
LETTERS = pa.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), pa.string())
NO_TIN = -1


@dataclass(frozen=True)
class MasterFile:
    """The block's master file and, per person of the population, their TIN (or -1)."""

    table: pa.Table
    person_tin: np.ndarray        # int64 per person, NO_TIN where the person has none on file
    rows: np.ndarray              # int32: the people on file (positions in the population, ascending), the table's rows
    anglicized: np.ndarray        # bool per person: on file under the English form of their given name


def irs_last_names(pop: Population, vocab: Vocabulary, config: Config, rng: np.random.Generator) -> tuple[pa.Array, np.ndarray, pa.Array, np.ndarray]:
    """The last name each person filed under, and its IRS name control, for everyone (callers
    keep the rows on file): ``(names, name_codes, controls, control_codes)``, where the codes
    index the two string tables.

    Most people have one surname, filed as it is: their code is the vocabulary's. Only two-surname
    names filed with both surnames need new strings. The name control is the vocabulary surname's
    (the first surname, or the second where that is the one filed); the few names where that would
    differ from :func:`sim.name_control` (a first surname made only of particles, then another
    word) are computed from the text.
    """
    n = pop.n_people
    name_code = pop.sur1.copy()                          # int32, as the vocabulary's codes
    nc_codes, nc_table = vocab.name_control_codes
    control_code = kernels.take(nc_codes, pop.sur1)
    surnames = vocab.surnames_arrow
    # only two-surname people (a few percent) have a form to choose
    t = np.flatnonzero(pop.sur2 >= 0)
    if len(t) == 0:
        return surnames, name_code, nc_table, control_code
    s1, s2 = pop.sur1[t], pop.sur2[t]
    brazilian = pop.hh_pool[pop.household[t]] == pop.pool_names.index("brazilian")
    forms = config.world.master_file.hispanic_surname_forms.as_dict()
    cdf = np.cumsum(list(forms.values()))
    form = draw_from_cdf(cdf / cdf[-1], rng.random(len(t)))
    code = {name: i for i, name in enumerate(forms)}
    brazil_last_only = rng.random(len(t)) < names_data()["brazilian"]["irs_last_surname_only"]
    head_pos = pop.hh_start[pop.household[t]]

    second_only = (brazilian & brazil_last_only) | (~brazilian & (form == code["maternal_only"]))
    first_only = ~brazilian & (form == code["paternal_only"])
    hyphen = ~brazilian & (form == code["hyphenated"])
    # a married woman: the head's partner, or the head whose partner is a man; her husband is
    # the other of the two
    partner_pos = np.minimum(head_pos + 1, n - 1)
    has_partner = (pop.hh_size[pop.household[t]] > 1) & (pop.role[partner_pos] == ROLE_PARTNER)
    wife_of_head = (pop.role[t] == ROLE_PARTNER) & pop.female[t] & ~pop.female[head_pos]
    head_wife = (pop.role[t] == ROLE_HEAD) & pop.female[t] & has_partner & ~pop.female[partner_pos]
    husband_sur1 = np.where(head_wife, pop.sur1[partner_pos], pop.sur1[head_pos])
    married = ~brazilian & (form == code["married_de"]) & (wife_of_head | head_wife)
    joined = ~second_only & ~first_only                  # a new string: both, hyphenated or married
    name_code[t[second_only]] = s2[second_only]
    control_code[t[second_only]] = nc_codes[s2[second_only]]

    j = np.flatnonzero(joined)
    a, b = take(surnames, s1[j]), take(surnames, s2[j])
    text = pc.case_when(
        pc.make_struct(pa.array(hyphen[j]), pa.array(married[j])),
        pc.binary_join_element_wise(a, b, "-"),
        address.join(a, pa.scalar("DE"), take(surnames, husband_sur1[j])),
        address.join(a, b),
    )
    names, codes = extend_table(surnames, text)
    name_code[t[j]] = codes

    redo = t[j][vocab.particle_only[s1[j]]]
    if len(redo):
        redone = name_controls(names.take(pa.array(name_code[redo]))).astype(str)
        known = dict(vocab.name_control_index)
        extra = [v for v in dict.fromkeys(redone) if v not in known]
        known.update({v: len(nc_table) + i for i, v in enumerate(extra)})
        control_code[redo] = [known[v] for v in redone]
        nc_table = pa.concat_arrays([nc_table, pa.array(extra, pa.string())])
    return names, name_code, nc_table, control_code


def extend_table(table: pa.Array, text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Codes of ``text`` in ``table`` extended by the values it lacks: (extended table, codes).

    The extended table holds each value once (a dictionary column's categories must be
    distinct), so a new string that is already in the table, say a compound given name Faker
    lists whole, keeps its existing code; the new ones follow in order of first appearance.
    The table (each value once, 160,000 surnames) is looked up among the text's few distinct
    values, not each of those in the table: one hash of the distinct values, no Python loop.
    """
    encoded = pc.dictionary_encode(text)
    values = encoded.dictionary
    found = pc.fill_null(pc.index_in(table, value_set=values), -1).to_numpy(zero_copy_only=False)
    remap = np.full(len(values), -1, np.int64)
    in_table = np.flatnonzero(found >= 0)
    remap[found[in_table]] = in_table
    new = np.flatnonzero(remap < 0)
    remap[new] = len(table) + np.arange(len(new))
    codes = remap[encoded.indices.to_numpy(zero_copy_only=False)] if len(values) else np.zeros(len(text), np.int64)
    if not len(new):
        return table, codes
    return pa.concat_arrays([table, values.take(pa.array(new))]), codes


def last_known_addresses(world, pop: Population, itin_household: np.ndarray,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each household's last known address: ``(tax year of the last return, day the address was
    learned, dwelling)``.

    A household files for each tax year at its filing rate (an ITIN holder's household at the
    ITIN rate), so its last return is a geometric number of years before the latest tax year
    (at most ``max_filing_gap_years``), processed between February and May of the next year; the
    address is its home that day (:mod:`sim.world.history`). A later move is learned from USPS
    change of address when it falls within the window the IRS reads and was reported, at
    ``ncoa_update_rate`` (only the latest move is considered)."""
    mcfg, mob = world.master_file, world.mobility
    n_hh = len(pop.hh_size)
    rates = np.array([mcfg.filing_rate_ssn, mcfg.filing_rate_itin])
    gap = filing_gap(pop.hh_filing_draw, (rates, np.asarray(itin_household, dtype=bool).view(np.int8)), mcfg.max_filing_gap_years)
    tax_year = (world.reference_year - 1 - gap).astype(np.int16)
    u_day, u_report = rng.random(n_hh), rng.random(n_hh)     # the draws, in numpy's order; the rest one compiled pass
    lo = int(gap.min(initial=0))
    january, _ = last_return_window(world, np.arange(lo, int(gap.max(initial=0)) + 1))
    h = pop.history
    day, dwelling = kernels.last_known(gap, january - 31, lo, u_day, u_report, np.asarray(h.offsets, dtype=np.int64),
                                       h.moved_in, h.dwelling, pop.hh_dwelling, int(pop.reference_day),
                                       float(pop.reference_day - mob.ncoa_window_years * DAYS_PER_YEAR), float(mob.ncoa_update_rate))
    return tax_year, day, dwelling


def last_known_addresses_numpy(world, pop: Population, itin_household: np.ndarray,
                               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`last_known_addresses` in numpy, the reference its compiled pass is tested against."""
    mcfg, mob = world.master_file, world.mobility
    n_hh = len(pop.hh_size)
    rate = np.where(itin_household, mcfg.filing_rate_itin, mcfg.filing_rate_ssn)
    gap = filing_gap(pop.hh_filing_draw, rate, mcfg.max_filing_gap_years)
    tax_year = (world.reference_year - 1 - gap).astype(np.int16)
    first, last = last_return_window(world, gap)
    processed = np.minimum(first + (rng.random(n_hh) * (last - first + 1)).astype(np.int64), pop.reference_day)
    dwelling = pop.history.dwelling_at(np.arange(n_hh), processed)
    moved_in = pop.history.current_moved_in().astype(np.int64)
    reported = ((moved_in > processed) & (moved_in >= pop.reference_day - mob.ncoa_window_years * DAYS_PER_YEAR)
                & (rng.random(n_hh) < mob.ncoa_update_rate))
    return tax_year, np.where(reported, moved_in, processed), np.where(reported, pop.hh_dwelling, dwelling)


def build(config: Config, plan: Plan, block: Block, pop: Population, vocab: Vocabulary, rng: np.random.Generator, tin_key: int) -> MasterFile:
    world = config.world
    mcfg = world.master_file
    zips = plan.areas(block)
    n = pop.n_people
    hh = pop.household

    # 1. who is on file: a requested person at in_master_file_share, the adults of a requested
    # household at household_on_file_rate, other adults at adult_on_file_rate, 16- and
    # 17-year-olds at child_on_file_rate (one compiled pass)
    on_file, requested_hh, adult = kernels.on_file(
        rng.random(n, dtype=np.float32), pop.requested, pop.hh_origin, hh, pop.age, GENERAL,
        float(world.requested.in_master_file_share), float(world.requested.household_on_file_rate),
        float(mcfg.adult_on_file_rate), float(mcfg.child_on_file_rate))

    # 2. which number
    itin = on_file & requested_hh & adult & (rng.random(n, dtype=np.float32) < world.requested.itin_share)
    person_tin = np.full(n, NO_TIN, dtype=np.int64)
    ssn_rows = on_file & ~itin
    tins.ssn_numbers_into(pop.person_id, ssn_rows, tin_key, person_tin)
    # ITIN index: the area's ITIN offset + the person's position among its requested households
    zip_of = pop.hh_zip[hh[itin]]
    local = pop.person_id[itin] - zips["person_offset"][zip_of]
    itin_index = zips["itin_offset"][zip_of] + (local - zips["population"][zip_of])
    person_tin[itin] = tins.itin_numbers(itin_index, tin_key + 1)

    # 3. names as filed
    names, name_code, nc_table, nc_code = irs_last_names(pop, vocab, config, rng)
    g2_rows = np.flatnonzero(pop.given2 >= 0)
    keep = rng.random(len(g2_rows)) < mcfg.compound_given_kept
    compound = g2_rows[keep]
    given = vocab.given_arrow
    first_table, compound_codes = extend_table(given, address.join(take(given, pop.given1[compound]), take(given, pop.given2[compound])))
    first_code = pop.given1.copy()                      # int32, as the vocabulary's codes
    first_code[compound] = compound_codes
    # a filer of a requested household may file a single given name in its English form (JOSE as
    # JOSEPH); ICE keeps the name as born
    single = np.flatnonzero(on_file & requested_hh & (pop.given2 < 0))
    english = vocab.anglicized[pop.given1[single]]
    could, english = single[english >= 0], english[english >= 0]
    chosen = rng.random(len(could)) < mcfg.anglicized_given_share
    anglicized = np.zeros(n, dtype=bool)
    anglicized[could[chosen]] = True
    first_code[could[chosen]] = english[chosen]
    # middle initial: the second given name's, or (for most others) a letter; -1 = none
    initial = kernels.middle_initials(rng.random(n, dtype=np.float32), np.float32(mcfg.middle_initial_rate),
                                      rng.integers(0, 26, n, dtype=np.int8))
    initial[g2_rows] = np.where(keep, -1, vocab.given_initials[pop.given2[g2_rows]])

    # 4. last known address
    tax_year, lka_day_hh, lka_dwelling_hh = last_known_addresses(world, pop, np.bincount(hh[itin], minlength=len(pop.hh_size)) > 0, rng)
    lka_current_hh = lka_dwelling_hh == pop.hh_dwelling

    # Addresses are dwellings': each dwelling some household on file lists is rendered once
    # (dwellings have distinct addresses in their area), and people's columns index it; numbers,
    # units and ZIP+4 index shared integer-to-text tables. Files hold plain strings.
    lka_age_hh = ((pop.reference_day - lka_day_hh) / DAYS_PER_YEAR).astype(np.float32)
    (rows, hh_rows, person_id, household_id, tin, dob, requested, tax_year, lka_current, lka_age,
     dw_on_file, dw_index) = kernels.on_file_rows(on_file, hh, pop.hh_start, pop.person_id, person_tin, pop.dob, pop.requested,
                                                  tax_year, lka_current_hh, lka_age_hh, lka_dwelling_hh, len(pop.dw_building))
    comp = address.components(pop, dw_on_file)
    labels = address.Labels(vocab, zips)
    zip4_known = rng.random(len(dw_on_file), dtype=np.float32) < mcfg.zip4_known_rate
    # each column's codes are gathered at the rows (people) or dw_index (their dwellings) as the
    # column is made, in one compiled pass each (address.categories)
    n_groups = len(plan.groups)
    table = pa.table({
        "tin": address.digits(tin, 9),
        "tin_type": categories(TIN_TYPES, itin.view(np.int8), rows=rows),
        "first_name": categories(first_table, first_code, rows=rows),
        "middle_initial": categories(LETTERS, initial, null_below=0, rows=rows),
        "last_name": categories(names, name_code, rows=rows),
        "name_control": categories(nc_table, nc_code, rows=rows),
        "date_of_birth": pa.array(dob, pa.int32()).cast(pa.date32()),
        # the delivery line omits the ZIP, so two areas can share one: plain strings, not categories
        "street_address": address.usps_street_line(comp, labels.street_labels(pop), dw_index),
        "street_number": categories(address.lookup("int", int(comp.number.max(initial=0)) + 1), comp.number, rows=dw_index),
        "street_predir": categories(labels.predir, comp.predir, null_below=0, rows=dw_index),
        "street_name": categories(labels.stem, comp.stem, rows=dw_index),
        "street_suffix": categories(labels.suffix, comp.suffix, rows=dw_index),
        "unit": categories(address.lookup("int", int(comp.unit.max(initial=0)) + 1), comp.unit, null_below=1, rows=dw_index),
        "city": labels.area("city", comp.zip_row, dictionary=True, rows=dw_index),
        "state": labels.area("state", comp.zip_row, dictionary=True, rows=dw_index),
        "zip5": labels.area("zip5", comp.zip_row, dictionary=True, rows=dw_index),
        "zip4": categories(address.lookup("zip4", 10_000), np.where(zip4_known, comp.zip4, -1), null_below=0, rows=dw_index),
        "last_return_tax_year": pa.array(tax_year, pa.int16()),
        "truth_person_id": pa.array(person_id, pa.int64()),
        "truth_household_id": pa.array(household_id, pa.int64()),
        "truth_role": categories(ROLES, pop.role, rows=rows),
        "truth_origin_group": categories(pa.array([*plan.groups, "general"], pa.string()),
                                         np.where(pop.hh_origin < 0, n_groups, pop.hh_origin), rows=hh_rows),
        "truth_requested": pa.array(requested),
        "truth_lka_current": pa.array(lka_current),
        "truth_lka_age_years": pa.array(lka_age),
    })
    return MasterFile(table=table, person_tin=person_tin, rows=rows, anglicized=anglicized)
