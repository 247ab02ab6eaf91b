"""Both sides of a match in one schema: the columns a policy blocks on and compares.

ICE's request file, the IRS master file and a user's own files arrive with different columns.
:func:`prepare` maps each to :data:`sim.config.MATCH_COLUMNS`, normalized the same way on both
sides so that equal means equal:

* names: :func:`sim.normalize.clean_name` (ASCII upper case, letters/hyphen/blank, no suffix);
  ``name_control`` from the last name by the IRS rules unless the source holds one (the master
  file does: it is what TIN Matching compares);
* ``tin``: the digits of the number (``123-45-6789`` -> ``123456789``);
* addresses: a free-text field is parsed into USPS standard forms
  (:func:`sim.normalize.parse_addresses`, each distinct text once); ``street_line`` is the
  delivery line (``5101 FOREST AVE APT 212``), ``street`` the same without the unit, ``street6``
  its first six characters, as the IRS's entity checks take them (``5101 F``);
* ``date_of_birth``: an Arrow date.

A column the source does not have is all null, which every comparison treats as "missing" and no
blocking rule pairs. :func:`prepare_requests` and :func:`prepare_master_file` are the mappings of
the simulated world.

>>> import pyarrow as pa
>>> side = prepare(pa.table({"nm": ["José de la Torre"], "addr": ["12 North Oak Street # 4, Reno NV 89501"]}),
...                columns={"last_name": "nm"}, address="addr")
>>> side.select(["last_name", "name_control", "street_line", "street", "street6", "zip5"]).to_pylist()
[{'last_name': 'JOSE DE LA TORRE', 'name_control': 'JOSE', 'street_line': '12 N OAK ST APT 4', 'street': '12 N OAK ST', 'street6': '12 N O', 'zip5': '89501'}]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.config import DERIVED_COLUMNS, MAPPABLE_COLUMNS, MATCH_COLUMNS
from sim.compare.encode import as_array
from sim.normalize import PARTICLES, address_words, clean_name, name_controls, parse_addresses

#: Columns kept beside the match columns: ICE's address text and what the sufficiency classifier
#: made of it (the address gates read them), and the ZIP+4 disclosed with an address.
EXTRA_COLUMNS = ("address_text", "address_sufficiency", "zip4")
_NAME_COLUMNS = ("first_name", "last_name")
_PLAIN_TEXT = ("street_line", "street", "street_number", "street_name", "unit", "city", "state")
_NOT_DIGIT = re.compile(r"\D+")


def prepare(table: pa.Table, *, columns: Mapping[str, str], address: str | None = None,
            standardized: bool = False, keep_dictionaries: bool = False) -> pa.Table:
    """``table`` in the match schema: :data:`MATCH_COLUMNS` then :data:`EXTRA_COLUMNS`.

    ``columns`` maps a match column (or ``zip4``) to the source column holding it; ``address``
    names a free-text address column to parse for the address columns not mapped directly.
    ``standardized=True`` takes the mapped columns as they are (only empty strings become null):
    for a source already in these forms, such as the simulated master file (a test proves that
    normalizing it changes nothing), it saves seconds per million rows. With it,
    ``keep_dictionaries=True`` keeps a dictionary-encoded source column so, and the name parts
    split from one (the same values, decoded where they are read): a block's comparisons then
    take their codes instead of hashing a million rows (:class:`sim.compare.encode.EncodedColumn`).
    """
    unknown = sorted(set(columns) - set(MAPPABLE_COLUMNS) - {"zip4"})
    if unknown:
        raise ValueError(f"The 'columns' parameter of prepare maps unknown match columns {unknown}; allowed: "
                         f"{', '.join(MAPPABLE_COLUMNS)}, zip4 ({', '.join(DERIVED_COLUMNS)} are derived from the names).")
    absent = sorted({src for src in columns.values() if src not in table.column_names} | ({address} - set(table.column_names) - {None}))
    if absent:
        raise ValueError(f"source columns {absent} are not in the table; it has: {', '.join(table.column_names)}")
    n = table.num_rows
    out: dict[str, pa.Array] = {}
    for name, src in columns.items():
        if not standardized:
            out[name] = _normalized(name, as_array(table.column(src)))
        elif name == "date_of_birth":
            values = as_array(table.column(src))
            out[name] = values if pa.types.is_date32(values.type) else values.cast(pa.date32())
        else:
            out[name] = _standard_text(table.column(src), keep_dictionaries)
    if address is not None:
        text = pc.fill_null(as_array(table.column(address)).cast(pa.string()), "")
        parsed = parse_addresses(text)
        derived = {
            "street_line": parsed.column("street_line"),
            "street_number": parsed.column("number"), "street_name": parsed.column("street"),
            "unit": parsed.column("unit"), "city": parsed.column("city"), "state": parsed.column("state"),
            "zip5": parsed.column("zip5"), "zip4": parsed.column("zip4"),
        }
        for name, values in derived.items():
            out.setdefault(name, _empty_to_null(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values))
        out["address_text"] = text
        out["address_sufficiency"] = parsed.column("sufficiency").combine_chunks()
    if "name_control" not in out and "last_name" in out:
        out["name_control"] = _empty_to_null(pa.array(name_controls(out["last_name"]), pa.string()))
    if "street" not in out and "street_line" in out:
        out["street"] = _empty_to_null(pc.replace_substring_regex(as_array(out["street_line"]), _unit_tail(), ""))
    if "street6" not in out and "street_line" in out:
        out["street6"] = pc.utf8_slice_codeunits(as_array(out["street_line"]), 0, 6)
    # a standardized source's names are split as they are, dictionary-encoded where the source is
    # (each distinct name once, without encoding the column again)
    as_given = lambda name: table.column(columns[name]) if standardized else out[name]  # noqa: E731
    keep = standardized and keep_dictionaries
    if "last_name" in out:
        out["surname_1"], out["surname_2"] = name_parts(as_given("last_name"), particles=True, keep_dictionary=keep)
    if "first_name" in out:
        out["given_1"], out["given_2"] = name_parts(as_given("first_name"), particles=False, keep_dictionary=keep)
        out["given_variant"] = given_variants(out["given_1"], keep_dictionary=keep)
    names = (*MATCH_COLUMNS, *EXTRA_COLUMNS)
    return pa.table({name: out.get(name, _nulls(name, n)) for name in names})


def prepare_requests(requests: pa.Table) -> pa.Table:
    """ICE's request file in the match schema: the free-text ``earm_address`` is parsed."""
    return prepare(requests, columns={"tin": "ssn", "first_name": "first_name", "last_name": "last_name",
                                      "date_of_birth": "date_of_birth"}, address="earm_address")


