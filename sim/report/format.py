"""How the reports write numbers, intervals, dates and counts of things: one home for the formats
the study report (:mod:`sim.report.context`) and the sweep report (:mod:`sim.report.sweep`)
share, on top of :mod:`sim.common.text` (``47,289``, ``4.7%``), which the terminal uses too.

Counts as ``47,289``, rates as ``4.7%``, intervals compact in tables (``52,348 [39,139-65,558]``)
and in words in the text (``52,348 (95% interval 39,139 to 65,558)``); paired differences signed
(``+2,300 [+2,180 to +2,420]``, rates in percentage points). A figure from a single replicate has
no interval and is shown alone; an undefined one is ``n/a``.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from sim.common.text import count, percent, today
from sim.config import toml_literal
from sim.report.labels import is_rate


TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=None)
def prose(name: str):
    """The macros of ``templates/NAME``, where the reports' paragraphs are written, callable from
    Python (``prose("prose.j2").limitations(...)``). Plain text, not escaped: the report's
    templates escape it where they show it. An undefined name in a macro is an error, not a blank."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
    return env.get_template(name).module


def paragraphs(text: str) -> list[str]:
    """What a prose macro returned, as paragraphs: split at blank lines, each paragraph's line
    breaks read as spaces.

    >>> paragraphs("One line\\n  and its end.\\n\\n\\n\\nTwo.")
    ['One line and its end.', 'Two.']
    """
    return [re.sub(r"[ \t]*\n[ \t]*", " ", p.strip()) for p in re.split(r"\n[ \t]*\n", str(text)) if p.strip()]


def sentence(text: str) -> str:
    """What a prose macro returned, as one paragraph (see :func:`paragraphs`)."""
    return " ".join(paragraphs(text))


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


def report_date() -> _dt.date:
    """The report's date: :func:`sim.common.text.today` (``SOURCE_DATE_EPOCH`` when it is set)."""
    return today()


def format_date(day: _dt.date) -> str:
    """``November 21, 2026`` (English month names whatever the locale)."""
    return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"


#: ``47,289`` and ``4.7%`` (``n/a`` for a missing figure), as everywhere in matchsim.
fmt_count, fmt_rate = count, percent


def fmt_number(x: Any) -> str:
    """A number as given in the config (``0.003``, ``1280000``), without float noise."""
    if isinstance(x, bool) or x is None:
        return fmt_value(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.6g}" if abs(x) < 1e6 else f"{x:,.0f}"
    return str(x)


def fmt_value(value: Any) -> str:
    """A parameter value: lists and tables as compact JSON, None as ``none``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return fmt_number(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)


def cell(iv: Mapping | None, *, rate: bool = False, years: bool = False, level: str = "95%") -> dict:
    """A figure with its interval, formatted every way the report shows it.

    ``iv`` is an interval of the summary (``{"mean", "lo", "hi", ...}``). A lower bound below 0
    (a count, or a rate) and an upper bound above 1 (a rate) are shown at that limit: the
    Student-t interval is symmetric and knows nothing of the bounds. A duration in ``years`` is
    shown to a tenth, its unit named in the long form.

    >>> c = cell({"mean": 52348.3, "lo": 39138.8, "hi": 65557.9})
    >>> c["compact"], c["long"]
    ('52,348 [39,139-65,558]', '52,348 (95% interval 39,139 to 65,558)')
    >>> cell({"mean": 0.0792, "lo": None, "hi": None}, rate=True)["compact"]
    '7.9%'
    >>> cell({"mean": 2.94, "lo": 2.51, "hi": 3.32}, years=True)["long"]
    '2.9 years (95% interval 2.5 to 3.3)'
    """
    iv = iv if isinstance(iv, Mapping) else {}
    fmt = fmt_rate if rate else fmt_years if years else fmt_count
    mean, lo, hi = (as_number(iv.get(k)) for k in ("mean", "lo", "hi"))
    if lo is not None:
        lo = max(lo, 0.0)
    if hi is not None and rate:
        hi = min(hi, 1.0)
    if hi is not None:
        hi = max(hi, 0.0)
    text = fmt(mean)
    has_interval = mean is not None and lo is not None and hi is not None
    span = f"{fmt(lo)}-{fmt(hi)}" if has_interval else ""
    return {
        "mean": mean, "lo": lo if has_interval else None, "hi": hi if has_interval else None,
        "text": text,
        "range": span,
        "compact": f"{text} [{span}]" if has_interval else text,
        "long": (f"{text}{' years' if years else ''} ({level} interval {fmt(lo)} to {fmt(hi)})" if has_interval
                 else f"{text}{' years' if years and mean is not None else ''}"),
    }


def fmt_years(x: float | None) -> str:
    """A duration in years to a tenth (``2.9``), ``n/a`` if undefined."""
    return "n/a" if x is None else f"{x:.1f}"


def as_number(x: Any) -> float | None:
    """``x`` if it is a number (not a bool), else None: a malformed summary shows n/a, not a crash."""
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def share_cell(num: float | None, den: float | None) -> dict:
    """A share computed from two means (no interval of its own): ``9.1%``, or ``n/a`` when the
    denominator is 0."""
    value = None if num is None or not den else num / den
    return cell({"mean": value}, rate=True)


class Numbering:
    """Tables and figures numbered in the order the report shows them, so both formats agree."""

    def __init__(self, kind: str):
        self.kind = kind
        self.n = 0

    def next(self, slug: str) -> dict:
        self.n += 1
        return {"number": self.n, "label": f"{self.kind} {self.n}", "id": f"{self.kind.lower()}-{slug}"}


class Cells:
    """:func:`cell` with the study's interval level."""

    def __init__(self, level: str):
        self.level = level

    def __call__(self, iv: Mapping | None, *, rate: bool = False, years: bool = False) -> dict:
        return cell(iv, rate=rate, years=years, level=self.level)


