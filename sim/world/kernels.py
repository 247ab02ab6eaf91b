"""Compiled loops of world generation (numba): one pass where numpy would make several passes and
as many temporaries.

The random draws stay with numpy's generators, made by the callers in the same order and sizes as
before; these loops only turn the draws into codes, days and strings, with the same arithmetic
(the same IEEE operations in the same order, float32 where numpy computes in float32), so a
world's bytes do not depend on which of the two computes them. ``tests/test_world_kernels.py``
checks each loop against the numpy expression it replaces.

Compiled on first use and cached on disk beside this module (``cache=True``), as
:mod:`sim.compare.kernels` is.
"""

from __future__ import annotations

import numpy as np
from numba import njit


# ---- sampling --------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _guided(cdf, guide, m, last, x):
    """The first category whose cumulative probability exceeds ``x``: the guide table's start,
    then steps forward (:class:`sim.world.vocab.Sampler`)."""
    k = np.int64(x * m)
    if k > m - 1:
        k = m - 1
    j = np.uint64(guide[np.uint64(k)])   # unsigned indices: numba tests no index for a negative
    while j < np.uint64(last) and cdf[j] <= x:
        j += np.uint64(1)
    return j


@njit(cache=True, nogil=True)
def sample(cdf, guide, x):
    """The category of each uniform of ``x``: :meth:`sim.world.vocab.Sampler.draw`."""
    m = len(guide)
    last = len(cdf) - 1
    out = np.empty(len(x), np.int64)
    for i in range(len(x)):
        out[i] = _guided(cdf, guide, m, last, x[i])
    return out


#: Tables longer than this are sampled in slices of the unit interval (:func:`sample_idx`).
SLICED_ABOVE = 1 << 14
_SLICES = 256


@njit(cache=True, nogil=True)
def sample_idx(cdf, guide, idx, x):
    """``idx`` at the category of each uniform of ``x`` (a pool's surname codes). A large table
    (the 160,000 Census surnames) is read slice by slice: the draws are put in order of their
    slice of [0, 1) first (a counting sort), so each slice's part of the table is read while in
    cache, and each result written back to its draw's place."""
    m = len(guide)
    last = len(cdf) - 1
    n = len(x)
    out = np.empty(n, idx.dtype)
    if m <= SLICED_ABOVE or n < 4 * _SLICES:
        for i in range(n):
            out[i] = idx[_guided(cdf, guide, m, last, x[i])]
        return out
    u64 = np.uint64                  # unsigned indices: no test for a negative one (see sample_cohort_into)
    count = np.zeros(_SLICES + 1, np.int64)
    for i in range(n):
        count[u64(min(np.int64(x[i] * _SLICES), _SLICES - 1) + 1)] += 1
    for s in range(_SLICES):
        count[s + 1] += count[s]
    xs = np.empty(n, np.float64)
    order = np.empty(n, np.int32)
    for i in range(n):
        s = u64(min(np.int64(x[i] * _SLICES), _SLICES - 1))
        k = u64(count[s])
        xs[k] = x[i]
        order[k] = i
        count[s] = k + u64(1)
    for k in range(n):
        out[u64(order[k])] = idx[_guided(cdf, guide, m, last, xs[k])]
    return out


@njit(cache=True, nogil=True)
def sample_cohort(cdf, guide, idx, u, female, year, first_year, n_years):
    """:meth:`sim.world.vocab.CohortNames.draw`."""
    members = np.arange(len(u))
    out = np.empty(len(u), np.int32)
    sample_cohort_into(cdf, guide, idx, u, female, year, members, first_year, n_years, out)
    return out


@njit(cache=True, nogil=True)
def sample_cohort_into(cdf, guide, idx, u, female, year, members, first_year, n_years, out):
    """:meth:`sim.world.vocab.CohortNames.draw` for the people ``members`` (positions into
    ``female``, ``year`` and ``out``), the result written to ``out[members]``: each person's
    draw ``u`` shifted into the group of their sex and birth year, drawn group by group (a
    counting sort first) so that each group's part of the table is read while in cache."""
    u64 = np.uint64                  # indices read from arrays as unsigned: numba adds no test
    n = len(u)                       # for a negative one to each access (a fifth of the time)
    n_groups = 2 * n_years
    group = np.empty(n, np.int32)
    count = np.zeros(n_groups + 1, np.int64)
    for i in range(n):
        p = u64(members[i])
        y = year[p] - first_year
        if y < 0:
            y = 0
        elif y > n_years - 1:
            y = n_years - 1
        g = y if female[p] else n_years + y
        group[i] = g
        count[u64(g + 1)] += 1
    for g in range(n_groups):
        count[g + 1] += count[g]
    top = 1.0 - 2.0 ** -40           # a draw this close to 1 would round onto the next group's edge
    xs = np.empty(n, np.float64)
    pos = np.empty(n, np.int32)      # each draw's place in group order
    for i in range(n):
        g = group[i]
        v = u[i]
        if v > top:
            v = top
        k = u64(count[u64(g)])
        xs[k] = (g + v) / n_groups
        pos[i] = k
        count[u64(g)] = k + u64(1)
    m = len(guide)
    last = len(cdf) - 1
    drawn = np.empty(n, np.int32)
    for k in range(n):
        drawn[k] = idx[_guided(cdf, guide, m, last, xs[k])]
    for i in range(n):               # gathered back in the people's order (independent loads)
        out[u64(members[i])] = drawn[u64(pos[i])]


# ---- households and names ---------------------------------------------------------------------


@njit(cache=True, nogil=True)
def members_of(starts, sizes):
    """The positions of the members of each household (``starts``, ``sizes``), households in
    the order given.

    Each position is the one before it plus 1, except at a household's first member, which
    jumps to its start: the jumps are written household by household, then summed along the
    people. (A loop over each household's members ends after a number of steps that varies
    from household to household, mispredicted once a household: five times as long.)"""
    total = 0
    for h in range(len(sizes)):
        total += sizes[h]
    out = np.ones(total, np.int32)           # positions in a block: half the bytes of int64 to read
    k = 0
    last = -1                                # the position before the household's first member
    for h in range(len(sizes)):
        s = sizes[h]
        if s > 0:
            out[np.uint64(k)] = starts[h] - last
            last = starts[h] + s - 1
            k += s
    position = np.int32(-1)
    for i in range(total):
        position += out[i]
        out[i] = position
    return out


@njit(cache=True, nogil=True)
def own_surname(members, role, takes, head, partner):
    """Who of ``members`` draws a surname of their own: the head, and a partner who does not
    take the head's (``takes``). Returns (flags, how many)."""
    own = np.empty(len(members), np.bool_)
    k = 0
    for i in range(len(members)):
        r = role[np.uint64(members[i])]         # unsigned: no wraparound test
        o = (r == head) | ((r == partner) & (not takes[i]))     # bitwise: no branch on the role
        own[i] = o
        k += o
    return own, k


@njit(cache=True, nogil=True)
def share_surname(members, sizes, own, drawn, out):
    """``out[members]``: the surname drawn for each member who owns one (``drawn``, in order),
    the household's first member's (or 0 where that one has none) for the others.

    Household by household, only each one's first member is marked; then one pass along the
    members, with selects, not branches (whether a member owns a surname follows no pattern,
    and a loop over each household's members ends at a mispredicted step: 2.5 times as long)."""
    n = len(members)
    first = np.zeros(n + 1, np.bool_)
    k = 0
    for h in range(len(sizes)):
        first[np.uint64(k)] = True
        k += sizes[h]
    last = max(len(drawn) - 1, 0)
    j = 0
    household_surname = 0
    for k in range(n):
        o = own[k]
        d = drawn[np.uint64(min(j, last))] if len(drawn) else 0       # loaded whatever ``o``: no branch
        v = d if o else 0
        j += o
        household_surname = v if first[k] else household_surname
        out[np.uint64(members[k])] = v if o else household_surname     # unsigned: no wraparound test


