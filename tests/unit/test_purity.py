"""The core is deterministic and I/O free: no module of exchange/core imports a clock, randomness or I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import exchange.core

FORBIDDEN = {"asyncio", "time", "random", "os", "socket", "structlog", "msgpack"}
CORE = Path(exchange.core.__file__).parent
MODULES = sorted(CORE.rglob("*.py"))


def imported_roots(source: str) -> set[str]:
    """Top-level package names imported anywhere in the source (including inside functions)."""
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            roots.add("__import__")
    return roots


def test_the_core_has_modules():
    names = {p.name for p in MODULES}
    assert {"engine.py", "book.py", "trading.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_core_module_imports_nothing_impure(path):
    bad = imported_roots(path.read_text()) & (FORBIDDEN | {"__import__", "importlib"})
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_checker_catches_every_form_of_import():
    src = "import os.path\nfrom time import monotonic\ndef f():\n    import random\n    return __import__('socket')\n"
    assert imported_roots(src) >= {"os", "time", "random", "__import__"}
    assert "asyncio" not in imported_roots("from .asyncio import x\n")  # a relative module is the core's own