def fmt_metric(metric: str, x: float | None) -> str:
    """A metric's value as the report shows it: a count or a percentage; ``n/a`` if undefined."""
    return fmt_rate(x) if is_rate(metric) else fmt_count(x)


def signed(x: float, spec: str) -> str:
    """``x`` with its sign (``+2,300``, ``-0.8``); a figure that rounds to zero has none."""
    text = f"{x:+{spec}}"
    return text if any(ch in "123456789" for ch in text) else text[1:]


def difference_cell(iv: Mapping | None, *, rate: bool = False, level: str = "95%") -> dict:
    """A paired difference from the reference point (a point's ``vs_reference``) with its
    interval, formatted every way the report shows it, with the keys of
    :func:`sim.report.context.cell`.

    Signed: a count as ``+2,300 [+2,180 to +2,420]`` (a difference of national estimates), a
    rate in percentage points as ``-2.8 points [-3.0 to -2.6]``, to two decimals when every
    figure of the cell is under one point (and not all 0), so that a tight difference does not
    read as 0.0.
    The ends are joined by "to", as a minus sign would be lost in "-". Unlike a level, a
    difference keeps a bound below 0 (a rate's stays within 100 points either way).

    >>> difference_cell({"mean": 2300.0, "lo": 2180.0, "hi": 2420.0})["compact"]
    '+2,300 [+2,180 to +2,420]'
    >>> difference_cell({"mean": -0.0277, "lo": -0.0297, "hi": -0.0257}, rate=True)["long"]
    '-2.8 points (95% interval -3.0 to -2.6 points)'
    >>> difference_cell({"mean": -0.0004, "lo": -0.0006, "hi": -0.0002}, rate=True)["compact"]
    '-0.04 points [-0.06 to -0.02]'
    >>> difference_cell({"mean": 150.0, "lo": None, "hi": None})["compact"], difference_cell(None)["text"]
    ('+150', 'n/a')
    """
    iv = iv if isinstance(iv, Mapping) else {}
    mean, lo, hi = (as_number(iv.get(k)) for k in ("mean", "lo", "hi"))
    has_interval = mean is not None and lo is not None and hi is not None
    if rate and has_interval:
        lo, hi = max(lo, -1.0), min(hi, 1.0)
    if rate:
        shown = [abs(v) for v in ((mean, lo, hi) if has_interval else (mean,)) if v is not None]
        digits = 2 if shown and 0 < max(shown) < 0.01 else 1

        def fmt(v: float) -> str:
            return signed(100 * v, f".{digits}f")
        unit = " points"
    else:
        def fmt(v: float) -> str:
            return signed(v, ",.0f")
        unit = ""
    n = iv.get("n")
    if mean is None:
        return {"mean": None, "lo": None, "hi": None, "n": n, "text": "n/a", "range": "", "compact": "n/a", "long": "n/a"}
    text = fmt(mean) + unit
    span = f"{fmt(lo)} to {fmt(hi)}" if has_interval else ""
    return {
        "mean": mean, "lo": lo if has_interval else None, "hi": hi if has_interval else None, "n": n,
        "text": text,
        "range": span,
        "compact": f"{text} [{span}]" if has_interval else text,
        "long": f"{text} ({level} interval {span}{unit})" if has_interval else text,
    }


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


def same_value(a: Any, b: Any) -> bool:
    """Equal values of the same kind: ``True`` is not the number 1 here."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def index_of(values: Sequence[Any], v: Any) -> int | None:
    return next((i for i, w in enumerate(values) if same_value(w, v)), None)


def interval_level(interval: Any) -> tuple[str, str]:
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


def format_seeds(seeds: Sequence[Any]) -> str:
    if not seeds:
        return "n/a"
    consecutive = all(isinstance(s, int) for s in seeds) and list(seeds) == list(range(seeds[0], seeds[0] + len(seeds)))
    if len(seeds) > 1 and consecutive:
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
