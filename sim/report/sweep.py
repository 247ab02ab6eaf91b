"""The report of a parameter sweep: report.html, from the sweep's summary.json alone.

``matchsim sweep SWEEP.toml -o DIR`` runs a scenario at every point of a design, each point on
the same replicate seeds, and writes DIR/summary.json (``kind = "sweep"``). This module turns
that summary into one self-contained report.html in the style of the audit report
(:mod:`sim.report`): a title page with highlights (what was swept, over which design and seeds,
how many units ran, and how far each metric moved between its lowest and its highest point),
one figure of each metric against each swept parameter, a heatmap per metric for a grid over
two parameters, a table of every point, the failed units, and an appendix with the provenance
and the commands that reproduce the sweep or any one unit of it.

The pipeline is the audit report's:

1. :func:`sweep_context`: the summary -> every number, table and sentence the report shows,
   formatted once (counts as ``47,289``, rates as ``4.7%``, intervals as ``47,289
   [46,800-47,700]``; a mean from one seed has no interval, an undefined rate is ``n/a``).
   Pure, so what the report claims is testable without parsing a document.
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
import math
import re
import shlex
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.config import toml_literal
from sim.errors import InputError, OutputExistsError
from sim.io import atomic_write_text
from sim.report.context import _Numbering, _number, cell, fmt_count, fmt_rate, fmt_value, format_date, report_date

HTML_FILE = "report.html"
KICKER = "Simulation sweep, not an audit of IRS records"

#: Readable names of the metrics a sweep can measure (``sim.evaluate.COUNT_KEYS`` and
#: ``RATE_KEYS``); a key not listed is shown with its underscores as spaces.
METRIC_LABELS = {
    "requests": "Requests",
    "requests_with_tin": "Requests with a TIN",
    "findable": "Requests whose person has a record",
    "disclosed": "Disclosures",
    "disclosed_tin_path": "Disclosures, TIN path",
    "disclosed_address_path": "Disclosures, address path",
    "right_person_disclosures": "Right-person disclosures",
    "wrong_person_disclosures": "Wrong-person disclosures",
    "deficient_address_disclosures": "Disclosures on a deficient address",
    "updated_address_disclosures": "Disclosures of an updated address",
    "missed_matches": "Missed matches",
    "gated": "Gated requests",
    "unmatched": "Unmatched requests",
    "ambiguous": "Ambiguous requests",
    "no_path": "Requests with no path",
    "precision": "Precision",
    "recall": "Recall",
    "disclosure_rate": "Disclosure rate",
    "wrong_person_rate": "Wrong-person rate",
    "deficient_address_rate": "Deficient-address share",
    "updated_address_rate": "Updated-address share",
    "tin_path_share": "TIN-path share",
}
DESIGN_LABELS = {"grid": "grid", "random": "random design", "lhs": "Latin hypercube"}

#: Series of a figure that share the other parameters' values get a legend up to this many.
MAX_LEGEND = 10


# --------------------------------------------------------------------------------------------
# Small formatters


def is_rate(metric: str) -> bool:
    """``rates.*`` are shares, shown as percentages; ``estimates.*`` and ``simulated.*`` counts."""
    return str(metric).startswith("rates.")


def metric_label(metric: str) -> str:
    """``Wrong-person disclosures`` for ``estimates.wrong_person_disclosures``; a simulated
    (unscaled) count says so."""
    group, _, leaf = str(metric).partition(".")
    label = METRIC_LABELS.get(leaf) or (leaf or group).replace("_", " ").capitalize()
    return f"{label} (simulated)" if group == "simulated" else label


def fmt_metric(metric: str, x: float | None) -> str:
    """A metric's value as the report shows it: a count or a percentage; ``n/a`` if undefined."""
    return fmt_rate(x) if is_rate(metric) else fmt_count(x)


