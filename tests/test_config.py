"""sim.config: configs are parsed once, every problem is reported at once, with a fix."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pydantic
import pytest

from sim.config import (MAX_CONFIG_BYTES, Config, apply_overrides, config_with, load_config, load_policy, load_targets, resolve_policy,
                        resolve_study, validate_config)
from sim.common.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
# scenarios and policies; configs/link/ holds matchsim link configs, validated in test_link.py
ALL_CONFIGS = sorted((REPO_ROOT / "configs").glob("*.toml"))
MISSING_HINT = "required key is missing; add it (see configs/august-2025.toml for its meaning and a value)"


def problems(path, overrides=()) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    assert info.value.exit_code == 2
    return info.value.problems


def baseline_raw(path) -> dict:
    """A config file's data, its policy read in (as load_config does before validating)."""
    with open(path, "rb") as fh:
        return resolve_study(resolve_policy(tomllib.load(fh), Path(path)), Path(path))


def test_baseline_loads(baseline_config_path):
    config = load_config(baseline_config_path)
    assert isinstance(config, Config)
    assert config.scenario == "august-2025"
    assert config.seed == 20250627
    assert config.world.scale == 0.2
    assert config.world.n_requests == 1_280_000
    assert config.world.requests.address.classes.complete == 0.7469      # as calibrated


def test_the_glob_finds_the_baseline(baseline_config_path):
    assert baseline_config_path in ALL_CONFIGS


def is_policy(path) -> bool:
    with open(path, "rb") as fh:
        return "paths" in tomllib.load(fh)


def is_targets(path) -> bool:
    with open(path, "rb") as fh:
        return "targets" in tomllib.load(fh)


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_shipped_config_validates(path, baseline_config_path):
    if is_policy(path):
        # a policy on its own, and as the policy of the baseline scenario
        assert load_policy(path).name == path.stem
        assert load_config(baseline_config_path, [f"policy={path.stem}"]).policy == load_policy(path)
    elif is_targets(path):
        assert load_targets(path).targets
    else:
        load_config(path)


def test_the_issue_s_three_policies_are_shipped():
    assert {p.stem for p in ALL_CONFIGS if is_policy(p)} >= {"irs-2025", "statute-6103", "probabilistic"}


def test_unknown_key_suggests_the_close_one(baseline_config_path):
    assert problems(baseline_config_path, ["world.scal=0.1"]) == [
        "world.scal: unknown key (got 0.1); did you mean 'world.scale'?"
    ]


def test_unknown_key_without_a_close_match_lists_allowed_keys(baseline_config_path):
    assert problems(baseline_config_path, ["world.zzz=1"]) == [
        "world.zzz: unknown key (got 1); allowed keys here: households, master_file, max_block_population, "
        "mobility, n_requests, population_growth, reference_year, requested, requests, scale"
    ]


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ('world.n_requests="many"', "world.n_requests: must be a valid integer; got 'many'"),
        ("world.households=3", "world.households: must be a table ([world.households] or households = { ... }); got 3"),
        ('world.households.size_shares_general="x"', "world.households.size_shares_general: must be a list; got 'x'"),
        ("seed=true", "seed: must be a valid integer; got True"),
        ("world.scale=true", "world.scale: must be a valid number; got True"),
        ('world.scale="0.5"', "world.scale: must be a valid number; got '0.5'"),
        ("world.n_requests=1.5", "world.n_requests: must be a valid integer; got 1.5"),
    ],
)
def test_wrong_type(baseline_config_path, override, problem):
    assert problems(baseline_config_path, [override]) == [problem]


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("world.scale=0", "world.scale: must be greater than 0; got 0"),
        ("world.scale=1.5", "world.scale: must be less than or equal to 1; got 1.5"),
        ("seed=-1", "seed: must be greater than or equal to 0; got -1"),
    ],
)
def test_out_of_range(baseline_config_path, override, problem):
    assert problems(baseline_config_path, [override]) == [problem]


def test_shares_not_summing_to_one(baseline_config_path):
    assert problems(baseline_config_path, ["world.requests.address.classes.complete=0.5"]) == [
        "world.requests.address.classes: shares must sum to 1, got 0.7531; adjust them so they add up to 1"
    ]


def test_household_size_shares_must_list_seven(baseline_config_path):
    assert problems(baseline_config_path, ["world.households.size_shares_general=[1.0]"]) == [
        "world.households.size_shares_general: must list 7 shares (household sizes 1..7+), got 1"
    ]


def test_missing_key(baseline_config_path):
    raw = baseline_raw(baseline_config_path)
    del raw["world"]["scale"]
    with pytest.raises(ConfigError) as info:
        validate_config(raw, source="partial.toml")
    assert info.value.problems == [f"world.scale: {MISSING_HINT}"]


