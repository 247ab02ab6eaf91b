"""Composite comparisons (sim.compare.comparisons.Composite and its named constructors): the levels
each constructor promises on hand-made pairs, the same levels from both matchers on world pairs,
the name parts they read (sim.match.prepare.name_parts), and user-defined composites from a
policy's config, including the inputs that are refused."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from pydantic import ValidationError

from sim.config import ComparisonConfig, PathConfig
from sim.compare import comparisons as compare
from sim.compare.encode import EncodedTable
from sim.match.blocking import block_on
from sim.match.matchers import RecordLinkageMatcher, VectorizedMatcher
from sim.match.prepare import given_variants, name_parts, prepare_master_file, prepare_requests
from sim.world.generate import read_dataset


def _all_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return i.ravel(), j.ravel()


def _levels(comparison, columns: dict) -> np.ndarray:
    n = len(next(iter(columns.values())))
    li, ri = _all_pairs(n)
    return comparison.levels(columns, columns, li, ri).reshape(n, n)


def test_address_counts_one_dwelling_once_and_tells_its_levels_apart():
    c = compare.address()
    cols = {
        "street": ["12 FOREST ST", "12 FOREST ST", "12 FOREST ST", "14 FOREST ST", "12 FORSET ST", None, "12 FOREST ST"],
        "street_number": ["12", "12", "12", "14", "12", None, "12"],
        "street_name": ["FOREST", "FOREST", "FOREST", "FOREST", "FORSET", None, "FOREST"],
        "unit": ["4", None, "5", None, None, None, None],
        "zip5": ["89501", "89501", "89501", "89501", "89501", "89501", None],
    }
    got = _levels(c, cols)
    label = dict(zip(range(-1, 6), ["missing", "different", *c.level_names]))
    assert label[got[0, 0]] == "address_unit"          # same unit
    assert label[got[1, 1]] == "address_unit"          # no unit on either side
    assert label[got[0, 1]] == label[got[1, 0]] == "address_no_unit"
    assert label[got[0, 2]] == "street_zip"            # another apartment in the building: a neighbour
    assert label[got[1, 3]] == "street_zip"            # another house on the street
    assert label[got[1, 4]] == "street_typo"           # FOREST / FORSET at the same number
    assert label[got[0, 4]] == "street_typo"           # a unit on one side only is not another unit
    assert label[got[2, 4]] == "street_typo"
    assert label[got[1, 5]] == "zip"                   # a ZIP-only address
    assert label[got[1, 6]] == label[got[6, 6]] == "missing"
    assert c.n_levels == 5 and got.max() == 5


def test_surname_knows_two_surname_forms():
    names = ["GOMEZ CONDE", "CONDE", "GOMEZ-CONDE", "GOMEZ PEREZ", "DE LA TORRE MUNOZ", "TORRE MUNOZ", "GARCIA", None]
    first, second = name_parts(pa.array(names), particles=True)
    got = _levels(compare.surname(), {"last_name": names, "surname_1": first, "surname_2": second})
    names_of = dict(zip(range(-1, 6), ["missing", "different", "jw80", "jw92", "one_surname", "same_surnames", "exact"]))
    assert names_of[got[0, 0]] == "exact"
    assert names_of[got[0, 2]] == names_of[got[4, 5]] == "same_surnames"
    assert names_of[got[0, 1]] == names_of[got[1, 0]] == names_of[got[0, 3]] == "one_surname"
    assert names_of[got[1, 3]] == names_of[got[0, 6]] == "different"
    assert (got[7] == -1).all() and (got[:, 7] == -1).all()


def test_given_name_knows_compound_given_names_and_variants():
    names = ["JOSE LUIS", "JOSE", "MARIA GUADALUPE", "GUADALUPE", "JOSEF", "PEDRO", "GUILLERMO", "WILLIAM", "PETER"]
    first, second = name_parts(pa.array(names), particles=False)
    c = compare.given_name()
    got = _levels(c, {"first_name": names, "given_1": first, "given_2": second, "given_variant": given_variants(first)})
    level = dict(zip(c.level_names, range(1, c.n_levels + 1)))
    assert c.level_names == ("jw80", "variant", "jw92", "other_part", "compound_part", "exact")
    assert got[0, 1] == got[1, 0] == level["compound_part"]
    assert got[2, 3] == got[3, 2] == level["other_part"]
    assert got[1, 4] == level["jw92"] and got[1, 5] == 0 and got[0, 0] == level["exact"]
    # one name in two languages: GUILLERMO and WILLIAM, PEDRO and PETER
    assert got[6, 7] == got[7, 6] == got[5, 8] == level["variant"]
    assert got[6, 5] == 0


def test_date_of_birth_levels_are_the_clerical_errors():
    days = [dt.date(1990, 3, 5), dt.date(1990, 5, 3), dt.date(1991, 3, 5), dt.date(1990, 3, 6),
            dt.date(1990, 12, 30), dt.date(1975, 8, 1), None]
    c = compare.date_of_birth()
    got = _levels(c, {"date_of_birth": pa.array(days, pa.date32())})
    level = dict(zip(c.level_names, range(1, 5)))
    assert got[0, 0] == level["exact"]
    assert got[0, 1] == level["swapped"]
    assert got[0, 2] == got[0, 3] == level["one_part"]
    assert got[0, 4] == level["within"]
    assert got[0, 5] == 0 and (got[6] == -1).all()


def test_name_parts_drop_particles_and_split_hyphens():
    first, second = name_parts(pa.array(["DE LA TORRE MUNOZ", "GOMEZ Y CONDE", "GOMEZ-CONDE", "DEL RIO", "SAINT LOUIS", "LEE", None]),
                               particles=True)
    assert first.to_pylist() == ["TORRE", "GOMEZ", "GOMEZ", "RIO", "SAINT", "LEE", None]
    assert second.to_pylist() == ["MUNOZ", "CONDE", "CONDE", None, "LOUIS", None, None]
    first, second = name_parts(pa.array(["MARIA DE LA LUZ", "JOSE"]), particles=False)
    assert first.to_pylist() == ["MARIA", "JOSE"] and second.to_pylist() == ["LUZ", None]


def test_surname_and_address_are_one_comparison_of_the_family_at_the_dwelling():
    names = ["GOMEZ CONDE", "GOMEZ", "LOPEZ", "GOMEZ CONDE", "GOMEZ CONDE", "LOPEZ", None]
    first, second = name_parts(pa.array(names), particles=True)
    cols = {
        "last_name": names, "surname_1": first, "surname_2": second,
        "street": ["12 FOREST ST", "12 FOREST ST", "12 FOREST ST", "40 FOREST ST", "9 ELM AVE", "40 FOREST ST", None],
        "street_number": ["12", "12", "12", "40", "9", "40", None],
        "street_name": ["FOREST", "FOREST", "FOREST", "FOREST", "ELM", "FOREST", None],
        "unit": [None] * 7,
        "zip5": ["89501", "89501", "89501", "89501", "30301", "89501", None],
    }
    c = compare.surname_address()
    got = _levels(c, cols)
    label = dict(zip(range(-1, c.n_levels + 1), ["missing", "different", *c.level_names]))
    assert label[got[0, 1]] == "home_family"          # a relative at the same address
    assert label[got[0, 2]] == "home_other"           # another family in the same dwelling
    assert label[got[0, 3]] == "street_family"
    assert label[got[0, 4]] == "surname_exact"        # a mover: the same surname elsewhere
    assert label[got[0, 5]] == "street"               # a neighbour of another family
    assert label[got[2, 4]] == "different"            # another surname in another ZIP
    assert label[got[6, 6]] == label[got[0, 6]] == "missing"   # neither a surname nor an address to compare
    # term-frequency adjustment applies to "the same surname elsewhere", not to the family at home
    assert c.tf_gamma == c.level_names.index("surname_exact") + 1 and c.tf_column == "last_name"
    assert set(c.input_columns()) == {"last_name", "surname_1", "surname_2", "street", "zip5", "unit", "street_number", "street_name"}


COMPOSITES = [compare.address(), compare.surname(), compare.given_name(), compare.date_of_birth(),
              compare.surname_address(), compare.levenshtein("tin", (1, 2))]


@pytest.fixture(scope="module")
def world_pairs(world_dir):
    """Requests and master file of the test world, prepared as the pipeline prepares them, with
    the candidate pairs of the probabilistic policy's blocking rules."""
    left = prepare_requests(read_dataset(world_dir, "requests").slice(0, 3000))
    right = prepare_master_file(read_dataset(world_dir, "master_file"))
    rules = [block_on("tin"), block_on("name_control", "zip5"), block_on("first_name", "date_of_birth")]
    li, ri = VectorizedMatcher().pairs(rules, left, right)
    return left, right, li, ri


