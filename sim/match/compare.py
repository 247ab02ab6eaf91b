"""Vectorized comparisons: each turns candidate pairs into ordered agreement levels.

A comparison is built by a named constructor (:func:`exact`, :func:`jaro_winkler`,
:func:`levenshtein`, :func:`date`), as Splink builds them, and yields one small integer per pair
(its *gamma*): ``-1`` when either value is missing, ``0`` when the values do not agree at any
threshold, and ``1..k`` for increasingly close agreement, ``k`` being an exact match. Each
comparison also has a description of its levels for reports.

Candidate pairs are two integer index arrays (``left[i]`` is compared with ``right[j]``), as
recordlinkage represents them. The work is columnar and no Python runs per pair:

1. both columns are dictionary-encoded together, so a pair is two integer codes and "missing"
   and "exact" are integer comparisons;
2. a pair whose values provably cannot reach the loosest threshold is graded ``0`` without being
   scored, from per-value summaries computed once on the dictionary (length in characters, the
   set of characters present as a 64-bit mask, the first four characters): a Levenshtein
   distance is at least the difference in length and at least the number of characters one
   side has that the other lacks; a Jaro-Winkler similarity is at most what the most matching
   characters those same facts allow, with the common prefix, would give. Most pairs of a ZIP
   block are strangers and stop here;
3. each *distinct* pair of values left is scored once (rapidfuzz's ``cpdist``, in C, one
   thread) and the scores are mapped back to the pairs.

Scores are graded exactly at the thresholds. Jaro-Winkler similarities are ratios of small
integers, and floating point lands some of those that equal a threshold a hair below it
(AMANDA/ARIANA scores 0.7999999999999999, not 0.8); a score within :data:`SCORE_TOLERANCE` of a
threshold is taken as meeting it. No two different similarities of strings under ~600
characters are that close, so the tolerance changes nothing else.

>>> import numpy as np
>>> left, right = ["MARTHA", "GARCIA", None], ["MARHTA", "GARZA", "LOPEZ"]
>>> jaro_winkler("first_name", (0.9, 0.8)).levels(left, right, np.arange(3), np.arange(3)).tolist()
[2, 1, -1]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.match.encode import shared_dictionary

ComparisonKind = Literal["exact", "jaro_winkler", "levenshtein", "date"]
MISSING, DISAGREE = -1, 0
_CHUNK = 1 << 16     # pairs compared at a time: ~0.5 MB per temporary array, within L2 cache
#: A similarity this close below a threshold meets it: float rounding, not a real difference.
#: The Jaro-Winkler similarity of strings of lengths a, b with m matching characters is a ratio
#: with denominator dividing 30*a*b*m, so two different values (or a value and a two-decimal
#: threshold) differ by more than 1e-12 while the strings are under ~600 characters.
SCORE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Comparison:
    """One comparison of a column between two records. Use the named constructors."""

    column: str
    kind: ComparisonKind
    thresholds: tuple[float, ...]     # closest last: similarity floors, or distance ceilings
    description: str

    @property
    def n_levels(self) -> int:
        """Agreement levels above ``DISAGREE``: one per threshold plus the exact match."""
        return len(self.thresholds) + 1

    def level_labels(self) -> list[str]:
        """Human-readable label of each gamma value, from -1 (missing) to the exact match."""
        labels = ["missing", "different"]
        if self.kind in ("jaro_winkler",):
            labels += [f"Jaro-Winkler >= {t:g}" for t in self.thresholds]
        elif self.kind in ("levenshtein", "date"):
            unit = " days" if self.kind == "date" else ""
            labels += [f"within {t:g}{unit}" for t in self.thresholds]
        return labels + ["exact"]

    def levels(self, left, right, left_idx: np.ndarray, right_idx: np.ndarray) -> np.ndarray:
        """Gamma (int8) of each candidate pair ``(left[left_idx[i]], right[right_idx[i]])``."""
        left_idx, right_idx = _pair_arrays(left_idx, right_idx)
        if self.kind == "date":
            return _date_levels(left, right, left_idx, right_idx, self.thresholds)
        return self._levels_of_codes(_Encoded(left, right), left_idx, right_idx)

    def _levels_of_codes(self, enc: "_Encoded", left_idx: np.ndarray, right_idx: np.ndarray) -> np.ndarray:
        out = np.empty(len(left_idx), dtype=np.int8)
        found = []       # (pair, code left, code right) of the pairs to score, chunk by chunk
        # In chunks of pairs: the temporaries stay in the CPU cache and their memory is reused;
        # whole-array temporaries of a million pairs cost more in page faults than in arithmetic.
        for start in range(0, len(left_idx), _CHUNK):
            a, b = enc.codes_l[left_idx[start: start + _CHUNK]], enc.codes_r[right_idx[start: start + _CHUNK]]
            chunk = out[start: start + _CHUNK]
            chunk.fill(DISAGREE)
            chunk[a == b] = self.n_levels
            chunk[(a < 0) | (b < 0)] = MISSING       # after "same": two missing values are equal codes
            if self.kind == "exact":
                continue
            rest = np.flatnonzero(chunk == DISAGREE)
            a, b = a[rest], b[rest]
            maybe = _may_agree(self.kind, self.thresholds, enc.summary(), a, b)
            found.append((rest[maybe] + start, a[maybe], b[maybe]))
        if not found or not sum(len(f[0]) for f in found):
            return out
        rest, a, b = (np.concatenate(parts) for parts in zip(*found))
        # each distinct pair of values is scored once
        n = np.int64(len(enc.dictionary))
        unique_keys, inverse = _distinct(a.astype(np.int64) * n + b)
        ua, ub = np.divmod(unique_keys, n)
        values = enc.dictionary
        scores = _SCORERS[self.kind](values.take(ua).to_pylist(), values.take(ub).to_pylist(), self.thresholds)
        out[rest] = _grade(scores, self.thresholds, higher_is_closer=self.kind == "jaro_winkler")[inverse]
        return out


def exact(column: str) -> Comparison:
    """Equal or not (after whatever normalization produced the column)."""
    return Comparison(column, "exact", (), f"{column}: exact match")


def jaro_winkler(column: str, thresholds: tuple[float, ...] = (0.92, 0.8)) -> Comparison:
    """Jaro-Winkler similarity at descending floors, e.g. (0.92, 0.8): three agreement levels."""
    t = _checked(thresholds, "jaro_winkler", lambda x: 0 < x < 1, "similarities in (0, 1)", descending=True)
    return Comparison(column, "jaro_winkler", t[::-1], f"{column}: Jaro-Winkler at {', '.join(f'{x:g}' for x in t)}")


def levenshtein(column: str, thresholds: tuple[int, ...] = (1, 2)) -> Comparison:
    """Levenshtein edit distance within ascending ceilings, e.g. (1, 2)."""
    t = _checked(thresholds, "levenshtein", lambda x: x >= 1 and float(x).is_integer(), "whole numbers >= 1", descending=False)
    return Comparison(column, "levenshtein", t[::-1], f"{column}: Levenshtein within {', '.join(f'{x:g}' for x in t)}")


def date(column: str, thresholds: tuple[int, ...] = (1, 31, 366)) -> Comparison:
    """Dates within ascending numbers of days, e.g. (1, 31, 366): a day's typo, a month, a year."""
    t = _checked(thresholds, "date", lambda x: x >= 1 and float(x).is_integer(), "whole numbers of days >= 1", descending=False)
    return Comparison(column, "date", t[::-1], f"{column}: dates within {', '.join(f'{x:g}' for x in t)} days")


