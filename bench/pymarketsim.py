"""`python -m bench pymarketsim [--agents 500] [--steps 10000] [--repeats 1] [--checkout DIR] [--python EXE]`:
the simulator's noise + market-maker mix against PyMarketSim's, orders per second in one run.

What is compared, on the same agent count and number of steps (one step = one simulated second
here, one time step there), the two run back to back (--repeats times, interleaved):
- ours: bench/simulation.py's `mix_scenario` (2% market makers re-quoting two levels a side every 5
  steps, the rest noise traders sending a market order every 20 steps on average) through the
  virtual-time kernel and the full `Exchange.apply` path, no journal; timed from the first agent
  step to the end (the build and account set-up excluded);
- PyMarketSim (github.com/dipplestix/pymarketsim): the same 2% / 98% split and rates with its own
  agents, MMAgent (a ladder of two quotes a side, every 5 steps) and ZIAgent (an arrival every 20
  steps on average, geometric, withdrawing its previous order), its four-heap book and
  `Market.step` clearing, simMM.py's parameters; bench/pymarketsim_driver.py runs it in its own
  interpreter and times the step loop alone.
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
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.__main__ import emit
from bench.simulation import mix_scenario
from exchange.core.events import OrderAccepted, OrderCancelled, Trade
from exchange.sim.runner import build, run
from exchange.sim.scenario import parse_scenario

DRIVER = Path(__file__).with_name("pymarketsim_driver.py")
HOW_TO_GET = __doc__[__doc__.index("PyMarketSim is not part"):].strip()


def run_ours(agents: int, steps: int, seed: int) -> dict[str, Any]:
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

    sim.kernel.recorder = counting
    gc.collect()
    t0 = time.perf_counter()
    run(sim)
    wall = time.perf_counter() - t0
    orders = counts["accepted"]
    return {"wall_s": wall, "orders": orders, "orders_filled": len(traded), "trades": counts["trades"],
            "book_events": orders + counts["cancelled"] + 2 * counts["trades"], "events": counts["events"]}


def run_theirs(python: str, checkout: Path, agents: int, steps: int, seed: int) -> dict[str, Any]:
    out = subprocess.run([python, str(DRIVER), str(checkout), str(agents), str(steps), str(seed)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def side(r: dict[str, Any]) -> dict[str, Any]:
    return {"orders_per_s": round(r["orders"] / r["wall_s"]), "fill_ratio": round(r["orders_filled"] / r["orders"], 4),
            "book_events_per_s": round(r["book_events"] / r["wall_s"]), "orders": r["orders"],
            "wall_s": round(r["wall_s"], 2)}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench pymarketsim")
    p.add_argument("--agents", type=int, default=500)
    p.add_argument("--steps", type=int, default=10_000, help="the issue's comparison: 50000")
    p.add_argument("--repeats", type=int, default=1, help="interleaved ours/theirs pairs")
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
    pairs = []
    for _ in range(args.repeats):
        pairs.append((run_ours(args.agents, args.steps, args.seed),
                      run_theirs(args.python, checkout, args.agents, args.steps, args.seed)))
    ratios = [(o["orders"] / o["wall_s"]) / (t["orders"] / t["wall_s"]) for o, t in pairs]
    ours, theirs = pairs[-1]
    emit("pymarketsim.mix", round(statistics.median(ratios), 3), "x PyMarketSim orders/s", agents=args.agents,
         steps=args.steps, repeats=args.repeats, ratio_min=round(min(ratios), 3), ratio_max=round(max(ratios), 3),
         ours={**side(ours), "events_per_s": round(ours["events"] / ours["wall_s"])}, pymarketsim=side(theirs),
         book_events_ratio=round(side(ours)["book_events_per_s"] / side(theirs)["book_events_per_s"], 3))
    return 0