def short_labels(keys: Sequence[str]) -> dict[str, str]:
    """Each dotted key by its shortest suffix that no other key ends with, so that a figure's
    axis says ``zip_only`` rather than ``world.requests.address.classes.zip_only``; a suffix is
    never a bare list index (``paths.1.address_gate``, not ``1.address_gate``).

    >>> list(short_labels(["world.a.zip_only", "world.a.complete", "policy.paths.0.gate", "policy.paths.1.gate"]).values())
    ['zip_only', 'complete', 'paths.0.gate', 'paths.1.gate']
    """
    split = {k: str(k).split(".") for k in keys}
    out = {}
    for key, parts in split.items():
        n = 1
        while n < len(parts) and (any(o != key and other[-n:] == parts[-n:] for o, other in split.items())
                                  or parts[-n].isdigit()):
            n += 1
        out[key] = ".".join(parts[-n:])
    return out


#: ``value`` as the TOML text ``--set KEY=VALUE`` reads back as the same value: the reproduce
#: commands are built with what the sweep itself uses to apply a point's values.
toml_value = toml_literal


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same kind: ``True`` is not the number 1 here."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _index(values: Sequence[Any], v: Any) -> int | None:
    return next((i for i, w in enumerate(values) if _same(w, v)), None)


def _level(interval: Any) -> tuple[str, str]:
    """The interval's level (``95%``) and its description, from the summary's ``interval``."""
    if isinstance(interval, Mapping):
        level = interval.get("level")
        text = str(interval.get("method", "n/a"))
        if isinstance(level, (int, float)) and not isinstance(level, bool):
            return f"{round(100 * level):d}%", text
    else:
        text = str(interval) if interval else "n/a"
    found = re.search(r"(\d+(?:\.\d+)?)\s*%", text)
    return (f"{found.group(1)}%" if found else "95%"), text


def _seeds_text(seeds: Sequence[Any]) -> str:
    if not seeds:
        return "n/a"
    consecutive = all(isinstance(s, int) for s in seeds) and list(seeds) == list(range(seeds[0], seeds[0] + len(seeds)))
    if len(seeds) > 2 and consecutive:
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


# --------------------------------------------------------------------------------------------
# The context


