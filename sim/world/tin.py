"""Taxpayer identification numbers: real formats, unique nationally, independent of the scale.

A person's number is a keyed permutation (a Feistel network with cycle walking) of their national
person id onto the space of valid numbers, so two people never share a number, no table of
issued numbers is kept, and a ZIP area's people have the same numbers at every scale.

* SSN: area 001-899 except 666, group 01-99, serial 0001-9999 (randomized issuance since 2011).
* ITIN: 9XX-GG-XXXX with GG in 50-65, 70-88, 90-92, 94-99 (FACTS).
* Never-issued numbers for ICE's file: area 000 or 666, group 00 or serial 0000 (SSA never issues).

>>> ssn_numbers(np.array([0, 1, 2]), key=7).tolist() == ssn_numbers(np.array([0, 1, 2]), key=7).tolist()
True
>>> all(is_valid_ssn(x) for x in ssn_numbers(np.arange(1000), key=1))
True
>>> ssn_person_ids(ssn_numbers(np.array([5, 123_456_789]), key=3), key=3).tolist()
[5, 123456789]
"""

from __future__ import annotations

import numpy as np

from sim.world import kernels

SSN_AREAS = np.array([a for a in range(1, 900) if a != 666], dtype=np.int64)
ITIN_GROUPS = np.array([*range(50, 66), *range(70, 89), *range(90, 93), *range(94, 100)], dtype=np.int64)
SSN_DOMAIN = len(SSN_AREAS) * 99 * 9999
ITIN_DOMAIN = 100 * len(ITIN_GROUPS) * 9999


def _round_keys(key: int, n: int = 4) -> list[np.uint32]:
    return [np.uint32(k) for k in np.random.SeedSequence(key).generate_state(n, dtype=np.uint32)]


def _feistel(x: np.ndarray, half_bits: int, keys: list[np.uint32]) -> np.ndarray:
    """One pass of a balanced Feistel network on ``2 * half_bits``-bit integers (uint32)."""
    mask = np.uint32((1 << half_bits) - 1)
    shift = np.uint32(half_bits)
    left = (x >> shift) & mask
    right = x & mask
    for k in keys:
        h = (right ^ k) * np.uint32(0x9E3779B1)       # multiplicative hashing, wraps mod 2**32
        h ^= h >> np.uint32(15)
        h *= np.uint32(0x85EBCA77)
        h ^= h >> np.uint32(13)
        left, right = right, left ^ (h & mask)
    return (left << shift) | right


def _feistel_inverse(x: np.ndarray, half_bits: int, keys: list[np.uint32]) -> np.ndarray:
    mask = np.uint32((1 << half_bits) - 1)
    shift = np.uint32(half_bits)
    left = (x >> shift) & mask
    right = x & mask
    for k in reversed(keys):
        h = (left ^ k) * np.uint32(0x9E3779B1)
        h ^= h >> np.uint32(15)
        h *= np.uint32(0x85EBCA77)
        h ^= h >> np.uint32(13)
        left, right = right ^ (h & mask), left
    return (left << shift) | right


def _walk_setup(x: np.ndarray, domain: int, key: int) -> tuple[np.ndarray, int, list[np.uint32]]:
    """(``x`` as int64, the Feistel network's half width, its round keys) for a walk over
    ``[0, domain)``; indices outside it are refused."""
    x = np.asarray(x, dtype=np.int64)
    if x.size and (x.min() < 0 or x.max() >= domain):
        raise ValueError(f"indices must lie in [0, {domain}), got [{x.min()}, {x.max()}]")
    return x, (int(domain - 1).bit_length() + 1) // 2, _round_keys(key)


def _walk(x: np.ndarray, domain: int, key: int, step) -> np.ndarray:
    """Apply ``step`` (a Feistel pass or its inverse) until every value lies in the domain, in
    numpy: the reference :func:`_walk_compiled` is tested against."""
    x, half, keys = _walk_setup(x, domain, key)
    y = step(x.astype(np.uint32), half, keys)
    out = np.flatnonzero(y >= np.uint32(domain))
    while len(out):
        y[out] = step(y[out], half, keys)
        out = out[y[out] >= np.uint32(domain)]
    return y.astype(np.int64)


def _walk_compiled(x: np.ndarray, domain: int, key: int, *, inverse: bool) -> np.ndarray:
    """:func:`_walk` with :func:`_feistel` (or, ``inverse``, :func:`_feistel_inverse`), in one
    compiled loop (:func:`sim.world.kernels.feistel_walk`)."""
    x, half, keys = _walk_setup(x, domain, key)
    return kernels.feistel_walk(x, half, np.array(keys, np.uint32), domain, inverse)


def permute(index: np.ndarray, domain: int, key: int) -> np.ndarray:
    """A keyed bijection of ``[0, domain)`` onto itself (cycle-walking Feistel); domain < 2**32."""
    return _walk_compiled(index, domain, key, inverse=False)


def unpermute(value: np.ndarray, domain: int, key: int) -> np.ndarray:
    """The inverse of :func:`permute`: ``unpermute(permute(i, d, k), d, k) == i``."""
    return _walk_compiled(value, domain, key, inverse=True)


def ssn_numbers(person_id: np.ndarray, key: int) -> np.ndarray:
    """The SSN (as a 9-digit integer) of each national person id."""
    return kernels.ssn_digits(permute(person_id, SSN_DOMAIN, key), SSN_AREAS)


