"""numpy's PCG64 stream, compiled: the same numbers as ``Generator.random`` and
``Generator.integers``, drawn in a compiled loop and left in the generator's state as numpy
leaves it.

World generation spends a fifth of its time drawing. numpy's PCG64 takes 2.2 ns a float64 and
1.8 a float32 on the project's machine (a float32 is half a 64-bit draw): a call through the
bit generator's function pointer for every number, each 128-bit step waiting for the one
before. Compiled into one loop that runs four lanes of the same stream (:func:`_lanes`), a
float64 takes 1.4 ns and a float32 0.8; a bounded integer 1.5-1.7 against 2.3-2.8. The numbers
are numpy's, bit for bit
(``tests/test_pcg64.py`` checks each function against numpy's, the generator's state after it
included, at sizes odd and even and across numpy's buffered 32-bit half):

* the generator: PCG64 (XSL-RR 128/64) as ``numpy/random/src/pcg64/pcg64.h``: the 128-bit
  state times the multiplier plus the increment, then the high and low halves xored and
  rotated by the top six bits. A 32-bit draw is the low half of a 64-bit one, its high half
  kept for the next (``has_uint32``, ``uinteger``), which a 64-bit draw leaves alone;
* ``random``: float64 ``(next64 >> 11) * 2**-53``; float32 ``(next32 >> 8) * 2**-24``;
* ``integers`` below ``2**32`` values: Lemire's multiply-and-reject on 32-bit draws; int8 on the
  four bytes of a 32-bit draw, low first, the bytes left over dropped at the end of the call
  (``random_bounded_uint8_fill`` and ``buffered_bounded_lemire_uint8`` of
  ``numpy/random/src/distributions/distributions.c``).

Any other generator, size or type is passed to numpy. :class:`Draws` wraps a generator so that
code written against numpy's ``Generator`` draws through these loops unchanged.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

#: PCG64's multiplier (numpy's PCG_DEFAULT_MULTIPLIER_128).
MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645
_M_HI = np.uint64(MULTIPLIER >> 64)
_M_LO = np.uint64(MULTIPLIER & (2**64 - 1))
_MASK64 = 2**64 - 1

# the state as the compiled loops hold it: a uint64 array
_S_HI, _S_LO, _INC_HI, _INC_LO, _HAS32, _HALF = range(6)


@intrinsic
def _mul_add_128(typingctx, a_hi, a_lo, b_hi, b_lo, c_hi, c_lo):
    """(a * b + c) mod 2**128 of three numbers given as (high, low) uint64 halves: LLVM's
    128-bit integers, which numba's types lack."""
    u64 = types.uint64
    sig = types.UniTuple(u64, 2)(u64, u64, u64, u64, u64, u64)

    def codegen(context, builder, signature, args):
        i128, i64 = ir.IntType(128), ir.IntType(64)

        def wide(hi, lo):
            return builder.or_(builder.shl(builder.zext(hi, i128), ir.Constant(i128, 64)), builder.zext(lo, i128))

        r = builder.add(builder.mul(wide(args[0], args[1]), wide(args[2], args[3])), wide(args[4], args[5]))
        hi = builder.trunc(builder.lshr(r, ir.Constant(i128, 64)), i64)
        lo = builder.trunc(r, i64)
        return context.make_tuple(builder, signature.return_type, [hi, lo])

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def _output(hi, lo):
    """PCG64's output of a state: its halves xored, rotated right by its top six bits."""
    x = hi ^ lo
    r = hi >> np.uint64(58)
    return (x >> r) | (x << ((np.uint64(64) - r) & np.uint64(63)))


@njit(cache=True, nogil=True, inline="always")
def _next64(st):
    """One step of the state, then its output (``pcg64_random_r``)."""
    hi, lo = _mul_add_128(st[_S_HI], st[_S_LO], _M_HI, _M_LO, st[_INC_HI], st[_INC_LO])
    st[_S_HI] = hi
    st[_S_LO] = lo
    return _output(hi, lo)


@njit(cache=True, nogil=True, inline="always")
def _next32(st):
    """The high half kept from the last 64-bit draw, else the low half of a new one
    (``pcg64_next32``)."""
    if st[_HAS32]:
        st[_HAS32] = 0
        return np.uint32(st[_HALF])
    x = _next64(st)
    st[_HAS32] = 1
    st[_HALF] = x >> np.uint64(32)
    return np.uint32(x & np.uint64(0xFFFFFFFF))


# Four lanes: the states 1, 2, 3 and 4 steps on, each then advanced 4 steps at a time (the
# multiplier to the fourth power, the increment times M**3 + M**2 + M + 1). Each step waits for
# the one before (a 128-bit multiply), so one lane leaves the multiplier idle; four overlap,
# and give the same numbers in the same order. A quarter less time a float64.
_M4 = pow(MULTIPLIER, 4, 2**128)
_M4_HI = np.uint64(_M4 >> 64)
_M4_LO = np.uint64(_M4 & _MASK64)


