"""The public API of sim/__init__.py, and the README's notebook example run as it is written."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

import sim

REPO = Path(__file__).resolve().parent.parent


def test_every_public_name_resolves_to_what_its_module_defines():
    import importlib

    for name in sim.__all__:
        if name == "__version__":
            continue
        module = importlib.import_module(sim._API[name])
        assert getattr(sim, name) is getattr(module, sim._RENAMED.get(name, name)), name
    # the functions named after a module stay reachable once the module is imported
    for module in ("sim.studies.calibrate", "sim.runs.link", "sim.runs.score"):
        importlib.import_module(module)
    assert callable(sim.link_files) and callable(sim.score_links) and callable(sim.calibrate_scenario)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        sim.nonsense  # noqa: B018


def test_the_readmes_notebook_example_runs_as_written():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### From a notebook"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(REPO)
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md (From a notebook)", "exec"), {})
    finally:
        os.chdir(cwd)
    printed = out.getvalue().splitlines()
    assert len(printed) >= 3 and "wrong_person_kind" in out.getvalue()


def test_importing_sim_puts_arrow_on_the_c_heap_unless_the_user_chose():
    """Arrow's default pool would hand each block's freed pages back to the kernel; matchsim's
    processes allocate from the C heap instead, and a pool the user chose is kept."""
    import subprocess
    import sys

    script = "import sim, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    ours = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    theirs = subprocess.run([sys.executable, "-c", script], env={**env, "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"},
                            capture_output=True, text=True, check=True)
    assert (ours.stdout.strip(), theirs.stdout.strip()) == ("system", "mimalloc")
