"""The reports' figures, drawn with matplotlib from a report context as SVG text: the study
report's funnel, address classes, trade-off and frontier, and the sweep report's metric-against-
parameter figures and heatmaps.

Each function takes the figure's part of :func:`sim.report.context.context` (or of
:func:`sim.report.sweep.sweep_context`) and returns an SVG document. The SVGs are deterministic (a fixed ``svg.hashsalt`` for the element ids, no date in
the metadata, text drawn as paths so no font is needed), so a re-render is byte-identical. They
are drawn on a :class:`~matplotlib.figure.Figure` of their own, never through pyplot, so no
global backend or figure registry is touched.

Labels come from the summary (policy names): ``$`` is escaped so that matplotlib never reads
them as mathtext.
"""

from __future__ import annotations

import base64
import math
import io
from collections import Counter
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

# Sober colours, as a printed audit report uses: navy for disclosures, brick for the wrong person.
NAVY = "#1f3a5f"
SKY = "#7f9cc0"
BRICK = "#a33a2a"
GREY = "#6b6b6b"
INK = "#1a1a1a"

RC = {
    "svg.hashsalt": "matchsim-report",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 8.5,
    "axes.edgecolor": GREY,
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": INK,
    "ytick.color": INK,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "text.usetex": False,
}


def plain_label(s: str) -> str:
    """A label as plain text: matplotlib would read ``$...$`` as mathtext."""
    return str(s).replace("$", r"\$")


def svg_of(fig: Figure) -> str:
    """The figure as an SVG document, deterministic (no date, fixed ids)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight", pad_inches=0.05)
    return buf.getvalue().decode("utf-8")


def data_uri(svg: str) -> str:
    """An SVG document as a ``data:`` URI, for an ``<img>`` of a self-contained report."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _counts(ax, axis: str = "x") -> None:
    fmt = FuncFormatter(lambda v, _: f"{v:,.0f}")
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)


def _err(ivs: Sequence[Mapping]) -> list[list[float]] | None:
    """Error-bar lengths below and above each mean (the interval clipped at 0); None if no
    figure has an interval."""
    if not any(iv.get("lo") is not None for iv in ivs):
        return None
    below, above = [], []
    for iv in ivs:
        mean = iv.get("mean") or 0.0
        lo, hi = iv.get("lo"), iv.get("hi")
        below.append(0.0 if lo is None else max(0.0, mean - max(lo, 0.0)))
        above.append(0.0 if hi is None else max(0.0, hi - mean))
    return [below, above]


def funnel_svg(funnel: Mapping) -> str:
    """Figure 1: from requests to disclosures, stacked by path. Left, the whole file (the
    address gate and the match); right, the disclosures at their own scale, by right and wrong
    person, since at the file's scale they are slivers."""
    stages = {s["key"]: s for s in funnel["stages"]}
    paths = [p["label"] for p in funnel["paths"]]
    colours = [NAVY, SKY, "#b8c7d9", "#d9d9d9"]
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.0, 3.0))
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1.0], "wspace": 0.62})
        for ax, keys, title in ((left, ["requests", "passed_gate", "matched"], "All requests"),
                                (right, ["disclosed", "right_person_disclosures", "wrong_person_disclosures"],
                                 "Disclosures")):
            keys = [k for k in keys if k in stages]
            ys = list(range(len(keys)))[::-1]
            starts = [0.0] * len(keys)
            for i, label in enumerate(paths):
                widths = [stages[k]["by_path"][i]["mean"] or 0.0 for k in keys]
                ax.barh(ys, widths, left=starts, height=0.62, color=colours[i % len(colours)], label=label,
                        edgecolor="white", linewidth=0.5)
                starts = [s + w for s, w in zip(starts, widths)]
            totals = [stages[k]["total"] for k in keys]
            if not paths:       # no breakdown by path: the totals alone
                ax.barh(ys, [t["mean"] or 0.0 for t in totals], height=0.62, color=NAVY)
            err = _err(totals)
            if err is not None:
                ax.errorbar([t["mean"] or 0.0 for t in totals], ys, xerr=err, fmt="none", ecolor=INK,
                            elinewidth=0.8, capsize=2.5)
            top = max((t["hi"] if t["hi"] is not None else t["mean"] or 0.0) for t in totals) or 1.0
            for y, t in zip(ys, totals):
                edge = t["hi"] if t["hi"] is not None else (t["mean"] or 0.0)
                ax.text(edge + top * 0.03, y, t["text"], va="center", ha="left", fontsize=8, color=INK)
            ax.set_yticks(ys, [plain_label(stages[k]["label"]) for k in keys])
            ax.set_xlim(0, top * 1.35)
            _counts(ax)
            ax.xaxis.set_major_locator(MaxNLocator(3))
            ax.set_title(title)
            ax.tick_params(axis="y", length=0)
        if paths:
            left.legend(loc="upper center", bbox_to_anchor=(1.0, -0.16), ncol=len(paths))
        return svg_of(fig)


