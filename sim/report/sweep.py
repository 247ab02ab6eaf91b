"""The report of a parameter sweep: report.html, from the sweep's summary.json alone.

``matchsim sweep SWEEP.toml -o DIR`` runs a scenario at every point of a design, each point on
the same replicate seeds, and writes DIR/summary.json (``kind = "sweep"``). This module turns
that summary into one self-contained report.html in the style of the audit report
(:mod:`sim.report`): a title page with highlights (what was swept, over which design and seeds,
how many units ran, which point is the reference and why, and how far each metric moved between
its lowest and its highest point, each end also as its paired difference from the reference),
one figure of each metric against each swept parameter, a heatmap per metric for a grid over
two parameters, a table of every point (the reference's row marked), a table of every point's
difference from the reference point seed by seed (Section 2.1), the failed units, and an
appendix with the provenance and the commands that reproduce the sweep or any one unit of it.

Every point runs on the same seeds, so a point minus the reference within a seed (the summary's
``vs_reference``) carries none of the seed-to-seed variation of the simulated worlds: these
paired intervals are usually much narrower than the two points' own intervals side by side, and
the report gives them wherever it compares a point with the reference. A summary without a
reference (a Latin hypercube, usually, or one written before sweeps had references) says so,
and how to name one.

The pipeline is the audit report's:

1. :func:`sweep_context`: the summary -> every number, table and sentence the report shows
   (the paragraphs' words in ``templates/sweep_prose.j2``), formatted once (counts as ``47,289``, rates as ``4.7%``, intervals as ``47,289
   [46,800-47,700]``; paired differences signed, ``+2,300 [+2,180 to +2,420]`` and rates in
   percentage points, ``-2.8 points [-3.0 to -2.6]``; a mean from one seed has no interval, an
   undefined rate is ``n/a``). Pure, so what the report claims is testable without parsing a
   document.
2. :func:`render_sweep_html`: the context through ``templates/sweep.html.j2`` (autoescaped:
   the sweep's name, description, parameter values and error messages are user text), with the
   figures drawn by matplotlib as inline SVG ``data:`` URIs. Pure and deterministic: with
   ``SOURCE_DATE_EPOCH`` set, re-renders are byte-identical.
3. :func:`write_sweep_report`: report.html, written atomically.

>>> import json                                                                  # doctest: +SKIP
>>> write_sweep_report(json.load(open("out/sweep/summary.json")), "out/sweep")    # doctest: +SKIP
PosixPath('out/sweep/report.html')
"""

from __future__ import annotations

import datetime as _dt
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.common.errors import InputError, OutputExistsError
from sim.common.io import atomic_write_text
from sim.report.format import (Numbering, as_number, cell, difference_cell, fmt_metric, fmt_value, format_date, format_seeds,
                               index_of, interval_level, plural, prose, report_date, same_value, sentence, short_labels,
                               toml_value)
from sim.report.labels import DESIGN_LABELS, SWEEP_KICKER, is_rate, metric_label
from sim.studies.sweep import DIFFERENCE_METHOD

HTML_FILE = "report.html"

#: The report's paragraphs (templates/sweep_prose.j2).
PROSE = prose("sweep_prose.j2")

#: Series of a figure that share the other parameters' values get a legend up to this many.
MAX_LEGEND = 10


# --------------------------------------------------------------------------------------------
# The context


