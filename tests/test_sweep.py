"""Parameter sweeps: designs, points, recorded units, resuming after a kill, failures, engines.

Sweeps here run the baseline scenario at world.scale 0.001 (about 1,300 requests per world), so
a unit takes seconds; what is tested is the bookkeeping around the runs, which does not depend
on their size.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from sim.config import load_config
from sim.common.errors import ConfigError, OutputExistsError
from sim.common.parallel import open_engine
from sim.runs.pipeline import run
from sim.common.summaries import SUMMARY_FILE
from sim.studies.sweep import (MANIFEST_FILE, RESULTS_FILE, design_points, plan_sweep, read_units,
                       run_sweep)

MATCHSIM = [sys.executable, "-m", "sim"]
SCALE = 0.001


def write_sweep(tmp_path: Path, baseline: Path, body: str, *, name: str = "sweep", replicates: int = 2,
                scale: float = SCALE) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'description = "a test sweep"\nbase = "{baseline}"\nreplicates = {replicates}\n'
                    f'set = {{ "world.scale" = {scale} }}\n' + body, encoding="utf-8")
    return path


GATES = """
[[parameters]]
key = "policy.paths.0.address_gate"
values = ["nonblank", "zip_regex", "sufficient"]
"""

ZIP_ONLY = """
[[parameters]]
key = "world.requests.address.classes.zip_only"
values = [0.0, 0.05, 0.1]
balance = "world.requests.address.classes.complete"
"""


# --------------------------------------------------------------------------------------------
# Designs and points


def test_a_grid_runs_every_combination_first_parameter_slowest(tmp_path, baseline_config_path):
    path = write_sweep(tmp_path, baseline_config_path, GATES + ZIP_ONLY.replace("[0.0, 0.05, 0.1]", "[0.01, 0.02]"))
    plan = plan_sweep(path)
    gates = [p.values["policy.paths.0.address_gate"] for p in plan.points]
    assert gates == ["nonblank", "nonblank", "zip_regex", "zip_regex", "sufficient", "sufficient"]
    assert [p.values["world.requests.address.classes.zip_only"] for p in plan.points] == [0.01, 0.02] * 3
    assert plan.seeds == [20250627, 20250628]
    assert plan.units()[:3] == [(0, 20250627), (0, 20250628), (1, 20250627)]


def test_a_balanced_share_gives_way_so_shares_still_sum_to_one(tmp_path, baseline_config_path):
    plan = plan_sweep(write_sweep(tmp_path, baseline_config_path, ZIP_ONLY))
    base = load_config(baseline_config_path).world.requests.address.classes
    for point in plan.points:
        classes = point.config.world.requests.address.classes
        assert classes.zip_only == point.values["world.requests.address.classes.zip_only"]
        assert classes.complete == pytest.approx(base.complete - (classes.zip_only - base.zip_only))
        assert sum(classes.as_dict().values()) == pytest.approx(1.0)
    assert plan.columns == ["world.requests.address.classes.zip_only", "world.requests.address.classes.complete"]
    # each point is the scenario --set would give: the same config hash
    same = load_config(baseline_config_path, ["world.scale=0.001", "study.replicates=1", "study.alternatives=[]",
                                              "world.requests.address.classes.zip_only=0.05",
                                              f"world.requests.address.classes.complete={plan.points[1].values['world.requests.address.classes.complete']}"])
    assert plan.points[1].config.sha256() == same.sha256()


def test_latin_hypercube_puts_one_point_in_each_stratum_of_every_range(tmp_path, baseline_config_path):
    body = """
[design]
kind = "lhs"
points = 8
seed = 7

[[parameters]]
key = "world.requests.address.classes.zip_only"
range = [0.0, 0.08]
balance = "world.requests.address.classes.complete"

