"""Columns of the two sides encoded into one dictionary: the common step of blocking and
comparison. A missing value (null or empty string) is code -1 on either side.

>>> left, right, values = shared_dictionary(["GARCIA", None, ""], ["LOPEZ", "GARCIA"])
>>> left.tolist(), right.tolist(), values.to_pylist()
([0, -1, -1], [2, 0], ['GARCIA', '', 'LOPEZ'])

A master-file column that many rules and comparisons read is encoded once, as an
:class:`EncodedColumn` (:class:`EncodedTable` encodes a table's columns on first use): each left
column is then mapped into its dictionary, which costs a look-up per distinct value of the
dictionary instead of hashing the whole column again.

>>> left, right, values = shared_dictionary(["GARCIA", None, "", "RUIZ"], EncodedColumn(["LOPEZ", "GARCIA", ""]))
>>> left.tolist(), right.tolist(), values.to_pylist()
([1, -1, -1, 3], [0, 1, -1], ['LOPEZ', 'GARCIA', '', 'RUIZ'])
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def as_strings(values) -> pa.Array:
    """Any column (list, numpy, pandas, Arrow, dictionary-encoded) as an Arrow string array."""
    return as_array(values).cast(pa.string())


def as_array(values) -> pa.Array:
    """Any column as one Arrow array of its value type (chunks combined, dictionary columns
    decoded): the plain form every stage of the matcher reads."""
    if isinstance(values, EncodedColumn):
        return values.array
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        arr = values
    elif isinstance(values, np.ndarray):
        arr = pa.array(values.tolist() if values.dtype == object else values)
    elif hasattr(values, "tolist"):      # a pandas Series
        arr = pa.array(values.tolist())
    else:
        arr = pa.array(list(values))
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    return arr


def _dictionary_or_array(values):
    """A dictionary column of strings as one DictionaryArray; any other column as :func:`as_array` gives it."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)) and pa.types.is_dictionary(values.type) \
            and pa.types.is_string(values.type.value_type):
        return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return as_array(values)