def sweep_context(summary: Mapping, *, date: _dt.date | None = None) -> dict:
    """Everything the sweep report shows, from the sweep's summary alone (see the module
    docstring). ``date`` defaults to :func:`sim.report.context.report_date`.

    The result holds only strings, numbers, lists and dicts. ``metrics`` has, for each metric,
    its highlight (``range``: the lowest and the highest point by mean), the data of its figures
    against each parameter (``figures``) and of its heatmap (``heatmap``, a grid over exactly two
    parameters only); ``points`` the table of every point; ``reference`` the reference point
    (``point`` None when there is none, or the summary predates references) and why;
    ``differences`` the table of every point's paired difference from it; ``failures`` the
    failed units. Raises :class:`InputError` for a summary that is not a sweep's.
    """
    kind = summary.get("kind")
    if kind is not None and kind != "sweep":
        raise InputError(f"summary.json is a {kind!r} summary, not a sweep's (kind = \"sweep\"); "
                         "render a study with `matchsim report DIR`, or point at the sweep's output directory")
    date = date or report_date()
    level, interval_text = interval_level(summary.get("interval"))
    design = summary.get("design") if isinstance(summary.get("design"), Mapping) else {}
    design_kind = str(design.get("kind") or "grid")
    columns = [str(c) for c in summary.get("columns") or []]
    raw_params = [p for p in summary.get("parameters") or [] if isinstance(p, Mapping) and p.get("key")]
    points = [p for p in summary.get("points") or [] if isinstance(p, Mapping)]
    metrics = [str(m) for m in summary.get("metrics") or []]
    seeds = list(summary.get("seeds") or [])
    keys = list(dict.fromkeys([str(p["key"]) for p in raw_params] + columns))
    short = short_labels(keys)
    params = [_parameter(p, points, short) for p in raw_params]
    name = str(summary.get("sweep") or "n/a")
    sweep_sha = str(summary.get("sweep_sha256") or "n/a")

    tables = Numbering("Table")
    figures = Numbering("Figure")
    ctx: dict = {
        "title": f"Parameter sweep: {name}",
        "name": name,
        "kicker": SWEEP_KICKER,
        "description": str(summary.get("description") or ""),
        "date": format_date(date),
        "date_iso": date.isoformat(),
        "level": level,
        "interval": interval_text,
        "version": str(summary.get("version") or (summary.get("provenance") or {}).get("version") or "n/a"),
        "scenario": str(summary.get("scenario") or "n/a"),
        "base": str(summary.get("base") or "n/a"),
        "source": f"Source: matchsim sweep {name}, sweep file sha256 {sweep_sha[:12]}..., "
                  f"seed{'s' if len(seeds) != 1 else ''} {format_seeds(seeds)}.",
        "parameters": params,
        "design": _design(design_kind, design, len(points), params),
        "seeds": {"list": seeds, "n": len(seeds), "text": format_seeds(seeds),
                  "has_interval": len(seeds) > 1},
        "units": _units(summary, points, seeds),
        "grid2": design_kind == "grid" and len(params) == 2,
    }
    ctx["reference"] = _reference(summary, points, params, level, has_interval=len(seeds) > 1)
    ctx["metrics"] = []
    for m in metrics:
        entry = {"key": m, "label": metric_label(m), "rate": is_rate(m),
                 "range": _metric_range(m, points, params, level, ctx["reference"])}
        limits = _limits(m, points)
        entry["figures"] = [{**_figure_data(m, p, params, points, design_kind, level), "ylim": limits,
                             "figure": figures.next(f"{_slug(m)}-{_slug(p['key'])}")} for p in params]
        entry["heatmap"] = ({**_heatmap_data(m, params, points), "figure": figures.next(f"{_slug(m)}-heatmap")}
                            if ctx["grid2"] else None)
        ctx["metrics"].append(entry)
    ctx["highlights"] = _highlights(ctx)
    ctx["table_columns"] = [{"key": c, "short": short.get(c, c), "balance": c not in {p["key"] for p in params}}
                            for c in columns]
    ctx["points"] = {"table": tables.next("points"),
                     "rows": [_point_row(p, columns, metrics, params, level, ctx["reference"]["point"])
                              for p in points],
                     "balance_note": _balance_note(params, short)}
    ctx["differences"] = _differences(ctx, points, metrics, params, tables)
    ctx["failures"] = _failures(summary, points, params, tables)
    ctx["provenance"] = _provenance(summary, ctx, points, columns, tables)
    return ctx


def _slug(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(key).lower()).strip("-") or "x"


def _parameter(p: Mapping, points: Sequence[Mapping], short: Mapping[str, str]) -> dict:
    """A swept parameter: its labels, whether its axis is numeric or categorical, its values in
    the order the sweep file gave them (then any other value the points hold, first seen first),
    and a sentence of what was swept."""
    key = str(p["key"])
    given = list(p["values"]) if isinstance(p.get("values"), (list, tuple)) else []
    seen = [pt["values"][key] for pt in points if isinstance(pt.get("values"), Mapping) and key in pt["values"]]
    values = list(given)
    for v in seen:
        if index_of(values, v) is None:
            values.append(v)
    rng = p.get("range") if isinstance(p.get("range"), (list, tuple)) and len(p["range"]) == 2 else None
    numeric = all(as_number(v) is not None for v in values) and (bool(values) or rng is not None)
    balance = str(p["balance"]) if p.get("balance") else None
    if given:
        what = ", ".join(fmt_value(v) for v in given)
        what = f"{'values' if len(given) > 1 else 'value'} {what}"
    elif rng is not None:
        what = f"drawn from {fmt_value(rng[0])} to {fmt_value(rng[1])}"
    else:
        what = "values n/a"
    return {
        "key": key, "short": short.get(key, key), "kind": "numeric" if numeric else "categorical",
        "values": values, "range": list(rng) if rng else None, "balance": balance,
        "what": what,
    }


