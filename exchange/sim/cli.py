"""Command line of the simulator: `demo`, `simulate`, `compare-margin` and `sweep`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .compare import compare, compare_table
from .compare_report import write_compare_report
from .compare_venues import compare_venues, venue_order, venues_table, write_venues_report
from .overrides import parse_assignment
from .report import headline, write_report
from .runner import run_scenario
from .scenario import load_scenario
from .sweep import load_sweep_file, progress_line, run_sweep, sweep_from_sets
from .sweep_report import write_sweep_report

NS = 1_000_000_000


def progress_bar(total_ns: int, label: str, stream: Any = None) -> Callable[[int], None]:
    """A one-line progress bar on stderr, redrawn as virtual time advances."""
    out = stream or sys.stderr
    start = time.perf_counter()

    tty = out.isatty()

    def show(t_ns: int) -> None:
        frac = min(1.0, t_ns / total_ns) if total_ns else 1.0
        if not tty and frac < 1.0:
            return
        bar = "#" * int(frac * 30)
        out.write(f"{chr(13) if tty else ''}{label} [{bar:<30}] {frac * 100:5.1f}%  t={t_ns / NS:7.0f}s  "
                  f"wall {time.perf_counter() - start:5.1f}s")
        out.flush()
        if frac >= 1.0:
            out.write("\n")

    return show


def _simulate(name: str, seed: int | None, out: str | None, quiet: bool = False) -> tuple[dict[str, Any], Path]:
    scenario = load_scenario(name)
    if seed is not None:
        scenario = scenario.with_seed(seed)
    out_dir = Path(out or f"runs/{scenario.name}-seed{scenario.seed}")
    total = int(scenario.duration_s * NS)
    bar = None if quiet else progress_bar(total, scenario.name)
    sim, summary = run_scenario(scenario, out_dir, bar)
    if bar is not None:
        bar(total)
    page = write_report(sim, summary, out_dir)
    return summary, page


def _print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"  {a:<{width}}  {b}")


def _parser(prog: str, scenario: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog)
    if scenario:
        p.add_argument("scenario", help="scenario name in configs/scenarios/ or a path to a .toml file")
    p.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    p.add_argument("--out", default=None, help="output directory (default runs/SCENARIO-seedN)")
    return p


def simulate_main(argv: list[str]) -> int:
    """python -m exchange simulate SCENARIO [--seed N] [--out DIR]"""
    args = _parser("python -m exchange simulate").parse_args(argv)
    try:
        summary, page = _simulate(args.scenario, args.seed, args.out)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    _print_table(headline(summary))
    print(f"\nreport: {page}\nsummary: {page.parent / 'summary.json'}")
    return 0


def demo_main(argv: list[str]) -> int:
    """python -m exchange demo [--seed N] [--out DIR]: the demo scenario, its summary and report."""
    args = _parser("python -m exchange demo", scenario=False).parse_args(argv)
    started = time.perf_counter()
    summary, page = _simulate("demo", args.seed, args.out)
    print(f"\nDemo: {summary['agents']} agents, a leveraged crowd and a price shock "
          f"({time.perf_counter() - started:.1f} s wall)\n")
    _print_table(headline(summary))
    print(f"\nreport: {page}  (open it in a browser)\nsummary: {page.parent / 'summary.json'}")
    return 0


def compare_main(argv: list[str]) -> int:
    """python -m exchange compare-margin SCENARIO [--seed N] [--out DIR] [--whole-wallet]"""
    p = _parser("python -m exchange compare-margin")
    p.add_argument("--whole-wallet", action="store_true",
                   help="like for like: every isolated position gets the whole wallet as its margin")
    args = p.parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.seed is not None:
        scenario = scenario.with_seed(args.seed)
    variant = "-whole-wallet" if args.whole_wallet else ""
    out = Path(args.out or f"runs/{scenario.name}-seed{scenario.seed}-compare{variant}")
    total = int(scenario.duration_s * NS)
    result = compare(scenario, out, lambda mode: progress_bar(total, f"{scenario.name} {mode.lower()}"),
                     args.whole_wallet)
    page = write_compare_report(result, out)
    print(compare_table(result))
    print(f"\nreport: {page}\nsummaries: {out / 'cross' / 'summary.json'}, {out / 'isolated' / 'summary.json'}; "
          f"comparison: {out / 'compare.json'}")
    return 0


def compare_venues_main(argv: list[str]) -> int:
    """python -m exchange compare-venues SCENARIO [--seed N] [--out DIR] [--venues a,b,...]"""
    p = _parser("python -m exchange compare-venues")
    p.add_argument("--venues", default=None, help=f"comma list of profiles (default: all, {','.join(venue_order())})")
    args = p.parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
        venues = args.venues.split(",") if args.venues else venue_order()
        unknown = sorted(set(venues) - set(venue_order()))
        if unknown:
            raise ValueError(f"unknown venues {unknown}: one of {venue_order()}")
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.seed is not None:
        scenario = scenario.with_seed(args.seed)
    out = Path(args.out or f"runs/{scenario.name}-seed{scenario.seed}-venues")
    total = int(scenario.duration_s * NS)
    result = compare_venues(scenario, out, venues, lambda v: progress_bar(total, f"{scenario.name} {v}"))
    page = write_venues_report(result, out)
    print(venues_table(result))
    print(f"\nreport: {page}\ncomparison: {out / 'compare_venues.json'}; each run: {out}/VENUE/summary.json")
    return 0


def sweep_main(argv: list[str]) -> int:
    """python -m exchange sweep SCENARIO|SWEEP.toml [--seeds 1-50] [--set PATH=VALUE ...] [--out DIR]
    [--workers N] [--backend local|ray] [--address ADDR] [--journals] [--no-report]"""
    p = argparse.ArgumentParser(prog="python -m exchange sweep",
                                description="Run a scenario over parameter values x seeds; one row per run.")
    p.add_argument("scenario", help="scenario name or .toml path, or a sweep file (a .toml with a [set] table)")
    p.add_argument("--seeds", default=None, help="N, N-M or a comma list (default: the sweep file's, else 1)")
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                   help="a [list] is an axis (swept); a single value is fixed for every run")
    p.add_argument("--out", default=None, help="sweep directory (default runs/sweep-NAME); rerun to resume")
    p.add_argument("--workers", type=int, default=None, help="parallel runs (default: all cores)")
    p.add_argument("--backend", choices=("local", "ray"), default="local")
    p.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
    p.add_argument("--journals", action="store_true", help="also keep each run's journal (for forensics, fork)")
    p.add_argument("--no-report", action="store_true", help="write sweep.csv only")
    args = p.parse_args(argv)
    try:
        sets = dict(parse_assignment(s) for s in args.set)
        if _is_sweep_file(args.scenario):
            base = load_sweep_file(args.scenario)
            sweep = sweep_from_sets(base.scenario, args.seeds or list(base.seeds),
                                    {**base.fixed, **{k: list(v) for k, v in base.axes.items()}, **sets})
        else:
            load_scenario(args.scenario)  # fail early on a bad name
            sweep = sweep_from_sets(args.scenario, args.seeds or "1", sets)
        out = Path(args.out or f"runs/sweep-{Path(sweep.scenario).stem}")
        workers = args.workers or os.cpu_count() or 1
        rows = run_sweep(sweep, out, args.backend, workers, args.address, args.journals,
                         progress_line(f"sweep {sweep.scenario}", workers))
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{len(rows)} runs: {out / 'sweep.csv'}")
    if not args.no_report and sweep.axes:
        page = write_sweep_report(rows, {k: list(v) for k, v in sweep.axes.items()}, out, sweep.scenario)
        print(f"report: {page}")
    return 0


def _is_sweep_file(name: str) -> bool:
    path = Path(name)
    if path.suffix != ".toml" or not path.exists():
        return False
    import tomllib

    with open(path, "rb") as fh:
        return "set" in tomllib.load(fh)