def test_both_matchers_give_the_same_composite_levels_on_world_pairs(world_pairs):
    left, right, li, ri = world_pairs
    want = VectorizedMatcher().levels(COMPOSITES, left, right, li, ri)
    got = RecordLinkageMatcher().levels(COMPOSITES, left, right, li, ri)
    assert want.shape == (len(li), len(COMPOSITES)) and len(li) > 5_000
    for j, c in enumerate(COMPOSITES):
        differ = np.flatnonzero(got[:, j] != want[:, j])
        assert len(differ) == 0, f"{c.description}: {len(differ)} pairs differ, e.g. {differ[:3].tolist()}"
    # world pairs reach most levels of every composite (the rarest may not occur in 3,000 requests)
    for j, c in enumerate(COMPOSITES[:5]):
        seen = set(np.unique(want[:, j]).tolist())
        assert {-1, 0, c.n_levels} <= seen | {-1} and len(seen) >= c.n_levels, (c.name, sorted(seen))


def test_a_master_file_encoded_once_gives_the_same_levels_to_every_call(world_pairs):
    """A block's master file (EncodedTable) serves every policy's calls with the levels of the
    plain table: pairs that touch few of its rows compare those rows alone and encode nothing;
    random pairs over most rows (u's sample) encode the columns they read, and every later call
    reads the kept codes, day numbers and date parts."""
    left, right, li, ri = world_pairs
    encoded = EncodedTable(right)
    few = VectorizedMatcher().levels(COMPOSITES, left, encoded, li, ri)
    np.testing.assert_array_equal(few, VectorizedMatcher().levels(COMPOSITES, left, right, li, ri))
    assert not any(encoded.is_encoded(c) for c in right.column_names), "few rows touched: nothing encoded"
    rng = np.random.default_rng(11)
    rl, rr = rng.integers(0, left.num_rows, 3 * right.num_rows), rng.integers(0, right.num_rows, 3 * right.num_rows)
    many = VectorizedMatcher().levels(COMPOSITES, left, encoded, rl, rr)
    np.testing.assert_array_equal(many, VectorizedMatcher().levels(COMPOSITES, left, right, rl, rr))
    assert encoded.is_encoded("date_of_birth") and encoded["date_of_birth"].derived("days", lambda _: None) is not None
    again = VectorizedMatcher().levels(COMPOSITES, left, encoded, li, ri)
    np.testing.assert_array_equal(again, few)


