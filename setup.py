"""The optional compiled build: with LIQUIDEX_MYPYC=1, `pip install [-e] .` compiles the core with mypyc
(README.md, "A compiled core"); without it the build is pure Python, the default and the reference.
Everything else about the package is declared in pyproject.toml."""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent
CORE = ROOT / "exchange" / "core"
COMPILE = os.environ.get("LIQUIDEX_MYPYC") == "1"
# Left interpreted: the package's re-exports (nothing to compile).
INTERPRETED = {"__init__.py"}
# What compiling needs at build time (mypyc ships with mypy; the stubs type SortedList): asked of
# setuptools as setup_requires, so the pure build needs nothing beyond setuptools.
COMPILER = ["mypy>=1.8", "sortedcontainers-stubs>=2.4"]


def compiled_core() -> list[object]:
    if not COMPILE:
        for stale in [*CORE.glob("*.so"), *CORE.parent.glob("core__mypyc*.so")]:
            stale.unlink()  # left beside the sources by a compiled editable install: Python would import them
        return []
    try:
        from mypyc.build import mypycify
    except ModuleNotFoundError:  # setuptools first runs this file to ask for setup_requires, then to build
        return []
    sources = sorted(str(p.relative_to(ROOT)) for p in CORE.glob("*.py") if p.name not in INTERPRETED)
    return list(mypycify(sources, opt_level="3", group_name="exchange.core"))


setup(ext_modules=compiled_core(), setup_requires=COMPILER if COMPILE else [])
