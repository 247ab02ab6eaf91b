"""Vectorized comparisons: each turns candidate pairs into ordered agreement levels.

A comparison is built by a named constructor (:func:`exact`, :func:`jaro_winkler`,
:func:`levenshtein`, :func:`date`), as Splink builds them, and yields one small integer per pair
(its *gamma*): ``-1`` when either value is missing, ``0`` when the values do not agree at any
threshold, and ``1..k`` for increasingly close agreement, ``k`` being an exact match. Each
comparison also has a description of its levels for reports.

A **composite** comparison (:class:`Composite`: :func:`address`, :func:`surname`,
:func:`given_name`, :func:`date_of_birth`, :func:`surname_address`, or levels a policy lists)
reads several columns, as Splink's comparison levels do: its features are basic comparisons (or
composites), each scored as below, and its ordered levels are conditions on their gammas, so one
kind of evidence (a dwelling, a family) counts once.

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

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.compare.encode import EncodedColumn, as_array, shared_dictionary

ComparisonKind = Literal["exact", "jaro_winkler", "levenshtein", "date", "date_parts", "missing_sides"]
MISSING, DISAGREE = -1, 0
_CHUNK = 1 << 16     # pairs compared at a time: ~0.5 MB per temporary array, within L2 cache
#: A similarity this close below a threshold meets it: float rounding, not a real difference.
#: The Jaro-Winkler similarity of strings of lengths a, b with m matching characters is a ratio
#: with denominator dividing 30*a*b*m, so two different values (or a value and a two-decimal
#: threshold) differ by more than 1e-12 while the strings are under ~600 characters.
SCORE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Comparison:
    """One comparison of a column between two records. Use the named constructors.

    ``right_column`` compares the left side's ``column`` with another column of the right side
    (the first of one side's surnames with the second of the other's); by default the same."""

    column: str
    kind: ComparisonKind
    thresholds: tuple[float, ...]     # closest last: similarity floors, or distance ceilings
    description: str
    right_column: str | None = None

    @property
    def name(self) -> str:
        """What a policy calls the comparison (its rules, m, u): the column compared."""
        return self.column

    @property
    def columns(self) -> tuple[str, str]:
        """(left column, right column)."""
        return self.column, self.right_column or self.column

    @property
    def level_names(self) -> tuple:
        """What a rule may name as the loosest level accepted, loosest first: the thresholds,
        then ``"exact"``; level ``i + 1`` is ``level_names[i]``."""
        if self.kind == "date_parts":
            return ("one_part", "swapped", "exact")
        if self.kind == "missing_sides":
            return ("missing_one_side", "missing_both_sides")
        return (*self.thresholds, "exact")

    @property
    def n_levels(self) -> int:
        """Agreement levels above ``DISAGREE``: one per threshold plus the exact match."""
        return len(self.level_names)

    @property
    def tf_gamma(self) -> int:
        """The gamma at which term-frequency adjustment applies: the exact match."""
        return self.n_levels

    def level_labels(self) -> list[str]:
        """Human-readable label of each gamma value, from -1 (missing) to the exact match."""
        if self.kind == "date_parts":
            return ["missing", "different", "one of year, month, day differs", "day and month swapped", "exact"]
        if self.kind == "missing_sides":
            return ["(never)", "both present", "missing on one side", "missing on both sides"]
        labels = ["missing", "different"]
        if self.kind in ("jaro_winkler",):
            labels += [f"Jaro-Winkler >= {t:g}" for t in self.thresholds]
        elif self.kind in ("levenshtein", "date"):
            unit = " days" if self.kind == "date" else ""
            labels += [f"within {t:g}{unit}" for t in self.thresholds]
        return labels + ["exact"]

    def levels(self, left, right, left_idx: np.ndarray, right_idx: np.ndarray) -> np.ndarray:
        """Gamma (int8) of each candidate pair ``(left[left_idx[i]], right[right_idx[i]])``."""
        col_l, col_r = self.columns
        return comparison_matrix([self], {col_l: left}, {col_r: right}, left_idx, right_idx)[:, 0]

    def _levels_of_codes(self, enc: "_Encoded", left_idx: np.ndarray, right_idx: np.ndarray) -> np.ndarray:
        from sim.compare import kernels

        out = np.empty(len(left_idx), dtype=np.int8)
        if self.kind == "exact":
            s, loosest, needed = _no_summary(), 0.0, _NO_BOUNDS
        else:
            s, loosest = enc.summary(), float(self.thresholds[0])
            needed = _jaro_winkler_bounds(loosest) if self.kind == "jaro_winkler" else _NO_BOUNDS
        rest = np.empty(len(left_idx), np.int64)
        a, b = np.empty(len(left_idx), np.int32), np.empty(len(left_idx), np.int32)
        found = kernels.sort_pairs(enc.codes_l, enc.codes_r, left_idx, right_idx, _KERNEL_KINDS[self.kind], self.n_levels,
                                   MISSING, DISAGREE, loosest, needed, s.length, s.inverse_length, s.mask, s.distinct,
                                   s.repeats, s.prefix, out, rest, a, b)
        if not found:
            return out
        rest, a, b = rest[:found], a[:found], b[:found]
        # each distinct pair of values is scored once
        n = np.int64(len(enc.dictionary))
        unique_keys, inverse = _distinct(a.astype(np.int64) * n + b)
        ua, ub = np.divmod(unique_keys, n)
        values = enc.dictionary
        scores = _SCORERS[self.kind](values.take(ua).to_pylist(), values.take(ub).to_pylist(), self.thresholds)
        out[rest] = grade(scores, self.thresholds, higher_is_closer=self.kind == "jaro_winkler")[inverse]
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


def date_parts(column: str) -> Comparison:
    """A date's clerical errors: exact, day and month swapped, one of year, month and day
    different, else different (see :func:`_date_part_levels`)."""
    return Comparison(column, "date_parts", (), f"{column}: exact, day/month swapped, one part different")


def missing_sides(column: str) -> Comparison:
    """How many sides lack a value (0, 1, 2): a unit on one side only is not a different unit."""
    return Comparison(column, "missing_sides", (), f"{column}: missing on 0, 1 or 2 sides")


def cross(kind_constructor, left_column: str, right_column: str, *args) -> Comparison:
    """A comparison of the left side's ``left_column`` with the right side's ``right_column``
    (one side's first surname with the other's second)."""
    c = kind_constructor(left_column, *args)
    return replace(c, right_column=right_column, description=f"{left_column} vs {right_column}: {c.kind}")


# ---------------------------------------------------------------------------------------------
# Composite comparisons: one comparison over several columns, as Splink's comparison levels


#: One condition of a composite level: feature ``k``'s gamma lies in ``[low, high]``.
Term = tuple[int, int, int]


@dataclass(frozen=True)
class Level:
    """One level of a :class:`Composite`: it holds for a pair when all the terms of any one of
    ``any_of`` hold. ``label`` is what rules, m and u and reports call it."""

    label: str
    description: str
    any_of: tuple[tuple[Term, ...], ...]

    def holds(self, gammas: np.ndarray, terms: dict | None = None) -> np.ndarray:
        """Whether the level holds for each pair, from its features' ``gammas`` (n_pairs,
        n_features). ``terms`` keeps each term's result for the other levels of the same pairs
        (a composite's levels share terms: a surname shared, the same dwelling); the result may
        be one of those arrays, to be read, not changed."""
        terms = {} if terms is None else terms
        out = None
        for alternative in self.any_of:
            ok = None
            for term in alternative:
                if term not in terms:
                    k, low, high = term
                    g = gammas[:, k]
                    terms[term] = g == low if low == high else (g >= low) & (g <= high)
                ok = terms[term] if ok is None else ok & terms[term]
            if ok is None:                     # no terms: holds for every pair
                ok = np.ones(len(gammas), bool)
            out = ok if out is None else out | ok
        return out if out is not None else np.zeros(len(gammas), bool)


@dataclass(frozen=True)
class Composite:
    """A comparison over several columns: its ``features`` (basic comparisons, each distinct
    value pair scored once) are combined into ordered levels. A pair's gamma is ``-1`` when
    ``missing`` holds, else ``n`` for the first of ``levels`` (closest first) that holds, ``n-1``
    for the second ... and ``0`` (different) when none does. ``tf_column``: the column whose
    value's frequency replaces u at the top level under term-frequency adjustment.

    >>> import numpy as np
    >>> c = address()
    >>> cols = {"street": ["12 OAK ST", "12 OAK ST"], "zip5": ["89501", "89501"], "unit": ["4", None],
    ...         "street_number": ["12", "12"], "street_name": ["OAK", "OAK"]}
    >>> c.levels(cols, cols, np.array([0, 1, 0]), np.array([0, 0, 1])).tolist()
    [5, 4, 4]
    """

    name: str
    features: tuple["Comparison | Composite", ...]
    comparison_levels: tuple[Level, ...]
    missing: Level | None
    description: str
    tf_column: str | None = None
    kind: str = "composite"
    #: the level (label) whose u term-frequency adjustment replaces; None: the closest
    tf_level: str | None = None

    @property
    def tf_gamma(self) -> int:
        """The gamma at which term-frequency adjustment applies (the closest level by default)."""
        return self.n_levels if self.tf_level is None else self.n_levels - [l.label for l in self.comparison_levels].index(self.tf_level)

    @property
    def n_levels(self) -> int:
        return len(self.comparison_levels)

    @property
    def column(self) -> str:       # what term-frequency adjustment and reports key on
        return self.tf_column or self.name

    @property
    def level_names(self) -> tuple[str, ...]:
        """The level labels a rule may name as the loosest accepted, loosest first."""
        return tuple(level.label for level in reversed(self.comparison_levels))

    def level_labels(self) -> list[str]:
        return ["missing", "different", *(level.description for level in reversed(self.comparison_levels))]

    def input_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(col for f in self.features
                                   for col in (f.input_columns() if isinstance(f, Composite) else f.columns)))

    def basics(self) -> tuple[Comparison, ...]:
        """The basic comparisons it is built from, nested composites' included, each once."""
        return tuple(dict.fromkeys(b for f in self.features for b in (f.basics() if isinstance(f, Composite) else (f,))))

    def combine(self, gammas: np.ndarray) -> np.ndarray:
        """The composite gamma of each pair from its features' gammas (n_pairs, n_features)."""
        out = np.zeros(len(gammas), np.int8)
        gammas = np.asfortranarray(gammas)      # each feature's gammas contiguous (a copy only if they are not)
        terms: dict = {}                        # each distinct term once, for every level
        for i, level in enumerate(reversed(self.comparison_levels), start=1):      # loosest first, closest wins
            out[level.holds(gammas, terms)] = i
        if self.missing is not None:
            out[self.missing.holds(gammas, terms)] = MISSING
        return out

    def levels(self, left: dict, right: dict, left_idx, right_idx) -> np.ndarray:
        """Gamma of each pair; ``left``/``right`` map column names to columns."""
        return comparison_matrix([self], left, right, left_idx, right_idx)[:, 0]


def _t(k: int, low: int, high: int | None = None) -> Term:
    return (k, low, low if high is None else high)


def address() -> Composite:
    """One comparison of the whole address, so that one shared dwelling counts once (four
    independent comparisons of number, street, unit and ZIP count it four times). Closest first:

    * ``address_unit``: the same delivery address, the same unit or none on both sides;
    * ``address_no_unit``: the same house number, street and ZIP, a unit on one side only
      (DHS OIG-23-47: 90,000 apartments without a unit number);
    * ``street_typo``: the same house number and ZIP, the street name within Jaro-Winkler 0.88
      and no different unit (a mistyped street name);
    * ``street_zip``: the same street name and ZIP (a neighbour, or a house number missing);
    * ``zip``: the same ZIP only;

    else ``different``; ``missing`` when either side has no ZIP (a blank or city-only address).
    """
    f = (exact("street"), exact("zip5"), exact("unit"), missing_sides("unit"), exact("street_number"),
         jaro_winkler("street_name", (0.88,)))
    street, zip5, unit, unit_absent, number, name = range(6)
    no_other_unit = (_t(unit, -1), _t(unit, 1))
    levels = (
        Level("address_unit", "same address and unit", ((_t(street, 1), _t(zip5, 1), _t(unit, 1)),
                                                         (_t(street, 1), _t(zip5, 1), _t(unit_absent, 2)))),
        Level("address_no_unit", "same address, unit on one side only",
              ((_t(street, 1), _t(zip5, 1), _t(unit_absent, 1)),)),
        Level("street_typo", "same number and ZIP, street name Jaro-Winkler >= 0.88",
              tuple((_t(number, 1), _t(zip5, 1), _t(name, 1, 2), u) for u in no_other_unit)),
        Level("street_zip", "same street name and ZIP", ((_t(name, 2), _t(zip5, 1)),)),
        Level("zip", "same ZIP", ((_t(zip5, 1),),)),
    )
    return Composite("address", f, levels, Level("missing", "no ZIP", ((_t(zip5, -1),),)),
                     "address: same address and unit / unit on one side / street typo / same street and ZIP / same ZIP")


def surname(thresholds: tuple[float, ...] = (0.92, 0.8)) -> Composite:
    """The last name, knowing two-surname forms: closest first ``exact``; ``same_surnames``
    (the same surnames written differently: DE LA TORRE MUNOZ, TORRE-MUNOZ); ``one_surname``
    (one side's surname is either of the other's: GOMEZ CONDE and CONDE, as INS indexing and the
    master file write them differently); then Jaro-Winkler at ``thresholds``. The surnames are
    the ``surname_1``/``surname_2`` columns of :mod:`sim.match.prepare` (particles dropped)."""
    f = (jaro_winkler("last_name", thresholds), exact("surname_1"), exact("surname_2"),
         cross(exact, "surname_1", "surname_2"), cross(exact, "surname_2", "surname_1"), missing_sides("surname_2"))
    full, s1, s2, s12, s21, s2_absent = range(6)
    top = len(thresholds) + 1
    levels = (
        Level("exact", "exact", ((_t(full, top),),)),
        Level("same_surnames", "the same surnames, written differently",
              ((_t(s1, 1), _t(s2, 1)), (_t(s1, 1), _t(s2_absent, 2)))),
        Level("one_surname", "one surname shared", tuple((_t(k, 1),) for k in (s1, s2, s12, s21))),
        *(Level(f"jw{round(t * 100)}", f"Jaro-Winkler >= {t:g}", ((_t(full, top - 1 - i, top - 1),),))
          for i, t in enumerate(thresholds)),
    )
    return Composite("surname", f, levels, Level("missing", "missing", ((_t(full, -1),),)),
                     f"surname: exact / same surnames / one surname shared / Jaro-Winkler at {', '.join(f'{t:g}' for t in thresholds)}",
                     tf_column="last_name")


def given_name(thresholds: tuple[float, ...] = (0.92, 0.8)) -> Composite:
    """The first name, knowing compound given names and common variants: closest first
    ``exact``; ``compound_part`` (the same first given name, a second one on one side only: JOSE
    LUIS and JOSE); ``other_part`` (one side's given name is the other's other part: MARIA
    GUADALUPE and GUADALUPE); Jaro-Winkler at ``thresholds[0]``; ``variant`` (first given names
    that are one name in two languages or a name and its short form: JOSE and JOSEPH, GUILLERMO
    and WILLIAM, the ``given_variant`` column of :mod:`sim.match.prepare`); then Jaro-Winkler at
    the looser thresholds."""
    f = (jaro_winkler("first_name", thresholds), exact("given_1"), missing_sides("given_2"),
         cross(exact, "given_1", "given_2"), cross(exact, "given_2", "given_1"), exact("given_variant"))
    full, g1, g2_absent, g12, g21, variant = range(6)
    top = len(thresholds) + 1
    similar = [Level(f"jw{round(t * 100)}", f"Jaro-Winkler >= {t:g}", ((_t(full, top - 1 - i, top - 1),),))
               for i, t in enumerate(thresholds)]
    levels = (
        Level("exact", "exact", ((_t(full, top),),)),
        Level("compound_part", "first given name, a second on one side only", ((_t(g1, 1), _t(g2_absent, 1)),)),
        Level("other_part", "one side's given name is the other's second", ((_t(g12, 1),), (_t(g21, 1),))),
        similar[0],
        Level("variant", "variants of one name (JOSE, JOSEPH)", ((_t(variant, 1),),)),
        *similar[1:],
    )
    return Composite("given_name", f, levels, Level("missing", "missing", ((_t(full, -1),),)),
                     f"given name: exact / compound part / other part / Jaro-Winkler {thresholds[0]:g} / variant"
                     + "".join(f" / Jaro-Winkler {t:g}" for t in thresholds[1:]),
                     tf_column="first_name")


def date_of_birth(within_days: int = 366) -> Composite:
    """The date of birth with its clerical errors: closest first ``exact``, ``swapped`` (day and
    month), ``one_part`` (one of year, month and day different), ``within`` (the dates within
    ``within_days``: a year off by one around a birthday), else ``different``."""
    f = (date_parts("date_of_birth"), date("date_of_birth", (within_days,)))
    parts, gap = range(2)
    levels = (
        Level("exact", "exact", ((_t(parts, 3),),)),
        Level("swapped", "day and month swapped", ((_t(parts, 2),),)),
        Level("one_part", "one of year, month, day different", ((_t(parts, 1),),)),
        Level("within", f"within {within_days} days", ((_t(gap, 1, 2),),)),
    )
    return Composite("date_of_birth", f, levels, Level("missing", "missing", ((_t(parts, -1),),)),
                     f"date of birth: exact / day-month swapped / one part / within {within_days} days")


def surname_address(thresholds: tuple[float, ...] = (0.92, 0.8)) -> Composite:
    """The surname and the address as one comparison, because among non-matches they are not
    independent: a relative shares both. As two comparisons, a household member's agreement on
    an address shared by a few of N records and on a surname (term-frequency adjusted: a family's
    own two-surname string) shared by the same few counted twice, each worth log2 N bits against
    a prior that is worth -log2 N once; the model's confidence in relatives then grew with the size
    of the world. Here the joint agreement gets one u, estimated from random pairs, which is the
    share of pairs that are in one family at one address. Levels that share a surname come first,
    so that a rule's "at least ``surname_exact``" means a surname agrees wherever the records live.
    Closest first:

    * ``home_family``: the same dwelling (``address`` at ``address_no_unit`` or closer) and a
      surname shared (``surname`` at ``one_surname`` or closer);
    * ``street_family``: the same street and ZIP (or a street typo), a surname shared;
    * ``zip_family``: the same ZIP, a surname shared;
    * ``surname_exact``: the same surname elsewhere (a mover), term-frequency adjusted;
    * ``home_other``: the same dwelling, the surname not shared;
    * ``surname_shared``: a surname shared elsewhere;
    * ``street``: the same street and ZIP, another surname (a neighbour);
    * ``surname_similar``: the surname within Jaro-Winkler ``thresholds[-1]``, anywhere;
    * ``zip``: the same ZIP only;

    else ``different``; ``missing`` when both the surname and the address are.
    """
    s, a = surname(thresholds), address()
    sur, addr = range(2)
    same_family = (sur, s.n_levels - 2, s.n_levels)               # one_surname or closer
    dwelling = (addr, a.n_levels - 1, a.n_levels)                 # address_no_unit or closer
    street = (addr, a.n_levels - 3, a.n_levels - 2)               # street_zip or street_typo
    levels = (
        Level("home_family", "same dwelling and a surname shared", ((dwelling, same_family),)),
        Level("street_family", "same street and ZIP, a surname shared", ((street, same_family),)),
        Level("zip_family", "same ZIP, a surname shared", (((addr, 1, 1), same_family),)),
        Level("surname_exact", "the same surname elsewhere", (((sur, s.n_levels, s.n_levels),),)),
        Level("home_other", "same dwelling, another surname", ((dwelling,),)),
        Level("surname_shared", "a surname shared elsewhere", ((same_family,),)),
        Level("street", "same street and ZIP, another surname", ((street,),)),
        Level("surname_similar", f"surname Jaro-Winkler >= {thresholds[-1]:g} anywhere", (((sur, 1, s.n_levels),),)),
        Level("zip", "same ZIP only", (((addr, 1, 1),),)),
    )
    return Composite("surname_address", (s, a), levels,
                     Level("missing", "surname and address missing", (((sur, -1, -1), (addr, -1, -1)),)),
                     "surname and address: same dwelling and family / same street and family / same ZIP and family / "
                     "same surname / same dwelling / a surname shared / same street / similar surname / same ZIP",
                     tf_column="last_name", tf_level="surname_exact")


#: The named composite constructors, by the name a policy's config gives.
COMPOSITES: dict[str, Callable[[], Composite]] = {
    "address": address, "surname": surname, "given_name": given_name, "date_of_birth": date_of_birth,
    "surname_address": surname_address,
}


def build(config) -> Comparison | Composite:
    """The comparison a policy's :class:`sim.config.ComparisonConfig` describes, by the named
    constructors; a ``composite`` from its levels (closest first), each condition a feature:
    ``exact`` (equal), ``missing`` (missing on either side), ``missing_one_side``,
    ``missing_both_sides``, or a number (Jaro-Winkler at least that)."""
    t = tuple(config.thresholds)
    if config.kind == "exact":
        return exact(config.column)
    if config.kind == "jaro_winkler":
        return jaro_winkler(config.column, t)
    if config.kind == "levenshtein":
        return levenshtein(config.column, tuple(int(x) for x in t))
    if config.kind == "date":
        return date(config.column, tuple(int(x) for x in t))
    if config.kind == "composite":
        return _user_composite(config.key, config.levels)
    # the named composites take their Jaro-Winkler thresholds, or date_of_birth its days
    args = () if not t else (int(t[0]),) if config.kind == "date_of_birth" else (t,)
    made = COMPOSITES[config.kind](*args)
    return replace(made, name=config.key) if config.name else made


def _user_composite(name: str, levels) -> Composite:
    features: list[Comparison] = []

    def term(column: str, condition) -> Term:
        if condition in ("exact", "missing"):
            feature, low, high = exact(column), *((1, 1) if condition == "exact" else (MISSING, MISSING))
        elif condition in ("missing_one_side", "missing_both_sides"):
            feature, low = missing_sides(column), 1 if condition == "missing_one_side" else 2
            high = low
        else:
            feature, low, high = jaro_winkler(column, (float(condition),)), 1, 2
        if feature not in features:
            features.append(feature)
        return features.index(feature), low, high

    built = tuple(Level(level.label, " and ".join(f"{col} {cond if isinstance(cond, str) else f'Jaro-Winkler >= {cond:g}'}"
                                                  for col, cond in level.when[0].items()),
                        tuple(tuple(term(col, cond) for col, cond in alt.items()) for alt in level.when))
                  for level in levels)
    return Composite(name, tuple(features), built, None,
                     f"{name}: " + " / ".join(level.label for level in levels))


def comparison_matrix(comparisons: list, left: dict, right: dict, left_idx, right_idx) -> np.ndarray:
    """The (n_pairs, n_comparisons) int8 matrix of levels: the input of every policy. A column
    (or pair of columns) is encoded once, and a feature shared by composites scored once."""
    left_idx, right_idx = _pair_arrays(left_idx, right_idx)
    out = np.empty((len(left_idx), len(comparisons)), np.int8)
    encoded: dict[tuple[str, str], _Encoded] = {}
    scored: dict[Comparison, np.ndarray] = {}

    def basic(c: Comparison) -> np.ndarray:
        if c not in scored:
            col_l, col_r = c.columns
            if c.kind in _DAY_KINDS:
                scored[c] = _DAY_KINDS[c.kind](_Days.of(left[col_l]), _Days.of(right[col_r]), left_idx, right_idx, c.thresholds)
            else:
                if (col_l, col_r) not in encoded:       # shared by every comparison of the columns
                    encoded[(col_l, col_r)] = _Encoded(left[col_l], right[col_r])
                enc = encoded[(col_l, col_r)]
                if c.kind == "missing_sides":
                    scored[c] = _missing_sides(enc.codes_l, enc.codes_r, left_idx, right_idx)
                else:
                    scored[c] = c._levels_of_codes(enc, left_idx, right_idx)
        return scored[c]

    def gamma(c) -> np.ndarray:
        if isinstance(c, Composite):       # a composite's features may be composites themselves
            return c.combine(np.stack([gamma(f) for f in c.features]).T if c.features
                             else np.zeros((len(left_idx), 0), np.int8))
        return basic(replace(c, description=""))

    for i, c in enumerate(comparisons):
        out[:, i] = gamma(c)
    return out


def columns_of(comparisons) -> list[str]:
    """Every column the comparisons read, each once, in order."""
    return list(dict.fromkeys(col for c in comparisons
                              for col in (c.input_columns() if isinstance(c, Composite) else c.columns)))


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
    which makes every byte bound below vacuous for its pairs. All from the Arrow buffers, in one
    compiled pass over their bytes (:func:`sim.compare.kernels.summarize`)."""

    def __init__(self, dictionary: pa.StringArray):
        from sim.compare import kernels

        n = len(dictionary)
        offsets = np.frombuffer(dictionary.buffers()[1], np.int32, n + 1, dictionary.offset * 4).astype(np.int64)
        data = dictionary.buffers()[2]
        data = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
        mask, top, self.prefix = np.zeros(n, np.uint64), np.zeros(n, np.uint8), np.zeros(n, np.uint32)
        kernels.summarize(offsets, data, mask, top, self.prefix)
        n_bytes = np.diff(offsets)
        ascii = (top < 128) | (n_bytes == 0)
        self.length = n_bytes.astype(np.int32)
        if not ascii.all():
            self.length = pc.utf8_length(dictionary).to_numpy(zero_copy_only=False).astype(np.int32)
        with np.errstate(divide="ignore"):
            self.inverse_length = 1.0 / self.length
        self.mask = np.where(ascii, mask, ~np.uint64(0))
        self.distinct = np.where(ascii, np.bitwise_count(mask), 0).astype(np.int16)
        self.repeats = (self.length - self.distinct).astype(np.int16)    # characters beyond the first of each


@lru_cache(maxsize=1)
def _no_summary() -> _Summary:
    """The summary of no values, for the kind that needs none (exact)."""
    return _Summary(pa.array([], pa.string()))


#: :func:`sim.compare.kernels.sort_pairs`'s kind of each comparison kind it grades.
_KERNEL_KINDS = {"exact": 0, "jaro_winkler": 1, "levenshtein": 2}
_NO_BOUNDS = np.zeros(5)


def _jaro_winkler_bounds(loosest: float) -> np.ndarray:
    """The least ``m/len_a + m/len_b`` (``3 J - 1``) with which a pair can reach Jaro-Winkler
    ``loosest``, by common prefix of 4, 3, 2, 1 and 0 bytes: the pruning bound of
    :func:`sim.compare.kernels.sort_pairs`.

    A byte value one side has and the other lacks stands for at least one character of that side
    that no alignment or Jaro match can use. With ``shared`` byte values in common, side ``a``
    has ``distinct_a - shared`` such characters, so a Levenshtein distance is at least
    ``max(distinct_a, distinct_b) - shared`` (and at least the difference in length), and at
    most ``shared + min(repeats_a, repeats_b)`` characters can match for Jaro: Jaro-Winkler is
    then at most ``J = (m/len_a + m/len_b + 1) / 3`` raised by Winkler's boost for the common
    prefix ``p`` (taken whatever J is; rapidfuzz and jellyfish boost only above 0.7). It reaches
    the threshold t when ``3 J - 1 >= 3 (t - p/10) / (1 - p/10) - 1``; the margin of 1e-9 is far
    above float error and far below any real gap.
    """
    margin = 1e-9
    return np.array([3 * (loosest - p / 10) / (1 - p / 10) - 1 - margin for p in range(4, -1, -1)])


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


def grade(scores: np.ndarray, thresholds: tuple[float, ...], *, higher_is_closer: bool) -> np.ndarray:
    """Level of each score: 0, or 1..len(thresholds) for the loosest..closest threshold met."""
    out = np.zeros(len(scores), dtype=np.int8)
    for level, t in enumerate(thresholds, start=1):          # loosest first
        met = scores >= t - SCORE_TOLERANCE if higher_is_closer else scores <= t
        out[met] = level
    return out


def _days(values) -> np.ndarray:
    """A date column as int64 day numbers, :data:`_NO_DATE` where missing."""
    arr = as_array(values)
    if not pa.types.is_date32(arr.type):
        arr = arr.cast(pa.date32())
    return pc.fill_null(arr.cast(pa.int32()), _NO_DATE).to_numpy(zero_copy_only=False).astype(np.int64)


class _Days:
    """A date column as int64 day numbers (:func:`_days`) and, on first use, each row's
    (year, month, day) (:func:`_small_parts`). A block's master-file column
    (:class:`~sim.compare.encode.EncodedColumn`) keeps its own, for every comparison and policy."""

    def __init__(self, values):
        self.days = _days(values)
        self._parts: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._parts is None:
            self._parts = _small_parts(self.days)
        return self._parts

    @staticmethod
    def of(values) -> "_Days":
        return values.derived("days", _Days) if isinstance(values, EncodedColumn) else _Days(values)


def _date_levels(days_l: _Days, days_r: _Days, left_idx, right_idx, thresholds) -> np.ndarray:
    days_l, days_r = days_l.days, days_r.days
    out = np.empty(len(left_idx), np.int8)
    for start in range(0, len(left_idx), _CHUNK):            # in cache, as _levels_of_codes
        a, b = days_l[left_idx[start: start + _CHUNK]], days_r[right_idx[start: start + _CHUNK]]
        gap = np.abs(a - b)
        chunk = out[start: start + _CHUNK]
        chunk[:] = grade(gap, thresholds, higher_is_closer=False)
        chunk[gap == 0] = len(thresholds) + 1
        chunk[(a == _NO_DATE) | (b == _NO_DATE)] = MISSING
    return out


def civil_parts(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of int64 day numbers since 1970-01-01, by numpy's calendar."""
    dates = days.astype("datetime64[D]")
    years = dates.astype("datetime64[Y]")
    months = dates.astype("datetime64[M]")
    return (years.astype(np.int64) + 1970, (months - years).astype(np.int64) + 1,
            (dates - months).astype(np.int64) + 1)


def _date_part_levels(days_l: _Days, days_r: _Days, left_idx, right_idx, thresholds=()) -> np.ndarray:
    """3 exact; 2 day and month swapped (same year, day != month); 1 exactly one of year,
    month and day differs; 0 otherwise; -1 missing. The clerical errors of a date of birth."""
    missing = (days_l.days[left_idx] == _NO_DATE) | (days_r.days[right_idx] == _NO_DATE)
    # each row's parts once, then gathered by pair (a row is in many pairs)
    ya, ma, da = (part[left_idx] for part in days_l.parts)
    yb, mb, db = (part[right_idx] for part in days_r.parts)
    same = (ya == yb).astype(np.int8) + (ma == mb) + (da == db)
    out = np.where(same == 2, np.int8(1), np.int8(DISAGREE)).astype(np.int8)
    out[(ya == yb) & (ma == db) & (da == mb) & (ma != da)] = 2
    out[same == 3] = 3
    out[missing] = MISSING
    return out


def _small_parts(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`civil_parts` of each day number (a missing one as 1970-01-01), as int16, int8, int8,
    in one compiled pass."""
    from sim.compare import kernels

    return kernels.small_parts(np.ascontiguousarray(days, np.int64), np.int64(_NO_DATE))


def _missing_sides(codes_l, codes_r, left_idx, right_idx) -> np.ndarray:
    """How many of the two values are missing (null or empty, code -1): 0, 1 or 2; never -1."""
    return ((codes_l[left_idx] < 0).astype(np.int8) + (codes_r[right_idx] < 0)).astype(np.int8)


_DAY_KINDS = {"date": _date_levels, "date_parts": _date_part_levels}
_NO_DATE = np.iinfo(np.int32).min