def ssn_numbers_into(person_id: np.ndarray, where: np.ndarray, key: int, out: np.ndarray) -> None:
    """``out[where] = ssn_numbers(person_id[where], key)``, in one compiled pass."""
    person_id = np.asarray(person_id, dtype=np.int64)
    if len(person_id) and (person_id.min() < 0 or person_id.max() >= SSN_DOMAIN):   # check the chosen ones only then
        chosen = person_id[where]
        if len(chosen) and (chosen.min() < 0 or chosen.max() >= SSN_DOMAIN):
            raise ValueError(f"indices must lie in [0, {SSN_DOMAIN}), got [{chosen.min()}, {chosen.max()}]")
    half = (int(SSN_DOMAIN - 1).bit_length() + 1) // 2
    kernels.ssn_where(person_id, where, half, np.array(_round_keys(key), np.uint32), SSN_DOMAIN, SSN_AREAS, out)


def ssn_numbers_numpy(person_id: np.ndarray, key: int) -> np.ndarray:
    """:func:`ssn_numbers` in numpy, the reference its compiled loops are tested against."""
    k = _walk(person_id, SSN_DOMAIN, key, _feistel)
    area, rest = np.divmod(k, 99 * 9999)
    group, serial = np.divmod(rest, 9999)
    return SSN_AREAS[area] * 1_000_000 + (group + 1) * 10_000 + (serial + 1)


def ssn_person_ids(numbers: np.ndarray, key: int) -> np.ndarray:
    """The national person id whose SSN each number would be (-1 for numbers outside the SSN
    space: area 000, 666 or 900+, group 00, serial 0000). The inverse of :func:`ssn_numbers`;
    whether that person is on file is for the caller to check."""
    numbers = np.asarray(numbers, dtype=np.int64)
    area, group, serial = numbers // 1_000_000, numbers // 10_000 % 100, numbers % 10_000
    valid = (area > 0) & (area < 900) & (area != 666) & (group > 0) & (serial > 0)
    area_index = np.where(area > 666, area - 2, area - 1)
    k = (area_index * 99 + (group - 1)) * 9999 + (serial - 1)
    out = np.full(len(numbers), -1, dtype=np.int64)
    out[valid] = unpermute(k[valid], SSN_DOMAIN, key)
    return out


def itin_numbers(itin_index: np.ndarray, key: int) -> np.ndarray:
    """The ITIN (as a 9-digit integer) of each ITIN index."""
    k = permute(itin_index, ITIN_DOMAIN, key)
    area, rest = np.divmod(k, len(ITIN_GROUPS) * 9999)
    group, serial = np.divmod(rest, 9999)
    return (900 + area) * 1_000_000 + ITIN_GROUPS[group] * 10_000 + (serial + 1)


def never_issued(rng: np.random.Generator, n: int) -> np.ndarray:
    """Numbers in SSN format that SSA never issues: area 000 or 666, group 00, or serial 0000."""
    base = rng.integers(1, 900, n) * 1_000_000 + rng.integers(1, 100, n) * 10_000 + rng.integers(1, 10_000, n)
    kind = rng.integers(0, 4, n)
    area = base // 1_000_000
    return np.select(
        [kind == 0, kind == 1, kind == 2],
        [base - area * 1_000_000, base - area * 1_000_000 + 666 * 1_000_000, base - (base // 10_000 % 100) * 10_000],
        base - base % 10_000,
    )


def mistype(rng: np.random.Generator, numbers: np.ndarray) -> np.ndarray:
    """One keyboard error per 9-digit number: a digit replaced (2/3) or two adjacent digits
    swapped (1/3)."""
    return mistype_digits(rng, numbers, 9)


def mistype_digits(rng: np.random.Generator, numbers: np.ndarray, width: int) -> np.ndarray:
    """:func:`mistype` for ``width``-digit numbers (ZIP codes: 5)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    n = len(numbers)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (numbers[:, None] // powers) % 10  # (n, width), most significant first
    pos = rng.integers(0, width, n)
    swap = rng.random(n) < 1 / 3
    rows = np.arange(n)
    new_digit = (digits[rows, pos] + rng.integers(1, 10, n)) % 10
    pos_b = np.minimum(pos, width - 2)
    a, b = digits[rows, pos_b].copy(), digits[rows, pos_b + 1].copy()
    # a swap of two equal digits changes nothing; replace a digit instead
    swap &= a != b
    out = digits.copy()
    out[rows, pos] = np.where(swap, out[rows, pos], new_digit)
    out[rows[swap], pos_b[swap]] = b[swap]
    out[rows[swap], pos_b[swap] + 1] = a[swap]
    return (out * powers).sum(axis=1)


def is_valid_ssn(number: int) -> bool:
    area, group, serial = number // 1_000_000, number // 10_000 % 100, number % 10_000
    return 0 < area < 900 and area != 666 and group > 0 and serial > 0


def is_itin(number: int) -> bool:
    return number // 1_000_000 >= 900 and number // 10_000 % 100 in set(ITIN_GROUPS.tolist())


def format_tin(numbers: np.ndarray) -> np.ndarray:
    """9-digit strings, zero-padded (area 001 prints as 001...)."""
    from sim.world.address import digits

    return digits(numbers, 9)
