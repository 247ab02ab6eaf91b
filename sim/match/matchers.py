"""Matchers: who computes candidate pairs and comparison levels, behind one small interface.

A policy (:mod:`sim.match.policy`) says *what* to compare; a matcher says *how* (an *engine*,
:mod:`sim.common.parallel`, says where: local processes or a Dask cluster). Every matcher
takes the two sides as Arrow tables with the same column names and returns

* ``pairs(rules, left, right)``: the candidate pairs of the union of the blocking rules, as two
  int64 index arrays sorted by (left, right), each pair once;
* ``levels(comparisons, left, right, left_idx, right_idx)``: the ``(n_pairs, n_comparisons)``
  int8 matrix of comparison levels (see :mod:`sim.compare.comparisons` for what a level means).

``vectorized`` (the default, and the reference) does this with numpy and rapidfuzz, each
distinct value pair scored once. ``recordlinkage`` runs the same blocking and comparisons
through recordlinkage's ``Index`` and ``Compare``; a test proves the two give identical pairs
and levels on the same data (tests/test_match_matchers.py). Matchers are picked by name with
:func:`get_matcher` (``policy.matcher``, or ``matchsim run --matcher``).
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config import MATCHERS
from sim.match.blocking import BlockingRule, Runs, union_pairs
from sim.compare.comparisons import MISSING, Comparison, Composite, grade, civil_parts, columns_of, comparison_matrix
from sim.compare.encode import EncodedTable, as_strings

class Matcher(Protocol):
    name: str

    def pairs(self, rules: Sequence[BlockingRule], left: pa.Table, right: pa.Table, *,
              runs: Sequence[Runs] | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def levels(self, comparisons: Sequence[Comparison], left: pa.Table, right: pa.Table,
               left_idx: np.ndarray, right_idx: np.ndarray) -> np.ndarray: ...


class VectorizedMatcher:
    """The reference matcher: integer index arrays, columnar comparisons, no per-pair Python."""

    name = "vectorized"

    def pairs(self, rules, left, right, *, runs=None):
        """The union of the rules' pairs; ``runs``, the rules' :class:`~sim.match.blocking.Runs`
        already computed on these tables (when their pairs were counted), are expanded as they are."""
        if runs is None:
            cols_l = {c: left.column(c) for rule in rules for c in rule.columns}
            cols_r = {c: right.column(c) for rule in rules for c in rule.columns}
            runs = [rule.runs(cols_l, cols_r) for rule in rules]
        return union_pairs(*(r.pairs() for r in runs))

    def levels(self, comparisons, left, right, left_idx, right_idx):
        """``right`` may be an :class:`~sim.compare.encode.EncodedTable`, the block's master file
        shared by its policies: pairs that touch most of its rows (a probabilistic policy's
        random pairs) read its columns encoded once for all, encoding those that are not yet;
        pairs that touch few of them compare those rows alone, as a plain table's do, unless
        every column they read is encoded already."""
        columns = columns_of(comparisons)
        left, left_idx = _referenced(left, columns, left_idx)
        if isinstance(right, EncodedTable):
            if all(right.is_encoded(c) for c in columns) or _share_referenced(right.num_rows, right_idx) > 0.5:
                cols_r = {c: right[c] for c in columns}
            else:
                right = right.table
        if not isinstance(right, EncodedTable):
            right, right_idx = _referenced(right, columns, right_idx)
            cols_r = {c: right.column(c) for c in columns}
        cols_l = {c: left.column(c) for c in columns}
        return comparison_matrix(list(comparisons), cols_l, cols_r, left_idx, right_idx)


class RecordLinkageMatcher:
    """The same blocking and comparisons through recordlinkage's ``Index`` and ``Compare``.

    It is the cross-check of the vectorized matcher (and the baseline its speed is measured
    against), not a second definition of the levels: recordlinkage's raw scores are graded with
    the thresholds of :mod:`sim.compare.comparisons`, and the data is prepared so that recordlinkage
    sees what the vectorized matcher sees:

    * strings as plain text, an empty string as missing (recordlinkage would compare it as a
      value), every column compared as its string form as :func:`sim.compare.encode.as_strings`
      gives it;
    * the exact level of every comparison from ``Compare.exact``, which also marks the missing;
    * Jaro-Winkler from ``Compare.string(method="jarowinkler")`` (jellyfish: bit for bit the
      float64 score of rapidfuzz, on text in NFC form; on decomposed text jellyfish counts an
      accent as part of its letter and rapidfuzz as a character of its own, so the two differ,
      for Levenshtein too; the normalized names and addresses of :mod:`sim.normalize` are ASCII);
    * Levenshtein from ``Compare.string(method="levenshtein")``, whose similarity
      ``1 - d / max(len)`` is turned back into the whole distance ``d``;
    * dates as day numbers, one ``Compare.numeric(method="step", offset=t)`` per threshold.

    recordlinkage is imported only when the matcher is used: it takes about a second to import.
    """

    name = "recordlinkage"

    def pairs(self, rules, left, right, *, runs=None):
        """The rules' pairs by recordlinkage's own Index (``runs``, the vectorized blocking, are
        not used: this matcher is its cross-check)."""
        rl, pd = _recordlinkage()
        right = right.table if isinstance(right, EncodedTable) else right
        columns = sorted({c for rule in rules for c in rule.columns})
        frame_l = pd.DataFrame({c: _text(left.column(c)) for c in columns}, index=pd.RangeIndex(left.num_rows))
        frame_r = pd.DataFrame({c: _text(right.column(c)) for c in columns}, index=pd.RangeIndex(right.num_rows))
        found = None
        for rule in rules:
            indexer = rl.Index()
            indexer.block(left_on=list(rule.columns), right_on=list(rule.columns))
            # recordlinkage logs a reduction ratio, 0/0 on an empty side: not our problem to warn of
            with np.errstate(invalid="ignore", divide="ignore"):
                pairs = indexer.index(frame_l, frame_r)
            found = pairs if found is None else found.union(pairs)
        if found is None or len(found) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        left_idx = found.get_level_values(0).to_numpy().astype(np.int64)
        right_idx = found.get_level_values(1).to_numpy().astype(np.int64)
        order = np.lexsort((right_idx, left_idx))
        return left_idx[order], right_idx[order]

    def levels(self, comparisons, left, right, left_idx, right_idx):
        rl, pd = _recordlinkage()
        left_idx, right_idx = np.asarray(left_idx, np.int64), np.asarray(right_idx, np.int64)
        if len(left_idx) != len(right_idx):
            raise ValueError(f"pair index arrays differ in length: {len(left_idx)} and {len(right_idx)}")
        comparisons = list(comparisons)
        if not comparisons:
            return np.zeros((len(left_idx), 0), np.int8)
        columns = columns_of(comparisons)
        right = right.table if isinstance(right, EncodedTable) else right
        left, left_idx = _referenced(left, columns, left_idx)
        right, right_idx = _referenced(right, columns, right_idx)
        # every basic comparison once, a composite's features among them; a composite's levels
        # are then its own combination of their gammas (Composite.combine), the same code as
        # the vectorized matcher's: what is cross-checked is each feature
        basics = list(dict.fromkeys(f for c in comparisons for f in (c.basics() if isinstance(c, Composite) else (c,))))
        gammas = self._basic_levels(rl, pd, basics, left, right, left_idx, right_idx)

        def gamma(c) -> np.ndarray:
            if isinstance(c, Composite):
                return c.combine(np.stack([gamma(f) for f in c.features]).T)
            return gammas[basics.index(c)]

        out = np.empty((len(left_idx), len(comparisons)), np.int8)
        for i, c in enumerate(comparisons):
            out[:, i] = gamma(c)
        return out

    @staticmethod
    def _basic_levels(rl, pd, comparisons, left, right, left_idx, right_idx) -> list[np.ndarray]:
        # one frame column per compared column and form on each side: day numbers (and their
        # year, month, day) for date comparisons, the string form for the others (an exact
        # comparison of dates compares their text, as the vectorized matcher does)
        def form(column: str, c: Comparison) -> str:
            return f"{column}:days" if c.kind in ("date", "date_parts") else f"{column}:text"

        def frame(table, side: int):
            data = {}
            for c in comparisons:
                column = c.columns[side]
                key = form(column, c)
                if key in data:
                    continue
                if key.endswith(":days"):
                    data[key] = _days(table.column(column))
                    year, month, day = _parts(data[key])
                    data[f"{column}:year"], data[f"{column}:month"], data[f"{column}:day"] = year, month, day
                else:
                    data[key] = _text(table.column(column))
            return pd.DataFrame(data, index=pd.RangeIndex(table.num_rows))

        frame_l, frame_r = frame(left, 0), frame(right, 1)
        compare = rl.Compare()
        for i, c in enumerate(comparisons):
            col_l, col_r = form(c.columns[0], c), form(c.columns[1], c)
            if c.kind == "missing_sides":
                continue
            compare.exact(col_l, col_r, agree_value=1, disagree_value=0, missing_value=-1, label=f"{i}:exact")
            if c.kind in ("jaro_winkler", "levenshtein"):
                method = "jarowinkler" if c.kind == "jaro_winkler" else "levenshtein"
                compare.string(col_l, col_r, method=method, missing_value=-1.0, label=f"{i}:score")
            elif c.kind == "date":
                for j, t in enumerate(c.thresholds):
                    compare.numeric(col_l, col_r, method="step", offset=float(t), missing_value=0.0, label=f"{i}:within{j}")
            elif c.kind == "date_parts":
                a, b = c.columns
                for part in ("year", "month", "day"):
                    compare.exact(f"{a}:{part}", f"{b}:{part}", label=f"{i}:{part}")
                compare.exact(f"{a}:month", f"{b}:day", label=f"{i}:month_day")
                compare.exact(f"{a}:day", f"{b}:month", label=f"{i}:day_month")
        pairs = pd.MultiIndex.from_arrays([left_idx, right_idx])
        features = compare.compute(pairs, frame_l, frame_r)

        out = []
        for i, c in enumerate(comparisons):
            if c.kind == "missing_sides":
                # how many sides lack a value: not a comparison, read off the two frames
                absent_l = frame_l[form(c.columns[0], c)].isna().to_numpy()[left_idx]
                absent_r = frame_r[form(c.columns[1], c)].isna().to_numpy()[right_idx]
                out.append((absent_l.astype(np.int8) + absent_r).astype(np.int8))
                continue
            same = features[f"{i}:exact"].to_numpy()
            if c.kind == "jaro_winkler":
                level = grade(features[f"{i}:score"].to_numpy(np.float64), c.thresholds, higher_is_closer=True)
            elif c.kind == "levenshtein":
                similarity = features[f"{i}:score"].to_numpy(np.float64)
                lengths_l, lengths_r = _lengths(left.column(c.columns[0])), _lengths(right.column(c.columns[1]))
                longest = np.maximum(lengths_l[left_idx], lengths_r[right_idx])
                distance = np.rint((1.0 - similarity) * longest).astype(np.int64)
                level = grade(distance, c.thresholds, higher_is_closer=False)
            elif c.kind == "date":
                level = np.zeros(len(left_idx), np.int8)
                for j in range(len(c.thresholds)):       # loosest first, as the thresholds are
                    level[features[f"{i}:within{j}"].to_numpy() == 1] = j + 1
            elif c.kind == "date_parts":
                y, m, d = (features[f"{i}:{p}"].to_numpy() for p in ("year", "month", "day"))
                swapped = (y == 1) & (features[f"{i}:month_day"].to_numpy() == 1) & (features[f"{i}:day_month"].to_numpy() == 1) & (m == 0)
                level = np.where(y + m + d == 2, 1, 0).astype(np.int8)
                level[swapped] = 2
            else:
                level = np.zeros(len(left_idx), np.int8)
            level[same == 1] = c.n_levels
            level[same == -1] = MISSING
            out.append(level)
        return out


def get_matcher(name: str) -> Matcher:
    """The matcher called ``name`` (one of :data:`sim.config.MATCHERS`)."""
    if name == "vectorized":
        return VectorizedMatcher()
    if name == "recordlinkage":
        return RecordLinkageMatcher()
    raise ValueError(f"The 'matcher' parameter must be one of {', '.join(MATCHERS)}. Got {name!r} instead.")


# ---------------------------------------------------------------------------------------------


def _share_referenced(n_rows: int, idx) -> float:
    """The share of ``n_rows`` rows that ``idx`` refers to."""
    if not n_rows:
        return 0.0
    referenced = np.zeros(n_rows, bool)
    referenced[np.asarray(idx, np.int64)] = True
    return np.count_nonzero(referenced) / n_rows


def _referenced(table: pa.Table, columns: list[str], idx) -> tuple[pa.Table, np.ndarray]:
    """``table``'s ``columns``, cut down to the rows ``idx`` refers to when those are under half
    of them, and ``idx`` renumbered to match: the work of both matchers then grows with the
    pairs, not with the table (a tight rule pairs 280,000 requests x records of a master file
    of 800,000 rows, of which it touches 79,000)."""
    idx = np.asarray(idx, np.int64)
    table = table.select(columns)
    n = table.num_rows
    referenced = np.zeros(n, bool)
    referenced[idx] = True
    rows = np.flatnonzero(referenced)
    if len(rows) > n // 2:
        return table, idx
    return table.take(rows), (np.cumsum(referenced) - 1)[idx]


def _recordlinkage():
    """(recordlinkage, pandas), imported on first use, with an error that says what to install."""
    try:
        import pandas as pd
        import recordlinkage
    except ImportError as error:  # pragma: no cover - both are dependencies of matchsim
        raise ImportError(
            f"the 'recordlinkage' matcher needs the recordlinkage package ({error}); install it with "
            "`pip install recordlinkage`, or use the 'vectorized' matcher"
        ) from error
    return recordlinkage, pd


def _text(column) -> np.ndarray:
    """A column as an object array of Python strings, ``None`` where null or empty: the missing
    values of the vectorized matcher, which recordlinkage drops from blocks and scores as missing."""
    arr = as_strings(column)
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    return arr.to_numpy(zero_copy_only=False)


def _lengths(column) -> np.ndarray:
    """Characters in each value (code points, as Python's len counts them), 0 where null."""
    return pc.fill_null(pc.utf8_length(as_strings(column)), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def _parts(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day of float day numbers as floats, NaN where the day is NaN."""
    missing = np.isnan(days)
    parts = civil_parts(np.where(missing, 0, days).astype(np.int64))
    return tuple(np.where(missing, np.nan, p.astype(np.float64)) for p in parts)


def _days(column) -> np.ndarray:
    """A date column as float64 day numbers, NaN where null (recordlinkage's missing)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_date32(arr.type):
        arr = arr.cast(pa.date32())
    return pc.cast(arr.cast(pa.int32()), pa.float64()).to_numpy(zero_copy_only=False)