def test_several_problems_are_reported_together(baseline_config_path):
    overrides = ["world.scale=0", "world.scal=1", "seed=-1", "world.requests.ssn.sources.correct=0.5"]
    with pytest.raises(ConfigError) as info:
        load_config(baseline_config_path, overrides)
    assert len(info.value.problems) == 4
    assert str(info.value) == "\n".join([
        f"{baseline_config_path}: 4 problems in the configuration",
        "  - seed: must be greater than or equal to 0; got -1",
        "  - world.scale: must be greater than 0; got 0",
        "  - world.requests.ssn.sources: shares must sum to 1, got 0.64; adjust them so they add up to 1",
        "  - world.scal: unknown key (got 1); did you mean 'world.scale'?",
    ])


def test_invalid_toml(tmp_path):
    path = tmp_path / "broken.toml"
    text = 'scenario = "x"\nseed = \n'
    path.write_text(text)
    with pytest.raises(tomllib.TOMLDecodeError) as toml_error:
        tomllib.loads(text)
    assert problems(path) == [f"not valid TOML: {toml_error.value}; fix the syntax at that line"]
    assert "line 2" in str(toml_error.value)


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_a_config_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path, kind):
    """Issue 13: /dev/zero as a config was read until memory ran out, and a named pipe blocked
    forever; neither is opened now."""
    if kind == "device":
        path = Path("/dev/zero")
        if not path.exists():
            pytest.skip("no /dev/zero here")
    elif kind == "fifo":
        path = tmp_path / "pipe.toml"
        os.mkfifo(path)
    else:
        path = tmp_path
    assert problems(path) == [f"'{path}' is not a regular file (a directory, device or pipe); pass the path of a TOML "
                              "config such as configs/august-2025.toml"]


def test_a_config_larger_than_the_bound_is_refused(tmp_path):
    path = tmp_path / "huge.toml"
    path.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    assert path.stat().st_size > MAX_CONFIG_BYTES
    assert problems(path) == [f"'{path}' is larger than 1024 KiB, too large for a config; pass a TOML config such as "
                              "configs/august-2025.toml"]


def test_nesting_too_deep_for_the_toml_parser_is_a_config_error(tmp_path, baseline_config_path):
    """tomllib recurses once per level; 5,000 levels raised RecursionError through the CLI."""
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems(path) == ["arrays or inline tables nested too deeply for the TOML parser; a matchsim config nests "
                              "at most a few levels, so flatten the value"]
    deep = "[" * 5000 + "]" * 5000
    assert problems(baseline_config_path, [f"world.scale={deep}"]) == [
        "--set 'world.scale=...': the value nests arrays or tables too deeply; a matchsim value nests at most a few levels"]


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: 1 problem in the configuration\n"
        f"  - file not found: '{path}'; pass the path of a TOML config such as configs/august-2025.toml"
    )


def test_set_values_are_read_as_toml_with_bare_strings():
    raw = apply_overrides(
        {"world": {"scale": 0.01}},
        ["a=1", "b=1.5", "c=1_000", "d=true", "e=false", "f=[0.5, 0.5]", "g=my-run", 'h="quoted text"',
         "world.scale=0.001", "new.table.key=2", " spaced = 3 "],
    )
    assert raw == {
        "world": {"scale": 0.001},
        "a": 1, "b": 1.5, "c": 1000, "d": True, "e": False, "f": [0.5, 0.5], "g": "my-run",
        "h": "quoted text", "new": {"table": {"key": 2}}, "spaced": 3,
    }
    assert [type(raw[k]) for k in "abcd"] == [int, float, int, bool]


def test_set_does_not_modify_its_input():
    raw = {"world": {"scale": 0.01}}
    apply_overrides(raw, ["world.scale=0.5"])
    assert raw == {"world": {"scale": 0.01}}


def test_set_into_a_value_that_is_not_a_table():
    with pytest.raises(ConfigError) as info:
        apply_overrides({"seed": 1}, ["seed.x=2"])
    assert info.value.problems == ["--set 'seed.x=2': 'seed' is a value, not a table; set it directly, e.g. --set seed=..."]


def test_set_without_equals_sign_and_all_bad_sets_reported_together():
    with pytest.raises(ConfigError) as info:
        apply_overrides({}, ["world.scale", "=3"])
    assert info.value.problems == [
        "--set 'world.scale': expected KEY=VALUE, e.g. --set world.scale=0.01",
        "--set '=3': expected KEY=VALUE, e.g. --set world.scale=0.01",
    ]
    assert str(info.value).startswith("--set: 2 problems in the configuration\n")


def test_sha256_is_stable_and_changes_with_an_override(baseline_config_path):
    first = load_config(baseline_config_path)
    again = load_config(baseline_config_path)
    assert first.sha256() == again.sha256()
    assert len(first.sha256()) == 64 and int(first.sha256(), 16) >= 0
    changed = load_config(baseline_config_path, ["world.scale=0.02"])
    assert changed.sha256() != first.sha256()