def test_a_composite_scores_each_feature_once_whatever_shares_it(world_pairs):
    """The same feature in two composites (and alone) gives the same gammas as when built alone."""
    left, right, li, ri = world_pairs
    together = VectorizedMatcher().levels([compare.surname(), compare.jaro_winkler("last_name", (0.92, 0.8)), compare.address()],
                                         left, right, li, ri)
    alone = VectorizedMatcher().levels([compare.jaro_winkler("last_name", (0.92, 0.8))], left, right, li, ri)
    np.testing.assert_array_equal(together[:, 1], alone[:, 0])


# ---------------------------------------------------------------------------------------------
# composites in a policy's config


def _path(comparisons: list[dict], **extra) -> dict:
    return {"name": "p", "requests": "all", "address_gate": "none", "blocking": [["zip5"]],
            "comparisons": comparisons, "decide": "rules", "on_multiple": "best", **extra}


def test_a_user_defined_composite_is_built_from_its_levels():
    cfg = ComparisonConfig(kind="composite", name="home", levels=[
        {"label": "same_street_zip", "when": {"street": "exact", "zip5": "exact"}},
        {"label": "near_street", "when": {"street": 0.9, "zip5": "exact"}},
        {"label": "same_zip", "when": {"zip5": "exact"}},
    ])
    c = compare.build(cfg)
    assert c.level_names == ("same_zip", "near_street", "same_street_zip") and cfg.n_levels == 4
    cols = {"street": ["12 OAK ST", "12 OAK ST", "12 OAK SR", "99 ELM AVE"], "zip5": ["1", "1", "1", "1"]}
    assert _levels(c, cols)[0].tolist() == [3, 3, 2, 1]
    path = PathConfig(**_path([cfg.model_dump()], rules=[{"home": "near_street"}]))
    assert path.comparisons[0].key == "home"


