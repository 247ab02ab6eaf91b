"""sim.common.io: outputs appear complete or not at all, and nothing is replaced unless asked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sim.common.errors import OutputExistsError
from sim.common.io import atomic_write_bytes, atomic_write_text, check_output_dir, output_dir


class Boom(Exception):
    pass


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def _old_output(path: Path) -> Path:
    """An earlier matchsim output: its summary.json marks it as one (sim.common.io.OUTPUT_MARKERS)."""
    path.mkdir(parents=True)
    (path / "summary.json").write_text("old run\n")
    return path


def test_output_dir_renames_temp_dir_into_place_on_success(tmp_path):
    target = tmp_path / "world"
    with output_dir(target, force=False) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(f"world.tmp-{os.getpid()}-")
        assert tmp.is_dir() and not target.exists()
        (tmp / "part.txt").write_text("complete\n")
    assert (target / "part.txt").read_text() == "complete\n"
    assert _siblings(target) == ["world"]


def test_output_dir_creates_missing_parents(tmp_path):
    target = tmp_path / "a" / "b" / "world"
    with output_dir(target, force=False) as tmp:
        (tmp / "x").write_text("x")
    assert (target / "x").is_file()


def test_output_dir_follows_umask_not_tempfile_private_mode(tmp_path):
    old = os.umask(0o022)
    try:
        with output_dir(tmp_path / "world", force=False):
            pass
    finally:
        os.umask(old)
    assert (tmp_path / "world").stat().st_mode & 0o777 == 0o755


def test_output_dir_refuses_existing_dir_without_force_before_any_work(tmp_path):
    target = _old_output(tmp_path / "world")
    entered = False
    with pytest.raises(OutputExistsError) as info:
        with output_dir(target, force=False):
            entered = True
    assert str(info.value) == f"output directory exists: '{target}'; pass --force to replace it, or choose another -o"
    assert info.value.exit_code == 2
    assert not entered
    assert sorted(p.name for p in target.iterdir()) == ["summary.json"]
    assert (target / "summary.json").read_text() == "old run\n"
    assert _siblings(target) == ["world"]


def test_output_dir_message_shows_the_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _old_output(tmp_path / "out" / "world")
    with pytest.raises(OutputExistsError, match=r"^output directory exists: 'out/world'; "):
        with output_dir("out/world", force=False):
            pass


def test_output_dir_force_replaces_old_dir(tmp_path):
    target = _old_output(tmp_path / "world")
    with output_dir(target, force=True) as tmp:
        # The old output stays readable until the new one is complete.
        assert (target / "summary.json").read_text() == "old run\n"
        (tmp / "new.txt").write_text("new run\n")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert _siblings(target) == ["world"]


def test_output_dir_force_on_missing_dir_just_creates_it(tmp_path):
    with output_dir(tmp_path / "world", force=True) as tmp:
        (tmp / "new.txt").write_text("new run\n")
    assert (tmp_path / "world" / "new.txt").is_file()


@pytest.mark.parametrize("force", [False, True])
def test_exception_inside_leaves_no_temp_dir_and_no_partial_output(tmp_path, force):
    target = tmp_path / "world"
    with pytest.raises(Boom):
        with output_dir(target, force=force) as tmp:
            (tmp / "half.txt").write_text("half")
            raise Boom
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_exception_inside_keeps_old_dir_intact(tmp_path):
    target = _old_output(tmp_path / "world")
    with pytest.raises(Boom):
        with output_dir(target, force=True) as tmp:
            (tmp / "half.txt").write_text("half")
            raise Boom
    assert sorted(p.name for p in target.iterdir()) == ["summary.json"]
    assert (target / "summary.json").read_text() == "old run\n"
    assert _siblings(target) == ["world"]


def test_keyboard_interrupt_inside_also_cleans_up(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with output_dir(tmp_path / "world", force=False):
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("force", [False, True])
def test_output_dir_refuses_a_file_even_with_force(tmp_path, force):
    target = tmp_path / "august-2025.toml"
    target.write_text("scenario = 'x'\n")
    with pytest.raises(OutputExistsError) as info:
        with output_dir(target, force=force):
            pass
    assert str(info.value) == (
        f"output path exists and is not a directory: '{target}'; "
        f"choose another -o (--force only replaces directories)"
    )
    assert target.read_text() == "scenario = 'x'\n"
    assert _siblings(target) == ["august-2025.toml"]


@pytest.mark.parametrize("given", [".", ".."])
def test_force_refuses_to_replace_the_working_directory_or_its_parents(tmp_path, monkeypatch, given):
    work = tmp_path / "project"
    work.mkdir()
    (work / "precious.txt").write_text("keep")
    monkeypatch.chdir(work)
    with pytest.raises(OutputExistsError) as info:
        check_output_dir(given, force=True)
    assert str(info.value) == (
        f"refusing to replace '{given}': it contains the current working directory; choose another -o"
    )
    assert (work / "precious.txt").read_text() == "keep"


def test_output_dir_refuses_a_dir_that_appeared_during_the_work(tmp_path):
    target = tmp_path / "world"
    with pytest.raises(OutputExistsError, match="^output directory exists"):
        with output_dir(target, force=False) as tmp:
            (tmp / "new.txt").write_text("new")
            target.mkdir()  # another process got there first
    assert list(target.iterdir()) == []
    assert _siblings(target) == ["world"]


def test_atomic_write_text_creates_and_replaces(tmp_path):
    path = tmp_path / "summary.txt"
    atomic_write_text(path, "first\n")
    assert path.read_text() == "first\n"
    atomic_write_text(path, "second\r\nline\n")
    assert path.read_bytes() == b"second\r\nline\n"
    assert _siblings(path) == ["summary.txt"]


def test_atomic_write_bytes_creates_parents_with_umask_mode(tmp_path):
    path = tmp_path / "a" / "b.bin"
    old = os.umask(0o022)
    try:
        atomic_write_bytes(path, b"\x00\x01")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"\x00\x01"
    assert path.stat().st_mode & 0o777 == 0o644


def test_atomic_write_failure_keeps_old_content_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "summary.txt"
    path.write_text("old\n")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new\n")
    assert path.read_text() == "old\n"
    assert _siblings(path) == ["summary.txt"]


def test_atomic_write_refuses_a_directory_in_the_way(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(OutputExistsError) as info:
        atomic_write_text(tmp_path / "out", "x")
    assert str(info.value) == (
        f"cannot write file '{tmp_path / 'out'}': a directory is in the way; remove it or choose another path"
    )


def test_failed_final_rename_puts_old_dir_back(tmp_path, monkeypatch):
    target = _old_output(tmp_path / "world")
    real_rename = os.rename

    def rename(src, dst):
        if ".tmp-" in Path(src).name:
            raise OSError("rename failed")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="rename failed"):
        with output_dir(target, force=True) as tmp:
            (tmp / "new.txt").write_text("new run\n")
    assert sorted(p.name for p in target.iterdir()) == ["summary.json"]
    assert _siblings(target) == ["world"]


def test_force_replaces_only_what_matchsim_wrote(tmp_path):
    """A non-empty directory with none of a matchsim output's top files is not replaced."""
    target = tmp_path / "configs"
    target.mkdir()
    (target / "august-2025.toml").write_text("scenario = 'x'\n")
    with pytest.raises(OutputExistsError) as info:
        with output_dir(target, force=True):
            pass
    assert str(info.value) == (
        f"refusing to replace '{target}': it is not empty ('august-2025.toml') and is not a matchsim output (it has none "
        "of manifest.json, summary.json, sweep.json), and --force replaces only what matchsim wrote; choose another -o, "
        "or empty it yourself")
    assert (target / "august-2025.toml").read_text() == "scenario = 'x'\n" and _siblings(target) == ["configs"]
    # an empty directory is no loss
    (target / "august-2025.toml").unlink()
    with output_dir(target, force=True) as tmp:
        (tmp / "summary.json").write_text("{}")
    assert sorted(p.name for p in target.iterdir()) == ["summary.json"]


def test_force_never_deletes_an_input_of_the_command(tmp_path):
    target = _old_output(tmp_path / "out")
    (target / "people.csv").write_text("id\n1\n")
    with pytest.raises(OutputExistsError) as info:
        with output_dir(target, force=True, inputs=[tmp_path / "elsewhere.csv", target / "people.csv"]):
            pass
    assert str(info.value) == (
        f"refusing to replace '{target}': it holds '{target / 'people.csv'}', an input of this command, which --force "
        "would delete; choose another -o, or move the input out of it first")
    assert (target / "people.csv").read_text() == "id\n1\n"
    # the input is the output directory itself, or lies deeper in it
    for given in (target, target / "sub" / "x.parquet"):
        with pytest.raises(OutputExistsError, match="an input of this command"):
            check_output_dir(target, force=True, inputs=[given])
