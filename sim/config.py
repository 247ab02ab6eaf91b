"""Configuration: the only place TOML is read.

A config file is parsed once, at the edge, into frozen pydantic models. Every problem (unknown
key, wrong type, value out of range, shares that do not sum to 1) is collected and reported at
once with its dotted key path, the value received and what is allowed; unknown keys get a
"did you mean". Any key can be overridden with ``KEY=VALUE`` strings (the CLI's ``--set``).

The shipped ``configs/august-2025.toml`` is the complete, documented reference: every field of
the world and the policy is required, so a value lives in exactly one place and nothing silently
falls back to a default. Only ``[study]`` (one replicate, no alternatives, when absent) and
``[calibration]`` (the record ``matchsim calibrate`` writes) are optional. A scenario also names
the files it reads in: its policy, the policies of ``[[study.alternatives]]``, and the targets
file of ``study.published`` (:func:`load_targets`, also read by ``matchsim calibrate``).

>>> cfg = load_config("configs/august-2025.toml", ["world.scale=0.001"])  # doctest: +SKIP
>>> cfg.world.scale  # doctest: +SKIP
0.001
"""

from __future__ import annotations

import copy
import datetime
import difflib
import hashlib
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator, model_validator

from sim.errors import ConfigError
from sim.metrics import check_metric

# Scalars are strict: TOML values are already typed, so true is not 1 and "0.5" is not 0.5
# (an int is still accepted where a float is expected).
Float = Annotated[float, Strict()]
Int = Annotated[int, Strict()]
Share = Annotated[float, Strict(), Field(ge=0.0, le=1.0)]
SHARE_TOLERANCE = 1e-6


class _Model(BaseModel):
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


class _Shares(_Model):
    """A closed set of shares that must sum to 1."""

    @model_validator(mode="after")
    def _sum_to_one(self):
        total = sum(getattr(self, name) for name in type(self).model_fields)
        if not math.isclose(total, 1.0, abs_tol=SHARE_TOLERANCE):
            raise ValueError(f"shares must sum to 1, got {total:.6g}; adjust them so they add up to 1")
        return self

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in type(self).model_fields}


def _mean_sd(value: tuple[float, ...]) -> tuple[float, ...]:
    if len(value) != 2 or value[1] < 0 or not 0 < value[0] < 120:
        raise ValueError(f"must be [mean, standard deviation] in years, a mean in (0, 120) and sd >= 0, got {list(value)}")
    return value


def _range(value: tuple[float, ...]) -> tuple[float, ...]:
    if len(value) != 2 or not 0 <= value[0] <= value[1]:
        raise ValueError(f"must be [min, max] with 0 <= min <= max, got {list(value)}")
    return value


def _size_shares(value: tuple[float, ...]) -> tuple[float, ...]:
    if len(value) != 7:
        raise ValueError(f"must list 7 shares (household sizes 1..7+), got {len(value)}")
    if any(v < 0 for v in value):
        raise ValueError(f"shares must be >= 0, got {list(value)}")
    total = sum(value)
    if not math.isclose(total, 1.0, abs_tol=SHARE_TOLERANCE):
        raise ValueError(f"shares must sum to 1, got {total:.6g}")
    return value


class HouseholdsConfig(_Model):
    size_shares_general: tuple[Float, ...]
    size_shares_immigrant: tuple[Float, ...]
    renter_share_general: Share
    renter_share_immigrant: Share
    multiunit_share_renter: Share
    multiunit_share_owner: Share
    mean_building_units: Annotated[Float, Field(ge=2)]
    doubled_up_share: Share
    partner_share: Share
    child_share: Share
    requested_head_female_share: Share
    head_age_general: tuple[Float, ...]
    head_age_requested: tuple[Float, ...]

    _check_general = field_validator("size_shares_general")(_size_shares)
    _check_immigrant = field_validator("size_shares_immigrant")(_size_shares)
    _check_ages = field_validator("head_age_general", "head_age_requested")(_mean_sd)


class MobilityConfig(_Model):
    owner_annual_move_rate: Share
    renter_annual_move_rate: Share
    same_zip_move_share: Share
    ncoa_update_rate: Share


class HispanicSurnameForms(_Shares):
    paternal_only: Share
    both_spaced: Share
    hyphenated: Share
    maternal_only: Share
    married_de: Share


class MasterFileConfig(_Model):
    adult_on_file_rate: Share
    child_on_file_rate: Share
    zip4_known_rate: Share
    compound_given_kept: Share
    middle_initial_rate: Share
    filing_lag_years_mean: Annotated[Float, Field(ge=0, le=20)]
    hispanic_surname_forms: HispanicSurnameForms


class OriginCounts(_Model):
    """Final-order docket counts by country of citizenship; only their proportions are used."""

    honduras: Annotated[Int, Field(ge=0)]
    guatemala: Annotated[Int, Field(ge=0)]
    mexico: Annotated[Int, Field(ge=0)]
    el_salvador: Annotated[Int, Field(ge=0)]
    cuba: Annotated[Int, Field(ge=0)]
    brazil: Annotated[Int, Field(ge=0)]
    china: Annotated[Int, Field(ge=0)]
    haiti: Annotated[Int, Field(ge=0)]
    ecuador: Annotated[Int, Field(ge=0)]
    colombia: Annotated[Int, Field(ge=0)]
    other: Annotated[Int, Field(ge=0)]

    @model_validator(mode="after")
    def _not_all_zero(self):
        if sum(self.as_dict().values()) == 0:
            raise ValueError("at least one origin group needs a positive count")
        return self

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in type(self).model_fields}


class RequestedConfig(_Model):
    in_master_file_share: Share
    itin_share: Share
    household_on_file_rate: Share
    origin_counts: OriginCounts