# ---- dates -----------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _year_of(day):
    """The calendar year of a day (days since 1970-01-01), by the civil-from-days rule
    (H. Hinnant's)."""
    z = np.int64(day) + 719468
    era = z // 146097                  # floor division: the era of a day before 0000-03-01 too
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    return yoe + era * 400 + (1 if mp >= 10 else 0)


@njit(cache=True, nogil=True)
def birth_years(days):
    """The calendar year of each day (days since 1970-01-01): numpy's
    ``days.astype("datetime64[D]").astype("datetime64[Y]") + 1970``. Dates of birth span about
    a century, so each distinct day is converted once, into a table read in cache."""
    n = len(days)
    out = np.empty(n, np.int32)
    if n == 0:
        return out
    lo = np.int64(days[0])
    hi = lo
    for i in range(n):
        d = np.int64(days[i])
        if d < lo:
            lo = d
        elif d > hi:
            hi = d
    if hi - lo >= n:
        for i in range(n):
            out[i] = _year_of(days[i])
        return out
    table = np.empty(hi - lo + 1, np.int32)
    for d in range(lo, hi + 1):
        table[d - lo] = _year_of(d)
    for i in range(n):
        out[i] = table[np.int64(days[i]) - lo]
    return out


# ---- strings -----------------------------------------------------------------------------------


#: "00" to "99", two bytes each: :func:`fixed_digits` writes two digits a step.
DIGIT_PAIRS = np.array([ord(c) for i in range(100) for c in f"{i:02d}"], np.uint8)


@njit(cache=True, nogil=True, inline="always")
def _nine_digits(data, base, x, pairs):
    """The nine digits of ``x`` (below 10**9) at ``data[base:base + 9]``: :func:`fixed_digits`'
    loop written out for its commonest width, so nothing depends on a loop count."""
    hundred = np.uint64(100)
    q1 = x // hundred
    q2 = q1 // hundred
    q3 = q2 // hundred
    q4 = q3 // hundred
    r1, r2, r3, r4 = x - q1 * hundred, q1 - q2 * hundred, q2 - q3 * hundred, q3 - q4 * hundred
    # every byte read before any is written (as _copy_chunk): LLVM cannot know that ``data``
    # and ``pairs`` do not overlap, and keeps loads and stores in turn otherwise (12% longer)
    d0 = np.uint8(48 + q4 % np.uint64(10))
    d1, d2, d3, d4 = pairs[2 * r4], pairs[2 * r4 + 1], pairs[2 * r3], pairs[2 * r3 + 1]
    d5, d6, d7, d8 = pairs[2 * r2], pairs[2 * r2 + 1], pairs[2 * r1], pairs[2 * r1 + 1]
    data[base] = d0
    data[base + 1] = d1
    data[base + 2] = d2
    data[base + 3] = d3
    data[base + 4] = d4
    data[base + 5] = d5
    data[base + 6] = d6
    data[base + 7] = d7
    data[base + 8] = d8


@njit(cache=True, nogil=True)
def _nine_digits_each(numbers, pairs):
    """:func:`fixed_digits` of width 9, a function of its own: compiled inside the general one,
    the same loop took 15% longer."""
    data = np.empty(len(numbers) * 9, np.uint8)
    for i in range(len(numbers)):
        _nine_digits(data, i * 9, np.uint64(numbers[i]), pairs)
    return data


@njit(cache=True, nogil=True)
def fixed_digits(numbers, width, pairs):
    """The bytes of ``numbers`` as zero-padded decimal strings of ``width`` digits, end to end
    (every number in ``[0, 10**width)``; the caller checks), two digits at a time from ``pairs``
    (:data:`DIGIT_PAIRS`)."""
    n = len(numbers)
    if width == 9:                          # a TIN: the same digits in straight-line code (twice as fast)
        return _nine_digits_each(numbers, pairs)
    data = np.empty(n * width, np.uint8)
    for i in range(n):
        x = np.uint64(numbers[i])
        base = i * width
        k = width
        while k >= 2:
            q = x // np.uint64(100)
            r = x - q * np.uint64(100)
            data[base + k - 1] = pairs[2 * r + 1]
            data[base + k - 2] = pairs[2 * r]
            x = q
            k -= 2
        if k == 1:
            data[base] = np.uint8(48 + x % np.uint64(10))
    return data


# ---- columns -----------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def components(dwelling, dw_building, dw_unit, bl_street, bl_number, bl_zip4, st_predir, st_stem, st_suffix, st_zip):
    """:func:`sim.world.address.components` of the dwellings ``dwelling``: (street, number,
    predir, stem, suffix, unit, zip_row, zip4), each in its table's type; numpy:
    ``building = dw_building[dwelling]``, ``street = bl_street[building]``, then each table at
    its dwelling, building or street."""
    n = len(dwelling)
    street = np.empty(n, bl_street.dtype)
    number = np.empty(n, bl_number.dtype)
    predir = np.empty(n, st_predir.dtype)
    stem = np.empty(n, st_stem.dtype)
    suffix = np.empty(n, st_suffix.dtype)
    unit = np.empty(n, dw_unit.dtype)
    zip_row = np.empty(n, st_zip.dtype)
    zip4 = np.empty(n, bl_zip4.dtype)
    u64 = np.uint64                 # unsigned indices: no wraparound test on each access
    for i in range(n):
        d = u64(dwelling[i])
        b = u64(dw_building[d])
        s = u64(bl_street[b])
        street[i] = s
        number[i] = bl_number[b]
        zip4[i] = bl_zip4[b]
        unit[i] = dw_unit[d]
        predir[i] = st_predir[s]
        stem[i] = st_stem[s]
        suffix[i] = st_suffix[s]
        zip_row[i] = st_zip[s]
    return street, number, predir, stem, suffix, unit, zip_row, zip4


@njit(cache=True, nogil=True)
def take(values, positions):
    """``values[positions]`` for positions of any integer type (numpy first converts an int32
    index to int64, a pass and a copy more); the positions are not checked."""
    out = np.empty(len(positions), values.dtype)
    for i in range(len(positions)):
        out[i] = values[np.uint64(positions[i])]
    return out


