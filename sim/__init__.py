"""matchsim: a simulation of the 2025 ICE-to-IRS address match.

The public API is re-exported here lazily so that importing :mod:`sim` runs nothing heavy.
"""

from __future__ import annotations

from sim.provenance import VERSION as __version__

__all__ = ["__version__", "load_config", "generate", "name_control"]


def __getattr__(name: str):
    if name == "load_config":
        from sim.config import load_config

        return load_config
    if name == "generate":
        from sim.world.generate import generate

        return generate
    if name == "name_control":
        from sim.normalize import name_control

        return name_control
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
