"""Vectorized comparisons (sim.compare.comparisons) against a naive per-pair computation."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from rapidfuzz import distance

from sim.compare.comparisons import DISAGREE, MISSING, comparison_matrix, date, exact, jaro_winkler, levenshtein
from sim.compare.encode import EncodedColumn, shared_dictionary
from sim.world.generate import read_dataset


def naive(kind: str, a, b, thresholds) -> int:
    """The level of one pair, computed directly: what the vectorized code must reproduce."""
    if a is None or b is None or a == "" or b == "":
        return MISSING
    if a == b:
        return len(thresholds) + 1
    if kind == "exact":
        return DISAGREE
    if kind == "jaro_winkler":
        s = exact_similarity(distance.JaroWinkler.normalized_similarity(a, b))
        met = [t for t in sorted(thresholds) if s >= Fraction(str(t))]
        return sorted(thresholds).index(met[-1]) + 1 if met else DISAGREE
    d = distance.Levenshtein.distance(a, b)
    met = [t for t in sorted(thresholds, reverse=True) if d <= t]
    return sorted(thresholds, reverse=True).index(met[-1]) + 1 if met else DISAGREE


def exact_similarity(score: float) -> Fraction:
    """The ratio of small integers a float Jaro-Winkler similarity stands for: its denominator
    divides 30*len_a*len_b*matches (under 10**6 for names), so the nearest fraction with a
    denominator up to 10**7 is it, and it can be compared with a threshold exactly."""
    return Fraction(score).limit_denominator(10**7)


@pytest.fixture(scope="module")
def pairs(world_dir):
    """Realistic candidate pairs: each request against master-file rows of its ZIP."""
    requests = read_dataset(world_dir, "requests").to_pandas().head(400)
    master = read_dataset(world_dir, "master_file").to_pandas()
    master = master[master["zip5"].isin(set(requests["truth_zip"]))].head(3000)
    rng = np.random.default_rng(7)
    left_idx = rng.integers(0, len(requests), 20_000)
    right_idx = rng.integers(0, len(master), 20_000)
    # plenty of repeated pairs, to exercise the each-distinct-pair-once path
    left_idx[::3], right_idx[::3] = left_idx[0], right_idx[0]
    # and some pairs with the same value on both sides: the right column is the master file's
    # names followed by the requests' own
    right_idx[1::5] = len(master) + left_idx[1::5]
    return requests, master, left_idx, right_idx


@pytest.mark.parametrize("make, kind, thresholds", [
    (lambda: jaro_winkler("x", (0.92, 0.8)), "jaro_winkler", (0.92, 0.8)),
    (lambda: levenshtein("x", (1, 2)), "levenshtein", (1, 2)),
    (lambda: exact("x"), "exact", ()),
])
@pytest.mark.parametrize("encoded", [False, True], ids=["plain", "encoded-right"])
def test_levels_equal_the_per_pair_computation_on_world_pairs(pairs, make, kind, thresholds, encoded):
    requests, master, li, ri = pairs
    left = requests["last_name"].tolist()
    right = master["last_name"].astype(str).tolist() + left
    # the right side as a block's master file is matched: encoded once, the left mapped into it
    got = make().levels(left, EncodedColumn(right) if encoded else right, li, ri)
    want = np.array([naive(kind, left[i], right[j], thresholds) for i, j in zip(li, ri)])
    assert got.dtype == np.int8
    assert (got == want).all()
    assert len(set(got.tolist())) >= 2  # the pairs exercise more than one level


def test_a_similarity_equal_to_a_threshold_meets_it():
    # float arithmetic puts some similarities that equal a threshold just below it
    assert distance.JaroWinkler.normalized_similarity("AMANDA", "ARIANA") < 0.8
    assert exact_similarity(distance.JaroWinkler.normalized_similarity("AMANDA", "ARIANA")) == Fraction(4, 5)
    c = jaro_winkler("x", (0.92, 0.8))
    got = c.levels(["AMANDA", "JULIA", "MIGUEL", "ANGELA"], ["ARIANA", "JULIO", "MIKE", "DIANA"], np.arange(4), np.arange(4))
    assert got.tolist() == [1, 2, 1, 0]    # 0.8, 0.92, 0.8 exactly; 0.7


ALPHABET = list("AAEENRST -") + ["É", "Ñ", "E\u0301"]   # a small alphabet: many near misses


@pytest.mark.parametrize("make", [
    lambda: jaro_winkler("x", (0.92, 0.8)),
    lambda: jaro_winkler("x", (0.97, 0.9, 0.85, 0.7)),
    lambda: jaro_winkler("x", (0.6,)),
    lambda: levenshtein("x", (1, 2)),
    lambda: levenshtein("x", (1,)),
    lambda: levenshtein("x", (2, 4, 6)),
])
def test_pairs_skipped_without_scoring_are_those_that_cannot_agree(make):
    """Every pair of a few hundred short random strings (ASCII and not, some repeated letters,
    lengths 1-12), all against all: the levels with the pruning bounds are the per-pair ones."""
    rng = np.random.default_rng(11)
    words = ["".join(rng.choice(ALPHABET, rng.integers(1, 13))) for _ in range(150)]
    words += [w[:-1] + "X" for w in words[:40]] + [w[1:] for w in words[40:80]] + [w[::-1] for w in words[80:100]]
    li, ri = (a.ravel() for a in np.meshgrid(np.arange(len(words)), np.arange(len(words)), indexing="ij"))
    c = make()
    got = c.levels(words, words, li, ri)
    want = np.array([naive(c.kind, words[i], words[j], c.thresholds) for i, j in zip(li, ri)])
    assert (got == want).all(), [(words[i], words[j], got[k], want[k]) for k, (i, j) in enumerate(zip(li, ri)) if got[k] != want[k]][:5]
    assert set(range(c.n_levels + 1)) <= set(want.tolist())   # pairs at every level, 0 to exact


def test_missing_values_are_their_own_level():
    c = jaro_winkler("x")
    assert c.levels(["A", None, "", "GARCIA"], ["A", "B", "C", None], np.arange(4), np.arange(4)).tolist() == [3, -1, -1, -1]


def test_date_levels():
    left = pa.array(np.array(["1985-03-07", "1985-03-07", "1985-03-07", "1985-03-07", None], dtype="datetime64[D]"))
    right = pa.array(np.array(["1985-03-07", "1985-03-08", "1985-04-07", "1984-03-07", "1985-03-07"], dtype="datetime64[D]"))
    c = date("date_of_birth", (1, 31, 366))
    assert c.levels(left, right, np.arange(5), np.arange(5)).tolist() == [4, 3, 2, 1, -1]
    assert c.level_labels() == ["missing", "different", "within 366 days", "within 31 days", "within 1 days", "exact"]


def test_comparison_matrix_has_one_column_per_comparison():
    left = {"first_name": ["MARIA", "JOSE"], "zip5": ["30301", "30302"]}
    right = {"first_name": ["MARIA", "JOSUE"], "zip5": ["30301", "30301"]}
    m = comparison_matrix([jaro_winkler("first_name"), exact("zip5")], left, right, np.array([0, 1]), np.array([0, 1]))
    assert m.shape == (2, 2) and m.dtype == np.int8
    assert m.tolist() == [[3, 1], [2, 0]]   # JOSE/JOSUE: Jaro-Winkler 0.953 >= 0.92


@pytest.mark.parametrize("call, message", [
    (lambda: jaro_winkler("x", (0.8, 0.92)), "The 'thresholds' parameter of jaro_winkler must be a non-empty, strictly descending tuple of similarities in (0, 1). Got (0.8, 0.92) instead."),
    (lambda: levenshtein("x", (0, 2)), "The 'thresholds' parameter of levenshtein must be a non-empty, strictly ascending tuple of whole numbers >= 1. Got (0, 2) instead."),
    (lambda: date("x", ()), "The 'thresholds' parameter of date must be a non-empty, strictly ascending tuple of whole numbers of days >= 1. Got () instead."),
])
def test_bad_thresholds_say_what_was_expected_and_what_was_given(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message


def test_pair_arrays_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="pair index arrays differ in length: 2 and 1"):
        exact("x").levels(["A", "B"], ["A"], np.array([0, 1]), np.array([0]))


@pytest.mark.parametrize("left, right", [
    (["GARCIA", None, "", "RUIZ", "GARCIA", "LOPEZ"], ["LOPEZ", "", None, "GARCIA", "PEREZ", "LOPEZ"]),
    ([None, ""], ["A", ""]),
    (["A", "B"], [None, ""]),
    ([], ["A"]),
    (["A"], []),
    (pa.array([3, None, 7, 3], pa.int64()), pa.array([7, 8, None, 3], pa.int64())),
    (pa.array([3, None, 7], pa.int64()), ["7", "", "3", None]),        # types differ: as text
    (pa.array([0, 19000, None], pa.date32()), pa.array([19000, 1, 0], pa.date32())),
    (pa.array(["1972-01-08", ""]), pa.array([739, 0, None], pa.date32())),
])
def test_an_encoded_column_codes_values_as_the_shared_dictionary_does(left, right):
    """EncodedColumn(right).against(left) is shared_dictionary(left, right) up to the numbering:
    equal codes exactly for equal values, -1 exactly for missing ones (null or empty), and the
    dictionary holds each code's value as text."""
    want_l, want_r, want_values = shared_dictionary(left, right)
    got_l, got_r, got_values = EncodedColumn(right).against(left)
    assert got_l.dtype == got_r.dtype == np.int32
    text = lambda codes, values: [values[c].as_py() if c >= 0 else None for c in codes]  # noqa: E731
    assert text(got_l, got_values) == text(want_l, want_values)
    assert text(got_r, got_values) == text(want_r, want_values)
    assert len(set(got_values.to_pylist())) == len(got_values), "each value once"