@njit(cache=True, nogil=True)
def gather_codes_valid(codes, rows, lo, out, valid):
    """``out[i] = max(codes[rows[i]], lo)`` (``rows`` empty: every code in order), and Arrow's
    validity bitmap of the codes at least ``lo`` into ``valid`` (``ceil(len(out) / 8)`` bytes,
    least significant bit first). Returns (how many are null, the smallest and the largest of
    the others, ``lo`` where there are none): the caller checks them against its table.

    The gather comes first, alone (a code below ``lo`` kept as ``lo - 1``); the bitmap, the
    count and the clamp are then passes over ``out`` in order, without a branch on a code. One
    loop doing all of it was 2-5 times slower: each row's bit was or-ed into a byte in memory
    that the next row read back, and where nulls fall at random (a middle initial) the branch
    on each code was mispredicted every other row."""
    n = len(out)
    direct = len(rows) == 0
    lo = np.int64(lo)
    largest = lo
    for i in range(n):
        c = np.int64(codes[i] if direct else codes[np.uint64(rows[i])])     # unsigned: no wraparound test
        largest = max(largest, c)           # a null's code is below lo, so never the largest
        out[i] = max(c, lo - 1)
    full = n >> 3
    for b in range(full):
        bits = 0
        for j in range(8):
            bits |= np.int64(out[8 * b + j] >= lo) << j
        valid[b] = np.uint8(bits)
    if n & 7:
        bits = 0
        for i in range(8 * full, n):
            bits |= np.int64(out[i] >= lo) << (i - 8 * full)
        valid[full] = np.uint8(bits)
    none = np.int64(2**62)
    smallest = none
    nulls = 0
    for i in range(n):
        c = np.int64(out[i])
        present = c >= lo
        nulls += np.int64(not present)
        smallest = min(smallest, c if present else none)
        out[i] = max(c, lo)
    return nulls, (lo if smallest == none else smallest), largest


@njit(cache=True, nogil=True)
def gather_codes(codes, rows, via, out):
    """``out[i] = codes[via[rows[i]]]`` (``rows`` empty: every position in order; ``via`` empty:
    the positions themselves), in ``out``'s type. Returns the smallest and the largest code (0
    and 0 where there are none): the caller checks them against its table. Each code is widened
    to int64 as it is read: a narrower code (int8, int32) mixed into ``min`` and ``max`` with the
    int64 start made the loop about eight times slower (6.0 against 0.7 ms for a million
    codes). Positions are read as unsigned, so numba adds no test for a negative one."""
    direct = len(rows) == 0
    through = len(via) > 0
    smallest = np.int64(0)
    largest = np.int64(0)
    if len(out):
        smallest = largest = np.int64(codes[_position(0, rows, via, direct, through)])
    for i in range(len(out)):
        c = np.int64(codes[_position(i, rows, via, direct, through)])
        smallest = min(smallest, c)
        largest = max(largest, c)
        out[i] = c
    return smallest, largest


@njit(cache=True, nogil=True, inline="always")
def _position(i, rows, via, direct, through):
    """:func:`gather_codes`' position of row ``i``, unsigned."""
    r = np.uint64(i) if direct else np.uint64(rows[i])
    return np.uint64(via[r]) if through else r


#: Bytes past its end that :func:`join3` may read from a table and write to its output: it copies
#: a string in whole chunks of this many bytes, so no chunk count depends on the string.
COPY_CHUNK = 16


@njit(cache=True, nogil=True, inline="always")
def _copy_chunk(data, kk, d, j):
    """Copy the :data:`COPY_CHUNK` (16) bytes ``d[j:]`` to ``data[kk:]`` (unsigned positions).
    Every byte is read before any is written, which LLVM makes one 16-byte load and store; a
    loop that writes each byte as it reads it stays byte by byte (LLVM cannot know that the two
    arrays do not overlap): :func:`join3`'s copying pass took two and a half times as long."""
    u = np.uint64
    b0, b1, b2, b3 = d[j], d[j + u(1)], d[j + u(2)], d[j + u(3)]
    b4, b5, b6, b7 = d[j + u(4)], d[j + u(5)], d[j + u(6)], d[j + u(7)]
    b8, b9, b10, b11 = d[j + u(8)], d[j + u(9)], d[j + u(10)], d[j + u(11)]
    b12, b13, b14, b15 = d[j + u(12)], d[j + u(13)], d[j + u(14)], d[j + u(15)]
    data[kk], data[kk + u(1)], data[kk + u(2)], data[kk + u(3)] = b0, b1, b2, b3
    data[kk + u(4)], data[kk + u(5)], data[kk + u(6)], data[kk + u(7)] = b4, b5, b6, b7
    data[kk + u(8)], data[kk + u(9)], data[kk + u(10)], data[kk + u(11)] = b8, b9, b10, b11
    data[kk + u(12)], data[kk + u(13)], data[kk + u(14)], data[kk + u(15)] = b12, b13, b14, b15


@njit(cache=True, nogil=True, inline="always")
def _put(data, k, d, start, stop):
    """Copy ``d[start:stop]`` to ``data`` at ``k``; returns the end. It copies whole chunks of
    :data:`COPY_CHUNK` bytes, reading and writing up to a chunk past the string's end (the
    caller pads both; the next string overwrites what was written past the end), so the copy
    of a short string has no loop exit that depends on its length, mispredicted a part. The
    indices are unsigned, so numba adds no test for a negative index to each byte."""
    kk = np.uint64(k)
    j = np.uint64(start)
    end = np.uint64(stop)
    while True:
        _copy_chunk(data, kk, d, j)
        j += np.uint64(COPY_CHUNK)
        kk += np.uint64(COPY_CHUNK)
        if j >= end:
            break
    return np.int64(kk - (j - end))


@njit(cache=True, nogil=True)
def join3(o1, d1, c1, o2, d2, c2, o3, d3, c3, rows, sep, lo3):
    """Row ``i`` is the strings ``c1[rows[i]]`` of table 1 (offsets ``o1``, bytes ``d1``), then of
    tables 2 and 3, joined by the byte ``sep``, a negative code (or a code below ``lo3`` in
    table 3) leaving its part out (Arrow's ``binary_join_element_wise`` with
    ``null_handling="skip"``, a part left out being a null). Returns (offsets, bytes, whether
    the bytes fit 32-bit offsets).

    Two passes: the codes and each row's length (independent loads, which overlap in memory),
    then the bytes into a buffer of their size and a chunk more (:func:`_put`; the bytes returned
    are a view of their size). Each table's bytes must be followed by :data:`COPY_CHUNK` bytes
    that may be read."""
    n = len(rows)
    g1 = np.empty(n, np.int32)
    g2 = np.empty(n, np.int32)
    g3 = np.empty(n, np.int32)
    offsets = np.empty(n + 1, np.int32)          # Arrow's: the caller checks the total fits
    offsets[0] = 0
    total = 0
    for i in range(n):
        r = np.uint64(rows[i])                 # unsigned: no wraparound test
        a = c1[r]
        b = c2[r]
        c = c3[r]
        if c < lo3:
            c = -1
        g1[i] = a
        g2[i] = b
        g3[i] = c
        parts = 0
        if a >= 0:
            total += o1[a + 1] - o1[a]
            parts += 1
        if b >= 0:
            total += o2[b + 1] - o2[b]
            parts += 1
        if c >= 0:
            total += o3[c + 1] - o3[c]
            parts += 1
        if parts > 1:
            total += parts - 1
        if total >= 2**31:
            return offsets, np.empty(0, np.uint8), False
        offsets[i + 1] = total
    data = np.empty(total + COPY_CHUNK, np.uint8)
    for i in range(n):
        k = offsets[i]
        a = g1[i]
        b = g2[i]
        c = g3[i]
        started = False
        if a >= 0:
            k = _put(data, k, d1, o1[a], o1[a + 1])
            started = True
        if b >= 0:
            if started:
                data[k] = sep
                k += 1
            k = _put(data, k, d2, o2[b], o2[b + 1])
            started = True
        if c >= 0:
            if started:
                data[k] = sep
                k += 1
            k = _put(data, k, d3, o3[c], o3[c + 1])
    return offsets, data[:total], True