@pytest.mark.parametrize("comparison, rules, message", [
    ({"kind": "composite", "name": "home", "levels": [{"label": "a", "when": {"zip6": "exact"}}]}, [],
     "zip6"),
    ({"kind": "composite", "name": "home", "levels": [{"label": "zip", "when": {"zip5": "exact"}},
                                                       {"label": "street_zip", "when": {"zip5": "exact", "street": "exact"}}]}, [],
     "levels are out of order: every pair at level 'street_zip' already meets the earlier level 'zip'"),
    ({"kind": "composite", "name": "home", "levels": [{"label": "a", "when": {"zip5": 1.5}}]}, [],
     "a number is a Jaro-Winkler similarity floor in (0, 1)"),
    ({"kind": "address", "column": "zip5"}, [], "is a composite over fixed columns"),
    ({"kind": "address"}, [{"address": "same_house"}],
     "rules[0].address = 'same_house' is not a level of that comparison; allowed: 'zip', 'street_zip', 'street_typo', 'address_no_unit', 'address_unit'"),
])
def test_bad_composites_are_refused_with_what_is_allowed(comparison, rules, message):
    with pytest.raises(ValidationError) as info:
        PathConfig(**_path([comparison], rules=rules or [{"zip5": "exact"}]))
    assert message in str(info.value)


def _level_of_one_pair(c: compare.Composite, gammas: list[int]) -> int:
    """A composite's gamma for one pair, straight from its definition: the missing level first,
    then the closest level with an alternative whose terms all hold, else 0."""
    holds = lambda level: any(all(low <= gammas[k] <= high for k, low, high in alt) for alt in level.any_of)  # noqa: E731
    if c.missing is not None and holds(c.missing):
        return compare.MISSING
    return next((c.n_levels - i for i, level in enumerate(c.comparison_levels) if holds(level)), 0)


def _user_household() -> compare.Composite:
    return compare.build(ComparisonConfig(kind="composite", name="home", levels=[
        {"label": "same", "when": [{"surname_1": "exact", "zip5": "exact"}, {"street": 0.9, "unit": "missing"}]},
        {"label": "near", "when": {"surname_1": 0.8}},
    ]))


@pytest.mark.parametrize("make", [*compare.COMPOSITES.values(), _user_household], ids=[*compare.COMPOSITES, "user"])
def test_combining_gives_each_pair_the_level_its_definition_gives(make):
    """Composite.combine (vectorized, each shared term computed once for all levels) against the
    definition applied pair by pair, on every kind of combination of the features' gammas."""
    c = make()
    rng = np.random.default_rng(3)
    gammas = np.stack([rng.integers(-1, f.n_levels + 1, 5_000) for f in c.features], axis=1).astype(np.int8)
    got = c.combine(gammas)
    want = [_level_of_one_pair(c, row) for row in gammas.tolist()]
    assert got.tolist() == want
    assert set(want) >= set(range(0, c.n_levels + 1)) | ({compare.MISSING} if c.missing is not None else set()), \
        "every level is reached"