def test_an_encoded_column_is_reused_for_many_left_columns():
    """One encoding of the right side serves any number of left sides, each getting only its own
    values appended to the right's dictionary."""
    right = EncodedColumn(["LOPEZ", "GARCIA", "LOPEZ"])
    for left, extra in ((["RUIZ", "LOPEZ"], ["RUIZ"]), (["GARCIA"], []), (["ZUNIGA", "ABAD"], ["ZUNIGA", "ABAD"])):
        codes_l, codes_r, values = right.against(left)
        assert codes_r.tolist() == [0, 1, 0]
        assert values.to_pylist() == ["LOPEZ", "GARCIA", *extra]
        assert [values[c].as_py() for c in codes_l] == left


def _dictionary(indices, values) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), pa.array(values, pa.string()))


@pytest.mark.parametrize("column", [
    _dictionary([3, 0, None, 1, 0, 3, 5], ["B", "A", "C", "D", "E", "F"]),      # unused values, a null row
    _dictionary([1, 2, 0, 1], ["", "GARCIA", None]),                          # empty and null in the dictionary
    _dictionary([None, None], []),                                             # no values at all
    _dictionary([], ["A"]),
])
def test_a_dictionary_column_is_encoded_from_its_codes_as_its_values_would_be(column):
    """A generated master file's dictionary column is encoded from its own codes, without
    hashing its rows: the codes and dictionary are those of encoding its decoded values (order
    of first appearance), a missing value (null row, null or empty dictionary value) -1, and
    left columns look values up in it alike."""
    from sim.compare.encode import left_dictionary

    plain = pc.if_else(pc.equal(column.cast(pa.string()), ""), pa.scalar(None, pa.string()), column.cast(pa.string()))
    fast, slow = EncodedColumn(column), EncodedColumn(plain)
    assert fast.codes.tolist() == slow.codes.tolist()
    assert fast.dictionary.to_pylist() == slow.dictionary.to_pylist()
    assert fast.array.to_pylist() == column.cast(pa.string()).to_pylist()
    left = ["A", "", None, "GARCIA", "Z"]
    assert [c.tolist() for c in fast.against(left)[:2]] == [c.tolist() for c in slow.against(left)[:2]]
    assert [c.tolist() for c in left_dictionary(left, column)[:2]] == [c.tolist() for c in left_dictionary(left, plain)[:2]]
    # the comparisons' shared dictionary of a dictionary column (cut to the pairs' rows) reads
    # its codes, not its hashed values: the same values, numbered in another order
    text = lambda codes, values: [values[c].as_py() if c >= 0 else None for c in codes]  # noqa: E731
    got_l, got_r, got_values = shared_dictionary(left, column)
    want_l, want_r, want_values = shared_dictionary(left, plain)
    assert text(got_l, got_values) == text(want_l, want_values) and text(got_r, got_values) == text(want_r, want_values)