# ---- residence histories -----------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _years_back(age, need, hazards, g, knots, cums):
    """:func:`sim.world.history._invert` for one household: years back from ``age`` until
    ``need`` of cumulative hazard is spent (``hazards[g]`` its group's hazards by band,
    ``cums[g]`` their cumulative hazard at each knot)."""
    nk = len(knots)
    h0 = hazards[g, 0]
    if nk == 0:
        return need / h0 if h0 > 0 else np.inf
    # the cumulative hazard at the age: the knot at or below it (-1: below the first); the
    # knots ascend, so counting those at or below is the scan's stop, without its branch.
    # Below the first knot, the cumulative hazard there (cums[g, 0]) is 0 and the hazard the
    # first band's: the same expression, at knot 0, without a branch
    k = -1
    for j in range(nk):
        k += knots[j] <= age
    j = max(k, 0)
    at = cums[g, j] + hazards[g, k + 1] * (age - knots[j])
    target = at - need
    # the last knot whose cumulative hazard is at most the target (a count: they never fall);
    # before the first (half the households, at random: a branch on it was mispredicted), the
    # same expression at knot 0
    k = -1
    for j in range(nk):
        k += cums[g, j] <= target
    j = max(k, 0)
    hk = hazards[g, k + 1]
    if hk > 0:
        start = knots[j] + (target - cums[g, j]) / hk
    else:
        start = knots[j] if k >= 0 else -np.inf
    gap = age - start
    return 0.0 if gap < 0.0 else gap           # a NaN kept


@njit(cache=True, nogil=True)
def history_round(need, active, dwelling, group, age, day, horizon, hazards, knots, cums, days_per_year, floor_day):
    """One round of :func:`sim.world.history.build_history`: each active household's move
    before (gap from ``need``, its unit exponential), the day it moved in, and the households
    whose history must go back further, with their day, head's age and dwelling.
    Returns (moved_in, next active, next day, next age, next dwelling)."""
    n = len(active)
    moved_in = np.empty(n, np.int64)
    more = np.empty(n, np.bool_)
    m = 0
    for i in range(n):
        a = np.uint64(active[i])                # unsigned: no wraparound test
        gap = _years_back(age[i], need[i], hazards, group[a], knots, cums)
        start = day[i] - gap * days_per_year
        if start < floor_day:                 # np.maximum: before 1900 (or -inf) is 1900, a NaN kept
            start = floor_day
        d = np.int64(np.floor(start))
        moved_in[i] = d
        more[i] = d > horizon[a]
        m += more[i]
    next_active = np.empty(m, active.dtype)
    next_day = np.empty(m, np.float64)
    next_age = np.empty(m, np.float64)
    next_dwelling = np.empty(m, dwelling.dtype)
    j = 0
    for i in range(n):
        if more[i]:
            next_active[j] = active[i]
            next_day[j] = np.float64(moved_in[i])
            next_age[j] = age[i] - (day[i] - moved_in[i]) / days_per_year
            next_dwelling[j] = dwelling[i]
            j += 1
    return moved_in, next_active, next_day, next_age, next_dwelling


@njit(cache=True, nogil=True)
def previous_dwellings(current, dw_zip, by_zip, count, first, u, v, same_zip_share):
    """:func:`sim.world.history.previous_dwellings` from its two uniforms per household
    (``u`` places the dwelling, ``v`` decides whether the move was local)."""
    n = len(current)
    total = len(dw_zip)
    out = np.empty(n, np.int64)
    for i in range(n):
        c = current[i]
        z = dw_zip[c]
        cz = count[z]
        fz = first[z]
        if v[i] < same_zip_share or cz == total:
            k = np.int64(u[i] * max(cz - 1, 1))
            p = by_zip[fz + k]
            if p == c:
                p = by_zip[min(fz + cz - 1, total - 1)]
        else:
            j = np.int64(u[i] * max(total - cz, 1))
            if j >= fz:
                j += cz
            p = by_zip[min(j, total - 1)]
        if p == c:
            p = (c + 1) % max(total, 1)
        out[i] = p
    return out


@njit(cache=True, nogil=True)
def assemble_history(household, spells, moved_in, bounds, n, out_dw, out_in):
    """The spells of every round (round r at ``bounds[r]:bounds[r + 1]``, newest first) in
    household order, oldest first, into ``out_dw`` and ``out_in`` (in the types the caller
    keeps: no copy to convert them); returns the offsets."""
    count = np.zeros(n, np.int64)
    for i in range(len(household)):
        count[household[i]] += 1
    offsets = np.empty(n + 1, np.int64)
    offsets[0] = 0
    for h in range(n):
        offsets[h + 1] = offsets[h] + count[h]
    for r in range(len(bounds) - 1):
        for i in range(bounds[r], bounds[r + 1]):
            h = household[i]
            pos = offsets[h] + count[h] - 1 - r
            out_dw[pos] = spells[i]
            out_in[pos] = moved_in[i]
    return offsets


@njit(cache=True, nogil=True)
def spell_at(offsets, moved_in, households, days):
    """:meth:`sim.world.history.History.spell_at`: the latest spell moved into on or before the
    day, the oldest when the day is before them all."""
    out = np.empty(len(households), np.int64)
    for i in range(len(households)):
        h = households[i]
        j = offsets[h + 1] - 1
        lo = offsets[h]
        d = days[i]
        while j > lo and moved_in[j] > d:
            j -= 1
        out[i] = j
    return out


@njit(cache=True, nogil=True)
def moves_between(offsets, moved_in, households, after, until):
    """:meth:`sim.world.history.History.moves_between`: the moves (spells but the oldest) of each
    household moved into on a day in ``(after, until]``."""
    out = np.empty(len(households), np.int64)
    for i in range(len(households)):
        h = households[i]
        k = 0
        for j in range(offsets[h] + 1, offsets[h + 1]):
            if after[i] < moved_in[j] <= until[i]:
                k += 1
        out[i] = k
    return out


@njit(cache=True, nogil=True)
def hazard_now(table, group, lower, x):
    """``table[group, band]`` in float32, ``band`` the band of each ``x`` among the few
    ascending lower edges ``lower`` (``max(np.searchsorted(lower, x, side="right") - 1, 0)``):
    each household's hazard of a move today, from its group's row and its head's age band."""
    out = np.empty(len(x), np.float32)
    nb = len(lower)
    for i in range(len(x)):
        v = np.float64(x[i])
        k = 0
        for j in range(nb):             # a count, not a scan that stops: no branch on the value
            k += lower[j] <= v          # (the edges ascend, so the count is the scan's stop)
        out[i] = np.float32(table[np.uint64(group[i]), max(k - 1, 0)])
    return out


