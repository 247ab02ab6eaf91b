"""Addresses as strings: the IRS's structured last known address and ICE's free-text EARM_ADDRESS.

Both are assembled column-wise with Arrow compute from integer codes (street, house number,
unit); no per-row Python except for the keyboard errors, which touch only the few rows chosen.
The IRS side uses USPS Publication 28 standard forms (``123 N MAIN ST APT 5``); the ICE side
renders one address *class* per request and varies the formatting as real data does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config import AddressClasses
from sim.world import kernels
from sim.world.population import Population
from sim.world.vocab import Vocabulary

# ICE's address quality classes, in the order of the config's table (the one place they are named).
#: The classes of ICE's address in the truth (``truth_address_class``): the configured quality
#: classes, and ``out_of_date``, a complete address of a home the person left after ICE recorded
#: it, an outcome of the residence history rather than a share.
ADDRESS_CLASSES = (*AddressClasses.model_fields, "out_of_date")
KEYBOARD_NEIGHBOURS = {
    "A": "QSZ", "B": "VGHN", "C": "XDFV", "D": "SERFCX", "E": "WSDR", "F": "DRTGVC", "G": "FTYHBV",
    "H": "GYUJNB", "I": "UJKO", "J": "HUIKMN", "K": "JIOLM", "L": "KOP", "M": "NJK", "N": "BHJM",
    "O": "IKLP", "P": "OL", "Q": "WA", "R": "EDFT", "S": "AWEDXZ", "T": "RFGY", "U": "YHJI",
    "V": "CFGB", "W": "QASE", "X": "ZSDC", "Y": "TGHU", "Z": "ASX",
}


def _s(values) -> pa.Array:
    return pa.array(values, pa.string())


_TABLES: dict[str, pa.Array] = {}


def lookup(kind: str, size: int) -> pa.Array:
    """Cached string tables indexed by integer: ``int`` -> "0".."N", ``apt`` -> "APT 0".."APT N",
    ``zip4`` -> "0000".."9999". Turning integers into text is then one ``take``."""
    table = _TABLES.get(kind)
    if table is None or len(table) < size:
        size = max(size, 2 * len(table) if table is not None else 1024)
        if kind == "int":
            table = _s([str(i) for i in range(size)])
        elif kind == "apt":
            table = _s([f"APT {i}" for i in range(size)])
        elif kind == "zip4":
            table = _s([f"{i:04d}" for i in range(10_000)])
        else:
            raise ValueError(kind)
        _TABLES[kind] = table
    return table


def take(table: pa.Array, codes: np.ndarray, *, null_below: int | None = None) -> pa.Array:
    """``table[codes]`` as an Arrow string array; codes below ``null_below`` become null."""
    codes = np.asarray(codes)
    if null_below is None:
        return table.take(pa.array(codes))
    return table.take(pa.array(np.maximum(codes, null_below), mask=codes < null_below))


def digits(numbers: np.ndarray, width: int) -> pa.Array:
    """Fixed-width, zero-padded decimal strings ("001020003"), written straight into an Arrow
    array's bytes by a compiled loop; numbers that do not fit ``width`` digits (or negative)
    take Arrow's cast and pad, which gives them their sign and every digit."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if len(numbers) and (numbers.min() < 0 or numbers.max() >= 10 ** width):
        return pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    offsets = np.arange(0, (len(numbers) + 1) * width, width, dtype=np.int32)
    data = kernels.fixed_digits(numbers, width, kernels.DIGIT_PAIRS)
    return pa.StringArray.from_buffers(len(numbers), pa.py_buffer(offsets), pa.py_buffer(data))