@njit(cache=True, nogil=True, inline="always")
def _lanes(st):
    inc_hi, inc_lo = st[_INC_HI], st[_INC_LO]
    h0, l0 = _mul_add_128(st[_S_HI], st[_S_LO], _M_HI, _M_LO, inc_hi, inc_lo)
    h1, l1 = _mul_add_128(h0, l0, _M_HI, _M_LO, inc_hi, inc_lo)
    h2, l2 = _mul_add_128(h1, l1, _M_HI, _M_LO, inc_hi, inc_lo)
    h3, l3 = _mul_add_128(h2, l2, _M_HI, _M_LO, inc_hi, inc_lo)
    c_hi, c_lo = inc_hi, inc_lo
    for _ in range(3):
        c_hi, c_lo = _mul_add_128(c_hi, c_lo, _M_HI, _M_LO, inc_hi, inc_lo)
    return h0, l0, h1, l1, h2, l2, h3, l3, c_hi, c_lo


@njit(cache=True, nogil=True, inline="always")
def _advance4(h0, l0, h1, l1, h2, l2, h3, l3, c_hi, c_lo):
    """Each of the four lanes (:func:`_lanes`) four steps on."""
    h0, l0 = _mul_add_128(h0, l0, _M4_HI, _M4_LO, c_hi, c_lo)
    h1, l1 = _mul_add_128(h1, l1, _M4_HI, _M4_LO, c_hi, c_lo)
    h2, l2 = _mul_add_128(h2, l2, _M4_HI, _M4_LO, c_hi, c_lo)
    h3, l3 = _mul_add_128(h3, l3, _M4_HI, _M4_LO, c_hi, c_lo)
    return h0, l0, h1, l1, h2, l2, h3, l3


@njit(cache=True, nogil=True, inline="always")
def _double(x):
    return np.float64(x >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, inline="always")
def _single(x32):
    return np.float32(x32 >> np.uint32(8)) * np.float32(1.0 / 16777216.0)


@njit(cache=True, nogil=True)
def _fill_f64(st, out):
    n = len(out)
    i = 0
    if n >= 8:
        h0, l0, h1, l1, h2, l2, h3, l3, c_hi, c_lo = _lanes(st)
        while True:
            out[i] = _double(_output(h0, l0))
            out[i + 1] = _double(_output(h1, l1))
            out[i + 2] = _double(_output(h2, l2))
            out[i + 3] = _double(_output(h3, l3))
            i += 4
            if i + 4 > n:
                break
            h0, l0, h1, l1, h2, l2, h3, l3 = _advance4(h0, l0, h1, l1, h2, l2, h3, l3, c_hi, c_lo)
        st[_S_HI] = h3                        # the state of the last number drawn
        st[_S_LO] = l3
    for k in range(i, n):
        out[k] = _double(_next64(st))


@njit(cache=True, nogil=True, inline="always")
def _put_pair(out, i, x):
    """Two float32 from one 64-bit draw: its low half, then its high half."""
    out[i] = _single(np.uint32(x & np.uint64(0xFFFFFFFF)))
    out[i + 1] = _single(np.uint32(x >> np.uint64(32)))


@njit(cache=True, nogil=True)
def _fill_f32(st, out):
    n = len(out)
    i = 0
    if n and st[_HAS32]:                      # the half left from before
        out[0] = _single(_next32(st))
        i = 1
    last = np.uint64(0)                       # the last 64-bit draw split in two
    if n - i >= 16:
        h0, l0, h1, l1, h2, l2, h3, l3, c_hi, c_lo = _lanes(st)
        while True:
            _put_pair(out, i, _output(h0, l0))
            _put_pair(out, i + 2, _output(h1, l1))
            _put_pair(out, i + 4, _output(h2, l2))
            last = _output(h3, l3)
            _put_pair(out, i + 6, last)
            i += 8
            if i + 8 > n:
                break
            h0, l0, h1, l1, h2, l2, h3, l3 = _advance4(h0, l0, h1, l1, h2, l2, h3, l3, c_hi, c_lo)
        st[_S_HI] = h3
        st[_S_LO] = l3
    while i + 1 < n:
        last = _next64(st)
        _put_pair(out, i, last)
        i += 2
    if i >= 2:
        st[_HALF] = last >> np.uint64(32)     # numpy keeps the high half it handed out, as spent
    if i < n:
        out[i] = _single(_next32(st))


@njit(cache=True, nogil=True)
def _fill_bounded32(st, off, rng, out):
    """``off`` plus Lemire's draw in ``[0, rng]`` (``rng`` below ``2**32 - 1``)."""
    excl = np.uint64(rng) + np.uint64(1)
    threshold = (np.uint64(0xFFFFFFFF) - np.uint64(rng)) % excl
    for i in range(len(out)):
        m = np.uint64(_next32(st)) * excl
        left = m & np.uint64(0xFFFFFFFF)
        if left < excl:
            while left < threshold:
                m = np.uint64(_next32(st)) * excl
                left = m & np.uint64(0xFFFFFFFF)
        out[i] = off + np.int64(m >> np.uint64(32))