@njit(cache=True, nogil=True)
def street_repeats(areas, first, count, predir, suffix, stem, n_suffix, n_stems):
    """The streets of ``areas`` (ascending; an area's streets are ``first[a]`` on, ``count[a]``
    of them) named as an earlier street of their area: in order of area, name (directional,
    suffix, stem) and street. numpy: a stable argsort of the key (area, directional + 1,
    suffix, stem) over the areas' streets, and each street whose key equals the one before it
    in that order.

    Area by area, as the key's area leads: each street's name looked up among the names seen
    before it (open addressing), and the repeats, a few, sorted by name (stably, so streets in
    order within a name). Sorting every street of the area each round took four times as long."""
    total = 0
    largest = 1
    for a in areas:
        total += count[a]
        largest = max(largest, count[a])
    bits = 1
    while (1 << bits) < 2 * largest:
        bits += 1
    mask = np.uint64((1 << bits) - 1)
    shift = np.uint64(64 - bits)
    seen = np.empty(1 << bits, np.int64)
    out = np.empty(total, np.int64)
    names = np.empty(total, np.int64)
    m = 0
    for a in areas:
        f = first[a]
        seen[:] = -1
        start = m
        for j in range(count[a]):
            s = f + j
            key = ((np.int64(predir[s]) + 1) * n_suffix + suffix[s]) * n_stems + stem[s]
            slot = (np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> shift      # Fibonacci hashing
            while True:
                held = seen[slot]
                if held == -1:
                    seen[slot] = key
                    break
                if held == key:
                    out[m] = s
                    names[m] = key
                    m += 1
                    break
                slot = (slot + np.uint64(1)) & mask
        if m - start > 1:
            order = np.argsort(names[start:m], kind="mergesort")
            out[start:m] = out[start:m][order]
    return out[:m]


@njit(cache=True, nogil=True)
def buildings(bl_zip, u, st_first, n_streets, st_base, st_step):
    """Each building's street (``u`` places it among its area's streets) and number (its
    street's base, then one step more for each building of the street before it). numpy:
    ``street = st_first[bl_zip] + (u * n_streets[bl_zip]).astype(np.int64)``, then
    ``st_base[street] + rank_within(street) * st_step[street]``. Returns (street, number)."""
    n = len(bl_zip)
    street = np.empty(n, np.int64)
    number = np.empty(n, np.int64)
    before = np.zeros(len(st_base), np.int64)       # buildings of each street so far
    for i in range(n):
        z = np.uint64(bl_zip[i])
        s = np.uint64(st_first[z] + np.int64(u[i] * n_streets[z]))
        street[i] = s
        number[i] = st_base[s] + before[s] * st_step[s]
        before[s] += 1
    return street, number


@njit(cache=True, nogil=True)
def units(units_per_building, by_floor_above, per_floor):
    """Each dwelling's building and unit number, buildings in order: 0 (no unit) in a building
    of one unit; ``j + 1`` for the ``j``-th unit of a building of up to ``by_floor_above``
    units; by floor in a larger one, ``per_floor`` units a floor (101, 102, ..., 201, ...).
    Returns (building, unit), int64. numpy: ``np.repeat(np.arange(n), units_per_building)``,
    each unit's rank in its building, and two ``np.where``."""
    total = 0
    for b in range(len(units_per_building)):
        total += units_per_building[b]
    building = np.empty(total, np.int64)
    unit = np.empty(total, np.int64)
    k = 0
    for b in range(len(units_per_building)):
        size = units_per_building[b]
        for j in range(size):
            building[k] = b
            if size == 1:
                unit[k] = 0
            elif size > by_floor_above:
                unit[k] = (j // per_floor + 1) * 100 + j % per_floor + 1
            else:
                unit[k] = j + 1
            k += 1
    return building, unit


@njit(cache=True, nogil=True)
def below(u, choose, if_true, if_false):
    """``u < np.where(choose, if_true, if_false)`` for uniforms ``u`` and two float rates, in one
    pass without the rates' array; compared in float64, as numpy compares a float32 array with
    the float64 one ``np.where`` makes."""
    out = np.empty(len(u), np.bool_)
    a, b = np.float64(if_true), np.float64(if_false)
    for i in range(len(u)):
        out[i] = np.float64(u[i]) < (a if choose[i] else b)
    return out


@njit(cache=True, nogil=True)
def person_ids(hh_zip, hh_size, person_offset):
    """Each person's identifier, households in area order: the area's national offset plus the
    person's position in the area. numpy: the people per area, their cumulative sum, and
    ``np.repeat(person_offset - first_person, people_per_area) + np.arange(n)``. int64.

    Area by area: its households' sizes summed, then its people numbered in one run (a loop
    over each household's members would end at a mispredicted step once a household)."""
    n = 0
    for h in range(len(hh_size)):
        n += hh_size[h]
    out = np.empty(n, np.int64)
    n_hh = len(hh_size)
    i = 0
    h = 0
    while h < n_hh:
        z = hh_zip[h]
        first = i
        while h < n_hh and hh_zip[h] == z:
            i += hh_size[h]
            h += 1
        base = np.int64(person_offset[np.uint64(z)]) - first     # the area's offset less its first position
        for k in range(first, i):
            out[k] = base + k
    return out


@njit(cache=True, nogil=True, error_model="numpy")      # IEEE division: x / 0 is inf or nan, as in numpy
def geometric_gaps(spent, keep_log, which, most):
    """:func:`sim.world.population.filing_gap` after its logarithms: ``floor(spent / keep_log)``
    (``keep_log[which[i]]``, or ``keep_log[0]`` for every row where ``which`` is empty), nan
    as 0, infinity as ``most``, at most ``most``, as int64; numpy's ``np.floor``,
    ``np.nan_to_num(nan=0, posinf=most)``, ``np.minimum`` and ``astype`` in one pass."""
    out = np.empty(len(spent), np.int64)
    one = len(which) == 0
    cap = np.float64(most)
    lowest = np.float64(-1.7976931348623157e308)       # nan_to_num's -inf: the most negative float
    for i in range(len(spent)):
        g = np.floor(spent[i] / keep_log[np.uint64(0) if one else np.uint64(which[i])])
        if np.isnan(g):
            g = 0.0
        elif g == np.inf:
            g = cap
        elif g == -np.inf:
            g = lowest
        out[i] = np.int64(min(g, cap))
    return out


# ---- people ------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def roles(sizes, u, child_share, partner_share, head, partner, child, relative):
    """Each person's household and role by position (:func:`sim.world.population._people`): the
    head first; the second member a partner (``u < partner_share``) or another adult relative;
    later members children, or adult relatives where ``u >= child_share`` (the shares float32,
    as numpy compares a float32 draw with a Python float). Returns (household, role, how many
    partners, children, relatives).

    In simple passes, none looping over a household's members (whose end, varying with the
    household, is mispredicted about once a household; one such loop took twice as long): each
    household's first member marked and the marks summed into households; everyone a later
    member; then each household's head and second member set; then the roles counted."""
    n = len(u)
    household = np.zeros(n, np.int32)
    k = 0
    for h in range(len(sizes)):
        if sizes[h] > 0:
            household[np.uint64(k)] = 1
            k += sizes[h]
    current = np.int32(-1)
    for i in range(n):
        current += household[i]
        household[i] = current
    role = np.empty(n, np.int8)
    for i in range(n):
        role[i] = relative if u[i] >= child_share else child
    k = 0
    for h in range(len(sizes)):
        s = sizes[h]
        if s > 0:
            role[np.uint64(k)] = head
        if s > 1:
            role[np.uint64(k + 1)] = partner if u[np.uint64(k + 1)] < partner_share else relative
        k += s
    n_partner = 0
    n_child = 0
    n_relative = 0
    for i in range(n):
        r = role[i]
        n_partner += r == partner
        n_child += r == child
        n_relative += r == relative
    return household, role, n_partner, n_child, n_relative


@njit(cache=True, nogil=True)
def ages(household, role, starts, female, head_female, head_age, partner_normal, child_uniform, relative_normal,
         day_of_year, ref_day, head, partner, child):
    """Sex, age and date of birth of each person: heads have their household's draws, partners
    the other sex than the head and the head's age less 2 plus 4 normals, children a uniform
    share of up to 24 years, relatives the head's age plus 10 normals (clipped to 18-99, all in
    float32 as numpy computes them); the date of birth is whole years of age back from
    ``ref_day``, less a day of the year. ``female`` is updated in place. Returns (age, dob).

    Three passes: along the people, each one's age as a child and as a relative, from the next
    draw of each kind (read whatever the role, kept by a select: the roles follow no pattern, and
    a branch on them was mispredicted); then household by household its head and partner (the
    first and second members); then the dates of birth."""
    n = len(household)
    age = np.empty(n, np.float32)
    dob = np.empty(n, np.int32)
    lo, hi = np.float32(18), np.float32(99)
    n_child = len(child_uniform)
    n_relative = len(relative_normal)
    jc = 0
    jr = 0
    for i in range(n):
        r = role[i]
        a = head_age[np.uint64(household[i])]
        cu = child_uniform[min(jc, n_child - 1)] if n_child else np.float32(0)
        rn = relative_normal[min(jr, n_relative - 1)] if n_relative else np.float32(0)
        as_child = cu * min(max(a - np.float32(17), np.float32(1)), np.float32(24))
        as_relative = min(max(a + np.float32(10) * rn, lo), hi)
        is_child = r == child
        age[i] = as_child if is_child else as_relative       # a head's or partner's: set below
        jc += is_child
        jr += (r != child) & (r != partner) & (r != head)
    jp = 0
    for h in range(len(starts)):
        s = np.uint64(starts[h])
        female[s] = head_female[h]
        age[s] = head_age[h]
        t = s + np.uint64(1)
        if t < np.uint64(n) and role[t] == partner:            # partners are second members only
            female[t] = not head_female[h]
            age[t] = min(max((head_age[h] - np.float32(2)) + np.float32(4) * partner_normal[jp], lo), hi)
            jp += 1
    for i in range(n):
        dob[i] = ref_day - np.int32(np.floor(age[i]) * np.float32(365.25)) - day_of_year[i]
    return age, dob


# ---- numbers -----------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _feistel(x, half_bits, keys, inverse):
    """One pass of :func:`sim.world.tin._feistel` (or its inverse) on one value, in 32-bit
    unsigned arithmetic (products wrap modulo 2**32)."""
    m32 = np.uint64(0xFFFFFFFF)
    mask = np.uint64((1 << half_bits) - 1)
    shift = np.uint64(half_bits)
    left = (x >> shift) & mask
    right = x & mask
    nk = len(keys)
    for t in range(nk):
        k = np.uint64(keys[nk - 1 - t] if inverse else keys[t])
        h = _round_hash(left if inverse else right, k)
        if inverse:
            left, right = right ^ (h & mask), left
        else:
            left, right = right, left ^ (h & mask)
    return ((left << shift) | right) & m32


@njit(cache=True, nogil=True, inline="always")
def _round_hash(half, key):
    """A Feistel round's function of one half and the round's key: multiplicative hashing in
    32-bit unsigned arithmetic (products wrap modulo 2**32), as :func:`sim.world.tin._feistel`."""
    m32 = np.uint64(0xFFFFFFFF)
    h = ((half ^ key) * np.uint64(0x9E3779B1)) & m32
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x85EBCA77)) & m32
    return h ^ (h >> np.uint64(13))