def _design(kind: str, design: Mapping, n_points: int, params: Sequence[Mapping]) -> dict:
    seed = design.get("seed")
    if kind == "grid":
        sizes = " x ".join(str(len(p["values"])) for p in params)
        text = (f"a grid of {plural(n_points, 'point')}, every combination of the values"
                + (f" ({sizes})" if len(params) > 1 else ""))
    elif kind == "lhs":
        text = (f"a Latin hypercube of {plural(n_points, 'point')} (each range cut into {n_points} strata, "
                f"one draw in each), design seed {seed}")
    elif kind == "random":
        text = f"{plural(n_points, 'point')} drawn uniformly at random, design seed {seed}"
    else:
        text = f"a {kind} design of {plural(n_points, 'point')}"
    return {"kind": kind, "label": DESIGN_LABELS.get(kind, kind), "n_points": n_points,
            "seed": seed, "digits": design.get("digits"), "text": text}


def _units(summary: Mapping, points: Sequence[Mapping], seeds: Sequence[Any]) -> dict:
    units = summary.get("units") if isinstance(summary.get("units"), Mapping) else {}
    total = units.get("total")
    ok = units.get("ok")
    failed = units.get("failed")
    total = total if isinstance(total, int) else len(points) * len(seeds)
    ok = ok if isinstance(ok, int) else sum(int(p.get("ok") or 0) for p in points)
    failed = failed if isinstance(failed, int) else sum(int(p.get("failed") or 0) for p in points)
    empty = [p.get("point") for p in points if not p.get("metrics")]
    text = f"{plural(total, 'unit')} (a point on one seed): {ok:,} ran, {failed:,} failed"
    if empty:
        listed = ", ".join(str(e) for e in empty[:10]) + (f" and {len(empty) - 10:,} more" if len(empty) > 10 else "")
        one = len(empty) == 1
        text += (f"; {plural(len(empty), 'point')} ({listed}) {'has' if one else 'have'} no result, "
                 f"every unit of {'it' if one else 'them'} failed")
    return {"total": total, "ok": ok, "failed": failed, "empty_points": empty, "text": text + "."}


def _values_text(point: Mapping, params: Sequence[Mapping]) -> str:
    """``zip_only = 0.05, placeholder = 0.01``: a point by its swept values."""
    values = point.get("values") if isinstance(point.get("values"), Mapping) else {}
    return ", ".join(f"{p['short']} = {fmt_value(values[p['key']]) if p['key'] in values else 'n/a'}" for p in params)


def _interval(point: Mapping, metric: str, of: str = "metrics") -> Mapping | None:
    """The point's interval of ``metric`` in its ``of``: ``metrics`` (its level) or
    ``vs_reference`` (its paired difference from the reference). None where the summary has
    none: for a difference, at the reference itself, without a reference, without a seed in
    common with it, or in a summary older than references."""
    group = point.get(of)
    m = group.get(metric) if isinstance(group, Mapping) else None
    return m if isinstance(m, Mapping) else None