def comparison_matrix(comparisons: list[Comparison], left: dict, right: dict, left_idx, right_idx) -> np.ndarray:
    """The (n_pairs, n_comparisons) int8 matrix of levels: the input of every policy. A column
    compared several ways is encoded once."""
    left_idx, right_idx = _pair_arrays(left_idx, right_idx)
    out = np.empty((len(left_idx), len(comparisons)), np.int8)
    encoded: dict[str, _Encoded] = {}
    for i, c in enumerate(comparisons):
        if c.kind == "date":
            out[:, i] = _date_levels(left[c.column], right[c.column], left_idx, right_idx, c.thresholds)
        else:
            if c.column not in encoded:
                encoded[c.column] = _Encoded(left[c.column], right[c.column])
            out[:, i] = c._levels_of_codes(encoded[c.column], left_idx, right_idx)
    return out


# ---------------------------------------------------------------------------------------------


def _checked(thresholds, name: str, ok: Callable[[float], bool], allowed: str, *, descending: bool) -> tuple:
    t = tuple(thresholds)
    ordered = all(x > y for x, y in zip(t, t[1:])) if descending else all(x < y for x, y in zip(t, t[1:]))
    if not t or not all(ok(x) for x in t) or not ordered:
        order = "descending" if descending else "ascending"
        raise ValueError(f"The 'thresholds' parameter of {name} must be a non-empty, strictly {order} tuple of {allowed}. Got {t!r} instead.")
    return t


