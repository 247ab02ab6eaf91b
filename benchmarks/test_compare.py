"""Benchmarks of the comparison step of the matcher, against the targets of issue 16: the
vectorized matcher at least 100 times as fast as recordlinkage, and 50 times as fast as Splink 5
on DuckDB, on the same candidate pairs, one core each.

The benchmarks compute the same five comparisons (:data:`COMPARISONS`: first and last name by
Jaro-Winkler, the street line by Levenshtein, ZIP and date of birth exactly) on the same
candidate pairs, one matcher each (:mod:`sim.match.matchers`; Splink through the settings
:mod:`sim.match.splink` writes), on one core. The pairs are what a
matcher blocking on ZIP compares: ICE's requests against the IRS master-file records of the ZIP
parsed from the request's address, from the baseline world generated in memory at
``WORLD_SCALE``, sampled without replacement with a fixed seed down to ``N_PAIRS``. A request's
street line is parsed from its free-text address (:func:`sim.normalize.parse_addresses`); the
master file's is its standardized ``street_address``.

Only ``engine.levels`` is timed: from the two Arrow tables and the pair index arrays to the
level matrix, including each matcher's own preparation of the columns (dictionary encoding;
pandas frames for recordlinkage), not the world, the parsing or the blocking. Each benchmark
also checks that the two matchers give the same levels: recordlinkage's run against the
vectorized levels of all its pairs, the vectorized run against recordlinkage on a sample.

``make bench`` times the FULL sizes; ``make test`` runs each body once at the SMOKE sizes.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pyarrow as pa

from benchmarks.harness import pinned_to_one_core

REPO_ROOT = Path(__file__).resolve().parent.parent
BASELINE = REPO_ROOT / "configs" / "august-2025.toml"

# ---- Sizes, named once. FULL: `make bench`. SMOKE: `make test` (one run each, untimed). ----
# Scale 0.001: 1,187 requests and 217,702 master-file rows in 33 ZIP areas; blocking on the
# ZIP parsed from the request gives ~24 million candidate pairs, of which N_PAIRS are compared.
WORLD_SCALE = 0.001
WORLD_SMOKE_SCALE = 0.0005
N_PAIRS = 1_000_000
N_PAIRS_SMOKE = 20_000
PAIR_SEED = 20250807            # the sample of candidate pairs (the date of the IRS disclosure)
VECTORIZED_ROUNDS = 5
RECORDLINKAGE_ROUNDS = 1        # ~10 s a round at FULL size
SPLINK_ROUNDS = 1               # ~4 s a round at FULL size
CHECK_PAIRS = 20_000            # pairs on which the vectorized benchmark runs recordlinkage too
SPEEDUP_TARGET = 100            # vectorized pairs/s over recordlinkage pairs/s (issue 16)
SPLINK_SPEEDUP_TARGET = 50      # vectorized pairs/s over Splink's (issue 16)


def comparisons():
    from sim.compare.comparisons import exact, jaro_winkler, levenshtein

    return [
        jaro_winkler("first_name", (0.92, 0.8)),
        jaro_winkler("last_name", (0.92, 0.8)),
        levenshtein("street_line", (1, 2)),
        exact("zip5"),
        exact("date_of_birth"),
    ]


#: pairs/s of each matcher measured in this session: the second benchmark reports the speed-up
_RATES: dict[str, float] = {}


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns as plain strings: the tables as a matcher reads them from Parquet."""
    return pa.table([c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns],
                    names=table.column_names)


@functools.lru_cache(maxsize=2)
def candidate_pairs(scale: float, n_pairs: int):
    """(requests side, master-file side, left_idx, right_idx, world facts): the same inputs for
    both matchers, built once per size and session."""
    from sim.config import config_with, load_config
    from sim.match.blocking import block_on
    from sim.normalize import parse_addresses
    from sim.world import geography
    from sim.world.generate import generate_block

    config = config_with(load_config(BASELINE), **{"world.scale": scale})
    plan = geography.plan(config)
    blocks = [generate_block(config, plan, block) for block in plan.blocks]
    requests = pa.concat_tables([_plain(b.requests) for b in blocks])
    master = pa.concat_tables([_plain(b.master_file) for b in blocks])

    parsed = parse_addresses(requests.column("earm_address"))
    columns = ("first_name", "last_name", "date_of_birth")
    left = pa.table({**{c: requests.column(c) for c in columns},
                     "street_line": parsed.column("street_line"), "zip5": parsed.column("zip5")})
    right = pa.table({**{c: master.column(c) for c in columns},
                      "street_line": master.column("street_address"), "zip5": master.column("zip5")})
    li, ri = block_on("zip5").pairs({"zip5": left.column("zip5")}, {"zip5": right.column("zip5")})
    if len(li) < n_pairs:
        raise ValueError(f"blocking on ZIP gives {len(li):,} pairs at scale {scale}, fewer than the {n_pairs:,} to sample")
    pick = np.sort(np.random.default_rng(PAIR_SEED).choice(len(li), n_pairs, replace=False))  # left-major, as blocked
    facts = {"scale": scale, "seed": config.seed, "request_rows": left.num_rows,
             "master_file_rows": right.num_rows, "zip_blocked_pairs": int(len(li))}
    return left, right, li[pick], ri[pick], facts


