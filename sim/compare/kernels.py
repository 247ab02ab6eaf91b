"""Compiled loops of the comparisons (numba): one pass over the candidate pairs where numpy
would make a dozen passes and as many temporaries.

:func:`summarize` computes the per-value facts those bounds read, one pass over a dictionary's
bytes. :func:`sort_pairs` is steps 1 and 2 of :mod:`sim.compare.comparisons` for a string comparison:
each pair's two dictionary codes are read once, the pair is graded missing, exact or different,
and a different pair that might still reach the loosest threshold is kept to be scored, by the
bounds :func:`sim.compare.comparisons._jaro_winkler_bounds` explains. A bound only decides what
is scored, never a level: tests/test_match_compare.py checks the levels against scoring every
pair, and the benchmarks against recordlinkage. :func:`top_two` ranks each request's scored
pairs for deciding.

Compiled on first use and cached on disk beside this module (``cache=True``), so a process
compiles only when the cache is missing or stale: about a second, once per checkout.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Comparison kinds of :func:`sort_pairs` (``kind``).
EXACT, JARO_WINKLER, LEVENSHTEIN = 0, 1, 2


@njit(cache=True, nogil=True)
def _popcount(x: np.uint64) -> np.int64:
    """Set bits of a 64-bit word (SWAR)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, nogil=True)
def sort_pairs(codes_l, codes_r, left_idx, right_idx, kind, n_levels, missing, disagree, loosest, needed,
               length, inverse_length, mask, distinct, repeats, prefix, out, keep_pair, keep_a, keep_b):
    """Grade each pair ``i`` into ``out[i]``: ``missing`` when either code is negative, ``n_levels``
    when the codes are equal, else ``disagree``; and list the different pairs that may reach the
    loosest threshold in ``keep_pair``/``keep_a``/``keep_b`` (pair, code left, code right), in
    pair order. Returns how many were listed. ``needed`` is the Jaro-Winkler bound by common
    prefix (4 bytes first), ``loosest`` the Levenshtein ceiling; the per-value arrays are
    :class:`sim.compare.comparisons._Summary`'s."""
    k = 0
    steps = np.array([1, 1 << 8, 1 << 16, 1 << 24], dtype=np.uint32)
    for i in range(len(left_idx)):
        a = codes_l[left_idx[i]]
        b = codes_r[right_idx[i]]
        if a < 0 or b < 0:
            out[i] = missing
            continue
        if a == b:
            out[i] = n_levels
            continue
        out[i] = disagree
        if kind == EXACT:
            continue
        shared = _popcount(mask[a] & mask[b])
        if kind == LEVENSHTEIN:
            if abs(np.int64(length[a]) - np.int64(length[b])) > loosest:
                continue
            if max(np.int64(distinct[a]), np.int64(distinct[b])) - shared > loosest:
                continue
        else:
            matches = np.float64(min(np.int64(repeats[a]), np.int64(repeats[b])) + shared)
            ratio_sum = (inverse_length[a] + inverse_length[b]) * matches
            if not ratio_sum >= needed[0]:
                continue
            diff = prefix[a] ^ prefix[b]
            fewer = 0
            for step in steps:
                if step <= diff:
                    fewer += 1
            if not ratio_sum >= needed[fewer]:
                continue
        keep_pair[k] = i
        keep_a[k] = a
        keep_b[k] = b
        k += 1
    return k


@njit(cache=True, nogil=True)
def summarize(offsets, data, mask, top, prefix):
    """For each value ``i`` of a string array (its bytes ``data[offsets[i]:offsets[i + 1]]``):
    the set of its bytes modulo 64 as a bit mask, its largest byte (ASCII when below 128), and
    its first four bytes packed into ``prefix`` (first byte highest; missing bytes 0)."""
    for i in range(len(offsets) - 1):
        bits = np.uint64(0)
        largest = np.uint8(0)
        packed = np.uint32(0)
        start = offsets[i]
        for k in range(start, offsets[i + 1]):
            byte = data[k]
            bits |= np.uint64(1) << np.uint64(byte & 63)
            if byte > largest:
                largest = byte
            if k - start < 4:
                packed |= np.uint32(byte) << np.uint32(8 * (3 - (k - start)))
        mask[i] = bits
        top[i] = largest
        prefix[i] = packed