def _reference(summary: Mapping, points: Sequence[Mapping], params: Sequence[Mapping], level: str, *,
               has_interval: bool) -> dict:
    """The point every other is compared with seed by seed (the summary's ``reference``), why it
    is the one, and the sentences that say so; or, with none, the sentence that says so and how
    to name one. A summary written before sweeps had a reference (no ``reference`` key) has
    none. ``point`` is the reference's index, or None."""
    raw = summary.get("reference")
    index = raw.get("point") if isinstance(raw, Mapping) else None
    if isinstance(index, bool) or not isinstance(index, int):
        index = None
    if index is None:
        legacy = "reference" not in summary
        why = sentence(PROSE.no_reference(legacy))
        # a point that ran: one whose values make no valid scenario cannot be the reference
        first = next((p for p in points if isinstance(p.get("values"), Mapping) and p.get("metrics")), None)
        values = first["values"] if first else {}
        named = {p["key"]: values[p["key"]] for p in params if p["key"] in values}
        example = f"reference = {toml_value(named)}" if named else 'reference = { "<swept key>" = value, ... }'
        how = sentence(PROSE.how_to_name(bool(named), first.get("point") if first else None))
        return {"point": None, "values_text": None, "reason": None, "method": None, "empty": False, "by": None,
                "text": why, "paired": "", "how": how, "example": example,
                "highlight": sentence(PROSE.no_reference_highlight(legacy))}
    point = next((p for p in points if same_value(p.get("point"), index)), None)
    values_text = _values_text(point if point is not None else {"values": raw.get("values")}, params)
    reason = str(raw.get("reason") or "").strip()
    method = str(raw.get("difference") or DIFFERENCE_METHOD)
    empty = point is None or not point.get("metrics")
    state = "missing" if point is None else "empty" if empty else "ok"
    text = sentence(PROSE.reference(index, values_text, reason, state))
    if empty:
        paired = short = ""
    else:
        paired = sentence(PROSE.paired(level, has_interval))
        short = sentence(PROSE.paired_short(has_interval))
    return {"point": index, "values_text": values_text, "reason": reason or None, "method": method, "empty": empty,
            "by": "seed by seed" if has_interval else "on the same seed",
            "text": text, "paired": paired, "how": None, "example": None,
            "highlight": f"{text} {short}".strip()}


def _metric_range(metric: str, points: Sequence[Mapping], params: Sequence[Mapping], level: str,
                  reference: Mapping | None = None) -> dict:
    """The highlight of a metric: its lowest and its highest point by mean (the first point in
    the summary's order on a tie), with the swept values there, and, when the sweep has a
    reference point, each one's paired difference from it (``difference``; None at the
    reference itself). The summary holds no paired difference between the two ends, so none is
    claimed: each is compared with the reference."""
    rate = is_rate(metric)
    ref = reference.get("point") if reference else None
    defined = [(m, i, p) for i, p in enumerate(points)
               if (m := as_number((_interval(p, metric) or {}).get("mean"))) is not None]
    label = metric_label(metric)
    if not defined:
        return {"low": None, "high": None, "text": f"{label}: n/a, no point has a value."}
    low = min(defined, key=lambda t: (t[0], t[1]))
    high = max(defined, key=lambda t: (t[0], -t[1]))

    def end(t):
        _, _, p = t
        c = cell(_interval(p, metric), rate=rate, level=level)
        is_ref = ref is not None and same_value(p.get("point"), ref)
        d = (None if ref is None or is_ref
             else difference_cell(_interval(p, metric, "vs_reference"), rate=rate, level=level))
        return {"point": p.get("point"), "mean": c["mean"], "cell": c, "values": _values_text(p, params),
                "reference": is_ref, "difference": d}

    lo, hi = end(low), end(high)
    if low[0] == high[0]:
        where = "every point with a value" if len(defined) < len(points) else "every point"
        text = f"{label}: {lo['cell']['compact']} at {where}."
    else:
        text = (f"{label}: from {lo['cell']['compact']} at {lo['values']} (point {lo['point']}) "
                f"to {hi['cell']['compact']} at {hi['values']} (point {hi['point']}).")
        if ref is not None and not reference.get("empty"):
            text += " " + _paired_text([lo, hi], ref, reference["by"])
    return {"low": lo, "high": hi, "text": text}


def _paired_text(ends: Sequence[Mapping], ref: Any, by: str = "seed by seed") -> str:
    """``Each minus the reference point 2, seed by seed: -2,700 [-2,820 to -2,580] at point 4,
    +2,300 [+2,180 to +2,420] at point 0.``, or ``Point 0 is the reference; point 4 minus it,
    seed by seed: ...`` when one end is the reference (``on the same seed`` with one seed)."""

    def diff(e: Mapping) -> str:
        d = e["difference"]
        if d is None or d["mean"] is None:
            return f"n/a at point {e['point']} (no seed on which it and the reference both have a value)"
        return f"{d['compact']} at point {e['point']}"

    others = [e for e in ends if not e["reference"]]
    if len(others) == len(ends):
        return f"Each minus the reference point {ref}, {by}: {', '.join(diff(e) for e in others)}."
    (other,) = others
    d = other["difference"]
    shown = ("n/a (no seed on which both have a value)" if d is None or d["mean"] is None else d["compact"])
    return f"Point {ref} is the reference; point {other['point']} minus it, {by}: {shown}."


