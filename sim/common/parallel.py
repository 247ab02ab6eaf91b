"""Where independent tasks run: worker processes on this machine, or a Dask cluster.

Every parallel piece of matchsim hands out deterministic, independent tasks: the replicates of
a study, the runs of a calibration, the blocks of one large world, the points of a sweep. An
:class:`Engine` runs them and gives the results back either in submission order
(:meth:`Engine.map`: the order of the results never depends on which worker finished first, so
outputs do not depend on the engine or the number of workers) or as they complete
(:meth:`Engine.outcomes`: a sweep records each point as soon as it is done, and a failing task
is an outcome with its error, not the end of the others).

* ``local`` (:class:`LocalEngine`): a pool of ``jobs`` spawned processes (not forked: the parent
  may hold Arrow and OpenMP thread pools), or this process when one job is asked for. A worker
  that dies (killed, out of memory) breaks a Python process pool; :meth:`LocalEngine.outcomes`
  starts a new pool and runs the tasks that were in flight once more, and records a task that
  was running when workers died twice as failed.
* ``dask`` (:class:`DaskEngine`): Dask distributed, either a local cluster of ``workers``
  processes started here or an existing cluster joined by its scheduler's address
  (``tcp://HOST:PORT``). The scheduler reschedules the tasks of a lost worker on the others,
  and reports a task that keeps killing workers as failed (``KilledWorker``). Workers need
  matchsim importable, at the same version (``pip install`` it on every machine).
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.common.errors import EngineError
from sim.common.io import remove_stale
from sim.common.provenance import VERSION

ENGINES = ("local", "dask")
#: How many times a local task runs while its worker process dies before it is recorded failed.
LOCAL_ATTEMPTS = 2
#: How long to wait for an existing Dask scheduler to answer.
CONNECT_TIMEOUT = "10s"


@dataclass(frozen=True)
class Outcome:
    """The end of one task of :meth:`Engine.outcomes`: its value, or why it failed."""

    index: int
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def describe_error(exc: BaseException) -> str:
    """One line for a failed task: ``ValueError: what went wrong``."""
    text = str(exc).strip().replace("\n", " ")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Engine:
    """Runs independent tasks (module-level functions and picklable arguments)."""

    name: str
    #: How many tasks run at once.
    slots: int

    def map(self, fn: Callable, *iterables: Iterable) -> Iterator:
        """``fn`` over the zipped ``iterables``, results in submission order; the first task to
        fail raises its error here."""
        raise NotImplementedError

    def outcomes(self, fn: Callable, items: Iterable) -> Iterator[Outcome]:
        """``fn(item)`` for each item, as each completes; a task that fails (or whose workers
        die) is an :class:`Outcome` with its error, and the others go on."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def abort(self) -> None:
        """Stop at once, the tasks in flight with it: the way out of an interrupted command."""
        self.close()


class LocalEngine(Engine):
    """Spawned worker processes on this machine (``jobs``, default one per core), or this very
    process when only one can run."""

    name = "local"

    def __init__(self, jobs: int | None = None, *, most: int | None = None):
        jobs = jobs or os.cpu_count() or 1
        self.slots = max(1, min(jobs, most) if most else jobs)
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.slots, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=start_worker, initargs=(os.getpid(),))
        return self._pool

    def map(self, fn: Callable, *iterables: Iterable) -> Iterator:
        if self.slots == 1:
            return map(fn, *iterables)
        return self._executor().map(fn, *iterables)

    def outcomes(self, fn: Callable, items: Iterable) -> Iterator[Outcome]:
        todo = list(enumerate(items))
        todo.reverse()                       # pop() hands them out in order
        if self.slots == 1:
            while todo:
                i, item = todo.pop()
                try:
                    yield Outcome(i, fn(item))
                except Exception as exc:     # the task's own failure: recorded, the others go on
                    yield Outcome(i, error=describe_error(exc))
            return
        attempts: dict[int, int] = {}
        running: dict[Future, tuple[int, Any]] = {}
        while todo or running:
            # no more in flight than there are workers, so the tasks in flight when a worker dies
            # are exactly the ones that were running
            while todo and len(running) < self.slots:
                i, item = todo.pop()
                running[self._executor().submit(fn, item)] = (i, item)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                i, item = running.pop(future)
                try:
                    yield Outcome(i, future.result())
                except BrokenProcessPool:
                    broken = True
                    attempts[i] = attempts.get(i, 0) + 1
                    if attempts[i] >= LOCAL_ATTEMPTS:
                        yield Outcome(i, error=f"WorkerDied: the worker process died {attempts[i]} times while running "
                                               "this task (killed, or out of memory)")
                    else:
                        todo.append((i, item))
                except Exception as exc:
                    yield Outcome(i, error=describe_error(exc))
            if broken:
                # the pool is unusable: the other tasks in flight are lost with it; run them again
                for future, (i, item) in running.items():
                    attempts[i] = attempts.get(i, 0) + 1
                    todo.append((i, item))
                running.clear()
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def abort(self) -> None:
        """Terminate the workers instead of waiting for their tasks (``close`` would wait minutes
        for a national block after Ctrl-C or SIGTERM), then release the pool."""
        if self._pool is None:
            return
        workers = list(getattr(self._pool, "_processes", {}).values())   # the executor's own processes
        # Executor.map cancels the futures not yet started when its caller stops reading; on
        # CPython 3.11 the manager thread then failed them again when it found its workers gone
        # (InvalidStateError printed after the error message). Drop them from its pending items.
        pending = getattr(self._pool, "_pending_work_items", {})
        for key, item in list(pending.items()):
            if item.future.done():
                pending.pop(key, None)
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():            # SIGTERM not heeded in 5 s: the wait below must not hang
                worker.kill()
                worker.join(timeout=5)
        # With its workers gone the executor's manager thread fails the pending futures
        # (BrokenProcessPool, which no one waits for) and ends; wait for it. Left running
        # (wait=False), it raced the interpreter's exit hook ("OSError: Bad file descriptor").
        self._pool.shutdown(wait=True)
        self._pool = None


