"""The shape of a study's summary.json, checked before ``matchsim report`` renders it.

``matchsim run`` writes the summary (:mod:`sim.studies.study`); ``matchsim report DIR`` renders it again,
possibly after it was copied, edited or damaged. :func:`check_summary` validates it against
these models first, so a summary of the wrong shape is one clear error listing each key path,
what was there and what was expected (exit code 2), instead of a traceback from deep in the
report. Keys the report does not read are allowed (``extra="allow"``), so a summary written by a
later matchsim with more in it still renders.

A figure is a :class:`Stat`: the mean over seeds with its interval, and for the headline
figures the spread (``sd``, ``min``, ``max``) and the number of seeds ``n``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError, model_validator

from sim.common.errors import InputError
from sim.studies.study import SUMMARY_FILE

Number = float | None   # JSON has no NaN literal matchsim relies on; a figure with no value is null


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class Stat(_Loose):
    mean: Number
    lo: Number = None
    hi: Number = None
    sd: Number = None
    min: Number = None
    max: Number = None
    n: StrictInt | None = None


Figures = dict[str, Stat]


class Aggregate(_Loose):
    estimates: Figures
    rates: Figures
    simulated: Figures = Field(default_factory=dict)
    funnel: dict[str, Figures] = Field(default_factory=dict)
    breakdowns: dict[str, dict[str, Figures]] = Field(default_factory=dict)


class Unit(_Loose):
    seed: StrictInt
    dir: str
    config_sha256: str


class FrontierPoint(_Loose):
    match_weight: float
    match_probability: float
    disclosed: Stat
    right_person_disclosures: Stat
    wrong_person_disclosures: Stat
    precision: Stat
    recall: Stat


class SameVolume(_Loose):
    reference: str
    disclosed: Stat
    wrong_person_disclosures: Stat
    reference_wrong_person_disclosures: Stat
    fewer_wrong_person_disclosures: Stat
    precision: Stat
    recall: Stat
    units: list[dict[str, Any]] = Field(default_factory=list)


class Prior(_Loose):
    method: str = "em"
    matches_per_request: Number = None


class Fit(_Loose):
    prior_match: Number = None
    prior: Prior | None = None
    iterations: StrictInt | None = None
    converged: StrictBool | None = None


class Policy(_Loose):
    name: str
    description: str = ""
    role: Literal["baseline", "alternative"]
    policy_sha256: str
    units: list[Unit]
    aggregate: Aggregate
    vs_baseline: Figures | None = None
    fellegi_sunter: dict[str, dict[str, Fit | None]] = Field(default_factory=dict)
    frontier: list[FrontierPoint] = Field(default_factory=list)
    same_volume: SameVolume | None = None


class Published(_Loose):
    name: str
    metric: str
    published: float
    simulated: Stat
    within: StrictBool | None = None
    source: str = ""


class Parameter(_Loose):
    key: str
    value: Any = None
    note: str = ""


class Interval(_Loose):
    method: str
    level: float


class Summary(_Loose):
    version: str
    scenario: str
    seed: StrictInt
    seeds: list[StrictInt] = Field(min_length=1)
    replicates: StrictInt = Field(ge=1)
    scale: float = Field(gt=0)
    n_requests: StrictInt = Field(ge=0)
    config_sha256: str
    data_sha256: str = "n/a"
    baseline_policy: str
    policies: list[Policy] = Field(min_length=1)
    published: list[Published] = Field(default_factory=list)
    published_file: str | None = None
    interval: Interval
    parameters: list[Parameter] = Field(default_factory=list)
    calibration: dict[str, Any] | None = None
    world_sha256: dict[str, str] = Field(default_factory=dict)
    libraries: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_baseline(self):
        baselines = [p.name for p in self.policies if p.role == "baseline"]
        if baselines != [self.baseline_policy]:
            raise ValueError(f"baseline_policy is {self.baseline_policy!r} but the policies with role 'baseline' are "
                             f"{baselines}; exactly that one policy must have it")
        return self


def check_summary(summary: Any, source: str) -> Summary:
    """``summary`` validated as a study summary; an :class:`InputError` naming every problem
    (key path, value received, what is expected) when it is not one."""
    if not isinstance(summary, dict) or "policies" not in summary or "baseline_policy" not in summary:
        raise InputError(f"'{source}' is not a study summary (no 'policies'); pass the directory `matchsim run` wrote, "
                         f"not a run directory under runs/")
    try:
        return Summary.model_validate(summary)
    except ValidationError as exc:
        problems = [_problem(err) for err in exc.errors()]
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise InputError("\n".join([f"'{source}' is not a summary `matchsim report` can render: "
                                    f"{len(problems)} problem{'s' if len(problems) != 1 else ''}",
                                    *(f"  - {p}" for p in shown),
                                    "run `matchsim run` again to rewrite it, or restore the file as it was written"])) from None


def _problem(err: dict) -> str:
    where = ".".join(str(part) for part in err["loc"]) or "(top level)"
    if err["type"] == "missing":
        return f"{where}: missing"
    if err["type"] == "value_error":      # a check across keys: its message names what it saw
        return f"{where}: {err['msg'].removeprefix('Value error, ')}"
    received = err.get("input")
    shown = repr(received) if len(repr(received)) <= 60 else f"{type(received).__name__} {repr(received)[:57]}..."
    return f"{where}: {err['msg'][0].lower()}{err['msg'][1:]}; got {shown}"


def read_study(study_dir: str | Path) -> dict:
    """A finished study's summary.json (for ``matchsim report``), checked against its schema
    (:class:`Summary`) so that the report renders it or an error says what is wrong."""
    path = Path(study_dir) / SUMMARY_FILE
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no {SUMMARY_FILE} in '{study_dir}'; pass the directory `matchsim run` wrote (-o DIR)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read '{path}': {exc}; run `matchsim run` again to rewrite it") from None
    check_summary(summary, str(path))
    return summary
