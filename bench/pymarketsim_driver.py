"""Run PyMarketSim's noise + market-maker mix and print one JSON object: the reference half of
`python -m bench pymarketsim`, run as a script by the interpreter PyMarketSim is installed for.

usage: python pymarketsim_driver.py CHECKOUT AGENTS STEPS SEED

Imports only PyMarketSim (from CHECKOUT) and numpy, never liquidex. The package's __init__ imports
its torch-based simulators; the components used here (Market and its four-heap book, ZIAgent,
MMAgent, LazyGaussianMeanReverting) need only numpy, so the package is entered without running it.
The loop is SimulatorSampledArrival.step's (geometric arrivals, withdraw_all, take_action with the
fundamental estimate computed once per step, market.step, positions updated from the matches), with
market makers added the way simMM.py adds its one: they arrive every REFRESH steps.
"""

from __future__ import annotations

import json
import random
import sys
import time
import types
from collections import defaultdict
from pathlib import Path

MAKER_SHARE = 50  # one market maker per 50 agents, as in bench/simulation.py's mix
NOISE_INTERVAL = 20  # mean steps between a noise agent's arrivals (lam = 1/20)
REFRESH = 5  # steps between a market maker's re-quotes
LEVELS = 2  # quotes a side per market maker
# simMM.py's defaults for its ZI + market-maker market
MEAN, R, SHOCK_VAR, Q_MAX, PV_VAR, SHADE, XI, OMEGA = 1e5, 0.05, 5e6, 10, 5e6, [250, 500], 100, 64


def enter_package(checkout: Path) -> None:
    """Make `marketsim.*` importable without executing marketsim/__init__.py (it imports torch)."""
    package = types.ModuleType("marketsim")
    package.__path__ = [str(checkout / "marketsim")]
    sys.modules["marketsim"] = package


def run(agents: int, steps: int, seed: int) -> dict:
    import numpy as np
    from marketsim.agent.market_maker import MMAgent
    from marketsim.agent.zero_intelligence_agent import ZIAgent
    from marketsim.fundamental.lazy_mean_reverting import LazyGaussianMeanReverting
    from marketsim.market.market import Market

    random.seed(seed)
    np.random.seed(seed)
    makers = max(1, agents // MAKER_SHARE)
    market = Market(fundamental=LazyGaussianMeanReverting(mean=MEAN, final_time=steps + 1, r=R, shock_var=SHOCK_VAR),
                    time_steps=steps)
    book = market.order_book
    population: dict = {}
    arrivals: dict[int, list[int]] = defaultdict(list)
    lam = 1 / NOISE_INTERVAL
    for i in range(agents - makers):
        population[i] = ZIAgent(agent_id=i, market=market, q_max=Q_MAX, shade=SHADE, pv_var=PV_VAR)
        arrivals[int(np.random.geometric(lam)) - 1].append(i)
    maker_ids = set()
    for k in range(makers):
        i = agents - makers + k
        population[i] = MMAgent(agent_id=i, market=market, xi=XI, K=LEVELS, omega=OMEGA)
        maker_ids.add(i)
        arrivals[k % REFRESH].append(i)
    rho_table = np.power(1 - R, np.arange(steps + 2, dtype=np.float64)[::-1])
    samples = np.random.geometric(lam, size=10_000) - 1
    drawn = 0
    submitted = withdrawn = matched = 0
    matched_ids: set[int] = set()

    def live() -> int:
        return sum(len(h.order_dict) for h in book.heaps)

    t0 = time.perf_counter()
    for t in range(steps):
        arriving = arrivals.pop(t, None)
        if not arriving:
            continue
        market.event_queue.set_time(t)
        rho = rho_table[t]
        estimate = (1 - rho) * MEAN + rho * market.get_fundamental_value()
        for i in arriving:
            agent = population[i]
            before = live()
            market.withdraw_all(i)
            withdrawn += before - live()
            if i in maker_ids:
                orders = agent.take_action()
                arrivals[t + REFRESH].append(i)
            else:
                orders = agent.take_action(estimate=estimate)
                if drawn == len(samples):
                    samples = np.random.geometric(lam, size=10_000) - 1
                    drawn = 0
                arrivals[int(samples[drawn]) + 1 + t].append(i)
                drawn += 1
            submitted += len(orders)
            market.add_orders(orders)
        for m in market.step():
            order = m.order
            population[order.agent_id].update_position(order.order_type * order.quantity,
                                                       -m.price * order.quantity * order.order_type)
            matched += 1
            matched_ids.add(order.order_id)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "orders": submitted, "withdrawn": withdrawn, "matched": matched,
            "orders_filled": len(matched_ids), "book_events": submitted + withdrawn + matched,
            "agents": agents, "makers": makers, "steps": steps}


if __name__ == "__main__":
    checkout, agents, steps, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    enter_package(checkout)
    print(json.dumps(run(agents, steps, seed)))
