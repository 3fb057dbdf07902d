"""The core's layout shows its pipeline: imports go only downward.

cli → loop / sweep → run → engine / host / results → the top level (base classes and the plugin toolkit). results never
imports run, engine or host; engine and host never import run; the top level imports none of the subpackages,
except the contract kit (:mod:`albench.testing`), which drives components the way a run would. Imports
needed for type annotations only (under ``if TYPE_CHECKING:``) are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "albench"
LAYERS = ("cli", "loop", "sweep", "run", "engine", "host", "results")

# part → the parts it may import (besides the top level, which every part may import)
ALLOWED: dict[str, set[str]] = {
    "cli": {"loop", "sweep", "run", "engine", "host", "results"},
    "loop": {"run", "engine", "host", "results"},  # the annotation loop drives the runner's rounds
    "sweep": {"run", "engine", "host", "results"},  # a sweep hands runs to executors
    "run": {"engine", "host", "results"},
    "engine": set(),
    "host": set(),
    "results": set(),
    "top": set(),
    "testing": {"run", "engine", "host", "results"},
}


def _part(module: Path) -> str:
    relative = module.relative_to(PACKAGE).parts
    if len(relative) > 1 and relative[0] in (*LAYERS, "testing"):
        return relative[0]
    return "top"


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:`` (annotations only, never imported at run time)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        yield node
        yield from _runtime_nodes(node)


def _imported_parts(module: Path) -> set[str]:
    parts = set()
    for node in _runtime_nodes(ast.parse(module.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            pieces = name.split(".")
            if pieces[0] == "albench" and len(pieces) > 1 and pieces[1] in LAYERS:
                parts.add(pieces[1])
    return parts


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts and p != PACKAGE / "__init__.py")


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_only_downward(module: Path):
    part = _part(module)
    upward = _imported_parts(module) - ALLOWED[part] - {part}
    assert not upward, f"albench/{module.relative_to(PACKAGE)} ({part}) imports {sorted(upward)}"
