"""Generation's compiled loops one by one: each kernel of :mod:`sim.world.kernels`, and each of
the random draws' loops (:mod:`sim.common.pcg64`, named ``pcg64.*``), timed alone on the
arguments a block gave it.

The block is generated twice with every kernel wrapped: first to time each call in the run,
then (the same calls: a block's draws are fixed) to copy each call's arguments. Each call is
then run again alone, on fresh copies of its arguments, and the best of a few runs kept. The two columns differ where the run's data was not in cache or
its arrays were new memory: "alone" is a kernel's own cost, what a change to its loop moves;
"in the run" is what the block paid. Block 0 and the block itself are generated first,
untimed (the vocabulary, the compiled loops, and the heap grown to the block's size, as a
worker's is after its first block: the benchmark's warm-up).

    .venv/bin/python benchmarks/profile_kernels.py                 # the first Texas block, scale 1
    .venv/bin/python benchmarks/profile_kernels.py --state CA --block 2

Each figure is the median of ``--runs`` whole profiles (3): a VM's speed moves between runs.
Prints a Markdown table, largest first (paste it into benchmarks/README.md with the machine and
commit). Pin it to one core (``taskset -c 1``) for figures comparable with the benchmarks.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np


def kernel_times(state: str = "TX", block_number: int = 0, scale: float = 1.0, repeats: int = 3,
                 config_path: str = "configs/august-2025.toml") -> tuple[dict, dict, dict, int]:
    """({kernel: seconds in the run}, {kernel: seconds alone}, {kernel: calls}, people in the
    block) for the ``block_number``-th block of ``state``."""
    from numba.core.registry import CPUDispatcher

    from sim.config import config_with, load_config
    from sim.common import pcg64
    from sim.world import geography, kernels
    from sim.world.generate import generate_block
    from sim.world.vocab import vocabulary

    config = config_with(load_config(config_path), **{"world.scale": scale})
    plan = geography.plan(config)
    blocks = [b for b in plan.blocks if b.state == state]
    if not blocks or not 0 <= block_number < len(blocks):
        raise SystemExit(f"{state} has {len(blocks)} blocks at scale {scale:g}; got --block {block_number}")
    block = blocks[block_number]
    vocabulary()
    generate_block(config, plan, plan.blocks[0])            # untimed: caches and compiled loops,
    generate_block(config, plan, block)                     # and the heap grown to the block's size

    # the world's kernels, and the random draws' (named pcg64.*): each called from Python
    originals = {(module, prefix + name): f for module, prefix in ((kernels, ""), (pcg64, "pcg64."))
                 for name, f in vars(module).items() if isinstance(f, CPUDispatcher)}
    in_run, alone, count = defaultdict(float), defaultdict(float), defaultdict(int)
    calls: list[tuple[str, object, list]] = []

    def timed(name, f):
        def call(*args):
            start = time.perf_counter()
            result = f(*args)
            in_run[name] += time.perf_counter() - start
            count[name] += 1
            return result
        return call

    def kept(name, f):
        def call(*args):
            calls.append((name, f, [a.copy() if isinstance(a, np.ndarray) else a for a in args]))
            return f(*args)
        return call

    try:
        for wrap in (timed, kept):
            for (module, name), f in originals.items():
                setattr(module, f.__name__, wrap(name, f))
            n_people = generate_block(config, plan, block).n_people
    finally:
        for (module, name), f in originals.items():
            setattr(module, f.__name__, f)

    for name, f, args in calls:
        best = float("inf")
        for _ in range(repeats):
            fresh = [a.copy() if isinstance(a, np.ndarray) else a for a in args]   # a kernel may write its arguments
            start = time.perf_counter()
            f(*fresh)
            best = min(best, time.perf_counter() - start)
        alone[name] += best
    return dict(in_run), dict(alone), dict(count), n_people


def table(in_run: dict, alone: dict, count: dict, n_people: int) -> str:
    rows = ["| kernel | calls | in the run, ms | alone, ms | alone, ns a person |", "|---|---:|---:|---:|---:|"]
    for name in sorted(in_run, key=in_run.get, reverse=True):
        rows.append(f"| `{name}` | {count[name]} | {in_run[name] * 1e3:.1f} | {alone[name] * 1e3:.1f} | "
                    f"{alone[name] / max(n_people, 1) * 1e9:.1f} |")
    rows.append(f"| all kernels | {sum(count.values())} | {sum(in_run.values()) * 1e3:.1f} | {sum(alone.values()) * 1e3:.1f} | "
                f"{sum(alone.values()) / max(n_people, 1) * 1e9:.1f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", default="TX")
    parser.add_argument("--block", type=int, default=0, help="the state's block, in plan order")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each call alone (the best is kept)")
    parser.add_argument("--runs", type=int, default=3, help="whole profiles (each figure is their median)")
    args = parser.parse_args()
    profiles = [kernel_times(args.state, args.block, args.scale, args.repeats) for _ in range(args.runs)]
    median = lambda i: {name: float(np.median([p[i][name] for p in profiles])) for name in profiles[0][i]}  # noqa: E731
    in_run, alone, (_, _, count, n_people) = median(0), median(1), profiles[0]
    print(f"{args.state} block {args.block} at scale {args.scale:g}: {n_people:,} people; the median of {args.runs} profiles\n")
    print(table(in_run, alone, count, n_people))


if __name__ == "__main__":
    main()
