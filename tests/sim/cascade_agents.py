"""Scripted agents for a hand-built three-step cascade (tests/sim/test_forensics.py): each places the
orders it is given at a given time, nothing else. Named by import path from a scenario, so they also
test `agent = "module:Class"`."""

from __future__ import annotations

from typing import Any

from exchange.core.commands import IOC, MARKET, PlaceOrder
from exchange.sim.agent import NS, Agent, AgentContext


class Scripted(Agent):
    """Params: at_s (when), orders: [[side, qty BTC, price USDT or 0 for market], ...]."""

    kind = "scripted"

    def __init__(self, ctx: AgentContext, symbol: str = "", **params: Any) -> None:
        super().__init__(ctx, symbol, **params)
        self.at_ns = int(float(params.get("at_s", 0)) * NS)
        self.orders = [(int(s), self.inst.qty_to_lots(str(q)), self.inst.price_to_ticks(str(p)) if p else 0)
                       for s, q, p in params.get("orders", [])]

    def on_start(self) -> list:
        if self.at_ns:
            self.ctx.wake_in(self.at_ns)
            return []
        return self.on_tick()

    def on_tick(self) -> list:
        return [PlaceOrder(self.ctx.account, self.symbol, side, qty, price) if price else
                PlaceOrder(self.ctx.account, self.symbol, side, qty, 0, MARKET, IOC)
                for side, qty, price in self.orders]
