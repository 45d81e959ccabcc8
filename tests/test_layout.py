"""The code's layout keeps its shape: imports run one way (records -> stats -> findings -> present), no
module imports itself back through others, and no module grows past what a reader takes in one sitting."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from testpaths import ROOT

MAX_LINES = 600
#: The data's path through the core: a subpackage may import from itself and from those before it only.
FLOW = ("records", "stats", "findings", "present")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for top in ("analysis", "ui"):
        for path in sorted((ROOT / top).rglob("*.py")):
            found[module_name(path)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules a file imports anywhere in it (inside functions too), each as the module file it
    loads: ``from analysis.records import schema`` is an import of ``analysis.records.schema``."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in known)
    found.discard(module_name(path))
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) for name, path in known.items()}


def test_the_import_graph_has_no_cycle():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt):] + [node, nxt]) if nxt in path
                              else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_imports_follow_the_data():
    """records -> stats -> findings -> present: nothing imports a later step; the core never imports ui/."""
    wrong = []
    for name, targets in graph().items():
        parts = name.split(".")
        if parts[0] == "analysis" and len(parts) > 2 and parts[1] in FLOW:
            step = FLOW.index(parts[1])
            for target in targets:
                tparts = target.split(".")
                if tparts[0] == "ui" or (len(tparts) > 1 and tparts[1] in FLOW and FLOW.index(tparts[1]) > step):
                    wrong.append(f"{name} imports {target}")
        if parts[0] == "analysis":
            wrong.extend(f"{name} imports {t}" for t in targets if t.split(".")[0] == "ui")
    assert not wrong, "\n".join(sorted(wrong))


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_over_600_lines(name):
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it where its parts meet"


def test_the_graph_sees_from_imports_of_modules():
    """The checker itself: 'from analysis.records import schema' counts as importing the schema module."""
    known = modules()
    assert "analysis.records.schema" in imports(known["analysis.records.columnar"], known)
    assert "analysis.records.store" in imports(known["ui.setup"], known)
