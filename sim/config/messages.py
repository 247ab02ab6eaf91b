"""Pydantic's validation errors reworded: the key path, the value received, what is allowed, and a
"did you mean" for an unknown key.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from sim.common.text import shown
from sim.config.policy import LinkConfig, PolicyConfig
from sim.config.study import Config


def describe(err: Mapping[str, Any], raw: Mapping[str, Any], root: type[BaseModel] | None = None) -> str:
    loc = [str(p) for p in err["loc"]]
    path = ".".join(loc) if loc else "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        parent_model = _model_at(loc[:-1], root or Config)
        allowed = sorted(parent_model.model_fields) if parent_model else []
        guess = difflib.get_close_matches(loc[-1], allowed, n=1, cutoff=0.6)
        hint = f"did you mean '{'.'.join([*loc[:-1], guess[0]])}'?" if guess else f"allowed keys here: {', '.join(allowed)}"
        return f"{path}: unknown key (got {shown(err.get('input'))}); {hint}"
    if kind == "missing":
        example = {LinkConfig: "configs/link/example.toml", PolicyConfig: "configs/irs-2025.toml"}.get(root, "configs/august-2025.toml")
        if root in (None, Config) and loc and loc[0] == "policy":
            example = "configs/irs-2025.toml"
        return f"{path}: required key is missing; add it (see {example} for its meaning and a value)"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{path}: must be a table ([{path}] or {path.rsplit('.', 1)[-1]} = {{ ... }}); got {shown(err.get('input'))}"
    msg = err["msg"]
    msg = msg.replace("Input should be", "must be").replace("Value error, ", "")
    msg = msg.replace("a valid integer, got a number with a fractional part", "a whole number")
    msg = msg.replace("a valid tuple", "a list")
    if kind == "value_error" and ("got " in msg or isinstance(err.get("input"), dict)):
        return f"{path}: {msg}"  # our own validators already name what they received
    return f"{path}: {msg}; got {shown(err.get('input'))}"


def _model_at(loc: list[str], root: type[BaseModel]) -> type[BaseModel] | None:
    model: type[BaseModel] = root
    for part in loc:
        if part.isdigit():         # an item of a list of tables ([[paths]])
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        inner = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif inner:                # tuple[PathConfig, ...] or FellegiSunterConfig | None
            model = inner[0]
        else:
            return None
    return model