#: How often a worker process checks that the process that started it is still there (seconds).
PARENT_CHECK_SECONDS = 0.5
#: A worker that has used less than this share of one core for :data:`IDLE_SECONDS` is idle and
#: gives its free heap back to the system (:func:`trim_when_idle`).
IDLE_CPU_SHARE = 0.05
IDLE_SECONDS = 1.0


def available_memory() -> int:
    """Bytes this process can still allocate: the system's available memory, or less where a
    cgroup (a container's or a systemd slice's memory limit) leaves less. What the blocking
    check (:func:`sim.match.policy.check_pairs`) measures a rule's pairs against."""
    import psutil

    available = psutil.virtual_memory().available
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f_limit, open(usage_file) as f_usage:
                limit, usage = f_limit.read().strip(), f_usage.read().strip()
        except OSError:
            continue
        if limit.isdigit() and usage.isdigit() and int(limit) < 1 << 60:
            available = min(available, max(int(limit) - int(usage), 0))
        break
    return available


def start_worker(parent: int) -> None:
    """A local worker process's set-up: it exits with its parent (:func:`watch_parent`) and
    returns its free heap when it has no task (:func:`trim_when_idle`)."""
    watch_parent(parent)
    trim_when_idle()


def release_free_heap() -> bool:
    """Give the C heap's free memory back to the system (glibc's ``malloc_trim``): what a
    process has freed but glibc keeps for its next allocations, Arrow's buffers included
    (``ARROW_DEFAULT_MEMORY_POOL=system``). False, and nothing done, where the C library has no
    ``malloc_trim`` (not glibc)."""
    trim = _malloc_trim()
    if trim is None:       # pragma: no cover - not glibc: nothing to give back this way
        return False
    trim(0)
    return True


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    import ctypes
    import ctypes.util

    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):   # pragma: no cover - not glibc
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def trim_when_idle() -> None:
    """In a worker process: give the free heap back to the system (glibc's ``malloc_trim``) once
    the process has been idle for :data:`IDLE_SECONDS`, once per idle spell.

    A worker that has matched a national block keeps its freed memory, about 2 GB, in the C
    heap (Arrow allocates there, ``ARROW_DEFAULT_MEMORY_POOL=system``) while it waits: for the
    other workers' last blocks, for the EM fit, for the main process's summaries, which is when
    the main process holds the most. Trimming after every block instead was measured: the next
    block faults the pages back in (a national five-policy run 7 min 6 s -> 8 min 16 s). A busy
    worker is never trimmed here, only one whose process used less than :data:`IDLE_CPU_SHARE`
    of a core for a while (:func:`release_free_heap`). Nothing happens where the C library has no
    ``malloc_trim`` (not glibc)."""
    import threading
    import time

    if _malloc_trim() is None:     # pragma: no cover - not glibc: nothing to give back this way
        return

    def watch() -> None:
        trimmed, idle_since, last = True, None, time.process_time()
        while True:
            time.sleep(IDLE_SECONDS / 4)
            now, cpu = time.monotonic(), time.process_time()
            busy = cpu - last > IDLE_CPU_SHARE * IDLE_SECONDS / 4
            last = cpu
            if busy:
                trimmed, idle_since = False, None
            elif not trimmed:
                idle_since = idle_since or now
                if now - idle_since >= IDLE_SECONDS:
                    release_free_heap()
                    trimmed, last = True, time.process_time()   # its own CPU is not a task's

    threading.Thread(target=watch, name="matchsim-trim-when-idle", daemon=True).start()


def watch_parent(parent: int) -> None:
    """In a worker process: exit at once when ``parent`` is gone. A parent killed outright
    (SIGKILL, or SIGTERM before it can shut its pool down) would otherwise leave its workers
    computing their tasks for minutes, each holding a block's memory. Its children are then
    re-parented, so ``os.getppid()`` stops being ``parent``; a daemon thread checks that twice a
    second. (``prctl(PR_SET_PDEATHSIG)`` is Linux-only and fires when the spawning *thread* ends.)"""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)     # no cleanup to run: the worker's results have nowhere to go

    threading.Thread(target=watch, name="matchsim-watch-parent", daemon=True).start()