def address_class_svg(data: Mapping) -> str:
    """Figure 2: disclosures and wrong-person disclosures by the class of ICE's address, with
    their intervals."""
    labels = data["labels"]
    n = len(labels)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.0, 0.32 * n + 0.9))
        ax = fig.subplots()
        ys = [n - 1 - i for i in range(n)]
        h = 0.38
        for offset, key, colour, name in ((h / 2, "disclosed", NAVY, "Disclosed"),
                                          (-h / 2, "wrong", BRICK, "Wrong person")):
            ivs = data[key]
            ax.barh([y + offset for y in ys], [iv.get("mean") or 0.0 for iv in ivs], height=h, color=colour, label=name)
            err = _err(ivs)
            if err is not None:
                ax.errorbar([iv.get("mean") or 0.0 for iv in ivs], [y + offset for y in ys], xerr=err, fmt="none",
                            ecolor=INK, elinewidth=0.7, capsize=2)
        ax.set_yticks(ys, [plain_label(s) for s in labels])
        ax.tick_params(axis="y", length=0)
        _counts(ax)
        ax.set_xlim(left=0)
        ax.set_xlabel("National estimate")
        ax.legend(loc="lower right")
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        return svg_of(fig)


def tradeoff_svg(data: Mapping) -> str:
    """Figure 3: each policy's disclosures (x) against its wrong-person disclosures (y), with
    intervals both ways; the published number of disclosures as a dashed line. Axes become
    logarithmic when the policies span more than a factor of 20, so that no policy hides the
    others."""
    points = data["points"]
    xs = [p["x"].get("mean") or 0.0 for p in points]
    ys = [p["y"].get("mean") or 0.0 for p in points]
    published = data.get("published_disclosed")
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.0, 3.9))
        ax = fig.subplots()
        xerr, yerr = _err([p["x"] for p in points]), _err([p["y"] for p in points])
        log_x, log_y = _log_scale(xs + ([published] if published else [])), _log_scale(ys)
        _policy_points(ax, points, xs, ys, xerr, yerr, color=NAVY, size=5, zorder=3)
        if published:
            ax.axvline(published, color=GREY, linestyle="--", linewidth=0.9, zorder=1)
        if log_x:
            ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
        ax.margins(x=0.12, y=0.15)
        ax.autoscale_view()
        if not log_x:
            ax.set_xlim(left=0)
        if not log_y:
            ax.set_ylim(bottom=0)
        names = [plain_label(p["name"]) for p in points]
        for i, (dx, dy, ha, va) in enumerate(_label_offsets(ax, xs, ys, names)):
            ax.annotate(names[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points",
                        ha=ha, va=va, fontsize=8, color=INK, zorder=4,
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
        if published:
            ax.annotate(f"published: {published:,.0f} disclosures", (published, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(4, -4), textcoords="offset points", ha="left", va="top", fontsize=7.5, color=GREY)
        for axis in ("x", "y"):
            _counts(ax, axis)
        if log_x:
            ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        if log_y:
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.set_xlabel("Disclosures (national estimate)" + (", log scale" if log_x else ""))
        ax.set_ylabel("Wrong-person disclosures" + (", log scale" if log_y else ""))
        ax.grid(color="#e3e3e3", linewidth=0.6)
        ax.set_axisbelow(True)
        return svg_of(fig)


def frontier_svg(data: Mapping) -> str:
    """Precision (y) against recall (x): each probabilistic model's frontier as a line over its
    thresholds (dots at match probabilities 0.5, 0.99 and 0.9999), every policy as a point with
    its intervals (the baseline a square), and each model at the baseline's volume as a star."""
    marks = (0.5, 0.99, 0.9999)
    # precision on a logit scale: 90%, 99% and 99.9% are equally far apart, so rules near 100%
    # are told apart and a rule at 15% stays on the chart; 0 and 1 are drawn at the edges
    low, high = 0.05, 0.9995

    def y(v: float) -> float:
        return min(max(v, low), high)

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.0, 4.2))
        ax = fig.subplots()
        ax.set_yscale("logit")
        for curve in data["curves"]:
            pts = [p for p in curve["points"] if (p["probability"] or 0) >= 0.01]
            ax.plot([p["recall"] for p in pts], [y(p["precision"]) for p in pts], color=NAVY, linewidth=1.4, zorder=2)
            dots = [p for p in pts if any(abs((p["probability"] or 0) - m) < 1e-9 for m in marks)]
            ax.plot([p["recall"] for p in dots], [y(p["precision"]) for p in dots], "o", color=NAVY, markersize=3.5, zorder=3)
            for p in dots:
                ax.annotate(f"p {p['probability']:g}", (p["recall"], y(p["precision"])), xytext=(-5, 0), textcoords="offset points",
                            ha="right", va="center", fontsize=7, color=GREY)
        xs = [p["recall"].get("mean") or 0.0 for p in data["points"]]
        ys = [y(p["precision"].get("mean") or 0.0) for p in data["points"]]
        xerr = _err([p["recall"] for p in data["points"]])
        yerr = [[max(ys[i] - y(p["precision"].get("lo") if p["precision"].get("lo") is not None else ys[i]), 0) for i, p in enumerate(data["points"])],
                [max(y(p["precision"].get("hi") if p["precision"].get("hi") is not None else ys[i]) - ys[i], 0) for i, p in enumerate(data["points"])]]
        _policy_points(ax, data["points"], xs, ys, xerr, yerr, color=INK, size=4.5, zorder=4)
        for v in data["volumes"]:
            if v["recall"] is not None and v["precision"] is not None:
                ax.plot([v["recall"]], [y(v["precision"])], "*", color=BRICK, markersize=11, zorder=5)
        ax.set_xlim(0, 1.02)
        ax.set_ylim(low, high)
        names = [plain_label(p["name"]) for p in data["points"]]
        for i, (dx, dy, ha, va) in enumerate(_label_offsets(ax, xs, ys, names)):
            ax.annotate(names[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points",
                        ha=ha, va=va, fontsize=8, color=INK, zorder=6,
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_yticks([0.1, 0.5, 0.9, 0.99, 0.999])
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:g}%"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.set_xlabel("Recall: requested people with a record whose address was disclosed")
        ax.set_ylabel("Precision (logit scale)")
        ax.grid(color="#e3e3e3", linewidth=0.6)
        ax.set_axisbelow(True)
        return svg_of(fig)


def _policy_points(ax, points: Sequence[Mapping], xs, ys, xerr, yerr, *, color: str, size: float, zorder: int) -> None:
    """One marker per policy with its interval whiskers: the baseline a larger brick square."""
    for i, p in enumerate(points):
        baseline = p["role"] == "baseline"
        ax.errorbar([xs[i]], [ys[i]],
                    xerr=None if xerr is None else [[xerr[0][i]], [xerr[1][i]]],
                    yerr=None if yerr is None else [[yerr[0][i]], [yerr[1][i]]],
                    fmt="s" if baseline else "o", color=BRICK if baseline else color, ecolor=GREY,
                    elinewidth=0.8, capsize=2.5, markersize=6 if baseline else size, zorder=zorder)


def _log_scale(values: Sequence[float]) -> bool:
    positive = [v for v in values if v and v > 0]
    return len(positive) == len(values) and len(values) > 1 and max(positive) / min(positive) > 20


def _label_offsets(ax, xs: Sequence[float], ys: Sequence[float], names: Sequence[str]) -> list[tuple[int, int, str, str]]:
    """Where each point's label goes: (x and y offset in points, alignments). Greedy and
    deterministic: the first of eight places around the point whose box clears every marker and
    every label already placed, right of the point first (left of it near the right edge)."""
    to_axes = ax.transAxes.inverted()
    points = [tuple(to_axes.transform(ax.transData.transform((x, y)))) for x, y in zip(xs, ys)]
    width_pt = ax.bbox.width * 72 / ax.figure.dpi
    height_pt = ax.bbox.height * 72 / ax.figure.dpi
    char_w, text_h, gap = 4.9 / width_pt, 11.0 / height_pt, 6.0
    placed: list[tuple[float, float, float, float]] = []
    marker = [(px - 5 / width_pt, py - 5 / height_pt, px + 5 / width_pt, py + 5 / height_pt) for px, py in points]

    def box(px, py, dx, dy, ha, va, n):
        w = n * char_w
        x0 = px + dx / width_pt - (w if ha == "right" else 0)
        y0 = py + dy / height_pt - (text_h if va == "top" else 0)
        return (x0, y0, x0 + w, y0 + text_h)

    def clear(b, own):
        others = placed + [m for j, m in enumerate(marker) if j != own]
        inside = 0 <= b[0] and b[2] <= 1.02 and 0 <= b[1] and b[3] <= 1.0
        return inside and all(b[2] <= o[0] or o[2] <= b[0] or b[3] <= o[1] or o[3] <= b[1] for o in others)

    out: list[tuple[int, int, str, str]] = []
    for i, (px, py) in enumerate(points):
        right = [(gap, gap, "left", "bottom"), (gap, -gap, "left", "top"), (gap, 0, "left", "center")]
        left = [(-gap, gap, "right", "bottom"), (-gap, -gap, "right", "top"), (-gap, 0, "right", "center")]
        more = [(0, gap + 4, "center", "bottom"), (0, -gap - 4, "center", "top")]
        candidates = (left + right if px > 0.72 else right + left) + more
        chosen = candidates[0]
        for dx, dy, ha, va in candidates:
            b = box(px, py, dx, dy, ha if ha != "center" else "left", va if va != "center" else "bottom", len(names[i]))
            if clear(b, i):
                chosen = (dx, dy, ha, va)
                break
        dx, dy, ha, va = chosen
        placed.append(box(px, py, dx, dy, ha if ha != "center" else "left", va if va != "center" else "bottom", len(names[i])))
        out.append(chosen)
    return out


def _axis_formatter(rate: bool, span: float | None = None):
    """Counts as ``47,000``; rates as ``4%``, or ``4.5%`` on an axis that spans less than 5 points."""
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

    with matplotlib.rc_context(RC):
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
                        label=plain_label(s["label"]) if data["legend"] else None)
        if categorical:
            cats = data["categories"] or []
            tilt = len(cats) > 6 or any(len(c) > 10 for c in cats)
            ax.set_xticks(range(len(cats)), [plain_label(c) for c in cats], rotation=30 if tilt else 0,
                          ha="right" if tilt else "center")
            ax.set_xlim(-0.6, len(cats) - 0.4)
        else:
            if data.get("ticks"):
                ax.set_xticks(data["ticks"], [plain_label(t) for t in data["tick_labels"]])
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
        ax.set_xlabel(plain_label(data["param"]))
        ax.set_ylabel(plain_label(data["label"]))
        ax.grid(axis="y", color="#e3e3e3", linewidth=0.6)
        ax.set_axisbelow(True)
        if data["legend"]:     # below the axes, clear of the tick labels whatever their rotation
            fig.legend(loc="outside lower center", ncol=2 if not wide else 3, fontsize=7, handlelength=1.6,
                       columnspacing=1.0)
        if data["n_defined"] == 0:
            ax.text(0.5, 0.5, "no point has a value", transform=ax.transAxes, ha="center", va="center", color=GREY)
            ax.set_yticks([])
        ax.tick_params(axis="both", colors=INK)
        return svg_of(fig)


def heatmap_svg(data: Mapping) -> str:
    """A grid over two parameters: the mean of the metric in each cell, annotated; a cell with
    no value is hatched and says n/a."""
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.patches import Rectangle

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
    with matplotlib.rc_context(RC):
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
        ax.set_xticks(range(len(xs)), [plain_label(x) for x in xs], rotation=30 if tilt else 0, ha="right" if tilt else "center")
        ax.set_yticks(range(len(ys)), [plain_label(y) for y in ys])
        ax.set_xlabel(plain_label(data["x"]["label"]))
        ax.set_ylabel(plain_label(data["y"]["label"]))
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.tick_params(length=0)
        bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.03)
        bar.ax.yaxis.set_major_formatter(_axis_formatter(data["rate"], hi - lo))
        bar.outline.set_visible(False)
        bar.ax.tick_params(labelsize=7, length=2)
        return svg_of(fig)


__all__ = ["funnel_svg", "address_class_svg", "tradeoff_svg", "frontier_svg", "metric_svg", "heatmap_svg", "data_uri"]