def test_a_dictionary_with_one_value_twice_is_hashed_after_all():
    """Two codes for one value cannot keep their codes (equal values must get equal codes): such
    a column is encoded from its values."""
    column = _dictionary([0, 1, 2, 1], ["LEE", "KIM", "LEE"])
    encoded = EncodedColumn(column)
    assert encoded.codes.tolist() == [0, 1, 0, 1] and encoded.dictionary.to_pylist() == ["LEE", "KIM"]


@pytest.mark.parametrize("values", [
    ["123456789", "045000001", "123456789", None, "999999999", "045000001"],   # TINs, one repeated, a null
    ["0012", "12", "0012"],                                                    # widths differ: hashed as text
    ["12", "1A", "12"],                                                        # not only digits: hashed as text
    [None, None],
])
def test_a_column_of_numbers_is_encoded_as_its_text_would_be(values):
    """A master file's TINs are encoded from their numbers (they hash faster than their text);
    the codes and dictionary are exactly those of encoding the text."""
    column = pa.array(values, pa.string())
    encoded = EncodedColumn(column)
    want = pc.dictionary_encode(column)
    assert encoded.codes.tolist() == pc.fill_null(want.indices, -1).to_pylist()
    assert encoded.dictionary.to_pylist() == want.dictionary.to_pylist()


