"""Benchmark of the whole ``matchsim run`` (the "matcher" issue): generate the world, match it
under a policy, evaluate every decision, write decisions.parquet and summary.json; wall time,
CPU time and peak memory of the command as a user runs it, in a child process.

``make bench`` runs FULL (``world.scale=0.1``: about 128,000 requests against 23 million
master-file records) for each policy in ``POLICIES``; ``make test`` runs the SMOKE size once,
untimed. Assertions check only that the work was done.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from benchmarks.harness import run_child

REPO_ROOT = Path(__file__).resolve().parent.parent
BASELINE = REPO_ROOT / "configs" / "august-2025.toml"
MATCHSIM = Path(sys.executable).parent / "matchsim"   # the installed console script

# ---- Sizes, named once. FULL: `make bench`. SMOKE: `make test` (one run each, untimed). ----
FULL_SCALE = 0.1
SMOKE_SCALE = 0.0005
POLICIES = ("irs-2025", "statute-6103", "probabilistic")


@pytest.mark.parametrize("policy", POLICIES)
def test_run_scale_01(benchmark, tmp_path, policy):
    scale = FULL_SCALE if benchmark.enabled else SMOKE_SCALE
    out_dir = tmp_path / "run"

    def run():
        return run_child([MATCHSIM, "run", BASELINE, "-o", out_dir, "--set", f"world.scale={scale}",
                          "--set", f"policy={policy}", "--quiet"], log_dir=tmp_path / "logs")

    child = benchmark.pedantic(run, rounds=1, iterations=1)

    assert child.returncode == 0, child.stderr
    summary = json.loads((out_dir / "summary.json").read_text())
    simulated = summary["simulated"]
    assert simulated["requests"] > 0 and (out_dir / "decisions.parquet").stat().st_size > 0
    benchmark.extra_info.update(
        scale=scale,
        policy=policy,
        seed=summary["seed"],
        requests=simulated["requests"],
        disclosed=simulated["disclosed"],
        wall_s=round(child.seconds, 2),
        cpu_s=round(child.cpu_seconds, 2),
        peak_rss_mib=round(child.peak_rss_mib),
        requests_per_s=round(simulated["requests"] / child.seconds) if child.seconds else None,
    )
