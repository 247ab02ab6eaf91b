"""Columns of the two sides encoded into one dictionary: the common step of blocking and
comparison. A missing value (null or empty string) is code -1 on either side.

>>> left, right, values = shared_dictionary(["GARCIA", None, ""], ["LOPEZ", "GARCIA"])
>>> left.tolist(), right.tolist(), values.to_pylist()
([0, -1, -1], [2, 0], ['GARCIA', '', 'LOPEZ'])
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def as_strings(values) -> pa.Array:
    """Any column (list, numpy, pandas, Arrow, dictionary-encoded) as an Arrow string array."""
    return as_array(values).cast(pa.string())


def as_array(values) -> pa.Array:
    """Any column as one Arrow array of its value type (chunks combined, dictionary columns
    decoded): the plain form every stage of the matcher reads."""
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


def shared_dictionary(left, right) -> tuple[np.ndarray, np.ndarray, pa.StringArray]:
    """(int32 codes of left, of right, the dictionary): equal strings get equal codes. The
    dictionary stays in Arrow: blocking needs only its length and the comparisons read only the
    few values they score, so it is never turned into Python strings."""
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
