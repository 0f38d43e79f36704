"""Records a run as it happens: every event to events.msgpack, and the series the report needs."""

from __future__ import annotations

from pathlib import Path

import msgpack

from ..core.engine import Exchange
from ..core.events import (
    Deleveraged,
    InsuranceFundChanged,
    LiquidationTriggered,
    MarkPriceUpdated,
    PositionChanged,
    PublicLiquidation,
    TakenOverByFund,
)

EVENTS_NAME = "events.msgpack"  # one msgpack array per event: [ts_ns, event name, fields]


class Recorder:
    """Series in integer units: times in ns, prices in ticks, sizes in lots, cash in cash units."""

    def __init__(self, exchange: Exchange, events_path: Path | None = None) -> None:
        self.ex = exchange
        # open for the whole run, closed by close()
        self._fh = open(events_path, "wb", buffering=1 << 20) if events_path is not None else None  # noqa: SIM115
        self._pack = msgpack.Packer().pack
        self.events = 0
        self.prices: dict[str, list[tuple[int, int, int, int]]] = {s: [] for s in exchange.instruments}
        self.open_interest: dict[str, list[tuple[int, int]]] = {s: [] for s in exchange.instruments}
        self.oi = {s: 0 for s in exchange.instruments}
        self.sizes: dict[tuple[int, str], int] = {}
        self.triggers: list[tuple[int, int, str, str]] = []  # (ts, account, symbol, mode)
        self.liquidations: list[tuple[int, str, int, int, int, int, str]] = []  # ts, sym, side, qty, bp, filled, mode
        self.insurance: list[tuple[int, int]] = [(0, exchange.insurance_fund)]  # fund equity: cash + its positions' UPNL
        self.adl_count = 0
        self.adl_lots = 0
        self.takeover_count = 0
        self.takeover_lots = 0

    def record(self, ts: int, events: list) -> None:
        self.events += len(events)
        if self._fh is not None:
            write, pack = self._fh.write, self._pack
            for ev in events:
                write(pack([ts, type(ev).__name__, list(ev)]))
        fund_moved = False
        for ev in events:
            cls = type(ev)
            if cls is MarkPriceUpdated:
                self.prices[ev.symbol].append((ts, ev.index_ticks, ev.mark_ticks, ev.last_ticks))
                fund_moved = fund_moved or bool(self.ex.fund.positions[ev.symbol].size)
                self.open_interest[ev.symbol].append((ts, self.oi[ev.symbol]))
            elif cls is PositionChanged:
                key = (ev.account, ev.symbol)
                old = self.sizes.get(key, 0)
                self.sizes[key] = ev.size_lots
                self.oi[ev.symbol] += max(ev.size_lots, 0) - max(old, 0)
            elif cls is LiquidationTriggered:
                self.triggers.append((ts, ev.account, ev.symbol, ev.mode))
            elif cls is PublicLiquidation:
                self.liquidations.append((ts, ev.symbol, ev.side, ev.qty_lots, ev.bankruptcy_price_ticks,
                                          ev.filled_lots, ev.mode))
            elif cls is InsuranceFundChanged:
                fund_moved = True
            elif cls is Deleveraged:
                self.adl_count += 1
                self.adl_lots += ev.qty_lots
            elif cls is TakenOverByFund:
                self.takeover_count += 1
                self.takeover_lots += ev.qty_lots
                fund_moved = True
        if fund_moved:
            self.insurance.append((ts, self.ex.fund_equity()))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