[[parameters]]
key = "world.requests.ssn.share_if_on_file"
range = [0.5, 0.9]
"""
    sweep_path = write_sweep(tmp_path, baseline_config_path, body)
    plan = plan_sweep(sweep_path)
    assert len(plan.points) == 8
    for key, (lo, hi) in [("world.requests.address.classes.zip_only", (0.0, 0.08)), ("world.requests.ssn.share_if_on_file", (0.5, 0.9))]:
        values = np.array([p.values[key] for p in plan.points])
        strata = np.floor((values - lo) / (hi - lo) * 8).astype(int)
        assert sorted(strata) == list(range(8)), (key, values)
    # the design is reproducible from its seed, and another seed draws other points
    assert design_points(plan.sweep) == [{k: p.values[k] for k in ("world.requests.address.classes.zip_only",
                                                                    "world.requests.ssn.share_if_on_file")} for p in plan.points]
    other = plan_sweep(write_sweep(tmp_path, baseline_config_path, body.replace("seed = 7", "seed = 8"), name="other"))
    assert [p.values for p in other.points] != [p.values for p in plan.points]


def test_a_random_design_draws_within_ranges_and_from_values(tmp_path, baseline_config_path):
    body = """
[design]
kind = "random"
points = 30

[[parameters]]
key = "world.requests.ssn.share_if_on_file"
range = [0.5, 0.9]

