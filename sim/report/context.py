"""Everything the audit report shows, computed from a study's ``summary.json`` alone.

:func:`context` turns the study summary (:func:`sim.studies.study.summarize_study`) into one plain dict
of formatted figures, tables and sentences. Both templates (HTML and Markdown) and the figures
read only this dict, so the two formats say the same thing, and what the report claims can be
tested against the summary without parsing a document. It is pure: the same summary and date
give the same dict.

Numbers are formatted here, once: counts as ``47,289``, rates as ``4.7%``, intervals compact in
tables (``52,348 [39,139-65,558]``) and in words in the text (``52,348 (95% interval 39,139 to
65,558)``). A figure from a single replicate has no interval and is shown alone.

>>> import json                                                                  # doctest: +SKIP
>>> ctx = context(json.load(open("out/august-2025/summary.json")))                # doctest: +SKIP
>>> ctx["funnel"]["stages"][-3]["total"]["text"]                                  # doctest: +SKIP
'52,348'
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

from sim.common.errors import InputError
from sim.common.metrics import AGE_QUARTILES, COUNT_KEYS
from sim.report.format import (Cells, Numbering, as_number, cell, fmt_count, fmt_number, fmt_rate, fmt_value, format_date,
                               format_seeds, paragraphs, prose, report_date, sentence, share_cell)
from sim.report.labels import (ADDRESS_AGE_LABELS, ADDRESS_CLASS_LABELS, CORRUPTION_LABELS, FACTS_DISCLOSED, FACTS_REQUESTS, FACTS_TIN_PATH,
                               KICKER, NAME_COMMONNESS_LABELS, ORIGIN_LABELS, PATH_LABELS, SSN_SOURCE_LABELS, SUBTITLE,
                               TITLE, WRONG_PERSON_LABELS, WRONG_PERSON_PHRASES, label_of, ordered_codes)

#: The report's paragraphs (templates/prose.j2).
PROSE = prose("prose.j2")


# --------------------------------------------------------------------------------------------
# The context


def context(summary: Mapping, *, date: _dt.date | None = None) -> dict:
    """Everything the report shows, from the study summary alone (see the module docstring).

    ``date`` defaults to :func:`report_date`. The result holds only strings, numbers, lists and
    dicts; the figures' data is in ``funnel``, ``address_class_figure`` and ``tradeoff``.
    """
    date = date or report_date()
    level = f"{round(100 * (summary.get('interval') or {}).get('level', 0.95)):d}%"
    policies = list(summary.get("policies") or [])
    if not policies:
        raise InputError("the study summary has no policies; re-run `matchsim run` to rewrite summary.json")
    baseline = next((p for p in policies if p.get("name") == summary.get("baseline_policy")), policies[0])
    seeds = list(summary.get("seeds") or [])
    config_sha = summary.get("config_sha256") or ""
    seeds_text = format_seeds(seeds)
    source = f"Source: matchsim study, config {config_sha[:12]}..., seed{'s' if len(seeds) != 1 else ''} {seeds_text}."

    tables = Numbering("Table")
    figures = Numbering("Figure")
    c = Cells(level)

    # Built in the order the report shows them, so tables and figures are numbered in that order.
    study = _study(summary, baseline, level, seeds_text)
    published = _published(summary, c)
    policy_rows = [_policy_row(p, c) for p in policies]
    ctx: dict = {
        "title": TITLE,
        "subtitle": SUBTITLE,
        "kicker": KICKER,
        "date": format_date(date),
        "date_iso": date.isoformat(),
        "level": level,
        "source": source,
        "study": study,
        "baseline": {"name": baseline.get("name", "n/a"), "description": baseline.get("description", "")},
    }
    ctx["published"] = {"table": tables.next("published"), "rows": published, "file": summary.get("published_file")}
    ctx["funnel"] = {**_funnel(baseline, c), "table": tables.next("funnel"), "figure": figures.next("funnel")}
    ctx["wrong_person"] = _wrong_person(baseline, c, tables)
    ctx["wrong_person"]["by_ssn_source"] = _breakdown_table(baseline, "ssn_source", c, tables)
    ctx["addresses"] = _addresses(baseline, c, tables)
    ctx["breakdowns"] = [t for name in ("address_class", "path", "corruption", "origin_group", "name_commonness")
                         if (t := _breakdown_table(baseline, name, c, tables))]
    has_classes = any(t["name"] == "address_class" for t in ctx["breakdowns"])
    ctx["address_class_figure"] = ({**_address_class_figure(baseline), "figure": figures.next("address-class")}
                                   if has_classes else None)
    ctx["policies"] = {"table": tables.next("policies"), "paths_table": tables.next("policy-paths"), "rows": policy_rows}
    ctx["tradeoff"] = {**_tradeoff(policy_rows, published), "figure": figures.next("tradeoff")}
    ctx["frontier"] = _frontier(policies, baseline, c, tables, figures)
    ctx["highlights"] = _highlights(ctx, policy_rows, baseline, c, policies)
    ctx["methodology"] = _methodology(summary, ctx, policies)
    fs = _fellegi_sunter(policies)
    ctx["fellegi_sunter"] = {"rows": fs, "table": tables.next("fellegi-sunter") if fs else None}
    ctx["parameters"] = {"table": tables.next("parameters"), "groups": _parameter_groups(summary.get("parameters") or [])}
    ctx["calibration"] = _calibration(summary.get("calibration"), c, tables)
    ctx["limitations"] = _limitations(summary, baseline)
    ctx["provenance"] = _provenance(summary, policies, ctx["date"], tables)
    return ctx


def _est(policy: Mapping, key: str) -> Mapping:
    return ((policy.get("aggregate") or {}).get("estimates") or {}).get(key) or {}


def _rate(policy: Mapping, key: str) -> Mapping:
    return ((policy.get("aggregate") or {}).get("rates") or {}).get(key) or {}


def _breakdown(policy: Mapping, name: str) -> Mapping:
    return ((policy.get("aggregate") or {}).get("breakdowns") or {}).get(name) or {}


def _mean(iv: Mapping | None) -> float | None:
    return (iv or {}).get("mean")


def _study(summary: Mapping, baseline: Mapping, level: str, seeds_text: str) -> dict:
    scale = summary.get("scale")
    simulated = _mean(((baseline.get("aggregate") or {}).get("simulated") or {}).get("requests"))
    n_requests = summary.get("n_requests")
    replicates = summary.get("replicates") or len(summary.get("seeds") or [])
    factor = n_requests / simulated if n_requests and simulated else None
    return {
        "scenario": summary.get("scenario", "n/a"),
        "config_sha256": summary.get("config_sha256", "n/a"),
        "config_short": (summary.get("config_sha256") or "n/a")[:12],
        "scale": scale,
        "scale_text": fmt_number(scale) if scale is not None else "n/a",
        "scale_percent": f"{100 * scale:.3g}%" if scale is not None else "n/a",
        "national": scale == 1,
        "replicates": replicates,
        "replicates_text": f"{replicates} replicate{'s' if replicates != 1 else ''}",
        "seeds": list(summary.get("seeds") or []),
        "seeds_text": seeds_text,
        "n_requests": fmt_count(n_requests),
        "simulated_requests": fmt_count(simulated),
        "estimate_factor": f"{factor:,.1f}" if factor else "n/a",
        "has_interval": replicates > 1,
        "interval_method": (summary.get("interval") or {}).get("method", "n/a"),
        "level": level,
        "n_policies": len(summary.get("policies") or []),
        "version": summary.get("version", "n/a"),
    }


def _published(summary: Mapping, c: Cells) -> list[dict]:
    """The published figures beside the simulated ones, with the verdict of each."""
    rows = []
    for t in summary.get("published") or []:
        rate = str(t.get("metric", "")).startswith("rates.")
        fmt = fmt_rate if rate else fmt_count
        bounds = t.get("bounds")
        if t.get("range"):
            target = f"{fmt(bounds[0])} to {fmt(bounds[1])}" if bounds else "n/a"
        elif t.get("tolerance") is not None:
            target = f"within {100 * t['tolerance']:.3g}%" + (f" ({fmt(bounds[0])} to {fmt(bounds[1])})" if bounds else "")
        else:
            target = "none"
        diff, rel = t.get("difference"), t.get("relative_difference")
        if diff is None:
            difference = "n/a"
        elif rate:
            difference = f"{100 * diff:+.1f} points"
        else:
            difference = f"{diff:+,.0f}" + (f" ({100 * rel:+.1f}%)" if rel is not None else "")
        within = t.get("within")
        name = str(t.get("name", "n/a"))
        rows.append({
            "name": name[:1].upper() + name[1:],
            "metric": t.get("metric", "n/a"),
            "rate": rate,
            "published": fmt(t.get("published")),
            "published_value": t.get("published"),
            "simulated": c(t.get("simulated"), rate=rate),
            "difference": difference,
            "target": target,
            "within": within,
            "verdict": {True: "Within target", False: "Outside target", None: "Shown only"}.get(within, "Shown only"),
            "verdict_class": {True: "within", False: "outside", None: "shown"}.get(within, "shown"),
            "source": t.get("source", ""),
        })
    return rows


# The funnel of the baseline policy: each stage from the summary's counts, total and per path.
_FUNNEL = (
    ("requests", "Requests in ICE's file"),
    ("passed_gate", "Passed the address gate"),
    ("matched", "Matched (one candidate or more met the rule)"),
    ("disclosed", "Address disclosed"),
    ("right_person_disclosures", "Right person"),
    ("wrong_person_disclosures", "Wrong person"),
)
_DERIVED = {"passed_gate", "matched"}


def _stage_value(counts: Mapping[str, Mapping], key: str, funnel: Mapping | None = None) -> Mapping:
    """A funnel stage's interval: a count of the summary, or for the two stages derived from the
    counts (passed the gate; matched, i.e. disclosed or ambiguous) the summary's per-seed
    ``aggregate.funnel`` interval; an older summary without it gives the mean alone."""
    if key in _DERIVED and funnel and funnel.get(key):
        return funnel[key]

    def m(k: str) -> float:
        return _mean(counts.get(k)) or 0.0

    if key == "passed_gate":
        return {"mean": m("requests") - m("gated") - m("no_path")}
    if key == "matched":
        return {"mean": m("disclosed") + m("ambiguous")}
    return counts.get(key) or {}


def _funnel(policy: Mapping, c: Cells) -> dict:
    estimates = (policy.get("aggregate") or {}).get("estimates") or {}
    by_path = _breakdown(policy, "path")
    paths = ordered_codes(list(by_path), ["tin", "address", "all", "(none)"])
    requests = _mean(estimates.get("requests"))
    funnel = (policy.get("aggregate") or {}).get("funnel") or {}
    stages = []
    for key, label in _FUNNEL:
        total = _stage_value(estimates, key, funnel.get("all"))
        stages.append({
            "key": key,
            "label": label,
            "derived": key in _DERIVED and not funnel,
            "total": c(total),
            "share_of_requests": share_cell(_mean(total), requests),
            "by_path": [c(_stage_value(by_path[p], key, funnel.get(p))) for p in paths],
        })
    return {
        "policy": policy.get("name", "n/a"),
        "paths": [{"code": p, "label": label_of(p, PATH_LABELS)} for p in paths],
        "stages": stages,
        "disclosed": _mean(estimates.get("disclosed")),
    }


# Columns of the breakdown tables: (header, what it shows).
_COLUMNS = {
    "requests": ("Requests", "requests"),
    "disclosed": ("Disclosed", "disclosed"),
    "right": ("Right person", "right_person_disclosures"),
    "wrong": ("Wrong person", "wrong_person_disclosures"),
    "wrong_share": ("Wrong-person share of disclosures", None),
    "deficient": ("Disclosed on a deficient address", "deficient_address_disclosures"),
    "missed": ("Missed matches", "missed_matches"),
    "tin": ("Through the TIN path", "disclosed_tin_path"),
    "address": ("Through the address path", "disclosed_address_path"),
}


def _row(label: str, counts: Mapping, columns: Sequence[str], c: Cells) -> dict:
    cells = []
    for col in columns:
        if col == "wrong_share":
            cells.append(share_cell(_mean(counts.get("wrong_person_disclosures")), _mean(counts.get("disclosed"))))
        else:
            cells.append(c(counts.get(_COLUMNS[col][1])))
    return {"label": label, "cells": cells}


_BREAKDOWN_TABLES = {
    # breakdown: (slug, title, first column, labels, order); its note is prose.j2's breakdown_note
    "address_class": ("address-class", "Requests and disclosures by the quality of ICE's address",
                      "Address class (as generated)", ADDRESS_CLASS_LABELS, list(ADDRESS_CLASS_LABELS)),
    "path": ("path", "Requests and disclosures by matching path", "Path", PATH_LABELS, ["tin", "address", "all", "(none)"]),
    "ssn_source": ("ssn-source", "Requests and disclosures by the SSN in ICE's file", "SSN in ICE's file",
                   SSN_SOURCE_LABELS, list(SSN_SOURCE_LABELS)),
    "corruption": ("corruption", "Requests and disclosures by the error in ICE's record", "Error in ICE's record",
                   CORRUPTION_LABELS, list(CORRUPTION_LABELS)),
    "origin_group": ("origin-group", "Requests and disclosures by origin group", "Origin group", ORIGIN_LABELS,
                     ["honduras", "guatemala", "mexico", "el_salvador", "cuba", "brazil", "china", "haiti", "ecuador",
                      "colombia", "other"]),
    "name_commonness": ("name-commonness", "Requests and disclosures by how common the surname is",
                        "Surname (Census 2010 rank)", NAME_COMMONNESS_LABELS, list(NAME_COMMONNESS_LABELS)),
}
_BREAKDOWN_COLUMNS = ("requests", "disclosed", "wrong", "wrong_share", "deficient", "missed")
_SSN_COLUMNS = ("requests", "disclosed", "right", "wrong", "wrong_share", "missed")


def _breakdown_table(policy: Mapping, name: str, c: Cells, tables: Numbering) -> dict | None:
    """One breakdown of the summary as a table (None if the summary lacks it); ``(none)``, the
    requests a breakdown does not apply to, is left out."""
    data = _breakdown(policy, name)
    if not data:
        return None
    slug, title, first, labels, order = _BREAKDOWN_TABLES[name]
    columns = _SSN_COLUMNS if name == "ssn_source" else _BREAKDOWN_COLUMNS
    rows = [_row(label_of(k, labels), data[k], columns, c) for k in ordered_codes([k for k in data if k != "(none)"], order)]
    return {"name": name, "table": tables.next(slug), "title": title, "first": first,
            "columns": [_COLUMNS[col][0] for col in columns], "rows": rows,
            "note": sentence(PROSE.breakdown_note(name))}


def _addresses(policy: Mapping, c: Cells, tables: Numbering) -> dict:
    """How old the addresses were and how many were new to ICE or current on August 7: the
    disclosures by path and by the quality of ICE's address, by the age of ICE's address and of
    the IRS's, and by the year of the final order, each share with its interval over seeds."""
    agg = policy.get("aggregate") or {}
    ice, irs = _breakdown(policy, "ice_address_age"), _breakdown(policy, "irs_address_age")
    ages = agg.get("address_ages") or {}
    if not (ice and ages):                  # a summary from before the world was dated
        return {"present": False, "text": [], "tables": []}

    def row(label: str, counts: Mapping, columns: Sequence[str]) -> dict:
        cells = []
        for col in columns:
            key, rate = _ADDRESS_COLUMNS[col][1:]
            cells.append(c(counts.get(key), rate=rate))
        return {"label": label, "cells": cells}

    def header(columns: Sequence[str]) -> list[str]:
        return [_ADDRESS_COLUMNS[col][0] for col in columns]

    overall = {**(agg.get("estimates") or {}), **(agg.get("rates") or {})}
    by_what = [row("All disclosures", overall, _NEW_COLUMNS)]
    for name, labels, order in (("path", PATH_LABELS, ["tin", "address", "all"]),
                                ("address_class", ADDRESS_CLASS_LABELS, list(ADDRESS_CLASS_LABELS))):
        data = _breakdown(policy, name)
        by_what += [row(label_of(k, labels), data[k], _NEW_COLUMNS)
                    for k in ordered_codes([k for k in data if k != "(none)"], order)]
    by_age = []
    none = {key: _ZERO for key in COUNT_KEYS}   # a band no seed reached is absent from its breakdown
    for band in ordered_codes(sorted((set(ice) | set(irs)) - {"(none)"}), list(ADDRESS_AGE_LABELS)):
        cells = row("", ice.get(band) or none, _ICE_AGE_COLUMNS)["cells"] + row("", irs.get(band) or none, _IRS_AGE_COLUMNS)["cells"]
        by_age.append({"label": label_of(band, ADDRESS_AGE_LABELS), "cells": cells})
    years = _breakdown(policy, "final_order_year")
    by_year = [row(y, years[y], _YEAR_COLUMNS) for y in sorted(k for k in years if k != "(none)")]

    def age(group: str, stat: str) -> dict:
        return c((ages.get(group) or {}).get(stat), years=True)

    tables_ = [
        ("new", "new-to-ice", "Disclosed addresses new to ICE and current on August 7, by path and by the quality of ICE's address",
         "Disclosures", _NEW_COLUMNS, by_what),
        ("ages", "address-ages", "Requests and disclosures by the age of ICE's address and of the IRS's",
         "Age of the address on June 27, 2025", _ICE_AGE_COLUMNS + _IRS_AGE_COLUMNS, by_age),
        ("years", "order-years", "Requests and disclosures by the year of the final order", "Year of the final order",
         _YEAR_COLUMNS, by_year),
    ]
    new_rate, current_rate = c(overall.get("updated_address_rate"), rate=True), c(overall.get("current_address_rate"), rate=True)
    age_cells = {g: {s: age(g, s) for s in AGE_QUARTILES} for g in ("ice_requests", "ice_disclosed", "irs_disclosed")}
    return {
        "present": True,
        "new_rate": new_rate,
        "current_rate": current_rate,
        "ice_median": age_cells["ice_requests"]["median"],
        "text": paragraphs(PROSE.addresses(
            policy.get("name", "n/a"), c(overall.get("disclosed")), c(overall.get("updated_address_disclosures")), new_rate,
            c(overall.get("current_address_disclosures")), current_rate, age_cells)),
        "tables": [{"name": name, "table": tables.next(slug), "title": title, "first": first, "columns": header(columns),
                    "rows": rows, "note": sentence(PROSE.addresses_note(name))}
                   for name, slug, title, first, columns, rows in tables_],
    }


