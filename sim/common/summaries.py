"""Every summary matchsim writes, its one typed definition, and the one place they are written
and read.

========  ==========================================  =====================================
kind      file                                        written by
========  ==========================================  =====================================
world     ``manifest.json`` of ``matchsim generate``  :mod:`sim.world.generate`
run       ``summary.json`` of one world x one policy  :mod:`sim.runs.pipeline`
link      ``summary.json`` of ``matchsim link``       :mod:`sim.runs.link`
score     ``summary.json`` of ``matchsim score``      :mod:`sim.runs.score`
study     ``summary.json`` of ``matchsim run``        :mod:`sim.studies.study`
sweep     ``summary.json`` of ``matchsim sweep``      :mod:`sim.studies.sweep`
========  ==========================================  =====================================

Each writer builds its summary as a dict in the order its file shows it, and
:func:`write_summary` checks it against its model here before writing: a key the model does not
define, or a value of the wrong type, is a bug caught where it is made, not by a reader later.
:func:`read_summary` checks a summary read back (by ``matchsim report`` and ``matchsim score``,
possibly after it was copied, edited or damaged), so a summary of the wrong shape is one clear
error listing each key path, the value found and what was expected (exit code 2), not a
traceback from deep in a reader. Reading allows keys a model does not define, so a summary written
by a later matchsim with more in it is still read.

Provenance (:func:`sim.common.provenance.provenance`: ``version``, ``data_sha256``,
``libraries``) is in every summary, at its top level except in a sweep's (under ``provenance``).
:func:`parquet_metadata` is the one spelling of the ``matchsim.*`` keys a Parquet file carries.

>>> check_summary({"kind": "sweep"}, "example", "sweep")        # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sim.common.errors.InputError: 'example' is not a sweep summary matchsim can read: 21 problems
  - sweep: missing
...
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError, model_validator

from sim.common.errors import InputError
from sim.common.io import atomic_write_text
from sim.common.text import shown

SUMMARY_FILE = "summary.json"
MANIFEST_FILE = "manifest.json"

Number = float | None   # a figure with no value (a rate of nothing) is null
Counts = dict[str, StrictInt]
Rates = dict[str, Number]
Breakdowns = dict[str, dict[str, Counts]]   # breakdown -> category -> counts


class Model(BaseModel):
    """A part of a summary: strict types; keys it does not define are allowed when reading and
    refused when writing (:func:`write_summary`)."""
    model_config = ConfigDict(extra="allow", strict=True)


class Provenance(Model):
    version: str
    data_sha256: str
    libraries: dict[str, str]


# ----------------------------------------------------------------------------------------------
# One world, and the figures of one run of it


class WorldManifest(Provenance):
    scenario: str
    seed: StrictInt
    scale: float
    world_sha256: str
    population_sha256: str
    counts: Counts
    regions: Any
    datasets: dict[str, str]
    config: dict[str, Any]


class Figures(Model):
    """What a run's decisions come to (:mod:`sim.evaluate`): counts in the simulated world, the
    same scaled to the national request file, rates and breakdowns."""
    estimate_factor: float
    simulated: Counts
    estimates: Counts
    rates: Rates
    breakdowns: Breakdowns
    address_ages: dict[str, dict[str, Number]] = Field(default_factory=dict)   # group -> q1/median/q3


class FrontierCounts(Model):
    disclosed: StrictInt
    right_person_disclosures: StrictInt
    wrong_person_disclosures: StrictInt
    precision: Number
    recall: Number


class WeightFrontierPoint(FrontierCounts):
    match_weight: float
    match_probability: float


class Prior(Model):
    """How a Fellegi-Sunter path's prior was set (:func:`sim.match.policy.prior`)."""
    method: str = "em"
    matches_per_request: Number = None
    pairs_accepted: StrictInt | None = None
    recall: Number = None
    n_requests: StrictInt | None = None
    n_possible_pairs: StrictInt | None = None
    expected_matches: Number = None


