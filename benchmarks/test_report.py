"""benchmarks/report.py turns a saved run into the README's table (a plain test, not a benchmark)."""

from __future__ import annotations

import doctest
import json

from benchmarks import report

RUN = {
    "datetime": "2026-11-21T17:40:00.000000+00:00",
    "machine_info": {
        "cpu": {"brand_raw": "Intel(R) Xeon(R) Processor", "count": 2},
        "usable_cpus": 2,
        "memory_gib": 23.5,
        "system": "Linux",
        "release": "6.1",
        "python_implementation": "CPython",
        "python_version": "3.11.7",
    },
    "commit_info": {"id": "0123456789abcdef", "dirty": True},
    "benchmarks": [
        {
            "name": "test_generate_master_file_rate",
            "stats": {"mean": 2.5, "rounds": 3},
            "extra_info": {"scale": 0.01, "seed": 20250627, "master_file_rows": 2_974_971, "pinned_cpu": 0, "note": "a|b"},
        },
    ],
}


def test_doctests():
    assert doctest.testmod(report).failed == 0


def test_markdown_names_the_machine_and_tabulates_extra_info():
    assert report.markdown(RUN).splitlines() == [
        "Measured 2026-11-21 17:40 UTC on Intel(R) Xeon(R) Processor, 2 cores, 23.5 GiB, Linux 6.1, "
        "CPython 3.11.7; commit 0123456789 + uncommitted changes.",
        "",
        "| Benchmark | Mean | Rounds | Figures |",
        "|---|---:|---:|---|",
        "| `test_generate_master_file_rate` | 2.50 s | 3 | scale 0.01; seed 20250627; master_file_rows 2,974,971; pinned_cpu 0; note a/b |",
    ]


def test_main_reads_the_newest_run(tmp_path, capsys):
    machine = tmp_path / "Linux-CPython-3.11-64bit"
    machine.mkdir()
    (machine / "0001_old.json").write_text(json.dumps({**RUN, "benchmarks": []}))
    newest = machine / "0002_new.json"
    newest.write_text(json.dumps(RUN))
    assert report.main(["--storage", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<!-- 0002_new.json -->\n") and "test_generate_master_file_rate" in out


def test_main_without_runs_says_what_to_do(tmp_path, capsys):
    assert report.main(["--storage", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"error: no benchmark results under {tmp_path}; run `make bench` first\n"


def test_a_checkout_that_changed_during_the_run_is_reported():
    run = {**RUN, "commit_info": {"id": "0123456789abcdef", "dirty": True, "id_at_end": "fedcba9876543210", "dirty_at_end": False}}
    assert report.machine_line(run).endswith(
        "; commit 0123456789 + uncommitted changes (the checkout changed during the run, ending at fedcba9876).")
