"""benchmarks/profile_stages.py: every stage it names is a function a run calls, so a renamed
function cannot leave its row silently at 0 s."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _profile_stages():
    """benchmarks/profile_stages.py as a module (the benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("profile_stages", Path(__file__).parents[1] / "benchmarks" / "profile_stages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_stage_of_the_profile_is_called_by_a_run():
    module = _profile_stages()
    _, wall, calls = module.profile_stages(0.001, "probabilistic")
    assert wall > 0
    # every stage ran; the vocabulary may already be built by an earlier test of this process
    missing = [label for label, _, _, _ in module.STAGES if calls[label] == 0 and label != "vocabulary (once per process)"]
    assert missing == []


def test_every_stage_of_the_block_timing_is_called_by_a_block():
    """profile_stages.py --blocks wraps each stage's function where its caller looks it up: a
    renamed or moved function would leave its row at 0 s."""
    module = _profile_stages()
    seconds, wall, calls = module.block_stages([1], scale=0.001)
    assert wall > 0
    assert [label for label, _, _, _ in module.BLOCK_STAGES if calls.get(label, 0) == 0] == []
    assert seconds["- comparisons (the vectorized core)"] <= seconds["candidates: blocking and comparisons, every policy"]


def test_a_py_spy_profile_is_read_stage_by_stage(tmp_path):
    """profile_stages.py --pyspy counts a sample for every stage whose function is on its stack,
    once however often it appears, and ignores what is not a sample line."""
    module = _profile_stages()
    raw = tmp_path / "run.txt"
    raw.write_text(
        'process 7:"python";_match_and_decide (sim/runs/pipeline.py:303);generate_block (sim/world/generate.py:40);x (a.py:1) 50\n'
        'process 7:"python";_match_and_decide (sim/runs/pipeline.py:305);candidates (sim/match/policy.py:141);'
        'comparison_matrix (sim/compare/comparisons.py:535);comparison_matrix (sim/compare/comparisons.py:530) 25\n'
        'process 6:"python";run_and_write_study (sim/studies/study.py:382);candidates (other/policy.py:1) 25\n'
        "not a sample\n")
    seconds, total = module.pyspy_stages(raw, rate=25)
    assert total == 4
    assert seconds == {"a worker's block (both passes)": 3, "generate the block": 2,
                       "candidates: blocking and comparisons, every policy": 1, "- comparisons (the vectorized core)": 1,
                       "the main process, when busy: summaries, writes": 1}
    assert set(seconds) <= {label for label, _, _, _ in module.PYSPY_STAGES}


def test_the_kernel_profile_times_every_kernel_a_block_calls():
    """benchmarks/profile_kernels.py wraps every compiled loop of sim.world.kernels and of the
    random draws (sim.common.pcg64) for one block, times each call alone afterwards, and puts
    every loop back."""
    import importlib.util

    from sim.world import kernels

    spec = importlib.util.spec_from_file_location("profile_kernels", Path(__file__).parents[1] / "benchmarks" / "profile_kernels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from sim.common import pcg64

    before, before_draws = dict(vars(kernels)), dict(vars(pcg64))
    in_run, alone, count, n_people = module.kernel_times("TX", 0, scale=0.001, repeats=1)
    assert n_people > 0
    assert {"sample_cohort_into", "on_file_rows", "join3", "history_round", "pcg64._fill_f32"} <= set(count)
    assert all(alone[name] > 0 and in_run[name] > 0 for name in count)
    assert all(vars(kernels)[name] is f for name, f in before.items())     # the kernels are put back
    assert all(vars(pcg64)[name] is f for name, f in before_draws.items())
    assert "| all kernels |" in module.table(in_run, alone, count, n_people)
