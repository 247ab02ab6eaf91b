"""Benchmark session set-up: the saved JSON says which machine and which code the figures came from."""

from __future__ import annotations

import os
import subprocess

from benchmarks.harness import total_memory_gib

_CHECKOUT_AT_START: dict[str, object] = {}


def _checkout(root) -> dict[str, object]:
    """HEAD and whether tracked files differ from it (what ``git describe --dirty`` calls dirty)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        changes = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"id": head, "dirty": bool(changes)}


def pytest_configure(config):
    _CHECKOUT_AT_START.update(_checkout(config.rootpath))


def pytest_benchmark_update_machine_info(config, machine_info):
    # pytest-benchmark records the CPU model and its core count; a figure also depends on how
    # many of those cores this process may use (containers, taskset) and on the memory.
    if hasattr(os, "sched_getaffinity"):
        machine_info["usable_cpus"] = len(os.sched_getaffinity(0))
    machine_info["memory_gib"] = total_memory_gib()


def pytest_benchmark_update_commit_info(config, commit_info):
    # The plugin reads git when the run ends. If the checkout changed meanwhile (a commit or an
    # edit during a long run), the figures belong to neither state alone: keep the state at the
    # start as the run's commit and record the end too, so the report can say so.
    start = _CHECKOUT_AT_START
    if start and (start["id"], start["dirty"]) != (commit_info.get("id"), commit_info.get("dirty")):
        commit_info["id_at_end"], commit_info["dirty_at_end"] = commit_info.get("id"), commit_info.get("dirty")
        commit_info["id"], commit_info["dirty"] = start["id"], start["dirty"]
