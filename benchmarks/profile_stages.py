"""Where a run's time goes, stage by stage: cProfile over one world under one policy, in this
process (one core), reported as the cumulative time of each stage's function.

    .venv/bin/python benchmarks/profile_stages.py                      # scale 0.05, irs-2025
    .venv/bin/python benchmarks/profile_stages.py --scale 0.2 --policy probabilistic

Prints a Markdown table (paste it into benchmarks/README.md with the machine and commit). The
stages nest (a run contains generation, generation contains the population): each row is its
function's cumulative time, its share of the whole run, and the parent it is part of. cProfile
adds overhead to Python-level calls, so Python-heavy stages read a little slower than they run.
"""

from __future__ import annotations

import argparse
import cProfile
import platform
import pstats
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (label, module path suffix, function name, parent label): the stages in the order data flows.
STAGES = (
    ("the whole run", "sim/runs/pipeline.py", "run_policies", None),
    ("plan: ZIP areas and apportionment", "sim/world/geography.py", "plan", "the whole run"),
    ("vocabulary (once per process)", "sim/world/vocab.py", "vocabulary", "the whole run"),
    ("generate one block", "sim/world/generate.py", "generate_block", "the whole run"),
    ("households", "sim/world/population.py", "_households", "generate one block"),
    ("dwellings", "sim/world/population.py", "_dwellings", "generate one block"),
    ("doubled-up households", "sim/world/population.py", "_double_up", "generate one block"),
    ("people", "sim/world/population.py", "_people", "generate one block"),
    ("names", "sim/world/population.py", "_names", "generate one block"),
    ("residence histories", "sim/world/population.py", "_history", "generate one block"),
    ("master file", "sim/world/master_file.py", "build", "generate one block"),
    ("requests", "sim/world/requests.py", "build", "generate one block"),
    ("prepare requests (parse addresses)", "sim/match/prepare.py", "prepare_requests", "the whole run"),
    ("prepare master file", "sim/match/prepare.py", "prepare_master_file", "the whole run"),
    ("candidates: blocking and comparisons", "sim/match/policy.py", "candidates", "the whole run"),
    ("comparisons (vectorized core)", "sim/compare/comparisons.py", "comparison_matrix", "candidates: blocking and comparisons"),
    ("EM fit (Fellegi-Sunter only)", "sim/match/fellegi_sunter.py", "fit", "the whole run"),
    ("decide", "sim/match/policy.py", "decide", "the whole run"),
    ("evaluate against the truth", "sim/evaluate.py", "evaluate", "the whole run"),
    ("summary figures and breakdowns", "sim/evaluate.py", "figures", "the whole run"),
)


def profile_stages(scale: float, policy: str) -> tuple[dict[str, float], float, dict[str, int]]:
    """(cumulative seconds of each of :data:`STAGES`, wall seconds, calls of each) of one run."""
    from sim.common.parallel import LocalEngine
    from sim.config import load_config
    from sim.runs.pipeline import run_policies

    config = load_config(ROOT / "configs" / "august-2025.toml", [f"world.scale={scale}", f"policy={policy}"])
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    run_policies(config, (config.policy,), engine=LocalEngine(1))
    profile.disable()
    wall = time.perf_counter() - started
    stats = pstats.Stats(profile).stats
    cumulative: dict[str, float] = {}
    calls: dict[str, int] = {}
    for label, path, name, _ in STAGES:
        mine = [v for (file, _, fn), v in stats.items() if fn == name and file.replace("\\", "/").endswith(path)]
        cumulative[label] = sum(v[3] for v in mine)
        calls[label] = sum(v[1] for v in mine)
    return cumulative, wall, calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--policy", default="irs-2025")
    args = parser.parse_args(argv)
    cumulative, wall, _ = profile_stages(args.scale, args.policy)
    total = cumulative["the whole run"] or wall
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"scale {args.scale:g}, policy {args.policy}, one core, commit {commit}, {platform.processor() or platform.machine()}, "
          f"wall {wall:.1f} s under cProfile\n")
    print("| stage | part of | seconds | share of the run |")
    print("|---|---|---:|---:|")
    for label, _, _, parent in STAGES:
        print(f"| {label} | {parent or ''} | {cumulative[label]:.1f} | {100 * cumulative[label] / total:.1f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
