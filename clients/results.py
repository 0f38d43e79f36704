"""Typed results of the SDK: frozen dataclasses with Decimal fields and the raw wire map in `info`."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


def _d(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)



@dataclass(frozen=True, slots=True)
class Order:
    id: int
    symbol: str | None
    status: str  # NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, UNTRIGGERED
    side: str | None = None
    type: str | None = None
    price: Decimal | None = None
    amount: Decimal | None = None
    filled: Decimal | None = None
    remaining: Decimal | None = None
    average: Decimal | None = None  # average price of the fills of the request that answered
    client_order_id: str = ""
    reduce_only: bool = False
    info: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, m: dict) -> Order:
        return cls(m["order_id"], m.get("symbol"), m.get("status", ""), m.get("side"),
                   (m.get("type") or "").lower() or None, _d(m.get("price")) or None, _d(m.get("qty")),
                   _d(m.get("filled")), _d(m.get("remaining")), _d(m.get("avg_price")),
                   m.get("client_order_id", ""), bool(m.get("reduce_only", False)), m)


@dataclass(frozen=True, slots=True)
class Balance:
    account: int
    wallet: Decimal  # cross wallet + isolated wallets
    cross_wallet: Decimal
    isolated_wallet: Decimal
    unrealized_pnl: Decimal
    margin_balance: Decimal  # cross wallet + cross UPNL
    available: Decimal  # for new orders
    free: Decimal  # withdrawable
    maint_margin: Decimal
    initial_margin: Decimal
    order_margin: Decimal
    margin_ratio: Decimal | None  # cross MM / margin balance; 1 = liquidation; None when balance <= 0
    collateral: dict[str, Decimal] = field(default_factory=dict)  # asset -> units held (their value is in margin_balance)
    info: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, m: dict) -> Balance:
        return cls(m["account"], Decimal(m["wallet"]), Decimal(m["cross_wallet"]), Decimal(m["isolated_wallet"]),
                   Decimal(m["unrealized_pnl"]), Decimal(m["margin_balance"]), Decimal(m["available"]),
                   Decimal(m["free"]), Decimal(m["maint_margin"]), Decimal(m["initial_margin"]),
                   Decimal(m["order_margin"]), _d(m["margin_ratio"]),
                   {c["asset"]: Decimal(c["balance"]) for c in m.get("collateral", ())}, m)


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    size: Decimal  # signed: > 0 long
    side: str | None  # "long", "short" or None when flat
    margin_mode: str  # "cross" or "isolated"
    leverage: int
    entry_price: Decimal | None
    mark_price: Decimal
    notional: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    margin_ratio: Decimal | None
    isolated_wallet: Decimal
    maint_margin: Decimal
    initial_margin: Decimal
    adl_quantile: int
    info: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, m: dict) -> Position:
        size = Decimal(m["size"])
        return cls(m["symbol"], size, "long" if size > 0 else "short" if size < 0 else None, m["mode"].lower(),
                   m["leverage"], _d(m["entry_price"]), Decimal(m["mark_price"]), Decimal(m["notional"]),
                   Decimal(m["unrealized_pnl"]), Decimal(m["realized_pnl"]), _d(m["liquidation_price"]),
                   _d(m["bankruptcy_price"]), _d(m["margin_ratio"]), Decimal(m["isolated_wallet"]),
                   Decimal(m["maint_margin"]), Decimal(m["initial_margin"]), m["adl_quantile"], m)


@dataclass(frozen=True, slots=True)
class OrderBook:
    symbol: str
    seq: int
    bids: list[tuple[Decimal, Decimal]]  # best first
    asks: list[tuple[Decimal, Decimal]]


@dataclass(frozen=True, slots=True)
class Trade:
    id: int
    symbol: str
    price: Decimal
    amount: Decimal
    side: str  # the taker's side
    liquidation: bool
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    index: Decimal
    mark: Decimal
    last: Decimal
    bid: Decimal | None
    ask: Decimal | None
    funding_rate: Decimal
    next_funding_ts_ns: int
    info: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, m: dict) -> Ticker:
        bid, ask = Decimal(m["best_bid"]), Decimal(m["best_ask"])
        return cls(m["symbol"], Decimal(m["index_price"]), Decimal(m["mark_price"]), Decimal(m["last_price"]),
                   bid or None, ask or None, Decimal(m["funding_rate"]), m["next_funding_ts_ns"], m)


@dataclass(frozen=True, slots=True)
class Liquidation:
    symbol: str
    side: str  # the closing side
    amount: Decimal
    bankruptcy_price: Decimal
    filled: Decimal
    average: Decimal
    margin_mode: str
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class Market:
    symbol: str
    tick_size: Decimal
    lot_step: Decimal
    min_qty: Decimal
    max_leverage: int
    info: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class AccountKey:
    account: int
    api_key: str
