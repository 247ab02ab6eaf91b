"""scripts/count-collisions: the pairs of master-file records sharing first name, last name and
date of birth, counted by hashing, against a plain pandas count of the same world's file."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from sim.world.generate import read_dataset

SCALE = "0.004"


@pytest.fixture(scope="module")
def counted(repo_root, baseline_config_path) -> dict:
    out = subprocess.run([str(repo_root / "scripts" / "count-collisions"), str(baseline_config_path), "--set",
                          f"world.scale={SCALE}", "--jobs", "1"], capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout)


def test_the_count_is_the_pairs_a_plain_group_by_finds_on_the_generated_file(counted, world_dir, world_config):
    assert float(SCALE) == world_config.world.scale     # the session world is the same world
    mf = read_dataset(world_dir, "master_file").select(["first_name", "last_name", "date_of_birth", "zip5"]).to_pandas()
    mf = mf.astype({"first_name": str, "last_name": str, "zip5": str})

    def pairs(columns) -> tuple[int, int]:
        sizes = mf.groupby(columns, observed=True).size()
        return int((sizes * (sizes - 1) // 2).sum()), int((sizes > 1).sum())

    assert counted["master_file_records"] == len(mf)
    national = pairs(["first_name", "last_name", "date_of_birth"])
    assert (counted["pairs_same_first_last_dob"], counted["keys_held_by_2_or_more"]) == national
    assert national[0] > 10
    local = pairs(["first_name", "last_name", "date_of_birth", "zip5"])
    assert (counted["pairs_same_first_last_dob_within_zip"], counted["keys_held_by_2_or_more_within_zip"]) == local


def test_a_bad_revision_is_refused_with_the_fix(repo_root, baseline_config_path):
    out = subprocess.run([str(repo_root / "scripts" / "count-collisions"), str(baseline_config_path)],
                         capture_output=True, text=True, timeout=60, env={"REV": "no-such-commit", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2 and "REV='no-such-commit' is not a commit" in out.stderr


def test_pairs_counts_each_group_once_and_equal_keys_hash_equal():
    spec = importlib.util.spec_from_file_location("count_collisions", Path(__file__).parents[1] / "scripts" / "count_collisions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module._pairs(np.array([5, 1, 5, 5, 2, 2, 9], dtype=np.uint64)) == (3 + 1, 2)
    h = module._mix(module._strings_hash(pa.array(["ANA", "ANA", "BO"])), np.array([1, 1, 1], np.uint64))
    assert h[0] == h[1] != h[2]