class NamesConfig(_Model):
    ice_particles_dropped: Share
    ice_one_surname: Share
    ice_compound_given_truncated: Share
    transliteration_variant: Share
    given_surname_swapped: Share
    typo_rate: Share


class DatesConfig(_Model):
    dob_error_rate: Share


class SsnSources(_Shares):
    correct: Share
    mistyped: Share
    borrowed_relative: Share
    borrowed_stranger: Share
    never_issued: Share


class SsnConfig(_Model):
    share_if_on_file: Share
    share_if_not_on_file: Share
    sources: SsnSources


class AddressClasses(_Shares):
    complete: Share
    missing_unit: Share
    no_street_number: Share
    city_state_only: Share
    zip_only: Share
    placeholder: Share
    blank: Share
    out_of_date: Share
    shared: Share


class FormattingConfig(_Model):
    suffix_spelled_out: Share
    directional_spelled_out: Share
    unit_hash: Share
    lowercase: Share
    titlecase: Share
    no_commas: Share
    typo_rate: Share
    zip_typo_rate: Share

    @model_validator(mode="after")
    def _case_shares(self):
        if self.lowercase + self.titlecase > 1 + SHARE_TOLERANCE:
            raise ValueError(
                f"lowercase + titlecase must be at most 1 (the rest is upper case), "
                f"got {self.lowercase + self.titlecase:.6g}"
            )
        return self


class AddressConfig(_Model):
    record_age_years: tuple[Float, ...]
    classes: AddressClasses
    formatting: FormattingConfig

    _check_range = field_validator("record_age_years")(_range)


class RequestsConfig(_Model):
    names: NamesConfig
    dates: DatesConfig
    ssn: SsnConfig
    address: AddressConfig


#: The most requests a world can hold: every request reserves room for a household of
#: sim.world.geography.MAX_HOUSEHOLD (8) ITINs in the 43,995,600 the ITIN format allows
#: (sim.world.tin.ITIN_DOMAIN). ICE's refused June requests (7.6M, 7.3M records) are beyond it.
MAX_REQUESTS = 5_000_000


class WorldConfig(_Model):
    scale: Annotated[Float, Field(gt=0.0, le=1.0)]
    n_requests: Annotated[Int, Field(ge=1)]

    @field_validator("n_requests")
    @classmethod
    def _room_for_itins(cls, value: int) -> int:
        if value > MAX_REQUESTS:
            raise ValueError(f"must be at most {MAX_REQUESTS:,} (each request reserves 8 of the 44.0 million numbers "
                             f"the ITIN format allows); got {value:,}")
        return value
    reference_year: Annotated[Int, Field(ge=2000, le=2030)]
    population_growth: Annotated[Float, Field(gt=0.0, le=10.0)]
    max_block_population: Annotated[Int, Field(ge=10_000)]
    households: HouseholdsConfig
    mobility: MobilityConfig
    master_file: MasterFileConfig
    requested: RequestedConfig
    requests: RequestsConfig


# --------------------------------------------------------------------------------------------
# The matcher's policy: how ICE's requests are matched to the master file and what is disclosed.
# A policy lives in its own file (configs/irs-2025.toml ...) and the scenario names it with
# ``policy = "irs-2025"``; :func:`load_config` reads it in, so the scenario's hash covers it.

#: The columns a policy can block on and compare: both sides are prepared into these
#: (sim.match.prepare) from the ICE file, the master file, or a user's own files.
MatchColumn = Literal[
    "tin", "first_name", "last_name", "name_control", "date_of_birth",
    "street_line", "street", "street6", "street_number", "street_name", "unit", "city", "state", "zip5",
    "surname_1", "surname_2", "given_1", "given_2", "given_variant",
]
MATCH_COLUMNS: tuple[str, ...] = MatchColumn.__args__
#: Match columns that :mod:`sim.match.prepare` derives from others and a source cannot map:
#: each side's first and second surname (particles dropped: DE LA TORRE MUNOZ -> TORRE, MUNOZ;
#: null when there is one), first and second given name (JOSE LUIS -> JOSE, LUIS) and the form
#: the first given name is grouped under among its variants (JOSE, JOSEPH -> JOSEPH; null if none).
DERIVED_COLUMNS: tuple[str, ...] = ("surname_1", "surname_2", "given_1", "given_2", "given_variant")
MAPPABLE_COLUMNS: tuple[str, ...] = tuple(c for c in MATCH_COLUMNS if c not in DERIVED_COLUMNS)
#: Checks on ICE's address text before a request is matched at all (FACTS, "The process"):
#: ``none``; ``nonblank``: the field is not blank (the declaration); ``zip_regex``: it holds a 5- or
#: 9-digit number (the opinion); ``sufficient``: a complete address (house number, street, and a ZIP
#: or a city and state) by :func:`sim.normalize.address_sufficiency`.
AddressGate = Literal["none", "nonblank", "zip_regex", "sufficient"]
ADDRESS_GATES: tuple[str, ...] = AddressGate.__args__
#: Which requests a path takes: those carrying a TIN, those without, or all.
PathRequests = Literal["with_tin", "without_tin", "all"]
#: What a path does when several master-file records match one request: ``reject`` discloses
#: nothing (the request is "ambiguous"); ``best`` discloses the single highest-scoring record
#: and rejects a tie for the top.
OnMultiple = Literal["reject", "best"]
#: Who computes a policy's candidate pairs and comparison levels (sim.match.matchers): numpy and
#: rapidfuzz (``vectorized``, the reference), or recordlinkage's Index and Compare (the
#: cross-check); identical results, so not part of a result's identity.
MatcherName = Literal["vectorized", "recordlinkage"]
MATCHERS: tuple[str, ...] = MatcherName.__args__
ComparisonKindName = Literal["exact", "jaro_winkler", "levenshtein", "date"]
#: Composite comparisons over several columns built by named constructors
#: (:data:`sim.match.compare.COMPOSITES`), and ``composite``: levels the config defines.
CompositeKindName = Literal["address", "surname", "given_name", "date_of_birth", "surname_address", "composite"]
#: What a user-defined composite level may ask of a column: equal, missing on either side, on
#: one side only or on both, or a Jaro-Winkler similarity at least a number in (0, 1).
LevelCondition = Literal["exact", "missing", "missing_one_side", "missing_both_sides"]


