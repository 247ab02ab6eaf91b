"""A Fellegi-Sunter path of a policy in Splink's terms: its settings dictionary.

Splink (https://moj-analytical-services.github.io/splink/) is the field's reference
implementation of the Fellegi-Sunter model; tests/test_splink.py checks matchsim's model against
it. :func:`settings` translates a path into a Splink 5 settings dictionary for a ``link_only``
job of two tables in the match schema (:mod:`sim.match.prepare`) with a ``unique_id`` column:

* each comparison becomes a custom comparison (``CustomComparison`` from the dictionary), its
  levels SQL conditions on ``column_l`` and ``column_r``: first the null level (a composite's
  ``missing`` level, or either value missing), then the levels closest first, then ``ELSE``.
  Splink numbers them as matchsim's gamma: -1 null, ``n`` the closest ... 0 different;
* a composite level holds when all the terms of any of its alternatives hold, a term being
  "feature k's gamma lies in [low, high]": a condition on the feature's score, or on its gamma
  written as a SQL ``CASE`` (:func:`gamma_sql`), graded as :mod:`sim.compare.comparisons` grades it
  (Jaro-Winkler by DuckDB's ``jaro_winkler_similarity`` with the same tolerance at the
  thresholds, Levenshtein by ``levenshtein``, dates by day differences and
  ``year``/``month``/``day``);
* the blocking rules become ``l.col = r.col AND ...`` (a null key never pairs, as in
  :mod:`sim.match.blocking`);
* m and u, when given, are set on every level (level ``gamma`` gets ``m[k][gamma]``), the prior
  when given is ``probability_two_random_records_match``, and EM's tolerance and iteration cap
  are the path's.

The conditions are DuckDB SQL. Missing values must be nulls, as :mod:`sim.match.prepare` makes
them (an empty string is a value to SQL). Only a dictionary is built here: Splink itself is not
imported, so this module works without it installed.

>>> from sim.compare import comparisons as compare
>>> [level["sql_condition"] for level in comparison_levels(compare.exact("zip5"))]
['(zip5_l IS NULL OR zip5_r IS NULL)', 'zip5_l = zip5_r', 'ELSE']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sim.config import MATCH_COLUMNS, PathConfig
from sim.compare import comparisons as compare
from sim.compare.comparisons import SCORE_TOLERANCE, Comparison, Composite, Term
from sim.match.policy import comparisons_of


def gamma_sql(feature: Comparison | Composite) -> str:
    """A SQL expression for the gamma of a comparison: -1 missing, 0 different, ``1..n`` loosest
    to closest, as :mod:`sim.compare.comparisons` grades a pair (a composite: the first of its levels
    that holds, closest first)."""
    if isinstance(feature, Composite):
        whens = [f"WHEN {_any_of_sql(feature.features, feature.missing.any_of)} THEN -1"] if feature.missing is not None else []
        whens += [f"WHEN {_any_of_sql(feature.features, level.any_of)} THEN {gamma}"
                  for gamma, level in zip(range(feature.n_levels, 0, -1), feature.comparison_levels)]
        return "CASE " + " ".join(whens) + " ELSE 0 END"
    a, b = _sides(feature)
    if feature.kind == "missing_sides":
        return f"(CAST({a} IS NULL AS INTEGER) + CAST({b} IS NULL AS INTEGER))"
    whens = [f"WHEN {a} IS NULL OR {b} IS NULL THEN -1", f"WHEN {a} = {b} THEN {feature.n_levels}"]
    if feature.kind == "date_parts":
        same = " + ".join(f"CAST({part}({a}) = {part}({b}) AS INTEGER)" for part in ("year", "month", "day"))
        whens += [f"WHEN year({a}) = year({b}) AND month({a}) = day({b}) AND day({a}) = month({b}) "
                  f"AND month({a}) <> day({a}) THEN 2",
                  f"WHEN {same} = 2 THEN 1"]
    else:
        # thresholds are loosest first: level i + 1 is thresholds[i]; the closest is tried first
        for level in range(len(feature.thresholds), 0, -1):
            whens.append(f"WHEN {_meets(feature, a, b, feature.thresholds[level - 1])} THEN {level}")
    return "CASE " + " ".join(whens) + " ELSE 0 END"


def _meets(feature: Comparison, a: str, b: str, threshold: float) -> str:
    if feature.kind == "jaro_winkler":
        # a score a hair below a threshold meets it (float rounding: AMANDA/ARIANA scores
        # 0.7999999999999999), as compare.SCORE_TOLERANCE; a literal in e-notation is a DOUBLE
        return f"jaro_winkler_similarity({a}, {b}) >= {threshold - SCORE_TOLERANCE:.17e}"
    if feature.kind == "levenshtein":
        return f"levenshtein({a}, {b}) <= {int(threshold)}"
    if feature.kind == "date":
        return f"abs(date_diff('day', {a}, {b})) <= {int(threshold)}"
    raise ValueError(f"no thresholds to meet for a comparison of kind {feature.kind!r}")


def _term_sql(features: Sequence[Comparison | Composite], term: Term) -> str:
    """SQL for "feature k's gamma lies in [low, high]"."""
    k, low, high = term
    feature = features[k]
    if isinstance(feature, Composite):          # a composite of composites: the feature's own CASE
        if low == high == compare.MISSING and feature.missing is not None:
            return f"({_any_of_sql(feature.features, feature.missing.any_of)})"
        return f"({gamma_sql(feature)}) BETWEEN {low} AND {high}"
    a, b = _sides(feature)
    if low == high == compare.MISSING and feature.kind != "missing_sides":
        return f"({a} IS NULL OR {b} IS NULL)"
    if low == high == feature.n_levels and feature.kind != "missing_sides":
        return f"{a} = {b}"                        # the exact level: equal values
    if feature.kind in _GRADED and low >= 1:
        # gamma >= low and not gamma >= high + 1: conditions on the score, not a whole CASE
        sql = _at_least(feature, a, b, low)
        return sql if high >= feature.n_levels else f"{sql} AND NOT ({_at_least(feature, a, b, high + 1)})"
    gamma = gamma_sql(feature)
    return f"{gamma} = {low}" if low == high else f"{gamma} BETWEEN {low} AND {high}"


#: Kinds whose levels are nested: a pair at a level meets every looser one, and equal values
#: (Jaro-Winkler 1, distance 0, 0 days apart) meet every threshold.
_GRADED = ("exact", "jaro_winkler", "levenshtein", "date")


def _at_least(feature: Comparison, a: str, b: str, level: int) -> str:
    """gamma >= level (1 <= level <= n) of a graded comparison; null (false) when either value
    is missing."""
    return f"{a} = {b}" if level == feature.n_levels else _meets(feature, a, b, feature.thresholds[level - 1])


def _sides(feature: Comparison) -> tuple[str, str]:
    col_l, col_r = feature.columns
    return f"{col_l}_l", f"{col_r}_r"


def _any_of_sql(features: Sequence[Comparison | Composite], any_of) -> str:
    alternatives = [" AND ".join(f"({_term_sql(features, t)})" for t in terms) for terms in any_of]
    return alternatives[0] if len(alternatives) == 1 else " OR ".join(f"({alt})" for alt in alternatives)


def comparison_levels(comparison: Comparison | Composite, m: Sequence[float] | None = None,
                      u: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """Splink's comparison levels of a comparison, null level first, then closest first, then
    ``ELSE``; with ``m``/``u`` (indexed by gamma, 0 = different) set on each."""
    if isinstance(comparison, Composite):
        features = comparison.features
        null = _any_of_sql(features, comparison.missing.any_of) if comparison.missing is not None else None
        closest_first = [(level.label, _any_of_sql(features, level.any_of)) for level in comparison.comparison_levels]
    else:
        # level gamma: gamma or closer, as Splink takes the first level that holds
        one = (comparison,)
        null = None if comparison.kind == "missing_sides" else _term_sql(one, (0, compare.MISSING, compare.MISSING))
        closest_first = [(str(name), _term_sql(one, (0, gamma, comparison.n_levels)))
                         for gamma, name in zip(range(comparison.n_levels, 0, -1), reversed(comparison.level_names))]
    n = comparison.n_levels
    levels: list[dict[str, Any]] = []
    if null is not None:
        levels.append({"sql_condition": null, "label_for_charts": "missing", "is_null_level": True})
    levels += [{"sql_condition": sql, "label_for_charts": label} for label, sql in closest_first]
    levels.append({"sql_condition": "ELSE", "label_for_charts": "different"})
    if m is not None or u is not None:
        for gamma, level in zip(range(n, -1, -1), levels[1 if null is not None else 0:]):
            if m is not None:
                level["m_probability"] = float(m[gamma])
            if u is not None:
                level["u_probability"] = float(u[gamma])
    return levels


def blocking_rule(columns: Sequence[str]) -> str:
    """A blocking rule as Splink's SQL: every column equal (and so present) on both sides."""
    return " AND ".join(f"l.{c} = r.{c}" for c in columns)


