"""`python -m bench profile NAME [args]`: where one benchmark's time goes, and Python call counts.

Runs `python -m bench NAME [args]` under cProfile and writes a summary (the functions with the most
own time, the most cumulative time, and the total number of calls) to runs/profile-NAME-<time>.txt,
then prints it. For `gateway` the profiled process is the exchange server under load (the bench
process itself only waits on the C load generator), so the server is started under cProfile.

`count_calls` is the call counter the book and liquidation benches report per order: the number of
Python function calls (and of calls into C functions) made while a callable runs, from sys.setprofile
(under `bench profile` cProfile holds that hook, and those figures are left out).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

RUNS = Path("runs")
TOP = 30


def count_calls(fn: Callable[..., Any], *args: Any) -> tuple[Any, int | None, int | None]:
    """Run fn(*args); returns (its result, Python calls, C calls) counted while it ran. Under a profiler
    already running (`bench profile`) nothing is counted (None, None): the counter would displace it."""
    if sys.getprofile() is not None:
        return fn(*args), None, None
    counts = {"call": 0, "c_call": 0}

    def tally(frame: Any, event: str, arg: Any) -> None:
        if event in counts:
            counts[event] += 1

    sys.setprofile(tally)
    try:
        result = fn(*args)
    finally:
        sys.setprofile(None)
    return result, counts["call"], counts["c_call"] - 1  # less the call that turns the counter off


def per(count: int | None, n: int, digits: int = 1) -> float | None:
    """count / n rounded, None when nothing was counted."""
    return None if count is None else round(count / max(1, n), digits)


def summary(stats: pstats.Stats, title: str) -> str:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    total, primitive, seconds = stats.total_calls, stats.prim_calls, stats.total_tt  # type: ignore[attr-defined]
    out.write(f"{title}\n{total:,} calls ({primitive:,} primitive) in {seconds:.3f} s\n")
    for key in ("tottime", "cumtime"):
        out.write(f"\n== top {TOP} by {key} ==\n")
        stats.sort_stats(key).print_stats(TOP)
    return out.getvalue()


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: python -m bench profile NAME [bench options]", file=sys.stderr)
        return 2
    from bench.__main__ import BENCHES
    name, rest = argv[0], argv[1:]
    if name not in BENCHES:
        print(f"unknown bench {name!r}; choose from {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    RUNS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = RUNS / f"profile-{name}-{stamp}.txt"
    command = f"python -m bench {' '.join([name, *rest])}"
    if name == "gateway":
        raw = RUNS / f"profile-{name}-{stamp}.pstats"
        import_module("bench.gateway").main([*rest, "--profile-server", str(raw.resolve())])
        stats = pstats.Stats(str(raw))
        title = f"{command}: the exchange server process (raw profile: {raw})"
    else:
        profiler = cProfile.Profile()
        profiler.runcall(import_module(f"bench.{name}").main, rest)
        stats = pstats.Stats(profiler)
        title = command
    text = summary(stats.strip_dirs(), title)
    report.write_text(text)
    print(text)
    print(f"written to {report}")
    return 0
