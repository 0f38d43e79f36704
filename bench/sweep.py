"""`python -m bench sweep [--runs 8] [--scenario demo] [--ray]`: sweep throughput, runs per minute.

The same sweep (`--runs` seeds of one scenario, nothing written but each run's summary) with 1 worker
process, then 2, then (with --ray, when Ray is installed) a local Ray cluster of 2 CPUs; each line
gives runs/minute, the speed-up against 1 worker timed in the same invocation, and `cores_busy`
(CPU seconds used per wall second: 2.0 is both cores saturated; less means the machine was shared). The rows of every
backend are checked equal (the same runs give the same rows).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.__main__ import emit
from exchange.sim.sweep import CSV_NAME, Sweep, run_sweep


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _timed(sweep: Sweep, backend: str, workers: int) -> tuple[float, float, bytes]:
    """(wall s, CPU s of this process and its reaped worker processes, sweep.csv)."""
    with tempfile.TemporaryDirectory() as tmp:
        cpu, start = _cpu(), time.perf_counter()
        run_sweep(sweep, tmp, backend, workers)
        wall = time.perf_counter() - start
        return wall, _cpu() - cpu, (Path(tmp) / CSV_NAME).read_bytes()


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench sweep")
    p.add_argument("--runs", type=int, default=8)
    p.add_argument("--scenario", default="demo")
    p.add_argument("--ray", action="store_true", help="also time the Ray backend (a local cluster)")
    args = p.parse_args(argv)
    sweep = Sweep(args.scenario, tuple(range(1, args.runs + 1)))
    base, cpu, rows = _timed(sweep, "local", 1)
    emit("sweep.local.1_worker", round(args.runs / base * 60, 2), "runs/min", runs=args.runs,
         scenario=args.scenario, wall_s=round(base, 1), cores_busy=round(cpu / base, 2))
    configs = [("local", 2)] + ([("ray", 2)] if args.ray else [])
    for backend, workers in configs:
        wall, cpu, other = _timed(sweep, backend, workers)
        # Ray's workers are not this process's children: their CPU time is not counted here
        busy = round(cpu / wall, 2) if backend == "local" else None
        emit(f"sweep.{backend}.{workers}_workers", round(args.runs / wall * 60, 2), "runs/min", runs=args.runs,
             scenario=args.scenario, wall_s=round(wall, 1), cores_busy=busy,
             speedup_vs_1_worker=round(base / wall, 2), rows_identical=other == rows)
