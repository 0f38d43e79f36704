"""Whale / shock agent: sweeps the book with large market orders at a scheduled time."""

from __future__ import annotations

from typing import Any

from ...core.commands import BUY, SELL

from ..agent import NS, Agent, AgentContext, cash_param


class Whale(Agent):
    """Params: at_s (time of the first sweep), side ("sell" or "buy"), sweep_usdt (per order), sweeps,
    every_s (between sweeps), close_after_s (0 = keep the position)."""

    kind = "whale"

    def __init__(self, ctx: AgentContext, symbol: str = "", **params: Any) -> None:
        super().__init__(ctx, symbol, **{"deposit_usdt": 5_000_000, "leverage": 5, **params})
        self.at_ns = int(float(params.get("at_s", 600)) * NS)
        self.side = SELL if str(params.get("side", "sell")).lower() == "sell" else BUY
        self.sweep_cash = cash_param(params, "sweep_usdt", 1_000_000)
        self.sweeps_left = int(params.get("sweeps", 3))
        self.every_ns = int(float(params.get("every_s", 5)) * NS)
        self.close_after_ns = int(float(params.get("close_after_s", 0)) * NS)

    def on_start(self) -> list:
        self.ctx.wake_in(self.at_ns)
        return []

    def on_tick(self) -> list:
        if self.sweeps_left > 0:
            self.sweeps_left -= 1
            if self.sweeps_left:
                self.ctx.wake_in(self.every_ns)
            elif self.close_after_ns:
                self.ctx.wake_in(self.close_after_ns)
            mark = self.view.mark
            return [self.market(self.side, self.lots_for_notional(self.sweep_cash, mark))] if mark else []
        size = self.holding.size
        return [self.market(SELL if size > 0 else BUY, abs(size), reduce_only=True)] if size else []