def _pair_arrays(left_idx, right_idx) -> tuple[np.ndarray, np.ndarray]:
    left_idx, right_idx = np.asarray(left_idx, np.int64), np.asarray(right_idx, np.int64)
    if len(left_idx) != len(right_idx):
        raise ValueError(f"pair index arrays differ in length: {len(left_idx)} and {len(right_idx)}")
    return left_idx, right_idx


class _Encoded:
    """Two string columns in one dictionary, and (on first use) the per-value summaries."""

    def __init__(self, left, right):
        self.codes_l, self.codes_r, self.dictionary = shared_dictionary(left, right)
        self._summary = None

    def summary(self) -> "_Summary":
        if self._summary is None:
            self._summary = _Summary(self.dictionary)
        return self._summary


class _Summary:
    """Per dictionary value, what the pruning bounds need: its length in characters, the set of
    its bytes as a 64-bit mask (byte value mod 64: A-Z, 0-9 and space each get a bit of their
    own), how many distinct bits that is, and its first four bytes packed into an integer
    (first byte highest). A value that is not ASCII gets a full mask and a distinct count of 0,
    which makes every byte bound below vacuous for its pairs. All from the Arrow buffers in a
    few numpy passes, however many values there are."""

    def __init__(self, dictionary: pa.StringArray):
        n = len(dictionary)
        offsets = np.frombuffer(dictionary.buffers()[1], np.int32, n + 1, dictionary.offset * 4).astype(np.int64)
        data = dictionary.buffers()[2]
        data = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
        data = data[offsets[0]: offsets[-1]]
        starts, n_bytes = offsets[:-1] - offsets[0], np.diff(offsets)
        mask, top = np.zeros(n, np.uint64), np.zeros(n, np.uint8)
        step = _CHUNK // 16                                # values at a time: ~1 MB of temporaries
        for first in range(0, n, step):
            last = min(first + step, n)
            lo, hi = starts[first], starts[last - 1] + n_bytes[last - 1]
            at = starts[first:last] - lo
            chunk = np.append(data[lo:hi], np.uint8(0))    # reduceat needs every start inside
            mask[first:last] = np.bitwise_or.reduceat(np.left_shift(np.uint64(1), chunk & 63, dtype=np.uint64), at)
            top[first:last] = np.maximum.reduceat(chunk, at)
        empty = n_bytes == 0
        mask[empty] = 0
        ascii = (top < 128) | empty
        self.length = n_bytes.astype(np.int32)
        if not ascii.all():
            self.length = pc.utf8_length(dictionary).to_numpy(zero_copy_only=False).astype(np.int32)
        with np.errstate(divide="ignore"):
            self.inverse_length = 1.0 / self.length
        self.mask = np.where(ascii, mask, ~np.uint64(0))
        self.distinct = np.where(ascii, np.bitwise_count(mask), 0).astype(np.int16)
        self.repeats = (self.length - self.distinct).astype(np.int16)    # characters beyond the first of each
        self.prefix = np.zeros(n, np.uint32)
        for j in range(4 if len(data) else 0):
            byte = data[np.minimum(starts + j, len(data) - 1)]
            self.prefix |= np.where(n_bytes > j, byte, 0).astype(np.uint32) << np.uint32(8 * (3 - j))