@njit(cache=True, nogil=True)
def feistel_walk(x, half_bits, keys, domain, inverse):
    """:func:`sim.world.tin._walk`: each value through the Feistel network (or its inverse)
    until it lies in ``[0, domain)``."""
    out = np.empty(len(x), np.int64)
    d = np.uint64(domain)
    for i in range(len(x)):
        y = _feistel(np.uint64(x[i]) & np.uint64(0xFFFFFFFF), half_bits, keys, inverse)
        while y >= d:
            y = _feistel(y, half_bits, keys, inverse)
        out[i] = np.int64(y)
    return out


@njit(cache=True, nogil=True, inline="always")
def _feistel4(x, half_bits, k0, k1, k2, k3):
    """:func:`_feistel` forward with its four round keys as scalars: no loop over the keys, so a
    loop calling it over many values is vectorized."""
    m32 = np.uint64(0xFFFFFFFF)
    mask = np.uint64((1 << half_bits) - 1)
    shift = np.uint64(half_bits)
    left = (x >> shift) & mask
    right = x & mask
    for k in (k0, k1, k2, k3):
        left, right = right, left ^ (_round_hash(right, k) & mask)
    return ((left << shift) | right) & m32


@njit(cache=True, nogil=True)
def ssn_where(person_id, where, half_bits, keys, domain, areas, out):
    """``out[i]``: the SSN of ``person_id[i]`` where ``where[i]`` (:func:`feistel_walk` then
    :func:`ssn_digits`) for a network of four rounds.

    Three passes: the first Feistel pass for every row, chosen or not (no branch, so it is
    vectorized: 1.5 ms for 1.5 million people, against some 10 ms row by row); then the
    chosen values outside the domain walk on; then the digits, written where chosen."""
    if len(keys) != 4:
        raise ValueError("ssn_where takes the four round keys of tin._round_keys")
    n = len(person_id)
    d = np.uint64(domain)
    k0, k1, k2, k3 = np.uint64(keys[0]), np.uint64(keys[1]), np.uint64(keys[2]), np.uint64(keys[3])
    y = np.empty(n, np.uint32)
    for i in range(n):
        y[i] = np.uint32(_feistel4(np.uint64(person_id[i]) & np.uint64(0xFFFFFFFF), half_bits, k0, k1, k2, k3))
    for i in range(n):
        v = np.uint64(y[i])
        if v >= d and where[i]:
            while v >= d:
                v = _feistel4(v, half_bits, k0, k1, k2, k3)
            y[i] = np.uint32(v)
    for i in range(n):
        ssn = _ssn(np.uint64(y[i]), areas)      # a row not chosen may lie outside the domain: unused
        out[i] = ssn if where[i] else out[i]


@njit(cache=True, nogil=True)
def ssn_digits(k, areas):
    """The SSN of each permuted index (:func:`sim.world.tin.ssn_numbers`)."""
    out = np.empty(len(k), np.int64)
    for i in range(len(k)):
        out[i] = _ssn(np.uint64(k[i]), areas)
    return out


@njit(cache=True, nogil=True, inline="always")
def _ssn(k, areas):
    """The SSN of the permuted index ``k`` (unsigned): area (``areas[k // (99 * 9999)]``), group
    01-99 and serial 0001-9999 as one 9-digit integer. An index beyond the domain takes the
    last area, so it reads no memory outside ``areas``."""
    area = k // np.uint64(99 * 9999)
    rest = k - area * np.uint64(99 * 9999)
    group = rest // np.uint64(9999)
    serial = rest - group * np.uint64(9999)
    return (areas[np.int64(min(area, np.uint64(len(areas) - 1)))] * 1_000_000
            + np.int64(group + np.uint64(1)) * 10_000 + np.int64(serial + np.uint64(1)))


# ---- households and dwellings ------------------------------------------------------------------


@njit(cache=True, nogil=True)
def searchsorted_small(cdf, u, add):
    """``np.searchsorted(cdf, u, side="right").clip(max=len(cdf) - 1) + add`` for a short
    ``cdf`` (a count of its edges at or below each draw; every ``u`` a number, not NaN)."""
    out = np.empty(len(u), np.int64)
    last = len(cdf) - 1
    for i in range(len(u)):
        x = u[i]
        k = 0
        for j in range(last):           # a count, not a scan that stops: no branch on the draw
            k += cdf[j] <= x            # (the cdf ascends, so the count is the scan's stop)
        out[i] = k + add
    return out