def _limits(metric: str, points: Sequence[Mapping]) -> list[float] | None:
    """One y range for every figure of a metric (the means and the intervals shown, padded), so
    that its figures against different parameters can be compared by eye."""
    rate = is_rate(metric)
    ends = []
    for p in points:
        c = cell(_interval(p, metric), rate=rate)
        if c["mean"] is None:
            continue
        ends += [c["mean"]] + [v for v in (c["lo"], c["hi"]) if v is not None]
    if not ends:
        return None
    lo, hi = min(ends), max(ends)
    pad = (hi - lo) * 0.08 or (abs(hi) * 0.05) or (0.01 if rate else 1.0)
    return [max(lo - pad, 0.0) if lo >= 0 else lo - pad, hi + pad]


def _figure_data(metric: str, param: Mapping, params: Sequence[Mapping], points: Sequence[Mapping],
                 design_kind: str, level: str) -> dict:
    """The data of one figure: ``metric`` against ``param``. In a grid, one series per
    combination of the other parameters' values (joined by lines on a numeric axis); in a random
    or Latin-hypercube design, one series of plain markers. A point without a value for the
    metric is a gap."""
    rate = is_rate(metric)
    key = param["key"]
    others = [p for p in params if p["key"] != key]
    grid = design_kind == "grid"
    series: dict[tuple, dict] = {}
    for p in points:
        values = p.get("values") if isinstance(p.get("values"), Mapping) else {}
        if key not in values:
            continue
        v = values[key]
        if param["kind"] == "numeric":
            x = float(v)
        else:
            x = index_of(param["values"], v)
        if grid:
            order = tuple(index_of(o["values"], values.get(o["key"])) if o["key"] in values else -1 for o in others)
            order = tuple(-1 if i is None else i for i in order)
            label = ", ".join(f"{o['short']} = {fmt_value(values[o['key']]) if o['key'] in values else 'n/a'}"
                              for o in others)
        else:
            order, label = (), ""
        s = series.setdefault(order, {"label": label, "points": []})
        c = cell(_interval(p, metric), rate=rate, level=level)
        s["points"].append({"point": p.get("point"), "x": x, "x_text": fmt_value(v), "mean": c["mean"], "lo": c["lo"],
                            "hi": c["hi"], "text": c["compact"]})
    ordered = [series[k] for k in sorted(series)]
    for s in ordered:
        s["points"].sort(key=lambda q: (q["x"], str(q["point"])))
    return {
        "metric": metric, "label": metric_label(metric), "rate": rate,
        "param": param["short"], "param_key": key, "kind": param["kind"],
        "categories": [fmt_value(v) for v in param["values"]] if param["kind"] == "categorical" else None,
        "ticks": ([float(v) for v in param["values"]] if param["kind"] == "numeric" and grid
                  and 1 < len(param["values"]) <= 12 else None),
        "tick_labels": ([fmt_value(v) for v in param["values"]] if param["kind"] == "numeric" and grid
                        and 1 < len(param["values"]) <= 12 else None),
        "xlim": _x_extent(param) if param["kind"] == "numeric" else None,
        "lines": grid and param["kind"] == "numeric",
        "grid": grid,
        "series": ordered,
        "legend": 1 < len(ordered) <= MAX_LEGEND,
        "others": [o["short"] for o in others],
        "n_defined": sum(1 for s in ordered for q in s["points"] if q["mean"] is not None),
    }


def _x_extent(param: Mapping) -> list[float] | None:
    """A numeric axis spans every value of the parameter (its range, for a drawn one), so that a
    value whose points all failed still has its place."""
    ends = [float(v) for v in param["values"]] + [float(v) for v in (param["range"] or [])]
    return [min(ends), max(ends)] if ends else None