@njit(cache=True, nogil=True)
def first_appearance(codes, missing):
    """Renumber ``codes`` (indices into ``len(missing)`` values, negative for a missing row) in
    order of first appearance, as Arrow's ``dictionary_encode`` numbers values, a row whose value
    is ``missing`` -1 too: ``(new codes, order)``, where ``order[k]`` is the old code of new
    code ``k``."""
    size = len(missing)
    renumber = np.full(size, -1, np.int32)
    order = np.empty(size, np.int64)
    out = np.empty(len(codes), np.int32)
    k = 0
    for i in range(len(codes)):
        c = codes[i]
        if c < 0 or missing[c]:
            out[i] = -1
            continue
        r = renumber[c]
        if r < 0:
            r = k
            renumber[c] = k
            order[k] = c
            k += 1
        out[i] = r
    return out, order[:k]


@njit(cache=True, nogil=True)
def factorize_integers(keys):
    """``keys`` (int64) numbered in order of first appearance, as ``pandas.factorize(keys,
    sort=False)`` numbers them: ``(codes int32, first)``, where ``first[k]`` is the position of
    code ``k``'s first row. An open-addressing hash table (linear probing, Fibonacci hashing) of
    twice the keys' number of slots: a master file's TINs, nearly all distinct, hash about four
    times faster than in pandas' general one."""
    n = len(keys)
    size = 16
    bits = 4
    while size < 2 * n:
        size *= 2
        bits += 1
    mask = size - 1
    shift = np.uint64(64 - bits)          # the product's top bits: the slot
    slot_key = np.empty(size, np.int64)
    slot_code = np.full(size, -1, np.int32)
    codes = np.empty(n, np.int32)
    first = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        key = keys[i]
        j = np.int64((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> shift)
        while True:
            c = slot_code[j]
            if c < 0:
                slot_key[j] = key
                slot_code[j] = m
                codes[i] = m
                first[m] = i
                m += 1
                break
            if slot_key[j] == key:
                codes[i] = c
                break
            j = (j + 1) & mask
    return codes, first[:m].copy()


@njit(cache=True, nogil=True)
def small_parts(days, missing):
    """(year int16, month int8, day int8) of each int64 day number since 1970-01-01 in the
    proleptic Gregorian calendar (numpy's), a ``missing`` day as 1970-01-01: one pass of integer
    arithmetic (H. Hinnant's ``civil_from_days``), where numpy's datetime conversions make
    several. :func:`sim.compare.comparisons.civil_parts` is the reference it is tested against."""
    n = len(days)
    year = np.empty(n, np.int16)
    month = np.empty(n, np.int8)
    day = np.empty(n, np.int8)
    for i in range(n):
        z = days[i]
        if z == missing:
            z = 0
        z += 719468                       # days from 0000-03-01
        era = z // 146097                 # 400-year eras (floor division)
        doe = z - era * 146097            # day of the era, 0..146096
        yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
        doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
        mp = (5 * doy + 2) // 153         # month from March, 0..11
        m = mp + 3 if mp < 10 else mp - 9
        year[i] = yoe + era * 400 + (1 if m <= 2 else 0)
        month[i] = m
        day[i] = doy - (153 * mp + 2) // 5 + 1
    return year, month, day


@njit(cache=True, nogil=True)
def _ranks_before(i, j, scores, right_idx):
    """Whether pair ``i`` ranks before pair ``j`` (listed earlier): the higher score (NaN
    lowest, as a sort puts it last), then the lower right row; on a tie ``j``, the earlier."""
    a, b = scores[i], scores[j]
    if a != a:                             # NaN: before nothing but another NaN's higher row
        if b == b:
            return False
    elif b != b or a > b:
        return True
    elif a < b:
        return False
    return right_idx[i] < right_idx[j]


@njit(cache=True, nogil=True)
def top_two(left_idx, right_idx, scores, n_left):
    """Each left row's best and second-best pair (indices into the pairs, -1 where it has
    fewer), by score, highest first, then lowest right row: the first two of the row's pairs
    in ``np.lexsort((right_idx, -scores, left_idx))`` order, in one pass instead of a sort of
    every pair (:func:`sim.match.policy._ranked`)."""
    best = np.full(n_left, -1, np.int64)
    second = np.full(n_left, -1, np.int64)
    for i in range(len(left_idx)):
        row = left_idx[i]
        b = best[row]
        if b < 0 or _ranks_before(i, b, scores, right_idx):
            second[row] = b
            best[row] = i
        elif second[row] < 0 or _ranks_before(i, second[row], scores, right_idx):
            second[row] = i
    return best, second
