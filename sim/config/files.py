"""Reading config files: a scenario with the policy files and targets it names, a policy, a link
config, a targets file, a sweep file; each validated with every problem reported at once.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.config.keys import apply_overrides, flatten, set_dotted
from sim.common.text import shown
from sim.config.messages import describe
from sim.config.policy import LinkConfig, PolicyConfig
from sim.config.study import Config, SweepConfig, TargetsConfig
from sim.common.errors import ConfigError


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
        raise ConfigError(str(path), [describe(err, raw, LinkConfig) for err in exc.errors()]) from None


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
        raise ConfigError(str(path), [describe(err, raw, PolicyConfig) for err in exc.errors()]) from None


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
                                f"(and optionally set = {{ \"paths.0.address_gate\" = \"sufficient\" }}); got {shown(entry)}")
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
            path, _, rest = describe(err, policy, PolicyConfig).partition(": ")
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
        raise ConfigError(str(path), [describe(err, raw, TargetsConfig) for err in exc.errors()]) from None


def load_sweep(path: str | Path) -> SweepConfig:
    """Read and validate a sweep file; its ``set`` may be written with dotted keys quoted
    (``"world.scale" = 0.01``) or as nested tables, and is flattened to dotted keys."""
    path = Path(path)
    raw = _read_toml(path, "a sweep file such as configs/sweeps/address-quality.toml")
    if isinstance(raw.get("set"), dict):
        raw = {**raw, "set": flatten(raw["set"])}
    try:
        return SweepConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(str(path), [describe(err, raw, SweepConfig) for err in exc.errors()]) from None



def _is_policy_file(path: Path) -> bool:
    try:
        data = parse_toml(read_config_text(path, "a policy file"), str(path))
    except ConfigError:
        return False
    return "paths" in data and "world" not in data


def validate_config(raw: Mapping[str, Any], *, source: str = "<config>") -> Config:
    """Validate plain data into a :class:`Config`, reporting every problem at once."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [describe(err, raw) for err in exc.errors()]) from None


def config_with(config: Config, **updates: Any) -> Config:
    """A copy of ``config`` with dotted-key updates, re-validated: ``config_with(c, **{"world.scale": 0.1})``."""
    raw = config.to_dict()
    problems = [f"{key}: {problem}" for key, value in updates.items() if (problem := set_dotted(raw, key, value))]
    if problems:
        raise ConfigError("config_with", problems)
    return validate_config(raw)
