"""Vectorized comparisons: each turns candidate pairs into ordered agreement levels.

A comparison is built by a named constructor (:func:`exact`, :func:`jaro_winkler`,
:func:`levenshtein`, :func:`date`), as Splink builds them, and yields one small integer per pair
(its *gamma*): ``-1`` when either value is missing, ``0`` when the values do not agree at any
threshold, and ``1..k`` for increasingly close agreement, ``k`` being an exact match. Each
comparison also has a description of its levels for reports.

Candidate pairs are two integer index arrays (``left[i]`` is compared with ``right[j]``), as
recordlinkage represents them. The work is columnar: both columns are dictionary-encoded
together, each *distinct* pair of values is scored once (rapidfuzz's ``cpdist``, in C), and the
scores are mapped back to the pairs; no Python runs per pair.

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

from sim.match.encode import shared_codes

ComparisonKind = Literal["exact", "jaro_winkler", "levenshtein", "date"]
MISSING, DISAGREE = -1, 0
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
        left_idx, right_idx = np.asarray(left_idx, np.int64), np.asarray(right_idx, np.int64)
        if len(left_idx) != len(right_idx):
            raise ValueError(f"pair index arrays differ in length: {len(left_idx)} and {len(right_idx)}")
        if self.kind == "date":
            return _date_levels(left, right, left_idx, right_idx, self.thresholds)
        codes_l, codes_r, values = shared_codes(left, right)
        a, b = codes_l[left_idx], codes_r[right_idx]
        out = np.full(len(a), DISAGREE, dtype=np.int8)
        missing = (a < 0) | (b < 0)
        out[missing] = MISSING
        same = ~missing & (a == b)
        out[same] = self.n_levels
        rest = np.flatnonzero(~missing & ~same)
        if self.kind == "exact" or len(rest) == 0:
            return out
        # each distinct pair of distinct values is scored once
        n = len(values)
        key = a[rest] * n + b[rest]
        unique_keys, inverse = np.unique(key, return_inverse=True)
        ua, ub = np.divmod(unique_keys, n)
        scores = _SCORERS[self.kind]([values[i] for i in ua], [values[i] for i in ub])
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
    """The (n_pairs, n_comparisons) int8 matrix of levels: the input of every policy."""
    return np.stack([c.levels(left[c.column], right[c.column], left_idx, right_idx) for c in comparisons], axis=1) \
        if comparisons else np.zeros((len(left_idx), 0), np.int8)


# ---------------------------------------------------------------------------------------------


def _checked(thresholds, name: str, ok: Callable[[float], bool], allowed: str, *, descending: bool) -> tuple:
    t = tuple(thresholds)
    ordered = all(x > y for x, y in zip(t, t[1:])) if descending else all(x < y for x, y in zip(t, t[1:]))
    if not t or not all(ok(x) for x in t) or not ordered:
        order = "descending" if descending else "ascending"
        raise ValueError(f"The 'thresholds' parameter of {name} must be a non-empty, strictly {order} tuple of {allowed}. Got {t!r} instead.")
    return t


def _jaro_winkler(a: list[str], b: list[str]) -> np.ndarray:
    from rapidfuzz import distance, process

    # float64: float32 moves scores across thresholds (0.79999999 becomes 0.8 and meets it)
    return process.cpdist(a, b, scorer=distance.JaroWinkler.normalized_similarity, dtype=np.float64, workers=1)


def _levenshtein(a: list[str], b: list[str]) -> np.ndarray:
    from rapidfuzz import distance, process

    return process.cpdist(a, b, scorer=distance.Levenshtein.distance, workers=1)


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
        return pc.fill_null(arr.cast(pa.int32()), np.iinfo(np.int32).min).to_numpy(zero_copy_only=False).astype(np.int64)

    a, b = days(left)[left_idx], days(right)[right_idx]
    missing = (a == np.iinfo(np.int32).min) | (b == np.iinfo(np.int32).min)
    gap = np.abs(a - b)
    out = _grade(gap, thresholds, higher_is_closer=False)
    out[gap == 0] = len(thresholds) + 1
    out[missing] = MISSING
    return out