def prepare_master_file(master: pa.Table, *, keep_dictionaries: bool = False) -> pa.Table:
    """The IRS master file in the match schema. Its addresses are already standardized (the
    last known address in USPS form) and its names clean, so they are mapped as they are, not
    parsed; its ``name_control`` is the one on file. Its columns may be dictionary-encoded, as
    the generator makes them: only the columns matched on are decoded, and not even those with
    ``keep_dictionaries`` (:func:`prepare`)."""
    street = _street(master, keep_dictionaries)
    return prepare(master.append_column("_street", street), columns={
        "tin": "tin", "first_name": "first_name", "last_name": "last_name", "name_control": "name_control",
        "date_of_birth": "date_of_birth", "street_line": "street_address", "street": "_street",
        "street_number": "street_number", "street_name": "street_name", "unit": "unit", "city": "city",
        "state": "state", "zip5": "zip5", "zip4": "zip4"}, standardized=True, keep_dictionaries=keep_dictionaries)


#: The parts of the master file's street, without the unit (``123 N MAIN ST``), in order.
_STREET_PARTS = ("street_number", "street_predir", "street_name", "street_suffix")


def _street(master: pa.Table, keep_dictionary: bool) -> pa.Array:
    """The street of each row, its parts joined by blanks (a missing part left out). Where the
    parts are dictionary columns, as the generator makes them, and ``keep_dictionary``: a
    dictionary column, each distinct combination of the parts' codes joined once, so that the
    block's comparisons take its codes (:class:`sim.compare.encode.EncodedColumn`) instead of
    hashing a million streets. Distinct combinations give distinct text where the parts'
    dictionaries hold distinct values, as the generator's do; where they would not, the
    comparisons find that out and hash the text."""
    from sim.compare.kernels import factorize_integers

    columns = [master.column(c).combine_chunks() for c in _STREET_PARTS]
    join = lambda parts: pc.binary_join_element_wise(*parts, " ", null_handling="skip")  # noqa: E731
    if not (keep_dictionary and all(pa.types.is_dictionary(c.type) for c in columns)):
        return join(as_array(c) for c in columns)
    # the combination of the parts' codes as one int64 (a missing part as code 0), numbered
    # afresh where the next part would overflow it
    key, radix = np.zeros(master.num_rows, np.int64), 1
    for c in columns:
        size = len(c.dictionary) + 1
        if radix * size >= 2**62:
            key, first = factorize_integers(key)
            key, radix = key.astype(np.int64), len(first)
        key = key * size + pc.fill_null(c.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
        radix *= size
    codes, first = factorize_integers(key)
    rows = pa.array(first)
    return pa.DictionaryArray.from_arrays(pa.array(codes), join(as_array(c.take(rows)) for c in columns))


def name_parts(names: pa.Array, *, particles: bool, keep_dictionary: bool = False) -> tuple[pa.Array, pa.Array]:
    """(first part, last part) of each cleaned name, the second null when there is one part:
    the two surnames of a Hispanic name, or the two given names of a compound one. With
    ``particles``, the particles before a surname and the conjunction Y are dropped first, as
    INS/DHS indexing drops them (FACTS): DE LA TORRE MUNOZ -> (TORRE, MUNOZ); GOMEZ-CONDE ->
    (GOMEZ, CONDE); JOSE LUIS -> (JOSE, LUIS); MARIA DE LA LUZ -> (MARIA, LUZ).
    ``keep_dictionary``: the parts of a dictionary-encoded column as dictionary columns.

    >>> [a.to_pylist() for a in name_parts(pa.array(["DE LA TORRE MUNOZ", "GOMEZ Y CONDE", "LEE", None]), particles=True)]
    [['TORRE', 'GOMEZ', 'LEE', None], ['MUNOZ', 'CONDE', None, None]]
    """
    indices, text = _distinct(names)                                      # each distinct name once
    if particles:
        words = "|".join(sorted(_PARTICLES, key=len, reverse=True))
        text = pc.replace_substring_regex(pc.binary_join_element_wise(" ", text, " ", ""), f"[ -](?:(?:{words}|Y)[ -])+", " ")
        text = pc.utf8_trim(text, " -")
    first = pc.struct_field(pc.extract_regex(text, r"^(?P<p>[^ -]+)"), [0])
    last = pc.struct_field(pc.extract_regex(text, r"[ -](?P<p>[^ -]+)$"), [0])
    keep = keep_dictionary and pa.types.is_dictionary(names.type)
    return _spread(first, indices, keep), _spread(last, indices, keep)


def given_variants(given: pa.Array, *, keep_dictionary: bool = False) -> pa.Array:
    """The form each given name is grouped under among its variants (``data/given_name_variants.toml``:
    JOSE and JOSEPH -> JOSEPH, GUILLERMO -> WILLIAM), null for a name not listed.

    >>> given_variants(pa.array(["JOSE", "JOSEPH", "PEDRO", "ZYX", None])).to_pylist()
    ['JOSEPH', 'JOSEPH', 'PETER', None, None]
    """
    names, groups = _variant_table()
    return _on_distinct(given, lambda d: pc.take(groups, pc.index_in(d, value_set=names)),
                        keep_dictionary and pa.types.is_dictionary(given.type))


@lru_cache(maxsize=1)
def _variant_table() -> tuple[pa.Array, pa.Array]:
    """(every listed name, the form it is grouped under), the group forms among the names."""
    from sim.common.reference import reference_toml

    data = reference_toml("sim.match", "given_name_variants.toml")
    pairs = {}
    for group, forms in data["variants"].items():
        for name in (group, *forms):
            if pairs.setdefault(name, group) != group:
                raise ValueError(f"given_name_variants.toml lists {name} under both {pairs[name]} and {group}; list it once")
    return pa.array(list(pairs), pa.string()), pa.array(list(pairs.values()), pa.string())


#: Particles a surname may carry before its core (sim.normalize.PARTICLES), without those that
#: begin a surname of their own in US records (ST, SAN, SANTA, MC, MAC: SAINT LOUIS, SAN MARTIN).
_PARTICLES = frozenset(PARTICLES) - {"ST", "SAN", "SANTA", "MC", "MAC"}


# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _unit_tail() -> str:
    """A unit designator and its number at the end of a delivery line (`` APT 4``, `` # 4``)."""
    from scourgify import address_constants as c

    types = sorted({v for v in c.OCCUPANCY_TYPE_ABBREVIATIONS.values() if v != "#"}, key=len, reverse=True)
    return r" (?:" + "|".join(types) + r"|#) ?\S+$"



def _normalized(name: str, values: pa.Array) -> pa.Array:
    if name == "date_of_birth":
        return values if pa.types.is_date32(values.type) else values.cast(pa.date32())
    if name in _NAME_COLUMNS:
        return _on_distinct(values, lambda d: pa.array([clean_name(v) if v is not None else None for v in d.to_pylist()], pa.string()))
    if name == "name_control":
        return _on_distinct(values, pc.utf8_upper)
    if name == "tin":
        return _on_distinct(values, lambda d: pc.replace_substring_regex(d, _NOT_DIGIT.pattern, ""))
    if name in ("zip5", "zip4"):
        width = 5 if name == "zip5" else 4
        return _on_distinct(values, lambda d: pc.utf8_slice_codeunits(pc.replace_substring_regex(d, _NOT_DIGIT.pattern, ""), 0, width))
    if name in _PLAIN_TEXT or name == "street6":
        return _on_distinct(values, _plain_words)
    raise AssertionError(name)  # pragma: no cover - every match column is handled above


def _plain_words(values: pa.Array) -> pa.Array:
    """:func:`sim.normalize.address_words` in Arrow kernels; Python only for non-ASCII values."""
    ascii_ok = pc.fill_null(pc.string_is_ascii(values), True)
    if not pc.all(ascii_ok).as_py():
        values = pc.if_else(ascii_ok, values, pa.array([address_words(v) if v is not None else None for v in values.to_pylist()], pa.string()))
    values = pc.replace_substring_regex(pc.utf8_upper(values), "[,.]", " ")
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(values, r"\s+", " "))


