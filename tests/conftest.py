"""Shared fixtures, and the ``--runslow`` switch for full-size cases marked ``slow``."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow (full-size cases)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: full-size case; run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """Absolute path of the repository checkout."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def baseline_config_path(repo_root: Path) -> Path:
    """Absolute path of the documented baseline, configs/august-2025.toml."""
    return repo_root / "configs" / "august-2025.toml"


# --------------------------------------------------------------------------------------------
# The synthetic world, generated once per session and shared by the tests of sim/world.
#
# Scale 0.004 is ~130 ZIP areas in ~40 states: ~5,000 requests, ~1.2M residents and ~1M
# master-file rows, generated in a few seconds. It is large enough for the tolerances the tests
# use (4 binomial standard errors on shares of 5,000 requests are about +-0.03) and small enough
# to build once and keep in memory.

WORLD_SCALE = 0.004


@pytest.fixture(scope="session")
def world_config(baseline_config_path: Path):
    """The baseline config at ``WORLD_SCALE``."""
    from sim.config import load_config

    return load_config(baseline_config_path, [f"world.scale={WORLD_SCALE}"])


@pytest.fixture(scope="session")
def world_plan(world_config):
    """The national apportionment and the sampled areas of ``world_config``."""
    from sim.world.geography import plan

    return plan(world_config)


@pytest.fixture(scope="session")
def world_dir(world_config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``world_config`` generated to disk once: ``master_file/``, ``requests/``, ``manifest.json``."""
    from sim.world.generate import generate

    out = tmp_path_factory.mktemp("world") / "august-2025"
    generate(world_config, out)
    return out


@pytest.fixture(scope="session")
def master_file(world_dir: Path):
    """The generated master file as one Arrow table."""
    from sim.world.generate import read_dataset

    return read_dataset(world_dir, "master_file")


@pytest.fixture(scope="session")
def requests_table(world_dir: Path):
    """The generated request file as one Arrow table."""
    from sim.world.generate import read_dataset

    return read_dataset(world_dir, "requests")


@pytest.fixture(scope="session")
def master_df(master_file):
    """The master file as pandas (dictionary columns become categoricals)."""
    return master_file.to_pandas()


@pytest.fixture(scope="session")
def requests_df(requests_table):
    """The request file as pandas."""
    return requests_table.to_pandas()


class WorldTruth:
    """The population behind ``world_dir``: who each person is and where they really live.

    Rebuilt with the population stage and the same named random streams the generator uses, so
    the files can be checked against the truth they were derived from (the files only carry a
    few ``truth_*`` columns). ``people`` has one row per resident, indexed by ``person_id``.
    """

    def __init__(self, config, plan):
        import numpy as np
        import pandas as pd

        from sim.rng import stream
        from sim.world import population
        from sim.world.vocab import vocabulary

        self.config, self.plan, self.vocab = config, plan, vocabulary()
        self.pops = [population.build(config, plan, b, self.vocab, stream(config.seed, "population", *b.key)) for b in plan.blocks]
        frames = []
        for i, pop in enumerate(self.pops):
            hh = pop.household
            head = (np.cumsum(pop.hh_size) - pop.hh_size)[hh]
            frames.append(pd.DataFrame({
                "person_id": pop.person_id.astype(np.int64),
                "block": np.full(pop.n_people, i, np.int32),
                "pos": np.arange(pop.n_people),
                "hh": hh.astype(np.int64),
                "household_id": pop.person_id[head].astype(np.int64),
                "role": pop.role.astype(np.int8),
                "female": pop.female.astype(bool),
                "age": pop.age,
                "pool": pd.Categorical.from_codes(pop.hh_pool[hh], categories=list(pop.pool_names)),
                "origin": pop.hh_origin[hh].astype(np.int16),
                "hh_size": pop.hh_size[hh].astype(np.int16),
                "sur1": pop.sur1, "sur2": pop.sur2, "given1": pop.given1, "given2": pop.given2,
                "requested": pop.requested.astype(bool),
            }))
        self.people = pd.concat(frames, ignore_index=True).set_index("person_id", verify_integrity=False)

    def locate(self, person_ids):
        """(block, position in the block's population) of each person id."""
        rows = self.people.loc[person_ids]
        return rows["block"].to_numpy(), rows["pos"].to_numpy()

    def addresses(self, person_ids, which: str = "current"):
        """Address components of each person's ``current`` or ``previous`` dwelling, as plain
        strings in USPS standard forms: number, predir (None), street_name, suffix, unit (None),
        zip5, city, state."""
        import numpy as np
        import pandas as pd

        person_ids = np.asarray(person_ids, dtype=np.int64)
        block, pos = self.locate(person_ids)
        out = pd.DataFrame(index=np.arange(len(person_ids)), columns=["number", "predir", "street_name", "suffix", "unit", "zip5", "city", "state"], dtype=object)
        v = self.vocab
        for i in np.unique(block):
            rows = np.flatnonzero(block == i)
            pop = self.pops[i]
            hh = pop.household[pos[rows]]
            dwelling = (pop.hh_dwelling if which == "current" else pop.hh_previous)[hh]
            building = pop.dw_building[dwelling]
            street = pop.bl_street[building]
            unit = pop.dw_unit[dwelling]
            predir = pop.st_predir[street]
            zips = self.plan.zips.iloc[self.plan.blocks[i].rows]
            zip_row = pop.st_zip[street]
            out.iloc[rows] = np.column_stack([
                pop.bl_number[building].astype(str).astype(object),
                np.where(predir >= 0, v.directionals[np.maximum(predir, 0)], None),
                v.street_stems[pop.st_stem[street]],
                v.suffix_abbr[pop.st_suffix[street]],
                np.where(unit > 0, unit.astype(str).astype(object), None),
                zips["zip"].to_numpy()[zip_row], zips["city"].to_numpy()[zip_row], zips["state"].to_numpy()[zip_row],
            ])
        return out


@pytest.fixture(scope="session")
def world_truth(world_config, world_plan) -> WorldTruth:
    """The population of every block of ``world_config`` (see :class:`WorldTruth`)."""
    return WorldTruth(world_config, world_plan)
