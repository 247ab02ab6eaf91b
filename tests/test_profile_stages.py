"""benchmarks/profile_stages.py: every stage it names is a function a run calls, so a renamed
function cannot leave its row silently at 0 s."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def test_every_stage_of_the_profile_is_called_by_a_run():
    spec = importlib.util.spec_from_file_location("profile_stages", Path(__file__).parents[1] / "benchmarks" / "profile_stages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _, wall, calls = module.profile_stages(0.001, "probabilistic")
    assert wall > 0
    # every stage ran; the vocabulary may already be built by an earlier test of this process
    missing = [label for label, _, _, _ in module.STAGES if calls[label] == 0 and label != "vocabulary (once per process)"]
    assert missing == []


def test_every_stage_of_the_block_timing_is_called_by_a_block():
    """profile_stages.py --blocks wraps each stage's function where its caller looks it up: a
    renamed or moved function would leave its row at 0 s."""
    spec = importlib.util.spec_from_file_location("profile_stages", Path(__file__).parents[1] / "benchmarks" / "profile_stages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seconds, wall, calls = module.block_stages([1], scale=0.001)
    assert wall > 0
    assert [label for label, _, _, _ in module.BLOCK_STAGES if calls.get(label, 0) == 0] == []
    assert seconds["- comparisons (the vectorized core)"] <= seconds["candidates: blocking and comparisons, every policy"]
