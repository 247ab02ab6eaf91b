"""Normalization shared by the world and the matcher: names and the IRS name control.

The IRS name control (FACTS.md, "IRS name control") is what TIN Matching compares with a TIN:

* generally the first four characters of the last name; fewer than four is allowed;
* only letters, hyphen and blank are kept; titles, suffixes (JR, SR, III) and punctuation such as
  apostrophes are ignored;
* hyphenated or two last names: the first four characters of the *first* of the two;
* a surname written with particles (DE LA ROSA, VAN DYKE, MC CEDAR) is one surname: its blanks are
  dropped (DELA, VAND, MCCE), which is how the IRS's own examples read.

>>> [name_control(n) for n in ["Teak", "McCedar", "Cedar-Hawthorn", "Hemlock", "Aspen", "Lee"]]
['TEAK', 'MCCE', 'CEDA', 'HEML', 'ASPE', 'LEE']
>>> name_control("de la Torre Muñoz"), name_control("Torre Munoz"), name_control("O'Neil Jr.")
('DELA', 'TORR', 'ONEI')
>>> name_control("Paz Lopez"), name_control("Ng-Lee")
('PAZ', 'NG')
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np

# Words that begin a surname rather than being one (Spanish, Portuguese, Dutch, German, French,
# Italian, Irish/Scottish when written apart). A particle only joins the word after it; standing
# alone it is the surname itself (the Vietnamese surname LA stays LA).
PARTICLES = frozenset(
    "DE DEL DELA DELOS DELAS LA LAS LOS DA DAS DO DOS DI DU LE VAN VON DER DEN TER ST SAN SANTA MC MAC".split()
)
SUFFIXES = frozenset("JR SR II III IV V JNR SNR".split())
_NOT_NAME = re.compile(r"[^A-Z\- ]+")
_SPACES = re.compile(r"\s+")
_STROKES = str.maketrans("ĐđŁłØøÆæßƠơƯư", "DdLlOoAasOoUu")


def ascii_upper(text: str) -> str:
    """Upper case with accents removed: 'Muñoz' -> 'MUNOZ'. The agencies' systems store ASCII.

    >>> ascii_upper("Núñez de Álvarez")
    'NUNEZ DE ALVAREZ'
    """
    if text.isascii():               # most text: nothing to decompose
        return text.upper()
    # letters with strokes do not decompose (Vietnamese D with stroke, Polish L, Nordic O)
    decomposed = unicodedata.normalize("NFKD", text.translate(_STROKES))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


@lru_cache(maxsize=1 << 18)   # names repeat: every block and every policy cleans the same ones
def clean_name(text: str) -> str:
    """A name field as the IRS keys it: ASCII upper case, letters/hyphen/blank, single blanks.

    Apostrophes and periods vanish without a blank (O'NEIL -> ONEIL); other punctuation becomes
    a blank. Trailing suffixes (JR, SR, III) are dropped.

    >>> clean_name("  o'Neil,  Jr. ")
    'ONEIL'
    """
    text = ascii_upper(text).replace("'", "").replace(".", " ").replace("`", "")
    text = _SPACES.sub(" ", _NOT_NAME.sub(" ", text)).strip(" -")
    words = text.split(" ")
    while len(words) > 1 and words[-1] in SUFFIXES:
        words.pop()
    return " ".join(words)


@lru_cache(maxsize=1 << 16)
def name_control(last_name: str) -> str:
    """The IRS name control of a last name (see the module docstring for the rules)."""
    words = clean_name(last_name).split(" ")
    if words == [""]:
        return ""
    first = []
    for word in words:
        first.append(word)
        if word not in PARTICLES:
            break
    else:
        # all particles (the surname is, say, just "LA" or "DE LA"): keep what was written
        pass
    surname = "".join(first)
    surname = surname.lstrip("-").split("-")[0]
    return surname[:4]


def name_controls(last_names) -> np.ndarray:
    """Vectorized :func:`name_control` over a column: each distinct value is computed once.

    >>> name_controls(["GARCIA LOPEZ", "GARCIA", "DE LEON"]).tolist()
    ['GARC', 'GARC', 'DELE']
    """
    return map_distinct(last_names, name_control)


def map_distinct(values, fn) -> np.ndarray:
    """``fn`` applied once to each distinct string of a column (list, numpy or Arrow; a null is
    taken as ""), as an object array of one result per row. Names repeat a lot: a world's
    millions of last names have a few hundred thousand distinct values.

    >>> map_distinct(["ab", None, "ab"], len).tolist()
    [2, 0, 2]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    column = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(np.asarray(values, dtype=object), pa.string())
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    encoded = pc.dictionary_encode(pc.fill_null(column.cast(pa.string()), ""))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    results = np.array([fn(u) for u in encoded.dictionary.to_pylist()] + [None], dtype=object)[:-1]
    return results[encoded.indices.to_numpy(zero_copy_only=False)]


# ---------------------------------------------------------------------------------------------
# Addresses: ICE's free-text EARM_ADDRESS parsed into components in USPS Publication 28 forms,
# and how sufficient the text is as an address.

#: The address fields a parse yields, in this order (all strings; empty where absent).
ADDRESS_FIELDS = ("number", "predir", "street", "suffix", "postdir", "unit_type", "unit", "city", "state", "zip5", "zip4")
#: Sufficiency classes of an address text, from most to least usable.
SUFFICIENCY = ("complete", "partial", "zip_only", "placeholder", "blank")

# Words that stand in for an address in case-management data (FACTS: "Failed to Provide",
# "Unknown Address"). Written independently of the generator's list on purpose: the classifier
# must work on real data, and its agreement with the generator is measured, not assumed.
PLACEHOLDER_WORDS = frozenset(
    "UNKNOWN UNK NONE NA N/A HOMELESS REFUSED REFUSE DECLINED FAILED PROVIDE PROVIDED NOT NO "
    "ADDRESS ADDR GIVEN AVAILABLE UNAVAILABLE TBD PENDING TO ON OF IN FILE LISTED KNOWN".split()
)
_ZIP = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
_HOUSE_NUMBER = re.compile(r"^\d+[A-Z]?$(?<!ST)(?<!ND)(?<!RD)(?<!TH)")   # 12, 12A; not 3RD


@lru_cache(maxsize=1)
def _usps_tables() -> dict[str, dict[str, str]]:
    """USPS Publication 28 abbreviations (street types, directionals, unit designators, states),
    as shipped by usaddress-scourgify."""
    from scourgify import address_constants as c

    return {
        "suffix": dict(c.STREET_TYPE_ABBREVIATIONS),
        "direction": {**{v: v for v in c.DIRECTIONAL_REPLACEMENTS.values()}, **c.DIRECTIONAL_REPLACEMENTS},
        "unit_type": {**{v: v for v in c.OCCUPANCY_TYPE_ABBREVIATIONS.values()}, **c.OCCUPANCY_TYPE_ABBREVIATIONS},
        "state": {**{v: v for v in c.STATE_ABBREVIATIONS.values()}, **c.STATE_ABBREVIATIONS},
    }


def address_words(text: str) -> str:
    """An address text as plain words: ASCII upper case, no commas or periods, single blanks."""
    return _SPACES.sub(" ", ascii_upper(text).replace(",", " ").replace(".", " ")).strip()


@lru_cache(maxsize=1 << 18)
def parse_address(text: str) -> tuple[str, ...]:
    """Parse one free-text US address into :data:`ADDRESS_FIELDS`, in USPS standard forms.

    The parsing is ``usaddress`` (a conditional-random-field model trained on US addresses,
    applied as :mod:`sim.normalize.address_tagger` applies it, with usaddress's own labels); the
    standardization uses the USPS Publication 28 tables of ``usaddress-scourgify``: upper case,
    ``STREET`` -> ``ST``, ``NORTH`` -> ``N``, ``APARTMENT``/``#`` -> ``APT``, state names -> codes.

    >>> parse_address("5101 Forest Avenue Apt. 212, Los Angeles, CA 90027")
    ('5101', '', 'FOREST', 'AVE', '', 'APT', '212', 'LOS ANGELES', 'CA', '90027', '')
    >>> parse_address("7680 Tucker Ct # 112 Riverside Ca 92505-1234")[5:]
    ('APT', '112', 'RIVERSIDE', 'CA', '92505', '1234')
    """
    return _parse_many([text])[0]


def _parse_many(texts: list[str]) -> list[tuple[str, ...]]:
    """:func:`parse_address` of each text, the texts tagged together (:mod:`sim.normalize.address_tagger`)."""
    from sim.normalize.address_tagger import tag

    return [_standard_fields(parts or []) for parts in tag([address_words(t) for t in texts])]


def _standard_fields(parts: list[tuple[str, str]]) -> tuple[str, ...]:
    """:data:`ADDRESS_FIELDS` in USPS standard forms from usaddress's (token, label) pairs (none:
    an empty text, or one usaddress cannot read; it is still classified)."""
    out = dict.fromkeys(ADDRESS_FIELDS, "")
    tables = _usps_tables()
    street, place = [], []
    for token, label in parts:
        token = token.strip(" ,")
        if not token:
            continue
        if label == "AddressNumber" and not out["number"] and _HOUSE_NUMBER.match(token):
            out["number"] = token
        elif label == "AddressNumber":
            street.append(token)      # not a house number: DEL (MAR ST), 3RD (RD)
        elif label == "StreetNamePreDirectional":
            out["predir"] = tables["direction"].get(token, token)
        elif label in ("StreetName", "StreetNamePreType", "StreetNamePreModifier"):
            street.append(token)
        elif label == "StreetNamePostType":
            out["suffix"] = tables["suffix"].get(token, token)
        elif label == "StreetNamePostDirectional":
            out["postdir"] = tables["direction"].get(token, token)
        elif label in ("OccupancyType", "SubaddressType"):
            out["unit_type"] = tables["unit_type"].get(token, token)
        elif label in ("OccupancyIdentifier", "SubaddressIdentifier"):
            ident = token.lstrip("#").strip()
            out["unit"] = (out["unit"] + " " + ident).strip() if ident else out["unit"]
            out["unit_type"] = out["unit_type"] or "APT"       # "# 4" is a unit, APT by default
        elif label == "PlaceName":
            place.append(token)
        elif label == "StateName":
            out["state"] = tables["state"].get(token, token)
        elif label == "ZipCode":
            m = _ZIP.match(token)
            if m:
                out["zip5"], out["zip4"] = m.group(1), m.group(2) or ""
        elif label == "ZipPlus4" and token.isdigit():
            out["zip4"] = token
    out["street"] = " ".join(street)
    out["city"] = " ".join(place)
    return tuple(out.values())


def address_sufficiency(text: str, parsed: tuple[str, ...] | None = None) -> str:
    """How usable an address text is, from the text alone (:data:`SUFFICIENCY`):

    * ``blank``: nothing, or only punctuation;
    * ``placeholder``: words that stand in for an address ("FAILED TO PROVIDE", "UNKNOWN"), with
      or without a ZIP;
    * ``zip_only``: a ZIP code and nothing else;
    * ``partial``: a city, state or street, but not a house number on a named street;
    * ``complete``: a house number, a street name, and a ZIP or a city and state. (Whether an
      apartment building's unit is missing cannot be told from the text.)

    >>> [address_sufficiency(t) for t in ["", "FAILED TO PROVIDE 30301", "30301", "Atlanta GA", "12 Oak St, Atlanta GA 30301"]]
    ['blank', 'placeholder', 'zip_only', 'partial', 'complete']
    """
    words = address_words(text)
    if not words.strip(" -#/"):
        return "blank"
    tokens = words.split(" ")
    alpha = [t for t in tokens if not t.isdigit() and not _ZIP.match(t)]
    if alpha and all(t in PLACEHOLDER_WORDS for t in alpha):
        return "placeholder"
    if not alpha and len(tokens) == 1 and _ZIP.match(tokens[0]):
        return "zip_only"
    p = dict(zip(ADDRESS_FIELDS, parsed if parsed is not None else parse_address(text)))
    located = bool(p["zip5"]) or bool(p["city"] and p["state"])
    if p["number"] and p["street"] and located:
        return "complete"
    return "partial"


def parse_addresses(texts) -> "pa.Table":
    """Parse a column of address texts: one row per input with :data:`ADDRESS_FIELDS`, the
    standardized ``street_line`` (``5101 FOREST AVE APT 212``) and ``sufficiency``. Each distinct
    text is parsed once, all of them tagged together."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(list(texts), pa.string())
    encoded = pc.dictionary_encode(pc.fill_null(column, ""))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    distinct = encoded.dictionary.to_pylist()
    parsed = _parse_many(distinct)
    rows = encoded.indices.to_numpy(zero_copy_only=False)
    fields = {name: pa.array([p[i] for p in parsed], pa.string()).take(pa.array(rows)) for i, name in enumerate(ADDRESS_FIELDS)}
    lines = [" ".join(x for x in (p[0], p[1], p[2], p[3], p[4], f"{p[5]} {p[6]}".strip() if p[6] else "") if x) for p in parsed]
    fields["street_line"] = pa.array(lines, pa.string()).take(pa.array(rows))
    fields["sufficiency"] = pa.array([address_sufficiency(t, p) for t, p in zip(distinct, parsed)], pa.string()).take(pa.array(rows))
    return pa.table(fields)
