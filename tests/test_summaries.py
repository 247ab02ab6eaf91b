"""sim.common.summaries: every summary has one definition, checked when it is written and when it
is read back. The real summaries are checked by every test that writes one (a run, a study, a
sweep, a link, a score, a world); these tests check that the checks can fail."""

from __future__ import annotations

import json

import pytest

from sim.common.errors import InputError
from sim.common.summaries import KINDS, read_summary, summary_text, write_summary
from sim.common.provenance import provenance


def link_summary(**change) -> dict:
    return {"command": "link", **provenance(), "policy": "irs-2025", "seed": None, "config_sha256": "ab" * 32,
            "inputs": {"left": {"sha256": "cd" * 32}, "right": {"sha256": "ef" * 32}}, "n_pairs": 10,
            "n_matched_pairs": 2, "outcomes": {"disclosed": 2}, "by_path": {"all": {"disclosed": 2}},
            "fellegi_sunter": {}, "notes": [], "config": {}, **change}


def test_a_summary_is_written_as_it_was_built_once_it_is_checked(tmp_path):
    summary = link_summary()
    path = write_summary(tmp_path, summary, "link")
    assert path == tmp_path / "summary.json"
    assert path.read_text() == json.dumps(summary, indent=2) + "\n"
    assert read_summary(tmp_path, "link") == summary


def test_a_key_its_definition_lacks_is_refused_when_written_anywhere_in_it(tmp_path):
    with pytest.raises(ValueError, match=r"keys its definition in sim.common.summaries lacks: outcome_counts; "
                                         r"define them in LinkSummary"):
        write_summary(tmp_path, link_summary(outcome_counts={}), "link")
    fit = {"prior_match": 0.1, "m": [[0.5, 0.5]], "u": [[0.9, 0.1]], "iterations": 3, "converged": True, "lambda": 0.1}
    with pytest.raises(ValueError, match=r"lacks: fellegi_sunter\.all\.lambda;"):
        summary_text(link_summary(fellegi_sunter={"all": fit}), "link")
    assert not list(tmp_path.iterdir())


def test_a_value_of_the_wrong_type_is_refused_when_written():
    with pytest.raises(ValueError, match=r"n_pairs: input should be a valid integer; got '10'"):
        summary_text(link_summary(n_pairs="10"), "link")


def test_a_damaged_summary_read_back_is_one_error_naming_each_problem(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(link_summary(n_pairs=-1.5, command="run", outcomes=None)))
    with pytest.raises(InputError) as info:
        read_summary(tmp_path, "link")
    assert info.value.exit_code == 2
    assert str(info.value).splitlines() == [
        f"'{tmp_path / 'summary.json'}' is not a link summary matchsim can read: 3 problems",
        "  - command: input should be 'link'; got 'run'",
        "  - n_pairs: input should be a valid integer; got -1.5",
        "  - outcomes: input should be a valid dictionary; got None",
        "run `matchsim link` again to rewrite it, or restore the file as it was written",
    ]


def test_a_summary_that_is_missing_or_not_json_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match=r"^no manifest.json in '.*'; pass the directory `matchsim generate` wrote"):
        read_summary(tmp_path, "world")
    (tmp_path / "summary.json").write_text('{"kind": "sweep",')
    with pytest.raises(InputError, match=r"cannot read '.*summary.json': .*; run `matchsim sweep` again to rewrite it"):
        read_summary(tmp_path, "sweep")


def test_extra_keys_are_read_so_a_later_version_s_summary_still_reads(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(link_summary(added_later={"x": 1})))
    assert read_summary(tmp_path, "link")["added_later"] == {"x": 1}


def test_every_kind_has_a_writer_that_uses_it():
    """Each kind is written somewhere in sim/ through write_summary, so no definition is dead."""
    import re
    from pathlib import Path

    written = {m.group(1) for p in Path(__file__).resolve().parent.parent.joinpath("sim").rglob("*.py")
               for m in re.finditer(r'write_summary\(.*"(\w+)"\)$', p.read_text(), re.M)}
    assert written == set(KINDS)
