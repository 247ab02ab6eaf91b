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
    """The master file as pandas (dates as datetime64, not Python objects)."""
    return master_file.to_pandas(date_as_object=False)


@pytest.fixture(scope="session")
def requests_df(requests_table):
    """The request file as pandas (dates as datetime64, not Python objects)."""
    return requests_table.to_pandas(date_as_object=False)


class WorldTruth:
    """The population behind ``world_dir``: who each person is and where they really live.

    Rebuilt with the population stage and the same named random streams the generator uses, so
    the files can be checked against the truth they were derived from (the files only carry a
    few ``truth_*`` columns). ``people`` has one row per resident, indexed by ``person_id``.
    """

    def __init__(self, config, plan):
        import numpy as np
        import pandas as pd

        from sim.common.rng import stream
        from sim.world import population
        from sim.world.vocab import vocabulary

        self.config, self.plan, self.vocab = config, plan, vocabulary()
        self.pops = [population.build(config, plan, b, self.vocab, stream(config.seed, "population", *b.key)) for b in plan.blocks]
        columns: dict[str, list] = {}

        def add(name, values):
            columns.setdefault(name, []).append(values)

        for i, pop in enumerate(self.pops):
            hh = pop.household
            add("block", np.full(pop.n_people, i, np.int32))
            add("pos", np.arange(pop.n_people))
            add("hh", hh.astype(np.int64))
            add("household_id", pop.person_id[(np.cumsum(pop.hh_size) - pop.hh_size)[hh]].astype(np.int64))
            add("role", pop.role.astype(np.int8))
            add("female", pop.female.astype(bool))
            add("age", pop.age)
            add("dob", pop.dob.astype(np.int64))
            add("pool", pop.hh_pool[hh].astype(np.int8))
            add("origin", pop.hh_origin[hh].astype(np.int16))
            add("hh_size", pop.hh_size[hh].astype(np.int16))
            for name in ("sur1", "sur2", "given1", "given2"):
                add(name, getattr(pop, name))
            add("requested", pop.requested.astype(bool))
        data = {name: np.concatenate(parts) for name, parts in columns.items()}
        data["pool"] = pd.Categorical.from_codes(data["pool"], categories=list(self.pops[0].pool_names))
        index = pd.Index(np.concatenate([pop.person_id for pop in self.pops]).astype(np.int64), name="person_id")
        self.people = pd.DataFrame(data, index=index)

    def rows(self, person_ids):
        """Position in ``people`` of each person id (KeyError if one is not a resident)."""
        import numpy as np

        if not hasattr(self, "_sorted"):
            ids = self.people.index.to_numpy()
            order = np.argsort(ids, kind="stable")
            self._sorted = (ids[order], order)
        ids, order = self._sorted
        person_ids = np.asarray(person_ids, dtype=np.int64)
        at = np.searchsorted(ids, person_ids).clip(max=len(ids) - 1)
        missing = ids[at] != person_ids
        if missing.any():
            raise KeyError(f"{int(missing.sum())} person ids are not residents, e.g. {person_ids[missing][:3].tolist()}")
        return order[at]

    def locate(self, person_ids):
        """(block, position in the block's population) of each person id."""
        rows = self.rows(person_ids)
        return self.people["block"].to_numpy()[rows], self.people["pos"].to_numpy()[rows]

    @staticmethod
    def dwellings(pop, positions, which, days=None):
        """The dwelling of the people at ``positions`` of ``pop``: ``current``, ``previous`` (before
        the last move) or ``on`` each of ``days`` (days since 1970, from the residence history)."""
        household = pop.household[positions]
        if which == "current":
            return pop.hh_dwelling[household]
        if which == "previous":
            return pop.hh_previous[household]
        return pop.history.dwelling_at(household, days)

    def address_codes(self, person_ids, which: str = "current", days=None) -> dict:
        """Integer codes of each person's ``current`` or ``previous`` dwelling address (or the one
        ``on`` each of ``days``): zip5,
        number, predir (-1 none), street_name (index of the distinct stem), suffix, unit (0 none).
        Compare with :meth:`address_codes_of_table` of a file's structured address columns."""
        import numpy as np

        person_ids = np.asarray(person_ids, dtype=np.int64)
        block, pos = self.locate(person_ids)
        n = len(person_ids)
        out = {c: np.zeros(n, np.int64) for c in ADDRESS_CODES}
        stem_id = self._stems()[0]
        for i in np.unique(block):
            rows = np.flatnonzero(block == i)
            pop = self.pops[i]
            dwelling = self.dwellings(pop, pos[rows], which, None if days is None else np.asarray(days)[rows])
            building = pop.dw_building[dwelling]
            street = pop.bl_street[building]
            zips = self.plan.zips.iloc[self.plan.blocks[i].rows]
            out["zip5"][rows] = zips["zip_int"].to_numpy()[pop.st_zip[street]]
            out["number"][rows] = pop.bl_number[building]
            out["predir"][rows] = pop.st_predir[street]
            out["street_name"][rows] = stem_id[pop.st_stem[street]]
            out["suffix"][rows] = pop.st_suffix[street]
            out["unit"][rows] = pop.dw_unit[dwelling]
        return out

    def address_codes_of_table(self, table) -> dict:
        """:meth:`address_codes` of an Arrow table's ``street_number, street_predir, street_name,
        street_suffix, unit, zip5`` columns (the master file's structured address)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        def plain(c):
            return c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c

        def index_in(column, words):
            found = pc.index_in(plain(column), value_set=pa.array(words, pa.string()))
            return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)

        v = self.vocab
        unit = pc.fill_null(pc.cast(plain(table["unit"]), pa.int64()), 0)
        return {
            "zip5": np.asarray(pc.cast(plain(table["zip5"]), pa.int64()), dtype=np.int64),
            "number": np.asarray(pc.cast(plain(table["street_number"]), pa.int64()), dtype=np.int64),
            "predir": index_in(table["street_predir"], v.directionals),
            "street_name": index_in(table["street_name"], self._stems()[1]),
            "suffix": index_in(table["street_suffix"], v.suffix_abbr),
            "unit": np.asarray(unit, dtype=np.int64),
        }

    def _stems(self):
        """(distinct-stem id of each vocabulary stem, the distinct stems): the vocabulary lists
        a few stems twice (WASHINGTON is a common stem and a surname)."""
        import pandas as pd

        if not hasattr(self, "_stem_ids"):
            self._stem_ids = pd.factorize(pd.Series(self.vocab.street_stems, dtype=object))
        codes, uniques = self._stem_ids
        return codes, list(uniques)

    def address_columns(self, person_ids, which: str = "current", days=None) -> dict:
        """Address parts of each person's ``current`` or ``previous`` dwelling as Arrow string
        arrays in USPS standard forms: number, predir (null), street_name, suffix, unit (null),
        zip5, city, state."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        person_ids = np.asarray(person_ids, dtype=np.int64)
        block, pos = self.locate(person_ids)
        v = self.vocab
        words = {
            "predir": pa.array(v.directionals, pa.string()),
            "street_name": pa.array(v.street_stems, pa.string()),
            "suffix": pa.array(v.suffix_abbr, pa.string()),
        }
        chunks: dict[str, list] = {c: [] for c in ADDRESS_PARTS}
        order = []
        for i in np.unique(block):
            rows = np.flatnonzero(block == i)
            order.append(rows)
            pop = self.pops[i]
            dwelling = self.dwellings(pop, pos[rows], which, None if days is None else np.asarray(days)[rows])
            building = pop.dw_building[dwelling]
            street = pop.bl_street[building]
            unit = pop.dw_unit[dwelling].astype(np.int64)
            predir = pop.st_predir[street].astype(np.int64)
            zips = self.plan.zips.iloc[self.plan.blocks[i].rows]
            zip_row = pa.array(pop.st_zip[street].astype(np.int64))
            chunks["number"].append(pc.cast(pa.array(pop.bl_number[building].astype(np.int64)), pa.string()))
            chunks["predir"].append(words["predir"].take(pa.array(np.maximum(predir, 0), mask=predir < 0)))
            chunks["street_name"].append(words["street_name"].take(pa.array(pop.st_stem[street].astype(np.int64))))
            chunks["suffix"].append(words["suffix"].take(pa.array(pop.st_suffix[street].astype(np.int64))))
            chunks["unit"].append(pc.cast(pa.array(unit, mask=unit <= 0), pa.string()))
            for part, column in (("zip5", "zip"), ("city", "city"), ("state", "state")):
                chunks[part].append(pa.array(zips[column].to_numpy(), pa.string()).take(zip_row))
        if not order:
            return {c: pa.array([], pa.string()) for c in ADDRESS_PARTS}
        rows = np.concatenate(order)
        inverse = np.empty_like(rows)
        inverse[rows] = np.arange(len(rows))
        inverse = pa.array(inverse)
        return {c: pa.concat_arrays(chunks[c]).take(inverse) for c in ADDRESS_PARTS}

    def addresses(self, person_ids, which: str = "current", days=None):
        """:meth:`address_columns` as a pandas DataFrame (missing parts are None)."""
        import pyarrow as pa

        return pa.table(self.address_columns(person_ids, which, days)).to_pandas()


ADDRESS_PARTS = ("number", "predir", "street_name", "suffix", "unit", "zip5", "city", "state")
ADDRESS_CODES = ("zip5", "number", "predir", "street_name", "suffix", "unit")


@pytest.fixture(scope="session")
def world_truth(world_config, world_plan) -> WorldTruth:
    """The population of every block of ``world_config`` (see :class:`WorldTruth`)."""
    return WorldTruth(world_config, world_plan)

