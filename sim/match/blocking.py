"""Blocking: the candidate pairs a matcher compares, as two integer index arrays.

``block_on("name_control", "zip5")`` pairs every left record with every right record that has
the same values in all the named columns, as the IRS's entity checks pair a request with the
master-file entries sharing its name control, the first six characters of its street and its
ZIP. A missing (null or empty) key never blocks: a record without a ZIP is in no ZIP block.

Vectorized: the key columns of both sides are dictionary-encoded together into one integer key;
the right side is sorted once; each left record's run of equal keys is found by binary search
and the runs are expanded with ``np.repeat``. No Python runs per record or per pair.

>>> left = {"zip5": ["30301", "30302", None]}
>>> right = {"zip5": ["30301", "30301", "30302"]}
>>> [a.tolist() for a in block_on("zip5").pairs(left, right)]
[[0, 0, 1], [0, 1, 2]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.compare.encode import EncodedColumn, EncodedTable, as_array, as_strings, left_dictionary, positions

@dataclass(frozen=True)
class BlockingRule:
    """Records agree on every column of ``columns``. Use :func:`block_on`."""

    columns: tuple[str, ...]

    @property
    def description(self) -> str:
        return "same " + " and ".join(self.columns)

    def agrees(self, left: dict, right: dict, left_idx: np.ndarray, right_idx: np.ndarray) -> np.ndarray:
        """Whether each pair ``(left_idx[i], right_idx[i])`` is one this rule would make: equal
        and present in every column. For a rule that refines another (more columns), its pairs
        are found among the other's without blocking again."""
        out = np.ones(len(left_idx), bool)
        for column in self.columns:
            codes_l, codes_r, _ = _lookup_codes(left[column], right[column])
            a = codes_l[left_idx]
            out &= (a >= 0) & (a == codes_r[right_idx])
        return out

    def count(self, left: dict, right: dict) -> int:
        """How many pairs :meth:`pairs` would make, without making them."""
        return self.runs(left, right).total

    def pairs(self, left: dict, right: dict) -> tuple[np.ndarray, np.ndarray]:
        """(left_idx, right_idx) of every pair agreeing on the columns, left-major order."""
        return self.runs(left, right).pairs()

    def runs(self, left: dict, right: dict) -> Runs:
        """Where each left record's run of equal right keys lies: the work of blocking but the
        last step, so the pairs are counted before they are made, and made from the same runs
        (:func:`sim.match.policy.check_pairs`)."""
        # each column's values as codes that are equal exactly when the values are, -1 where a
        # value is missing or no left record has it: such a right record pairs with nothing
        coded = [_lookup_codes(left[c], right[c]) for c in self.columns]
        keep = np.ones(len(coded[0][1]), bool)
        for _, codes_r, _ in coded:
            keep &= codes_r >= 0
        kept = np.flatnonzero(keep)
        # only those get the joint key; of them, only the rows whose joint key some left record
        # has are sorted (each column's value can be a left record's while the combination is
        # none's: of a national block's million master-file rows, about 430,000 have a name
        # control and a ZIP that requests have, 60,000 a pair of them that one request has)
        key_l, key_r = _joint_key([(codes_l, codes_r[kept], values) for codes_l, codes_r, values in coded])
        left_keys = np.unique(key_l[key_l >= 0])
        # each row's key's rank among the left's keys, -1 where none has it (a hash look-up:
        # a binary search per row is four times slower); sorting by rank sorts by key, and numpy
        # sorts 16-bit integers stably by radix, in linear time
        rank = positions(key_r, pa.array(left_keys))
        paired = np.flatnonzero(rank >= 0)
        rank = rank[paired].astype(np.int16 if len(left_keys) <= np.iinfo(np.int16).max else np.int64)
        order = paired[np.argsort(rank, kind="stable")]
        sorted_r = key_r[order]
        lo = np.searchsorted(sorted_r, key_l, side="left")
        hi = np.searchsorted(sorted_r, key_l, side="right")
        return Runs(kept[order], lo, np.where(key_l >= 0, hi - lo, 0))


