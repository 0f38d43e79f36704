"""Market maker: post-only ladders around the mark, skewed against inventory; widens or withdraws when
the price moves fast."""

from __future__ import annotations

from collections import deque
from typing import Any

from ...core.commands import BUY, GTX, SELL

from ..agent import NS, Agent, AgentContext, cash_param


class MarketMaker(Agent):
    """Params: half_spread_bps, levels, level_step_bps, size_usdt (per level), max_inventory_usdt,
    skew_bps (quote shift at full inventory), refresh_s, stress_window (refreshes), stress_bps
    (move over the window that counts as stress), stress_action ("widen" or "withdraw"),
    widen_factor, withdraw_s."""

    kind = "market_maker"

    def __init__(self, ctx: AgentContext, symbol: str = "", **params: Any) -> None:
        super().__init__(ctx, symbol, **params)
        p = params
        self.half_spread = float(p.get("half_spread_bps", 4)) / 1e4
        self.levels = int(p.get("levels", 3))
        self.level_step = float(p.get("level_step_bps", 4)) / 1e4
        self.size_cash = cash_param(p, "size_usdt", 20_000)
        self.max_inventory_cash = cash_param(p, "max_inventory_usdt", 300_000)
        self.skew = float(p.get("skew_bps", 10)) / 1e4
        self.refresh_ns = int(float(p.get("refresh_s", 1.0)) * NS)
        self.stress_move = float(p.get("stress_bps", 80)) / 1e4
        self.stress_action = str(p.get("stress_action", "withdraw"))
        self.widen_factor = float(p.get("widen_factor", 4))
        self.withdraw_ns = int(float(p.get("withdraw_s", 30)) * NS)
        self.mids: deque[int] = deque(maxlen=int(p.get("stress_window", 10)))
        self.withdrawn_until = 0
        self.withdrawals = 0

    def on_start(self) -> list:
        self.ctx.wake_in(1 + self.ctx.rng.randrange(self.refresh_ns))
        return []

    def stressed(self, mid: int) -> bool:
        self.mids.append(mid)
        first = self.mids[0]
        return abs(mid - first) > first * self.stress_move

    def on_tick(self) -> list:
        self.ctx.wake_in(self.refresh_ns)
        ref = self.view.mark or self.view.index
        if not ref:
            return []
        cmds: list = [self.cancel_all()] if self.open_orders else []
        widen = 1.0
        if self.stressed(ref):
            if self.stress_action == "withdraw":
                if self.ctx.now_ns >= self.withdrawn_until:
                    self.withdrawals += 1
                self.withdrawn_until = self.ctx.now_ns + self.withdraw_ns
            else:
                widen = self.widen_factor
        if self.ctx.now_ns < self.withdrawn_until:
            return cmds
        return cmds + self.quotes(ref, widen)

    def quotes(self, ref: int, widen: float) -> list:
        k = self.inst.cash_per_tick_lot
        inventory = self.holding.size * ref * k / self.max_inventory_cash  # -1..1 at the limits
        centre = ref * (1 - self.skew * inventory)
        half = self.half_spread * widen
        lots = self.lots_for_notional(self.size_cash, ref)
        out = []
        for i in range(self.levels):
            off = half + i * self.level_step * widen
            if inventory < 1:
                out.append(self.limit(BUY, lots, round(centre * (1 - off)), tif=GTX))
            if inventory > -1:
                out.append(self.limit(SELL, lots, round(centre * (1 + off)), tif=GTX))
        return out