def _inputs(benchmark):
    return candidate_pairs(*((WORLD_SCALE, N_PAIRS) if benchmark.enabled else (WORLD_SMOKE_SCALE, N_PAIRS_SMOKE)))


def _run(benchmark, engine_name: str, rounds: int):
    """Time ``levels`` of one matcher on one core; the levels and the figures for extra_info."""
    from sim.match.matchers import get_matcher

    left, right, li, ri, facts = _inputs(benchmark)
    engine, comps = get_matcher(engine_name), comparisons()
    one = np.zeros(1, np.int64)
    engine.levels(comps, left.slice(0, 1), right.slice(0, 1), one, one)   # imports, untimed
    with pinned_to_one_core() as cpu:
        levels = benchmark.pedantic(engine.levels, args=(comps, left, right, li, ri), rounds=rounds, iterations=1)
    return levels, _figures(benchmark, engine_name, cpu)


def _figures(benchmark, name: str, cpu: int) -> dict:
    """The figures for extra_info of a timed run of matcher ``name`` (its rate kept for the
    speed-up of the ones timed after it)."""
    _, _, li, _, facts = _inputs(benchmark)
    seconds = benchmark.stats.stats.mean if benchmark.enabled and benchmark.stats else None
    rate = round(len(li) / seconds) if seconds else None
    if rate:
        _RATES[name] = rate
    info = {**facts, "n_pairs": len(li), "n_comparisons": len(comparisons()), "pairs_per_s": rate}
    if benchmark.enabled and benchmark.stats:
        info["pairs_per_s_best"] = round(len(li) / benchmark.stats.stats.min)
    info["pinned_cpu"] = cpu
    return info


def _speedup(info: dict, target: float) -> dict:
    """The vectorized matcher's speed-up over the one ``info`` describes, and its target."""
    vectorized = _RATES.get("vectorized")
    rate = info["pairs_per_s"]
    return {"vectorized_speedup": round(vectorized / rate, 1) if vectorized and rate else None, "target_speedup": target}


def _assert_levels_plausible(levels: np.ndarray, n_pairs: int) -> None:
    comps = comparisons()
    assert levels.shape == (n_pairs, len(comps)) and levels.dtype == np.int8
    for j, c in enumerate(comps):
        column = levels[:, j]
        assert column.min() >= -1 and column.max() <= c.n_levels, c.column
        if c.kind in ("jaro_winkler", "levenshtein"):   # strangers, near misses and equals alike
            assert len(np.unique(column)) >= 3, f"{c.column}: only levels {np.unique(column).tolist()}"
    assert (levels[:, [c.column for c in comps].index("zip5")] == 1).all(), "every pair was blocked on its ZIP"


def test_compare_vectorized(benchmark):
    """The reference engine: dictionary codes, pruning, rapidfuzz on the distinct pairs left."""
    from sim.match.matchers import get_matcher

    levels, info = _run(benchmark, "vectorized", VECTORIZED_ROUNDS)
    left, right, li, ri, _ = _inputs(benchmark)
    _assert_levels_plausible(levels, len(li))
    # the same levels from recordlinkage, on an evenly spread sample of the pairs
    sample = np.linspace(0, len(li) - 1, min(CHECK_PAIRS, len(li))).astype(np.int64)
    expected = get_matcher("recordlinkage").levels(comparisons(), left, right, li[sample], ri[sample])
    np.testing.assert_array_equal(levels[sample], expected)
    benchmark.extra_info.update(info, checked_against_recordlinkage=len(sample))


def test_compare_recordlinkage(benchmark):
    """recordlinkage's Compare (jellyfish, one pair at a time in Python) on the same pairs."""
    from sim.match.matchers import get_matcher

    levels, info = _run(benchmark, "recordlinkage", RECORDLINKAGE_ROUNDS)
    left, right, li, ri, _ = _inputs(benchmark)
    _assert_levels_plausible(levels, len(li))
    np.testing.assert_array_equal(levels, get_matcher("vectorized").levels(comparisons(), left, right, li, ri))
    benchmark.extra_info.update(info, checked_against_vectorized=len(li), **_speedup(info, SPEEDUP_TARGET))


