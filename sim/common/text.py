"""How figures and dates are written, for the terminal and the reports alike.

>>> percent(0.047), percent(None), percent(-0.0001)
('4.7%', 'n/a', '0.0%')
>>> interval_text({"mean": 47289.0, "lo": 46800.4, "hi": 47700.2}), interval_text({"mean": 0.05, "lo": None}, rate=True)
('47,289 [46,800-47,700]', '5.0%')
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from typing import Any

from sim.common.errors import InputError


def percent(x: float | None) -> str:
    """``4.7%`` for 0.047; ``n/a`` for an undefined rate (never ``-0.0%``)."""
    if x is None:
        return "n/a"
    text = f"{100 * x:.1f}%"
    return "0.0%" if text == "-0.0%" else text


def count(x: float | None) -> str:
    """``47,289``: a count (or an estimate of one) rounded to a whole number; ``n/a`` for None."""
    if x is None:
        return "n/a"
    text = f"{x:,.0f}"
    return "0" if text == "-0" else text


def interval_text(iv: Mapping, *, rate: bool = False) -> str:
    """``47,289 [46,800-47,700]`` (or percentages for a rate); the interval is left out when there
    is none (a single seed)."""
    if iv.get("mean") is None:
        return "n/a"
    shown = percent if rate else count
    if iv.get("lo") is None:
        return shown(iv["mean"])
    return f"{shown(iv['mean'])} [{shown(iv['lo'])}-{shown(iv['hi'])}]"


def shown(value: Any) -> str:
    """A value received where it was not allowed, as an error message quotes it: a table as
    "a table", anything else as its repr, cut at 60 characters."""
    if isinstance(value, dict):
        return "a table" if value else "an empty table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def today() -> _dt.date:
    """Today's UTC date, or the date of ``SOURCE_DATE_EPOCH`` (seconds since 1970, UTC) when it is
    set, so that a report or a calibrated config written again is byte-identical
    (reproducible-builds.org convention)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return _dt.datetime.now(_dt.timezone.utc).date()
    try:
        return _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc).date()
    except (ValueError, OverflowError, OSError):
        raise InputError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970-01-01 UTC, got {epoch!r}; "
                         f"fix it (e.g. SOURCE_DATE_EPOCH=$(date +%s)) or unset it to date the output today") from None


__all__ = ["percent", "count", "interval_text", "shown", "today"]