class CompositeLevelConfig(_Model):
    """One level of a user-defined composite comparison: it holds when every column of ``when``
    meets its condition (or, given a list of tables, those of any one of them)."""

    label: Annotated[str, Strict(), Field(min_length=1, pattern=r"^[a-z0-9_]+$")]
    # one table of conditions, or a list of them (any one holding is enough); kept as a list
    when: tuple[dict[MatchColumn, Float | LevelCondition], ...]

    @field_validator("when", mode="before")
    @classmethod
    def _one_or_several(cls, value):
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _conditions(self):
        if not self.when or any(not alt for alt in self.when):
            raise ValueError(f"level '{self.label}': 'when' must name at least one column, e.g. when = {{ zip5 = \"exact\" }}")
        for alt in self.when:
            for column, condition in alt.items():
                if not isinstance(condition, str) and not 0 < condition < 1:
                    raise ValueError(f"level '{self.label}': {column} = {condition!r}; a number is a Jaro-Winkler "
                                     f"similarity floor in (0, 1), e.g. 0.9, or use one of {', '.join(LevelCondition.__args__)}")
        return self


def _implies(a: dict, b: dict) -> bool:
    """Whether every pair meeting the conditions ``a`` meets ``b`` too (a is at least as strict
    on every column of b): exact implies any similarity floor; a higher floor a lower one."""
    for column, want in b.items():
        have = a.get(column)
        if have is None:
            return False
        if have == want:
            continue
        if isinstance(want, float | int) and not isinstance(want, bool):
            if have == "exact" or (not isinstance(have, str) and have >= want):
                continue
        if want == "missing" and have in ("missing_one_side", "missing_both_sides"):
            continue
        return False
    return True


class ComparisonConfig(_Model):
    """One comparison: a column, a kind, and the thresholds that make its ordered levels; or a
    composite over several columns (``kind = "address"``, ``"surname"``, ``"given_name"``,
    ``"date_of_birth"``, or ``"composite"`` with its own ``levels``, closest first).

    Rules, m, u and ``tf_adjust`` refer to a comparison by its :attr:`key`: its ``name`` if
    given, else its column, else (a named composite) its kind."""

    column: MatchColumn | None = None
    kind: ComparisonKindName | CompositeKindName
    name: Annotated[str, Strict(), Field(min_length=1, pattern=r"^[a-z0-9_]+$")] | None = None
    thresholds: tuple[Float, ...] = ()
    levels: tuple[CompositeLevelConfig, ...] = ()

    @property
    def key(self) -> str:
        return self.name or self.column or self.kind

    @property
    def composite(self) -> bool:
        return self.kind in CompositeKindName.__args__

    @model_validator(mode="after")
    def _thresholds_fit_kind(self):
        t = self.thresholds
        if self.kind == "composite":
            if self.column is not None or t:
                raise ValueError("a composite comparison reads the columns its levels name; remove 'column' and 'thresholds'")
            if not self.levels or self.name is None:
                raise ValueError("kind = \"composite\" needs a name and levels, closest first, e.g. name = \"home\", "
                                 "levels = [{ label = \"same_street_zip\", when = { street = \"exact\", zip5 = \"exact\" } }, "
                                 "{ label = \"same_zip\", when = { zip5 = \"exact\" } }]")
            labels = [level.label for level in self.levels]
            if len(set(labels)) != len(labels) or {"missing", "different"} & set(labels):
                raise ValueError(f"composite '{self.name}': level labels must be distinct and not 'missing' or 'different'; got {labels}")
            for j, later in enumerate(self.levels):
                for earlier in self.levels[:j]:
                    if all(any(_implies(alt, e) for e in earlier.when) for alt in later.when):
                        raise ValueError(
                            f"composite '{self.name}': levels are out of order: every pair at level '{later.label}' already "
                            f"meets the earlier level '{earlier.label}', so '{later.label}' can never be reached; "
                            f"list levels closest first (the strictest conditions first)")
            return self
        if self.levels:
            raise ValueError(f"'levels' belong to kind = \"composite\"; kind = \"{self.kind}\" has its own")
        if self.composite:
            if self.column is not None:
                raise ValueError(f"kind = \"{self.kind}\" is a composite over fixed columns; remove 'column = \"{self.column}\"'")
            if t and self.kind not in ("surname", "given_name", "date_of_birth", "surname_address"):
                raise ValueError(f"kind = \"{self.kind}\" takes no thresholds; got {list(t)}")
            if t and self.kind in ("surname", "given_name", "surname_address") and not (
                    all(0 < x < 1 for x in t) and all(a > b for a, b in zip(t, t[1:]))):
                raise ValueError(f"{self.kind} thresholds are its Jaro-Winkler levels: similarities in (0, 1), strictly descending, e.g. [0.92, 0.8]; got {list(t)}")
            if t and self.kind == "date_of_birth" and not (len(t) == 1 and t[0] >= 1 and float(t[0]).is_integer()):
                raise ValueError(f"date_of_birth takes one threshold, the days of its 'within' level, e.g. [366]; got {list(t)}")
            return self
        if self.column is None:
            raise ValueError(f"kind = \"{self.kind}\" compares one column: add column = \"...\", one of {', '.join(MATCH_COLUMNS)}")
        if self.kind == "exact" and t:
            raise ValueError(f"an {self.kind} comparison takes no thresholds, got {list(t)}; remove 'thresholds'")
        if self.kind == "jaro_winkler" and not (t and all(0 < x < 1 for x in t) and all(a > b for a, b in zip(t, t[1:]))):
            raise ValueError(f"jaro_winkler needs thresholds: similarities in (0, 1), strictly descending, e.g. [0.92, 0.8]; got {list(t)}")
        if self.kind in ("levenshtein", "date") and not (
                t and all(x >= 1 and float(x).is_integer() for x in t) and all(a < b for a, b in zip(t, t[1:]))):
            unit = "days" if self.kind == "date" else "edits"
            raise ValueError(f"{self.kind} needs thresholds: whole numbers of {unit} >= 1, strictly ascending, e.g. [1, 2]; got {list(t)}")
        return self

    @property
    def level_names(self) -> tuple[Any, ...]:
        """What a rule may name as a minimum level, loosest first: the thresholds, then "exact"
        (a composite's level labels), as the comparison built from this config has them."""
        from sim.match.compare import build

        return build(self).level_names

    @property
    def n_levels(self) -> int:
        """Levels from "different" to the closest (what m and u give a probability for)."""
        return len(self.level_names) + 1


