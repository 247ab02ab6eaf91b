"""Dotted keys (``world.scale``, ``policy.paths.0.rules``): reading them, ``--set KEY=VALUE``
overrides, and balanced updates of shares.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from sim.config.study import Config
from sim.common.errors import ConfigError


def flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


_ABSENT = object()


def get_dotted(config: Config, key: str, default: Any = None) -> Any:
    """The value of a dotted key of ``config`` (``world.scale``), or ``default`` if it has none."""
    node: Any = config.to_dict()
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return default
    return node


def unknown_key(config: Config, key: str) -> str | None:
    """None when ``key`` is a dotted key of ``config``; else what is wrong, with the nearest keys."""
    if get_dotted(config, key, _ABSENT) is not _ABSENT:
        return None
    known = list(flatten(config.to_dict()))
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
    return f"'{key}' is not a key of the scenario" + (f"; did you mean '{close[0]}'?" if close else "")


def balanced_updates(config: Config, values: Mapping[str, float], balances: Mapping[str, str | None]) -> dict[str, Any]:
    """Every key a set of new ``values`` changes: the keys themselves, and each balancing share
    (``balances[key]``), which gives way by the sum of the changes of the keys it balances, so a
    set of shares still sums to 1."""
    updates: dict[str, Any] = dict(values)
    for key, value in values.items():
        balance = balances.get(key)
        if balance:
            current = updates.get(balance, get_dotted(config, balance))
            updates[balance] = round(float(current) - (float(value) - float(get_dotted(config, key))), 12)
    return updates


def apply_overrides(raw: Mapping[str, Any], overrides: Iterable[str], *, source: str = "--set") -> dict[str, Any]:
    """Return a copy of ``raw`` with each ``KEY=VALUE`` applied; VALUE is read as a TOML value.

    A VALUE that is not valid TOML (``scenario=my-run``) is taken as a string. KEY is dotted;
    a number picks an item of a list of tables (``policy.paths.1.rules``).
    """
    result = copy.deepcopy(dict(raw))
    problems = []
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"--set '{item}': expected KEY=VALUE, e.g. --set world.scale=0.01")
            continue
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        except RecursionError:
            problems.append(f"--set '{key}=...': the value nests arrays or tables too deeply; a matchsim value nests at most a few levels")
            continue
        if isinstance(value, (datetime.date, datetime.time)):
            value = text.strip()  # scenario=2025-06-27 names a scenario; no key here is a date
        problem = set_dotted(result, key, value)
        if problem:
            problems.append(f"--set '{item}': {problem}")
    if problems:
        raise ConfigError(source, problems)
    return result


def toml_literal(value: Any) -> str:
    """``value`` as the TOML text a ``KEY=VALUE`` override reads back as the same value (what
    :func:`apply_overrides` parses): ``0.023``, ``"nonblank"`` (a string stays a string, even
    ``"true"``), ``true``, ``[1, "a"]``, ``{a = 1}``.

    >>> toml_literal(0.023), toml_literal("true"), toml_literal([1, "a"])
    ('0.023', '"true"', '[1, "a"]')
    """
    import tomlkit

    if isinstance(value, Mapping):
        table = tomlkit.inline_table()
        table.update({k: _plain(v) for k, v in value.items()})
        return table.as_string()
    return tomlkit.item(_plain(value)).as_string()


def _plain(value: Any) -> Any:
    """Tuples as lists, which is how TOML (and tomlkit) knows them."""
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def set_dotted(data: dict[str, Any], key: str, value: Any) -> str | None:
    """Set ``data[a][b]...`` for the dotted ``key`` in place, creating tables on the way; a
    number picks an item of a list. Returns what is wrong with the key, or None."""
    node: Any = data
    parts = key.split(".")
    for i, part in enumerate(parts):
        here = ".".join(parts[: i + 1])
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not (part.isdigit() and int(part) < len(node)):
                return f"'{here}' is not an item of the list '{'.'.join(parts[:i])}' (it has {len(node)}, numbered from 0)"
            if last:
                node[int(part)] = value
                return None
            node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
                return None
            node = node.setdefault(part, {})
        else:
            parent = ".".join(parts[:i])
            return f"'{parent}' is a value, not a table; set it directly, e.g. --set {parent}=..."
        if not isinstance(node, (dict, list)):
            return f"'{here}' is a value, not a table; set it directly, e.g. --set {here}=..."
    return None
