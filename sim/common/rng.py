"""Seeds -> named, independent random streams.

Only entry points take a seed; everything else receives a ``numpy.random.Generator``. Each stage
of the world draws from its own child stream, keyed by the stage's name and the block of ZIP
areas it works on, so that

* changing request-error settings leaves the population and the master file as they were, and
* a block's draws do not depend on which other blocks are generated, in what order, or by
  which worker.

>>> a = stream(7, "population", 6, 0).integers(0, 100, 3)
>>> b = stream(7, "population", 6, 0).integers(0, 100, 3)
>>> bool((a == b).all())
True
"""

from __future__ import annotations

import hashlib

import numpy as np

# The stage names are part of the output's identity: renaming one changes every world.
STAGES = (
    "geography",            # which ZIP areas a scaled world samples
    "population",           # households, people, dwellings, moves
    "master_file",          # who is on file, filing years, ZIP+4, IRS name forms
    "requests.names",       # how ICE spells names
    "requests.ssn",         # which number ICE holds
    "requests.address",     # address class and rendering of EARM_ADDRESS
    "requests.misc",        # identifiers and order dates
    "requests.after",       # moves between ICE's file and the disclosure
    "tin",                  # keys of the TIN permutation
    "match.u_sample",       # random record pairs that estimate Fellegi-Sunter u probabilities
)


def _stage_id(stage: str) -> int:
    if stage not in STAGES:
        raise ValueError(f"unknown random stream {stage!r}; known streams: {', '.join(STAGES)}")
    # A hash, not the position in STAGES, so adding a stage never renumbers the others.
    return int.from_bytes(hashlib.sha256(stage.encode()).digest()[:4], "little")


def stream(seed: int, stage: str, *key: int) -> np.random.Generator:
    """The random stream of ``stage`` for the part of the world identified by ``key``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(_stage_id(stage), *key))))