def sweep_context(summary: Mapping, *, date: _dt.date | None = None) -> dict:
    """Everything the sweep report shows, from the sweep's summary alone (see the module
    docstring). ``date`` defaults to :func:`sim.report.context.report_date`.

    The result holds only strings, numbers, lists and dicts. ``metrics`` has, for each metric,
    its highlight (``range``: the lowest and the highest point by mean), the data of its figures
    against each parameter (``figures``) and of its heatmap (``heatmap``, a grid over exactly two
    parameters only); ``points`` the table of every point; ``failures`` the failed units.
    Raises :class:`InputError` for a summary that is not a sweep's.
    """
    kind = summary.get("kind")
    if kind is not None and kind != "sweep":
        raise InputError(f"summary.json is a {kind!r} summary, not a sweep's (kind = \"sweep\"); "
                         "render a study with `matchsim report DIR`, or point at the sweep's output directory")
    date = date or report_date()
    level, interval_text = _level(summary.get("interval"))
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

    tables = _Numbering("Table")
    figures = _Numbering("Figure")
    ctx: dict = {
        "title": f"Parameter sweep: {name}",
        "name": name,
        "kicker": KICKER,
        "description": str(summary.get("description") or ""),
        "date": format_date(date),
        "date_iso": date.isoformat(),
        "level": level,
        "interval": interval_text,
        "version": str(summary.get("version") or (summary.get("provenance") or {}).get("version") or "n/a"),
        "scenario": str(summary.get("scenario") or "n/a"),
        "base": str(summary.get("base") or "n/a"),
        "source": f"Source: matchsim sweep {name}, sweep file sha256 {sweep_sha[:12]}..., "
                  f"seed{'s' if len(seeds) != 1 else ''} {_seeds_text(seeds)}.",
        "parameters": params,
        "design": _design(design_kind, design, len(points), params),
        "seeds": {"list": seeds, "n": len(seeds), "text": _seeds_text(seeds),
                  "has_interval": len(seeds) > 1},
        "units": _units(summary, points, seeds),
        "grid2": design_kind == "grid" and len(params) == 2,
    }
    ctx["metrics"] = []
    for m in metrics:
        entry = {"key": m, "label": metric_label(m), "rate": is_rate(m),
                 "range": _metric_range(m, points, params, level)}
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
                     "rows": [_point_row(p, columns, metrics, params, level) for p in points],
                     "balance_note": _balance_note(params, short)}
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
        if _index(values, v) is None:
            values.append(v)
    rng = p.get("range") if isinstance(p.get("range"), (list, tuple)) and len(p["range"]) == 2 else None
    numeric = all(_number(v) is not None for v in values) and (bool(values) or rng is not None)
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
        text = (f"a grid of {_plural(n_points, 'point')}, every combination of the values"
                + (f" ({sizes})" if len(params) > 1 else ""))
    elif kind == "lhs":
        text = (f"a Latin hypercube of {_plural(n_points, 'point')} (each range cut into {n_points} strata, "
                f"one draw in each), design seed {seed}")
    elif kind == "random":
        text = f"{_plural(n_points, 'point')} drawn uniformly at random, design seed {seed}"
    else:
        text = f"a {kind} design of {_plural(n_points, 'point')}"
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
    text = f"{_plural(total, 'unit')} (a point on one seed): {ok:,} ran, {failed:,} failed"
    if empty:
        listed = ", ".join(str(e) for e in empty[:10]) + (f" and {len(empty) - 10:,} more" if len(empty) > 10 else "")
        one = len(empty) == 1
        text += (f"; {_plural(len(empty), 'point')} ({listed}) {'has' if one else 'have'} no result, "
                 f"every unit of {'it' if one else 'them'} failed")
    return {"total": total, "ok": ok, "failed": failed, "empty_points": empty, "text": text + "."}


def _values_text(point: Mapping, params: Sequence[Mapping]) -> str:
    """``zip_only = 0.05, placeholder = 0.01``: a point by its swept values."""
    values = point.get("values") if isinstance(point.get("values"), Mapping) else {}
    return ", ".join(f"{p['short']} = {fmt_value(values[p['key']]) if p['key'] in values else 'n/a'}" for p in params)


def _interval(point: Mapping, metric: str) -> Mapping | None:
    m = (point.get("metrics") or {}).get(metric)
    return m if isinstance(m, Mapping) else None


def _metric_range(metric: str, points: Sequence[Mapping], params: Sequence[Mapping], level: str) -> dict:
    """The highlight of a metric: its lowest and its highest point by mean (the first point in
    the summary's order on a tie), with the swept values there."""
    rate = is_rate(metric)
    defined = [(m, i, p) for i, p in enumerate(points)
               if (m := _number((_interval(p, metric) or {}).get("mean"))) is not None]
    label = metric_label(metric)
    if not defined:
        return {"low": None, "high": None, "text": f"{label}: n/a, no point has a value."}
    low = min(defined, key=lambda t: (t[0], t[1]))
    high = max(defined, key=lambda t: (t[0], -t[1]))

    def end(t):
        _, _, p = t
        c = cell(_interval(p, metric), rate=rate, level=level)
        return {"point": p.get("point"), "mean": c["mean"], "cell": c, "values": _values_text(p, params)}

    lo, hi = end(low), end(high)
    if low[0] == high[0]:
        where = "every point with a value" if len(defined) < len(points) else "every point"
        text = f"{label}: {lo['cell']['compact']} at {where}."
    else:
        text = (f"{label}: from {lo['cell']['compact']} at {lo['values']} (point {lo['point']}) "
                f"to {hi['cell']['compact']} at {hi['values']} (point {hi['point']}).")
    return {"low": lo, "high": hi, "text": text}


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
            x = _index(param["values"], v)
        if grid:
            order = tuple(_index(o["values"], values.get(o["key"])) if o["key"] in values else -1 for o in others)
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
        i, j = _index(py["values"], values[py["key"]]), _index(px["values"], values[px["key"]])
        if i is None or j is None or cells[i][j]["point"] is not None:
            continue
        mean = _number((_interval(p, metric) or {}).get("mean"))
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
    seeds = ctx["seeds"]
    design = ctx["design"]
    same = f"the same {seeds['n']} replicate seeds" if seeds["n"] != 1 else "the same seed"
    did = (f"The sweep ran the scenario {ctx['scenario']} ({ctx['base']}) at {design['text']}. Every point ran on "
           f"{same} ({seeds['text']}), so the differences between points are the parameters' effect and not a change "
           f"of worlds.")
    if seeds["has_interval"]:
        did += f" Each figure is the mean over the seeds, with its {ctx['level']} interval ({ctx['interval']})."
        moved = f"The mean over the seeds, with its {ctx['level']} interval, at the lowest point and at the highest:"
    else:
        did += " With a single seed per point, the figures are that seed's values and carry no interval."
        moved = "The value at the lowest point and at the highest (one seed, so no interval):"
    return {"swept": swept, "did": did, "units": ctx["units"]["text"], "moved_lead": moved,
            "moved": [m["range"]["text"] for m in ctx["metrics"]]}


