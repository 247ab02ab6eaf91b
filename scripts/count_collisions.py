"""Count the pairs of master-file records that share first name, last name and date of birth.

The world's master file is generated block by block in memory (nothing written), each record's
(first name, last name, date of birth) is hashed to 64 bits, and the hashes of the whole world
are sorted: a key held by c records makes c(c-1)/2 pairs. The same
count within one ZIP area (the key and the ZIP) is what the address path meets; the national one
is what matching on name and date of birth alone would meet. Run through scripts/count-collisions,
which can run it with any commit's code.

A 64-bit hash confuses two different keys with probability about n^2 / 2^65: for 230 million
records, about one spurious pair in a thousand runs. The hashes take 16 bytes a record (both
counts), about 3.7 GB nationally.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa

_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _strings_hash(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A 64-bit hash of each string of a (dictionary) column, hashing each distinct string once."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(array.type):
        array = array.dictionary_encode()
    values = pd.util.hash_array(np.asarray(array.dictionary.to_pylist(), dtype=object)).astype(np.uint64)
    return values[array.indices.to_numpy(zero_copy_only=False)]


def _mix(*parts: np.ndarray) -> np.ndarray:
    """Combine 64-bit parts into one hash (splitmix64's finalizer after each part)."""
    h = np.zeros(len(parts[0]), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for part, k in zip(parts, _MIX * 3):
            h = (h ^ part.astype(np.uint64)) * k
            h ^= h >> np.uint64(31)
    return h


def _block_hashes(args) -> tuple[np.ndarray, np.ndarray]:
    config, plan, block = args
    from sim.world.generate import generate_block

    # the block as the generator makes it (its requests too, a few percent of the time), so the
    # count is of the very master file `matchsim generate` writes
    table = generate_block(config, plan, block).master_file
    dob = table["date_of_birth"].combine_chunks().cast(pa.int32()).to_numpy().astype(np.uint64)
    key = _mix(_strings_hash(table["first_name"]), _strings_hash(table["last_name"]), dob)
    return key, _mix(key, _strings_hash(table["zip5"]))


def _pairs(hashes: np.ndarray) -> tuple[int, int]:
    """(pairs of equal values, values held by two or more) of an array of hashes, which it sorts
    in place. Only the repeats are indexed, so the memory beyond the array is a byte a value."""
    hashes.sort()
    repeat = np.flatnonzero(hashes[1:] == hashes[:-1])     # i where value i + 1 equals value i
    if len(repeat) == 0:
        return 0, 0
    # consecutive repeat positions belong to one run of equal values: a run of k repeats is k + 1 values
    run = np.cumsum(np.r_[True, np.diff(repeat) != 1])
    sizes = np.bincount(run)[1:].astype(np.int64) + 1
    return int((sizes * (sizes - 1) // 2).sum()), int(len(sizes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    from sim.config import load_config
    from sim.world import geography

    config = load_config(args.config, args.overrides)
    started = time.perf_counter()
    plan = geography.plan(config)
    keys, local = [], []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for key, zip_key in pool.map(_block_hashes, [(config, plan, b) for b in plan.blocks]):
            keys.append(key)
            local.append(zip_key)
    records = sum(len(k) for k in keys)
    key = np.concatenate(keys)
    del keys
    national, national_keys = _pairs(key)
    del key
    zip_key = np.concatenate(local)
    del local
    within_zip, zip_keys = _pairs(zip_key)
    print(json.dumps({
        "config": args.config, "set": args.overrides, "seed": config.seed, "scale": config.world.scale,
        "master_file_records": int(records),
        "pairs_same_first_last_dob": national, "keys_held_by_2_or_more": national_keys,
        "pairs_same_first_last_dob_within_zip": within_zip, "keys_held_by_2_or_more_within_zip": zip_keys,
        "seconds": round(time.perf_counter() - started, 1),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
