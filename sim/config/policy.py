"""The matcher's schema: a policy (``configs/irs-2025.toml`` ...), its paths, comparisons and
Fellegi-Sunter settings, and ``matchsim link``'s config.

A policy lives in its own file and the scenario names it with ``policy = "irs-2025"``;
:func:`sim.config.load_config` reads it in, so the scenario's hash covers it.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, Strict, field_validator, model_validator

from sim.config.base import ConfigModel, Float, Int, Share


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
#: (:data:`sim.compare.comparisons.COMPOSITES`), and ``composite``: levels the config defines.
CompositeKindName = Literal["address", "surname", "given_name", "date_of_birth", "surname_address", "composite"]
#: What a user-defined composite level may ask of a column: equal, missing on either side, on
#: one side only or on both, or a Jaro-Winkler similarity at least a number in (0, 1).
LevelCondition = Literal["exact", "missing", "missing_one_side", "missing_both_sides"]


class CompositeLevelConfig(ConfigModel):
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


class ComparisonConfig(ConfigModel):
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
        from sim.compare.comparisons import build

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


class FellegiSunterConfig(ConfigModel):
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


class PathConfig(ConfigModel):
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


class PolicyConfig(ConfigModel):
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



class LinkSideConfig(ConfigModel):
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


class LinkConfig(ConfigModel):
    """``matchsim link``: a policy and the column mapping of each of the two files."""

    policy: PolicyConfig
    left: LinkSideConfig
    right: LinkSideConfig