#: The columns of the address tables: (heading, summary key, a share?).
_ADDRESS_COLUMNS = {
    "requests": ("Requests", "requests", False),
    "disclosed": ("Disclosed", "disclosed", False),
    "disclosure_rate": ("Share of requests disclosed", "disclosure_rate", True),
    "new": ("New to ICE", "updated_address_disclosures", False),
    "new_share": ("Share new to ICE", "updated_address_rate", True),
    "current": ("Current on August 7", "current_address_disclosures", False),
    "current_share": ("Share current on August 7", "current_address_rate", True),
    "wrong_share": ("Wrong-person share", "wrong_person_rate", True),
    "ice_requests": ("Requests, by the age of ICE's address", "requests", False),
    "irs_disclosed": ("Disclosed, by the age of the IRS's address", "disclosed", False),
    "irs_current_share": ("Share of these current on August 7", "current_address_rate", True),
}
_NEW_COLUMNS = ("disclosed", "new", "new_share", "current", "current_share", "wrong_share")
_ICE_AGE_COLUMNS = ("ice_requests", "disclosed", "new_share", "current_share")
_IRS_AGE_COLUMNS = ("irs_disclosed", "irs_current_share")
_YEAR_COLUMNS = ("requests", "disclosed", "disclosure_rate", "new_share", "current_share", "wrong_share")


