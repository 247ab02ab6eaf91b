"""The layers of sim/, checked from its imports: no module imports one of a layer above its own,
and no two modules import each other, however late (issue 14).

Data flows up the layers: a config is read, a world generated and matched, the decisions
evaluated, runs gathered into studies and sweeps, and those rendered as reports by the command
line. A module may import its own layer and those below it. Every module of sim/ must be in
:data:`LAYERS`, so a new one is placed on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parent.parent / "sim"

#: Bottom to top, each layer a folder of sim/ or a module at its top, so a module's layer is its
#: folder. ``compare``: the matcher's vocabulary (how two columns are compared, and the levels each
#: comparison has), which the policy schema checks a policy's rules against.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("common", ("sim.common",)),
    ("compare", ("sim.compare",)),
    ("config", ("sim.config",)),
    ("normalize", ("sim.normalize",)),
    ("world and matcher", ("sim.world", "sim.match")),
    ("evaluate", ("sim.evaluate",)),
    ("runs", ("sim.runs",)),
    ("studies", ("sim.studies",)),
    ("report", ("sim.report",)),
    ("command line", ("sim.cli", "sim.__main__", "sim")),
)


def modules() -> dict[str, Path]:
    out = {}
    for path in SIM.rglob("*.py"):
        parts = path.relative_to(SIM.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def layer_of(module: str) -> int:
    """The layer of ``module``: the most specific prefix listed (``sim.compare.comparisons`` before
    ``sim.match``; ``sim`` itself, the package's public API, only for the package)."""
    best, found = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or (prefix != "sim" and module.startswith(prefix + "."))) and len(prefix) > best:
                best, found = len(prefix), i
    if found is None:
        raise AssertionError(f"{module} is in no layer of tests/test_layers.py: add it where it belongs")
    return found


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The sim modules ``path`` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "sim"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            if base.split(".")[0] != "sim":
                continue
            for alias in node.names:       # `from sim.compare import comparisons` imports a module
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    out.discard(name)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(path, name, set(found)) for name, path in found.items()}


def test_every_module_has_a_layer(graph):
    for name in graph:
        layer_of(name)


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Each import of ``graph`` that goes up a layer, described."""
    return [f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
            for name, targets in sorted(graph.items()) for target in sorted(targets)
            if layer_of(target) > layer_of(name)]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a path (its first module again at the end), or None."""
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None


def test_no_module_imports_a_layer_above_its_own(graph):
    found = upward(graph)
    assert not found, "imports that go up a layer:\n  " + "\n  ".join(found)


def test_no_import_circles(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "an import circle: " + " -> ".join(cycle or [])


def test_the_checks_find_an_upward_import_and_a_circle(graph):
    """The two circles issue 14 found, put back: config reading the metric names from evaluate
    (which imports the matcher, which imports config), and the sweep writing its report (whose
    module imports the sweep). Both checks fail on them."""
    bad = {name: set(targets) for name, targets in graph.items()}
    bad["sim.config"].add("sim.evaluate")
    bad["sim.studies.sweep"].add("sim.report.sweep")
    assert upward(bad) == ["sim.config (config) imports sim.evaluate (evaluate)",
                           "sim.studies.sweep (studies) imports sim.report.sweep (report)"]
    assert find_cycle(bad) is not None and find_cycle(graph) is None
    with pytest.raises(AssertionError, match="is in no layer"):
        layer_of("simulator.other")


def private_imports(path: Path) -> list[str]:
    """Private names (``_name``) ``path`` imports from another sim module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sim") and not node.level:
            found += [f"from {node.module} import {a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
    return found


def test_no_module_imports_another_ones_private_names():
    """A helper two modules share is public, in the module where it belongs (issue 14 found
    compare._grade, population._rank_within, context._Numbering, figures._svg, report._environment
    and link._file_sha256 imported elsewhere)."""
    found = {str(path.relative_to(SIM.parent)): names for path in sorted(SIM.rglob("*.py")) if (names := private_imports(path))}
    assert found == {}


def test_the_private_import_check_sees_one(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from sim.compare.comparisons import _grade, exact\n")
    assert private_imports(bad) == ["from sim.compare.comparisons import _grade"]