class Fit(Model):
    """A Fellegi-Sunter path's fitted model (:meth:`sim.match.fellegi_sunter.FellegiSunter.parameters`):
    m and u by comparison and level."""
    prior_match: Number = None
    log2_prior_odds: Number = None
    prior: Prior | None = None
    m: list[list[float]] = Field(default_factory=list)
    u: list[list[float]] = Field(default_factory=list)
    iterations: StrictInt | None = None
    converged: StrictBool | None = None


class RunSummary(Provenance, Figures):
    scenario: str
    policy: str
    seed: StrictInt
    scale: float
    config_sha256: str
    world_sha256: str
    fellegi_sunter: dict[str, Fit]
    frontier: list[WeightFrontierPoint] | None = None
    config: dict[str, Any]


class Links(Model):
    file: str
    sha256: str
    rows: StrictInt
    columns: dict[str, str | None]
    threshold: Number


class ScoreFrontierPoint(FrontierCounts):
    threshold: float


class ScoreSummary(Provenance, Figures):
    command: Literal["score"]
    scenario: str | None
    seed: StrictInt | None
    scale: Number
    world_sha256: str
    links: Links
    frontier: list[ScoreFrontierPoint] | None = None


class LinkTruth(Model):
    """A link scored on truth columns of the two files (``matchsim link --truth``)."""
    findable: StrictInt
    linked: StrictInt
    right_links: StrictInt
    wrong_links: StrictInt
    precision: Number
    recall: Number
    f1: Number
    frontier: list[WeightFrontierPoint] | None = None


class LinkSummary(Provenance):
    command: Literal["link"]
    policy: str
    seed: StrictInt | None
    config_sha256: str
    inputs: dict[Literal["left", "right"], dict[str, Any]]
    n_pairs: StrictInt
    n_matched_pairs: StrictInt
    outcomes: Counts
    by_path: dict[str, Counts]
    fellegi_sunter: dict[str, Fit]
    notes: list[str]
    config: dict[str, Any]
    truth: LinkTruth | None = None


# ----------------------------------------------------------------------------------------------
# A study: seeds x policies, every figure a mean over seeds with its interval


class Stat(Model):
    """A figure over seeds (:func:`sim.common.stats.interval`): the mean and its interval, and
    for the headline figures the spread and the number of seeds."""
    mean: Number
    lo: Number = None
    hi: Number = None
    sd: Number = None
    min: Number = None
    max: Number = None
    n: StrictInt | None = None


StatFigures = dict[str, Stat]


class Aggregate(Model):
    estimates: StatFigures
    rates: StatFigures
    simulated: StatFigures = Field(default_factory=dict)
    funnel: dict[str, StatFigures] = Field(default_factory=dict)
    breakdowns: dict[str, dict[str, StatFigures]] = Field(default_factory=dict)
    address_ages: dict[str, StatFigures] = Field(default_factory=dict)


class Unit(Model):
    seed: StrictInt
    dir: str
    config_sha256: str


class StatFrontierPoint(Model):
    match_weight: float
    match_probability: float
    disclosed: Stat
    right_person_disclosures: Stat
    wrong_person_disclosures: Stat
    precision: Stat
    recall: Stat


class SameVolumeUnit(Model):
    """One seed of a same-volume comparison: the policy's threshold moved until it discloses as
    many as the reference does (simulated counts)."""
    seed: StrictInt
    volume: Number
    match_weight: Number
    match_probability: Number
    disclosed: Number
    wrong_person_disclosures: Number
    reference_wrong_person_disclosures: Number


class SameVolume(Model):
    reference: str
    units: list[SameVolumeUnit] = Field(default_factory=list)
    disclosed: Stat
    right_person_disclosures: Stat | None = None
    wrong_person_disclosures: Stat
    reference_wrong_person_disclosures: Stat
    fewer_wrong_person_disclosures: Stat
    precision: Stat
    recall: Stat
    match_weight: Stat | None = None


class Policy(Model):
    name: str
    description: str = ""
    role: Literal["baseline", "alternative"]
    policy_sha256: str
    units: list[Unit]
    aggregate: Aggregate
    vs_baseline: StatFigures | None = None
    fellegi_sunter: dict[str, dict[str, Fit | None]] = Field(default_factory=dict)
    frontier: list[StatFrontierPoint] = Field(default_factory=list)
    same_volume: SameVolume | None = None


