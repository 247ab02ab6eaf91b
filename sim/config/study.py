"""The schemas around a scenario: published targets and the calibration fitted to them, sweeps,
the study (replicates and alternatives), and :class:`Config`, the scenario itself.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, Strict, field_validator, model_validator

from sim.config.base import ConfigModel, Float, Int
from sim.config.policy import PolicyConfig
from sim.config.world import WorldConfig
from sim.common.metrics import check_metric


class TargetConfig(ConfigModel):
    """A published figure and how close a simulation must come to it: ``metric`` names a figure
    of a run's summary.json, ``GROUP.KEY`` (:mod:`sim.common.metrics`).

    ``tolerance`` is relative (0.015 = within 1.5%); ``range`` is an interval the figure must fall
    in (for "nearly 5%": [0.04, 0.05]). A target with neither is shown beside the simulation but
    not tested (a derived figure, say).
    """

    name: Annotated[str, Strict(), Field(min_length=1)]
    metric: Annotated[str, Strict(), Field(pattern=r"^(estimates|simulated|rates)\.[a-z_]+$")]
    value: Float
    tolerance: Annotated[Float, Field(gt=0.0, le=1.0)] | None = None
    range: tuple[Float, Float] | None = None
    source: Annotated[str, Strict(), Field(min_length=1)]

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        return check_metric(value)

    @model_validator(mode="after")
    def _range_ordered(self):
        if self.range is not None and not self.range[0] <= self.value <= self.range[1]:
            raise ValueError(f"range must be [low, high] around value {self.value:g}, got {list(self.range)}")
        if self.range is not None and self.tolerance is not None:
            raise ValueError("give a tolerance or a range, not both")
        return self

    def bounds(self) -> tuple[float, float] | None:
        """The interval the simulated figure must fall in, or None for a figure only shown."""
        if self.range is not None:
            return self.range
        if self.tolerance is not None:
            return (self.value * (1 - self.tolerance), self.value * (1 + self.tolerance))
        return None


class FreeParameter(ConfigModel):
    """A scenario key the calibration may move, within ``range``.

    A share in a set that must sum to 1 names the share that gives way (``balance``): raising
    ``world.requests.address.classes.zip_only`` by 0.01 lowers ``...classes.complete`` by 0.01.
    """

    key: Annotated[str, Strict(), Field(pattern=r"^world\.[a-z0-9_.]+$")]
    range: tuple[Float, Float]
    balance: Annotated[str, Strict(), Field(pattern=r"^world\.[a-z0-9_.]+$")] | None = None
    reason: Annotated[str, Strict(), Field(min_length=1)]

    @model_validator(mode="after")
    def _range_ordered(self):
        if not self.range[0] < self.range[1]:
            raise ValueError(f"range must be [low, high] with low < high, got {list(self.range)}")
        return self


class CalibrationSettings(ConfigModel):
    """How ``matchsim calibrate`` searches: runs at ``scale`` over ``replicates`` seeds per
    point, at most ``max_iterations`` Newton steps, then a confirming run at ``confirm_scale``
    over ``confirm_replicates`` seeds."""

    scale: Annotated[Float, Field(gt=0.0, le=1.0)]
    replicates: Annotated[Int, Field(ge=1, le=100)]
    max_iterations: Annotated[Int, Field(ge=1, le=50)]
    confirm_scale: Annotated[Float, Field(gt=0.0, le=1.0)]
    confirm_replicates: Annotated[Int, Field(ge=1, le=100)]


class TargetsConfig(ConfigModel):
    """A targets file: the published figures, and optionally what ``matchsim calibrate`` fits to them."""

    targets: tuple[TargetConfig, ...] = Field(min_length=1)
    parameters: tuple[FreeParameter, ...] = ()
    calibration: CalibrationSettings | None = None

    @model_validator(mode="after")
    def _unique(self):
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError(f"target names must be unique, got {names}")
        keys = [p.key for p in self.parameters]
        if len(set(keys)) != len(keys):
            raise ValueError(f"parameter keys must be unique, got {keys}")
        return self


#: The most points a sweep's design may have, and runs (points x replicates) it may make: at
#: ten seconds or more a run, 100,000 runs are two weeks of a 2-core machine.
MAX_SWEEP_POINTS, MAX_SWEEP_UNITS = 100_000, 100_000


class SweepParameter(ConfigModel):
    """One swept config key: its ``values`` (a grid's axis, or the choices a random design
    draws from) or its ``range`` (drawn uniformly, or stratified by a Latin hypercube).

    ``balance`` names a share that gives way, as for a calibrated parameter: sweeping
    ``world.requests.address.classes.zip_only`` with ``balance = "...classes.complete"`` keeps
    the address classes summing to 1.
    """

    key: Annotated[str, Strict(), Field(pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")]
    values: tuple[Annotated[str, Strict()] | Annotated[bool, Strict()] | Int | Float, ...] | None = Field(None, min_length=1)
    range: tuple[Float, Float] | None = None
    balance: Annotated[str, Strict(), Field(pattern=r"^world\.[a-z0-9_.]+$")] | None = None

    @model_validator(mode="after")
    def _values_or_range(self):
        if (self.values is None) == (self.range is None):
            raise ValueError(f"{self.key}: give values = [...] or range = [low, high], one of the two")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"{self.key}: range must be [low, high] with low < high, got {list(self.range)}")
        if self.values is not None:
            kinds = {"number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v).__name__ for v in self.values}
            if len(kinds) > 1:
                raise ValueError(f"{self.key}: values must be all numbers, all strings or all booleans, got {list(self.values)}")
            if len(set(self.values)) != len(self.values):
                raise ValueError(f"{self.key}: values must be distinct, got {list(self.values)}")
        if self.balance is not None and self.values is not None and not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values):
            raise ValueError(f"{self.key}: a balanced share takes numbers, got {list(self.values)}")
        return self


class SweepDesign(ConfigModel):
    """Which points a sweep runs: every combination of the parameters' values (``grid``), or
    ``points`` draws (``random``: independent uniform draws; ``lhs``: a Latin hypercube, each
    parameter's range cut into ``points`` strata, one draw in each), from the design's ``seed``."""

    kind: Literal["grid", "random", "lhs"] = "grid"
    points: Annotated[Int, Field(ge=1, le=MAX_SWEEP_POINTS)] | None = None
    seed: Annotated[Int, Field(ge=0, lt=2**63)] = 0
    digits: Annotated[Int, Field(ge=1, le=12)] = 6

    @model_validator(mode="after")
    def _points_for_draws(self):
        if self.kind != "grid" and self.points is None:
            raise ValueError(f"a {self.kind} design needs points = N (how many points to draw)")
        if self.kind == "grid" and self.points is not None:
            raise ValueError(f"a grid runs every combination of the values; points = {self.points} is for random and lhs designs")
        return self


class SweepConfig(ConfigModel):
    """A sweep file (``matchsim sweep``): a base scenario, fixed overrides (``set``), the swept
    ``parameters`` and the ``design`` that picks points from them, each point run on
    ``replicates`` seeds (the base scenario's ``seed``, ``seed + 1``, ...: the same seeds at
    every point, so differences between points are the parameters' effect). ``reference``
    names, by swept values, the point every other is compared with seed by seed (default: the
    point that is the base scenario itself, if the design has it)."""

    description: Annotated[str, Strict(), Field(min_length=1)]
    base: Annotated[str, Strict(), Field(min_length=1)]
    replicates: Annotated[Int, Field(ge=1, le=1000)]
    set: dict[str, Any] = {}
    metrics: tuple[Annotated[str, Strict(), Field(pattern=r"^(estimates|simulated|rates)\.[a-z_]+$")], ...] = (
        "estimates.disclosed", "estimates.wrong_person_disclosures", "estimates.right_person_disclosures",
        "rates.precision", "rates.recall", "rates.wrong_person_rate", "rates.deficient_address_rate")
    design: SweepDesign = SweepDesign()
    parameters: tuple[SweepParameter, ...] = Field(min_length=1)
    reference: dict[str, Any] | None = None

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for metric in value:
            TargetConfig._known_metric(metric)
        return value

    @model_validator(mode="after")
    def _consistent(self):
        keys = [p.key for p in self.parameters]
        if len(set(keys)) != len(keys):
            raise ValueError(f"parameters must sweep distinct keys, got {keys}")
        fixed = sorted(set(keys) & set(self.set))
        if fixed:
            raise ValueError(f"{', '.join(fixed)} is both swept and fixed by set; remove it from one of the two")
        if self.reference is not None:
            unknown = sorted(set(self.reference) - set(keys))
            if unknown or not self.reference:
                raise ValueError(f"reference names a point by the values of swept keys ({', '.join(keys)}); "
                                 f"got {', '.join(unknown) if unknown else 'an empty table'}")
        if self.design.kind == "grid":
            missing = [p.key for p in self.parameters if p.values is None]
            if missing:
                raise ValueError(f"a grid takes values = [...] for each parameter; {', '.join(missing)} has a range "
                                 "(use design.kind = \"lhs\" or \"random\" to draw from ranges)")
        points = self.n_points
        if points > MAX_SWEEP_POINTS:
            sizes = " x ".join(str(len(p.values)) for p in self.parameters)
            raise ValueError(f"a grid of {sizes} = {points:,} points is more than {MAX_SWEEP_POINTS:,}; sweep fewer values, "
                             f"or draw points from the ranges (design.kind = \"lhs\", points = N)")
        if points * self.replicates > MAX_SWEEP_UNITS:
            raise ValueError(f"{points:,} points x {self.replicates} replicates = {points * self.replicates:,} runs, more than "
                             f"{MAX_SWEEP_UNITS:,}; lower the points or the replicates")
        return self

    @property
    def n_points(self) -> int:
        """How many points the design runs (before any turns out invalid)."""
        if self.design.kind != "grid":
            return self.design.points or 0
        return math.prod(len(p.values or ()) for p in self.parameters)


class PublishedConfig(ConfigModel):
    """The targets file a scenario compares itself with (``study.published``), read in."""

    file: Annotated[str, Strict(), Field(min_length=1)]
    targets: tuple[TargetConfig, ...]


class StudyConfig(ConfigModel):
    """What ``matchsim run`` does with a scenario beyond one run: ``replicates`` seeds (``seed``,
    ``seed + 1``, ...) for intervals, the same worlds matched under each alternative policy, and
    the published figures the report compares with."""

    replicates: Annotated[Int, Field(ge=1, le=1000)]
    alternatives: tuple[PolicyConfig, ...] = ()
    published: PublishedConfig | None = None


class Config(ConfigModel):
    """A validated scenario: a seed, the world it generates, the policy that matches it, the
    study around it, and (for a calibrated scenario) where its fitted values came from."""

    scenario: Annotated[str, Strict(), Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    seed: Annotated[Int, Field(ge=0, lt=2**63)]
    world: WorldConfig
    policy: PolicyConfig
    study: StudyConfig = StudyConfig(replicates=1)
    # Written by ``matchsim calibrate``: the record of a fit, not a setting, so free-form.
    calibration: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _baseline_not_twice(cls, data):
        """``--set policy=statute-6103`` makes an alternative the baseline: it is not run twice."""
        if isinstance(data, dict) and isinstance(data.get("study"), dict) and isinstance(data["study"].get("alternatives"), list):
            alternatives = [a for a in data["study"]["alternatives"] if a != data.get("policy")]
            data = {**data, "study": {**data["study"], "alternatives": alternatives}}
        return data

    @model_validator(mode="after")
    def _study_consistent(self):
        names = [self.policy.name, *(p.name for p in self.study.alternatives)]
        if len(set(names)) != len(names):
            raise ValueError(f"the policy and study.alternatives must have distinct names, got {names}; "
                             "give each alternative its own name = \"...\"")
        if self.seed + self.study.replicates > 2**63:
            raise ValueError(f"seed {self.seed} with {self.study.replicates} replicates (seeds seed..seed+{self.study.replicates - 1}) "
                             f"passes the largest seed, 2**63 - 1; lower the seed")
        return self

    def policies(self) -> tuple[PolicyConfig, ...]:
        """The scenario's policy first, then the study's alternatives."""
        return (self.policy, *self.study.alternatives)
