"""Blocking (sim.match.blocking) against a pandas merge on the same keys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sim.compare.encode import EncodedTable
from sim.match.blocking import BlockKeys, _joint_key, block_on, union_pairs
from sim.normalize import name_controls, parse_addresses
from sim.world.generate import read_dataset


def merged_pairs(left: pd.DataFrame, right: pd.DataFrame, columns: list[str]) -> set[tuple[int, int]]:
    """The pairs a database join gives, dropping missing and empty keys."""
    lk = left[columns].replace("", np.nan).dropna().reset_index()
    rk = right[columns].replace("", np.nan).dropna().reset_index()
    m = lk.merge(rk, on=columns, suffixes=("_l", "_r"))
    return set(zip(m["index_l"], m["index_r"]))


@pytest.fixture(scope="module")
def sides(world_dir):
    requests = read_dataset(world_dir, "requests").to_pandas()
    master = read_dataset(world_dir, "master_file").to_pandas()
    parsed = parse_addresses(requests["earm_address"].tolist()).to_pandas()
    left = pd.DataFrame({
        "zip5": parsed["zip5"],
        "name_control": name_controls(requests["last_name"].fillna("")),
        "street6": parsed["street_line"].str.replace(" ", "").str[:6],
    })
    right = pd.DataFrame({
        "zip5": master["zip5"].astype(str),
        "name_control": master["name_control"].astype(str),
        "street6": master["street_address"].astype(str).str.replace(" ", "").str[:6],
    })
    return left, right


@pytest.mark.parametrize("encoded", [False, True], ids=["plain", "encoded-right"])
@pytest.mark.parametrize("columns", [["zip5", "name_control"], ["name_control", "street6", "zip5"]])
def test_pairs_equal_a_database_join_on_world_keys(sides, columns, encoded):
    left, right = sides
    # encoded: the master file as a block's policies share it, each column encoded once
    right_cols = EncodedTable(pa.Table.from_pandas(right[columns])) if encoded else {c: right[c] for c in columns}
    li, ri = block_on(*columns).pairs({c: left[c] for c in columns}, right_cols)
    assert len(li) > 100
    assert set(zip(li.tolist(), ri.tolist())) == merged_pairs(left, right, columns)
    assert len(set(zip(li.tolist(), ri.tolist()))) == len(li), "no pair twice"
    assert (np.diff(li) >= 0).all(), "left-major order"


@pytest.mark.parametrize("encoded", [False, True], ids=["plain", "encoded-right"])
def test_a_part_blocked_through_the_whole_left_s_keys_gets_the_same_pairs(sides, encoded):
    """BlockKeys looks each master-file column up once in all the requests' values; a path's
    part of the requests then gets exactly the pairs and agreement blocking it alone gives,
    though the right side keeps codes for values only the rest of the requests have."""
    left, right = sides
    columns = ["name_control", "street6", "zip5"]
    whole = pa.Table.from_pandas(left[columns], preserve_index=False)
    table = EncodedTable(pa.Table.from_pandas(right[columns], preserve_index=False))
    if encoded:
        table["zip5"]                               # one column encoded, as comparisons leave it
    keys = BlockKeys.of(table, whole)
    assert BlockKeys.of(table, whole) is keys and BlockKeys.of(table, whole.slice(0)) is not keys
    part = whole.take(pa.array(np.arange(0, len(left), 3)))
    for rule in (block_on(*columns), block_on("zip5", "name_control"), block_on("street6")):
        plain = {c: right[c] for c in rule.columns}
        got = rule.pairs({c: part.column(c) for c in rule.columns}, {c: keys.column(c) for c in rule.columns})
        want = rule.pairs({c: part.column(c) for c in rule.columns}, plain)
        assert len(want[0]) > 20 and all((g == w).all() for g, w in zip(got, want))
        li, ri = np.repeat(np.arange(part.num_rows), 40), np.tile(np.arange(40) * 7, part.num_rows)
        li, ri = np.concatenate([li, want[0]]), np.concatenate([ri, want[1]])
        agree = rule.agrees({c: part.column(c) for c in rule.columns}, {c: keys.column(c) for c in rule.columns}, li, ri)
        assert (agree == rule.agrees({c: part.column(c) for c in rule.columns}, plain, li, ri)).all()


def test_block_keys_of_dates_and_numbers_keep_their_types():
    """A date or integer column is looked up as its values; a part of the left finds its own."""
    left = pa.table({"d": pa.array([0, 1, None, 3, 1], pa.int32()).cast(pa.date32()), "n": [5, 6, 7, None, 6]})
    right = pa.table({"d": pa.array([1, 1, 3, 9, None], pa.int32()).cast(pa.date32()), "n": [6, 6, 8, 5, None]})
    part = left.take(pa.array([1, 3, 4]))
    keys = BlockKeys.of(EncodedTable(right), left)
    for rule in (block_on("d"), block_on("n"), block_on("d", "n")):
        got = rule.pairs({c: part.column(c) for c in rule.columns}, {c: keys.column(c) for c in rule.columns})
        want = rule.pairs({c: part.column(c) for c in rule.columns}, {c: right.column(c) for c in rule.columns})
        assert [a.tolist() for a in got] == [a.tolist() for a in want]
    assert [a.tolist() for a in block_on("d", "n").pairs({c: part.column(c) for c in "dn"}, {c: keys.column(c) for c in "dn"})] == [[0, 0, 2, 2], [0, 1, 0, 1]]


@pytest.mark.parametrize("encoded", [False, True], ids=["plain", "encoded-right"])
def test_missing_keys_never_block(encoded):
    left = {"a": ["X", None, "", "Y"], "b": ["1", "1", "1", None]}
    right = {"a": ["X", None, "", "Y"], "b": ["1", "1", "1", "1"]}
    right = EncodedTable(pa.table(right)) if encoded else right
    li, ri = block_on("a", "b").pairs(left, right)
    assert list(zip(li.tolist(), ri.tolist())) == [(0, 0)]
    everything = np.repeat(np.arange(4), 4), np.tile(np.arange(4), 4)
    assert np.flatnonzero(block_on("a", "b").agrees(left, right, *everything)).tolist() == [0]


def test_a_many_column_key_is_recoded_before_it_overflows():
    """Three columns of 2**21 values each would take the joint key past 2**62: it is re-coded
    compactly on the way, and two records get the same key exactly when every column agrees,
    -1 when any is missing."""
    n = 2**21
    rng = np.random.default_rng(5)
    codes = rng.integers(-1, 3, (3, 400)).astype(np.int32)
    codes[:, :3] = [[n - 1, n - 1, 0], [n - 2, n - 2, n - 2], [5, 5, 5]]    # high codes
    columns = [(c[:200], c[200:], range(n)) for c in codes]
    key_l, key_r = _joint_key(columns)
    key = np.concatenate([key_l, key_r])
    rows = [tuple(t) for t in codes.T.tolist()]
    assert ((key < 0) == (codes < 0).any(axis=0)).all()
    present = np.flatnonzero(key >= 0)
    for i in present[:60]:
        for j in present:
            assert (key[i] == key[j]) == (rows[i] == rows[j])


def test_count_is_the_number_of_pairs_without_making_them():
    left = {"state": ["TX"] * 200 + ["CA"] * 3 + [None], "zip5": ["1"] * 204}
    right = {"state": ["TX"] * 150 + ["CA"] * 7 + [None] * 5, "zip5": ["1"] * 162}
    for rule in (block_on("state"), block_on("state", "zip5"), block_on("zip5")):
        assert rule.count(left, right) == len(rule.pairs(left, right)[0])
    assert block_on("state").count(left, right) == 200 * 150 + 3 * 7


def test_union_of_rules_keeps_each_pair_once():
    a = (np.array([0, 0, 1]), np.array([1, 2, 0]))
    b = (np.array([0, 2]), np.array([1, 2]))
    li, ri = union_pairs(a, b)
    assert list(zip(li.tolist(), ri.tolist())) == [(0, 1), (0, 2), (1, 0), (2, 2)]


def test_block_on_needs_columns():
    with pytest.raises(ValueError, match=r"The 'columns' parameter of block_on must be one or more column names. Got \(\) instead."):
        block_on()
