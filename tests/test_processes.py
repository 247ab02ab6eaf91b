"""A killed or interrupted command leaves no process and no directory behind (issue 13, item 3).

``matchsim run -j 2`` is started as a real child process and stopped the three ways a user stops
it: SIGKILL of the parent alone (its workers must notice within seconds that it is gone, and the
next run removes what it left), SIGTERM (cleaned up as Ctrl-C is, exit 143) and SIGINT (Ctrl-C,
exit 130).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from sim.common.io import output_dir, remove_stale
from sim.common.parallel import DASK_SCRATCH_PREFIX, open_engine
from sim.runs.pipeline import SPILL_PREFIX

MATCHSIM = Path(sys.executable).parent / "matchsim"
#: How long the workers of a killed parent may take to exit: they check twice a second.
WORKERS_EXIT_WITHIN_S = 10


def _start(baseline_config_path, out: Path, tmpdir: Path, engine: str = "local") -> tuple[subprocess.Popen, list[psutil.Process]]:
    """A probabilistic run (an EM policy: its blocks spill to disk) on 2 workers, once both
    workers are up, with the worker processes (a Dask LocalCluster's too: its nannies run in
    the parent, its workers are spawned children of it). Scale 0.05, so the run is still
    matching when the test signals it: at 0.02 on the dated world it could finish within the
    second after its first spill, and a Ctrl-C then met a run that had already exited 0."""
    cmd = [MATCHSIM, "run", baseline_config_path, "-o", out, "--no-report", "-j", "2", "--set", "world.scale=0.05",
           "--set", "study.replicates=1", "--set", "policy=probabilistic", "--set", "study.alternatives=[]",
           "--engine", engine]
    # SIGINT back to its default in the child: a test run started in the background (nohup, &)
    # ignores it, the child would inherit that and rightly not stop on Ctrl-C
    proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "TMPDIR": str(tmpdir)},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        workers = [c for c in parent.children() if "spawn_main" in _cmdline(c)]
        if len(workers) >= 2 and any(tmpdir.glob(f"{SPILL_PREFIX}*")):
            time.sleep(1.0)                       # well into matching
            assert proc.poll() is None, proc.stderr.read().decode()
            return proc, workers
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.1)
    proc.kill()
    pytest.fail("the run did not start its workers within 2 minutes")


def _cmdline(process: psutil.Process) -> str:
    """A child's command line, or "" for one that has just exited: a zombie not yet reaped (a
    short-lived helper of the run or of its Dask cluster) has none to read, and is not a worker."""
    try:
        return " ".join(process.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return ""


def _assert_gone(workers: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(workers, timeout=WORKERS_EXIT_WITHIN_S)
    for p in alive:
        p.kill()
    assert not alive, f"workers still running {WORKERS_EXIT_WITHIN_S} s after their parent stopped: {[p.pid for p in alive]}"


@pytest.fixture
def tmpdir_env(tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    return tmpdir


@pytest.mark.parametrize(("sig", "code", "how"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")])
def test_sigterm_and_ctrl_c_clean_up_and_exit_with_the_shells_code(baseline_config_path, tmp_path, tmpdir_env, sig, code, how):
    out = tmp_path / "out"
    proc, workers = _start(baseline_config_path, out, tmpdir_env)
    proc.send_signal(sig)                        # the parent alone, not its process group
    assert proc.wait(timeout=60) == code
    assert f"interrupted ({how}): stopped; no partial output was left" in proc.stderr.read().decode()
    _assert_gone(workers)
    assert not out.exists() and list(tmp_path.glob("out.tmp-*")) == []
    assert list(tmpdir_env.glob(f"{SPILL_PREFIX}*")) == []


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_sigkill_of_the_parent_stops_its_workers_and_the_next_run_removes_what_it_left(
        baseline_config_path, tmp_path, tmpdir_env, monkeypatch, engine):
    out = tmp_path / "out"
    proc, workers = _start(baseline_config_path, out, tmpdir_env, engine)
    proc.kill()
    proc.wait(timeout=30)
    _assert_gone(workers)
    # a hard kill can leave the temporary output and the spill directory; both name the dead pid
    spilled = list(tmpdir_env.glob(f"{SPILL_PREFIX}{proc.pid}-*"))
    assert len(spilled) == 1, "the kill came before the run spilled a block; kill it later"
    partial = list(tmp_path.glob(f"out.tmp-{proc.pid}-*"))
    # the next run and the next output written to the same place remove them
    scratch = list(tmpdir_env.glob(f"{DASK_SCRATCH_PREFIX}{proc.pid}-*"))
    assert len(scratch) == (engine == "dask")          # a local Dask cluster's workers' scratch space
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir_env))
    remove_stale(Path(tempfile.gettempdir()), SPILL_PREFIX)      # what every run does first (run_policies)
    with output_dir(out, force=False) as new:
        (new / "summary.json").write_text("{}")
    if engine == "dask":
        with open_engine("dask", jobs=1):
            assert not any(p.exists() for p in scratch)
    assert not any(p.exists() for p in spilled + partial)
    assert list(tmpdir_env.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["out", "tmp"]


def test_a_run_that_does_not_spill_still_removes_what_a_killed_run_left(baseline_config_path, tmp_path, monkeypatch):
    """The stale spill directories go at the start of every run, not only of runs that spill."""
    from sim.config import load_config
    from sim.runs.pipeline import run

    dead = tmp_path / f"{SPILL_PREFIX}{_dead_pid()}-abc"
    dead.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    config = load_config(baseline_config_path, ["world.scale=0.0005", "study.alternatives=[]"])
    assert config.policy.name == "irs-2025"               # rules: nothing to fit, nothing spilled
    run(config)
    assert not dead.exists()


def test_what_a_live_process_or_another_name_owns_is_kept(tmp_path):
    mine = tmp_path / f"{SPILL_PREFIX}{os.getpid()}-abc"
    other = tmp_path / f"{SPILL_PREFIX}notapid"
    dead = tmp_path / f"{SPILL_PREFIX}{_dead_pid()}-xyz"
    for d in (mine, other, dead):
        d.mkdir()
    assert remove_stale(tmp_path, SPILL_PREFIX) == [dead]
    assert mine.is_dir() and other.is_dir() and not dead.exists()


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


_PINNED: list = []


def _allocate_and_free(megabytes: int) -> tuple[int, int]:
    """In a worker: fill ``megabytes`` of the C heap in 64 KiB blocks (below glibc's mmap
    threshold), keep the last of them, at the heap's top (so that free() cannot shrink the heap
    from its top by itself, as a live buffer does in a real block), free the rest. (pid, the
    worker's resident bytes after the free)."""
    import numpy as np
    import psutil

    blocks = [np.ones(8192) for _ in range(megabytes * 16)]
    _PINNED.append(blocks[-1])          # the last block allocated: the top of the heap
    del blocks
    return os.getpid(), psutil.Process().memory_info().rss


def test_an_idle_local_worker_gives_its_free_heap_back():
    """A worker that matched a national block holds its freed heap (about 2 GB) while it waits
    for the others, the EM fit or the summaries; once idle it returns it (parallel.trim_when_idle)."""
    with open_engine("local", jobs=2) as engine:
        done = dict(engine.map(_allocate_and_free, [600, 600]))
        held = min(done.values())
        assert held > 500 * 2**20, f"the freed heap was not held ({held >> 20} MiB): the test shows nothing"
        workers = [psutil.Process(pid) for pid in done]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and max(w.memory_info().rss for w in workers) > 300 * 2**20:
            time.sleep(0.25)
        assert max(w.memory_info().rss for w in workers) <= 300 * 2**20, (
            f"workers kept {[w.memory_info().rss >> 20 for w in workers]} MiB after {held >> 20} MiB at the end of their task")


def _release_after_freeing(megabytes: int) -> tuple[int, int, bool]:
    import psutil

    from sim.common.parallel import release_free_heap

    _, held = _allocate_and_free(megabytes)
    released = release_free_heap()
    return held, psutil.Process().memory_info().rss, released


def test_a_process_gives_its_freed_heap_back_when_asked():
    """What a study's main process does after writing each world (study._kept): the heap the
    world's decisions held, freed, goes back at once (parallel.release_free_heap)."""
    with open_engine("local", jobs=2) as engine:      # a worker process (one job runs in this one)
        [(held, after, released)] = list(engine.map(_release_after_freeing, [600]))
    assert held > 500 * 2**20, f"the freed heap was not held ({held >> 20} MiB): the test shows nothing"
    assert released and after <= 300 * 2**20, f"{after >> 20} MiB kept after {held >> 20} MiB were freed"