@dataclass(frozen=True)
class Runs:
    """A rule's blocking of two sides before its pairs are made: ``order`` sorts the right side
    by the joint key, and left record ``i`` pairs with the ``counts[i]`` right records from
    position ``lo[i]`` of that order."""

    order: np.ndarray
    lo: np.ndarray
    counts: np.ndarray

    @property
    def total(self) -> int:
        """How many pairs :meth:`pairs` makes."""
        return int(self.counts.sum())

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(left_idx, right_idx) of every pair, left-major order."""
        counts = self.counts
        left_idx = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        start = np.repeat(self.lo - (np.cumsum(counts) - counts), counts)
        right_idx = self.order[start + np.arange(self.total, dtype=np.int64)]
        return left_idx, right_idx


def block_on(*columns: str) -> BlockingRule:
    """A blocking rule on one or more columns (all must agree)."""
    if not columns or not all(isinstance(c, str) and c for c in columns):
        raise ValueError(f"The 'columns' parameter of block_on must be one or more column names. Got {columns!r} instead.")
    return BlockingRule(tuple(columns))


def union_pairs(*pair_sets: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pairs produced by any of several rules, each once, sorted (left, right)."""
    left = np.concatenate([p[0] for p in pair_sets]) if pair_sets else np.zeros(0, np.int64)
    right = np.concatenate([p[1] for p in pair_sets]) if pair_sets else np.zeros(0, np.int64)
    if len(left) == 0:
        return left, right
    span = int(right.max()) + 1
    # sort and drop repeats: numpy 2.4's np.unique hashes first, ten times slower on millions.
    # Each rule's pairs come sorted (Runs.pairs), so the keys are a few sorted runs, which the
    # stable sort (timsort) merges: 14x faster than the default sort on 1.7M keys
    keys = np.sort(left * span + right, kind="stable")
    first = np.empty(len(keys), bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    unique = keys[first]
    return unique // span, unique % span


def _lookup_codes(left, right) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """(codes of left, of right, values) for telling equal values apart, -1 where missing or
    where the left side lacks a right value: from a block's :class:`EncodedColumn` as it is
    encoded (each left value looked up in its dictionary), else by looking the right side's
    values up in the left's (:func:`~sim.compare.encode.left_dictionary`); from a
    :class:`BlockKeys` column, as it was looked up for the whole of ``left``."""
    if isinstance(right, _LookedUp):
        return right.codes(left)
    if isinstance(right, EncodedColumn):
        codes_l, codes_r, values = right.against(left)
        in_left = np.zeros(len(values) + 1, bool)      # the last slot: code -1, missing
        in_left[codes_l[codes_l >= 0]] = True
        return codes_l, np.where(in_left[codes_r], codes_r, np.int32(-1)), values
    return left_dictionary(left, right)


class _LookedUp:
    """A right column's values looked up in a left column's, once (:func:`_lookup_codes`): a
    part of that left column (one path's requests) then gets its codes by looking up only its
    own values, and the right side's codes are the same. A right value that the part lacks but
    the whole has keeps its code; no left record of the part has it, so it pairs with none."""

    def __init__(self, left, right):
        _, self.codes_r, self.values = _lookup_codes(left, right)
        self._text = pa.types.is_string(self.values.type)
        self._empty = pc.index(self.values, "").as_py() if self._text else -1

    def codes(self, part) -> tuple[np.ndarray, np.ndarray, pa.Array]:
        """:func:`_lookup_codes` of ``part`` (the left column or rows of it) and the right column."""
        a = as_strings(part) if self._text else as_array(part)
        codes = positions(a, self.values)
        if self._empty >= 0:
            codes[codes == self._empty] = -1
        return codes, self.codes_r, self.values


class BlockKeys:
    """A right table as blocking reads it for the parts of one left table: each column's values
    looked up in the whole left column's once (:class:`_LookedUp`), however many rules, paths and
    policies block a part of it on that column. Without it, each rule of each path of each
    policy looked a block's million master-file values up again (36 of the 61 s a national
    five-policy run spent blocking). :meth:`of` keeps them with a block's
    :class:`~sim.compare.encode.EncodedTable`."""

    def __init__(self, right, left: pa.Table):
        self.right, self.left = right, left
        self._columns: dict[str, _LookedUp] = {}

    @classmethod
    def of(cls, right: EncodedTable, left: pa.Table) -> "BlockKeys":
        """The keys of ``right`` for ``left``, kept with ``right`` while ``left`` is the same table."""
        keys = right.kept.get("blocking keys")
        if not isinstance(keys, cls) or keys.left is not left:
            keys = right.kept["blocking keys"] = cls(right, left)
        return keys

    def column(self, name: str) -> _LookedUp:
        if name not in self._columns:
            self._columns[name] = _LookedUp(self.left.column(name), self.right.column(name))
        return self._columns[name]

    @property
    def num_rows(self) -> int:
        return self.right.num_rows

    @property
    def column_names(self) -> list[str]:
        return self.right.column_names


def _joint_key(columns) -> tuple[np.ndarray, np.ndarray]:
    """One int64 key per record from each column's ``(codes of left, codes of right, values)``
    (:func:`_lookup_codes`'s: the codes index the values), shared by both sides; -1 where any key
    value is missing. Equal keys are equal values in every column; their numbering is not
    meaningful (the pairs do not depend on it)."""
    n_l = None
    key = None
    for codes_l, codes_r, values in columns:
        n_values = len(values)
        n_l = len(codes_l)
        codes = np.concatenate([codes_l, codes_r]).astype(np.int64)
        if key is None:
            key, n_key = codes, n_values
        else:
            missing = (key < 0) | (codes < 0)
            if n_key * (n_values + 1) >= 2**62:      # re-code compactly, so many columns never overflow
                _, key = np.unique(np.where(key < 0, -1, key), return_inverse=True)
                n_key = int(key.max()) + 1
            key = np.where(missing, -1, key * (n_values + 1) + codes)
            n_key = n_key * (n_values + 1)
    if key is None:
        raise ValueError("a blocking rule needs at least one column")
    return key[:n_l], key[n_l:]