def _point_row(p: Mapping, columns: Sequence[str], metrics: Sequence[str], params: Sequence[Mapping],
               level: str) -> dict:
    values = p.get("values") if isinstance(p.get("values"), Mapping) else {}
    has = bool(p.get("metrics"))
    return {
        "point": p.get("point", "n/a"),
        "column_values": [fmt_value(values[c]) if c in values else "n/a" for c in columns],
        "values_text": _values_text(p, params),
        "ok": p.get("ok", "n/a"), "failed": p.get("failed", "n/a"),
        "cells": [cell(_interval(p, m), rate=is_rate(m), level=level) for m in metrics],
        "empty": not has,
        "config_sha256": p.get("config_sha256"),
    }


def _balance_note(params: Sequence[Mapping], short: Mapping[str, str]) -> str:
    given = {}
    for p in params:
        if p["balance"]:
            given.setdefault(p["balance"], []).append(p["short"])
    if not given:
        return ""
    parts = [f"{short.get(b, b)} gives way to {', '.join(names)}" for b, names in given.items()]
    return "Not swept but set at each point so that the shares sum to 1: " + "; ".join(parts) + "."


def _failures(summary: Mapping, points: Sequence[Mapping], params: Sequence[Mapping], tables: _Numbering) -> dict:
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
    if rows:
        text = (f"{_plural(len(rows), 'unit')} of {total if isinstance(total, int) else 'n/a'} failed. A failed unit "
                "leaves its point's figures to the seeds that ran (a mean over fewer seeds, with a wider interval); a "
                "point none of whose units ran has no figure and is left out of the figures.")
    else:
        text = (f"None of the {total:,} units failed." if isinstance(total, int) else "No unit failed.")
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


def _provenance(summary: Mapping, ctx: Mapping, points: Sequence[Mapping], columns: Sequence[str],
                tables: _Numbering) -> dict:
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
        ("Design", f"{design['label']}, {_plural(design['n_points'], 'point')}"
                   + (f", design seed {design['seed']}" if design["seed"] is not None else "")
                   + (f", drawn values rounded to {design['digits']} digits" if design["kind"] != "grid"
                      and design["digits"] is not None else "")),
        ("Seeds", ctx["seeds"]["text"]),
        ("Interval", ctx["interval"]),
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


def _axis_formatter(rate: bool, span: float | None = None):
    """Counts as ``47,000``; rates as ``4%``, or ``4.5%`` on an axis that spans less than 5 points."""
    from matplotlib.ticker import FuncFormatter

    if not rate:
        return FuncFormatter(lambda v, _: f"{v:,.0f}")
    digits = 1 if span is not None and span < 0.05 else 0
    return FuncFormatter(lambda v, _: f"{100 * v:.{digits}f}%")