[[parameters]]
key = "policy.paths.0.address_gate"
values = ["nonblank", "sufficient"]
"""
    plan = plan_sweep(write_sweep(tmp_path, baseline_config_path, body))
    shares = [p.values["world.requests.ssn.share_if_on_file"] for p in plan.points]
    assert all(0.5 <= v <= 0.9 for v in shares) and len(set(shares)) == 30
    assert {p.values["policy.paths.0.address_gate"] for p in plan.points} == {"nonblank", "sufficient"}


@pytest.mark.parametrize(("body", "problem"), [
    (GATES.replace('key = "policy.paths.0.address_gate"', 'key = "world.scale"'),
     "world.scale is both swept and fixed by set; remove it from one of the two"),
    ('[[parameters]]\nkey = "world.requests.ssn.share_if_on_file"\nrange = [0.5, 0.9]\n',
     "a grid takes values = [...] for each parameter; world.requests.ssn.share_if_on_file has a range"),
    ('[design]\nkind = "lhs"\n' + GATES, "a lhs design needs points = N (how many points to draw)"),
    ('[[parameters]]\nkey = "world.scale"\nvalues = [0.1, "x"]\n', "values must be all numbers, all strings or all booleans"),
    ('metrics = ["rates.nonsense"]\n' + GATES, "unknown metric 'rates.nonsense'"),
    ('reference = { "policy.paths.0.address_gate" = "zip" }\n' + GATES,
     "reference (policy.paths.0.address_gate='zip') matches 0 points of the design; name exactly one"),
    ('reference = { "seed" = 1 }\n' + GATES,
     "reference names a point by the values of swept keys (policy.paths.0.address_gate); got seed"),
    # issue 13: a misspelt key with a balance ended in a TypeError at the first point
    (ZIP_ONLY.replace("classes.zip_only", "classes.zip_onli"),
     "parameters.0.key: 'world.requests.address.classes.zip_onli' is not a key of the scenario; "
     "did you mean 'world.requests.address.classes.zip_only'?"),
    (ZIP_ONLY.replace("classes.complete", "classes.compleet"),
     "parameters.0.balance: 'world.requests.address.classes.compleet' is not a key of the scenario; "
     "did you mean 'world.requests.address.classes.complete'?"),
    (ZIP_ONLY.replace('balance = "world.requests.address.classes.complete"', 'balance = "world.requests.address"'),
     "parameters.0.balance: 'world.requests.address' is {"),
    ("".join(f'[[parameters]]\nkey = "{k}"\nvalues = {list(range(1, 101))}\n'
             for k in ("seed", "world.n_requests", "world.max_block_population")),
     "a grid of 100 x 100 x 100 = 1,000,000 points is more than 100,000; sweep fewer values, or draw points"),
    ('[design]\nkind = "random"\npoints = 60000\n' + GATES,
     "60,000 points x 2 replicates = 120,000 runs, more than 100,000; lower the points or the replicates"),
])
def test_a_bad_sweep_file_is_a_clear_problem(tmp_path, baseline_config_path, body, problem):
    with pytest.raises(ConfigError) as info:
        plan_sweep(write_sweep(tmp_path, baseline_config_path, body))
    assert info.value.exit_code == 2
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_a_point_that_makes_no_valid_scenario_fails_alone_and_all_failing_is_refused(tmp_path, baseline_config_path):
    plan = plan_sweep(write_sweep(tmp_path, baseline_config_path, ZIP_ONLY.replace("0.1]", "0.9]")))
    assert [p.error is None for p in plan.points] == [True, True, False]
    assert "world.requests.address.classes.complete: must be greater than or equal to 0" in plan.points[2].error
    with pytest.raises(ConfigError) as info:
        plan_sweep(write_sweep(tmp_path, baseline_config_path, ZIP_ONLY.replace("[0.0, 0.05, 0.1]", "[0.8, 0.9]"), name="all"))
    assert info.value.problems[-1] == "no point of the design makes a valid scenario; fix the values or ranges"


def test_the_reference_point_is_the_base_scenario_or_the_one_the_file_names(tmp_path, baseline_config_path):
    plan = plan_sweep(write_sweep(tmp_path, baseline_config_path, GATES))
    assert (plan.reference, plan.reference_reason) == (1, "the base scenario's own values")   # zip_regex, as shipped
    named = plan_sweep(write_sweep(tmp_path, baseline_config_path,
                                   'reference = { "policy.paths.0.address_gate" = "nonblank" }\n' + GATES, name="named"))
    assert (named.reference, named.reference_reason) == (0, "named by the sweep file's reference")
    # no point of [0, 0.05, 0.1] is the calibrated 0.0148: no reference, unless named
    assert plan_sweep(write_sweep(tmp_path, baseline_config_path, ZIP_ONLY, name="none")).reference is None


# --------------------------------------------------------------------------------------------
# Running, recording, resuming


@pytest.fixture(scope="module")
def gate_sweep(tmp_path_factory, baseline_config_path):
    """The three address gates over two seeds, run on one local process: the reference."""
    tmp = tmp_path_factory.mktemp("gates")
    path = write_sweep(tmp, baseline_config_path, GATES)
    plan = plan_sweep(path)
    with open_engine("local", jobs=1) as engine:
        result = run_sweep(plan, tmp / "out", engine=engine)
    return path, plan, result, tmp / "out"


def test_every_unit_is_the_run_it_stands_for(gate_sweep, baseline_config_path):
    path, plan, result, out = gate_sweep
    table = pq.read_table(out / RESULTS_FILE).to_pylist()
    assert [(r["point"], r["seed"]) for r in table] == plan.units()
    assert {r["status"] for r in table} == {"ok"} and result.failed == 0 and result.ran == 6
    # a unit shares its world with the other gates of its seed, yet equals the run alone
    row = table[5]                                       # sufficient, second seed
    alone = run(load_config(baseline_config_path, ["world.scale=0.001", "policy.paths.0.address_gate=sufficient",
                                                   "study.replicates=1", "study.alternatives=[]", f"seed={row['seed']}"]))
    assert row["config_sha256"] == alone.summary["config_sha256"]
    assert row["estimates.disclosed"] == alone.summary["estimates"]["disclosed"]
    assert row["rates.precision"] == alone.summary["rates"]["precision"]
    assert row["breakdowns.path.tin.disclosed"] == alone.summary["breakdowns"]["path"]["tin"]["disclosed"]
    assert row["policy.paths.0.address_gate"] == "sufficient"
    # the summary's interval over seeds is built from the very rows of the table
    summary = json.loads((out / SUMMARY_FILE).read_text())
    disclosed = [r["estimates.disclosed"] for r in table if r["point"] == 2]
    assert summary["points"][2]["metrics"]["estimates.disclosed"]["mean"] == pytest.approx(np.mean(disclosed))
    assert summary["units"] == {"total": 6, "ok": 6, "failed": 0}


def test_each_point_is_compared_with_the_reference_seed_by_seed(gate_sweep):
    """The summary's paired differences are the per-seed differences of the table's rows."""
    _, plan, result, out = gate_sweep
    rows = pq.read_table(out / RESULTS_FILE).to_pylist()
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert ("  points compared seed by seed with point 1 (policy.paths.0.address_gate='zip_regex'): the base "
            "scenario's own values") in result.summary_lines()
    assert summary["reference"]["point"] == 1 and summary["reference"]["values"] == {"policy.paths.0.address_gate": "zip_regex"}
    assert summary["points"][1]["vs_reference"] is None
    by = {(r["point"], r["seed"]): r for r in rows}
    for point in (0, 2):
        for m in ("estimates.disclosed", "rates.precision"):
            diffs = [by[(point, s)][m] - by[(1, s)][m] for s in plan.seeds]
            got = summary["points"][point]["vs_reference"][m]
            assert got["n"] == 2 and got["mean"] == pytest.approx(np.mean(diffs), abs=1e-6)
            assert got["sd"] == pytest.approx(np.std(diffs, ddof=1), abs=1e-6)
    # a stricter gate never discloses more, seed by seed: the whole paired range is at or below 0
    assert summary["points"][2]["vs_reference"]["estimates.disclosed"]["max"] <= 0


def test_the_gates_order_disclosures_as_they_should(gate_sweep):
    """A stricter gate never discloses more: sufficient <= zip_regex <= nonblank, seed by seed."""
    _, _, _, out = gate_sweep
    rows = pq.read_table(out / RESULTS_FILE).to_pylist()
    by = {(r["policy.paths.0.address_gate"], r["seed"]): r["simulated.disclosed"] for r in rows}
    for seed in {r["seed"] for r in rows}:
        assert by[("sufficient", seed)] <= by[("zip_regex", seed)] <= by[("nonblank", seed)]
    assert sum(by[("sufficient", s)] for s in {r["seed"] for r in rows}) < sum(by[("nonblank", s)] for s in {r["seed"] for r in rows})


def test_started_again_a_finished_sweep_runs_nothing_and_writes_the_same(gate_sweep):
    path, plan, _, out = gate_sweep
    before = (out / RESULTS_FILE).read_bytes()
    stamps = {p: p.stat().st_mtime_ns for p in (out / "units").iterdir()}
    with open_engine("local", jobs=1) as engine:
        again = run_sweep(plan_sweep(path), out, engine=engine)
    assert again.ran == 0 and again.recorded_before == 6
    assert (out / RESULTS_FILE).read_bytes() == before
    assert {p: p.stat().st_mtime_ns for p in (out / "units").iterdir()} == stamps


def test_a_large_world_runs_one_at_a_time_with_its_blocks_over_the_workers(gate_sweep, tmp_path, monkeypatch):
    """A sweep of worlds at or above SPREAD_BLOCKS_SCALE runs each seed's world here, its blocks
    over the engine's workers, not one world to a worker: the same units, byte for byte."""
    import sim.runs.pipeline
    import sim.studies.sweep

    path, _, _, out = gate_sweep
    monkeypatch.setattr(sim.runs.pipeline, "SPREAD_BLOCKS_SCALE", 0.0)       # scale 0.001 counts as large
    spread = []
    real = sim.studies.sweep._run_task
    monkeypatch.setattr(sim.studies.sweep, "_run_task", lambda task, engine=None: spread.append(engine) or real(task, engine))
    with open_engine("local", jobs=2) as engine:
        result = run_sweep(plan_sweep(path), tmp_path / "spread", engine=engine)
    assert result.ran == 6 and result.failed == 0
    assert len(spread) == 2 and all(e is not None and e.slots == 2 for e in spread)   # a task per seed, here
    assert (tmp_path / "spread" / RESULTS_FILE).read_bytes() == (out / RESULTS_FILE).read_bytes()


