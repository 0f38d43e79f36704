"""Funding/basis arbitrageur: sells the perp when it trades rich to the index and buys it when cheap
(the spot leg of the hedge lives off-exchange), closes when the basis comes back."""

from __future__ import annotations

from typing import Any

from ...core.commands import BUY, SELL

from ..agent import FUNDING, NS, Agent, AgentContext, cash_param


class BasisArbitrageur(Agent):
    """Params: interval_s, entry_bps (|mid - index| / index to open), exit_bps, size_usdt per step,
    max_position_usdt, funding_weight (bps of basis credited per 0.01% of last funding rate)."""

    kind = "arbitrageur"
    subscriptions = frozenset({FUNDING})

    def __init__(self, ctx: AgentContext, symbol: str = "", **params: Any) -> None:
        super().__init__(ctx, symbol, **params)
        self.interval_ns = int(float(params.get("interval_s", 2)) * NS)
        self.entry = float(params.get("entry_bps", 15)) / 1e4
        self.exit = float(params.get("exit_bps", 3)) / 1e4
        self.size_cash = cash_param(params, "size_usdt", 10_000)
        self.max_cash = cash_param(params, "max_position_usdt", 200_000)
        self.funding_weight = float(params.get("funding_weight", 1.0))
        self.funding_rate = 0.0

    def on_start(self) -> list:
        self.ctx.wake_in(1 + self.ctx.rng.randrange(self.interval_ns))
        return []

    def on_public(self, ev: Any) -> list:
        if type(ev).__name__ == "FundingRateSettled" and ev.symbol == self.symbol:
            self.funding_rate = ev.rate_e8 / 1e8
        return []

    def on_tick(self) -> list:
        self.ctx.wake_in(self.interval_ns)
        v = self.view
        if not (v.best_bid and v.best_ask and v.index):
            return []
        # a positive funding rate pays shorts: it adds to the reward of being short
        basis = (v.mid() - v.index) / v.index + self.funding_rate * self.funding_weight
        size = self.holding.size
        exposure = size * v.index * self.inst.cash_per_tick_lot
        if size and abs(basis) < self.exit:
            return [self.market(SELL if size > 0 else BUY, abs(size), reduce_only=True)]
        if basis > self.entry and exposure > -self.max_cash:
            return [self.limit(SELL, self.lots_for_notional(self.size_cash, v.best_bid), v.best_bid, tif="IOC")]
        if basis < -self.entry and exposure < self.max_cash:
            return [self.limit(BUY, self.lots_for_notional(self.size_cash, v.best_ask), v.best_ask, tif="IOC")]
        return []