def _heatmap_data(metric: str, params: Sequence[Mapping], points: Sequence[Mapping]) -> dict:
    """A grid over two parameters as a matrix of means: columns the first parameter's values,
    rows the second's, each in the sweep file's order; a cell with no value is ``n/a``."""
    rate = is_rate(metric)
    px, py = params[0], params[1]
    cells = [[{"mean": None, "text": "n/a", "point": None} for _ in px["values"]] for _ in py["values"]]
    for p in points:
        values = p.get("values") if isinstance(p.get("values"), Mapping) else {}
        if px["key"] not in values or py["key"] not in values:
            continue
        i, j = index_of(py["values"], values[py["key"]]), index_of(px["values"], values[px["key"]])
        if i is None or j is None or cells[i][j]["point"] is not None:
            continue
        mean = as_number((_interval(p, metric) or {}).get("mean"))
        cells[i][j] = {"mean": mean, "text": fmt_metric(metric, mean), "point": p.get("point")}
    return {
        "metric": metric, "label": metric_label(metric), "rate": rate,
        "x": {"label": px["short"], "key": px["key"], "categories": [fmt_value(v) for v in px["values"]]},
        "y": {"label": py["short"], "key": py["key"], "categories": [fmt_value(v) for v in py["values"]]},
        "cells": cells,
    }


def _highlights(ctx: Mapping) -> dict:
    params = ctx["parameters"]
    swept = []
    for p in params:
        text = f"{p['short']} ({p['key']}): {p['what']}"
        if p["balance"]:
            text += f"; {p['balance']} gives way, so the shares still sum to 1"
        swept.append(text)
    ref = ctx["reference"]
    paired = ref["point"] is not None and not ref["empty"]
    did = sentence(PROSE.did(ctx["scenario"], ctx["base"], ctx["design"], ctx["seeds"], ctx["level"], ctx["interval"],
                             ref["highlight"]))
    moved = sentence(PROSE.moved_lead(ctx["seeds"]["has_interval"], ctx["level"], ref["point"] if paired else None))
    return {"swept": swept, "did": did, "units": ctx["units"]["text"], "moved_lead": moved,
            "moved": [m["range"]["text"] for m in ctx["metrics"]]}


def _point_label(p: Mapping, reference: Any) -> str:
    """How a table names a point: ``4``, or ``2 (reference)`` for the reference point."""
    index = p.get("point", "n/a")
    return f"{index} (reference)" if reference is not None and same_value(index, reference) else str(index)


def _point_row(p: Mapping, columns: Sequence[str], metrics: Sequence[str], params: Sequence[Mapping],
               level: str, reference: Any = None) -> dict:
    """A row of the table of every point; ``point`` is the point's label (the reference's says
    so), ``index`` its number."""
    values = p.get("values") if isinstance(p.get("values"), Mapping) else {}
    has = bool(p.get("metrics"))
    return {
        "point": _point_label(p, reference),
        "index": p.get("point", "n/a"),
        "reference": reference is not None and same_value(p.get("point"), reference),
        "column_values": [fmt_value(values[c]) if c in values else "n/a" for c in columns],
        "values_text": _values_text(p, params),
        "ok": p.get("ok", "n/a"), "failed": p.get("failed", "n/a"),
        "cells": [cell(_interval(p, m), rate=is_rate(m), level=level) for m in metrics],
        "empty": not has,
        "config_sha256": p.get("config_sha256"),
    }


def _differences(ctx: Mapping, points: Sequence[Mapping], metrics: Sequence[str], params: Sequence[Mapping],
                 tables: Numbering) -> dict:
    """Section 2.1: the reference point and, with one, the table of every point's paired
    difference from it (``rows``: one per point, each metric a :func:`difference_cell`; the
    reference's row marked, with no cells), numbered after the table of every point. Without a
    reference, only the sentences that say so and how to name one."""
    ref = ctx["reference"]
    level = ctx["level"]
    out = {"reference": ref, "table": None, "rows": [], "caption": "", "note": ""}
    if ref["point"] is None:
        out["lead"] = ref["text"]
        return out
    out["lead"] = f"{ref['text']} {ref['paired']}".strip()
    if not points or ref["empty"]:
        return out
    for p in points:
        values = p.get("values") if isinstance(p.get("values"), Mapping) else {}
        is_ref = same_value(p.get("point"), ref["point"])
        cells = [difference_cell(_interval(p, m, "vs_reference"), rate=is_rate(m), level=level) for m in metrics]
        ns = [c["n"] for c in cells if isinstance(c["n"], int) and not isinstance(c["n"], bool)]
        out["rows"].append({
            "point": _point_label(p, ref["point"]),
            "index": p.get("point", "n/a"),
            "reference": is_ref,
            "param_values": [fmt_value(values[q["key"]]) if q["key"] in values else "n/a" for q in params],
            "values_text": _values_text(p, params),
            "seeds": max(ns) if ns else "n/a",
            "cells": [] if is_ref else cells,
            "empty": not is_ref and all(c["mean"] is None for c in cells),
        })
    out["table"] = tables.next("differences")
    out["caption"] = sentence(PROSE.difference_caption(ref["point"], level, ctx["seeds"]["has_interval"]))
    out["note"] = sentence(PROSE.difference_note(ref["method"], any(str(m).startswith("simulated.") for m in metrics)))
    return out


