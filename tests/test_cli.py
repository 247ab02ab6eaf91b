"""The command line: every command documented, library errors turned into clean messages."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

import sim
from sim.cli import cli
from sim.config import load_config

CONSOLE_SCRIPT = Path(sys.executable).parent / "matchsim"

BAD_SETTINGS = ["--set", "world.scale=0", "--set", "world.scal=1"]


def bad_config_stderr(config_path) -> str:
    return (
        f"error: {config_path}: 2 problems in the configuration\n"
        f"  - world.scale: must be greater than 0; got 0\n"
        f"  - world.scal: unknown key (got 1); did you mean 'world.scale'?\n"
    )


def run(*args: str):
    # catch_exceptions=False: a bug surfaces as its own traceback, not as exit code 1.
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="matchsim", catch_exceptions=False)


@pytest.mark.parametrize("command", [[], *([name] for name in sorted(cli.commands))], ids=lambda c: " ".join(c) or "matchsim")
def test_every_command_has_help_with_an_example(command):
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: {' '.join(['matchsim', *command])} ")
    help_text = (cli if not command else cli.commands[command[0]]).help
    description = help_text.split("\n\n")[0]
    assert len(description.split()) >= 8, "the help needs a one-paragraph description"
    assert "Example:\n    matchsim " in result.output


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.output == f"matchsim, version {sim.__version__}\n"


def test_validate_prints_ok_and_the_config_hash(baseline_config_path):
    result = run("validate", baseline_config_path)
    expected_hash = load_config(baseline_config_path).sha256()
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ok: {baseline_config_path} (config_sha256 {expected_hash})\n"
    assert result.stderr == ""


def test_validate_applies_overrides_to_the_hash(baseline_config_path):
    result = run("validate", baseline_config_path, "--set", "world.scale=0.001")
    expected_hash = load_config(baseline_config_path, ["world.scale=0.001"]).sha256()
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ok: {baseline_config_path} (config_sha256 {expected_hash})\n"


def test_validate_bad_config_exits_2_with_every_problem(baseline_config_path):
    result = run("validate", baseline_config_path, *BAD_SETTINGS)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == bad_config_stderr(baseline_config_path)


def test_validate_missing_file_is_a_clean_error(tmp_path):
    missing = tmp_path / "nope.toml"
    result = run("validate", missing)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {missing}: 1 problem in the configuration\n"
        f"  - file not found: '{missing}'; pass the path of a TOML config such as configs/august-2025.toml\n"
    )


def test_generate_bad_config_exits_2_and_writes_nothing(baseline_config_path, tmp_path):
    out = tmp_path / "runs" / "world"
    result = run("generate", baseline_config_path, "-o", out, *BAD_SETTINGS)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == bad_config_stderr(baseline_config_path)
    assert list(tmp_path.iterdir()) == []


def test_installed_console_script_reports_a_bad_config_cleanly(baseline_config_path, tmp_path):
    """The real entry point, in a real process: no traceback, exit code 2, nothing written."""
    assert CONSOLE_SCRIPT.is_file(), f"console script not installed next to {sys.executable}"
    proc = subprocess.run(
        [CONSOLE_SCRIPT, "generate", baseline_config_path, "-o", "world", *BAD_SETTINGS],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == bad_config_stderr(baseline_config_path)
    assert list(tmp_path.iterdir()) == []


def test_python_dash_m_sim_runs_the_same_cli():
    proc = subprocess.run([sys.executable, "-m", "sim", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"matchsim, version {sim.__version__}\n"


def test_generate_refuses_an_existing_output_dir_without_force(baseline_config_path, tmp_path):
    out = tmp_path / "world"
    out.mkdir()
    (out / "old.parquet").write_bytes(b"old run")
    result = run("generate", baseline_config_path, "-o", out)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: output directory exists: '{out}'; pass --force to replace it, or choose another -o\n"
    assert [p.name for p in out.iterdir()] == ["old.parquet"]
    assert (out / "old.parquet").read_bytes() == b"old run"
    assert [p.name for p in tmp_path.iterdir()] == ["world"]


def test_usage_errors_keep_clicks_exit_code(baseline_config_path):
    result = run("generate", baseline_config_path)
    assert result.exit_code == 2
    assert "Error: Missing option '-o' / '--out'." in result.stderr


@pytest.mark.parametrize(("flags", "force", "progress"), [([], False, False), (["--force", "--quiet"], True, False)])
def test_generate_makes_exactly_the_contracted_library_call(baseline_config_path, tmp_path, monkeypatch, flags, force, progress):
    """Pins the CLI side of the generator's contract with a stand-in for sim.world.generate."""
    calls = []

    class Result:
        def summary_lines(self):
            return ["households: 3", "requests: 2"]

    def generate(config, out_dir, *, force, progress):
        calls.append((config, out_dir, force, progress))
        return Result()

    monkeypatch.setitem(sys.modules, "sim.world.generate", types.SimpleNamespace(generate=generate))
    result = run("generate", baseline_config_path, "-o", tmp_path / "world", "--set", "world.scale=0.001", *flags)
    assert result.exit_code == 0, result.output
    assert result.stdout == "households: 3\nrequests: 2\n"
    assert calls == [(load_config(baseline_config_path, ["world.scale=0.001"]), tmp_path / "world", force, progress)]