_ZERO = {"mean": 0.0, "lo": 0.0, "hi": 0.0}


def _wrong_person(policy: Mapping, c: Cells, tables: Numbering) -> dict:
    """Whose address the wrong-person disclosures gave out: each kind of wrong person, the path
    it went through, and whether ICE's address was deficient."""
    kinds = _breakdown(policy, "wrong_person_kind")
    total = _mean(_est(policy, "wrong_person_disclosures"))
    rows = []
    for kind in ordered_codes([k for k in kinds if k != "(none)"] + [k for k in WRONG_PERSON_LABELS if k not in kinds],
                         list(WRONG_PERSON_LABELS)):
        # a kind no seed produced is absent from the breakdown: none of those disclosures (but
        # without the breakdown at all, nothing is known: n/a)
        zero = _ZERO if kinds else {}
        counts = kinds.get(kind) or {key: zero for key in ("wrong_person_disclosures", "disclosed_tin_path",
                                                           "disclosed_address_path", "deficient_address_disclosures")}
        wrong = counts.get("wrong_person_disclosures")
        rows.append({
            "code": kind,
            "label": label_of(kind, WRONG_PERSON_LABELS),
            "mean": as_number(_mean(wrong)) or 0.0,
            "cells": [c(wrong), share_cell(_mean(wrong), total), c(counts.get("disclosed_tin_path")),
                      c(counts.get("disclosed_address_path")), c(counts.get("deficient_address_disclosures"))],
        })
    est = (policy.get("aggregate") or {}).get("estimates") or {}
    total_row = {
        "label": "All wrong-person disclosures",
        "cells": [c(est.get("wrong_person_disclosures")), share_cell(total, total), cell(None), cell(None), cell(None)],
    }
    return {
        "table": tables.next("wrong-person"),
        "columns": ["Wrong-person disclosures", "Share of wrong-person disclosures", "Through the TIN path",
                    "Through the address path", "On a deficient address"],
        "rows": rows,
        "total": total_row,
        "total_cell": c(est.get("wrong_person_disclosures")),
        "rate": c(_rate(policy, "wrong_person_rate"), rate=True),
    }