def _balance_note(params: Sequence[Mapping], short: Mapping[str, str]) -> str:
    given = {}
    for p in params:
        if p["balance"]:
            given.setdefault(p["balance"], []).append(p["short"])
    if not given:
        return ""
    parts = [f"{short.get(b, b)} gives way to {', '.join(names)}" for b, names in given.items()]
    return "Not swept but set at each point so that the shares sum to 1: " + "; ".join(parts) + "."


def _failures(summary: Mapping, points: Sequence[Mapping], params: Sequence[Mapping], tables: Numbering) -> dict:
    by_point = {p.get("point"): p for p in points}
    rows = []
    for f in summary.get("failures") or []:
        if not isinstance(f, Mapping):
            continue
        point = by_point.get(f.get("point"))
        rows.append({"point": f.get("point", "n/a"), "seed": f.get("seed", "n/a"),
                     "values_text": _values_text(point, params) if point else "n/a",
                     "invalid": bool(point) and point.get("config_sha256") is None,
                     "error": str(f.get("error") or "n/a")})
    units = summary.get("units") if isinstance(summary.get("units"), Mapping) else {}
    total = units.get("total")
    text = sentence(PROSE.failures(len(rows), plural(len(rows), "unit"), total if isinstance(total, int) else None))
    return {"rows": rows, "text": text, "table": tables.next("failures") if rows else None}


def _command_line_set(summary: Mapping) -> list[str]:
    """The ``--set KEY=VALUE`` given to ``matchsim sweep`` on its command line, if any."""
    given = summary.get("command_line_set")
    return [str(s) for s in given] if isinstance(given, (list, tuple)) else []


def _unit_command(summary: Mapping, point: Mapping | None, columns: Sequence[str], seed: Any) -> str:
    """``matchsim run`` of one unit: the base config with the sweep's fixed overrides (the file's
    ``set``, then the command line's), the point's values (the balanced shares too) and one
    seed, without replicates or alternatives."""
    fixed = summary.get("set") if isinstance(summary.get("set"), Mapping) else {}
    sets = [f"{k}={toml_value(v)}" for k, v in fixed.items()] + _command_line_set(summary)
    values = point.get("values") if point and isinstance(point.get("values"), Mapping) else {}
    sets += [f"{c}={toml_value(values[c])}" for c in columns if c in values]
    sets += [f"seed={toml_value(seed)}", "study.replicates=1", "study.alternatives=[]"]
    head = f"matchsim run {shlex.quote(str(summary.get('base') or 'BASE.toml'))} -o DIR"
    return " \\\n    ".join([head] + [f"--set {shlex.quote(s)}" for s in sets])


def _reference_fact(ref: Mapping) -> str:
    if ref["point"] is None:
        return "none"
    return (f"point {ref['point']} ({ref['values_text']})" + (f", {ref['reason']}" if ref["reason"] else "")
            + f"; difference: {ref['method']}")