def test_sha256_depends_on_values_not_on_how_they_were_given(baseline_config_path):
    via_set = load_config(baseline_config_path, ["world.scale=0.02"])
    via_config_with = config_with(load_config(baseline_config_path), **{"world.scale": 0.02})
    assert via_config_with == via_set
    assert via_config_with.sha256() == via_set.sha256()
    # An integer where a float is expected is the same setting.
    assert load_config(baseline_config_path, ["world.scale=1"]).sha256() == load_config(baseline_config_path, ["world.scale=1.0"]).sha256()


def test_config_is_frozen(baseline_config_path):
    config = load_config(baseline_config_path)
    with pytest.raises(pydantic.ValidationError, match="Instance is frozen"):
        config.seed = 1
    with pytest.raises(pydantic.ValidationError, match="Instance is frozen"):
        config.world.scale = 0.5
    assert config.seed == 20250627 and config.world.scale == 0.2
    # Lists are tuples: nothing inside a config can be changed in place behind its hash.
    with pytest.raises(TypeError):
        config.world.households.size_shares_general[0] = 0.5  # type: ignore[index]


def test_a_date_typed_by_set_is_taken_as_text(baseline_config_path):
    config = load_config(baseline_config_path, ["scenario=2025-06-27"])
    assert config.scenario == "2025-06-27"


def test_a_toml_date_in_the_file_is_a_clear_problem_not_a_crash(tmp_path, baseline_config_path):
    for shipped in Path(baseline_config_path).parent.glob("*.toml"):   # the policies and targets it names
        (tmp_path / shipped.name).write_bytes(shipped.read_bytes())
    path = tmp_path / "dated.toml"
    path.write_text("run_date = 2025-08-07\n" + Path(baseline_config_path).read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["world.scale=0.02"])
    assert info.value.problems == ["run_date: unknown key (got datetime.date(2025, 8, 7)); "
                                   "allowed keys here: calibration, policy, scenario, seed, study, world"]


# --- study alternatives given on the command line (issue 13, item 5) ---------------------------

def test_set_study_alternatives_takes_the_table_a_file_takes(baseline_config_path):
    """`--set 'study.alternatives=[...]'` was refused (policy an unknown key, paths missing):
    overrides of an alternative's entry now apply before its policy file is read in, as in a file."""
    config = load_config(baseline_config_path, [
        'study.alternatives=[{ name = "strict", policy = "statute-6103", set = { "paths.0.address_gate" = "sufficient" } }]'])
    assert [p.name for p in config.study.alternatives] == ["strict"]
    assert config.study.alternatives[0].paths[0].address_gate == "sufficient"
    # an entry's own keys, one at a time, and a key of the policy read in, after
    config = load_config(baseline_config_path, ["study.alternatives.0.policy=careful-deterministic",
                                                "study.alternatives.0.paths.0.address_gate=none"])
    assert config.study.alternatives[0].name == "statute-6103"
    assert config.study.alternatives[0].paths == load_policy(baseline_config_path.parent / "careful-deterministic.toml",
                                                             ["paths.0.address_gate=none"]).paths


def test_a_bad_alternative_policy_is_reported_under_the_alternative_with_its_file(baseline_config_path, tmp_path):
    scenario = tmp_path / "august-2025.toml"
    scenario.write_text(baseline_config_path.read_text())
    for name in ("irs-2025", "statute-6103", "careful-deterministic", "probabilistic"):
        (tmp_path / f"{name}.toml").write_text((baseline_config_path.parent / f"{name}.toml").read_text())
    (tmp_path / "published-2025.toml").write_text((baseline_config_path.parent / "published-2025.toml").read_text())
    (tmp_path / "broken.toml").write_text('name = "broken"\ndescription = "x"\nmatcher = "vectorized"\n'
                                          'disclose = "last_known_address"\n[[paths]]\nname = 3\n')
    found = problems(scenario, ["study.alternatives.0.policy=broken"])
    broken = tmp_path / "broken.toml"
    assert found[0] == f"study.alternatives.0.paths.0.name (from {broken}): must be a valid string; got 3"
    assert found[1] == (f"study.alternatives.0.paths.0.requests (from {broken}): required key is missing; add it to "
                        f"{broken} (see configs/irs-2025.toml for its meaning and a value)")
    assert not any(p.startswith("policy") for p in found)
    assert problems(scenario, ["study.alternatives.2.policy=nope"]) == [
        f"study.alternatives.2.policy: no policy file '{tmp_path / 'nope.toml'}' for policy = 'nope'; policies beside "
        "the scenario: broken, careful-deterministic, irs-2025, probabilistic, statute-6103"]