def _address_class_figure(policy: Mapping) -> dict:
    data = _breakdown(policy, "address_class")
    classes = ordered_codes([k for k in data if k != "(none)"], list(ADDRESS_CLASS_LABELS))
    return {
        "policy": policy.get("name", "n/a"),
        "labels": [label_of(k, ADDRESS_CLASS_LABELS) for k in classes],
        "disclosed": [_interval3(data[k].get("disclosed")) for k in classes],
        "wrong": [_interval3(data[k].get("wrong_person_disclosures")) for k in classes],
    }


def _interval3(iv: Mapping | None) -> dict:
    iv = iv or {}
    return {"mean": iv.get("mean"), "lo": iv.get("lo"), "hi": iv.get("hi")}


def _policy_row(policy: Mapping, c: Cells) -> dict:
    return {
        "name": policy.get("name", "n/a"),
        "description": policy.get("description", ""),
        "role": policy.get("role", "n/a"),
        "role_label": {"baseline": "Baseline", "alternative": "Alternative"}.get(policy.get("role"), str(policy.get("role", "n/a"))),
        "disclosed": c(_est(policy, "disclosed")),
        "right": c(_est(policy, "right_person_disclosures")),
        "wrong": c(_est(policy, "wrong_person_disclosures")),
        "precision": c(_rate(policy, "precision"), rate=True),
        "recall": c(_rate(policy, "recall"), rate=True),
        "deficient_rate": c(_rate(policy, "deficient_address_rate"), rate=True),
        "tin": c(_est(policy, "disclosed_tin_path")),
        "address": c(_est(policy, "disclosed_address_path")),
        "updated_rate": c(_rate(policy, "updated_address_rate"), rate=True),
        "missed": c(_est(policy, "missed_matches")),
        "gated": c(_est(policy, "gated")),
    }