@njit(cache=True, nogil=True)
def merge_households(g_cell, g_size, n_races, race_pool, r_zip, r_origin, r_pool, r_size, general):
    """:func:`sim.world.population._households`' two lists merged in area order, an area's
    general households (``g_cell``: area * ``n_races`` + race; their pool ``race_pool[race]``,
    origin ``general``) before its requested ones; both lists are in area order. Returns (zip
    int32, pool int8, origin int8, size int64, requested). numpy: each list's places from
    counts (``np.arange`` plus the other list's households in earlier areas) and four
    scatters."""
    n_g = len(g_cell)
    n_r = len(r_zip)
    n = n_g + n_r
    zip_ = np.empty(n, np.int32)
    pool = np.empty(n, np.int8)
    origin = np.empty(n, np.int8)
    size = np.empty(n, np.int64)
    requested = np.empty(n, np.bool_)
    i = 0
    j = 0
    for k in range(n):
        if j >= n_r or (i < n_g and g_cell[i] // n_races <= r_zip[j]):
            c = g_cell[i]
            zip_[k] = c // n_races
            pool[k] = race_pool[c % n_races]
            origin[k] = general
            size[k] = g_size[i]
            requested[k] = False
            i += 1
        else:
            zip_[k] = r_zip[j]
            pool[k] = r_pool[j]
            origin[k] = r_origin[j]
            size[k] = r_size[j]
            requested[k] = True
            j += 1
    return zip_, pool, origin, size, requested


@njit(cache=True, nogil=True)
def doubled_up(requested, u, share, hh_zip, n_zip):
    """:func:`sim.world.population._double_up`'s guests: requested households whose draw ``u``
    is below ``share``, in an area with a household that stays in its own unit. Returns
    (guests as a mask, hosts per area: the households not drawn)."""
    n = len(u)
    doubled = np.empty(n, np.bool_)
    hosts_per_zip = np.zeros(n_zip, np.int64)
    for h in range(n):
        d = requested[h] & (u[h] < share)
        doubled[h] = d
        hosts_per_zip[np.uint64(hh_zip[h])] += 1 - d
    for h in range(n):
        doubled[h] &= hosts_per_zip[np.uint64(hh_zip[h])] > 0
    return doubled, hosts_per_zip


@njit(cache=True, nogil=True)
def host_dwellings(doubled, hosts_per_zip, hh_zip, hh_pool, n_pools, u, hh_dwelling):
    """Each guest of ``doubled`` (in order; ``u`` its uniform) moved into a host's dwelling
    (``hh_dwelling``, in place): a host of its own community (area and naming pool) where the
    area has one, placed by ``u`` among the community's hosts, otherwise among the area's. The
    hosts are the households not drawn (:func:`doubled_up`), each community's in order. numpy:
    the hosts, a stable argsort of their communities, two counts and cumulative sums, and
    gathers."""
    n = len(doubled)
    n_zip = len(hosts_per_zip)
    n_comm = n_zip * n_pools
    per_community = np.zeros(n_comm + 1, np.int64)
    first_host = np.zeros(n_zip + 1, np.int64)
    for z in range(n_zip):
        first_host[z + 1] = first_host[z] + hosts_per_zip[z]
    n_hosts = first_host[n_zip]
    hosts = np.empty(n_hosts, np.int64)
    k = 0
    for h in range(n):
        if not doubled[h] and hosts_per_zip[np.uint64(hh_zip[h])] > 0:     # not drawn: a host
            hosts[k] = h
            k += 1
            per_community[np.uint64(hh_zip[h] * n_pools + hh_pool[h] + 1)] += 1
    for c in range(n_comm):
        per_community[c + 1] += per_community[c]       # now each community's first host
    fill = per_community[:n_comm].copy()
    by_community = np.empty(n_hosts, np.int64)
    for k in range(n_hosts):
        h = hosts[k]
        c = np.uint64(hh_zip[h] * n_pools + hh_pool[h])
        by_community[fill[c]] = h
        fill[c] += 1
    g = 0
    for h in range(n):
        if doubled[h]:
            z = np.uint64(hh_zip[h])
            c = np.uint64(hh_zip[h] * n_pools + hh_pool[h])
            same = per_community[c + np.uint64(1)] - per_community[c]
            if same > 0:
                host = by_community[min(per_community[c] + np.int64(u[g] * same), n_hosts - 1)]
            else:
                host = hosts[first_host[z] + np.int64(u[g] * hosts_per_zip[z])]
            hh_dwelling[h] = hh_dwelling[host]
            g += 1


@njit(cache=True, nogil=True)
def cut_cells(sizes, totals):
    """:func:`sim.world.population._cut` after its draws: the running sums of ``sizes`` below
    the total and the cells' ends merged (each cut once), as (cell of each group, its size)."""
    total = 0
    for c in range(len(totals)):
        total += totals[c]
    cell_ends = np.empty(len(totals), np.int64)
    acc = 0
    for c in range(len(totals)):
        acc += totals[c]
        cell_ends[c] = acc
    # the cuts: a merge of two ascending runs, each value once
    cuts = np.empty(len(sizes) + len(totals), np.int64)
    m = 0
    s = 0                                # the next size, and e the running sum through it
    c = 0                                # the next cell
    e = sizes[0] if len(sizes) else total
    while True:
        a = e if (s < len(sizes) and e < total) else total + 1
        while c < len(totals) and totals[c] == 0:
            c += 1
        b = cell_ends[c] if c < len(totals) else total + 1
        if a > total and b > total:
            break
        v = min(a, b)
        if m == 0 or cuts[m - 1] != v:
            cuts[m] = v
            m += 1
        if a == v:
            s += 1
            if s < len(sizes):
                e += sizes[s]
        if b == v:
            c += 1
    cell = np.empty(m, np.int64)
    size = np.empty(m, np.int64)
    start = 0
    k = 0
    for i in range(m):
        while k < len(cell_ends) and cell_ends[k] <= start:
            k += 1
        cell[i] = k
        size[i] = cuts[i] - start
        start = cuts[i]
    return cell, size


@njit(cache=True, nogil=True)
def counting_order(keys, n_keys):
    """``np.argsort(keys, kind="stable")`` for keys in ``[0, n_keys)``: a count per key, then
    each position placed after the earlier ones of its key."""
    first = np.zeros(n_keys + 1, np.int64)
    for i in range(len(keys)):
        first[np.uint64(keys[i]) + np.uint64(1)] += 1
    for k in range(n_keys):
        first[k + 1] += first[k]
    out = np.empty(len(keys), np.int64)
    for i in range(len(keys)):
        k = np.uint64(keys[i])
        out[first[k]] = i
        first[k] += 1
    return out


@njit(cache=True, nogil=True)
def rank_counting(keys, n_keys):
    """0-based position of each element among equal keys, in array order, for keys in
    ``[0, n_keys)``: a count per key, one pass."""
    seen = np.zeros(n_keys, np.int64)
    out = np.empty(len(keys), np.int64)
    for i in range(len(keys)):
        k = keys[i]
        out[i] = seen[k]
        seen[k] += 1
    return out


@njit(cache=True, nogil=True)
def order_within_areas(area, u):
    """The order of ``area + u`` (``area`` ascending, each ``u`` in [0, 1)), area by area, each
    area's keys by a bucket sort on ``u`` (the key grows with ``u``) and an insertion sort within
    a bucket. Returns (order, ok): ``ok`` is false where two keys tie or two areas' keys overlap
    (a sum rounded up to the next area), where the order could depend on the sort, and the caller
    sorts all the keys instead."""
    n = len(area)
    out = np.empty(n, np.int64)
    keys = np.empty(n, np.float64)
    bucket = np.empty(n, np.int64)
    for i in range(n):
        keys[i] = np.float64(area[i]) + u[i]
    first = np.zeros(n + 1, np.int64)
    fill = np.zeros(n + 1, np.int64)
    start = 0
    previous_top = -np.inf
    while start < n:
        stop = start + 1
        while stop < n and area[stop] == area[start]:
            stop += 1
        size = stop - start
        for b in range(size + 1):
            first[b] = 0
        for i in range(start, stop):
            b = min(np.int64(u[i] * size), size - 1)
            bucket[i] = b
            first[b + 1] += 1
        for b in range(size):
            first[b + 1] += first[b]
        for b in range(size):
            fill[b] = first[b]
        for i in range(start, stop):
            b = bucket[i]
            lo = start + first[b]
            j = start + fill[b]
            fill[b] += 1
            while j > lo and keys[out[j - 1]] > keys[i]:      # insertion into the bucket's sorted run
                out[j] = out[j - 1]
                j -= 1
            out[j] = i
        if keys[out[start]] <= previous_top:
            return out, False
        for t in range(start + 1, stop):
            if keys[out[t]] == keys[out[t - 1]]:
                return out, False
        previous_top = keys[out[stop - 1]]
        start = stop
    return out, True


# ---- the master file ---------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def on_file(u, requested, hh_origin, household, age, general, rate_requested, rate_household, rate_adult, rate_child):
    """Who is on the master file: each person's draw ``u`` (float32) below their rate (float64,
    as numpy compares a float32 array with np.select's float64 one): a requested person's, an
    adult of a requested household's, any other adult's, a 16- or 17-year-old's, else 0.
    Returns (on file, of a requested household, adult)."""
    n = len(u)
    out = np.empty(n, np.bool_)
    requested_hh = np.empty(n, np.bool_)
    adult = np.empty(n, np.bool_)
    for i in range(n):
        rq = hh_origin[np.uint64(household[i])] != general
        ad = age[i] >= 18
        requested_hh[i] = rq
        adult[i] = ad
        # the rate by selects, not branches on the person (mispredicted at random)
        rate = rate_child if age[i] >= 16 else 0.0
        rate = rate_adult if ad else rate
        rate = rate_household if rq & ad else rate
        rate = rate_requested if requested[i] else rate
        out[i] = np.float64(u[i]) < rate
    return out, requested_hh, adult


@njit(cache=True, nogil=True)
def on_file_rows(on_file, household, hh_start, person_id, person_tin, dob, requested, tax_year, lka_current, lka_age,
                 lka_dwelling, n_dwellings):
    """The people on file and what the master file takes from them and their households, in
    one pass: (positions of the people on file, their households, their person ids, their
    households' ids (the head's person id, as
    :meth:`sim.world.population.Population.household_id`), TINs, dates of birth, requested,
    their households' ``tax_year``, ``lka_current`` and ``lka_age``; then the dwellings on file
    (each dwelling some household on file lists, in order) and each row's place among them).

    numpy: ``rows = np.flatnonzero(on_file)``; ``person_id[rows]``,
    ``person_id[hh_start[hh[rows]]]``, ``person_tin[rows]``, ``dob[rows]``, ``requested[rows]``,
    ``tax_year[hh[rows]]`` and so on; then the dwellings ``lka_dwelling[hh[rows]]`` marked in a
    mask, ``np.flatnonzero(mask)`` and each row's ``(np.cumsum(mask) - 1)`` at its dwelling.
    Positions in the block (rows, households, dwellings) are int32: their consumers gather
    with compiled loops or Arrow, which take them as they are, and they are half the bytes."""
    m = 0
    for i in range(len(on_file)):
        m += on_file[i]
    rows = np.empty(m, np.int32)             # positions in a block: int32, half the bytes to move
    hh_rows = np.empty(m, np.int32)
    ids = np.empty(m, np.int64)
    household_ids = np.empty(m, np.int64)
    tins = np.empty(m, np.int64)
    dob_rows = np.empty(m, np.int32)
    requested_rows = np.empty(m, np.bool_)
    year_rows = np.empty(m, tax_year.dtype)
    current_rows = np.empty(m, np.bool_)
    age_rows = np.empty(m, lka_age.dtype)
    dwelling_rows = np.empty(m, np.int32)
    listed = np.zeros(n_dwellings, np.int32)        # 1 + the dwelling's place among those on file
    u64 = np.uint64                          # indices read from arrays as unsigned: no
    k = 0                                    # wraparound test on each access
    for i in range(len(on_file)):
        if not on_file[i]:
            continue
        h = u64(household[i])
        rows[k] = i
        hh_rows[k] = h
        ids[k] = person_id[i]
        household_ids[k] = person_id[u64(hh_start[h])]
        tins[k] = person_tin[i]
        dob_rows[k] = dob[i]
        requested_rows[k] = requested[i]
        year_rows[k] = tax_year[h]
        current_rows[k] = lka_current[h]
        age_rows[k] = lka_age[h]
        d = lka_dwelling[h]
        dwelling_rows[k] = d
        listed[u64(d)] = 1
        k += 1
    n_listed = 0
    for d in range(n_dwellings):
        if listed[d]:
            n_listed += 1
            listed[d] = n_listed
    dw_on_file = np.empty(n_listed, np.int32)
    for d in range(n_dwellings):
        if listed[d]:
            dw_on_file[u64(listed[d] - 1)] = d
    dw_index = np.empty(m, np.int32)
    for k in range(m):
        dw_index[k] = listed[u64(dwelling_rows[k])] - 1
    return rows, hh_rows, ids, household_ids, tins, dob_rows, requested_rows, year_rows, current_rows, age_rows, dw_on_file, dw_index


@njit(cache=True, nogil=True)
def middle_initials(u, rate, letters):
    """``np.where(u < rate, letters, -1)`` (``u`` and ``rate`` float32)."""
    out = np.empty(len(u), np.int8)
    for i in range(len(u)):
        out[i] = letters[i] if u[i] < rate else -1
    return out


@njit(cache=True, nogil=True)
def last_known(gap, january, gap_lo, u_day, u_report, offsets, spell_in, spell_dwelling, hh_dwelling, ref_day,
               ncoa_from, ncoa_rate):
    """:func:`sim.world.master_file.last_known_addresses` after its draws: the day the last
    return was processed (``u_day`` places it between February 1 and the end of May after the
    tax year, ``january[gap - gap_lo]`` that year's January 1, never after ``ref_day``), the home
    that day, or a later move the IRS learned from USPS (moved on or after ``ncoa_from`` and
    reported, ``u_report < ncoa_rate``). Returns (day learned, dwelling)."""
    n = len(gap)
    day = np.empty(n, np.int64)
    dwelling = np.empty(n, hh_dwelling.dtype)
    for h in range(n):
        first = january[gap[h] - gap_lo] + 31
        last = january[gap[h] - gap_lo] + 150
        processed = min(first + np.int64(u_day[h] * (last - first + 1)), ref_day)
        newest = offsets[h + 1] - 1
        moved_in = np.int64(spell_in[newest])
        if moved_in > processed and moved_in >= ncoa_from and u_report[h] < ncoa_rate:
            day[h] = moved_in
            dwelling[h] = hh_dwelling[h]
        else:
            j = newest
            while j > offsets[h] and spell_in[j] > processed:
                j -= 1
            day[h] = processed
            dwelling[h] = spell_dwelling[j]
    return day, dwelling
