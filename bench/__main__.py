"""Run benchmarks: `python -m bench` (all) or `python -m bench NAME [options]`."""

from __future__ import annotations

import json
import sys
from importlib import import_module

BENCHES = ("book", "liquidation", "gateway", "simulation", "journal", "http", "flood", "sweep", "live")


def emit(bench: str, value: float, unit: str, **extra: object) -> None:
    """Print one result line."""
    print(json.dumps({"bench": bench, "value": value, "unit": unit, **extra}), flush=True)


def main(argv: list[str]) -> int:
    names = [argv[0]] if argv and not argv[0].startswith("-") else list(BENCHES)
    rest = argv[1:] if argv and not argv[0].startswith("-") else argv
    for name in names:
        if name not in BENCHES:
            print(f"unknown bench {name!r}; choose from {', '.join(BENCHES)}", file=sys.stderr)
            return 2
        import_module(f"bench.{name}").main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
