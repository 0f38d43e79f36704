"""Shared helpers of the margin, funding and liquidation tests: test instruments and a driver that
applies commands in sequence and checks the exchange invariants after every one."""

from __future__ import annotations

from typing import Any

from conftest import Ledger

from exchange.core.commands import (
    BUY,
    SELL,
    CreateAccount,
    Deposit,
    Envelope,
    IndexPrice,
    PlaceOrder,
    SetLeverage,
    SetMarginMode,
)
from exchange.core.engine import Exchange
from exchange.core.instruments import Instrument, instrument_from_config
from exchange.core.money import CASH_SCALE
from exchange.core.rules import BINANCE, Venue

USDT = CASH_SCALE

# Binance's 2021 BTCUSDT and ETHUSDT bracket tables, behind the published liquidation-price example.
BTC_2021 = [("0", "50000", 125, "0.004"), ("50000", "250000", 100, "0.005"), ("250000", "1000000", 50, "0.01"),
            ("1000000", "5000000", 20, "0.025"), ("5000000", "20000000", 10, "0.05"),
            ("20000000", "50000000", 5, "0.10"), ("50000000", "100000000", 4, "0.125"),
            ("100000000", "200000000", 3, "0.15"), ("200000000", "300000000", 2, "0.25"),
            ("300000000", "500000000", 1, "0.5")]
ETH_2021 = [("0", "10000", 100, "0.005"), ("10000", "100000", 75, "0.0065"), ("100000", "500000", 50, "0.01"),
            ("500000", "1000000", 25, "0.02"), ("1000000", "2000000", 10, "0.05"),
            ("2000000", "5000000", 5, "0.10"), ("5000000", "10000000", 4, "0.125"),
            ("10000000", "20000000", 3, "0.15"), ("20000000", "50000000", 2, "0.25"),
            ("50000000", "100000000", 1, "0.5")]


def make_instrument(symbol: str, rows: list[tuple[str, str, int, str]] = BTC_2021, **overrides: Any) -> Instrument:
    cfg: dict[str, Any] = {
        "tick_size": "0.01", "lot_step": "0.001", "min_qty": "0.001", "max_qty": "100000",
        "brackets": [{"floor": a, "cap": b, "max_leverage": c, "mmr": d} for a, b, c, d in rows],
    }
    cfg.update(overrides)
    return instrument_from_config(symbol, cfg)


def whole_unit_instrument(symbol: str = "TST", **overrides: Any) -> Instrument:
    """Tick 1 USDT, lot 1 contract (k = 1 USDT per tick-lot), mark = index, no trading fees: numbers a
    reader can check by hand. Brackets: the 2021 BTC table."""
    params = {"tick_size": "1", "lot_step": "1", "min_qty": "1", "max_qty": "1000000", "market_max_qty": "1000000",
              "max_price": "10000000", "maker_fee": "0", "taker_fee": "0", "mark_method": "index",
              "min_notional": "0"}
    params.update(overrides)
    return make_instrument(symbol, **params)


class Driver:
    """Applies commands with increasing seq (and a settable clock); after each, checks the invariants and
    that the events account for every wallet (`Ledger`)."""

    def __init__(self, instruments: list[Instrument], insurance_usdt: int = 1_000_000, margin_checks: bool = True,
                 venue: Venue = BINANCE, assets: tuple = ()):
        self.ex = Exchange(instruments, insurance_usdt * USDT, margin_checks, venue, assets)
        self.ledger = Ledger(self.ex)
        self.seq = 0
        self.ts = 1_000_000_000

    def do(self, command: Any, ts: int | None = None) -> list:
        self.seq += 1
        if ts is not None:
            self.ts = ts
        events = self.ex.apply(Envelope(self.seq, self.ts, "test", command))
        self.ex.check_invariants()
        self.ledger.apply(events)
        self.ledger.check()
        return events

    def account(self, aid: int, usdt: int, cash: int = 0, **settings: Any) -> None:
        """Create and fund an account with usdt USDT + cash units; settings: {symbol: (mode, leverage)}."""
        assert not rejected(self.do(CreateAccount(aid)))
        assert not rejected(self.do(Deposit(aid, usdt * USDT + cash)))
        for symbol, (mode, lev) in settings.items():
            assert not rejected(self.do(SetMarginMode(aid, symbol, mode)))
            assert not rejected(self.do(SetLeverage(aid, symbol, lev)))

    def index(self, symbol: str, ticks: int) -> list:
        return self.do(IndexPrice(symbol, ticks))

    def limit(self, aid: int, symbol: str, side: int, qty: int, price: int, **kw: Any) -> list:
        return self.do(PlaceOrder(aid, symbol, side, qty, price, **kw))

    def trade(self, buyer: int, seller: int, symbol: str, qty: int, price: int) -> list:
        """seller rests a limit sell, buyer takes it: both get the position at `price`."""
        e1 = self.limit(seller, symbol, SELL, qty, price)
        e2 = self.limit(buyer, symbol, BUY, qty, price, tif="IOC")
        events = e1 + e2
        assert not rejected(events), events
        assert sum(e.qty_lots for e in of(events, "Trade")) == qty
        return events


def of(events: list, name: str) -> list:
    return [e for e in events if type(e).__name__ == name]


def rejected(events: list) -> list:
    return [e for e in events if type(e).__name__ in ("OrderRejected", "CommandRejected")]


__all__ = [
    "BTC_2021",
    "BUY",
    "ETH_2021",
    "SELL",
    "USDT",
    "Driver",
    "make_instrument",
    "of",
    "rejected",
    "whole_unit_instrument",
]