#: How a Fellegi-Sunter path sets its prior, the probability that two random records (a
#: request and a master-file record) are the same person, as Splink defines it:
#: ``deterministic_rules`` - the pairs that strict rules accept, divided by the rules' stated
#: recall, over all request x record pairs (Splink's estimate_probability_two_random_records_match);
#: ``matches_per_request`` - a stated expected number of true records per request over the master
#: file's records; ``em`` - the share of candidate pairs EM finds to be matches, coherent only when
#: u is estimated by EM on the same candidate pairs (``u_estimate = "em"``).
PriorMethod = Literal["deterministic_rules", "matches_per_request", "em"]


class FellegiSunterConfig(_Model):
    """Fellegi-Sunter scoring: m and u probabilities of every comparison level, fixed or
    estimated by EM on the candidate pairs, a prior, and a threshold on the match weight or
    the match probability."""

    estimate: Literal["em", "fixed"]
    # how u is estimated under EM: from random record pairs (then fixed while EM finds m, as
    # Splink recommends) or by EM together with m
    u_estimate: Literal["random_sampling", "em"] = "random_sampling"
    u_random_pairs_per_request: Annotated[Int, Field(ge=1, le=100_000)] = 200
    # the rules whose pairs train m, one EM session each (Splink's training blocking rules): each
    # refines one of the path's blocking rules (all its columns, perhaps more), so its pairs are
    # candidates; pairs blocked on a ZIP are mostly households, which EM would take for "same person"
    training_blocking: tuple[tuple[MatchColumn, ...], ...] = ()
    # exactly one of the two thresholds: log2 posterior odds, or the posterior probability
    match_weight_threshold: Float | None = None
    match_probability_threshold: Annotated[Float, Field(gt=0.0, lt=1.0)] | None = None
    prior: PriorMethod = "em"
    # prior = "deterministic_rules": rules as a path's decision rules name them (comparison keys
    # and their loosest level) and the share of true matches they are taken to find
    deterministic_rules: tuple[dict[str, Float | Annotated[str, Strict()]], ...] = ()
    deterministic_recall: Annotated[Float, Field(gt=0.0, le=1.0)] | None = None
    # prior = "matches_per_request": expected master-file records per request that are the person
    matches_per_request: Annotated[Float, Field(gt=0.0, le=10.0)] | None = None
    # the starting prior of every EM session (and of the whole EM with prior = "em"): a share of
    # the pairs EM sees
    prior_match: Annotated[Float, Field(gt=0.0, lt=1.0)]
    max_iterations: Annotated[Int, Field(ge=1, le=10_000)] = 200
    tolerance: Annotated[Float, Field(gt=0.0, lt=1.0)] = 1e-6
    tf_adjust: tuple[Annotated[str, Strict()], ...] = ()
    # one probability per level, from "different" (level 0) to "exact"; required when fixed,
    # the starting point of EM otherwise (defaults are used where absent)
    m: dict[str, tuple[Share, ...]] = Field(default_factory=dict)
    u: dict[str, tuple[Share, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _threshold_and_prior(self):
        problems = []
        given = [k for k in ("match_weight_threshold", "match_probability_threshold") if getattr(self, k) is not None]
        if len(given) != 1:
            problems.append("give exactly one of match_weight_threshold (log2 odds, e.g. 20) and match_probability_threshold "
                            f"(in (0, 1), e.g. 0.99); got {' and '.join(given) if given else 'neither'}")
        if self.prior == "deterministic_rules" and (not self.deterministic_rules or self.deterministic_recall is None):
            problems.append("prior = \"deterministic_rules\" needs deterministic_rules (e.g. [{ tin = \"exact\", date_of_birth = \"exact\" }]) "
                            "and deterministic_recall (the share of true matches they find, in (0, 1])")
        if self.prior == "matches_per_request" and self.matches_per_request is None:
            problems.append("prior = \"matches_per_request\" needs matches_per_request (expected true records per request, e.g. 0.6)")
        if self.prior != "deterministic_rules" and (self.deterministic_rules or self.deterministic_recall is not None):
            problems.append(f"deterministic_rules and deterministic_recall are read only with prior = \"deterministic_rules\"; prior is \"{self.prior}\"")
        if self.prior != "matches_per_request" and self.matches_per_request is not None:
            problems.append(f"matches_per_request is read only with prior = \"matches_per_request\"; prior is \"{self.prior}\"")
        if self.prior == "em" and self.estimate == "em" and self.u_estimate == "random_sampling":
            problems.append("prior = \"em\" with u from random pairs mixes two universes: u is a share of random record pairs, "
                            "the EM prior a share of candidate pairs, so weights lose their meaning as log2 odds; use "
                            "prior = \"deterministic_rules\" or \"matches_per_request\", or u_estimate = \"em\"")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def threshold_weight(self) -> float:
        """The threshold as a match weight (log2 odds): a probability p is log2(p / (1 - p))."""
        if self.match_weight_threshold is not None:
            return float(self.match_weight_threshold)
        p = self.match_probability_threshold
        return math.log2(p / (1 - p))


class PathConfig(_Model):
    """One of a policy's mutually exclusive processes (FACTS: TIN Matching, address matching)."""

    name: Annotated[str, Strict(), Field(min_length=1, pattern=r"^[a-z0-9_]+$")]
    requests: PathRequests
    address_gate: AddressGate
    blocking: tuple[tuple[MatchColumn, ...], ...]
    comparisons: tuple[ComparisonConfig, ...]
    decide: Literal["rules", "fellegi_sunter"]
    # each rule names comparison columns and the loosest level accepted (a threshold or "exact");
    # a pair matches when all the columns of any one rule reach their level
    rules: tuple[dict[str, Float | Annotated[str, Strict()]], ...] = ()
    fellegi_sunter: FellegiSunterConfig | None = None
    on_multiple: OnMultiple

    @model_validator(mode="after")
    def _consistent(self):
        problems = []
        if not self.blocking or any(len(rule) == 0 for rule in self.blocking):
            problems.append(f"blocking must list at least one rule of at least one column, e.g. [[\"tin\"]]; got {[list(r) for r in self.blocking]}")
        columns = [c.key for c in self.comparisons]
        if not columns:
            problems.append("comparisons must list at least one comparison")
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        if dupes:
            problems.append(f"each comparison needs its own name in a path; {', '.join(dupes)} is used more than once (give each a name = \"...\")")
        by_key = {c.key: c for c in self.comparisons}

        def check_rules(rules, where: str):
            for i, rule in enumerate(rules):
                if not rule:
                    problems.append(f"{where}[{i}] is empty; name at least one comparison")
                for key, level in rule.items():
                    if key not in by_key:
                        problems.append(f"{where}[{i}] names '{key}', which is not compared; comparisons: {', '.join(columns)}")
                    elif level not in by_key[key].level_names:
                        allowed = ", ".join(repr(x) for x in by_key[key].level_names)
                        problems.append(f"{where}[{i}].{key} = {level!r} is not a level of that comparison; allowed: {allowed}")

        if self.decide == "rules":
            if not self.rules:
                problems.append("decide = \"rules\" needs at least one rule, e.g. rules = [{ name_control = \"exact\" }]")
            check_rules(self.rules, "rules")
        else:
            fs = self.fellegi_sunter
            if fs is None:
                problems.append("decide = \"fellegi_sunter\" needs a [fellegi_sunter] table")
            else:
                check_rules(fs.deterministic_rules, "fellegi_sunter.deterministic_rules")
                for rule in fs.training_blocking:
                    if not any(set(b) <= set(rule) for b in self.blocking):
                        problems.append(f"fellegi_sunter.training_blocking: {list(rule)} does not refine any of the path's blocking "
                                        f"rules {[list(r) for r in self.blocking]}, so its pairs are not all candidates; give each "
                                        f"training rule all the columns of one blocking rule (it may add more)")
                for key in fs.tf_adjust:
                    if key not in by_key:
                        problems.append(f"fellegi_sunter.tf_adjust names '{key}', which is not compared; comparisons: {', '.join(columns)}")
                    elif by_key[key].kind in ("address", "date_of_birth", "composite"):
                        problems.append(f"fellegi_sunter.tf_adjust names '{key}', a {by_key[key].kind} comparison, which has no "
                                        f"one value to take the frequency of; adjust surname, given_name, surname_address or a one-column comparison")
                for kind, table in (("m", fs.m), ("u", fs.u)):
                    for key, probs in table.items():
                        if key not in by_key:
                            problems.append(f"fellegi_sunter.{kind}.{key}: not a comparison; comparisons: {', '.join(columns)}")
                        elif len(probs) != by_key[key].n_levels:
                            problems.append(f"fellegi_sunter.{kind}.{key}: needs {by_key[key].n_levels} "
                                            f"probabilities (levels 'different' .. closest), got {len(probs)}")
                        elif not math.isclose(sum(probs), 1.0, abs_tol=1e-3):
                            problems.append(f"fellegi_sunter.{kind}.{key}: probabilities must sum to 1, got {sum(probs):.6g}")
                if fs.estimate == "fixed":
                    missing = [c for c in columns if c not in fs.m or c not in fs.u]
                    if missing:
                        problems.append(f"fellegi_sunter.estimate = \"fixed\" needs m and u for every comparison; missing for {', '.join(missing)}")
                    if fs.prior == "em":
                        problems.append("fellegi_sunter.estimate = \"fixed\" has no EM to estimate the prior with; "
                                        "use prior = \"deterministic_rules\" or \"matches_per_request\"")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class PolicyConfig(_Model):
    """A matching policy: its processes (paths), the matcher that computes them, and what is disclosed."""

    name: Annotated[str, Strict(), Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    description: Annotated[str, Strict(), Field(min_length=1)]
    matcher: MatcherName
    # what a match releases: the master file's last known address (26 CFR 301.6212-2)
    disclose: Literal["last_known_address"]
    paths: tuple[PathConfig, ...]
    # Most candidate pairs one path may make in one block (a ZIP region of the world, or one
    # `matchsim link` input). Unset: as many as the memory available when the block is matched
    # holds (sim.match.policy.check_pairs). A limit, not a rule: it never changes a result, only
    # refuses, so it is left out of the config's dump and hash.
    max_pairs: Annotated[Annotated[int, Strict(), Field(ge=1)] | None, Field(exclude=True)] = None

    @model_validator(mode="before")
    @classmethod
    def _engine_renamed(cls, data):
        """``engine`` (vectorized | recordlinkage) was renamed ``matcher`` in December 2026: an
        *engine* is now only where the work runs (local processes or Dask)."""
        if isinstance(data, dict) and "engine" in data:
            raise ValueError(f"the policy key 'engine' is now 'matcher' (got engine = {data['engine']!r}); rename it: "
                             f"matcher = {data['engine']!r} (vectorized | recordlinkage)")
        return data

    @model_validator(mode="after")
    def _paths(self):
        names = [p.name for p in self.paths]
        if not names:
            raise ValueError("a policy needs at least one [[paths]] table")
        if len(set(names)) != len(names):
            raise ValueError(f"path names must be unique, got {names}")
        return self



class LinkSideConfig(_Model):
    """How one input file of ``matchsim link`` maps onto the match columns."""

    # match column (or zip4) -> the file's column holding it, e.g. { last_name = "SURNAME" }
    columns: dict[str, Annotated[str, Strict(), Field(min_length=1)]]
    # a free-text address column, parsed into the address columns not mapped directly
    address: Annotated[str, Strict(), Field(min_length=1)] | None = None
    # a column identifying each record, copied to the outputs (else the row number is used)
    id: Annotated[str, Strict(), Field(min_length=1)] | None = None
    # the file's text encoding (CSV only), e.g. "utf-8", "latin-1"
    encoding: Annotated[str, Strict(), Field(min_length=1)] = "utf-8"

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(MAPPABLE_COLUMNS) - {"zip4"})
        if unknown:
            raise ValueError(f"maps unknown match columns {unknown}; the columns a source can map are: {', '.join(MAPPABLE_COLUMNS)}, zip4 ({', '.join(DERIVED_COLUMNS)} are derived from the names)")
        return value


class LinkConfig(_Model):
    """``matchsim link``: a policy and the column mapping of each of the two files."""

    policy: PolicyConfig
    left: LinkSideConfig
    right: LinkSideConfig

# --------------------------------------------------------------------------------------------
# Published figures (targets) and the calibration that fits free parameters to them.

class TargetConfig(_Model):
    """A published figure and how close a simulation must come to it: ``metric`` names a figure
    of a run's summary.json, ``GROUP.KEY`` (:mod:`sim.metrics`).

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


class FreeParameter(_Model):
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


class CalibrationSettings(_Model):
    """How ``matchsim calibrate`` searches: runs at ``scale`` over ``replicates`` seeds per
    point, at most ``max_iterations`` Newton steps, then a confirming run at ``confirm_scale``
    over ``confirm_replicates`` seeds."""

    scale: Annotated[Float, Field(gt=0.0, le=1.0)]
    replicates: Annotated[Int, Field(ge=1, le=100)]
    max_iterations: Annotated[Int, Field(ge=1, le=50)]
    confirm_scale: Annotated[Float, Field(gt=0.0, le=1.0)]
    confirm_replicates: Annotated[Int, Field(ge=1, le=100)]


class TargetsConfig(_Model):
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


class SweepParameter(_Model):
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


class SweepDesign(_Model):
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


class SweepConfig(_Model):
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


class PublishedConfig(_Model):
    """The targets file a scenario compares itself with (``study.published``), read in."""

    file: Annotated[str, Strict(), Field(min_length=1)]
    targets: tuple[TargetConfig, ...]


class StudyConfig(_Model):
    """What ``matchsim run`` does with a scenario beyond one run: ``replicates`` seeds (``seed``,
    ``seed + 1``, ...) for intervals, the same worlds matched under each alternative policy, and
    the published figures the report compares with."""

    replicates: Annotated[Int, Field(ge=1, le=1000)]
    alternatives: tuple[PolicyConfig, ...] = ()
    published: PublishedConfig | None = None


class Config(_Model):
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


# --------------------------------------------------------------------------------------------
# Loading, overriding, and reporting every problem at once


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Read a TOML scenario, read in the policy it names, apply ``KEY=VALUE`` overrides, validate.

    ``policy = "irs-2025"`` names ``irs-2025.toml`` beside the scenario (or give a path relative
    to it). ``--set policy=statute-6103`` picks another policy; ``--set policy.paths...`` keys
    change the policy read in. Raises :class:`ConfigError` listing every problem found.
    """
    path = Path(path)
    raw = _read_with_policy(path, overrides, "a TOML config such as configs/august-2025.toml")
    return validate_config(raw, source=str(path))


def load_link_config(path: str | Path, overrides: Iterable[str] = ()) -> LinkConfig:
    """Read and validate a ``matchsim link`` config; its ``policy = NAME`` is resolved as a
    scenario's is (a file beside it, or a path relative to it)."""
    path = Path(path)
    raw = _read_with_policy(path, overrides, "a link config such as configs/link/example.toml")
    try:
        return LinkConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(str(path), [_describe(err, raw, LinkConfig) for err in exc.errors()]) from None


def _read_with_policy(path: Path, overrides: Iterable[str], what: str) -> dict[str, Any]:
    """A config file's data with its ``policy = NAME`` read in and the overrides applied: a
    ``policy=...`` override first (it picks the file), the others after (they may change keys of
    the policy read in)."""
    raw = _read_toml(path, what)
    overrides = list(overrides)
    picks = [o for o in overrides if _picks_a_file(o.partition("=")[0].strip())]
    raw = apply_overrides(raw, picks, source=str(path))
    raw = resolve_policy(raw, path)
    raw = resolve_study(raw, path)
    return apply_overrides(raw, [o for o in overrides if o not in picks], source=str(path))


#: Keys of a study alternative's entry as written (``[[study.alternatives]]``), before its
#: policy file is read in and the entry becomes that policy's table.
_ALTERNATIVE_ENTRY = re.compile(r"^study\.alternatives(\.\d+(\.(name|description|policy|set)(\..*)?)?)?$")


def _picks_a_file(key: str) -> bool:
    """Whether an override changes which file is read in (``policy``, ``study.published``) or an
    alternative's entry as the file writes it (``study.alternatives=[{ name = ..., policy = ... }]``,
    ``study.alternatives.1.set...``): those apply before the files are read in, the others after,
    to the policies read in (``policy.paths.0.address_gate``)."""
    return key in ("policy", "study.published") or bool(_ALTERNATIVE_ENTRY.match(key))


def load_policy(path: str | Path, overrides: Iterable[str] = ()) -> PolicyConfig:
    """Read and validate a policy file on its own (``matchsim link`` uses one)."""
    path = Path(path)
    raw = apply_overrides(_read_toml(path, "a policy file such as configs/irs-2025.toml"), overrides, source=str(path))
    try:
        return PolicyConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(str(path), [_describe(err, raw, PolicyConfig) for err in exc.errors()]) from None


MAX_CONFIG_BYTES = 1 << 20
"""The largest config file read (1 MiB; the shipped ones are under 20 KiB). A bound, so that a
device such as /dev/zero or an endless pipe passed as a config is refused, not read until memory
runs out."""


def read_config_text(path: Path, what: str) -> str:
    """The text of a config file: a regular file of at most :data:`MAX_CONFIG_BYTES`, UTF-8."""
    try:
        if not path.is_file():
            if not path.exists():
                raise FileNotFoundError(path)
            raise ConfigError(str(path), [f"'{path}' is not a regular file (a directory, device or pipe); pass the path of {what}"])
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(str(path), [f"file not found: '{path}'; pass the path of {what}"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read '{path}': {exc}; pass a readable UTF-8 TOML file"]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(str(path), [f"'{path}' is larger than {MAX_CONFIG_BYTES // 1024} KiB, too large for a config; pass {what}"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"cannot read '{path}': not UTF-8 text ({exc}); pass a readable UTF-8 TOML file"]) from None


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    return parse_toml(read_config_text(path, what), str(path))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """TOML text as data; a syntax error, or nesting too deep for the parser, is a ConfigError."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}; fix the syntax at that line"]) from None
    except RecursionError:
        raise ConfigError(source, ["arrays or inline tables nested too deeply for the TOML parser; a matchsim config nests at most a few levels, so flatten the value"]) from None


def policy_path(name: str, scenario_path: Path) -> Path:
    """The file a scenario's ``policy = NAME`` refers to: ``NAME.toml`` beside the scenario, or
    a path relative to the scenario's folder (``../irs-2025``; ``.toml`` is added if absent)."""
    relative = Path(name if name.endswith(".toml") else f"{name}.toml")
    return relative if relative.is_absolute() else scenario_path.parent / relative


def resolve_policy(raw: dict[str, Any], scenario_path: Path, *, where: str = "policy") -> dict[str, Any]:
    """``raw`` (a scenario's TOML data) with ``policy = NAME`` replaced by that policy file's
    table; an inline ``[policy]`` table is left as it is. ``where`` is the key path problems are
    reported under (``study.alternatives.2.policy`` for an alternative's)."""
    name = raw.get("policy")
    if not isinstance(name, str):
        return raw      # absent, or an inline table: validation reports what is wrong
    target = policy_path(name, scenario_path)
    if not target.is_file():
        shipped = sorted(p.stem for p in scenario_path.parent.glob("*.toml") if _is_policy_file(p))
        hint = f"policies beside the scenario: {', '.join(shipped)}" if shipped else "give the path of a policy file"
        raise ConfigError(str(scenario_path), [f"{where}: no policy file {str(target)!r} for policy = {name!r}; {hint}"])
    try:
        policy = _read_toml(target, "a policy file")
    except ConfigError as exc:
        raise ConfigError(str(scenario_path), [f"{where} = {name!r}: {p}" for p in exc.problems]) from None
    if "world" in policy or "scenario" in policy:
        raise ConfigError(str(scenario_path), [f"{where}: {str(target)!r} is a scenario, not a policy (it has [world]); name a policy file such as irs-2025"])
    return {**raw, "policy": policy}


def resolve_study(raw: dict[str, Any], scenario_path: Path) -> dict[str, Any]:
    """``raw`` with each ``[[study.alternatives]]`` entry (``name``, ``policy = FILE``, optional
    ``description`` and ``set = { "dotted.key" = value }``) replaced by that policy file's table, renamed and changed,
    and ``study.published = FILE`` replaced by the targets it lists. Files are found as the
    scenario's policy is (beside the scenario, or a path relative to it)."""
    study = raw.get("study")
    if not isinstance(study, dict):
        return raw
    study = dict(study)
    problems = []
    alternatives = study.get("alternatives")
    if isinstance(alternatives, list):
        resolved = []
        for i, entry in enumerate(alternatives):
            where = f"study.alternatives.{i}"
            if not isinstance(entry, dict) or not isinstance(entry.get("policy"), str) or not isinstance(entry.get("name"), str):
                problems.append(f"{where}: must be a table with name = \"...\" and policy = \"FILE\" "
                                f"(and optionally set = {{ \"paths.0.address_gate\" = \"sufficient\" }}); got {_show(entry)}")
                continue
            unknown = sorted(set(entry) - {"name", "description", "policy", "set"})
            if unknown:
                problems.append(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: name, description, policy, set")
            try:
                policy = resolve_policy({"policy": entry["policy"]}, scenario_path, where=f"{where}.policy")["policy"]
            except ConfigError as exc:
                problems += exc.problems
                continue
            for key, value in (entry.get("set") or {}).items():
                if (problem := set_dotted(policy, key, value)):
                    problems.append(f"{where}.set: {problem}")
            policy = {**policy, "name": entry["name"], **({"description": entry["description"]} if "description" in entry else {})}
            problems += _alternative_problems(policy, where, policy_path(entry["policy"], scenario_path))
            resolved.append(policy)
        study["alternatives"] = resolved
    published = study.get("published")
    if isinstance(published, str):
        targets = load_targets(policy_path(published, scenario_path))
        study["published"] = {"file": published, "targets": [t.to_dict() for t in targets.targets]}
    if problems:
        raise ConfigError(str(scenario_path), problems)
    return {**raw, "study": study}


def _alternative_problems(policy: dict[str, Any], where: str, source: Path) -> list[str]:
    """An alternative's policy checked where its problems can name the file they are in: a
    policy file that is not valid is reported under ``study.alternatives.N`` with that file,
    not as if the scenario itself were wrong."""
    try:
        PolicyConfig.model_validate(policy)
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            path, _, rest = _describe(err, policy, PolicyConfig).partition(": ")
            out.append(f"{where}.{path} (from {source}): {rest.replace('add it (see', f'add it to {source} (see')}")
        return out
    return []


def load_targets(path: str | Path) -> TargetsConfig:
    """Read and validate a targets file (``[[targets]]``, and for ``matchsim calibrate``
    ``[[parameters]]`` and ``[calibration]``)."""
    path = Path(path)
    raw = _read_toml(path, "a targets file such as configs/published-2025.toml")
    try:
        return TargetsConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(str(path), [_describe(err, raw, TargetsConfig) for err in exc.errors()]) from None


def load_sweep(path: str | Path) -> SweepConfig:
    """Read and validate a sweep file; its ``set`` may be written with dotted keys quoted
    (``"world.scale" = 0.01``) or as nested tables, and is flattened to dotted keys."""
    path = Path(path)
    raw = _read_toml(path, "a sweep file such as configs/sweeps/address-quality.toml")
    if isinstance(raw.get("set"), dict):
        raw = {**raw, "set": _flatten(raw["set"])}
    try:
        return SweepConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(str(path), [_describe(err, raw, SweepConfig) for err in exc.errors()]) from None


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, dotted + "."))
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
    known = list(_flatten(config.to_dict()))
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


def _is_policy_file(path: Path) -> bool:
    try:
        data = parse_toml(read_config_text(path, "a policy file"), str(path))
    except ConfigError:
        return False
    return "paths" in data and "world" not in data


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


def validate_config(raw: Mapping[str, Any], *, source: str = "<config>") -> Config:
    """Validate plain data into a :class:`Config`, reporting every problem at once."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [_describe(err, raw) for err in exc.errors()]) from None


def config_with(config: Config, **updates: Any) -> Config:
    """A copy of ``config`` with dotted-key updates, re-validated: ``config_with(c, **{"world.scale": 0.1})``."""
    raw = config.to_dict()
    problems = [f"{key}: {problem}" for key, value in updates.items() if (problem := set_dotted(raw, key, value))]
    if problems:
        raise ConfigError("config_with", problems)
    return validate_config(raw)


def _describe(err: Mapping[str, Any], raw: Mapping[str, Any], root: type[BaseModel] | None = None) -> str:
    loc = [str(p) for p in err["loc"]]
    path = ".".join(loc) if loc else "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        parent_model = _model_at(loc[:-1], root or Config)
        allowed = sorted(parent_model.model_fields) if parent_model else []
        guess = difflib.get_close_matches(loc[-1], allowed, n=1, cutoff=0.6)
        hint = f"did you mean '{'.'.join([*loc[:-1], guess[0]])}'?" if guess else f"allowed keys here: {', '.join(allowed)}"
        return f"{path}: unknown key (got {_show(err.get('input'))}); {hint}"
    if kind == "missing":
        example = {LinkConfig: "configs/link/example.toml", PolicyConfig: "configs/irs-2025.toml"}.get(root, "configs/august-2025.toml")
        if root in (None, Config) and loc and loc[0] == "policy":
            example = "configs/irs-2025.toml"
        return f"{path}: required key is missing; add it (see {example} for its meaning and a value)"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{path}: must be a table ([{path}] or {path.rsplit('.', 1)[-1]} = {{ ... }}); got {_show(err.get('input'))}"
    msg = err["msg"]
    msg = msg.replace("Input should be", "must be").replace("Value error, ", "")
    msg = msg.replace("a valid integer, got a number with a fractional part", "a whole number")
    msg = msg.replace("a valid tuple", "a list")
    if kind == "value_error" and ("got " in msg or isinstance(err.get("input"), dict)):
        return f"{path}: {msg}"  # our own validators already name what they received
    return f"{path}: {msg}; got {_show(err.get('input'))}"


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


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table" if value else "an empty table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
