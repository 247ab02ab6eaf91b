"""sim.world.tin: valid, unique numbers from a keyed permutation; ICE's wrong numbers."""

from __future__ import annotations

import numpy as np
import pytest

from sim.world import tin

ITIN_GROUPS = {*range(50, 66), *range(70, 89), *range(90, 93), *range(94, 100)}  # FACTS


def split(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    numbers = np.asarray(numbers, dtype=np.int64)
    return numbers // 1_000_000, numbers // 10_000 % 100, numbers % 10_000


def valid_ssn(numbers: np.ndarray) -> np.ndarray:
    area, group, serial = split(numbers)
    return (area >= 1) & (area <= 899) & (area != 666) & (group >= 1) & (serial >= 1)


def digit_matrix(numbers: np.ndarray) -> np.ndarray:
    return (np.asarray(numbers, dtype=np.int64)[:, None] // 10 ** np.arange(8, -1, -1)) % 10


# --- the permutation ----------------------------------------------------------------------


@pytest.mark.parametrize("domain", [1, 2, 3, 37, 1000, 4096, 5000])
@pytest.mark.parametrize("key", [0, 1, 2**62 - 1])
def test_permute_is_a_bijection_of_the_domain(domain, key):
    image = tin.permute(np.arange(domain), domain, key)
    assert image.min() >= 0 and image.max() < domain
    assert np.array_equal(np.sort(image), np.arange(domain))


def test_permute_depends_on_the_key_and_scrambles():
    a = tin.permute(np.arange(1000), 1000, key=1)
    b = tin.permute(np.arange(1000), 1000, key=2)
    assert np.array_equal(a, tin.permute(np.arange(1000), 1000, key=1))
    # Two independent random permutations of 1000 agree in ~1 place (Poisson(1)); a permutation
    # that barely moves its input or ignores its key would agree in hundreds.
    assert (a == b).sum() < 10
    assert (a == np.arange(1000)).sum() < 10


def test_permute_rejects_indices_outside_the_domain():
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 10\)"):
        tin.permute(np.array([3, 10]), 10, key=1)
    with pytest.raises(ValueError):
        tin.permute(np.array([-1]), 10, key=1)


# --- SSNs and ITINs ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def million_ssns() -> np.ndarray:
    return tin.ssn_numbers(np.arange(1_000_000), key=20250627)


def test_ssn_numbers_are_valid_and_unique(million_ssns):
    assert valid_ssn(million_ssns).all()
    assert len(np.unique(million_ssns)) == len(million_ssns)
    assert all(tin.is_valid_ssn(int(x)) for x in million_ssns[:1000])


def test_ssn_numbers_spread_over_the_whole_number_space(million_ssns):
    # Randomized issuance: areas, groups and serials are uniform. With 1e6 numbers over 898 areas
    # (~1,114 each, sd ~33) every area is hit; each decade of serials holds ~10% (sd 0.03 points).
    area, group, serial = split(million_ssns)
    assert len(np.unique(area)) == 898 and 666 not in area
    assert len(np.unique(group)) == 99
    decade = np.bincount(serial // 1000, minlength=10)[:10] / len(serial)
    assert np.allclose(decade, 0.1, atol=0.003)


def test_ssn_numbers_of_the_last_index_of_the_domain_are_valid():
    edge = tin.ssn_numbers(np.array([0, tin.SSN_DOMAIN - 1]), key=5)
    assert valid_ssn(edge).all()


def test_ssn_numbers_of_a_person_do_not_depend_on_who_else_is_numbered():
    ids = np.array([17, 123_456_789, 300_000_000])
    alone = tin.ssn_numbers(ids, key=9)
    together = tin.ssn_numbers(np.concatenate([np.arange(1000), ids]), key=9)[-3:]
    assert np.array_equal(alone, together)


def test_itin_numbers_have_the_published_format_and_are_unique():
    itins = tin.itin_numbers(np.arange(500_000), key=11)
    area, group, serial = split(itins)
    assert ((area >= 900) & (area <= 999)).all()
    assert set(np.unique(group).tolist()) == ITIN_GROUPS
    assert (serial >= 1).all()
    assert len(np.unique(itins)) == len(itins)
    assert all(tin.is_itin(int(x)) and not tin.is_valid_ssn(int(x)) for x in itins[:1000])


def test_is_itin_rejects_the_groups_the_irs_does_not_use():
    assert tin.is_itin(912_701_234)
    for group in (0, 49, 66, 69, 89, 93):
        assert not tin.is_itin(912_000_000 + group * 10_000 + 1234)
    assert not tin.is_itin(812_701_234)


def test_format_tin_pads_to_nine_digits():
    assert tin.format_tin(np.array([1_010_001, 912_701_234])).to_pylist() == ["001010001", "912701234"]


# --- ICE's wrong numbers -----------------------------------------------------------------------


def test_mistype_changes_one_digit_or_swaps_two_adjacent_digits():
    rng = np.random.default_rng(3)
    original = tin.ssn_numbers(np.arange(20_000), key=3)
    typed = tin.mistype(rng, original)
    a, b = digit_matrix(original), digit_matrix(typed)
    differ = a != b
    n_diff = differ.sum(axis=1)
    assert (typed != original).all()
    one = n_diff == 1
    two = n_diff == 2
    assert (one | two).all()
    # a two-digit difference is a swap of two adjacent, different digits
    first = differ[two].argmax(axis=1)
    rows = np.flatnonzero(two)
    assert differ[rows, first + 1].all()
    assert (a[rows, first] == b[rows, first + 1]).all() and (a[rows, first + 1] == b[rows, first]).all()
    # replacements 2/3, swaps 1/3 (less the swaps of equal digits, turned into replacements):
    # with 20,000 draws the swap share is within 0.02 of its expectation (~6 standard errors)
    p_equal_neighbours = (a[:, :-1] == a[:, 1:]).mean()
    assert abs(two.mean() - (1 / 3) * (1 - p_equal_neighbours)) < 0.02


def test_mistype_keeps_leading_zeros_in_nine_digits():
    typed = tin.mistype(np.random.default_rng(1), np.array([1_010_001] * 500))
    assert (typed < 1_000_000_000).all()
    assert ((digit_matrix(typed) != digit_matrix(np.array([1_010_001] * 500))).sum(axis=1) >= 1).all()


def test_never_issued_numbers_are_never_valid_and_cover_every_kind():
    numbers = tin.never_issued(np.random.default_rng(5), 40_000)
    area, group, serial = split(numbers)
    assert (numbers >= 0).all() and (numbers < 1_000_000_000).all()
    assert not valid_ssn(numbers).any()
    assert not any(tin.is_itin(int(x)) for x in numbers[:2000])
    kinds = {"area 000": area == 0, "area 666": area == 666, "group 00": group == 0, "serial 0000": serial == 0}
    # each kind is drawn with probability 1/4: 10,000 +- 87 of 40,000
    for kind, hit in kinds.items():
        assert abs(hit.mean() - 0.25) < 0.01, kind
    assert (np.logical_or.reduce(list(kinds.values()))).all()