def _may_agree(kind: str, thresholds: tuple[float, ...], s: _Summary, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """False for pairs of distinct values (codes ``a``, ``b``) that provably cannot reach the
    loosest threshold; True where they might. Cheap bounds first, each on the pairs left.

    A byte value one side has and the other lacks stands for at least one character of that side
    that no alignment or Jaro match can use. With ``shared`` byte values in common, side ``a``
    has ``distinct_a - shared`` such characters, so a Levenshtein distance is at least
    ``max(distinct_a, distinct_b) - shared`` (and at least the difference in length), and at
    most ``shared + min(repeats_a, repeats_b)`` characters can match for Jaro: Jaro-Winkler is
    then at most ``J = (m/len_a + m/len_b + 1) / 3`` raised by Winkler's boost for the common
    prefix (taken whatever J is; rapidfuzz and jellyfish boost only above 0.7).
    """
    loosest = thresholds[0]
    keep = np.zeros(len(a), bool)
    # numpy turns other index arrays into intp on every gather: once here, not six times
    a, b = a.astype(np.intp), b.astype(np.intp)
    if kind == "levenshtein":
        rows = np.flatnonzero(np.abs(s.length[a] - s.length[b]) <= loosest)
        a, b = a[rows], b[rows]
        shared = np.bitwise_count(s.mask[a] & s.mask[b]).astype(np.int16)
        keep[rows[np.maximum(s.distinct[a], s.distinct[b]) - shared <= loosest]] = True
        return keep
    # Jaro-Winkler: first with the largest boost (a 4-character common prefix) ...
    margin = 1e-9                                     # far above float error, far below any real gap
    matches = np.minimum(s.repeats[a], s.repeats[b])
    matches += np.bitwise_count(s.mask[a] & s.mask[b])
    ratio_sum = s.inverse_length[a]                   # becomes m/len_a + m/len_b = 3 J - 1
    ratio_sum += s.inverse_length[b]
    ratio_sum *= matches
    # JW = J + p/10 (1 - J) reaches the threshold t when 3 J - 1 >= 3 (t - p/10) / (1 - p/10) - 1
    needed = np.array([3 * (loosest - p / 10) / (1 - p / 10) - 1 - margin for p in range(4, -1, -1)])
    rows = np.flatnonzero(ratio_sum >= needed[0])
    # ... then with the real common prefix, up to 4 bytes: the leading zero bytes of the xor,
    # 4 - (how many of 1, 2**8, 2**16, 2**24 are <= it)
    diff = s.prefix[a[rows]] ^ s.prefix[b[rows]]
    fewer = np.searchsorted(np.array([1, 1 << 8, 1 << 16, 1 << 24], np.uint32), diff, side="right")
    keep[rows[ratio_sum[rows] >= needed[fewer]]] = True
    return keep


def _distinct(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct keys, index of each key in them): ``np.unique(keys, return_inverse=True)``
    by one argsort and one pass, twice as fast on a million keys with numpy 2.4."""
    if len(keys) == 0:
        return keys, np.zeros(0, np.int64)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.empty(len(keys), bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(len(keys), np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def _jaro_winkler(a: list[str], b: list[str], thresholds) -> np.ndarray:
    from rapidfuzz import distance, process

    # float64: float32 moves scores across thresholds (0.79999999 becomes 0.8 and meets it).
    # No score_cutoff: rapidfuzz 3.14's cut-off drops some pairs that score exactly at it.
    return process.cpdist(a, b, scorer=distance.JaroWinkler.normalized_similarity, dtype=np.float64, workers=1)


def _levenshtein(a: list[str], b: list[str], thresholds) -> np.ndarray:
    from rapidfuzz import distance, process

    # the cut-off lets rapidfuzz stop early (mbleven); a farther pair scores cutoff + 1
    return process.cpdist(a, b, scorer=distance.Levenshtein.distance, score_cutoff=int(thresholds[0]), workers=1)


_SCORERS = {"jaro_winkler": _jaro_winkler, "levenshtein": _levenshtein}


def _grade(scores: np.ndarray, thresholds: tuple[float, ...], *, higher_is_closer: bool) -> np.ndarray:
    """Level of each score: 0, or 1..len(thresholds) for the loosest..closest threshold met."""
    out = np.zeros(len(scores), dtype=np.int8)
    for level, t in enumerate(thresholds, start=1):          # loosest first
        met = scores >= t - SCORE_TOLERANCE if higher_is_closer else scores <= t
        out[met] = level
    return out


def _date_levels(left, right, left_idx, right_idx, thresholds) -> np.ndarray:
    def days(values):
        arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        if not pa.types.is_date32(arr.type):
            arr = arr.cast(pa.date32())
        return pc.fill_null(arr.cast(pa.int32()), _NO_DATE).to_numpy(zero_copy_only=False).astype(np.int64)

    days_l, days_r = days(left), days(right)
    out = np.empty(len(left_idx), np.int8)
    for start in range(0, len(left_idx), _CHUNK):            # in cache, as _levels_of_codes
        a, b = days_l[left_idx[start: start + _CHUNK]], days_r[right_idx[start: start + _CHUNK]]
        gap = np.abs(a - b)
        chunk = out[start: start + _CHUNK]
        chunk[:] = _grade(gap, thresholds, higher_is_closer=False)
        chunk[gap == 0] = len(thresholds) + 1
        chunk[(a == _NO_DATE) | (b == _NO_DATE)] = MISSING
    return out


_NO_DATE = np.iinfo(np.int32).min