class Published(Model):
    """A published figure beside the baseline policy's simulated one."""
    name: str
    metric: str
    published: float
    tolerance: Number = None
    range: list[float] | None = None
    bounds: list[float] | None = None
    source: str = ""
    simulated: Stat
    difference: Number = None
    relative_difference: Number = None
    within: StrictBool | None = None


class Parameter(Model):
    key: str
    value: Any = None
    note: str = ""


class Interval(Model):
    method: str
    level: float


class StudySummary(Model):
    scenario: str
    baseline_policy: str
    seed: StrictInt
    seeds: list[StrictInt] = Field(min_length=1)
    replicates: StrictInt = Field(ge=1)
    scale: float = Field(gt=0)
    n_requests: StrictInt = Field(ge=0)
    interval: Interval
    config_sha256: str
    world_sha256: dict[str, str] = Field(default_factory=dict)
    version: str
    data_sha256: str = "n/a"
    libraries: dict[str, str] = Field(default_factory=dict)
    policies: list[Policy] = Field(min_length=1)
    published_file: str | None = None
    published: list[Published] = Field(default_factory=list)
    calibration: dict[str, Any] | None = None
    parameters: list[Parameter] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_baseline(self):
        baselines = [p.name for p in self.policies if p.role == "baseline"]
        if baselines != [self.baseline_policy]:
            raise ValueError(f"baseline_policy is {self.baseline_policy!r} but the policies with role 'baseline' are "
                             f"{baselines}; exactly that one policy must have it")
        return self


# ----------------------------------------------------------------------------------------------
# A sweep: a design of points, each over the same seeds


class SweepReference(Model):
    point: StrictInt
    values: dict[str, Any]
    reason: str
    difference: str


class SweepUnits(Model):
    total: StrictInt
    ok: StrictInt
    failed: StrictInt


class SweepPoint(Model):
    point: StrictInt
    values: dict[str, Any]
    config_sha256: str | None            # None: the point's values make no valid scenario
    ok: StrictInt
    failed: StrictInt
    metrics: StatFigures
    vs_reference: StatFigures | None


class SweepFailure(Model):
    point: StrictInt
    seed: StrictInt
    error: str


class SweepSummary(Model):
    kind: Literal["sweep"]
    sweep: str
    description: str
    sweep_file: str
    base: str
    scenario: str
    base_config_sha256: str
    sweep_sha256: str
    version: str
    design: dict[str, Any]
    set: dict[str, Any]
    command_line_set: list[str]
    parameters: list[dict[str, Any]]
    columns: list[str]
    seeds: list[StrictInt]
    metrics: list[str]
    interval: str
    reference: SweepReference | None
    units: SweepUnits
    points: list[SweepPoint]
    failures: list[SweepFailure]
    provenance: Provenance


Kind = Literal["world", "run", "link", "score", "study", "sweep"]

#: Each kind: its model, its file, whether its keys are written sorted, and what rewrites it.
KINDS: dict[str, tuple[type[Model], str, bool, str]] = {
    "world": (WorldManifest, MANIFEST_FILE, True, "`matchsim generate`"),
    "run": (RunSummary, SUMMARY_FILE, False, "`matchsim run`"),
    "link": (LinkSummary, SUMMARY_FILE, False, "`matchsim link`"),
    "score": (ScoreSummary, SUMMARY_FILE, False, "`matchsim score`"),
    "study": (StudySummary, SUMMARY_FILE, False, "`matchsim run`"),
    "sweep": (SweepSummary, SUMMARY_FILE, False, "`matchsim sweep`"),
}