def _provenance(summary: Mapping, ctx: Mapping, points: Sequence[Mapping], columns: Sequence[str],
                tables: Numbering) -> dict:
    prov = summary.get("provenance") if isinstance(summary.get("provenance"), Mapping) else {}
    libraries = prov.get("libraries") if isinstance(prov.get("libraries"), Mapping) else {}
    fixed = summary.get("set") if isinstance(summary.get("set"), Mapping) else {}
    design = ctx["design"]
    facts = [
        ("Sweep", ctx["name"]),
        ("Sweep file", str(summary.get("sweep_file") or "n/a")),
        ("Sweep file sha256", str(summary.get("sweep_sha256") or "n/a")),
        ("Base config", ctx["base"]),
        ("Base config sha256", str(summary.get("base_config_sha256") or "n/a")),
        ("Scenario", ctx["scenario"]),
        ("Fixed overrides (set)", ", ".join(f"{k} = {toml_value(v)}" for k, v in fixed.items()) or "none"),
        ("Command-line overrides (--set)", ", ".join(_command_line_set(summary)) or "none"),
        ("Design", f"{design['label']}, {plural(design['n_points'], 'point')}"
                   + (f", design seed {design['seed']}" if design["seed"] is not None else "")
                   + (f", drawn values rounded to {design['digits']} digits" if design["kind"] != "grid"
                      and design["digits"] is not None else "")),
        ("Seeds", ctx["seeds"]["text"]),
        ("Interval", ctx["interval"]),
        ("Reference point", _reference_fact(ctx["reference"])),
        ("matchsim version", str(prov.get("version") or summary.get("version") or "n/a")),
        ("Reference data sha256", str(prov.get("data_sha256") or summary.get("data_sha256") or "n/a")),
        ("Libraries", ", ".join(f"{k} {v}" for k, v in sorted(libraries.items())) or "n/a"),
        ("Report date", ctx["date"]),
    ]
    failures = [f for f in summary.get("failures") or [] if isinstance(f, Mapping)]
    by_point = {p.get("point"): p for p in points}
    seeds = ctx["seeds"]["list"]
    if failures:
        example, seed = by_point.get(failures[0].get("point")), failures[0].get("seed")
        why = (f"the first failed unit (point {failures[0].get('point')}, seed {seed})")
    elif points:
        example, seed = points[0], seeds[0] if seeds else 0
        why = f"point {points[0].get('point')} on seed {seed}"
    else:
        example, seed, why = None, seeds[0] if seeds else 0, "a unit"
    sweep_file = str(summary.get("sweep_file") or "SWEEP.toml")
    configs = [{"point": p.get("point", "n/a"),
                "sha256": p.get("config_sha256") or "none: the point's config was invalid"} for p in points]
    return {
        "facts": facts,
        "sweep_command": " ".join([f"matchsim sweep {shlex.quote(sweep_file)} -o DIR"]
                                  + [f"--set {shlex.quote(s)}" for s in _command_line_set(summary)]),
        "unit_command": _unit_command(summary, example, columns, seed),
        "unit_why": why,
        "configs": configs,
        "configs_table": tables.next("point-configs"),
    }


# --------------------------------------------------------------------------------------------
# Figures


# --------------------------------------------------------------------------------------------
# Rendering and writing


def render_sweep_html(summary: Mapping) -> str:
    """report.html of a sweep: one self-contained HTML document (inline CSS, inline SVG figures,
    no script, no external resource). Pure; byte-identical for the same summary and report date."""
    from sim.report import environment
    from sim.report.figures import data_uri, heatmap_svg, metric_svg

    ctx = sweep_context(summary)
    wide = len(ctx["parameters"]) < 2
    uris = {}
    for m in ctx["metrics"]:
        for f in m["figures"]:
            uris[f["figure"]["id"]] = data_uri(metric_svg(f, wide=wide))
        if m["heatmap"]:
            uris[m["heatmap"]["figure"]["id"]] = data_uri(heatmap_svg(m["heatmap"]))
    return environment("html").get_template("sweep.html.j2").render(ctx=ctx, figures=uris, wide=wide)


def write_sweep_report(summary: Mapping, out_dir: str | Path, *, force: bool = True) -> Path:
    """Write report.html of a sweep into ``out_dir`` (created if need be) and return its path.

    The file is rendered first and replaced atomically, so a failure leaves any earlier report
    as it was. ``force`` is true by default: the sweep writes its report into the directory it
    has just made; an existing report.html is refused (:class:`OutputExistsError`) only with
    ``force=False``.
    """
    out = Path(out_dir)
    path = out / HTML_FILE
    if path.exists() and not force:
        raise OutputExistsError(f"report file already in '{out}': {HTML_FILE}; pass --force to replace it, "
                                "or choose another directory")
    html = render_sweep_html(summary)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, html)
    return path


__all__ = ["sweep_context", "render_sweep_html", "write_sweep_report", "HTML_FILE"]