def _on_distinct(values: pa.Array, fn, keep_dictionary: bool = False) -> pa.Array:
    """``fn`` (Arrow array -> Arrow array) applied to the distinct values once, then spread back
    (:func:`_spread`); empty results become null. Names and addresses repeat a lot, even in a
    master file."""
    indices, distinct = _distinct(values)
    return _spread(fn(distinct), indices, keep_dictionary)


def _spread(results: pa.Array, indices: pa.Array, keep_dictionary: bool) -> pa.Array:
    """The result of each distinct value (``results``, empty as null) at each row's ``indices``:
    a plain column, or with ``keep_dictionary`` a dictionary column over the distinct results
    (two values may give one result: the first part of GARCIA and of GARCIA LOPEZ)."""
    results = _empty_to_null(results)
    if not keep_dictionary:
        return results.take(indices)
    encoded = pc.dictionary_encode(results)
    return pa.DictionaryArray.from_arrays(encoded.indices.take(indices), encoded.dictionary)


def _distinct(values) -> tuple[pa.Array, pa.StringArray]:
    """(each row's index into the distinct values, the distinct values as strings): a plain
    column is dictionary-encoded; a dictionary column keeps its indices, its dictionary cut down
    to the values some row uses (a generated block's name columns index the whole vocabulary)."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not pa.types.is_dictionary(values.type):
        encoded = pc.dictionary_encode(as_array(values).cast(pa.string()))
        return encoded.indices, encoded.dictionary
    codes = pc.fill_null(values.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    used = np.bincount(codes + 1, minlength=len(values.dictionary) + 1)[1:] > 0
    renumber = np.cumsum(used) - 1
    return (pa.array(renumber[codes], pa.int32(), mask=codes < 0),
            values.dictionary.filter(pa.array(used)).cast(pa.string()))


def _standard_text(values, keep_dictionary: bool = False) -> pa.Array:
    """A column already in standard form as plain strings, empty as null; a dictionary column is
    decoded by one take, its empty value made null in the dictionary, or kept encoded with
    ``keep_dictionary``."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(values.type):
        dictionary = _empty_to_null(values.dictionary.cast(pa.string()))
        if keep_dictionary:
            return pa.DictionaryArray.from_arrays(values.indices, dictionary)
        return dictionary.take(values.indices)
    return _empty_to_null(values.cast(pa.string()))


def _empty_to_null(values: pa.Array) -> pa.Array:
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)


def _nulls(name: str, n: int) -> pa.Array:
    return pa.nulls(n, pa.date32() if name == "date_of_birth" else pa.string())


__all__ = ["prepare", "prepare_requests", "prepare_master_file", "name_parts", "given_variants", "EXTRA_COLUMNS"]
