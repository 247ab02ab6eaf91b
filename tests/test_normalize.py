"""sim.normalize: name cleaning and the IRS name control (FACTS.md, "IRS name control")."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest

import sim
from sim.normalize import ascii_upper, clean_name, name_control, name_controls

# FACTS: examples published by the IRS and tax-software vendors (full name -> name control).
IRS_EXAMPLES = [("Teak", "TEAK"), ("McCedar", "MCCE"), ("Cedar-Hawthorn", "CEDA"), ("Hemlock", "HEML"), ("Aspen", "ASPE"), ("Lee", "LEE")]


@pytest.mark.parametrize(("last_name", "expected"), IRS_EXAMPLES)
def test_irs_published_examples(last_name, expected):
    assert name_control(last_name) == expected
    assert sim.name_control(last_name) == expected  # the public re-export


@pytest.mark.parametrize(
    ("last_name", "expected"),
    [
        # a surname written with particles is one surname: the blanks go (IRS reads MC CEDAR as MCCE)
        ("DE LA ROSA", "DELA"), ("de la Torre Muñoz", "DELA"), ("Van Dyke", "VAND"), ("MC CEDAR", "MCCE"),
        ("Del Rio", "DELR"), ("de Leon", "DELE"), ("St. Louis", "STLO"),
        # two last names: the first of the two (FACTS), spaced or hyphenated
        ("GOMEZ CONDE", "GOME"), ("Gomez-Conde", "GOME"), ("Torre Munoz", "TORR"), ("Gomez y Conde", "GOME"),
        # fewer than four characters is allowed; the short first surname is not padded from the second
        ("PAZ LOPEZ", "PAZ"), ("Ng-Lee", "NG"), ("Wu", "WU"), ("O", "O"),
        # suffixes, apostrophes, periods and other punctuation are ignored
        ("O'Neil Jr.", "ONEI"), ("Smith III", "SMIT"), ("Smith, Sr.", "SMIT"), ("D'Angelo", "DANG"), ("St.John", "STJO"),
        # accents and letters with strokes are stored as ASCII
        ("Muñoz", "MUNO"), ("Núñez", "NUNE"), ("Nguyễn", "NGUY"), ("Đặng", "DANG"), ("Øster", "OSTE"),
        # a particle standing alone is the surname itself (the Vietnamese surname LA)
        ("LA", "LA"), ("Le", "LE"), ("DE LA", "DELA"),
        # leading hyphens or blanks never start a name control
        ("-Smith", "SMIT"), ("  garcia ", "GARC"),
        # a suffix on its own is a surname, not something to drop
        ("JR", "JR"),
        # nothing to work with
        ("", ""), ("   ", ""), ("'.-", ""),
    ],
)
def test_name_control_rules(last_name, expected):
    assert name_control(last_name) == expected


def test_clean_name_keeps_letters_hyphen_and_single_blanks():
    assert clean_name("  o'Neil,  Jr. ") == "ONEIL"
    assert clean_name("Cedar-Hawthorn") == "CEDAR-HAWTHORN"
    assert clean_name("de   la\tRosa") == "DE LA ROSA"
    assert clean_name("Smith (2)") == "SMITH"
    assert clean_name("Mary-") == "MARY"


def test_ascii_upper_removes_accents():
    assert ascii_upper("Núñez de Álvarez") == "NUNEZ DE ALVAREZ"
    assert ascii_upper("Łukasz Øby") == "LUKASZ OBY"


def test_name_controls_of_a_column_equal_name_control_element_wise():
    names = ["GARCIA LOPEZ", "GARCIA", "DE LEON", "O'Neil Jr.", "", "PAZ LOPEZ", "GARCIA", "Nguyễn", "Cedar-Hawthorn"]
    expected = [name_control(n) for n in names]
    assert name_controls(names).tolist() == expected
    assert name_controls(pa.array(names)).tolist() == expected
    assert name_controls(pa.chunked_array([names[:4], names[4:]])).tolist() == expected
    assert name_controls(np.array(names, dtype=object)).tolist() == expected


def test_name_controls_treat_missing_names_as_empty():
    assert name_controls(pa.array([None, "GARCIA", None], pa.string())).tolist() == ["", "GARC", ""]
    assert name_controls([]).tolist() == []


def test_every_vocabulary_surname_has_a_valid_name_control():
    # IRS: up to 4 characters, letters (hyphen and blank are allowed but never first); the first
    # of two surnames drops any hyphen or blank, so the controls here are 1-4 letters.
    from sim.world.vocab import vocabulary

    surnames = vocabulary().surnames
    controls = name_controls(surnames)
    bad = [(s, c) for s, c in zip(surnames, controls) if not re.fullmatch(r"[A-Z]{1,4}", c)]
    assert bad == []
    # and every control is a prefix of the surname with particle blanks removed
    assert all(s.replace(" ", "").startswith(c) for s, c in zip(surnames, controls))
