"""Where a block's time goes, without a profiler: the wall time of each stage's function while
blocks of a world are generated and matched under the study's policies, as a worker does it in a
run's first pass (one core, this process).

    .venv/bin/python benchmarks/block_stages.py                  # national blocks 145 and 166
    .venv/bin/python benchmarks/block_stages.py --blocks 57      # the block with most requests

``benchmarks/profile_stages.py`` profiles a whole small world under cProfile, which slows
Python-level calls; this times national-size blocks at full speed, each stage's function wrapped
with a clock (a stage called inside another counts in both). The first block of the process
(block 0) is run once untimed: it loads the vocabulary, the address model and the compiled loops.
Prints a Markdown table to paste into benchmarks/README.md with the machine and commit.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import platform
import subprocess
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (label, module, function, parent label): the stages in the order data flows; the module is
#: the one whose attribute the caller reads (the matcher imports ``comparison_matrix`` by name).
STAGES = (
    ("generate the block", "sim.runs.pipeline", "generate_block", None),
    ("- population: households, people, names, histories", "sim.world.population", "build", "generate the block"),
    ("- master file", "sim.world.master_file", "build", "generate the block"),
    ("- requests", "sim.world.requests", "build", "generate the block"),
    ("prepare the requests (parse ICE's addresses)", "sim.runs.pipeline", "prepare_requests", None),
    ("prepare the master file", "sim.runs.pipeline", "prepare_master_file", None),
    ("candidates: blocking and comparisons, every policy", "sim.match.policy", "candidates", None),
    ("- comparisons (the vectorized core)", "sim.match.matchers", "comparison_matrix", "candidates: blocking and comparisons, every policy"),
    ("decide", "sim.match.policy", "decide", None),
    ("evaluate against the truth", "sim.evaluate", "evaluate", None),
)


def _timed(seconds: dict[str, float], calls: dict[str, int]) -> None:
    """Wrap each stage's function (where its caller looks it up) with a clock."""
    for label, module_name, name, _ in STAGES:
        module = importlib.import_module(module_name)
        inner = getattr(module, name)

        @functools.wraps(inner)
        def clocked(*args, _inner=inner, _label=label, **kwargs):
            started = time.perf_counter()
            try:
                return _inner(*args, **kwargs)
            finally:
                seconds[_label] += time.perf_counter() - started
                calls[_label] += 1

        setattr(module, name, clocked)


def block_stages(blocks: list[int], scale: float = 1.0) -> tuple[dict[str, float], float, dict[str, int]]:
    """(seconds of each of :data:`STAGES`, wall seconds, calls of each) of the first pass over
    the plan's ``blocks`` under every policy of the shipped study."""
    from sim.config import load_config
    from sim.match import policy as policy_mod
    from sim.runs import pipeline
    from sim.world import geography

    config = load_config(ROOT / "configs" / "august-2025.toml", [f"world.scale={scale}"])
    plan = geography.plan(config)
    members: dict[str, list] = {}
    for i, policy in enumerate(config.policies()):
        members.setdefault(pipeline._matching_key(policy), []).append((i, policy))
    # the policies whose model is known before matching are decided in the first pass; an EM
    # policy's block gives its level counts (its deciding pass is not timed here)
    models = {key: policy_mod.fit_from(group[0][1], []) for key, group in members.items() if not policy_mod.needs_fit(group[0][1])}
    seconds: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    _timed(seconds, calls)
    pipeline._match_and_decide(config, plan, 0, members, models, None, None)     # warm: loads, compiles
    seconds.clear()
    calls.clear()
    started = time.perf_counter()
    for index in blocks:
        pipeline._match_and_decide(config, plan, index, members, models, None, None)
    return dict(seconds), time.perf_counter() - started, dict(calls)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[145, 166])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    seconds, wall, _ = block_stages(args.blocks, args.scale)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"blocks {args.blocks} at scale {args.scale:g}, the study's policies' first pass, one core, commit {commit}, "
          f"{platform.processor() or platform.machine()}, wall {wall:.1f} s\n")
    print("| stage | part of | seconds | share of the blocks' time |")
    print("|---|---|---:|---:|")
    for label, _, _, parent in STAGES:
        print(f"| {label} | {parent or ''} | {seconds.get(label, 0.0):.2f} | {100 * seconds.get(label, 0.0) / wall:.1f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
