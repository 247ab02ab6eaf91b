"""sim.common.pcg64 against numpy's own Generator: the same numbers and the same state after
each call, bit for bit, at odd and even sizes, across the buffered 32-bit half, and with ranges
that reject often."""

from __future__ import annotations

import numpy as np
import pytest

from sim.common import pcg64

SIZES = (0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 18, 33, 1001)   # about the four lanes: 8 float64, 16 float32


def _pair(seed):
    return np.random.Generator(np.random.PCG64(seed)), np.random.Generator(np.random.PCG64(seed))


def _same_state(a, b):
    assert a.bit_generator.state == b.bit_generator.state


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", [0, 1, 2**63 + 7])
def test_random_equals_numpy(dtype, seed):
    ours, numpys = _pair(seed)
    for n in SIZES + SIZES[::-1]:
        got, want = pcg64.random(ours, n, dtype), numpys.random(n, dtype=dtype)
        assert got.dtype == want.dtype and np.array_equal(got, want)
        _same_state(ours, numpys)


@pytest.mark.parametrize("low, high, dtype", [
    (0, 365, np.int32), (0, 26, np.int8), (1, 10_000, np.int64), (0, 2, np.int64), (1, 99, np.int64),
    (-3, 4, np.int8), (-100, 100, np.int8), (5, 2**31 + 6, np.int64), (-(2**31), 2**31 - 2, np.int64),
])
def test_integers_equal_numpy(low, high, dtype):
    """Ranges that reject often too: 200 of 256 bytes, 2**31 + 1 of 2**32 numbers."""
    ours, numpys = _pair(abs(low * 7 + high))
    for n in SIZES + SIZES[::-1]:
        got, want = pcg64.integers(ours, low, high, n, dtype), numpys.integers(low, high, n, dtype=dtype)
        assert got.dtype == want.dtype and np.array_equal(got, want)
        _same_state(ours, numpys)


def test_interleaved_calls_keep_numpys_state():
    """float32 draws leave a 32-bit half for the next 32-bit draw, which float64 draws skip:
    every order of calls gives numpy's numbers."""
    ours, numpys = _pair(11)
    plan = np.random.default_rng(3)
    calls = [
        (lambda g, n: pcg64.random(g, n, np.float32), lambda g, n: g.random(n, dtype=np.float32)),
        (lambda g, n: pcg64.random(g, n), lambda g, n: g.random(n)),
        (lambda g, n: pcg64.integers(g, 0, 365, n, np.int32), lambda g, n: g.integers(0, 365, n, dtype=np.int32)),
        (lambda g, n: pcg64.integers(g, 0, 26, n, np.int8), lambda g, n: g.integers(0, 26, n, dtype=np.int8)),
        (lambda g, n: g.standard_normal(n, dtype=np.float32), lambda g, n: g.standard_normal(n, dtype=np.float32)),
    ]
    for _ in range(300):
        mine, theirs = calls[plan.integers(len(calls))]
        n = int(plan.integers(0, 6))
        assert np.array_equal(mine(ours, n), theirs(numpys, n))
        _same_state(ours, numpys)


def test_other_generators_and_types_are_numpys():
    """Another bit generator, a type or a range the compiled loops do not draw: numpy's call."""
    a, b = np.random.Generator(np.random.MT19937(4)), np.random.Generator(np.random.MT19937(4))
    assert np.array_equal(pcg64.random(a, 10), b.random(10))
    assert np.array_equal(pcg64.integers(a, 0, 9, 10, np.int32), b.integers(0, 9, 10, dtype=np.int32))
    ours, numpys = _pair(5)
    for low, high, dtype in ((0, 2**40, np.int64), (0, 1, np.int64), (0, 7, np.int16), (0, 256, np.int64)):
        assert np.array_equal(pcg64.integers(ours, low, high, 9, dtype), numpys.integers(low, high, 9, dtype=dtype))
        _same_state(ours, numpys)


def test_draws_is_the_generator_it_wraps():
    """Draws: numpy's numbers from every method, compiled or not, and one shared state."""
    wrapped, numpys = _pair(21)
    d = pcg64.Draws(wrapped)
    sizes = (5, pcg64.COMPILED_FROM, 3 * pcg64.COMPILED_FROM + 1)
    for n in sizes:
        assert np.array_equal(d.random(n, dtype=np.float32), numpys.random(n, dtype=np.float32))
        assert np.array_equal(d.random(n), numpys.random(n))
        assert np.array_equal(d.integers(0, 26, n, dtype=np.int8), numpys.integers(0, 26, n, dtype=np.int8))
        assert np.array_equal(d.integers(1, 10_000, n), numpys.integers(1, 10_000, n))
        assert np.array_equal(d.standard_normal(n, dtype=np.float32), numpys.standard_normal(n, dtype=np.float32))
        assert np.array_equal(d.exponential(1.0, n), numpys.exponential(1.0, n))
        _same_state(wrapped, numpys)
    assert d.random() == numpys.random()
    assert np.array_equal(d.random((3, 2)), numpys.random((3, 2)))
    assert np.array_equal(d.integers(5, size=9), numpys.integers(5, size=9))
    assert np.array_equal(d.integers(0, 6, 9, endpoint=True), numpys.integers(0, 6, 9, endpoint=True))
    _same_state(wrapped, numpys)