def test_another_sweep_in_the_same_directory_is_refused(gate_sweep, tmp_path, baseline_config_path):
    path, _, _, out = gate_sweep
    changed = plan_sweep(path, ["world.requested.in_master_file_share=0.05"])
    with open_engine("local", jobs=1) as engine, pytest.raises(OutputExistsError) as info:
        run_sweep(changed, out, engine=engine)
    assert "holds another sweep" in str(info.value) and "--force" in str(info.value)
    (tmp_path / "not-a-sweep").mkdir()
    (tmp_path / "not-a-sweep" / "notes.txt").write_text("mine")
    with open_engine("local", jobs=1) as engine, pytest.raises(OutputExistsError) as info:
        run_sweep(changed, tmp_path / "not-a-sweep", engine=engine)
    assert "is not a sweep directory" in str(info.value)
    assert (tmp_path / "not-a-sweep" / "notes.txt").read_text() == "mine"


def test_a_failing_point_is_recorded_and_the_others_finish(tmp_path, baseline_config_path):
    """world.scale 1e-7 is a valid number but no world: that point fails at run time, the
    invalid point fails before it, and the sweep says so with exit code 1."""
    body = '[[parameters]]\nkey = "world.scale"\nvalues = [0.001, 1e-7, 2.0]\n'
    path = tmp_path / "fails.toml"
    path.write_text(f'description = "failures"\nbase = "{baseline_config_path}"\nreplicates = 1\n' + body)
    out = tmp_path / "out"
    proc = subprocess.run([*MATCHSIM, "sweep", str(path), "-o", str(out), "--no-report", "-j", "1"],
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    # the two kinds of failure get the advice that fits each (issue 13: the invalid point was
    # sent to --retry-failed, which skips it)
    assert proc.stderr.endswith(
        f"2 of 3 units failed (listed above and in {out}/summary.json); the others are in the results. 1 point (2) "
        "makes no valid scenario: change their values or ranges in the sweep file (--retry-failed does not run them "
        "again, the config would be refused again). 1 run failed while running: fix the cause and run the same "
        "command with --retry-failed to run them again.\n"), proc.stderr
    units = read_units(out)
    assert [units[(i, 20250627)]["status"] for i in range(3)] == ["ok", "failed", "failed"]
    assert units[(1, 20250627)]["error"].startswith("ConfigError: the scenario: 1 problem in the configuration")
    assert "world.scale: 1e-07 samples 0 of the 32,822 ZIP areas, holding no request" in units[(1, 20250627)]["error"]
    assert units[(2, 20250627)]["error"].startswith("ConfigError: world.scale: must be less than or equal to 1")
    rows = pq.read_table(out / RESULTS_FILE).to_pylist()
    assert [r["status"] for r in rows] == ["ok", "failed", "failed"] and rows[1]["estimates.disclosed"] is None
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["points"][1]["metrics"] == {} and summary["units"] == {"total": 3, "ok": 1, "failed": 2}
    # a failure is final unless asked: started again, nothing runs; --retry-failed runs it again
    again = subprocess.run([*MATCHSIM, "sweep", str(path), "-o", str(out), "--no-report", "-j", "1", "--retry-failed"],
                           capture_output=True, text=True)
    assert "(3 recorded before, 1 run now)" in again.stdout, again.stdout


def test_a_sweep_killed_mid_way_finishes_the_missing_units_only(tmp_path, baseline_config_path):
    """kill -9 the sweep as soon as one unit is recorded; the same command then runs only the
    units that were not, and the results equal those of a sweep never interrupted."""
    path = write_sweep(tmp_path, baseline_config_path, ZIP_ONLY)
    out = tmp_path / "killed"
    cmd = [*MATCHSIM, "sweep", str(path), "-o", str(out), "--no-report", "-j", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    while not (list((out / "units").glob("*.json")) if (out / "units").is_dir() else []):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no unit recorded in 5 minutes"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    recorded = {p.name: p.stat().st_mtime_ns for p in (out / "units").glob("*.json")}
    assert 1 <= len(recorded) < 6 and not (out / RESULTS_FILE).exists()
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"({len(recorded)} recorded before, {6 - len(recorded)} run now)" in again.stdout
    assert {p.name: p.stat().st_mtime_ns for p in (out / "units").glob("*.json") if p.name in recorded} == recorded
    assert len(list((out / "units").glob("*.json"))) == 6
    reference = tmp_path / "reference"
    with open_engine("local", jobs=2) as engine:
        run_sweep(plan_sweep(path), reference, engine=engine)
    assert (out / RESULTS_FILE).read_bytes() == (reference / RESULTS_FILE).read_bytes()
    assert (out / SUMMARY_FILE).read_bytes() == (reference / SUMMARY_FILE).read_bytes()
    assert json.loads((out / MANIFEST_FILE).read_text())["sweep_sha256"] == json.loads((out / SUMMARY_FILE).read_text())["sweep_sha256"]


SHIPPED = sorted((Path(__file__).parent.parent / "configs" / "sweeps").glob("*.toml"))


def test_the_issue_s_sweeps_are_shipped():
    assert {p.stem for p in SHIPPED} >= {"address-quality", "address-gate", "ssn-errors", "threshold"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_point_of_a_shipped_sweep_is_a_valid_scenario(path):
    plan = plan_sweep(path)
    assert [p.error for p in plan.points if p.error] == []
    assert len(plan.points) >= 3 and len(plan.seeds) >= 3
    swept = [p.key for p in plan.sweep.parameters]
    for point in plan.points:      # the values asked for are the values the scenario runs with
        for key in swept:
            assert _get(point.config.to_dict(), key) == point.values[key]


def _get(data, key: str):
    for part in key.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data