@njit(cache=True, nogil=True)
def _fill_bounded8(st, off, rng, out):
    """``off`` plus Lemire's draw in ``[0, rng]`` (``rng`` below 255) on 8-bit numbers, the four
    bytes of each 32-bit draw in turn, low first; a new 32-bit draw only while numbers are
    missing (numpy's buffer, local to the call). ``out`` must have 3 spare places past the
    ``n`` filled: a byte's number is written whether kept or not, and the count moves on only
    if it is kept (a branch on it was mispredicted at every rejection)."""
    excl = np.uint32(rng) + np.uint32(1)
    threshold = (np.uint32(255) - np.uint32(rng)) % excl     # numpy tests left < excl first: the same
    n = len(out) - 3
    i = 0
    while i < n:
        word = _next32(st)
        for b in range(4):
            m = ((word >> np.uint32(8 * b)) & np.uint32(0xFF)) * excl      # at most 16 bits
            out[i] = off + np.int64(m >> np.uint32(8))
            i += (m & np.uint32(0xFF)) >= threshold


def _state(rng: np.random.Generator) -> np.ndarray | None:
    """The generator's state as the compiled loops hold it, or None for another bit generator."""
    if type(rng.bit_generator) is not np.random.PCG64:
        return None
    s = rng.bit_generator.state
    state, inc = s["state"]["state"], s["state"]["inc"]
    return np.array([state >> 64, state & _MASK64, inc >> 64, inc & _MASK64, s["has_uint32"], s["uinteger"]], np.uint64)


def _put_back(rng: np.random.Generator, st: np.ndarray) -> None:
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": (int(st[_S_HI]) << 64) | int(st[_S_LO]), "inc": (int(st[_INC_HI]) << 64) | int(st[_INC_LO])},
        "has_uint32": int(st[_HAS32]), "uinteger": int(st[_HALF]),
    }


def random(rng: np.random.Generator, n: int, dtype=np.float64) -> np.ndarray:
    """``rng.random(n, dtype=dtype)``."""
    dtype = np.dtype(dtype)
    st = _state(rng)
    if st is None or dtype not in (np.float64, np.float32):
        return rng.random(n, dtype=dtype)
    out = np.empty(n, dtype)
    (_fill_f64 if dtype == np.float64 else _fill_f32)(st, out)
    _put_back(rng, st)
    return out


def integers(rng: np.random.Generator, low: int, high: int, n: int, dtype=np.int64) -> np.ndarray:
    """``rng.integers(low, high, n, dtype=dtype)`` for Python ints ``low < high``."""
    dtype = np.dtype(dtype)
    span = int(high) - int(low) - 1                          # numpy's rng: the largest offset
    st = _state(rng)
    wide = dtype in (np.int64, np.int32) and 0 < span < 0xFFFFFFFF
    narrow = dtype == np.int8 and 0 < span < 0xFF
    if st is None or not (wide or narrow) or not (np.iinfo(dtype).min <= low and high - 1 <= np.iinfo(dtype).max):
        return rng.integers(low, high, n, dtype=dtype)
    if wide:
        out = np.empty(n, dtype)
        _fill_bounded32(st, int(low), span, out)
    else:
        out = np.empty(n + 3, dtype)[:n]                    # three spare places (_fill_bounded8)
        _fill_bounded8(st, int(low), span, out.base)
    _put_back(rng, st)
    return out


#: Fewer numbers than this are drawn by numpy: reading and writing the generator's state costs
#: a few microseconds a call.
COMPILED_FROM = 2048


class Draws:
    """A numpy ``Generator`` whose ``random`` and ``integers`` draw arrays of
    :data:`COMPILED_FROM` numbers or more in the compiled loops above: the same numbers, and the
    generator's state after each call as numpy leaves it, so every other method (normals,
    exponentials, ...) is the generator's own, called on it in turn."""

    def __init__(self, generator: np.random.Generator):
        self.generator = generator

    def random(self, size=None, dtype=np.float64, out=None):
        if out is None and isinstance(size, (int, np.integer)) and size >= COMPILED_FROM:
            return random(self.generator, int(size), dtype)
        return self.generator.random(size, dtype=dtype, out=out)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        if (high is not None and not endpoint and isinstance(size, (int, np.integer)) and size >= COMPILED_FROM
                and all(isinstance(v, (int, np.integer)) for v in (low, high)) and low < high):
            return integers(self.generator, int(low), int(high), int(size), dtype)
        return self.generator.integers(low, high, size, dtype=dtype, endpoint=endpoint)

    def __getattr__(self, name):
        return getattr(self.generator, name)
