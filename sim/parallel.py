"""Running independent pieces of work in worker processes, results in submission order.

Both the study (one replicate per task) and the calibration (one run per task) hand out
deterministic, independent tasks; the order of the results never depends on which worker
finished first, so outputs do not depend on the number of workers.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor


@contextlib.contextmanager
def worker_map(jobs: int | None, most: int) -> Iterator[Callable]:
    """Yield a ``map(fn, *iterables)`` that runs in ``jobs`` worker processes (default: one per
    core, never more than ``most``, the number of tasks), or the builtin ``map`` in this process
    when only one can run. Workers are spawned, not forked (the parent may hold Arrow and OpenMP
    thread pools), and live for the whole block, so a caller mapping many times pays their
    start-up once. Leaving the block early cancels the tasks not yet started."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, most))
    if jobs == 1:
        yield map
        return
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool.map
    finally:
        pool.shutdown(cancel_futures=True)


__all__ = ["worker_map"]
