"""sim.common.rng: one named, reproducible random stream per stage and block."""

from __future__ import annotations

import numpy as np
import pytest

from sim.common.rng import STAGES, stream

DRAWS = 64  # two streams agreeing on 64 uniform doubles by chance: probability ~2**-3000


def draws(seed: int, stage: str, *key: int) -> np.ndarray:
    return stream(seed, stage, *key).random(DRAWS)


@pytest.mark.parametrize("stage", STAGES)
def test_same_seed_stage_and_key_give_the_same_stream(stage):
    assert np.array_equal(draws(7, stage, 6, 35068), draws(7, stage, 6, 35068))


def test_a_stream_does_not_depend_on_other_streams_drawn_before_it():
    # Blocks are generated in any order (or by other workers): a stream is a pure function of its name.
    alone = draws(7, "population", 6, 90001)
    for stage in STAGES:
        stream(7, stage, 1, 1).random(1000)
    assert np.array_equal(draws(7, "population", 6, 90001), alone)


def test_every_stage_has_its_own_stream():
    seen = {stage: draws(7, stage, 6, 35068).tobytes() for stage in STAGES}
    assert len(set(seen.values())) == len(STAGES)


@pytest.mark.parametrize(
    "other",
    [(8, "population", 6, 35068), (7, "population", 6, 35069), (7, "population", 48, 35068), (7, "population", 6), (7, "population", 6, 35068, 0)],
    ids=["seed", "zip", "state", "shorter-key", "longer-key"],
)
def test_a_different_seed_or_key_gives_a_different_stream(other):
    assert not np.array_equal(draws(7, "population", 6, 35068), draws(*other))


def test_stream_ids_do_not_depend_on_the_position_of_the_stage_in_the_list():
    # Adding a stage must not renumber the others: the id is a hash of the name. A stage's stream
    # therefore equals a SeedSequence keyed by the first 4 bytes of sha256(name).
    import hashlib

    stage_id = int.from_bytes(hashlib.sha256(b"master_file").digest()[:4], "little")
    expected = np.random.Generator(np.random.PCG64(np.random.SeedSequence(7, spawn_key=(stage_id, 6)))).random(DRAWS)
    assert np.array_equal(draws(7, "master_file", 6), expected)


@pytest.mark.parametrize("stage", ["", "Population", "requests", "requests.phone", "geography "])
def test_an_unknown_stage_is_a_value_error_naming_the_known_ones(stage):
    with pytest.raises(ValueError, match="unknown random stream") as info:
        stream(7, stage)
    assert all(known in str(info.value) for known in STAGES)