def settings(path: PathConfig, *, m: Sequence[Sequence[float]] | None = None,
             u: Sequence[Sequence[float]] | None = None, prior: float | None = None) -> dict[str, Any]:
    """Splink's settings dictionary for ``path`` (a Fellegi-Sunter path): its comparisons,
    named by their keys, and its blocking rules; m and u per comparison (as a fitted
    :class:`sim.match.fellegi_sunter.FellegiSunter` holds them) and the prior when given, else
    Splink's defaults. Term-frequency adjustment is not translated."""
    fs = path.fellegi_sunter
    if fs is None:
        raise ValueError(f"path '{path.name}' does not decide by Fellegi-Sunter; Splink's settings need one that does")
    comparisons = []
    for k, (config, comparison) in enumerate(zip(path.comparisons, comparisons_of(path))):
        comparisons.append({
            "output_column_name": config.key,
            "comparison_description": comparison.description,
            "comparison_levels": comparison_levels(comparison, None if m is None else m[k], None if u is None else u[k]),
        })
    out = {
        "link_type": "link_only",
        "unique_id_column_name": "unique_id",
        "comparisons": comparisons,
        "blocking_rules_to_generate_predictions": [blocking_rule(rule) for rule in path.blocking],
        "em_convergence": fs.tolerance,
        "max_iterations": fs.max_iterations,
    }
    if prior is not None:
        out["probability_two_random_records_match"] = float(prior)
    return out