class _SplinkPairs:
    """Splink 5 on DuckDB comparing exactly the pairs (``li``, ``ri``): each comparison's levels
    as the SQL :func:`sim.match.splink.comparison_levels` writes (the same thresholds).

    Splink blocks by SQL equality, so to compare exactly the given pairs (not every pair of a
    ZIP) :meth:`register` (untimed) makes each side the rows of the pairs, numbered by pair, with
    empty strings as nulls (:func:`_sql_nulls`), and the blocking rule is ``l.pair = r.pair``, a
    one-to-one join. :meth:`levels` (timed) is ``linker.inference.predict()`` and its gamma
    columns as a level matrix in pair order; its predictions also carry a match weight (m and u
    are set, uniform, as the weights are not what is measured)."""

    def __init__(self, comps, con):
        import splink

        from sim.match.splink import comparison_levels

        self.comps, self.db = comps, splink.DuckDBAPI(connection=con)
        uniform = lambda c: [1 / (c.n_levels + 1)] * (c.n_levels + 1)  # noqa: E731
        self.settings = {
            "link_type": "link_only", "unique_id_column_name": "unique_id",
            "comparisons": [{"output_column_name": f"c{k}", "comparison_description": c.description,
                             "comparison_levels": comparison_levels(c, m=uniform(c), u=uniform(c))}
                            for k, c in enumerate(comps)],
            "blocking_rules_to_generate_predictions": ["l.pair = r.pair"],
            "probability_two_random_records_match": 0.5,
            "retain_intermediate_calculation_columns": True,
        }
        self.sides, self.rounds = [], 0

    def register(self, left: pa.Table, right: pa.Table, li: np.ndarray, ri: np.ndarray):
        """The two sides in DuckDB; as pytest-benchmark's ``setup``: (args, kwargs) of :meth:`levels`."""
        self.drop()
        self.rounds += 1                                  # Splink takes each table name once
        pair = pa.array(np.arange(len(li), dtype=np.int64))
        self.sides = [self.db.register(_sql_nulls(table.take(pa.array(idx))).append_column("pair", pair).append_column("unique_id", pair),
                                       dataset_display_name=f"{side}_pairs_{self.rounds}")
                      for side, table, idx in (("l", left, li), ("r", right, ri))]
        return (), {}

    def levels(self) -> np.ndarray:
        import splink

        frame = splink.Linker(self.sides, self.settings, log_level=None).inference.predict()
        table = frame.as_pyarrow_table()
        frame.drop_table_from_database_and_remove_from_cache()
        order = np.argsort(table.column("unique_id_l").to_numpy())
        return np.column_stack([table.column(f"gamma_c{k}").to_numpy()[order] for k in range(len(self.comps))]).astype(np.int8)

    def drop(self) -> None:
        for side in self.sides:
            side.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
        self.sides = []


def _sql_nulls(table: pa.Table) -> pa.Table:
    """Empty strings as nulls: to SQL an empty string is a value, and Splink's levels read
    missing as null (:mod:`sim.match.splink`), as :mod:`sim.match.prepare` writes it. The other
    matchers take an empty string as missing themselves."""
    from sim.match.prepare import _empty_to_null

    return pa.table([_empty_to_null(c) if pa.types.is_string(c.type) else c for c in table.columns], names=table.column_names)


def test_compare_splink(benchmark):
    """Splink 5 on DuckDB with one thread: its SQL comparison levels on the same pairs."""
    pytest = __import__("pytest")
    pytest.importorskip("splink", reason="Splink is not installed: pip install -e '.[splink]'")
    duckdb = pytest.importorskip("duckdb")
    from sim.match.matchers import get_matcher

    left, right, li, ri, _ = _inputs(benchmark)
    comps = comparisons()
    con = duckdb.connect()
    con.execute("SET threads = 1")
    try:
        splink_pairs = _SplinkPairs(comps, con)
        one = np.zeros(1, np.int64)
        splink_pairs.register(left, right, one, one)
        splink_pairs.levels()                                   # imports and Splink's set-up, untimed
        with pinned_to_one_core() as cpu:
            levels = benchmark.pedantic(splink_pairs.levels, setup=lambda: splink_pairs.register(left, right, li, ri),
                                        rounds=SPLINK_ROUNDS, iterations=1)
        splink_pairs.drop()
    finally:
        con.close()
    _assert_levels_plausible(levels, len(li))
    np.testing.assert_array_equal(levels, get_matcher("vectorized").levels(comps, left, right, li, ri))
    info = _figures(benchmark, "splink", cpu)
    benchmark.extra_info.update(info, duckdb_threads=1, checked_against_vectorized=len(li),
                                **_speedup(info, SPLINK_SPEEDUP_TARGET))
