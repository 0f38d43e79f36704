"""Command line: `python -m exchange COMMAND ...` (see `python -m exchange help`)."""

from __future__ import annotations

import sys
from importlib import import_module

COMMANDS = {
    "demo": ("exchange.sim.cli", "demo_main", "run the demo scenario and print its summary (default)"),
    "book-demo": ("exchange.bookdemo", "main", "place a few orders, trade, print the book and the trades"),
    "serve": ("exchange.runtime.app", "serve_main", "run the exchange as a TCP service"),
    "simulate": ("exchange.sim.cli", "simulate_main", "run a scenario in virtual time and write a report"),
    "compare-margin": ("exchange.sim.cli", "compare_main", "run a scenario on cross, then isolated margin"),
    "compare-venues": ("exchange.sim.cli", "compare_venues_main", "run a scenario under each venue's rules"),
    "sweep": ("exchange.sim.cli", "sweep_main", "run a scenario over parameter values x seeds, one row per run"),
    "forensics": ("exchange.sim.forensics_cli", "forensics_main", "explain every cascade wave of a run"),
    "replay": ("exchange.sim.replay", "replay_main", "re-apply a run's journal and prove its state hash"),
    "fork": ("exchange.sim.fork", "fork_main", "restore a run at time T, change rules, continue, compare"),
    "classroom": ("exchange.runtime.classroom.cli", "classroom_main", "run a classroom trading game (docs/classroom.md)"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name = argv.pop(0) if argv and not argv[0].startswith("-") else "demo"
    if name in ("-h", "--help", "help") or name not in COMMANDS:
        print("usage: python -m exchange COMMAND [options]\n\ncommands:")
        for cmd, (_, _, text) in COMMANDS.items():
            print(f"  {cmd:15} {text}")
        return 0 if name in ("-h", "--help", "help") else 2
    module, func, _ = COMMANDS[name]
    return int(getattr(import_module(module), func)(argv) or 0)


if __name__ == "__main__":
    sys.exit(main())
