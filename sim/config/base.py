"""The building blocks of every config model: strict scalars, the frozen model with its dump
and hash, and shares that must sum to 1.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator


# Scalars are strict: TOML values are already typed, so true is not 1 and "0.5" is not 0.5
# (an int is still accepted where a float is expected).
Float = Annotated[float, Strict()]
Int = Annotated[int, Strict()]
Share = Annotated[float, Strict(), Field(ge=0.0, le=1.0)]
SHARE_TOLERANCE = 1e-6


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    def to_dict(self, *, without: tuple[str, ...] = ()) -> dict[str, Any]:
        """The config as plain data; ``without`` drops dotted keys (``"policy.matcher"``; ``*``
        stands for every item of a list: ``"study.alternatives.*.matcher"``)."""
        data = self.model_dump(mode="json")
        for key in without:
            _drop(data, key.split("."))
        return data

    def sha256(self, *, without: tuple[str, ...] = ()) -> str:
        """Hash of the validated config, canonical JSON; the provenance key of every output.

        ``without`` drops dotted keys first: ``sha256(without=("world.requests",))`` identifies
        the settings the population and the master file depend on, which request-error
        settings do not change.
        """
        canonical = json.dumps(self.to_dict(without=without), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _drop(node: Any, parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if head == "*" and isinstance(node, list):
        for item in node:
            _drop(item, rest)
    elif not rest:
        node.pop(head)
    else:
        _drop(node[head], rest)


class Shares(ConfigModel):
    """A closed set of shares that must sum to 1."""

    @model_validator(mode="after")
    def _sum_to_one(self):
        total = sum(getattr(self, name) for name in type(self).model_fields)
        if not math.isclose(total, 1.0, abs_tol=SHARE_TOLERANCE):
            raise ValueError(f"shares must sum to 1, got {total:.6g}; adjust them so they add up to 1")
        return self

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in type(self).model_fields}


def mean_sd(value: tuple[float, ...]) -> tuple[float, ...]:
    if len(value) != 2 or value[1] < 0 or not 0 < value[0] < 120:
        raise ValueError(f"must be [mean, standard deviation] in years, a mean in (0, 120) and sd >= 0, got {list(value)}")
    return value


def size_shares(value: tuple[float, ...]) -> tuple[float, ...]:
    if len(value) != 7:
        raise ValueError(f"must list 7 shares (household sizes 1..7+), got {len(value)}")
    if any(v < 0 for v in value):
        raise ValueError(f"shares must be >= 0, got {list(value)}")
    total = sum(value)
    if not math.isclose(total, 1.0, abs_tol=SHARE_TOLERANCE):
        raise ValueError(f"shares must sum to 1, got {total:.6g}")
    return value
