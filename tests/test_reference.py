"""Reference data is checked before it is used: a truncated or damaged table is exit code 3 with
the file named and the fix, never a parser's traceback or a short table taken as whole."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import sim.common.reference as reference
from sim.common.errors import DataError


def test_the_recorded_checksums_are_those_of_the_files_shipped():
    """`make checksums` would write nothing new: every recorded file exists and matches."""
    assert reference.current_sums() == (Path(reference.__file__).with_name(reference.SUMS_FILE)).read_text()
    for source, name in reference.recorded():
        assert reference.reference_path(source, name).is_file()


@pytest.fixture()
def damaged(tmp_path, monkeypatch):
    """sim/world/data copied to tmp_path, with the caller damaging a file in it."""
    folder = tmp_path / "data"
    shutil.copytree(Path(reference.__file__).parents[1] / "world" / "data", folder)
    real = reference._folder
    monkeypatch.setattr(reference, "_folder", lambda source: folder if source == "sim.world" else real(source))
    reference.reference_path.cache_clear()
    yield folder
    reference.reference_path.cache_clear()


def test_a_truncated_file_is_named_with_its_size_and_the_fix(damaged):
    path = damaged / "names.toml"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])       # still valid TOML up to a point, or not: never read
    with pytest.raises(DataError) as info:
        reference.reference_toml("sim.world", "names.toml")
    message = str(info.value)
    assert info.value.exit_code == 3
    assert message.startswith(f"reference data sim/world/data/names.toml is damaged: {len(data) // 2:,} bytes with SHA-256 ")
    assert f"but {len(data):,} bytes with" in message and "(shorter than recorded: truncated?)" in message
    assert message.endswith("reinstall matchsim (make distclean && make run); if you changed the file on purpose, "
                            "record it with `make checksums`")


def test_a_file_of_the_right_size_but_other_bytes_is_damaged_too(damaged):
    path = damaged / "census_2010_surnames.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"census_2010_surnames.parquet is damaged: 2,465,337 bytes .* were recorded; reinstall"):
        reference.reference_bytes("sim.world", "census_2010_surnames.parquet")


def test_a_missing_file_says_so(damaged):
    (damaged / "origin_groups.toml").unlink()
    with pytest.raises(DataError, match=r"^reference data sim/world/data/origin_groups.toml is missing or unreadable "
                                        r"\(No such file or directory\); reinstall matchsim"):
        reference.reference_toml("sim.world", "origin_groups.toml")


def test_the_command_line_exits_3_on_truncated_reference_data_and_writes_nothing(tmp_path, baseline_config_path):
    """End to end, in a fresh process whose package data is a truncated copy (the parquet cut at
    a third: pyarrow raised ArrowInvalid through the CLI before)."""
    folder = tmp_path / "data"
    shutil.copytree(Path(reference.__file__).parents[1] / "world" / "data", folder)
    parquet = folder / "census_2010_surnames.parquet"
    parquet.write_bytes(parquet.read_bytes()[: parquet.stat().st_size // 3])
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import sim.common.reference as reference
        real = reference._folder
        reference._folder = lambda source: Path({str(folder)!r}) if source == "sim.world" else real(source)
        from sim.cli import main
        sys.argv = ["matchsim", "generate", {str(baseline_config_path)!r}, "-o", {str(tmp_path / "world")!r},
                    "--set", "world.scale=0.0005", "--quiet"]
        main()
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("error: reference data sim/world/data/census_2010_surnames.parquet is damaged: 821,779 bytes")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "world").exists() and not list(tmp_path.glob("world.tmp*"))
