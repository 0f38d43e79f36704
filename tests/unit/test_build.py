"""The core under test is the build asked for: compiled with mypyc when LIQUIDEX_MYPYC=1 (setup.py), pure
Python otherwise, so that a compiled run cannot test the pure core unawares, nor a pure run the compiled
modules an editable compiled install left beside the sources."""

import os
from importlib import import_module
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "exchange" / "core"
INTERPRETED = {"__init__"}  # interpreted in either build: re-exports only


def test_the_core_is_the_build_asked_for():
    compiled = os.environ.get("LIQUIDEX_MYPYC") == "1"
    modules = sorted(p.stem for p in CORE.glob("*.py"))
    assert len(modules) > len(INTERPRETED)
    for name in modules:
        path = import_module(f"exchange.core.{name}" if name != "__init__" else "exchange.core").__file__
        extension = any(path.endswith(suffix) for suffix in EXTENSION_SUFFIXES)
        assert extension == (compiled and name not in INTERPRETED), path
