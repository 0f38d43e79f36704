"""Momentum / trend follower: goes with the move of the mark over a lookback, with leverage; exits when
the signal fades or flips."""

from __future__ import annotations

from collections import deque
from typing import Any

from ...core.commands import BUY, SELL

from ..agent import NS, Agent, AgentContext


class MomentumTrader(Agent):
    """Params: interval_s, lookback (samples), entry_bps, exit_bps, position_fraction (of equity x
    leverage put on), leverage."""

    kind = "momentum"

    def __init__(self, ctx: AgentContext, symbol: str = "", **params: Any) -> None:
        super().__init__(ctx, symbol, **params)
        self.interval_ns = int(float(params.get("interval_s", 5)) * NS)
        self.marks: deque[int] = deque(maxlen=int(params.get("lookback", 12)) + 1)
        self.entry = float(params.get("entry_bps", 30)) / 1e4
        self.exit = float(params.get("exit_bps", 5)) / 1e4
        self.fraction = float(params.get("position_fraction", 0.5))

    def on_start(self) -> list:
        self.ctx.wake_in(1 + self.ctx.rng.randrange(self.interval_ns))
        return []

    def on_tick(self) -> list:
        self.ctx.wake_in(self.interval_ns)
        mark = self.view.mark
        if not mark:
            return []
        self.marks.append(mark)
        if len(self.marks) < self.marks.maxlen:
            return []
        move = (mark - self.marks[0]) / self.marks[0]
        size = self.holding.size
        if size and (move * size < 0 or abs(move) < self.exit):
            return [self.market(SELL if size > 0 else BUY, abs(size), reduce_only=True)]
        if not size and abs(move) > self.entry:
            equity = max(0, self.equity())
            lots = self.lots_for_notional(equity * self.leverage * self.fraction, mark)
            return [self.market(BUY if move > 0 else SELL, lots)]
        return []
