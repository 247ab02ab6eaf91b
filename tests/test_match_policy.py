"""sim.match.policy and sim.match.prepare: routing, gates, rules, several candidates, and the
IRS's TIN rule checked against the simulated world."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sim.config import load_config, load_policy
from sim.match.policy import OUTCOMES, address_gate, match, route
from sim.compare.encode import as_array
from sim.match.prepare import prepare, prepare_master_file, prepare_requests
from sim.world.generate import read_dataset


def side(rows: list[dict], *, address: bool = True) -> pa.Table:
    """A prepared side from plain rows (first, last, dob, tin, addr)."""
    table = pa.table({k: [r.get(k) for r in rows] for k in ("first", "last", "dob", "tin", "addr")})
    table = table.set_column(2, "dob", pc.cast(table.column("dob"), pa.date32()) if table.column("dob").null_count < len(rows)
                             else pa.nulls(len(rows), pa.date32()))
    return prepare(table, columns={"first_name": "first", "last_name": "last", "date_of_birth": "dob", "tin": "tin"},
                   address="addr" if address else None)


@pytest.fixture(scope="module")
def irs(baseline_config_path):
    return load_config(baseline_config_path).policy


def outcomes(decisions) -> list[str]:
    return [OUTCOMES[i] for i in decisions["outcome"]]


# --- gates (FACTS: "Failed to Provide" next to a ZIP passed the filter) ---------------------

GATE_TEXTS = ["", "   ", "UNKNOWN ADDRESS", "FAILED TO PROVIDE 30301", "30301-1234", "ATLANTA GA",
              "12 OAK ST ATLANTA GA 30301", "123456789", "1234"]


@pytest.mark.parametrize("gate, expected", [
    ("none", [True] * 9),
    ("nonblank", [False, False, True, True, True, True, True, True, True]),
    ("zip_regex", [False, False, False, True, True, False, True, True, False]),
    ("sufficient", [False, False, False, False, False, False, True, False, False]),
])
def test_address_gates_on_the_texts_the_court_filings_describe(gate, expected):
    left = side([{"addr": t, "last": "X"} for t in GATE_TEXTS])
    assert address_gate(gate, left).tolist() == expected


def test_routing_is_mutually_exclusive_by_whether_a_tin_is_carried(irs):
    left = side([{"tin": "123-45-6789", "last": "A"}, {"tin": None, "last": "B"}, {"tin": "n/a", "last": "C"}])
    # "n/a" has no digits: the record carries no usable TIN and goes to address matching
    assert route(irs, left).tolist() == [0, 1, 1]


# --- the TIN path --------------------------------------------------------------------------

MASTER = [
    {"first": "JUAN", "last": "GARCIA LOPEZ", "dob": "1980-01-02", "tin": "111223333", "addr": "12 OAK ST APT 4 ATLANTA GA 30301"},
    {"first": "MARIA", "last": "GARCIA", "dob": "1982-05-06", "tin": "444556666", "addr": "12 OAK ST APT 4 ATLANTA GA 30301"},
    {"first": "ANA", "last": "PEREZ", "dob": "1990-03-04", "tin": "777889999", "addr": "98 ELM AVE DECATUR GA 30030"},
]


def test_tin_path_discloses_on_tin_and_name_control_whatever_the_address_says(irs):
    right = side(MASTER)
    left = side([
        {"first": "JUAN", "last": "GARCIA", "tin": "111-22-3333", "addr": "FAILED TO PROVIDE 30301"},   # disclosed
        {"first": "JUAN", "last": "GARCIA", "tin": "111-22-3333", "addr": "UNKNOWN"},                   # gated
        {"first": "ANA", "last": "GARCIA", "tin": "777889999", "addr": "30030"},                        # name control differs
        {"first": "JOSE", "last": "PEREZ", "tin": "000000000", "addr": "30030"},                        # TIN not on file
    ])
    decisions, _, _ = match(irs, left, right)
    assert outcomes(decisions) == ["disclosed", "gated", "unmatched", "unmatched"]
    assert decisions["right_row"].tolist() == [0, -1, -1, -1]


# --- the address path and several candidates -----------------------------------------------


def test_address_path_household_members_sharing_a_surname_are_ranked_or_rejected(irs, baseline_config_path):
    right = side(MASTER)
    left = side([{"first": "MARIA", "last": "GARCIA", "dob": "1982-05-06", "addr": "12 Oak Street, Atlanta GA 30301"},
                 {"first": "ROSA", "last": "GARCIA", "dob": "1999-01-01", "addr": "12 Oak Street, Atlanta GA 30301"}])
    # the shipped rule compares the first name too: MARIA finds her own record, ROSA (no record
    # of her own) finds none rather than a relative's
    shipped, _, _ = match(irs, left, right)
    assert outcomes(shipped) == ["disclosed", "unmatched"] and shipped["right_row"].tolist() == [1, -1]
    # the bare entity check: name control GARC, street6 "12 OAK", ZIP 30301 match both GARCIAs
    entity = ['policy.paths.1.rules=[{name_control="exact", street6="exact", zip5="exact"}]']
    best, _, _ = match(load_config(baseline_config_path, entity).policy, left, right)
    assert best["n_matches"].tolist() == [2, 2]
    # best: MARIA's own record wins on first name and date of birth; ROSA's two are tied
    assert outcomes(best) == ["disclosed", "ambiguous"] and best["right_row"].tolist() == [1, -1]
    reject = load_config(baseline_config_path, [*entity, "policy.paths.1.on_multiple=reject"]).policy
    rejected, _, _ = match(reject, left, right)
    assert outcomes(rejected) == ["ambiguous", "ambiguous"]


def test_rule_levels_name_thresholds_loosest_to_exact(baseline_config_path):
    policy = load_config(baseline_config_path, [
        'policy.paths.1.rules=[{name_control="exact", street6="exact", zip5="exact", first_name=0.92}]']).policy
    right = side(MASTER)
    left = side([{"first": "MARIA", "last": "GARCIA", "addr": "12 Oak St Atlanta GA 30301"},      # exact
                 {"first": "MARIA", "last": "GARCIA", "addr": "12 Oak St Atlanta GA 30301"},
                 {"first": "MARIAH", "last": "GARCIA", "addr": "12 Oak St Atlanta GA 30301"},     # JW 0.97
                 {"first": "MARTA", "last": "GARCIA", "addr": "12 Oak St Atlanta GA 30301"}])     # JW 0.89
    decisions, _, _ = match(policy, left, right)
    assert outcomes(decisions) == ["disclosed", "disclosed", "disclosed", "unmatched"]


def test_statute_policy_needs_a_complete_address_that_matches_the_one_on_file(repo_root):
    statute = load_policy(repo_root / "configs" / "statute-6103.toml")
    right = side(MASTER)
    left = side([{"first": "ANA", "last": "PEREZ", "tin": "777889999", "addr": "98 Elm Avenue, Decatur GA 30030"},
                 {"first": "ANA", "last": "PEREZ", "tin": "777889999", "addr": "5 Pine St, Decatur GA 30030"},
                 {"first": "ANA", "last": "PEREZ", "tin": "777889999", "addr": "FAILED TO PROVIDE 30030"}])
    decisions, _, _ = match(statute, left, right)
    assert outcomes(decisions) == ["disclosed", "unmatched", "gated"]


# --- against the simulated world -----------------------------------------------------------


@pytest.fixture(scope="module")
def world_sides(world_dir):
    requests = read_dataset(world_dir, "requests")
    master = read_dataset(world_dir, "master_file")
    return requests, master, prepare_requests(requests), prepare_master_file(master)


def test_tin_path_decisions_equal_the_rule_computed_row_by_row(irs, world_sides):
    requests, master, left, right = world_sides
    decisions, _, _ = match(irs, left, right)
    by_tin = {t: i for i, t in enumerate(right.column("tin").to_pylist())}
    name_controls = right.column("name_control").to_pylist()
    gate = address_gate("zip_regex", left)
    n_checked = 0
    for i, (tin, nc) in enumerate(zip(left.column("tin").to_pylist(), left.column("name_control").to_pylist())):
        if tin is None:
            continue
        n_checked += 1
        j = by_tin.get(tin)
        want = "gated" if not gate[i] else "disclosed" if j is not None and name_controls[j] == nc else "unmatched"
        assert OUTCOMES[decisions["outcome"][i]] == want
        assert decisions["right_row"][i] == (j if want == "disclosed" else -1)
    assert n_checked > 50 and (decisions["outcome"] == OUTCOMES.index("disclosed")).sum() > 10


def test_normalizing_the_master_file_again_changes_nothing(world_sides):
    """prepare_master_file takes the simulated IRS file's columns as they are; that is only
    right if they are already in the normalized forms."""
    _, master, _, right = world_sides
    sample = master.slice(0, 20_000)
    street = pc.binary_join_element_wise(*(sample.column(c) for c in ("street_number", "street_predir", "street_name", "street_suffix")),
                                         " ", null_handling="skip")
    again = prepare(sample.append_column("_street", street), columns={
        "tin": "tin", "first_name": "first_name", "last_name": "last_name", "date_of_birth": "date_of_birth",
        "street_line": "street_address", "street": "_street", "street_number": "street_number", "street_name": "street_name",
        "unit": "unit", "city": "city", "state": "state", "zip5": "zip5", "zip4": "zip4"})
    fast = right.slice(0, 20_000)
    for column in ("tin", "first_name", "last_name", "name_control", "street_line", "street", "street6", "city", "zip5", "zip4"):
        assert again.column(column).equals(fast.column(column)), column


def test_parsing_ice_addresses_recovers_the_zip_of_complete_addresses(world_sides):
    requests, _, left, _ = world_sides
    complete = np.asarray(requests.column("truth_address_class").to_pylist()) == "complete"
    zips = np.asarray(left.column("zip5").to_pylist(), dtype=object)[complete]
    truth = np.asarray(requests.column("truth_zip").to_pylist(), dtype=object)[complete]
    # ZIP typos (1%) are the only way they may differ
    assert (zips == truth).mean() > 0.97


# --- blocking too coarse for memory (issue 13): refused before a pair is made ---------------

def with_rule(policy, rule, **updates):
    """``policy`` with its address path blocking on ``rule`` alone."""
    address = policy.paths[1].model_copy(update={"blocking": (tuple(rule),)})
    return policy.model_copy(update={"paths": (policy.paths[0], address), **updates})


def address_path_pairs(left, right, rule) -> tuple[int, int]:
    """(requests the IRS address path blocks, the pairs ``rule`` makes for them)."""
    from sim.match.blocking import block_on

    routed = left.filter(pc.equal(pc.utf8_length(pc.fill_null(left.column("tin"), "")), 0))
    gated = routed.filter(pa.array(address_gate("nonblank", routed)))
    return gated.num_rows, block_on(*rule).count({c: gated.column(c) for c in rule}, {c: right.column(c) for c in rule})


def test_a_rule_over_the_policys_max_pairs_is_refused_with_refinements_that_fit(irs, world_sides):
    """Blocking on zip5 alone pairs each request with everyone in its ZIP area (99M pairs in the
    test world, about 8 GB): refused before a pair is made, with the refinements that fit."""
    from sim.common.errors import BlockingTooCoarse

    _, _, left, right = world_sides
    n_left, n = address_path_pairs(left, right, ["zip5"])
    _, with_name = address_path_pairs(left, right, ["zip5", "name_control"])
    assert n > 100 * with_name > 0
    with pytest.raises(BlockingTooCoarse) as info:
        match(with_rule(irs, ["zip5"], max_pairs=10 * with_name), left, right)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert message.startswith(f"path 'address' of policy 'irs-2025' would make {n:,} candidate pairs in one block "
                              f"({n_left:,} records against {right.num_rows:,}; by rule: ['zip5']: {n:,}), "
                              f"more than the policy's max_pairs of {10 * with_name:,}. To fix: block on more columns: ")
    assert f"['zip5', 'name_control'] makes {with_name:,}" in message
    assert message.endswith(f"raise the limit with --set policy.max_pairs={n:_}")
    # the shipped rule, at exactly its count, runs; one pair fewer is refused
    _, shipped = address_path_pairs(left, right, ["name_control", "street6", "zip5"])
    match(irs.model_copy(update={"max_pairs": shipped}), left, right)
    with pytest.raises(BlockingTooCoarse, match=f"more than the policy's max_pairs of {shipped - 1:,}"):
        match(irs.model_copy(update={"max_pairs": shipped - 1}), left, right)


def test_without_max_pairs_the_limit_is_the_memory_available(irs, world_sides, monkeypatch):
    """The IRS address path has 5 comparisons, so 80 bytes a pair: 64 MiB holds 838,860 pairs."""
    from sim.common.errors import BlockingTooCoarse

    _, _, left, right = world_sides
    _, n = address_path_pairs(left, right, ["zip5"])
    monkeypatch.setattr("sim.common.parallel.available_memory", lambda: 64 * 2**20)
    with pytest.raises(BlockingTooCoarse) as info:
        match(with_rule(irs, ["zip5"]), left, right)
    assert (f"more than the 64 MiB of memory available now holds at about 80 bytes a pair (about "
            f"{n * 80 / 2**30:.1f} GiB needed). To fix: block on more columns: ['zip5',") in str(info.value)
    match(irs, left, right)          # the shipped rule is far below it


def test_a_dictionary_encoded_master_file_prepares_to_the_same_table(world_sides):
    """The generator's master file holds names and places as dictionary columns, and the
    pipeline prepares it so (the names are split once per distinct value of the dictionary, and
    only the columns matched on are decoded). The prepared table equals the one prepared from
    the same file in plain strings."""
    _, master, _, right = world_sides
    # encoded whole, then cut: as in a block, most of a dictionary's values are not used
    encoded = pa.table([c.combine_chunks().dictionary_encode().slice(0, 20_000) if pa.types.is_string(c.type) and name != "tin"
                        else c.slice(0, 20_000) for name, c in zip(master.column_names, master.columns)], names=master.column_names)
    last = encoded.column("last_name").combine_chunks()
    assert pa.types.is_dictionary(last.type) and len(last.dictionary) > len(pc.unique(last))
    prepared = prepare_master_file(encoded)
    assert prepared.schema == right.schema
    for name in right.column_names:
        assert prepared.column(name).equals(right.slice(0, 20_000).column(name)), name
    # kept encoded (as a block keeps it for blocking and comparisons), the same values
    kept = prepare_master_file(encoded, keep_dictionaries=True)
    assert {"last_name", "surname_1", "given_1", "given_variant", "zip5", "street"} <= {
        f.name for f in kept.schema if pa.types.is_dictionary(f.type)}
    # the street, joined from its parts once per distinct combination: distinct values, so the
    # comparisons take its codes rather than hash it (EncodedColumn)
    street = kept.column("street").combine_chunks()
    assert len(pc.unique(street.dictionary)) == len(street.dictionary) < len(street)
    for name in right.column_names:
        assert as_array(kept.column(name)).equals(right.slice(0, 20_000).column(name).combine_chunks()), name


def test_the_master_file_s_street_is_joined_once_per_combination_of_its_parts():
    """prepare._street: the parts joined by blanks, a missing part left out; from dictionary
    parts (as the generator makes them) a dictionary column over the distinct combinations, the
    same values as joining every row, also where the parts' codes do not fit one 62-bit key
    together; plain where the parts are plain or a dictionary is not wanted; no rows, no values."""
    from sim.match.prepare import _street

    parts = {"street_number": ["12", "12", "7", "12", None], "street_predir": ["N", None, None, "N", None],
             "street_name": ["OAK", "OAK", "ELM", "OAK", "ELM"], "street_suffix": ["ST", "ST", "AVE", "ST", "AVE"]}
    want = ["12 N OAK ST", "12 OAK ST", "7 ELM AVE", "12 N OAK ST", "ELM AVE"]
    encoded = pa.table({k: pa.array(v).dictionary_encode() for k, v in parts.items()})
    kept = _street(encoded, True)
    assert pa.types.is_dictionary(kept.type) and len(kept.dictionary) == 4
    assert as_array(kept).to_pylist() == want
    assert _street(encoded, False).to_pylist() == want
    assert _street(pa.table({k: pa.array(v) for k, v in parts.items()}), True).to_pylist() == want
    assert len(_street(encoded.slice(0, 0), True)) == 0
    # four dictionaries of 2**16 values: (2**16 + 1)**4 combinations do not fit 62 bits, so the
    # first three parts' key is numbered afresh before the fourth is added
    wide = pa.array([f"W{i}" for i in range(2**16)])
    rows = [0, 2**16 - 1, 0, 5]
    huge = pa.table({k: pa.DictionaryArray.from_arrays(pa.array(rows if k != "street_suffix" else [0, 2**16 - 1, 0, 7], pa.int32()), wide)
                     for k in parts})
    joined = _street(huge, True)
    assert pa.types.is_dictionary(joined.type) and len(joined.dictionary) == 3
    assert as_array(joined).to_pylist() == ["W0 W0 W0 W0", "W65535 W65535 W65535 W65535", "W0 W0 W0 W0", "W5 W5 W5 W7"]


def test_term_frequencies_are_shares_of_the_present_values():
    """A value's share among the rows that have one: null and empty are missing (share 0, and
    not counted), whether the column is plain or a block's encoded master-file column."""
    import pyarrow as pa

    from sim.compare.encode import EncodedColumn
    from sim.match.policy import term_frequencies

    values = pa.array(["GARCIA", "GARCIA", "LEE", None, "", "GARCIA"])
    want = [0.75, 0.75, 0.25, 0.0, 0.0, 0.75]
    assert term_frequencies(values).tolist() == want
    assert term_frequencies(EncodedColumn(values)).tolist() == want


def test_ranked_is_the_first_two_of_each_request_s_pairs_in_sort_order():
    """_ranked's one compiled pass gives what sorting every pair by request, score (highest
    first; NaN last) and right row gives, ties and unsorted pairs included."""
    from sim.match.policy import _ranked

    rng = np.random.default_rng(7)
    n = 5000
    li = rng.integers(0, 700, n)
    ri = rng.permutation(20 * n)[:n]                          # each pair once, in no order
    scores = rng.choice([-np.inf, -2.5, 0.0, 1.5, 3.0, np.nan], n) + np.where(rng.random(n) < 0.3, rng.random(n), 0)
    order = np.lexsort((ri, -scores, li))
    first = np.flatnonzero(np.r_[True, li[order][1:] != li[order][:-1]])
    counts = np.diff(np.r_[first, len(order)])
    want = li[order][first], order[first], np.where(counts > 1, order[np.minimum(first + 1, n - 1)], -1)
    got = _ranked(li, ri, scores)
    assert (counts == 1).any() and (counts > 2).any() and np.isnan(scores).any()
    for g, w in zip(got, want):
        assert g.tolist() == w.tolist()
    assert [a.tolist() for a in _ranked(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))] == [[], [], []]
