"""Records a run as it happens: every event to events.msgpack, and the series the report needs.

Exposure per account (for fairness): the position at its peak notional, taken after the command
that made it and again when margin is added to it (side, leverage, margin mode, wallets, margin
posted, liquidation price), and every order the core cut down or refused, by reason (CUT_REASONS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack

from ..core.engine import Exchange
from ..core.events import (
    Deleveraged,
    InsuranceFundChanged,
    IsolatedMarginChanged,
    LiquidationOrderPlaced,
    LiquidationTriggered,
    MarkPriceUpdated,
    OrderCancelled,
    OrderRejected,
    PositionChanged,
    PublicLiquidation,
    TakenOverByFund,
)
from ..core.margin import initial_margin, solve_price

EVENTS_NAME = "events.msgpack"  # one msgpack array per event: [ts_ns, event name, fields]
# why the core refused or shrank an order: rejection codes and cancel reasons -> a cut reason
CUT_REASONS = {"INVALID_LEVERAGE": "bracket", "INSUFFICIENT_MARGIN": "margin", "INSUFFICIENT_BALANCE": "margin",
               "PRICE_BAND": "band", "MARKET_BAND": "band", "NO_LIQUIDITY": "liquidity", "INVALID_QTY": "max_qty"}


class Peak:
    """An account's position at its largest notional (cost basis), after the command that made it."""

    __slots__ = ("ts", "cost", "size", "symbol", "leverage", "mode", "position_wallet", "wallet_total",
                 "margin_posted", "liq_price")

    def __init__(self, ex: Exchange, acct_id: int, symbol: str, ts: int) -> None:
        self.ts = ts
        acct = ex.accounts[acct_id]
        pos = acct.positions[symbol]
        inst = ex.instruments[symbol]
        self.cost, self.size, self.symbol = abs(pos.cost), pos.size, symbol
        self.leverage, self.mode = pos.leverage, pos.mode
        self.wallet_total = acct.wallet_total()
        self.position_wallet = pos.isolated_wallet if pos.isolated else acct.cross_wallet
        self.margin_posted = pos.isolated_wallet if pos.isolated else initial_margin(abs(pos.cost), pos.leverage)
        single = pos.isolated or sum(1 for p in acct.positions.values() if p.size and not p.isolated) == 1
        lp = solve_price(inst, pos.size, pos.cost, self.position_wallet) if single else None
        self.liq_price = lp[0] / lp[1] * float(inst.tick_size) if lp else None  # None: none, or cross multi-symbol


