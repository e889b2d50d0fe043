"""The house's layout: the package ``properties`` is split by role and its imports point one way.

runner -> invariants -> harness -> sandbox (the candidate side imports nothing of the checking side), and no module
imports another that imports it back (no cycle). Imports inside functions count too: a lazy import is still an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "properties"
#: role -> the roles it may import from (besides itself)
ALLOWED = {
    "sandbox": set(),
    "harness": {"sandbox"},
    "invariants": {"harness", "sandbox"},
    "runner": {"invariants", "harness", "sandbox", "top"},
    "top": {"runner", "invariants", "harness", "sandbox"},  # properties/__init__, plugin, api, test_*.py
}


def _module(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _role(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else "top"


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """``(all, top_level)`` modules of ``properties`` imported by the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    everything, top = set(), set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        names = [n for n in names if n == "properties" or n.startswith("properties.")]
        everything.update(names)
        if node in tree.body:
            top.update(names)
    return everything, top


MODULES = {_module(p): p for p in PKG.rglob("*.py")}


def _known(name: str) -> str | None:
    """The module a dotted import name refers to (``properties.a.b.func`` -> ``properties.a.b``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_one_way(module):
    role = _role(module)
    everything, _ = _imports(MODULES[module])
    for name in everything:
        target = _known(name)
        if target is None or target == "properties":
            continue
        other = _role(target)
        assert other == role or other in ALLOWED[role], f"{module} ({role}) imports {target} ({other})"


def test_the_candidate_side_imports_nothing_of_the_checking_side():
    for module, path in MODULES.items():
        if _role(module) == "sandbox":
            everything, _ = _imports(path)
            assert all(_role(_known(n) or "properties") in ("sandbox", "top") for n in everything), module


def test_no_import_cycle():
    graph = {m: {_known(n) for n in _imports(p)[1]} - {None, m, "properties"} for m, p in MODULES.items()}
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_every_role_has_its_room():
    roles = {_role(m) for m in MODULES}
    assert {"sandbox", "harness", "invariants", "runner"} <= roles