def _tradeoff(rows: Sequence[dict], published: Sequence[dict]) -> dict:
    disclosed = next((r for r in published if r["metric"] == "estimates.disclosed"), None)
    return {
        "points": [{"name": r["name"], "role": r["role"],
                    "x": _interval3(r["disclosed"]), "y": _interval3(r["wrong"])} for r in rows],
        "published_disclosed": disclosed["published_value"] if disclosed else None,
    }


#: Match probabilities quoted in the frontier table (sim.evaluate.FRONTIER_PROBABILITIES).
FRONTIER_TABLE_PROBABILITIES = (0.5, 0.9, 0.99, 0.999, 0.9999, 0.999999)


def _frontier(policies: Sequence[Mapping], baseline: Mapping, c: Cells, tables: Numbering,
              figures: Numbering) -> dict | None:
    """Section 6's precision-recall frontier: each Fellegi-Sunter policy's curve (means over
    seeds at every threshold), every policy as a point, and each model at the baseline's volume;
    a table of each model at quoted match probabilities and at that volume."""
    curves, rows = [], []
    for p in policies:
        pts = p.get("frontier")
        pts = [q for q in pts if isinstance(q, Mapping)] if isinstance(pts, list) else []
        if not pts:
            continue
        curve = [{"recall": _mean(pt.get("recall")), "precision": _mean(pt.get("precision")),
                  "probability": pt.get("match_probability")} for pt in pts]
        curves.append({"name": p.get("name", "n/a"),
                       "points": [q for q in curve if q["recall"] is not None and q["precision"] is not None]})
        for prob in FRONTIER_TABLE_PROBABILITIES:
            pt = min(pts, key=lambda q: abs((q.get("match_probability") or 0) - prob))
            if abs((pt.get("match_probability") or 0) - prob) > 1e-9:
                continue
            rows.append({"policy": p.get("name", "n/a"), "label": f"match probability >= {prob:g}",
                         "disclosed": c(pt.get("disclosed")), "wrong": c(pt.get("wrong_person_disclosures")),
                         "precision": c(pt.get("precision"), rate=True), "recall": c(pt.get("recall"), rate=True),
                         "same_volume": False})
        volume = p.get("same_volume")
        if isinstance(volume, Mapping):
            rows.append({"policy": p.get("name", "n/a"),
                         "label": f"at {volume.get('reference', 'the baseline')}'s volume (match weight about "
                                  f"{_weight_text(_mean(volume.get('match_weight')))})",
                         "disclosed": c(volume.get("disclosed")), "wrong": c(volume.get("wrong_person_disclosures")),
                         "precision": c(volume.get("precision"), rate=True), "recall": c(volume.get("recall"), rate=True),
                         "same_volume": True})
    if not curves:
        return None
    points = [{"name": p.get("name", "n/a"), "role": p.get("role", "n/a"),
               "recall": _interval3(_rate(p, "recall")), "precision": _interval3(_rate(p, "precision"))}
              for p in policies]
    volumes = [{"name": p.get("name", "n/a"), "recall": _mean(p["same_volume"].get("recall")),
                "precision": _mean(p["same_volume"].get("precision"))}
               for p in policies if isinstance(p.get("same_volume"), Mapping)]
    return {"curves": curves, "points": points, "volumes": volumes, "rows": rows,
            "baseline": baseline.get("name", "n/a"), "table": tables.next("frontier"), "figure": figures.next("frontier")}