class Recorder:
    """Series in integer units: times in ns, prices in ticks, sizes in lots, cash in cash units."""

    def __init__(self, exchange: Exchange, events_path: Path | None = None) -> None:
        self.ex = exchange
        self._fh: Any = None
        if events_path is not None:
            self.open_events(events_path)
        self._pack = msgpack.Packer().pack
        self.events = 0
        self.prices: dict[str, list[tuple[int, int, int, int]]] = {s: [] for s in exchange.instruments}
        self.open_interest: dict[str, list[tuple[int, int]]] = {s: [] for s in exchange.instruments}
        self.oi = {s: 0 for s in exchange.instruments}
        self.sizes: dict[tuple[int, str], int] = {}
        self.triggers: list[tuple[int, int, str, str]] = []  # (ts, account, symbol, mode)
        # ts, sym, side, qty closed (all of a full close, the filled part of a partial order), bp, filled, mode
        self.liquidations: list[tuple[int, str, int, int, int, int, str]] = []
        self._partial = False  # whether the liquidation order being reported is a partial one
        self.insurance: list[tuple[int, int]] = [(0, exchange.insurance_fund)]  # fund equity: cash + its positions' UPNL
        self.adl_count = 0
        self.adl_lots = 0
        self.takeover_count = 0
        self.takeover_lots = 0
        self.peaks: dict[int, Peak] = {}
        self.cuts: dict[int, dict[str, int]] = {}
        self.equity_accounts: list[int] = []
        self.equity_every_ns = 0
        self.next_equity_ns = 0
        self.equity_paths: list[tuple[int, list[int]]] = []  # (ts, equity of each tracked account)

    def track_equity(self, accounts: list[int], every_s: float) -> None:
        """Sample the equity (wallets + UPNL at mark) of these accounts every `every_s` of virtual time."""
        self.equity_accounts = list(accounts)
        self.equity_every_ns = int(every_s * 1e9)

    def _sample_equity(self, ts: int) -> None:
        ex = self.ex
        if any(a not in ex.accounts for a in self.equity_accounts):
            return  # the first tick comes before the accounts are created
        self.equity_paths.append((ts, [equity(ex, ex.accounts[a]) for a in self.equity_accounts]))
        self.next_equity_ns = ts + self.equity_every_ns

    def _cut(self, account: int, reason: str) -> None:
        c = self.cuts.setdefault(account, {})
        c[reason] = c.get(reason, 0) + 1

    def record(self, ts: int, events: list) -> None:
        self.events += len(events)
        if self._fh is not None:
            write, pack = self._fh.write, self._pack
            for ev in events:
                write(pack([ts, type(ev).__name__, list(ev)]))
        fund_moved = False
        grown: dict[tuple[int, str], None] = {}
        for ev in events:
            cls = type(ev)
            if cls is MarkPriceUpdated:
                self.prices[ev.symbol].append((ts, ev.index_ticks, ev.mark_ticks, ev.last_ticks))
                fund_moved = fund_moved or bool(self.ex.fund.positions[ev.symbol].size)
                self.open_interest[ev.symbol].append((ts, self.oi[ev.symbol]))
                if self.equity_every_ns and ts >= self.next_equity_ns:
                    self._sample_equity(ts)
            elif cls is PositionChanged:
                key = (ev.account, ev.symbol)
                old = self.sizes.get(key, 0)
                self.sizes[key] = ev.size_lots
                self.oi[ev.symbol] += max(ev.size_lots, 0) - max(old, 0)
                if abs(ev.size_lots) > abs(old) and ev.account >= 0:
                    grown[key] = None
            elif cls is IsolatedMarginChanged:  # margin added to the peak position counts as posted
                peak = self.peaks.get(ev.account)
                if peak is not None and peak.symbol == ev.symbol:
                    grown[(ev.account, ev.symbol)] = None
            elif cls is OrderRejected:
                reason = CUT_REASONS.get(ev.code)
                if reason is not None:
                    self._cut(ev.account, reason)
            elif cls is OrderCancelled:
                reason = CUT_REASONS.get(ev.reason)
                if reason is not None:
                    self._cut(ev.account, reason)
            elif cls is LiquidationTriggered:
                self.triggers.append((ts, ev.account, ev.symbol, ev.mode))
            elif cls is LiquidationOrderPlaced:
                self._partial = ev.partial
            elif cls is PublicLiquidation:
                closed = ev.filled_lots if self._partial else ev.qty_lots
                self.liquidations.append((ts, ev.symbol, ev.side, closed, ev.bankruptcy_price_ticks,
                                          ev.filled_lots, ev.mode))
            elif cls is InsuranceFundChanged:
                fund_moved = True
            elif cls is Deleveraged:
                self._partial = False  # a close off the book (ADL, takeover) counts whole, whatever came before
                self.adl_count += 1
                self.adl_lots += ev.qty_lots
            elif cls is TakenOverByFund:
                self._partial = False
                self.takeover_count += 1
                self.takeover_lots += ev.qty_lots
                fund_moved = True
        if fund_moved:
            self.insurance.append((ts, self.ex.fund_equity()))
        for account, symbol in grown:
            pos = self.ex.accounts[account].positions[symbol]
            peak = self.peaks.get(account)
            if pos.size and (peak is None or abs(pos.cost) > peak.cost):
                self.peaks[account] = Peak(self.ex, account, symbol, ts)
            elif peak is not None and pos.size == peak.size and abs(pos.cost) == peak.cost:
                self.peaks[account] = Peak(self.ex, account, symbol, peak.ts)  # same position, more margin

    def open_events(self, path: Path) -> None:
        """Write every event recorded from now on to path (open until close())."""
        self._fh = open(path, "wb", buffering=1 << 20)  # noqa: SIM115

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def equity(ex: Exchange, acct) -> int:
    """Wallets + unrealized PnL at the mark, in cash units."""
    total = acct.wallet_total()
    for pos in acct.positions.values():
        if pos.size:
            total += pos.size * ex.markets[pos.symbol].mark * ex.instruments[pos.symbol].cash_per_tick_lot - pos.cost
    return total