_PALETTE = ("#1f3a5f", "#a33a2a", "#2f6b3a", "#b07d1a", "#7f9cc0", "#6b4c8a", "#2a7f86", "#6b6b6b")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")


def metric_svg(data: Mapping, *, wide: bool = True) -> str:
    """One metric against one parameter: means with their intervals as whiskers. A numeric
    parameter of a grid gets a line per combination of the other parameters' values; a
    categorical one its values in order along the axis, series side by side; a drawn design
    plain markers (on a categorical axis spread within their category)."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from sim.report.figures import _RC, GREY, INK, NAVY, _svg, _text

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(7.0, 3.0) if wide else (3.5, 2.9), layout="constrained")
        ax = fig.subplots()
        series = data["series"]
        n = len(series)
        categorical = data["kind"] == "categorical"
        for si, s in enumerate(series):
            pts = s["points"]
            if categorical and data["grid"]:
                width = min(0.6 / max(n, 1), 0.16)
                xs = [q["x"] + (si - (n - 1) / 2) * width for q in pts]
            elif categorical:
                # a drawn design: the points of a category spread evenly across it, in the summary's order
                counts = Counter(q["x"] for q in pts)
                seen: Counter = Counter()
                xs = []
                for q in pts:
                    k, m = seen[q["x"]], counts[q["x"]]
                    seen[q["x"]] += 1
                    xs.append(q["x"] + (0.0 if m == 1 else -0.25 + 0.5 * k / (m - 1)))
            else:
                xs = [q["x"] for q in pts]
            ys = [q["mean"] if q["mean"] is not None else math.nan for q in pts]
            below = [0.0 if q["mean"] is None or q["lo"] is None else max(q["mean"] - q["lo"], 0.0) for q in pts]
            above = [0.0 if q["mean"] is None or q["hi"] is None else max(q["hi"] - q["mean"], 0.0) for q in pts]
            colour = NAVY if n == 1 else _PALETTE[si % len(_PALETTE)]
            marker = "o" if n == 1 else _MARKERS[(si // len(_PALETTE)) % len(_MARKERS)]
            has_err = any(below) or any(above)
            ax.errorbar(xs, ys, yerr=[below, above] if has_err else None, fmt=marker + ("-" if data["lines"] else ""),
                        color=colour, ecolor=colour, elinewidth=0.8, capsize=2.5,
                        markersize=4.5 if data["grid"] else 3.5,
                        linewidth=1.1, alpha=1.0 if data["grid"] else 0.85, zorder=3,
                        label=_text(s["label"]) if data["legend"] else None)
        if categorical:
            cats = data["categories"] or []
            tilt = len(cats) > 6 or any(len(c) > 10 for c in cats)
            ax.set_xticks(range(len(cats)), [_text(c) for c in cats], rotation=30 if tilt else 0,
                          ha="right" if tilt else "center")
            ax.set_xlim(-0.6, len(cats) - 0.4)
        else:
            if data.get("ticks"):
                ax.set_xticks(data["ticks"], [_text(t) for t in data["tick_labels"]])
            else:
                ax.xaxis.set_major_locator(MaxNLocator(6 if wide else 4))
            if data.get("xlim"):
                lo, hi = data["xlim"]
                pad = (hi - lo) * 0.06 or abs(hi) * 0.1 or 1.0
                ax.set_xlim(lo - pad, hi + pad)
        if data.get("ylim"):
            ax.set_ylim(*data["ylim"])
        low, high = ax.get_ylim()
        ax.yaxis.set_major_formatter(_axis_formatter(data["rate"], high - low))
        ax.set_xlabel(_text(data["param"]))
        ax.set_ylabel(_text(data["label"]))
        ax.grid(axis="y", color="#e3e3e3", linewidth=0.6)
        ax.set_axisbelow(True)
        if data["legend"]:     # below the axes, clear of the tick labels whatever their rotation
            fig.legend(loc="outside lower center", ncol=2 if not wide else 3, fontsize=7, handlelength=1.6,
                       columnspacing=1.0)
        if data["n_defined"] == 0:
            ax.text(0.5, 0.5, "no point has a value", transform=ax.transAxes, ha="center", va="center", color=GREY)
            ax.set_yticks([])
        ax.tick_params(axis="both", colors=INK)
        return _svg(fig)


def heatmap_svg(data: Mapping) -> str:
    """A grid over two parameters: the mean of the metric in each cell, annotated; a cell with
    no value is hatched and says n/a."""
    import matplotlib
    import numpy as np
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from sim.report.figures import _RC, INK, NAVY, _svg, _text

    xs, ys = data["x"]["categories"], data["y"]["categories"]
    cells = data["cells"]
    values = np.array([[math.nan if c["mean"] is None else c["mean"] for c in row] for row in cells], dtype=float)
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi == lo:
        hi = lo + (abs(lo) * 0.01 or 1.0)
    cmap = LinearSegmentedColormap.from_list("matchsim-navy", ["#f3f6fa", "#7f9cc0", NAVY]).with_extremes(bad="#ffffff")
    norm = Normalize(lo, hi)
    nx, ny = max(len(xs), 1), max(len(ys), 1)
    size = 7.5 if nx <= 6 else (6.5 if nx <= 10 else 5.5)
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(7.0, min(6.5, max(2.2, 1.0 + 0.36 * ny))))
        ax = fig.subplots()
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, origin="lower", aspect="auto",
                          interpolation="nearest")
        for i, row in enumerate(cells):
            for j, c in enumerate(row):
                if c["mean"] is None:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///",
                                                              edgecolor="#c8c8c8", linewidth=0))
                    ax.text(j, i, "n/a", ha="center", va="center", fontsize=size, color="#6b6b6b")
                else:
                    dark = norm(c["mean"]) > 0.55
                    ax.text(j, i, c["text"], ha="center", va="center", fontsize=size,
                            color="white" if dark else INK)
        tilt = any(len(x) > 8 for x in xs)
        ax.set_xticks(range(len(xs)), [_text(x) for x in xs], rotation=30 if tilt else 0, ha="right" if tilt else "center")
        ax.set_yticks(range(len(ys)), [_text(y) for y in ys])
        ax.set_xlabel(_text(data["x"]["label"]))
        ax.set_ylabel(_text(data["y"]["label"]))
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.tick_params(length=0)
        bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.03)
        bar.ax.yaxis.set_major_formatter(_axis_formatter(data["rate"], hi - lo))
        bar.outline.set_visible(False)
        bar.ax.tick_params(labelsize=7, length=2)
        return _svg(fig)


# --------------------------------------------------------------------------------------------
# Rendering and writing


def render_sweep_html(summary: Mapping) -> str:
    """report.html of a sweep: one self-contained HTML document (inline CSS, inline SVG figures,
    no script, no external resource). Pure; byte-identical for the same summary and report date."""
    from sim.report import _environment
    from sim.report.figures import data_uri

    ctx = sweep_context(summary)
    wide = len(ctx["parameters"]) < 2
    uris = {}
    for m in ctx["metrics"]:
        for f in m["figures"]:
            uris[f["figure"]["id"]] = data_uri(metric_svg(f, wide=wide))
        if m["heatmap"]:
            uris[m["heatmap"]["figure"]["id"]] = data_uri(heatmap_svg(m["heatmap"]))
    return _environment("html").get_template("sweep.html.j2").render(ctx=ctx, figures=uris, wide=wide)


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


__all__ = ["sweep_context", "render_sweep_html", "write_sweep_report", "metric_svg", "heatmap_svg",
           "metric_label", "short_labels", "toml_value", "HTML_FILE"]
