"""Measuring tools shared by the benchmarks: pinning to one core, and running a child process
with its own wall time, CPU time and peak memory.

Nothing here times anything for pytest-benchmark; it only sets up conditions and reads the
kernel's accounting, so the figures the benchmarks record mean the same on every machine.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def _threads() -> list[int]:
    """Thread ids of this process (Linux); just the calling thread elsewhere."""
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except FileNotFoundError:  # pragma: no cover - not Linux
        return [0]


def _busy_ticks() -> dict[int, tuple[int, int]]:
    """Per CPU: (busy, total) clock ticks since boot, from /proc/stat."""
    ticks = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if name.startswith("cpu") and name != "cpu":
                values = [int(v) for v in fields]
                idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
                ticks[int(name[3:])] = (sum(values) - idle, sum(values))
    return ticks


def idlest_cpu(allowed: set[int], sample_seconds: float = 0.25) -> int:
    """The allowed CPU that was busiest least over a short sample (the lowest number if unknown).

    A pinned benchmark cannot be moved off a core another process is using, so it should not
    start on one: on a shared machine the first CPU is not necessarily a free one.
    """
    try:
        before = _busy_ticks()
        time.sleep(sample_seconds)
        after = _busy_ticks()
    except (OSError, ValueError):  # pragma: no cover - no /proc/stat
        return min(allowed)

    def load(cpu: int) -> float:
        busy = after[cpu][0] - before[cpu][0]
        total = after[cpu][1] - before[cpu][1]
        return busy / total if total else 0.0

    known = [cpu for cpu in sorted(allowed) if cpu in before and cpu in after]
    return min(known, key=load) if known else min(allowed)


@contextmanager
def pinned_to_one_core() -> Iterator[int | None]:
    """Run the body with every thread of this process on one CPU (the idlest one allowed); yield
    that CPU's number.

    ``os.sched_setaffinity(0, ...)`` moves only the calling thread, so threads started earlier
    (pyarrow's pool, BLAS) are moved one by one; threads started inside the body inherit the pin.
    Every thread gets its previous affinity back afterwards. Yields ``None`` where affinity
    cannot be set (not Linux), and the body then runs unpinned.
    """
    if not hasattr(os, "sched_setaffinity"):  # pragma: no cover - not Linux
        yield None
        return
    allowed = os.sched_getaffinity(0)
    cpu = idlest_cpu(allowed)
    saved: dict[int, set[int]] = {}
    for tid in _threads():
        try:
            saved[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, {cpu})
        except (ProcessLookupError, PermissionError):
            pass  # a thread that ended meanwhile
    try:
        yield cpu
    finally:
        for tid in _threads():
            try:
                os.sched_setaffinity(tid, saved.get(tid, allowed))
            except (ProcessLookupError, PermissionError):
                pass


@dataclass(frozen=True)
class ChildRun:
    """One finished child process and what the kernel accounted to it alone."""

    returncode: int
    seconds: float        # wall time, start to reaped
    cpu_seconds: float    # user + system
    peak_rss_kib: int     # the larger of ru_maxrss of this child and the sampled peak of its process tree (KiB)
    stdout: str
    stderr: str

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_kib / 1024


def _tree_rss_kib(root: int) -> int:
    """Resident memory of ``root`` and all its descendants now, from /proc (0 where there is none)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="ascii", errors="replace") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields.get("PPid", "0").strip() or 0)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(rss.get(pid, 0) for pid in tree)


class _TreeSampler(threading.Thread):
    """Samples the process tree's resident memory: a child that runs worker processes (the main
    job's replicates) uses the sum of them, which ``ru_maxrss`` (one process) does not see."""

    def __init__(self, pid: int, interval: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kib = pid, interval, 0
        self._halt = threading.Event()

    def run(self) -> None:
        if not os.path.isdir("/proc"):   # pragma: no cover - not Linux: ru_maxrss only
            return
        while not self._halt.is_set():
            self.peak_kib = max(self.peak_kib, _tree_rss_kib(self.pid))
            self._halt.wait(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak_kib


def run_child(argv: Sequence[str | os.PathLike], *, log_dir: Path, env: dict[str, str] | None = None) -> ChildRun:
    """Run ``argv`` to completion and return its own resource usage.

    ``os.wait4`` reports the child's own ``ru_maxrss``; ``getrusage(RUSAGE_CHILDREN)`` would give
    the largest of all children reaped so far, so a second, smaller run would be invisible. A
    sampler adds up the child's process tree every 0.25 s, for children that start workers.
    Output goes to files in ``log_dir`` (no pipe to fill and block on).
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([os.fspath(a) for a in argv], stdout=out, stderr=err, env=env)
        sampler = _TreeSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        tree_peak = sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting again
    return ChildRun(
        returncode=proc.returncode,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_kib=max(usage.ru_maxrss, tree_peak),
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


def total_memory_gib() -> float | None:
    """Physical memory of this machine in GiB, or ``None`` where the OS does not say."""
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return None
