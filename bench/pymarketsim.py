"""`python -m bench pymarketsim [--agents 500] [--steps 10000] [--checkout DIR] [--python EXE]`:
the simulator's noise + market-maker mix against PyMarketSim's, orders per second in one run.

What is compared, on the same agent count and number of steps (one step = one simulated second
here, one time step there), the two interleaved: about every 1/200 of the run ours pauses (its clock
too) and PyMarketSim, in its own process, runs to the same step, so both see the same load:
- ours: bench/simulation.py's `mix_scenario` (2% market makers re-quoting two levels a side every 5
  steps, the rest noise traders sending a market order every 20 steps on average) through the
  virtual-time kernel and the full `Exchange.apply` path, no journal; timed from the first agent
  step to the end (the build and account set-up excluded);
- PyMarketSim (github.com/dipplestix/pymarketsim): the same 2% / 98% split and rates with its own
  agents, MMAgent (a ladder of two quotes a side, every 5 steps) and ZIAgent (an arrival every 20
  steps on average, geometric, withdrawing its previous order), its four-heap book and
  `Market.step` clearing, simMM.py's parameters; bench/pymarketsim_driver.py runs it in its own
  interpreter and times its steps alone.
Reported for each: orders/s (orders submitted: accepted placements here, orders handed to the
market there), the fill ratio (orders that traded at least once / orders) and book events/s
(orders entering the book + orders cancelled or withdrawn from it + order sides matched); here
also apply's events/s. The ratio (value) is the median of ours / theirs orders/s.
What differs: ours is an exchange (margin and reservations on every order, mark price, funding,
liquidation checks, integer money, events for every change), PyMarketSim a call market with no
margin; our noise traders take liquidity, so most orders fill, while its ZI agents quote around
private values and fill under 1%. Their throughput counts a simpler job per order.

PyMarketSim is not part of this repository and is never imported here. To get it:
    git clone https://github.com/dipplestix/pymarketsim /work/ref/pymarketsim/src
    python3 -m venv /work/ref/pymarketsim/venv && /work/ref/pymarketsim/venv/bin/pip install numpy
    export PYMARKETSIM_DIR=/work/ref/pymarketsim/src PYMARKETSIM_PYTHON=/work/ref/pymarketsim/venv/bin/python
Without it the bench prints that note and exits 0.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.__main__ import emit
from bench.simulation import mix_scenario
from exchange.core.events import OrderAccepted, OrderCancelled, Trade
from exchange.sim.runner import NS, build, run
from exchange.sim.scenario import parse_scenario

DRIVER = Path(__file__).with_name("pymarketsim_driver.py")
HOW_TO_GET = __doc__[__doc__.index("PyMarketSim is not part"):].strip()


class Theirs:
    """bench/pymarketsim_driver.py in PyMarketSim's interpreter, advanced on request."""

    def __init__(self, python: str, checkout: Path, agents: int, steps: int, seed: int) -> None:
        self.proc = subprocess.Popen([python, str(DRIVER), str(checkout), str(agents), str(steps), str(seed)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.read()  # built and ready

    def read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError(f"the PyMarketSim driver stopped (exit {self.proc.wait()})")
        return json.loads(line)

    def advance(self, until_step: int) -> dict[str, Any]:
        """Run to `until_step`; its totals so far."""
        self.proc.stdin.write(f"{until_step}\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return self.read()

    def close(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait(60)


def run_both(theirs: Theirs, agents: int, steps: int, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ours through the simulation runner; at each of its progress calls (about every 1/200 of the run)
    our clock stops and PyMarketSim advances to the same step, so both see the same stretch of load."""
    sim = build(parse_scenario(mix_scenario(agents, steps, seed)))
    record = sim.kernel.recorder
    counts = {"accepted": 0, "cancelled": 0, "trades": 0, "events": 0}
    traded: set[int] = set()

    def counting(now: int, events: list) -> None:  # the kernel's recorder, counting on the way through
        if record is not None:
            record(now, events)
        counts["events"] += len(events)
        for e in events:
            kind = type(e)
            if kind is Trade:
                counts["trades"] += 1
                traded.add(e.taker_order_id)
                traded.add(e.maker_order_id)
            elif kind is OrderAccepted:
                counts["accepted"] += 1
            elif kind is OrderCancelled:
                counts["cancelled"] += 1

    clock = {"wall_s": 0.0, "resumed": 0.0}

    def interleave(now_ns: int) -> None:
        clock["wall_s"] += time.perf_counter() - clock["resumed"]
        theirs.advance(now_ns // NS)
        clock["resumed"] = time.perf_counter()

    sim.kernel.recorder = counting
    gc.collect()
    clock["resumed"] = time.perf_counter()
    run(sim, interleave)
    clock["wall_s"] += time.perf_counter() - clock["resumed"]
    orders = counts["accepted"]
    ours = {"wall_s": clock["wall_s"], "orders": orders, "orders_filled": len(traded), "trades": counts["trades"],
            "book_events": orders + counts["cancelled"] + 2 * counts["trades"], "events": counts["events"]}
    return ours, theirs.advance(steps)


def side(r: dict[str, Any]) -> dict[str, Any]:
    return {"orders_per_s": round(r["orders"] / r["wall_s"]), "fill_ratio": round(r["orders_filled"] / r["orders"], 4),
            "book_events_per_s": round(r["book_events"] / r["wall_s"]), "orders": r["orders"],
            "wall_s": round(r["wall_s"], 2)}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench pymarketsim")
    p.add_argument("--agents", type=int, default=500)
    p.add_argument("--steps", type=int, default=10_000, help="the issue's comparison: 50000")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--checkout", default=os.environ.get("PYMARKETSIM_DIR"),
                   help="PyMarketSim checkout (default $PYMARKETSIM_DIR)")
    p.add_argument("--python", default=os.environ.get("PYMARKETSIM_PYTHON", sys.executable),
                   help="interpreter with numpy for PyMarketSim (default $PYMARKETSIM_PYTHON, else this one)")
    args = p.parse_args(argv)
    checkout = Path(args.checkout) if args.checkout else None
    if checkout is None or not (checkout / "marketsim" / "market" / "market.py").exists():
        print(f"pymarketsim: no PyMarketSim checkout (got {args.checkout!r}); skipped.\n{HOW_TO_GET}", file=sys.stderr)
        return 0
    theirs = Theirs(args.python, checkout, args.agents, args.steps, args.seed)
    try:
        ours, their_totals = run_both(theirs, args.agents, args.steps, args.seed)
    finally:
        theirs.close()
    mine, other = side(ours), side(their_totals)
    emit("pymarketsim.mix", round(mine["orders_per_s"] / other["orders_per_s"], 3), "x PyMarketSim orders/s",
         agents=args.agents, steps=args.steps, ours={**mine, "events_per_s": round(ours["events"] / ours["wall_s"])},
         pymarketsim=other, book_events_ratio=round(mine["book_events_per_s"] / other["book_events_per_s"], 3))
    return 0
