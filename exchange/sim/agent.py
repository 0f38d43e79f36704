"""The I/O-free Agent API: an agent receives events and timer calls and returns core commands.

The same agent class runs in the virtual-time kernel (exchange/sim/kernel.py), over a real socket
(clients/runner.py) and inside the server (exchange/runtime/population.py). A shell owns the clock
and the transport; it feeds the agent:

- `start()` once, after its account exists and is funded: set-up commands (margin mode, leverage);
- `on_event(event)` for each core event routed to it: its own private events (orders, fills,
  positions, balances, liquidations of its account) and the public kinds it subscribes to;
- `on_timer()` when the time it asked for with `ctx.wake_in(ns)` comes.

Between calls the agent reads `ctx.market[symbol]` (a MarketView kept current by the shell: best bid
and ask, mark, index and last price) and `ctx.now_ns`; subscribing to BOOK also brings a TopOfBook
event whenever the best bid or ask changes (over sockets: as seen in each ticker). Prices are integer ticks, sizes integer lots.
Agents draw randomness only from `ctx.rng` (seeded by the shell), so a run is reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from ..core.book import NO_ASK, NO_BID
from ..core.commands import (
    CROSS,
    IOC,
    MARGIN_MODES,
    MARKET,
    CancelAll,
    PlaceOrder,
    SetLeverage,
    SetMarginMode,
)
from ..core.instruments import Instrument
from ..core.money import CASH_SCALE

NS = 1_000_000_000

MARK = "mark"  # MarkPriceUpdated
TRADES = "trades"  # Trade (public tape)
LIQUIDATIONS = "liquidations"  # PublicLiquidation
FUNDING = "funding"  # FundingRateSettled
BOOK = "book"  # TopOfBook, whenever the best bid or ask changes


class TopOfBook(NamedTuple):
    """Best bid and ask of a symbol after a change (0 = that side is empty). Made by the shell."""

    symbol: str
    bid_ticks: int
    ask_ticks: int


def cash_param(params: dict[str, Any], name: str, default: float) -> float:
    """A USDT amount parameter in cash units (1e-6 USDT)."""
    return float(params.get(name, default)) * CASH_SCALE


class MarketView:
    """Public top-of-book and prices of one symbol, as the shell last saw them (0 = unknown)."""

    __slots__ = ("best_ask", "best_bid", "index", "last", "mark", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.best_bid = 0
        self.best_ask = 0
        self.mark = 0
        self.index = 0
        self.last = 0

    def mid(self) -> int:
        """Mid of the book when both sides exist, else the mark (or the index)."""
        if self.best_bid and self.best_ask:
            return (self.best_bid + self.best_ask) // 2
        return self.mark or self.index or self.last

    def set_book(self, bid: int, ask: int) -> bool:
        """Set the best bid and ask (the core's empty-side sentinels become 0); True if they changed."""
        bid = bid if bid != NO_BID else 0
        ask = ask if ask != NO_ASK else 0
        if bid == self.best_bid and ask == self.best_ask:
            return False
        self.best_bid, self.best_ask = bid, ask
        return True


@dataclass
class AgentContext:
    """What the shell gives an agent: identity, instruments, a seeded RNG, the clock and the views."""

    account: int
    instruments: dict[str, Instrument]
    rng: random.Random
    market: dict[str, MarketView]
    now_ns: int = 0
    wake_at_ns: int = -1  # the next timer the agent asked for; -1 = none
    name: str = ""

    def wake_in(self, delay_ns: int) -> None:
        """Ask for `on_timer` after delay_ns (replaces any earlier request)."""
        self.wake_at_ns = self.now_ns + max(1, int(delay_ns))


@dataclass
class Holding:
    """The agent's own view of one position, from its PositionChanged events."""

    size: int = 0
    cost: int = 0
    realized: int = 0


class Agent:
    """Base class: bookkeeping of own orders, position and liquidation; subclasses add behaviour.

    Subclasses set `kind`, `subscriptions` and override `on_start`, `on_tick`, `on_public`,
    `on_fill`, `on_liquidated` as they need. Every hook returns a list of commands.
    """

    kind: ClassVar[str] = "agent"
    subscriptions: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, ctx: AgentContext, symbol: str = "", **params: Any) -> None:
        self.ctx = ctx
        self.symbol = symbol or next(iter(ctx.instruments))
        self.inst = ctx.instruments[self.symbol]
        self.params = params
        self.deposit_cash = int(cash_param(params, "deposit_usdt", 10_000))
        self.leverage = int(params.get("leverage", 10))
        mode = str(params.get("margin_mode", CROSS)).upper()
        if mode not in MARGIN_MODES:
            raise ValueError(f"margin_mode {mode!r} is not one of {MARGIN_MODES}")
        self.margin_mode = mode
        cap = max((b.cap_cash for b in self.inst.brackets if b.max_leverage >= self.leverage), default=0)
        self.max_notional_cash = cap * 99 // 100  # the brackets' limit at this leverage, with room for price moves
        self.holding = Holding()
        self.open_orders: dict[int, tuple[int, int, int]] = {}  # oid -> (side, price, qty)
        self.liquidated = 0  # number of LiquidationTriggered of this account
        self.first_liquidation_ns = -1
        self.cost_at_liquidation = 0  # |cost basis| of the position when first liquidated
        self.rejections = 0
        self.size_cuts: dict[str, int] = {}  # orders this agent shrank itself, by reason (bracket, max_qty)
        self.requested_peak_cash = 0  # the largest notional it asked lots_for_notional for

    # -- shell entry points --------------------------------------------------------------------
    def start(self) -> list:
        """Set-up commands (margin mode and leverage of the agent's symbol), then the agent's own."""
        acct = self.ctx.account
        return [SetMarginMode(acct, self.symbol, self.margin_mode), SetLeverage(acct, self.symbol, self.leverage),
                *self.on_start()]

    def on_timer(self) -> list:
        return self.on_tick()

    def on_event(self, ev: Any) -> list:
        name = type(ev).__name__
        acct = self.ctx.account
        if name == "Trade":
            if ev.taker_account == acct or ev.maker_account == acct:
                self._filled(ev.maker_order_id if ev.maker_account == acct else ev.taker_order_id, ev.qty_lots)
                return self.on_fill(ev)
            return self.on_public(ev)
        if name == "OrderAccepted":
            if ev.order_type == "LIMIT":
                self.open_orders[ev.order_id] = (ev.side, ev.price_ticks, ev.qty_lots)
            return []
        if name == "OrderCancelled":
            self.open_orders.pop(ev.order_id, None)
            return []
        if name == "PositionChanged":
            h = self.holding
            h.size, h.cost = ev.size_lots, ev.cost_cash
            h.realized += ev.realized_pnl_cash
            return []
        if name in ("OrderRejected", "CommandRejected"):
            self.rejections += 1
            return []
        if name == "LiquidationTriggered":
            if not self.liquidated:
                self.first_liquidation_ns = self.ctx.now_ns
                self.cost_at_liquidation = abs(self.holding.cost)
            self.liquidated += 1
            self.open_orders.clear()
            return self.on_liquidated(ev)
        if name == "Deleveraged":
            return []
        if getattr(ev, "account", -2) == acct:
            return []
        return self.on_public(ev)

    def _filled(self, oid: int, qty: int) -> None:
        o = self.open_orders.get(oid)
        if o is not None:
            left = o[2] - qty
            if left > 0:
                self.open_orders[oid] = (o[0], o[1], left)
            else:
                del self.open_orders[oid]

    # -- hooks ---------------------------------------------------------------------------------
    def on_start(self) -> list:
        return []

    def on_tick(self) -> list:
        return []

    def on_public(self, ev: Any) -> list:
        return []

    def on_fill(self, ev: Any) -> list:
        return []

    def on_liquidated(self, ev: Any) -> list:
        return []

    # -- helpers -------------------------------------------------------------------------------
    @property
    def view(self) -> MarketView:
        return self.ctx.market[self.symbol]

    def limit(self, side: int, qty: int, price: int, tif: str = "GTC", reduce_only: bool = False) -> PlaceOrder:
        return PlaceOrder(self.ctx.account, self.symbol, side, qty, price, tif=tif, reduce_only=reduce_only)

    def market(self, side: int, qty: int, reduce_only: bool = False) -> PlaceOrder:
        return PlaceOrder(self.ctx.account, self.symbol, side, qty, 0, MARKET, IOC, reduce_only)

    def cancel_all(self) -> CancelAll:
        return CancelAll(self.ctx.account, self.symbol)

    def lots_for_notional(self, notional_cash: float, price: int) -> int:
        """Lots worth about notional_cash at price, within the brackets' limit at this leverage and the
        instrument's quantity limits; a cut is counted in `size_cuts` (reported per agent)."""
        self.requested_peak_cash = max(self.requested_peak_cash, int(notional_cash))
        reason = ""
        if notional_cash > self.max_notional_cash:
            notional_cash, reason = self.max_notional_cash, "bracket"
        lots = int(notional_cash // max(1, price * self.inst.cash_per_tick_lot))
        if lots > self.inst.market_max_qty_lots:
            lots, reason = self.inst.market_max_qty_lots, "max_qty"
        if reason:
            self.size_cuts[reason] = self.size_cuts.get(reason, 0) + 1
        return max(lots, self.inst.min_qty_lots)

    def equity(self) -> int:
        """Deposit + realized PnL + unrealized PnL at the mark (fees and funding not counted)."""
        h = self.holding
        upnl = h.size * self.view.mark * self.inst.cash_per_tick_lot - h.cost if h.size else 0
        return self.deposit_cash + h.realized + upnl

    def poisson_wake(self, mean_s: float) -> None:
        """Wake after an exponential delay of mean mean_s seconds."""
        self.ctx.wake_in(int(self.ctx.rng.expovariate(1.0 / mean_s) * NS))