def test_integers_are_factorized_as_pandas_numbers_them():
    """kernels.factorize_integers, the hash table the TINs are encoded with: pandas' codes in
    order of first appearance, and each code's first row, over random keys, a regular run of
    keys (multiples of 2**20), repeats, negatives and the extremes of int64; and over keys that
    share one slot, where every key probes past the others (a table of 16 slots, 8 keys)."""
    import pandas as pd

    from sim.compare.kernels import factorize_integers

    rng = np.random.default_rng(3)
    keys = np.concatenate([rng.integers(0, 10**9, 50_000), np.arange(0, 2**40, 2**20)[:5_000],
                           [-1, -(2**63), 2**63 - 1, 0, 0]])
    keys = np.concatenate([keys, rng.choice(keys, 20_000)])
    rng.shuffle(keys)
    codes, first = factorize_integers(keys)
    want, uniques = pd.factorize(keys, sort=False)
    assert codes.tolist() == want.tolist()
    assert np.array_equal(keys[first], uniques)
    assert np.array_equal(first, np.unique(want, return_index=True)[1])
    assert factorize_integers(np.zeros(0, np.int64))[0].size == 0
    # 8 keys get a table of 16 slots, the slot being the top 4 bits of the key times the
    # Fibonacci constant (mod 2**64): keys that all hash to one slot, each probing past the
    # ones before it, and repeats of them found past the others
    slot = lambda k: (k * 0x9E3779B97F4A7C15 % 2**64) >> 60  # noqa: E731
    same = [k for k in range(10_000) if slot(k) == slot(7)][:8]
    assert len(same) == 8
    codes, first = factorize_integers(np.array(same, np.int64))
    assert codes.tolist() == list(range(8)) and first.tolist() == list(range(8))
    codes, first = factorize_integers(np.array(same[:4] + same[:4][::-1], np.int64))
    assert codes.tolist() == [0, 1, 2, 3, 3, 2, 1, 0] and first.tolist() == [0, 1, 2, 3]


def test_a_column_of_nine_digit_numbers_with_nulls_is_encoded_as_its_text(monkeypatch):
    """The same over a column the size of a block's TINs, with nulls and repeats, numbered from
    the numbers (kernels.factorize_integers), not by hashing the text."""
    from sim.compare import kernels

    numbered = []
    real = kernels.factorize_integers
    monkeypatch.setattr(kernels, "factorize_integers", lambda keys: numbered.append(len(keys)) or real(keys))
    rng = np.random.default_rng(5)
    numbers = rng.integers(0, 10**9, 30_000)
    numbers[rng.integers(0, len(numbers), 3_000)] = numbers[:3_000]
    text = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), 9, "0")
    column = pc.if_else(pa.array(rng.random(len(numbers)) < 0.05), pa.scalar(None, pa.string()), text)
    encoded = EncodedColumn(column)
    assert numbered == [len(column) - column.null_count]
    want = pc.dictionary_encode(column)
    assert encoded.codes.tolist() == pc.fill_null(want.indices, -1).to_pylist()
    assert encoded.dictionary.equals(want.dictionary)


def test_the_compiled_date_parts_are_numpys_calendar():
    """Date-part comparisons read each date's year, month and day from one compiled pass
    (kernels.small_parts); numpy's calendar (comparisons.civil_parts) is the reference, over
    every day from 1065 to 2065 (leap years, centuries, 2000, days before 1970) and a missing
    date (1970-01-01)."""
    from sim.compare.comparisons import _NO_DATE, _small_parts, civil_parts

    days = np.concatenate([np.arange(-330_000, 35_000), [_NO_DATE]]).astype(np.int64)
    got = _small_parts(days)
    want = civil_parts(np.where(days == _NO_DATE, 0, days))
    assert [g.dtype for g in got] == [np.int16, np.int8, np.int8]
    for g, w in zip(got, want):
        assert np.array_equal(g.astype(np.int64), w)
    assert [int(p[-1]) for p in got] == [1970, 1, 1]
