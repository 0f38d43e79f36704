"""Leveraged retail crowd: a distribution of leverage, a cross/isolated mix, entries clustered at round
prices, some with stop-losses; they hold, close, and come back, until liquidated."""

from __future__ import annotations

import math
from typing import Any

from ...core.commands import BUY, CROSS, ISOLATED, MARK_PRICE, SELL, STOP_MARKET, PlaceOrder

from ..agent import NS, Agent, AgentContext


class RetailCrowd(Agent):
    """Params: leverages / leverage_weights (or one `leverage` for all), isolated_fraction (or
    margin_mode to force one), long_bias, equity_usdt (median; lognormal with equity_sigma), utilization_min/max (share of equity
    put up as margin), round_step_usdt and cluster_bps (entries rest at a round price this close),
    entry_window_s, entry_timeout_s, hold_mean_s, stop_fraction and stop_distance (share of the way
    to bankruptcy), reenter (probability of a new trade after closing)."""

    kind = "crowd"

    def __init__(self, ctx: AgentContext, symbol: str = "", **params: Any) -> None:
        rng = ctx.rng
        p = params
        if "leverage" in p:  # one leverage for the whole group (a sweep axis) replaces the distribution
            leverages, weights = [int(p["leverage"])], [1.0]
        else:
            leverages = [int(x) for x in p.get("leverages", [5, 10, 20, 25, 50, 75, 100])]
            weights = [float(x) for x in p.get("leverage_weights", [1] * len(leverages))]
        leverage = rng.choices(leverages, weights)[0]
        isolated = rng.random() < float(p.get("isolated_fraction", 0.5))  # drawn even when forced
        mode = p.get("margin_mode") or (ISOLATED if isolated else CROSS)
        equity = float(p.get("equity_usdt", 2_000)) * math.exp(rng.gauss(0, float(p.get("equity_sigma", 0.6))))
        super().__init__(ctx, symbol, **{**p, "leverage": leverage, "margin_mode": mode,
                                         "deposit_usdt": max(equity, 50.0)})
        self.long = rng.random() < float(p.get("long_bias", 0.5))
        self.utilization = rng.uniform(float(p.get("utilization_min", 0.3)), float(p.get("utilization_max", 0.9)))
        self.round_step = float(p.get("round_step_usdt", 500))
        self.cluster = float(p.get("cluster_bps", 40)) / 1e4
        self.entry_window_ns = int(float(p.get("entry_window_s", 300)) * NS)
        self.entry_timeout_ns = int(float(p.get("entry_timeout_s", 120)) * NS)
        self.hold_mean_s = float(p.get("hold_mean_s", 1800))
        self.stop_distance = float(p.get("stop_distance", 0.6))
        self.has_stop = rng.random() < float(p.get("stop_fraction", 0.3))
        self.reenter = float(p.get("reenter", 0.5))
        self.state = "idle"  # idle -> pending -> holding -> idle | done
        self.deadline = 0
        self.stop_placed = False

    def on_start(self) -> list:
        self.ctx.wake_in(1 + self.ctx.rng.randrange(max(1, self.entry_window_ns)))
        return []

    def on_fill(self, ev: Any) -> list:
        self.ctx.wake_in(NS // 100)  # settle the state machine once the position event has arrived
        return []

    def on_liquidated(self, ev: Any) -> list:
        self.state = "done"
        self.ctx.wake_at_ns = -1
        return []

    def on_tick(self) -> list:
        if self.state == "done":
            return []
        now = self.ctx.now_ns
        size = self.holding.size
        if size:
            return self.manage(size, now)
        if self.state == "holding":  # closed (stop, or our own close): maybe come back later
            self.stop_placed = False
            if self.ctx.rng.random() >= self.reenter:
                self.state = "done"
                return [self.cancel_all()] if self.open_orders else []
            self.state = "idle"
            self.poisson_wake(self.hold_mean_s / 2)
            return [self.cancel_all()] if self.open_orders else []
        if self.state == "pending":
            if now < self.deadline:
                self.ctx.wake_at_ns = self.deadline
                return []
            self.state = "idle"
            return [self.cancel_all()] + self.enter()
        return self.enter()

    def enter(self) -> list:
        mark = self.view.mark
        if not mark:
            self.ctx.wake_in(NS)
            return []
        side = BUY if self.long else SELL
        step = self.round_step / float(self.inst.tick_size)
        level = (math.floor(mark / step) if side == BUY else math.ceil(mark / step)) * step
        lots = self.lots_for_notional(self.equity() * self.utilization * self.leverage, mark)
        self.deadline = self.ctx.now_ns + self.entry_timeout_ns
        self.ctx.wake_at_ns = self.deadline
        if abs(mark - level) <= mark * self.cluster:
            self.state = "pending"
            return [self.limit(side, lots, int(level))]
        self.state = "pending"
        return [self.market(side, lots)]

    def manage(self, size: int, now: int) -> list:
        if self.state != "holding":
            self.state = "holding"
            self.deadline = now + int(self.ctx.rng.expovariate(1.0 / self.hold_mean_s) * NS)
        self.ctx.wake_at_ns = self.deadline
        out: list = []
        if self.open_orders and not self.stop_placed:
            out.append(self.cancel_all())  # the rest of an entry order: the position stays smaller
            self.size_cuts["unfilled"] = self.size_cuts.get("unfilled", 0) + 1
        if now >= self.deadline:
            self.stop_placed = True  # no new stop while closing
            self.deadline = now + 5 * NS  # retry later if the close finds no liquidity
            return out + [self.cancel_all(), self.market(SELL if size > 0 else BUY, abs(size), reduce_only=True)]
        if self.has_stop and not self.stop_placed:
            self.stop_placed = True
            entry = self.holding.cost / (size * self.inst.cash_per_tick_lot)
            sign = 1 if size > 0 else -1
            stop = int(entry * (1 - sign * self.stop_distance / self.leverage))
            out.append(PlaceOrder(self.ctx.account, self.symbol, -sign, abs(size), 0, STOP_MARKET, "GTC", True,
                                  stop, MARK_PRICE))
        return out
