"""Where a run's time goes, stage by stage, in three ways:

* a whole small world under one policy under cProfile, each stage's function's cumulative time
  (:func:`profile_stages`). cProfile adds overhead to Python-level calls, so Python-heavy stages
  read a little slower than they run;
* national-size blocks under every policy of the study, their first pass as a worker runs it,
  each stage's function wrapped with a clock, without a profiler (:func:`block_stages`; a stage
  called inside another counts in both). Block 0 is run first, untimed: it loads the
  vocabulary, the address model and the compiled loops;
* a whole run as it runs, every process of it, sampled by py-spy (:func:`pyspy_stages`): each
  stage's share of the samples whose stack holds its function, from py-spy's raw output. It
  sees what the two others cannot: the main process's summaries and writes, the spill, the
  workers' waits. py-spy is not a dependency; install it where you profile.

    .venv/bin/python benchmarks/profile_stages.py                      # scale 0.05, irs-2025
    .venv/bin/python benchmarks/profile_stages.py --scale 0.2 --policy probabilistic
    .venv/bin/python benchmarks/profile_stages.py --blocks 145 166     # national blocks, no profiler
    .venv/bin/python benchmarks/profile_stages.py --blocks 57          # the block with most requests
    py-spy record --subprocesses --rate 25 --format raw -o run.txt -- \
        .venv/bin/python -m sim run configs/august-2025.toml -o out/national --set world.scale=1.0 \
        --set study.replicates=1 --no-report --quiet
    .venv/bin/python benchmarks/profile_stages.py --pyspy run.txt --rate 25

Prints a Markdown table (paste it into benchmarks/README.md with the machine and commit). The
stages nest (a run contains generation, generation contains the population): each row is its
function's time, its share of the whole, and the parent it is part of.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import importlib
import platform
import pstats
import subprocess
import time
from collections import defaultdict
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


#: :func:`block_stages`' stages: (label, module, function, parent label), in the order data
#: flows; the module is the one whose attribute the caller reads (the matcher imports ``comparison_matrix`` by name).
BLOCK_STAGES = (
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
    for label, module_name, name, _ in BLOCK_STAGES:
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
    """(seconds of each of :data:`BLOCK_STAGES`, wall seconds, calls of each) of the first pass over
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


#: :func:`pyspy_stages`' stages: (label, module path suffix, function name, parent label).
PYSPY_STAGES = (
    ("a worker's block (both passes)", "sim/runs/pipeline.py", "_match_and_decide", None),
    ("generate the block", "sim/world/generate.py", "generate_block", "a worker's block (both passes)"),
    ("prepare the requests (parse ICE's addresses)", "sim/match/prepare.py", "prepare_requests", "a worker's block (both passes)"),
    ("prepare the master file", "sim/match/prepare.py", "prepare_master_file", "a worker's block (both passes)"),
    ("candidates: blocking and comparisons, every policy", "sim/match/policy.py", "candidates", "a worker's block (both passes)"),
    ("- blocking (counted, then made)", "sim/match/policy.py", "check_pairs", "candidates: blocking and comparisons, every policy"),
    ("- comparisons (the vectorized core)", "sim/compare/comparisons.py", "comparison_matrix", "candidates: blocking and comparisons, every policy"),
    ("decode the rows kept (_decoded)", "sim/runs/pipeline.py", "_decoded", "a worker's block (both passes)"),
    ("spill a matched block", "sim/runs/pipeline.py", "put", "a worker's block (both passes)"),
    ("decide and evaluate", "sim/runs/pipeline.py", "_evaluate", "a worker's block (both passes)"),
    ("the main process, when busy: summaries, writes", "sim/studies/study.py", "run_and_write_study", None),
)


def pyspy_stages(path: Path, rate: float) -> tuple[dict[str, float], float]:
    """(seconds of each of :data:`PYSPY_STAGES`, seconds of all samples) from py-spy's raw
    (collapsed-stack) output: a line is ``frame;frame;... count``, a frame ``function
    (path:line)``. A sample counts for a stage when any frame of its stack is the stage's function."""
    seconds: dict[str, float] = defaultdict(float)
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = {(f[:f.find(" (")], f[f.find(" (") + 2:f.rfind(":")]) for f in stack.split(";") if " (" in f}
        for label, suffix, name, _ in PYSPY_STAGES:
            if any(fn == name and file.endswith(suffix) for fn, file in frames):
                seconds[label] += n / rate
    return dict(seconds), total / rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, help="world.scale (default 0.05, or 1.0 with --blocks)")
    parser.add_argument("--policy", default="irs-2025", help="the policy of a whole-world profile")
    parser.add_argument("--blocks", type=int, nargs="+", help="time these blocks under the study's policies, no profiler")
    parser.add_argument("--pyspy", type=Path, help="read py-spy's raw output of a whole run (record --format raw --subprocesses)")
    parser.add_argument("--rate", type=float, default=100.0, help="the samples per second py-spy recorded at (its --rate; default 100)")
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    where = f"one core, commit {commit}, {platform.processor() or platform.machine()}"
    if args.pyspy:
        seconds, total = pyspy_stages(args.pyspy, args.rate)
        print(f"{args.pyspy}: {total:.0f} s of samples at {args.rate:g} Hz, every process of the run\n")
        _table(PYSPY_STAGES, seconds, total, "the samples", digits=1)
    elif args.blocks:
        scale = 1.0 if args.scale is None else args.scale
        seconds, wall, _ = block_stages(args.blocks, scale)
        print(f"blocks {args.blocks} at scale {scale:g}, the study's policies' first pass, {where}, wall {wall:.1f} s\n")
        _table(BLOCK_STAGES, seconds, wall, "the blocks' time", digits=2)
    else:
        scale = 0.05 if args.scale is None else args.scale
        cumulative, wall, _ = profile_stages(scale, args.policy)
        print(f"scale {scale:g}, policy {args.policy}, {where}, wall {wall:.1f} s under cProfile\n")
        _table(STAGES, cumulative, cumulative["the whole run"] or wall, "the run", digits=1)
    return 0


def _table(stages, seconds: dict[str, float], total: float, whole: str, *, digits: int) -> None:
    """The Markdown table of ``stages``: each one's seconds and share of ``total``."""
    print(f"| stage | part of | seconds | share of {whole} |")
    print("|---|---|---:|---:|")
    for label, _, _, parent in stages:
        s = seconds.get(label, 0.0)
        print(f"| {label} | {parent or ''} | {s:.{digits}f} | {100 * s / total:.1f}% |")


if __name__ == "__main__":
    raise SystemExit(main())
