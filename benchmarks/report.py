"""Print the newest saved benchmark run as a Markdown table, for pasting into the README.

    python benchmarks/report.py                 # newest JSON under .benchmarks/
    python benchmarks/report.py path/to/run.json

Each row is one benchmark: its mean time over the timed rounds, the number of rounds, and the
figures it recorded in ``extra_info`` (rates, peak memory, sizes). A line above the table names
the machine and the commit, since a figure means nothing without them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_STORAGE = Path(__file__).resolve().parent.parent / ".benchmarks"


def newest_run(storage: Path) -> Path:
    """The most recently written pytest-benchmark JSON under ``storage`` (autosave's counter
    in the name breaks ties)."""
    runs = sorted(storage.rglob("*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    if not runs:
        raise FileNotFoundError(f"no benchmark results under {storage}; run `make bench` first")
    return runs[-1]


def seconds(value: float) -> str:
    """A duration with a readable unit.

    >>> seconds(12.345), seconds(0.0123), seconds(0.0000456)
    ('12.35 s', '12.3 ms', '45.6 µs')
    """
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.1f} µs"


# Integers that are identifiers, not amounts: no thousands separators.
PLAIN_KEYS = ("seed", "pinned_cpu")


def figure(value, key: str = "") -> str:
    """One extra_info value: amounts with thousands separators, everything else as is.

    >>> figure(1234567), figure(20250627, "seed"), figure(0.01), figure(None), figure(True)
    ('1,234,567', '20250627', '0.01', '-', 'True')
    """
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool) and key not in PLAIN_KEYS:
        return f"{value:,}"
    return str(value)


def machine_line(run: dict) -> str:
    m = run.get("machine_info", {})
    cpu = m.get("cpu", {})
    commit = run.get("commit_info", {})
    parts = [
        cpu.get("brand_raw") or m.get("processor") or m.get("machine", "unknown CPU"),
        f"{cpu.get('count', '?')} cores" + (f" ({m['usable_cpus']} usable)" if "usable_cpus" in m and m["usable_cpus"] != cpu.get("count") else ""),
        f"{m['memory_gib']:g} GiB" if m.get("memory_gib") else None,
        f"{m.get('system', '')} {m.get('release', '')}".strip() or None,
        f"{m.get('python_implementation', 'Python')} {m.get('python_version', '')}".strip(),
    ]
    rev = commit.get("id", "")[:10]
    when = run.get("datetime", "")[:16].replace("T", " ")
    tail = f"commit {rev}{' + uncommitted changes' if commit.get('dirty') else ''}" if rev else "commit unknown"
    if "id_at_end" in commit:  # benchmarks/conftest.py: the checkout changed during the run
        end = f"{commit['id_at_end'][:10]}{' + uncommitted changes' if commit.get('dirty_at_end') else ''}"
        tail += f" (the checkout changed during the run, ending at {end})"
    return f"Measured {when} UTC on {', '.join(p for p in parts if p)}; {tail}."


def markdown(run: dict) -> str:
    """The Markdown block for one pytest-benchmark JSON document."""
    lines = [machine_line(run), "", "| Benchmark | Mean | Rounds | Figures |", "|---|---:|---:|---|"]
    for bench in run.get("benchmarks", []):
        stats = bench["stats"]
        extra = "; ".join(f"{key} {figure(value, key)}" for key, value in bench.get("extra_info", {}).items())
        lines.append(f"| `{bench['name']}` | {seconds(stats['mean'])} | {stats['rounds']} | {extra.replace('|', '/')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, help="a pytest-benchmark JSON file (default: the newest under .benchmarks/)")
    parser.add_argument("--storage", type=Path, default=DEFAULT_STORAGE, help="where `make bench` saves runs (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        path = args.path or newest_run(args.storage)
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"<!-- {path.name} -->")
    print(markdown(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
