"""Benchmarks of world generation, against the targets of the "world generation" issue:

* in-memory generation of at least 1 million master-file records a second on one core
  (:func:`test_generate_master_file_rate`);
* ``matchsim generate configs/august-2025.toml --set world.scale=0.01`` in under 30 s on 2 cores
  (:func:`test_generate_cli_scale_001`);
* peak memory set by the block size, not the scale (:func:`test_generate_memory_bounded`);
* for reference, drawing integer codes from the Census surname distribution
  (:func:`test_sample_surname_codes`).

``make bench`` times the FULL sizes and saves JSON under ``.benchmarks/``; ``make test`` runs
each body once at the SMOKE sizes with timing disabled, so the benchmarks cannot rot. The figures
are in each benchmark's ``extra_info``; ``python benchmarks/report.py`` prints them as a table.
Assertions check only that the work was done (outputs exist, rows > 0), never how fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.harness import pinned_to_one_core, run_child

REPO_ROOT = Path(__file__).resolve().parent.parent
BASELINE = REPO_ROOT / "configs" / "august-2025.toml"
MATCHSIM = Path(sys.executable).parent / "matchsim"   # the installed console script

# ---- Sizes, named once. FULL: `make bench`. SMOKE: `make test` (one run each, untimed). ----
# In-memory rate: every block of the baseline world at this scale, the same blocks the CLI
# target generates. The first block is generated once, untimed, to fill the caches.
RATE_SCALE = 0.01
RATE_SMOKE_SCALE = 0.0005
RATE_ROUNDS = 3
RATE_TARGET = 1_000_000             # master-file records per second, one core, on the small blocks of RATE_SCALE
NATIONAL_RATE_TARGET = 3_000_000    # the same on national-size blocks (issue 16)

# The same rate on national-size blocks: the first blocks of one state at scale 1, where a block
# holds up to world.max_block_population residents and fixed per-block costs are amortized as
# in a national run. Smoke: one block of a small state.
NATIONAL_STATE = "TX"
NATIONAL_BLOCKS = 4
NATIONAL_SMOKE_STATE = "DE"
NATIONAL_SMOKE_BLOCKS = 1

# The command line, end to end (imports, geography, generation, Parquet, manifest).
FULL_SCALE = 0.01
SMOKE_SCALE = 0.001
CLI_TARGET_SECONDS = 30.0

# Peak memory at two scales with the same block cap: the cap is set low enough that both
# worlds have blocks at the cap, so any growth would come from the scale itself. The smoke run
# starts one child only: most of a small run is the fixed start-up (imports, ZIP table, words).
MEMORY_SCALES = (0.002, 0.01)
MEMORY_SMOKE_SCALES = (0.0005,)
MEMORY_MAX_BLOCK_POPULATION = 100_000
# What every run holds before its first block: interpreter, libraries, ZIP table and plan,
# vocabulary. Measured in a child of its own so the block's share of the peak can be read off.
FIXED_COST_SCRIPT = (
    "import sys; from sim.config import load_config; from sim.world import geography; "
    "from sim.world.vocab import vocabulary; geography.plan(load_config(sys.argv[1])); vocabulary()"
)

# Sampling integer codes: uniforms from a fixed seed mapped to Census surname indices.
SAMPLE_CODES = 1_000_000
SAMPLE_POOL = "general"
SAMPLE_SEED = 20100401


def _mean_seconds(benchmark) -> float | None:
    """Mean time of the timed rounds, or ``None`` in a smoke run (timing disabled)."""
    return benchmark.stats.stats.mean if benchmark.enabled and benchmark.stats else None


def _min_seconds(benchmark) -> float | None:
    """Fastest timed round: the least disturbed by other work on the machine."""
    return benchmark.stats.stats.min if benchmark.enabled and benchmark.stats else None


def _per_second(count: int, seconds: float | None) -> float | None:
    return round(count / seconds) if seconds else None


# --------------------------------------------------------------------------------------------


def test_generate_master_file_rate(benchmark):
    """Population, master file and requests of every block, in memory, on one core."""
    scale = RATE_SCALE if benchmark.enabled else RATE_SMOKE_SCALE
    _rate_benchmark(benchmark, scale, lambda plan: plan.blocks)


def _rate_benchmark(benchmark, scale: float, pick_blocks, target: int = RATE_TARGET, **info) -> None:
    from sim.config import config_with, load_config
    from sim.world import geography
    from sim.world.generate import generate_block
    from sim.world.vocab import vocabulary

    config = config_with(load_config(BASELINE), **{"world.scale": scale})
    plan = geography.plan(config)
    blocks = pick_blocks(plan)
    vocabulary()
    # Warm-up: fills the per-process caches (the vocabulary, the compiled loops) and grows the
    # heap to the size of the blocks measured, as a worker's heap is after its first block. Warmed
    # with a small block only, the first round paid 40,000-100,000 page faults (0.2-0.5 s on the
    # 2-core VM) that no later block of a run pays.
    generate_block(config, plan, plan.blocks[0])
    generate_block(config, plan, blocks[0])

    def generate_all() -> dict[str, int]:
        totals = {"residents": 0, "master_file_rows": 0, "request_rows": 0}
        for block in blocks:
            result = generate_block(config, plan, block)
            totals["residents"] += result.n_people
            totals["master_file_rows"] += result.master_file.num_rows
            totals["request_rows"] += result.requests.num_rows
        return totals

    # numpy's element-wise work is single-threaded; pinning also keeps any pyarrow pool thread
    # on the same core, so the figure is one core's.
    with pinned_to_one_core() as cpu:
        totals = benchmark.pedantic(generate_all, rounds=RATE_ROUNDS, iterations=1)

    assert totals["master_file_rows"] > 0 and totals["request_rows"] > 0
    seconds = _mean_seconds(benchmark)
    benchmark.extra_info.update(
        scale=scale,
        seed=config.seed,
        **info,
        n_blocks=len(blocks),
        n_zip_areas=int(sum(len(b.rows) for b in blocks)),
        **totals,
        master_file_records_per_s=_per_second(totals["master_file_rows"], seconds),
        master_file_records_per_s_best=_per_second(totals["master_file_rows"], _min_seconds(benchmark)),
        residents_per_s=_per_second(totals["residents"], seconds),
        target_records_per_s=target,
        pinned_cpu=cpu,
    )


def test_generate_cli_scale_001(benchmark, tmp_path):
    """``matchsim generate`` as a user runs it, in a child process, unpinned."""
    scale = FULL_SCALE if benchmark.enabled else SMOKE_SCALE
    out_dir = tmp_path / "world"

    def run():
        return run_child(
            [MATCHSIM, "generate", BASELINE, "-o", out_dir, "--set", f"world.scale={scale}", "--quiet"],
            log_dir=tmp_path / "logs",
        )

    child = benchmark.pedantic(run, rounds=1, iterations=1)

    assert child.returncode == 0, child.stderr
    manifest = json.loads((out_dir / "manifest.json").read_text())
    for dataset in ("master_file", "requests"):
        assert list((out_dir / dataset).glob("*.parquet")), f"no {dataset} files written"
    counts = manifest["counts"]
    assert counts["master_file"] > 0 and counts["requests"] > 0
    benchmark.extra_info.update(
        scale=scale,
        seed=manifest["seed"],
        n_blocks=counts["blocks"],
        residents=counts["residents"],
        master_file_rows=counts["master_file"],
        request_rows=counts["requests"],
        wall_s=round(child.seconds, 2),
        cpu_s=round(child.cpu_seconds, 2),
        cores_used=round(child.cpu_seconds / child.seconds, 2),   # > 1 only if work ran in parallel
        peak_rss_mib=round(child.peak_rss_mib),
        master_file_records_per_s=_per_second(counts["master_file"], child.seconds),
        target_wall_s=CLI_TARGET_SECONDS,
    )


def test_generate_memory_bounded(benchmark, tmp_path):
    """Peak RSS of ``matchsim generate`` at two scales with the same block cap."""
    from sim.config import config_with, load_config
    from sim.world import geography

    scales = MEMORY_SCALES if benchmark.enabled else MEMORY_SMOKE_SCALES
    cap = f"world.max_block_population={MEMORY_MAX_BLOCK_POPULATION}"

    def run_all():
        runs = {"fixed": run_child([sys.executable, "-c", FIXED_COST_SCRIPT, BASELINE], log_dir=tmp_path / "logs-fixed")}
        for scale in scales:
            out_dir = tmp_path / f"world-{scale}"
            runs[scale] = run_child(
                [MATCHSIM, "generate", BASELINE, "-o", out_dir, "--set", f"world.scale={scale}", "--set", cap, "--quiet"],
                log_dir=tmp_path / f"logs-{scale}",
            )
        return runs

    runs = benchmark.pedantic(run_all, rounds=1, iterations=1)

    fixed = runs.pop("fixed")
    assert fixed.returncode == 0, fixed.stderr
    base = load_config(BASELINE)
    info = {"max_block_population": MEMORY_MAX_BLOCK_POPULATION, "peak_rss_mib_fixed": round(fixed.peak_rss_mib)}
    for scale, child in runs.items():
        assert child.returncode == 0, child.stderr
        counts = json.loads((tmp_path / f"world-{scale}" / "manifest.json").read_text())["counts"]
        assert counts["master_file"] > 0
        plan = geography.plan(config_with(base, **{"world.scale": scale, "world.max_block_population": MEMORY_MAX_BLOCK_POPULATION}))
        largest = max(int(plan.zips.loc[b.rows, "population"].sum()) for b in plan.blocks)
        info[f"residents@{scale:g}"] = counts["residents"]
        info[f"largest_block_residents@{scale:g}"] = largest
        info[f"peak_rss_mib@{scale:g}"] = round(child.peak_rss_mib)
    info["peak_rss_ratio"] = round(runs[scales[-1]].peak_rss_kib / runs[scales[0]].peak_rss_kib, 3)  # largest / smallest scale
    benchmark.extra_info.update(info)


@pytest.mark.parametrize("method", ["guide_table", "searchsorted"])
def test_sample_surname_codes(benchmark, method):
    """Uniforms -> surname codes: the guide-table Sampler the world uses, and a binary search."""
    from sim.world.vocab import Sampler, vocabulary

    cdf = vocabulary().pools[SAMPLE_POOL].surname_cdf
    u = np.random.default_rng(SAMPLE_SEED).random(SAMPLE_CODES)
    sampler = Sampler(cdf)
    draw = sampler.draw if method == "guide_table" else (lambda x: np.searchsorted(cdf, x, side="right"))

    codes = benchmark(draw, u)

    np.testing.assert_array_equal(codes, np.searchsorted(cdf, u, side="right"))  # same codes either way
    benchmark.extra_info.update(
        n_codes=SAMPLE_CODES,
        n_categories=len(cdf),
        codes_per_s=_per_second(SAMPLE_CODES, _mean_seconds(benchmark)),
    )


# Last in the module on purpose: it grows this process to ~1 GB, and a child process started
# after it reports that in its peak RSS (a forked child counts its parent's pages until exec),
# which would inflate the CLI and memory figures above.
def test_generate_master_file_rate_national_blocks(benchmark):
    """The same rate on national-size blocks (scale 1), as a national run generates them."""
    state, n = (NATIONAL_STATE, NATIONAL_BLOCKS) if benchmark.enabled else (NATIONAL_SMOKE_STATE, NATIONAL_SMOKE_BLOCKS)
    _rate_benchmark(benchmark, 1.0, lambda plan: [b for b in plan.blocks if b.state == state][:n], NATIONAL_RATE_TARGET,
                    state=state)
