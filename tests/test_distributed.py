"""The Dask engine, on real clusters: a scheduler and workers as separate processes on
127.0.0.1 (``dask scheduler``, ``dask worker``), and the local cluster ``--engine dask`` starts.

The claims: a sweep gives byte-identical results on either engine and any number of workers;
it completes, with every unit and the same results, when a worker is killed in the middle; a
world's blocks spread over Dask workers give the run they give on one process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.config import load_config
from sim.common.errors import EngineError
from sim.common.parallel import open_engine
from sim.runs.pipeline import DECISIONS_FILE, write_run
from sim.studies.study import run_study
from sim.common.summaries import SUMMARY_FILE
from sim.studies.sweep import RESULTS_FILE, plan_sweep, run_sweep

BIN = Path(sys.executable).parent
MATCHSIM = [sys.executable, "-m", "sim"]
SWEEP = """description = "address quality, for the engine tests"
base = "{base}"
replicates = 2
set = {{ "world.scale" = 0.001 }}

[[parameters]]
key = "world.requests.address.classes.zip_only"
values = [0.0, 0.05, 0.1]
balance = "world.requests.address.classes.complete"
"""


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory, baseline_config_path) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "zip-only.toml"
    path.write_text(SWEEP.format(base=baseline_config_path), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference(sweep_file, tmp_path_factory) -> Path:
    """The sweep on one local process."""
    out = tmp_path_factory.mktemp("reference") / "out"
    with open_engine("local", jobs=1) as engine:
        run_sweep(plan_sweep(sweep_file), out, engine=engine)
    return out


def same_results(out: Path, reference: Path) -> None:
    assert (out / RESULTS_FILE).read_bytes() == (reference / RESULTS_FILE).read_bytes()
    assert (out / SUMMARY_FILE).read_bytes() == (reference / SUMMARY_FILE).read_bytes()


@pytest.mark.parametrize(("engine", "jobs"), [("local", 2), ("dask", 1), ("dask", 2)])
def test_results_are_identical_on_either_engine_and_any_number_of_workers(sweep_file, reference, tmp_path, engine, jobs):
    with open_engine(engine, jobs=jobs) as e:
        assert e.slots == jobs
        run_sweep(plan_sweep(sweep_file), tmp_path / "out", engine=e)
    same_results(tmp_path / "out", reference)


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (workers without a nanny,
    so killing one loses it, as a machine that goes down would)."""

    def __init__(self, root: Path, workers: int):
        self.root = root
        self.file = root / "scheduler.json"
        self.log = open(root / "cluster.log", "w")
        self.scheduler = self._start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                      "--no-dashboard", "--scheduler-file", str(self.file)])
        deadline = time.monotonic() + 60
        while not self.file.is_file() or not self.file.read_text().strip():
            assert self.scheduler.poll() is None, (root / "cluster.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start in 60 s"
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]
        self.workers = [self._start([str(BIN / "dask"), "worker", "--scheduler-file", str(self.file), "--nthreads", "1",
                                     "--no-nanny", "--no-dashboard", "--name", f"worker-{i}", "--host", "127.0.0.1"])
                        for i in range(workers)]

    def _start(self, cmd: list[str]) -> subprocess.Popen:
        # their scratch space in the test's folder, not $TMPDIR/dask-scratch-space, which outlives them
        env = {**os.environ, "DASK_TEMPORARY_DIRECTORY": str(self.root)}
        return subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True, env=env)

    def wait_for_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(n, timeout=120)

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.log.close()


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path, workers=2)
    try:
        c.wait_for_workers(2)
        yield c
    finally:
        c.close()


def test_a_sweep_survives_a_worker_killed_in_the_middle(cluster, sweep_file, reference, tmp_path):
    out = tmp_path / "out"
    cmd = [*MATCHSIM, "sweep", str(sweep_file), "-o", str(out), "--no-report", "--engine", "dask",
           "--scheduler", cluster.address]
    sweep = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(list(out.glob("units/*.json"))) < 1:
        assert sweep.poll() is None, sweep.stderr.read()
        assert time.monotonic() < deadline, "no unit recorded in 5 minutes"
        time.sleep(0.1)
    done_when_killed = len(list(out.glob("units/*.json")))
    os.killpg(cluster.workers[0].pid, signal.SIGKILL)      # the machine goes down, mid-task
    cluster.workers[0].wait()
    stdout, stderr = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, stderr
    assert done_when_killed < 6, "the sweep finished before the worker was killed; nothing was tested"
    assert "6 ok, 0 failed" in stdout
    same_results(out, reference)


def test_a_world_s_blocks_spread_over_dask_workers_give_the_same_run(cluster, baseline_config_path, tmp_path):
    config = load_config(baseline_config_path, ["world.scale=0.001", "study.replicates=1"])
    local = run_study(config, jobs=1)
    with open_engine("dask", scheduler=cluster.address) as engine:
        assert engine.slots == 2
        spread = run_study(config, engine=engine)
    assert json.dumps(spread.summary) == json.dumps(local.summary)
    for a, b in zip(spread.units, local.units):   # the decisions, row for row (NaN scores included)
        assert (write_run(a, tmp_path / "a" / a.config.policy.name) / DECISIONS_FILE).read_bytes() == \
            (write_run(b, tmp_path / "b" / b.config.policy.name) / DECISIONS_FILE).read_bytes()


def test_joining_a_scheduler_that_is_not_there_is_a_clear_error(tmp_path, sweep_file):
    with pytest.raises(EngineError) as info:
        with open_engine("dask", scheduler="tcp://127.0.0.1:9"):
            pass
    assert info.value.exit_code == 4
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in str(info.value)
    assert "`dask scheduler` is running" in str(info.value)
    proc = subprocess.run([*MATCHSIM, "sweep", str(sweep_file), "-o", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--scheduler tcp://127.0.0.1:9 joins a Dask cluster; add --engine dask" in proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", [
    "address-gate",
    pytest.param("address-quality", marks=pytest.mark.slow),
    pytest.param("ssn-errors", marks=pytest.mark.slow),
    pytest.param("threshold", marks=pytest.mark.slow),
])
def test_a_shipped_sweep_gives_the_same_results_locally_and_on_dask(name, tmp_path):
    """Scaled down to world.scale 0.001 (the full sweeps take minutes each: --runslow runs all four)."""
    path = Path(__file__).parent.parent / "configs" / "sweeps" / f"{name}.toml"
    plan = plan_sweep(path, ["world.scale=0.001"])
    with open_engine("local", jobs=2) as engine:
        local = run_sweep(plan, tmp_path / "local", engine=engine)
    with open_engine("dask", jobs=2) as engine:
        run_sweep(plan, tmp_path / "dask", engine=engine)
    assert local.summary["units"]["failed"] == 0
    same_results(tmp_path / "dask", tmp_path / "local")
