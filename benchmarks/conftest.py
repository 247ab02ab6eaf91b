"""Benchmark session set-up: the saved JSON says which machine the figures came from."""

from __future__ import annotations

import os

from benchmarks.harness import total_memory_gib


def pytest_benchmark_update_machine_info(config, machine_info):
    # pytest-benchmark records the CPU model and its core count; a figure also depends on how
    # many of those cores this process may use (containers, taskset) and on the memory.
    if hasattr(os, "sched_getaffinity"):
        machine_info["usable_cpus"] = len(os.sched_getaffinity(0))
    machine_info["memory_gib"] = total_memory_gib()