def _weight_text(w: float | None) -> str:
    """A match weight and its probability: 6.6 -> "6.6, probability 0.99"; 22 -> "22.0,
    probability 1 - 2e-07" (a probability near 1 by its distance from 1)."""
    if w is None:
        return "n/a"
    if w > 13:
        return f"{w:.1f}, probability 1 - {2.0 ** -w:.0e}"
    return f"{w:.1f}, probability {1 / (1 + 2.0 ** -w):.4g}"


def _highlights(ctx: Mapping, rows: Sequence[dict], baseline: Mapping, c: Cells, policies: Sequence[Mapping]) -> dict:
    """The first page: why, what was simulated, what it found and what the alternatives do."""
    study, published = ctx["study"], ctx["published"]["rows"]
    base = next(r for r in rows if r["name"] == ctx["baseline"]["name"])
    n_alt = len(rows) - 1
    why = paragraphs(PROSE.why({"requests": FACTS_REQUESTS, "disclosed": FACTS_DISCLOSED, "tin_path": FACTS_TIN_PATH}))
    did = sentence(PROSE.did(study, base["name"], n_alt))
    published_figures = {}                  # each metric's published figure (the first, if two share one)
    for r in published:
        published_figures.setdefault(r["metric"], r["published"])

    wrong = ctx["wrong_person"]
    by_kind = ", ".join(f"{r['cells'][0]['text']} to {WRONG_PERSON_PHRASES.get(r['code'], r['label'].lower())}"
                        for r in sorted(wrong["rows"], key=lambda r: -r["mean"]) if r["mean"])
    found = paragraphs(PROSE.found(base, wrong, by_kind, published_figures, ctx["addresses"]))
    alternatives = []
    paired = {p.get("name"): p.get("vs_baseline") or {} for p in policies}
    for r in rows:
        if r["name"] == base["name"]:
            continue
        diff = paired.get(r["name"], {})
        alternatives.append({
            "name": r["name"],
            "description": r["description"],
            "text": sentence(PROSE.alternative(r, base["name"], _change(diff.get("wrong_person_disclosures"), "wrong-person"),
                                               _change(diff.get("right_person_disclosures"), "right-person disclosures"))),
        })
    for p in policies:
        volume = p.get("same_volume")
        if not isinstance(volume, Mapping):
            continue
        fewer = volume.get("fewer_wrong_person_disclosures") or {}
        alternatives.append({
            "name": f"{p.get('name', 'n/a')} at {volume.get('reference', base['name'])}'s volume",
            "description": "",
            "text": sentence(PROSE.same_volume(
                volume.get("reference", base["name"]), c(volume.get("disclosed"))["compact"],
                c(volume.get("wrong_person_disclosures"))["compact"],
                c(volume.get("reference_wrong_person_disclosures"))["compact"],
                _change(_negated(fewer), "wrong-person disclosures"), c(volume.get("precision"), rate=True)["text"],
                c(volume.get("recall"), rate=True)["text"])),
        })
    return {"why": why, "did": did, "found": found, "alternatives": alternatives}


