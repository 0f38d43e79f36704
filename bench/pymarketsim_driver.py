"""PyMarketSim's noise + market-maker mix, run step by step on request: the reference half of
`python -m bench pymarketsim`, run as a script by the interpreter PyMarketSim is installed for.

usage: python pymarketsim_driver.py CHECKOUT AGENTS STEPS SEED
then, on standard input, one step number per line: the market runs up to that step and prints its
totals so far as one JSON line (so the caller can interleave it with what it compares).

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


class Mix:
    """PyMarketSim's market with the mix's agents; advance() runs it step by step."""

    def __init__(self, agents: int, steps: int, seed: int) -> None:
        import numpy as np
        from marketsim.agent.market_maker import MMAgent
        from marketsim.agent.zero_intelligence_agent import ZIAgent
        from marketsim.fundamental.lazy_mean_reverting import LazyGaussianMeanReverting
        from marketsim.market.market import Market

        random.seed(seed)
        np.random.seed(seed)
        self.np = np
        self.agents, self.steps = agents, steps
        self.makers = max(1, agents // MAKER_SHARE)
        fundamental = LazyGaussianMeanReverting(mean=MEAN, final_time=steps + 1, r=R, shock_var=SHOCK_VAR)
        self.market = Market(fundamental=fundamental, time_steps=steps)
        self.population: dict = {}
        self.arrivals: dict[int, list[int]] = defaultdict(list)
        self.lam = 1 / NOISE_INTERVAL
        for i in range(agents - self.makers):
            self.population[i] = ZIAgent(agent_id=i, market=self.market, q_max=Q_MAX, shade=SHADE, pv_var=PV_VAR)
            self.arrivals[int(np.random.geometric(self.lam)) - 1].append(i)
        self.maker_ids = set()
        for k in range(self.makers):
            i = agents - self.makers + k
            self.population[i] = MMAgent(agent_id=i, market=self.market, xi=XI, K=LEVELS, omega=OMEGA)
            self.maker_ids.add(i)
            self.arrivals[k % REFRESH].append(i)
        self.rho = np.power(1 - R, np.arange(steps + 2, dtype=np.float64)[::-1])
        self.samples = np.random.geometric(self.lam, size=10_000) - 1
        self.drawn = 0
        self.t = 0
        self.wall = 0.0
        self.submitted = self.withdrawn = self.matched = 0
        self.matched_ids: set[int] = set()

    def live(self) -> int:
        return sum(len(h.order_dict) for h in self.market.order_book.heaps)

    def step(self, t: int) -> None:
        """SimulatorSampledArrival.step, with market makers and the counts reported."""
        arriving = self.arrivals.pop(t, None)
        if not arriving:
            return
        market = self.market
        market.event_queue.set_time(t)
        rho = self.rho[t]
        estimate = (1 - rho) * MEAN + rho * market.get_fundamental_value()
        for i in arriving:
            agent = self.population[i]
            before = self.live()
            market.withdraw_all(i)
            self.withdrawn += before - self.live()
            if i in self.maker_ids:
                orders = agent.take_action()
                self.arrivals[t + REFRESH].append(i)
            else:
                orders = agent.take_action(estimate=estimate)
                if self.drawn == len(self.samples):
                    self.samples = self.np.random.geometric(self.lam, size=10_000) - 1
                    self.drawn = 0
                self.arrivals[int(self.samples[self.drawn]) + 1 + t].append(i)
                self.drawn += 1
            self.submitted += len(orders)
            market.add_orders(orders)
        for m in market.step():
            order = m.order
            self.population[order.agent_id].update_position(order.order_type * order.quantity,
                                                            -m.price * order.quantity * order.order_type)
            self.matched += 1
            self.matched_ids.add(order.order_id)

    def advance(self, until: int) -> dict:
        """Run the steps before `until`; the totals so far (wall_s: the stepping time alone)."""
        t0 = time.perf_counter()
        for t in range(self.t, min(until, self.steps)):
            self.step(t)
        self.t = max(self.t, min(until, self.steps))
        self.wall += time.perf_counter() - t0
        return {"wall_s": self.wall, "step": self.t, "orders": self.submitted, "withdrawn": self.withdrawn,
                "matched": self.matched, "orders_filled": len(self.matched_ids),
                "book_events": self.submitted + self.withdrawn + self.matched, "agents": self.agents,
                "makers": self.makers, "steps": self.steps}


if __name__ == "__main__":
    checkout, agents, steps, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    enter_package(checkout)
    mix = Mix(agents, steps, seed)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(json.dumps(mix.advance(int(line))), flush=True)
