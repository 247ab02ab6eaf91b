"""Matchers (sim.match.matchers): the recordlinkage matcher gives the vectorized matcher's pairs and
levels, on world data with missing values, empty strings and accents, pair for pair."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sim.match.blocking import block_on
from sim.compare.comparisons import date, exact, jaro_winkler, levenshtein
from sim.config import MATCHERS
from sim.match.matchers import RecordLinkageMatcher, VectorizedMatcher, get_matcher
from sim.normalize import name_controls, parse_addresses
from sim.world.generate import read_dataset

#: Requests taken from the world: enough for pairs at every level, few enough for recordlinkage.
N_REQUESTS = 1500
#: Requests paired with every master-file record of their ZIP (the loosest blocking).
N_ZIP_REQUESTS = 12

COMPARISONS = [
    jaro_winkler("first_name", (0.92, 0.8)),
    jaro_winkler("last_name", (0.92, 0.8)),
    levenshtein("street_line", (1, 2)),
    exact("zip5"),
    date("date_of_birth", (1, 31, 366)),
    # more thresholds, and the same columns compared another way
    exact("date_of_birth"),
    jaro_winkler("street_line", (0.97, 0.9, 0.85, 0.7)),
    levenshtein("last_name", (1, 2, 3)),
    exact("name_control"),
]


def _every(n: int, step: int, first: int) -> np.ndarray:
    return np.arange(n) % step == first


def _blank(column: pa.Array, null_at: np.ndarray, empty_at: np.ndarray) -> pa.Array:
    """``column`` with nulls and empty strings put in: both mean "missing" to both matchers."""
    column = pc.if_else(pa.array(empty_at), "", column)
    return pc.if_else(pa.array(null_at), pa.scalar(None, pa.string()), column)


@pytest.fixture(scope="module")
def sides(world_dir):
    """(requests, master file) in one schema, as a matcher prepares them, with missing values,
    empty strings, accents and near-miss dates of birth added at fixed positions."""
    requests = read_dataset(world_dir, "requests").slice(0, N_REQUESTS)
    master = read_dataset(world_dir, "master_file")
    parsed = parse_addresses(requests.column("earm_address"))
    n, m = requests.num_rows, master.num_rows

    first = _blank(requests.column("first_name").combine_chunks(), _every(n, 50, 0), _every(n, 50, 1))
    last = requests.column("last_name").combine_chunks()
    last = pc.if_else(pa.array(_every(n, 70, 3)), pc.replace_substring(last, "N", "Ñ"), last)
    last = pc.if_else(pa.array(_every(n, 70, 4)), pc.replace_substring(last, "A", "É"), last)
    last = _blank(last, _every(n, 90, 5), _every(n, 90, 6))
    shift = np.select([_every(n, 53, 7), _every(n, 53, 8), _every(n, 53, 9)], [1, 20, 300], 0)
    dob = pc.add(requests.column("date_of_birth").combine_chunks().cast(pa.int32()), pa.array(shift, pa.int32())).cast(pa.date32())
    dob = pc.if_else(pa.array(_every(n, 61, 10)), pa.scalar(None, pa.date32()), dob)
    left = pa.table({
        "first_name": first,
        "last_name": last,
        "name_control": pa.array(name_controls(last), pa.string()),
        "date_of_birth": dob,
        "street_line": parsed.column("street_line"),
        "zip5": parsed.column("zip5"),
        "tin": requests.column("ssn"),
    })
    right = pa.table({
        "first_name": _blank(master.column("first_name").combine_chunks(), _every(m, 997, 0), _every(m, 997, 1)),
        "last_name": master.column("last_name").combine_chunks().dictionary_encode(),   # matchers take either form
        "name_control": master.column("name_control"),
        "date_of_birth": master.column("date_of_birth"),
        "street_line": master.column("street_address"),
        "zip5": master.column("zip5"),
        "tin": master.column("tin"),
    })
    return left, right


@pytest.fixture(scope="module")
def pairs(sides):
    """Both matchers' candidate pairs for the IRS-like rules (name control and ZIP, or TIN) and
    for ZIP alone on a few requests."""
    left, right = sides
    rules = [block_on("name_control", "zip5"), block_on("tin")]
    few = left.slice(0, N_ZIP_REQUESTS)
    return {
        "rules": rules,
        "vectorized": VectorizedMatcher().pairs(rules, left, right),
        "recordlinkage": RecordLinkageMatcher().pairs(rules, left, right),
        "zip_vectorized": VectorizedMatcher().pairs([block_on("zip5")], few, right),
        "zip_recordlinkage": RecordLinkageMatcher().pairs([block_on("zip5")], few, right),
    }


def test_both_engines_give_the_same_candidate_pairs(sides, pairs):
    left, right = sides
    for name in ("", "zip_"):
        li, ri = pairs[f"{name}vectorized"]
        assert li.dtype == ri.dtype == np.int64
        np.testing.assert_array_equal(li, pairs[f"{name}recordlinkage"][0])
        np.testing.assert_array_equal(ri, pairs[f"{name}recordlinkage"][1])
        key = li * right.num_rows + ri
        assert (np.diff(key) > 0).all(), "sorted by (left, right), each pair once"
    # the union is a real one: each rule finds pairs the other does not
    li, ri = pairs["vectorized"]
    each = [set(zip(*(a.tolist() for a in VectorizedMatcher().pairs([rule], left, right)))) for rule in pairs["rules"]]
    union = set(zip(li.tolist(), ri.tolist()))
    assert union == each[0] | each[1] and each[0] - each[1] and each[1] - each[0]
    assert len(pairs["zip_vectorized"][0]) > 20_000


def test_both_engines_give_the_same_levels_at_every_level(sides, pairs):
    left, right = sides
    li = np.concatenate([pairs["vectorized"][0], pairs["zip_vectorized"][0]])
    ri = np.concatenate([pairs["vectorized"][1], pairs["zip_vectorized"][1]])

    got = get_matcher("recordlinkage").levels(COMPARISONS, left, right, li, ri)
    want = get_matcher("vectorized").levels(COMPARISONS, left, right, li, ri)

    assert got.dtype == want.dtype == np.int8 and got.shape == want.shape == (len(li), len(COMPARISONS))
    for j, c in enumerate(COMPARISONS):
        mismatched = np.flatnonzero(got[:, j] != want[:, j])
        assert len(mismatched) == 0, f"{c.description}: {len(mismatched)} pairs differ, e.g. pair {mismatched[:3].tolist()}"
        counts = np.bincount(want[:, j] + 1, minlength=c.n_levels + 2)
        # some pairs at every level, from missing (-1) to exact: the comparison is not trivial
        assert (counts > 0).all(), f"{c.description}: pairs per level from -1: {counts.tolist()}"


def test_matchers_agree_on_edge_cases():
    names = ["MARIA", "MARIA", "", None, "JOSÉ", "MUÑOZ", "ANA", "A", "AMANDA", "JULIA", "MARTHA"]
    others = ["MARIA", "MARHTA", "MARIA", "MARIA", "JOSE", "MUNOZ", None, "B", "ARIANA", "JULIO", ""]
    days = pa.array([0, 1, None, 400, 10, 10, 31, 32, 366, 367, 5], pa.int32()).cast(pa.date32())
    same = pa.array([0, 0, 0, 0, 10, 11, 0, 0, 0, 0, 5], pa.int32()).cast(pa.date32())
    left = pa.table({"name": pa.array(names, pa.string()), "dob": days})
    right = pa.table({"name": pa.array(others, pa.string()).dictionary_encode(), "dob": same})
    comps = [jaro_winkler("name", (0.92, 0.8)), levenshtein("name", (1, 2)), exact("name"), date("dob", (1, 31, 366))]
    li = ri = np.arange(len(names))

    got = get_matcher("recordlinkage").levels(comps, left, right, li, ri)
    want = get_matcher("vectorized").levels(comps, left, right, li, ri)

    np.testing.assert_array_equal(got, want)
    # MARIA/MARHTA 0.876; AMANDA/ARIANA 0.8 exactly (computed 0.7999999999999999); JULIA/JULIO 0.92
    assert want[:, 0].tolist() == [3, 1, -1, -1, 1, 1, -1, 0, 1, 2, -1]
    assert want[:, 1].tolist() == [3, 1, -1, -1, 2, 2, -1, 2, 0, 2, -1]
    assert want[:, 3].tolist() == [4, 3, -1, 0, 4, 3, 2, 1, 1, 0, 4]


def test_matchers_on_no_pairs_and_no_rules(sides):
    left, right = (side.slice(0, 100) for side in sides)
    none = np.zeros(0, np.int64)
    for engine in (VectorizedMatcher(), RecordLinkageMatcher()):
        assert engine.levels(COMPARISONS, left, right, none, none).shape == (0, len(COMPARISONS))
        li, ri = engine.pairs([], left, right)
        assert len(li) == len(ri) == 0


def test_matchers_are_picked_by_name():
    assert MATCHERS == ("vectorized", "recordlinkage")
    assert [get_matcher(name).name for name in MATCHERS] == list(MATCHERS)


def test_an_unknown_matcher_is_refused_with_the_choices():
    with pytest.raises(ValueError) as info:
        get_matcher("dask")
    assert str(info.value) == "The 'matcher' parameter must be one of vectorized, recordlinkage. Got 'dask' instead."