def _negated(iv: Mapping) -> dict:
    """An interval of -x from one of x: the mean negated, the bounds negated and swapped."""
    def neg(v):
        return -v if isinstance(v, (int, float)) else v
    return {"mean": neg(iv.get("mean")), "lo": neg(iv.get("hi")), "hi": neg(iv.get("lo"))}


def _change(diff: Mapping | None, what: str) -> str:
    """"1,950 [1,700-2,200] fewer wrong-person": the paired difference from the baseline, seed by
    seed (summary ``vs_baseline``), with its interval."""
    if not diff or diff.get("mean") is None:
        return f"{what}: n/a"
    d, lo, hi = diff["mean"], diff.get("lo"), diff.get("hi")
    if lo is None or hi is None:
        return f"{fmt_count(abs(d))} {'more' if d > 0 else 'fewer'} {what}"
    if d < 0:                       # fewer: the interval of the magnitude, low to high
        lo, hi = -hi, -lo
    return f"{fmt_count(abs(d))} [{fmt_count(lo)} to {fmt_count(hi)}] {'more' if d > 0 else 'fewer'} {what}"


def _methodology(summary: Mapping, ctx: Mapping, policies: Sequence[Mapping]) -> dict:
    """The appendix's scope and methodology, in paragraphs."""
    study = ctx["study"]
    world = paragraphs(PROSE.world())
    estimates = paragraphs(PROSE.estimates(study))
    policy_list = [{"name": p.get("name", "n/a"), "role": p.get("role", "n/a"), "description": p.get("description", "")}
                   for p in policies]
    return {"world": world, "estimates": estimates, "policies": policy_list}


def _fellegi_sunter(policies: Sequence[Mapping]) -> list[dict]:
    """Each probabilistic policy's EM fit per seed: the prior match probability and convergence."""
    rows = []
    for p in policies:
        for seed, paths in sorted((p.get("fellegi_sunter") or {}).items()):
            for path, fit in sorted((paths or {}).items()):
                fit = fit or {}
                prior = fit.get("prior_match")
                how = fit.get("prior") or {}
                per_request = how.get("matches_per_request")
                rows.append({
                    "policy": p.get("name", "n/a"), "seed": seed, "path": path,
                    "prior": f"{prior:.3g}" if isinstance(prior, (int, float)) else "n/a",
                    "per_request": f"{per_request:.3f}" if isinstance(per_request, (int, float)) else "n/a",
                    "method": str(how.get("method", "em")).replace("_", " "),
                    "iterations": fit.get("iterations", "n/a"),
                    "converged": {True: "yes", False: "no"}.get(fit.get("converged"), "n/a"),
                })
    return rows


def _parameter_groups(parameters: Sequence[Mapping]) -> list[dict]:
    """The parameters grouped by their table (``world.households``, ``policy.paths.1``). A note
    is printed once: the row just below says ``(as above)``, a later one names the key it is with."""
    groups: dict[str, list[dict]] = {}
    first_with: dict[str, str] = {}
    previous = None
    for p in parameters:
        key = str(p.get("key", ""))
        parts = key.split(".")
        index = next((i for i, part in enumerate(parts) if part.isdigit()), None)
        cut = index + 1 if index is not None and index < len(parts) - 1 else len(parts) - 1
        group, leaf = ".".join(parts[:cut]) or "(top level)", ".".join(parts[cut:])
        note = str(p.get("note") or "")
        if note and note == previous:
            shown = "(as above)"
        elif note in first_with and len(note) > 60:
            shown = f"(as for {first_with[note]})"
        else:
            shown = note
            if note:
                first_with[note] = key
        previous = note
        groups.setdefault(group, []).append({"key": key, "leaf": leaf, "value": fmt_value(p.get("value")),
                                             "full_note": note, "note": shown})
    return [{"name": name, "rows": rows} for name, rows in groups.items()]


