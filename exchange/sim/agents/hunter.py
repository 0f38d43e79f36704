"""Liquidation hunter: estimates where leveraged crowds entered (round prices) and where they would be
liquidated, and sells (or buys) into the nearest cluster to set off the cascade, then rides it and
takes profit."""

from __future__ import annotations

from typing import Any

from ...core.commands import BUY, SELL

from ..agent import LIQUIDATIONS, NS, Agent, AgentContext, cash_param


class LiquidationHunter(Agent):
    """Params: interval_s, round_step_usdt, assumed_leverages, assumed_mmr, trigger_bps (hunt a
    cluster at most this far from the mark), push_usdt (per step), max_position_usdt, take_profit_bps,
    max_hold_s."""

    kind = "hunter"
    subscriptions = frozenset({LIQUIDATIONS})

    def __init__(self, ctx: AgentContext, symbol: str = "", **params: Any) -> None:
        super().__init__(ctx, symbol, **params)
        self.interval_ns = int(float(params.get("interval_s", 3)) * NS)
        self.round_step = float(params.get("round_step_usdt", 500)) / float(self.inst.tick_size)
        self.leverages = [int(x) for x in params.get("assumed_leverages", [20, 25, 50, 75, 100])]
        self.mmr = float(params.get("assumed_mmr", 0.004))
        self.trigger = float(params.get("trigger_bps", 60)) / 1e4
        self.push_cash = cash_param(params, "push_usdt", 30_000)
        self.max_cash = cash_param(params, "max_position_usdt", 300_000)
        self.take_profit = float(params.get("take_profit_bps", 80)) / 1e4
        self.max_hold_ns = int(float(params.get("max_hold_s", 600)) * NS)
        self.opened_ns = 0
        self.cascades_seen = 0

    def on_start(self) -> list:
        self.ctx.wake_in(1 + self.ctx.rng.randrange(self.interval_ns))
        return []

    def on_public(self, ev: Any) -> list:
        if type(ev).__name__ == "PublicLiquidation" and ev.symbol == self.symbol:
            self.cascades_seen += 1
            if not self.holding.size or (self.holding.size > 0) == (ev.side > 0):
                self.ctx.wake_in(NS // 10)  # push along with the liquidation flow soon
        return []

    def clusters(self, mark: int) -> list[tuple[float, int]]:
        """(distance from mark as a fraction, side to push) of estimated liquidation prices nearby."""
        out = []
        base = int(mark / self.round_step)
        for r in range(base - 3, base + 5):
            entry = r * self.round_step
            for lev in self.leverages:
                for side, lp in ((SELL, entry * (1 - 1 / lev + self.mmr)), (BUY, entry * (1 + 1 / lev - self.mmr))):
                    dist = (mark - lp) / mark if side == SELL else (lp - mark) / mark
                    if 0 < dist < self.trigger:
                        out.append((dist, side))
        return sorted(out)

    def on_tick(self) -> list:
        self.ctx.wake_in(self.interval_ns)
        mark = self.view.mark
        if not mark:
            return []
        size = self.holding.size
        k = self.inst.cash_per_tick_lot
        if size:
            entry = self.holding.cost / (size * k)
            gain = (mark - entry) / entry * (1 if size > 0 else -1)
            if gain > self.take_profit or self.ctx.now_ns - self.opened_ns > self.max_hold_ns:
                return [self.market(SELL if size > 0 else BUY, abs(size), reduce_only=True)]
        targets = self.clusters(mark)
        if not targets:
            return []
        side = targets[0][1]
        if size and (size > 0) == (side > 0) or abs(size) * mark * k >= self.max_cash:
            return []
        if not size:
            self.opened_ns = self.ctx.now_ns
        return [self.market(side, self.lots_for_notional(self.push_cash, mark))]
