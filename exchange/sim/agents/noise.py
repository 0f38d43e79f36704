"""Noise taker: market orders of random side and size at random (Poisson) times."""

from __future__ import annotations

from typing import Any

from ...core.commands import BUY, SELL

from ..agent import Agent, AgentContext, cash_param


class NoiseTaker(Agent):
    """Params: mean_interval_s, size_usdt (mean order notional), max_position_usdt."""

    kind = "noise"

    def __init__(self, ctx: AgentContext, symbol: str = "", **params: Any) -> None:
        super().__init__(ctx, symbol, **params)
        self.mean_interval = float(params.get("mean_interval_s", 20))
        self.size_cash = cash_param(params, "size_usdt", 2_000)
        self.max_position_cash = cash_param(params, "max_position_usdt", 20_000)

    def on_start(self) -> list:
        self.poisson_wake(self.mean_interval)
        return []

    def on_tick(self) -> list:
        self.poisson_wake(self.mean_interval)
        ref = self.view.mark
        if not ref:
            return []
        rng = self.ctx.rng
        side = BUY if rng.random() < 0.5 else SELL
        exposure = self.holding.size * ref * self.inst.cash_per_tick_lot
        if abs(exposure) > self.max_position_cash:
            side = SELL if exposure > 0 else BUY
        lots = self.lots_for_notional(self.size_cash * rng.expovariate(1.0), ref)
        return [self.market(side, lots)]