def shared_dictionary(left, right) -> tuple[np.ndarray, np.ndarray, pa.StringArray]:
    """(int32 codes of left, of right, the dictionary): equal strings get equal codes. The
    dictionary stays in Arrow: blocking needs only its length and the comparisons read only the
    few values they score, so it is never turned into Python strings. ``right`` may be an
    :class:`EncodedColumn`: its codes are kept, and ``left`` is mapped into its dictionary."""
    if isinstance(right, EncodedColumn):
        return right.against(left)
    if isinstance(right, (pa.Array, pa.ChunkedArray)) and pa.types.is_dictionary(right.type) \
            and pa.types.is_string(right.type.value_type):
        # a dictionary column of strings (a block's master-file rows, cut to the pairs' own) is
        # encoded from its codes, not decoded and hashed; the codes tell the same values apart
        return EncodedColumn(right).against(left)
    a, b = as_array(left), as_array(right)
    if a.type == b.type and (pa.types.is_integer(a.type) or pa.types.is_date(a.type)):
        # equal as values exactly when equal as text: encode the values, cast only the dictionary
        both = pc.dictionary_encode(pa.concat_arrays([a, b]))
        dictionary = both.dictionary.cast(pa.string())
    else:
        a, b = as_strings(a), as_strings(b)
        both = pc.dictionary_encode(pa.concat_arrays([a, b]))
        dictionary = both.dictionary
    codes = pc.fill_null(both.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    empty = pc.index(dictionary, "").as_py()        # at most one: dictionary values are distinct
    if empty >= 0:
        codes = np.where(codes == empty, np.int32(-1), codes)
    return codes[: len(a)], codes[len(a):], dictionary


def positions(values, value_set) -> np.ndarray:
    """Where each of ``values`` stands among ``value_set`` (distinct values, Arrow): a new int32
    array (the callers mark more values -1 in it), -1 where a value is null or not among them;
    one hash look-up, Arrow's ``index_in``.

    >>> positions(pa.array(["B", None, "Z", "A"]), pa.array(["A", "B"])).tolist()
    [1, -1, -1, 0]
    """
    return pc.fill_null(pc.index_in(values, value_set=value_set), -1).to_numpy(zero_copy_only=False).astype(np.int32)


def left_dictionary(left, right) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """(int32 codes of left, of right, the left's distinct values): as :func:`shared_dictionary`
    for telling equal values apart, except that a right value no left row has is -1, as a
    missing one is. That is all blocking and agreement need, and the right side is only looked
    up in the left's values, never hashed into a dictionary of its own.

    >>> left, right, values = left_dictionary(["GARCIA", None, "", "LEE"], ["LOPEZ", "GARCIA", ""])
    >>> left.tolist(), right.tolist()
    ([0, -1, -1, 2], [-1, 0, -1])
    """
    a, b = as_array(left), _dictionary_or_array(right)
    if isinstance(b, pa.DictionaryArray):       # of strings
        a = as_strings(a)
    elif not (a.type == b.type and (pa.types.is_integer(a.type) or pa.types.is_date(a.type))):
        a, b = as_strings(a), as_strings(b)
    values = pc.unique(a.drop_null())
    codes_l = positions(a, values)
    if isinstance(b, pa.DictionaryArray):      # each of its dictionary's values looked up once, not each row
        found = np.append(positions(b.dictionary.cast(pa.string()), values), np.int32(-1))
        codes_r = found[pc.fill_null(b.indices, -1).to_numpy(zero_copy_only=False)]
    else:
        codes_r = positions(b, values)
    if pa.types.is_string(values.type):
        empty = pc.index(values, "").as_py()
        if empty >= 0:
            codes_l[codes_l == empty] = -1
            codes_r[codes_r == empty] = -1
    return codes_l, codes_r, values


class EncodedColumn:
    """A column dictionary-encoded once, to be matched against many left columns.

    ``codes`` (int32, -1 where missing: null or empty) index ``dictionary``, the column's
    distinct values in order of first appearance (the empty string among them, if present,
    never referenced). :meth:`against` gives what :func:`shared_dictionary` gives: equal values
    get equal codes on the two sides, a missing value is -1, and the dictionary is the column's,
    with the left side's values it lacks appended.
    """

    def __init__(self, values):
        self._derived: dict[str, object] = {}
        if isinstance(values, pa.ChunkedArray) and values.num_chunks == 1:
            values = values.chunk(0)
        if isinstance(values, pa.DictionaryArray) and self._from_dictionary(values):
            return
        self.array = as_array(values)
        if self._from_digits(self.array):
            return
        encoded = pc.dictionary_encode(self.array)
        self.dictionary = encoded.dictionary
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
        if pa.types.is_string(self.dictionary.type) or pa.types.is_large_string(self.dictionary.type):
            empty = pc.index(self.dictionary, "").as_py()
            if empty >= 0:
                codes = np.where(codes == empty, np.int32(-1), codes)
        self.codes = codes

    def _from_dictionary(self, values: pa.DictionaryArray) -> bool:
        """The encoding of a dictionary column (a generated master file's names, streets, ZIPs)
        from its own codes, without hashing its rows: the codes and dictionary
        ``dictionary_encode`` would give its decoded values, missing values (null, or an empty
        or null dictionary value) -1. False, and nothing set, where the values some row uses are
        not distinct (two codes for one value), which only hashing sorts out."""
        from sim.compare import kernels

        dictionary = values.dictionary
        if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
            return False
        missing = pc.fill_null(pc.equal(dictionary, ""), True).to_numpy(zero_copy_only=False)
        codes = pc.fill_null(values.indices, -1).to_numpy(zero_copy_only=False)
        renumbered, order = kernels.first_appearance(codes, missing)
        used = dictionary.take(pa.array(order))
        if len(pc.unique(used)) != len(used):        # (Arrow's count_distinct hashes slower than unique)
            return False
        self.codes, self.dictionary, self._values = renumbered, used, values
        return True

    def _from_digits(self, array: pa.Array) -> bool:
        """The encoding of a column of numbers written with one number of digits (a master
        file's TINs, one per row) from the numbers, which hash several times faster than their
        text: the codes and dictionary ``dictionary_encode`` gives (equal texts exactly when equal
        numbers, as they have the same width). False, and nothing set, for any other column."""
        from sim.compare import kernels

        if not pa.types.is_string(array.type) or array.null_count == len(array):
            return False
        present = array.drop_null() if array.null_count else array
        width = pc.min_max(pc.binary_length(present)).as_py()
        if not (0 < width["min"] == width["max"] <= 18) or not pc.all(pc.ascii_is_decimal(present)).as_py():
            return False
        # in order of first appearance, with each code's first row among the present ones
        numbers, first = kernels.factorize_integers(present.cast(pa.int64()).to_numpy())
        if array.null_count:
            rows = np.flatnonzero(array.is_valid().to_numpy(zero_copy_only=False))
            codes = np.full(len(array), -1, np.int32)
            codes[rows] = numbers
            first = rows[first]
        else:
            codes = numbers
        self.codes, self.dictionary = codes, array.take(pa.array(first))
        return True

    @cached_property
    def array(self) -> pa.Array:
        """The column as plain values (decoded, where it came as a dictionary column)."""
        return as_array(self._values)

    def __len__(self) -> int:
        return len(self.codes)

    def derived(self, name: str, compute):
        """``compute(array)`` of the column, computed on first use and kept under ``name``: what
        a comparison derives from the whole column (day numbers and date parts, say)."""
        if name not in self._derived:
            self._derived[name] = compute(self.array)
        return self._derived[name]

    @cached_property
    def text(self) -> pa.Array:
        """The dictionary as strings (what a comparison scores)."""
        return self.dictionary.cast(pa.string())

    def against(self, left) -> tuple[np.ndarray, np.ndarray, pa.StringArray]:
        """(int32 codes of ``left``, of this column, the dictionary as strings): as
        :func:`shared_dictionary`, without hashing this column again. The left side's distinct
        values are hashed, and each value of this column's dictionary is looked up in them."""
        a = as_array(left)
        native = a.type == self.dictionary.type and (pa.types.is_integer(a.type) or pa.types.is_date(a.type))
        dictionary = self.dictionary if native else self.text
        if not native:
            a = as_strings(a)
        distinct = pc.unique(a)
        # where each of our dictionary's values is among the left's distinct values
        found = positions(dictionary, distinct)
        code_of = np.full(len(distinct), -1, np.int64)
        ours = np.flatnonzero(found >= 0)
        code_of[found[ours]] = ours
        # left values this column lacks get codes after its dictionary; null and "" stay -1
        present = pc.fill_null(pc.invert(pc.equal(distinct.cast(pa.string()), "")), False).to_numpy(zero_copy_only=False)
        new = np.flatnonzero((code_of < 0) & present)
        code_of[new] = len(dictionary) + np.arange(len(new))
        code_of[~present] = -1
        codes_l = code_of[pc.index_in(a, value_set=distinct).to_numpy(zero_copy_only=False)]
        text = self.text
        if len(new):
            text = pa.concat_arrays([text, distinct.take(pa.array(new)).cast(pa.string())])
        return codes_l.astype(np.int32), self.codes, text


class EncodedTable:
    """A table whose columns are encoded (:class:`EncodedColumn`) when first compared over many
    of its rows, and kept: the master file of a block, read by every policy's blocking rules
    and comparisons. It answers ``column``, ``num_rows`` and ``column_names`` as the table does.

    ``table[name]`` encodes the column if it is not yet; ``table.column(name)`` gives it encoded
    if it already is, else plain. Blocking and agreement read ``column``: they only look values
    up, which a plain column serves as cheaply, so a run that compares few pairs (the baseline
    policy alone) encodes nothing."""

    def __init__(self, table: pa.Table):
        self.table = table
        self._columns: dict[str, EncodedColumn] = {}
        #: what a later stage derives from the table and keeps for the block's other policies
        #: (blocking's look-ups of the block's requests: :class:`sim.match.blocking.BlockKeys`)
        self.kept: dict[str, object] = {}

    def __getitem__(self, name: str) -> EncodedColumn:
        if name not in self._columns:
            self._columns[name] = EncodedColumn(self.table.column(name))
        return self._columns[name]

    def column(self, name: str):
        """The column encoded if it has been, else the table's own."""
        return self._columns[name] if name in self._columns else self.table.column(name)

    def is_encoded(self, name: str) -> bool:
        return name in self._columns

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @property
    def column_names(self) -> list[str]:
        return self.table.column_names
