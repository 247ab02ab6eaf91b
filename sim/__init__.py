"""matchsim: a simulation of the 2025 ICE-to-IRS address match.

The public API, for a notebook or a script, is re-exported here lazily (each name is imported
when first used), so ``import sim`` runs nothing heavy:

* configs: :func:`load_config`, :func:`load_policy`, :func:`load_link_config`, :func:`load_targets`,
  :func:`load_sweep`;
* the world: :func:`generate` (to disk), :func:`read_dataset` (back from it);
* a run and a study: :func:`run` (one world, one policy: decisions and summary),
  :func:`run_policies` (one world, several), :func:`run_study` (seeds x policies, intervals);
* sweeps and calibration: :func:`plan_sweep`, :func:`run_sweep`, :func:`calibrate_scenario`
  (``sim.studies.calibrate.calibrate``);
* linking and scoring files: :func:`link_files` (``sim.runs.link.link``: the matcher on two files),
  :func:`score_links` (``sim.runs.score.score``: another linker's output on a world's truth). These
  three are not ``sim.studies.calibrate``, ``sim.runs.link`` and ``sim.runs.score``: those names are the modules;
* the matcher's parts: :func:`block_on`, the comparisons (:func:`exact`, :func:`jaro_winkler`,
  :func:`levenshtein`, :func:`date`, and the composites :func:`address`, :func:`surname`,
  :func:`given_name`, :func:`date_of_birth`, :func:`surname_address`), :class:`FellegiSunter`,
  and :func:`name_control` (the IRS's name control of a surname);
* engines: :func:`open_engine` (local processes or a Dask cluster).

>>> import sim
>>> sim.name_control("de la Cruz")
'DELA'
>>> sorted(set(sim.__all__) - set(dir(sim))) == []
True
"""

from __future__ import annotations

import os

# Arrow allocates from the C library's heap, not from its default mimalloc pool: a run allocates
# and frees hundreds of MB a block, and mimalloc hands freed pages back to the kernel at once, so
# every block faulted them in again (a national run spent 61 s of its 457 s CPU in the kernel).
# Set before Arrow's first allocation, which importing sim comes before in every matchsim
# process and worker; a value the user set is kept.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

from sim.common.provenance import VERSION as __version__  # noqa: E402

#: Each public name: the module that defines it, and its name there when that differs (a
#: function named as its module would be hidden by the module once imported).
_RENAMED = {"calibrate_scenario": "calibrate", "link_files": "link", "score_links": "score"}
_API = {
    "load_config": "sim.config", "load_policy": "sim.config", "load_link_config": "sim.config",
    "load_targets": "sim.config", "load_sweep": "sim.config",
    "generate": "sim.world.generate", "read_dataset": "sim.world.generate",
    "run": "sim.runs.pipeline", "run_policies": "sim.runs.pipeline", "run_study": "sim.studies.study",
    "plan_sweep": "sim.studies.sweep", "run_sweep": "sim.studies.sweep", "calibrate_scenario": "sim.studies.calibrate",
    "link_files": "sim.runs.link", "score_links": "sim.runs.score",
    "block_on": "sim.match.blocking",
    "exact": "sim.compare.comparisons", "jaro_winkler": "sim.compare.comparisons", "levenshtein": "sim.compare.comparisons",
    "date": "sim.compare.comparisons", "address": "sim.compare.comparisons", "surname": "sim.compare.comparisons",
    "given_name": "sim.compare.comparisons", "date_of_birth": "sim.compare.comparisons", "surname_address": "sim.compare.comparisons",
    "FellegiSunter": "sim.match.fellegi_sunter",
    "name_control": "sim.normalize",
    "open_engine": "sim.common.parallel",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value          # imported once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