def test_generate_tiny_world(baseline_config_path, tmp_path):
    out = tmp_path / "world"
    result = run("generate", baseline_config_path, "-o", out, "--set", "world.scale=0.0005")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip(), "generate prints a summary"
    for table in ("master_file", "requests"):
        assert (out / table).is_dir(), f"{table}/ missing from {sorted(p.name for p in out.iterdir())}"
        assert list((out / table).glob("*.parquet")), f"no Parquet files in {table}/"
    assert [p.name for p in tmp_path.iterdir()] == ["world"], "temporary directories left behind"


FS = "policy.paths.0.fellegi_sunter"
COMPARISONS = "policy.paths.0.comparisons"


@pytest.mark.parametrize(("setting", "problem"), [
    (f"{FS}.match_probability_threshold=1.5", f"  - {FS}.match_probability_threshold: must be less than 1; got 1.5\n"),
    (f"{FS}.match_probability_threshold=0", f"  - {FS}.match_probability_threshold: must be greater than 0; got 0\n"),
    (f"{FS}.match_weight_threshold=10",
     f"  - {FS}: give exactly one of match_weight_threshold (log2 odds, e.g. 20) and match_probability_threshold "
     "(in (0, 1), e.g. 0.99); got match_weight_threshold and match_probability_threshold\n"),
    (f'{COMPARISONS}.3={{kind="composite", name="home", levels=[{{label="a", when={{zip6="exact"}}}}]}}',
     f"  - {COMPARISONS}.3.levels.0.when.0.zip6.[key]: must be 'tin', 'first_name', "),
    (f'{COMPARISONS}.3={{kind="composite", name="home", levels=[{{label="z", when={{zip5="exact"}}}}, '
     f'{{label="s", when={{zip5="exact", street="exact"}}}}]}}',
     f"  - {COMPARISONS}.3: composite 'home': levels are out of order: every pair at level 's' already meets the "
     "earlier level 'z', so 's' can never be reached; list levels closest first (the strictest conditions first)\n"),
    (f"{FS}.prior=\"em\"", "prior = \"em\" with u from random pairs mixes two universes: u is a share of random record pairs"),
])
def test_a_bad_fellegi_sunter_policy_exits_2_with_the_key_and_writes_nothing(baseline_config_path, tmp_path, setting, problem):
    out = tmp_path / "out"
    result = run("run", baseline_config_path, "-o", out, "--set", "policy=probabilistic", "--set", setting)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {baseline_config_path}: 1 problem in the configuration\n")
    assert problem in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_generate_force_never_deletes_its_config_or_a_directory_it_did_not_write(baseline_config_path, tmp_path):
    """generate A/scenario.toml -o A --force deleted the config and everything beside it."""
    a = tmp_path / "A"
    a.mkdir()
    for shipped in baseline_config_path.parent.glob("*.toml"):
        (a / shipped.name).write_bytes(shipped.read_bytes())
    (a / "manifest.json").write_text("{}")          # even dressed up as an earlier world
    before = sorted(p.name for p in a.iterdir())
    result = run("generate", a / baseline_config_path.name, "-o", a, "--force", "--set", "world.scale=0.0005")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"error: refusing to replace '{a}': it holds '{a / baseline_config_path.name}', an input of "
                             "this command, which --force would delete; choose another -o, or move the input out of it first\n")
    assert sorted(p.name for p in a.iterdir()) == before
    # a directory of one's own files, not a matchsim output, is kept too
    (a / "manifest.json").unlink()
    result = run("generate", baseline_config_path, "-o", a, "--force", "--set", "world.scale=0.0005")
    assert result.exit_code == 2 and "is not a matchsim output (it has none of manifest.json, summary.json, sweep.json)" in result.stderr
    assert sorted(p.name for p in a.iterdir()) == sorted(set(before) - {"manifest.json"})


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "world.n_requests=100000000000000000000"],
     "  - world.n_requests: must be at most 5,000,000 (each request reserves 8 of the 44.0 million numbers the ITIN "
     "format allows); got 100,000,000,000,000,000,000\n"),
    (["--set", "world.scale=1e-9"],
     "  - world.scale: 1e-09 samples 0 of the 32,822 ZIP areas, holding no request of ICE's file, so there is nothing "
     "to match; raise it to at least 0.0004"),
    (["--engine", "dask", "--scheduler", "notaurl"],
     "Invalid value for '--scheduler': expected a Dask scheduler's address, PROTOCOL://HOST:PORT"),
    (["--engine", "dask", "--scheduler", "tcp://10.0.0.5"], "got 'tcp://10.0.0.5'"),
])
def test_values_that_used_to_crash_later_are_refused_at_once(baseline_config_path, tmp_path, args, message):
    """Issue 13: these passed validation and ended in a traceback (OverflowError, an empty world,
    a ValueError after 22 s); each is now a clean error with exit code 2 and nothing written."""
    result = run("run", baseline_config_path, "-o", tmp_path / "out", "--no-report", "--set", "study.replicates=1", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_blocking_too_coarse_stops_a_parallel_run_with_one_clean_error(baseline_config_path, tmp_path):
    """Issue 13: [["zip5"]] at scale 0.01 ran out of memory. Checked in the worker before any pair
    is made, the error reaches the parent, the workers are stopped, and nothing else is printed
    (an aborted pool used to add an InvalidStateError or a Bad file descriptor at exit)."""
    proc = subprocess.run(
        [CONSOLE_SCRIPT, "run", baseline_config_path, "-o", "out", "--no-report", "--quiet", "-j", "2",
         "--set", "world.scale=0.001", "--set", "study.replicates=1", "--set", "study.alternatives=[]",
         "--set", 'policy.paths.1.blocking=[["zip5"]]', "--set", "policy.max_pairs=100000"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: path 'address' of policy 'irs-2025' would make ")
    assert "more than the policy's max_pairs of 100,000. To fix: block on more columns: ['zip5', " in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr           # one line: no traceback after it
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [
    ["generate", "{config}", "-o", "/sys/matchsim-out", "--set", "world.scale=0.0005"],
    ["run", "{config}", "-o", "/sys/matchsim-out/deeper", "--no-report"],
    ["sweep", "{sweep}", "-o", "/sys/matchsim-out"],
    ["link", "{people}", "{records}", "-c", "{link}", "-o", "/sys/matchsim-out"],
])
def test_an_unwritable_output_location_is_a_clean_error_before_any_work(baseline_config_path, command):
    """/sys refuses new directories even to root: what a read-only or foreign location does."""
    if not Path("/sys").is_dir():
        pytest.skip("no /sys on this machine")
    repo = baseline_config_path.parent.parent
    names = {"config": baseline_config_path, "sweep": repo / "configs" / "sweeps" / "threshold.toml",
             "people": repo / "tests" / "data" / "link" / "people.csv",
             "records": repo / "tests" / "data" / "link" / "records.parquet", "link": repo / "configs" / "link" / "example.toml"}
    result = run(*(str(a).format(**names) for a in command))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: cannot write '/sys/matchsim-out") and "in '/sys'" in result.stderr
    assert "choose a directory you can write to (-o), or fix its permissions" in result.stderr
