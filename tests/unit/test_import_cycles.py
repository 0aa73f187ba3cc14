"""The module imports of ``orchestrator`` and ``cbr_emulator`` form a DAG, and the emulator takes from the
orchestrator only the request signing and the SDK operation table.

The graph is read from the source (every ``import``, at any depth, ``TYPE_CHECKING`` ones included), so a
cycle cannot hide behind a mid-file or type-only import. ``from package import submodule`` is an edge to
the submodule, not to the package's ``__init__``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("orchestrator", "cbr_emulator")
EMULATOR_MAY_USE = frozenset({"orchestrator.cbr.signing", "orchestrator.cbr.operations"})

Graph = dict[str, set[str]]


def module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    modules = {}
    for package in packages:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _absolute(name: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _named(node: ast.AST, name: str, path: Path, modules: dict[str, Path]) -> list[str]:
    """The dotted names one import statement reaches: a submodule when it names one, else the module."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        source = _absolute(name, path, node)
        return [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
    return []


def _known(dotted: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``dotted`` that is one of ``modules``, if any."""
    while dotted and dotted not in modules:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def import_graph(root: Path, packages: tuple[str, ...]) -> Graph:
    modules = module_files(root, packages)
    graph: Graph = {}
    for name, path in modules.items():
        reached = (
            _known(dotted, modules)
            for node in ast.walk(ast.parse(path.read_text(), str(path)))
            for dotted in _named(node, name, path, modules)
        )
        graph[name] = {target for target in reached if target and target != name}
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for target in graph[module]:
            if target not in order:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], order[target])
        if low[module] == order[module]:
            component = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_has_no_import_cycle(package: str) -> None:
    involved = [c for c in cycles(import_graph(ROOT, PACKAGES)) if any(m.split(".")[0] == package for m in c)]
    assert involved == []


def test_a_type_only_import_still_closes_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg import a, b\n")
    type_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n"
    (package / "a.py").write_text(type_only)
    (package / "b.py").write_text("def f():\n    from . import a\n")
    (package / "c.py").write_text("from pkg import a\n")
    assert cycles(import_graph(tmp_path, ("pkg",))) == [["pkg.a", "pkg.b"]]


def test_the_emulator_takes_only_signing_and_operations_from_the_orchestrator() -> None:
    graph = import_graph(ROOT, PACKAGES)
    used = {
        (module, target)
        for module, targets in graph.items()
        if module.startswith("cbr_emulator")
        for target in targets
        if target.split(".")[0] == "orchestrator"
    }
    assert {target for _, target in used} <= EMULATOR_MAY_USE, sorted(used)


def test_importing_the_emulator_loads_no_other_orchestrator_module() -> None:
    probe = (
        "import sys, cbr_emulator.cli, cbr_emulator.server; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] == 'orchestrator')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert set(loaded.stdout.split()) <= {"orchestrator", "orchestrator.cbr", *EMULATOR_MAY_USE}
