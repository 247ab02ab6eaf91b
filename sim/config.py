"""Configuration: the only place TOML is read.

A config file is parsed once, at the edge, into frozen pydantic models. Every problem (unknown
key, wrong type, value out of range, shares that do not sum to 1) is collected and reported at
once with its dotted key path, the value received and what is allowed; unknown keys get a
"did you mean". Any key can be overridden with ``KEY=VALUE`` strings (the CLI's ``--set``).

The shipped ``configs/august-2025.toml`` is the complete, documented reference: every field is
required, so a value lives in exactly one place and nothing silently falls back to a default.

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
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator, model_validator

from sim.errors import ConfigError

# Scalars are strict: TOML values are already typed, so true is not 1 and "0.5" is not 0.5
# (an int is still accepted where a float is expected).
Float = Annotated[float, Strict()]
Int = Annotated[int, Strict()]
Share = Annotated[float, Strict(), Field(ge=0.0, le=1.0)]
SHARE_TOLERANCE = 1e-6


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


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


class WorldConfig(_Model):
    scale: Annotated[Float, Field(gt=0.0, le=1.0)]
    n_requests: Annotated[Int, Field(ge=1)]
    reference_year: Annotated[Int, Field(ge=2000, le=2030)]
    population_growth: Annotated[Float, Field(gt=0.0, le=10.0)]
    max_block_population: Annotated[Int, Field(ge=10_000)]
    households: HouseholdsConfig
    mobility: MobilityConfig
    master_file: MasterFileConfig
    requested: RequestedConfig
    requests: RequestsConfig


class Config(_Model):
    """A validated scenario: a seed and the world it generates."""

    scenario: Annotated[str, Strict(), Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    seed: Annotated[Int, Field(ge=0, lt=2**63)]
    world: WorldConfig

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def sha256(self, *, without: tuple[str, ...] = ()) -> str:
        """Hash of the validated config, canonical JSON; the provenance key of every output.

        ``without`` drops dotted keys first: ``sha256(without=("world.requests",))`` identifies
        the settings the population and the master file depend on, which request-error
        settings do not change.
        """
        data = self.to_dict()
        for key in without:
            *parents, last = key.split(".")
            node = data
            for part in parents:
                node = node[part]
            node.pop(last)
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Loading, overriding, and reporting every problem at once


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Read a TOML config, apply ``KEY=VALUE`` overrides, and validate it.

    Raises :class:`ConfigError` listing every problem found.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [f"file not found: '{path}'; pass the path of a TOML config such as configs/august-2025.toml"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read '{path}': {exc}; pass a readable UTF-8 TOML file"]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}; fix the syntax at that line"]) from None
    raw = apply_overrides(raw, overrides, source=str(path))
    return validate_config(raw, source=str(path))


def apply_overrides(raw: Mapping[str, Any], overrides: Iterable[str], *, source: str = "--set") -> dict[str, Any]:
    """Return a copy of ``raw`` with each ``KEY=VALUE`` applied; VALUE is read as a TOML value.

    A VALUE that is not valid TOML (``scenario=my-run``) is taken as a string.
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
        if isinstance(value, (datetime.date, datetime.time)):
            value = text.strip()  # scenario=2025-06-27 names a scenario; no key here is a date
        node = result
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                problems.append(
                    f"--set '{item}': '{'.'.join(parts[: i + 1])}' is a value, not a table; "
                    f"set it directly, e.g. --set {'.'.join(parts[: i + 1])}=..."
                )
                break
            node = child
        else:
            node[parts[-1]] = value
    if problems:
        raise ConfigError(source, problems)
    return result


def validate_config(raw: Mapping[str, Any], *, source: str = "<config>") -> Config:
    """Validate plain data into a :class:`Config`, reporting every problem at once."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [_describe(err, raw) for err in exc.errors()]) from None


def config_with(config: Config, **updates: Any) -> Config:
    """A copy of ``config`` with dotted-key updates, re-validated: ``config_with(c, **{"world.scale": 0.1})``."""
    raw = apply_overrides(config.to_dict(), [f"{k}={json.dumps(v)}" for k, v in updates.items()])
    return validate_config(raw)


def _describe(err: Mapping[str, Any], raw: Mapping[str, Any]) -> str:
    loc = [str(p) for p in err["loc"]]
    path = ".".join(loc) if loc else "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        parent_model = _model_at(loc[:-1])
        allowed = sorted(parent_model.model_fields) if parent_model else []
        guess = difflib.get_close_matches(loc[-1], allowed, n=1, cutoff=0.6)
        hint = f"did you mean '{'.'.join([*loc[:-1], guess[0]])}'?" if guess else f"allowed keys here: {', '.join(allowed)}"
        return f"{path}: unknown key (got {_show(err.get('input'))}); {hint}"
    if kind == "missing":
        return f"{path}: required key is missing; add it (see configs/august-2025.toml for its meaning and a value)"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{path}: must be a table ([{path}] or {path.rsplit('.', 1)[-1]} = {{ ... }}); got {_show(err.get('input'))}"
    msg = err["msg"]
    msg = msg.replace("Input should be", "must be").replace("Value error, ", "")
    msg = msg.replace("a valid integer, got a number with a fractional part", "a whole number")
    msg = msg.replace("a valid tuple", "a list")
    if kind == "value_error" and ("got " in msg or isinstance(err.get("input"), dict)):
        return f"{path}: {msg}"  # our own validators already name what they received
    return f"{path}: {msg}; got {_show(err.get('input'))}"


def _model_at(loc: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(part)
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return None
        model = field.annotation
    return model


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table" if value else "an empty table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
