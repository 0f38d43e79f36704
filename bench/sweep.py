"""`python -m bench sweep [--runs 8] [--scenario demo] [--ray]`: sweep throughput, runs per minute.

The same sweep (`--runs` seeds of one scenario, nothing written but each run's summary) with 1 worker
process, then 2, then (with --ray, when Ray is installed) a local Ray cluster of 2 CPUs; each line
gives runs/minute and the speed-up against 1 worker timed in the same invocation. The rows of every
backend are checked equal (the same runs give the same rows).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.__main__ import emit
from exchange.sim.sweep import CSV_NAME, Sweep, run_sweep


def _timed(sweep: Sweep, backend: str, workers: int) -> tuple[float, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_sweep(sweep, tmp, backend, workers)
        wall = time.perf_counter() - start
        return wall, (Path(tmp) / CSV_NAME).read_bytes()


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench sweep")
    p.add_argument("--runs", type=int, default=8)
    p.add_argument("--scenario", default="demo")
    p.add_argument("--ray", action="store_true", help="also time the Ray backend (a local cluster)")
    args = p.parse_args(argv)
    sweep = Sweep(args.scenario, tuple(range(1, args.runs + 1)))
    base, rows = _timed(sweep, "local", 1)
    emit("sweep.local.1_worker", round(args.runs / base * 60, 2), "runs/min", runs=args.runs,
         scenario=args.scenario, wall_s=round(base, 1))
    configs = [("local", 2)] + ([("ray", 2)] if args.ray else [])
    for backend, workers in configs:
        wall, other = _timed(sweep, backend, workers)
        emit(f"sweep.{backend}.{workers}_workers", round(args.runs / wall * 60, 2), "runs/min", runs=args.runs,
             scenario=args.scenario, wall_s=round(wall, 1), speedup_vs_1_worker=round(base / wall, 2),
             rows_identical=other == rows)