def check_summary(summary: Any, source: str, kind: Kind) -> Model:
    """``summary`` validated as a summary of ``kind``; an :class:`InputError` naming every problem
    (key path, value found, what is expected) when it is not one."""
    model, _, _, command = KINDS[kind]
    if kind == "study" and (not isinstance(summary, dict) or "policies" not in summary or "baseline_policy" not in summary):
        raise InputError(f"'{source}' is not a study summary (no 'policies'); pass the directory `matchsim run` wrote, "
                         f"not a run directory under runs/")
    try:
        return model.model_validate(summary)
    except ValidationError as exc:
        problems = [problem(err) for err in exc.errors()]
        shown_problems = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise InputError("\n".join([f"'{source}' is not a {kind} summary matchsim can read: "
                                    f"{len(problems)} problem{'s' if len(problems) != 1 else ''}",
                                    *(f"  - {p}" for p in shown_problems),
                                    f"run {command} again to rewrite it, or restore the file as it was written"])) from None


def problem(err: Mapping[str, Any]) -> str:
    """One pydantic error as ``key.path: what is wrong; got VALUE``."""
    where = ".".join(str(part) for part in err["loc"]) or "(top level)"
    if err["type"] == "missing":
        return f"{where}: missing"
    if err["type"] == "value_error":      # a check across keys: its message names what it saw
        return f"{where}: {err['msg'].removeprefix('Value error, ')}"
    return f"{where}: {err['msg'][0].lower()}{err['msg'][1:]}; got {shown(err.get('input'))}"


def undefined_keys(model: BaseModel, where: str = "") -> Iterator[str]:
    """The key paths of ``model`` (validated) that its definition does not have."""
    for key in model.model_extra or {}:
        yield f"{where}{key}"
    for name in type(model).model_fields:
        yield from _undefined_in(getattr(model, name), f"{where}{name}")


def _undefined_in(value: Any, where: str) -> Iterator[str]:
    if isinstance(value, BaseModel):
        yield from undefined_keys(value, f"{where}.")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _undefined_in(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _undefined_in(item, f"{where}.{i}")


def summary_text(summary: Mapping[str, Any], kind: Kind) -> str:
    """``summary`` as its file holds it, after checking it against its definition: a key the
    model does not define, or a value of another type, is a bug in the writer (ValueError)."""
    model, name, sort_keys, _ = KINDS[kind]
    try:
        checked = model.model_validate(summary)
    except ValidationError as exc:
        raise ValueError(f"a {kind} summary does not match its definition in sim.common.summaries:\n  "
                         + "\n  ".join(problem(err) for err in exc.errors())) from None
    extra = list(undefined_keys(checked))
    if extra:
        raise ValueError(f"a {kind} summary has keys its definition in sim.common.summaries lacks: {', '.join(extra)}; "
                         f"define them in {model.__name__}")
    return json.dumps(summary, indent=2, sort_keys=sort_keys) + "\n"


def write_summary(directory: str | Path, summary: Mapping[str, Any], kind: Kind) -> Path:
    """Write ``summary`` as ``directory``'s summary of ``kind`` (its ``summary.json``, or a world's
    ``manifest.json``), atomically, once it is checked against its definition."""
    path = Path(directory) / KINDS[kind][1]
    atomic_write_text(path, summary_text(summary, kind))
    return path


def read_summary(directory: str | Path, kind: Kind, *, rewrite: str | None = None) -> dict[str, Any]:
    """The summary of ``kind`` in ``directory``, as written, once it is checked against its
    definition (extra keys allowed). ``rewrite`` is what the errors tell the user to run when the
    file is missing (default: the command that writes it)."""
    _, name, _, command = KINDS[kind]
    path = Path(directory) / name
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no {name} in '{directory}'; {rewrite or f'pass the directory {command} wrote (-o DIR)'}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read '{path}': {exc}; run {command} again to rewrite it") from None
    check_summary(summary, str(path), kind)
    return summary


def parquet_metadata(fields: Mapping[str, Any]) -> dict[str, str]:
    """The ``matchsim.*`` key-value metadata of a Parquet file: each field as text."""
    return {f"matchsim.{key}": str(value) for key, value in fields.items()}


__all__ = ["SUMMARY_FILE", "MANIFEST_FILE", "KINDS", "Kind", "Model", "Provenance", "WorldManifest", "RunSummary",
           "LinkSummary", "ScoreSummary", "StudySummary", "SweepSummary", "Stat", "Policy", "check_summary", "problem",
           "undefined_keys", "summary_text", "write_summary", "read_summary", "parquet_metadata"]