#: The name of a local Dask cluster's scratch directory under $TMPDIR, before the owner's pid.
DASK_SCRATCH_PREFIX = "matchsim-dask-"


class DaskEngine(Engine):
    """Dask distributed: a local cluster of ``workers`` processes (default one per core), or
    the existing cluster whose scheduler is at ``scheduler``."""

    name = "dask"

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None):
        import logging

        import dask
        from distributed import Client, LocalCluster

        self._cluster = None
        self._scratch: str | None = None
        self.address = scheduler
        try:
            if scheduler:
                self._client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            else:
                n = workers or os.cpu_count() or 1
                # the workers' scratch space is the run's own (Dask's default, $TMPDIR/dask-scratch-space,
                # outlives every run), named with this process's id so that what a run killed
                # outright leaves is removed by the next (sim.common.io.remove_stale)
                remove_stale(Path(tempfile.gettempdir()), DASK_SCRATCH_PREFIX)
                self._scratch = tempfile.mkdtemp(prefix=f"{DASK_SCRATCH_PREFIX}{os.getpid()}-")
                with dask.config.set({"temporary-directory": self._scratch}):   # the nannies' and the workers' own
                    self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                 local_directory=self._scratch, dashboard_address=None,
                                                 silence_logs=logging.CRITICAL)
                self._client = Client(self._cluster, set_as_default=False)
                self.address = self._cluster.scheduler_address
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            self._remove_scratch()
            where = f"the Dask scheduler at {scheduler}" if scheduler else "a local Dask cluster"
            hint = ("check the address, and that `dask scheduler` is running there and reachable"
                    if scheduler else "check that this machine can open local TCP ports")
            raise EngineError(f"cannot reach {where}: {describe_error(exc)}; {hint}") from None
        self._check_workers()
        self.slots = max(1, sum(self._client.nthreads().values()))

    def _check_workers(self) -> None:
        """Every worker runs this very matchsim: another version would compute other results."""
        try:
            versions = self._client.run(_matchsim_version)
        except ModuleNotFoundError as exc:
            self.close()
            raise EngineError(f"the Dask workers at {self.address} cannot import matchsim ({describe_error(exc)}); "
                              "install it where they run (pip install matchsim, or the checkout with pip install -e .)") from None
        other = {w: v for w, v in versions.items() if v != VERSION}
        if other:
            self.close()
            raise EngineError(f"Dask workers run another matchsim version than this one ({VERSION}): "
                              f"{', '.join(f'{w} has {v}' for w, v in sorted(other.items()))}; install the same version everywhere")

    def map(self, fn: Callable, *iterables: Iterable) -> Iterator:
        futures = self._client.map(fn, *iterables, pure=False)
        try:
            for future in futures:
                yield future.result()
        finally:
            self._client.cancel(futures)

    def outcomes(self, fn: Callable, items: Iterable) -> Iterator[Outcome]:
        from distributed import as_completed

        items = list(items)
        futures = self._client.map(fn, items, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for future in as_completed(futures, loop=self._client.loop):
                i = index[future.key]
                if future.status == "finished":
                    yield Outcome(i, future.result())
                else:            # an error in the task, or KilledWorker: its workers kept dying
                    yield Outcome(i, error=describe_error(future.exception()))
                future.release()
        finally:
            self._client.cancel(futures)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._remove_scratch()

    def _remove_scratch(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _matchsim_version() -> str:
    """The matchsim version of the process it runs in (a Dask worker's)."""
    from sim.common.provenance import VERSION

    return VERSION


@contextlib.contextmanager
def open_engine(name: str = "local", *, jobs: int | None = None, scheduler: str | None = None,
                most: int | None = None) -> Iterator[Engine]:
    """The engine ``name`` for the duration of a ``with`` block: ``local`` with ``jobs``
    processes (never more than ``most``, the number of tasks), or ``dask`` with a local cluster
    of ``jobs`` workers or the cluster at ``scheduler``."""
    if name == "local":
        if scheduler:
            raise EngineError(f"a scheduler address ({scheduler}) is for the dask engine; add --engine dask, "
                              "or leave out --scheduler to run on this machine")
        engine: Engine = LocalEngine(jobs, most=most)
    elif name == "dask":
        engine = DaskEngine(workers=jobs, scheduler=scheduler)
    else:
        raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    try:
        yield engine
    except BaseException:       # an error or an interrupt: the tasks in flight are not wanted
        engine.abort()
        raise
    engine.close()


@contextlib.contextmanager
def engine_or_local(engine: Engine | None, *, jobs: int | None = None, most: int | None = None) -> Iterator[Engine]:
    """``engine`` when the caller gives one (it stays open), else a local engine of ``jobs``
    processes for the ``with`` block: how the library's functions take an optional engine."""
    if engine is not None:
        yield engine
        return
    with open_engine("local", jobs=jobs, most=most) as local:
        yield local


__all__ = ["ENGINES", "Engine", "EngineError", "LocalEngine", "DaskEngine", "Outcome", "open_engine", "engine_or_local",
           "describe_error", "start_worker", "trim_when_idle", "watch_parent"]
