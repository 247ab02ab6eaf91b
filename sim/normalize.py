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
    # letters with strokes do not decompose (Vietnamese D with stroke, Polish L, Nordic O)
    decomposed = unicodedata.normalize("NFKD", text.translate(_STROKES))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


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
    import pyarrow as pa
    import pyarrow.compute as pc

    column = last_names if isinstance(last_names, (pa.Array, pa.ChunkedArray)) else pa.array(np.asarray(last_names, dtype=object), pa.string())
    encoded = pc.dictionary_encode(pc.fill_null(column, ""))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    controls = np.array([name_control(u) for u in encoded.dictionary.to_pylist()], dtype=object)
    return controls[encoded.indices.to_numpy(zero_copy_only=False)]