def deterministic_rules(path: PathConfig) -> list[str]:
    """The path's deterministic rules (``fellegi_sunter.deterministic_rules``: comparison keys
    and the loosest level accepted) as Splink's SQL rules on ``l.`` and ``r.``, for Splink's
    ``estimate_probability_two_random_records_match``: a comparison at its level or a closer
    one (any of those levels' conditions, and not its null level)."""
    comparisons = dict(zip((c.key for c in path.comparisons), comparisons_of(path)))
    out = []
    for rule in path.fellegi_sunter.deterministic_rules:
        parts = []
        for key, level in rule.items():
            comparison = comparisons[key]
            levels = comparison_levels(comparison)
            null = [lv["sql_condition"] for lv in levels if lv.get("is_null_level")]
            # the levels closest first, down to the one the rule names
            accepted = [lv["sql_condition"] for lv in levels if not lv.get("is_null_level")][
                : comparison.n_levels - list(comparison.level_names).index(level)]
            sql = accepted[0] if len(accepted) == 1 else "(" + " OR ".join(f"({c})" for c in accepted) + ")"
            parts += [f"NOT ({c})" for c in null] + [sql]
        out.append(_ON_SIDES.sub(r"\2.\1", " AND ".join(parts)))
    return out


#: A column of one side in a comparison level (``first_name_l``), as a blocking rule names it
#: (``l.first_name``).
_ON_SIDES = re.compile(r"\b(" + "|".join(sorted(MATCH_COLUMNS, key=len, reverse=True)) + r")_([lr])\b")


__all__ = ["settings", "deterministic_rules", "comparison_levels", "gamma_sql", "blocking_rule"]