def _calibration(raw: Any, c: Cells, tables: Numbering) -> dict:
    """The record of the calibration (``matchsim calibrate`` writes it into the config),
    rendered defensively: a missing or malformed entry is shown as n/a."""
    if not raw:
        return {"present": False}
    cal = raw if isinstance(raw, Mapping) else {}

    def get(d: Any, k: str) -> Any:
        return d.get(k) if isinstance(d, Mapping) else None

    def show(v: Any) -> str:
        return "n/a" if v is None else fmt_value(v)

    def metric_fmt(metric: Any, v: Any, *, difference: bool = False) -> str:
        if as_number(v) is None:
            return show(v)
        if str(metric).startswith("rates."):
            return f"{100 * v:+.1f} points" if difference else fmt_rate(v)
        return f"{v:+,.0f}" if difference else fmt_count(v)

    def verdict(t: Any) -> str:
        if not isinstance(t, Mapping) or "within" not in t:
            return "n/a"
        return {True: "within", False: "outside", None: "shown only"}.get(t["within"], "n/a")

    def seeds(d: Any) -> str:
        value = get(d, "seeds")
        return ", ".join(str(x) for x in _list(value)) or "n/a"

    facts = [("Date", show(get(cal, "date"))), ("matchsim version", show(get(cal, "version"))),
             ("Targets file", show(get(cal, "targets_file"))), ("Scale", show(get(cal, "scale"))),
             ("Replicates per point", show(get(cal, "replicates"))),
             ("Seeds", seeds(cal)),
             ("Iterations", show(get(cal, "iterations"))), ("Runs", show(get(cal, "runs"))),
             ("Converged", {True: "yes", False: "no"}.get(get(cal, "converged"), "n/a"))]
    parameters = []
    for p in _list(get(cal, "parameters")):
        rng = get(p, "range")
        parameters.append({"key": show(get(p, "key")), "start": show(get(p, "start")), "fitted": show(get(p, "fitted")),
                           "range": f"{fmt_value(rng[0])} to {fmt_value(rng[1])}" if isinstance(rng, (list, tuple)) and len(rng) == 2 else "n/a",
                           "balance": show(get(p, "balance")) if get(p, "balance") else "none"})
    targets = []
    for t in _list(get(cal, "targets")):
        m = get(t, "metric")
        rel = as_number(get(t, "relative_residual"))
        targets.append({"name": show(get(t, "name")), "metric": show(m), "published": metric_fmt(m, get(t, "published")),
                        "simulated": metric_fmt(m, get(t, "simulated")), "residual": metric_fmt(m, get(t, "residual"), difference=True),
                        "relative": f"{100 * rel:+.1f}%" if rel is not None else "n/a",
                        "within": verdict(t)})
    parameters_table, targets_table = tables.next("calibration-parameters"), tables.next("calibration-targets")
    confirm = get(cal, "confirm")
    confirm_ctx = None
    if isinstance(confirm, Mapping):
        rows = []
        for t in _list(get(confirm, "targets")):
            m = get(t, "metric")
            rate = str(m).startswith("rates.")
            sim = get(t, "simulated")
            rows.append({"name": show(get(t, "name")), "metric": show(m), "published": metric_fmt(m, get(t, "published")),
                         "simulated": c(sim if isinstance(sim, Mapping) else {"mean": sim}, rate=rate)["compact"],
                         "within": verdict(t)})
        confirm_ctx = {"scale": show(get(confirm, "scale")), "replicates": show(get(confirm, "replicates")),
                       "seeds": seeds(confirm), "targets": rows,
                       "table": tables.next("calibration-confirm")}
    if not isinstance(raw, Mapping):
        facts.append(("Record as written", fmt_value(raw)))
    return {"present": True, "facts": facts, "parameters": parameters, "targets": targets, "confirm": confirm_ctx,
            "parameters_table": parameters_table, "targets_table": targets_table}


def _list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else []


def _limitations(summary: Mapping, baseline: Mapping) -> list[str]:
    scale = summary.get("scale")
    return paragraphs(PROSE.limitations(
        {"name": baseline.get("name", "n/a"), "description": baseline.get("description", "n/a")},
        fmt_number(scale) if scale is not None and scale < 1 else None, summary.get("calibration") is not None))


def _provenance(summary: Mapping, policies: Sequence[Mapping], date: str, tables: Numbering) -> dict:
    libraries = summary.get("libraries") or {}
    facts = [
        ("Scenario", str(summary.get("scenario", "n/a"))),
        ("Config sha256", str(summary.get("config_sha256", "n/a"))),
        ("matchsim version", str(summary.get("version", "n/a"))),
        ("Seeds", ", ".join(str(s) for s in summary.get("seeds") or []) or "n/a"),
        ("Scale", fmt_number(summary.get("scale"))),
        ("Requests in ICE's file (n_requests)", fmt_count(summary.get("n_requests"))),
        ("Reference data sha256", str(summary.get("data_sha256", "n/a"))),
        ("Libraries", ", ".join(f"{k} {v}" for k, v in sorted(libraries.items())) or "n/a"),
        ("Published figures file", str(summary.get("published_file") or "none")),
        ("Interval", str((summary.get("interval") or {}).get("method", "n/a"))),
        ("Report date", date),
    ]
    worlds = [{"seed": s, "sha256": h} for s, h in sorted((summary.get("world_sha256") or {}).items())]
    units = [{"policy": p.get("name", "n/a"), "seed": u.get("seed", "n/a"), "dir": u.get("dir", "n/a"),
              "config_sha256": u.get("config_sha256", "n/a")} for p in policies for u in p.get("units") or []]
    return {
        "facts": facts,
        "worlds": worlds,
        "policies": [{"name": p.get("name", "n/a"), "sha256": p.get("policy_sha256", "n/a")} for p in policies],
        "units": units,
        "worlds_table": tables.next("provenance-worlds"),
        "policies_table": tables.next("provenance-policies"),
        "units_table": tables.next("provenance-units"),
    }


__all__ = ["context"]