def _buffers(table: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string array without nulls: the offsets a numpy view, the bytes a
    copy followed by the :data:`sim.world.kernels.COPY_CHUNK` bytes :func:`kernels.join3` may
    read past a string (the tables joined are small: labels, numbers, units)."""
    if table.null_count or table.type != pa.string():
        raise ValueError("a table of strings without nulls is expected")
    _, offsets, data = table.buffers()
    offsets = np.frombuffer(offsets, np.int32, count=len(table) + 1, offset=4 * table.offset)
    data = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets, np.concatenate([data, np.zeros(kernels.COPY_CHUNK, np.uint8)])


def join_codes(parts, rows: np.ndarray | None = None, *, sep: str = " ", lo3: int = 0) -> pa.Array:
    """``join(take(t1, c1), take(t2, c2), take(t3, c3))`` of three ``(table, codes)`` parts at
    ``rows`` of the codes (all rows by default), in one compiled pass: a negative code, or a code
    of the third part below ``lo3``, leaves its part out, as a null part does in :func:`join`."""
    (t1, c1), (t2, c2), (t3, c3) = parts
    if rows is None:
        rows = np.arange(len(c1))
    o1, d1 = _buffers(t1)
    o2, d2 = _buffers(t2)
    o3, d3 = _buffers(t3)
    offsets, data, fits = kernels.join3(o1, d1, np.asarray(c1), o2, d2, np.asarray(c2), o3, d3, np.asarray(c3),
                                        np.asarray(rows), ord(sep), lo3)
    if not fits:
        raise ValueError("a string column of 2 GiB or more")
    return pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data))


def categories(table: pa.Array, codes: np.ndarray, *, null_below: int | None = None,
               rows: np.ndarray | None = None, via: np.ndarray | None = None) -> pa.DictionaryArray:
    """A dictionary-encoded column: integer codes into a small string table, no strings copied
    (the codes at ``rows``, all by default, gathered in one compiled pass; with ``via``, the
    codes at ``via[rows]``, as an area's city at each row's dwelling's area). ``rows`` and
    ``via`` hold positions, ``0 <= row < len(codes)``: the compiled pass does not check them.

    Low-cardinality columns (state, suffix, name control, origin group) are stored this way in
    memory and in Parquet; readers get categoricals (pandas) or dictionaries (Arrow).
    """
    codes = np.asarray(codes)
    dtype = np.int16 if len(table) < 2**15 else np.int32 if len(table) < 2**31 else np.int64
    n = (len(codes) if via is None else len(via)) if rows is None else len(rows)
    idx = np.empty(n, dtype)
    rows = _NO_ROWS if rows is None else np.asarray(rows)
    via = _NO_ROWS if via is None else np.asarray(via)
    if rows.dtype.kind not in "iu" or via.dtype.kind not in "iu":
        raise TypeError(f"rows and via must be arrays of integer positions, got {rows.dtype} and {via.dtype}")
    if len(via) and null_below is not None:
        raise ValueError("categories() takes via only for a column without nulls")
    # the pass that gathers the codes also finds their range, so Arrow need not check each code
    # against the table again (from_arrays(safe=False))
    if null_below is None:
        smallest, largest = kernels.gather_codes(codes, rows, via, idx)
        indices, nulls = pa.array(idx), 0
    else:
        valid = np.empty((n + 7) // 8, np.uint8)           # Arrow's validity bitmap, written by the same pass
        nulls, smallest, largest = kernels.gather_codes_valid(codes, rows, null_below, idx, valid)
        indices = pa.Array.from_buffers(pa.from_numpy_dtype(dtype), n, [pa.py_buffer(valid), pa.py_buffer(idx)], null_count=nulls)
    if nulls < n and (smallest < 0 or largest >= len(table)):      # the codes of the values present
        raise ValueError(f"codes from {smallest} to {largest} do not all index the table of {len(table)} values; "
                         "each code must index the table (or be below null_below, for a null)")
    return pa.DictionaryArray.from_arrays(indices, table, safe=False)


_NO_ROWS = np.zeros(0, np.int64)


@dataclass(frozen=True)
class Components:
    """Address components of a set of dwellings, one entry per row, as integer codes.

    ``street`` indexes the block's streets; ``predir`` is -1 where the street has none; ``unit``
    is 0 where the dwelling has no unit number; ``zip_row`` indexes the block's ZIP areas.
    """

    street: np.ndarray
    number: np.ndarray
    predir: np.ndarray
    stem: np.ndarray
    suffix: np.ndarray
    unit: np.ndarray
    zip_row: np.ndarray
    zip4: np.ndarray

    # text, one take each
    def number_text(self) -> pa.Array:
        return take(lookup("int", int(self.number.max(initial=0)) + 1), self.number)

    def unit_text(self) -> pa.Array:
        return take(lookup("int", int(self.unit.max(initial=0)) + 1), self.unit, null_below=1)

    def apt_text(self) -> pa.Array:
        return take(lookup("apt", int(self.unit.max(initial=0)) + 1), self.unit, null_below=1)


def components(pop: Population, dwelling: np.ndarray) -> Components:
    """Components of the given dwellings of ``pop`` (positions, not checked): each dwelling's
    building and street looked up once, every component gathered in the same compiled pass."""
    return Components(*kernels.components(np.asarray(dwelling), pop.dw_building, pop.dw_unit, pop.bl_street, pop.bl_number,
                                          pop.bl_zip4, pop.st_predir, pop.st_stem, pop.st_suffix, pop.st_zip))


class Labels:
    """The block's string tables: street parts from the vocabulary, city/state/ZIP of its areas."""

    def __init__(self, vocab: Vocabulary, zips):
        self.predir, self.predir_full, self.stem, self.suffix, self.suffix_full = vocab.street_tables
        # city, state and ZIP of the block's areas: distinct values, and each area's code
        self._area: dict[str, tuple[pa.Array, np.ndarray]] = {}
        for name, column in (("city", "city"), ("state", "state"), ("zip5", "zip")):
            values, codes = zips.distinct(column)
            self._area[name] = (_s(values), codes)

    def area(self, name: str, zip_row: np.ndarray, *, dictionary: bool = False, rows: np.ndarray | None = None) -> pa.Array:
        """``city``, ``state`` or ``zip5`` of each row's area (of ``zip_row[rows]`` where ``rows``
        is given), as plain or dictionary strings."""
        table, codes = self._area[name]
        if dictionary:
            return categories(table, codes, rows=rows, via=zip_row)
        return take(table, codes[zip_row if rows is None else zip_row[rows]])

    def predirs(self, c: Components, *, full: bool = False) -> pa.Array:
        return take(self.predir_full if full else self.predir, c.predir, null_below=0)

    def street_labels(self, pop: Population) -> pa.Array:
        """``N MAIN ST`` for every street of the block (USPS standard forms)."""
        return join_codes(((self.predir, pop.st_predir), (self.stem, pop.st_stem), (self.suffix, pop.st_suffix)))


def join(*parts, sep: str = " ") -> pa.Array:
    """Join string columns with ``sep``, skipping nulls (a missing part leaves no double blank)."""
    return pc.binary_join_element_wise(*parts, sep, null_handling="skip")


def usps_street_line(c: Components, street_labels: pa.Array, rows: np.ndarray | None = None) -> pa.Array:
    """``123 N MAIN ST APT 5``: the delivery line in USPS standard form (of the components at
    ``rows``, all by default), joined row by row in one compiled pass (:func:`join_codes`). For
    a national block's master file (a million rows, 550,000 dwellings) that is 24 ms, against
    27 ms for joining each dwelling's line once and copying it to its rows with Arrow's take."""
    numbers = lookup("int", int(c.number.max(initial=0)) + 1)
    apts = lookup("apt", int(c.unit.max(initial=0)) + 1)
    return join_codes(((numbers, c.number), (street_labels, c.street), (apts, c.unit)), rows, lo3=1)


def keyboard_typo(values: list[str], kind: np.ndarray, where: np.ndarray, pick: np.ndarray) -> list[str]:
    """One keyboard error in each string: a neighbouring key (kind 0), a dropped letter (1), a
    doubled letter (2), or two adjacent letters swapped (3), at relative position ``where`` in
    [0, 1); ``pick`` in [0, 1) chooses the neighbouring key. Pure: the caller draws."""
    out = []
    for text, k, w, p in zip(values, kind, where, pick):
        letters = [i for i, ch in enumerate(text) if ch.isalpha()]
        if len(letters) < 2:
            out.append(text)
            continue
        i = letters[min(int(w * len(letters)), len(letters) - 1)]
        ch = text[i]
        if k == 0:
            near = KEYBOARD_NEIGHBOURS.get(ch.upper(), ch.upper())
            new = near[min(int(p * len(near)), len(near) - 1)]
            out.append(text[:i] + (new if ch.isupper() else new.lower()) + text[i + 1:])
        elif k == 1:
            out.append(text[:i] + text[i + 1:])
        elif k == 2:
            out.append(text[:i] + ch + text[i:])
        else:
            j = i + 1 if i + 1 < len(text) else i - 1
            a, b = sorted((i, j))
            swapped = text[:a] + text[b] + text[a] + text[b + 1:]
            out.append(swapped if swapped != text else text[:i] + text[i + 1:])
    return out


def with_typos(column: pa.Array, chosen: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """``column`` with a :func:`keyboard_typo` in the rows where ``chosen`` is true.

    The error's draws are made for every row, chosen or not, so the number of values taken from
    ``rng`` does not depend on the typo rate: changing a rate leaves every later draw (case,
    commas, ...) as it was, which keeps sweeps over the rate comparable row by row.
    """
    n = len(column)
    kind, where, pick = rng.integers(0, 4, n), rng.random(n), rng.random(n)
    rows = np.flatnonzero(chosen)
    if len(rows) == 0:
        return column
    # only the chosen rows become Python strings (a few percent); a null chosen becomes ""
    values = column.take(pa.array(rows)).to_pylist()
    changed = keyboard_typo([v or "" for v in values], kind[rows], where[rows], pick[rows])
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(column.cast(pa.string()), pa.array(mask), pa.array(changed, pa.string()))
