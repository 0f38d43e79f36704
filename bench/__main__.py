"""Run benchmarks: `python -m bench` (all) or `python -m bench NAME [options]`;
`python -m bench profile NAME [options]` profiles one (bench/profiling.py); `--compiled` (anywhere)
runs them on the pure-Python core and then on the core compiled with mypyc (bench/builds.py). Every
result line names the build of the core it ran on ("build": "pure" or "compiled")."""

from __future__ import annotations

import json
import sys
from importlib import import_module

BENCHES = ("book", "liquidation", "gateway", "simulation", "journal", "http", "flood", "sweep", "live", "pymarketsim",
           "classroom")
MODULES = {"profile": "profiling"}  # commands whose module is named otherwise; not part of a run of all


def emit(bench: str, value: float, unit: str, **extra: object) -> None:
    """Print one result line."""
    print(json.dumps({"bench": bench, "value": value, "unit": unit, **extra, "build": build()}), flush=True)


def build() -> str:
    """The build of the core imported here: "compiled" (mypyc, setup.py) or "pure"."""
    from exchange.core import book

    return "compiled" if book.__file__ and not book.__file__.endswith(".py") else "pure"


def main(argv: list[str]) -> int:
    if "--compiled" in argv:
        from bench.builds import run
        return run([a for a in argv if a != "--compiled"])
    named = bool(argv) and not argv[0].startswith("-")
    names = [argv[0]] if named else list(BENCHES)
    rest = argv[1:] if named else argv
    status = 0
    for name in names:
        if name not in BENCHES and name not in MODULES:
            print(f"unknown bench {name!r}; choose from {', '.join((*BENCHES, *MODULES))}", file=sys.stderr)
            return 2
        status = import_module(f"bench.{MODULES.get(name, name)}").main(rest) or status
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
