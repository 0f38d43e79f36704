"""What the REST API reports that the core forgets: orders after they close, fills, income, public
trades, one-minute candles, funding rates and liquidation orders. Built from the core's events
(a listener of the Hub, inside the sequencer), I/O-free, and bounded: every history is a ring.

Caps (oldest dropped first): CLOSED_ORDERS_KEPT closed orders in all; per account ORDERS_PER_ACCOUNT
orders, FILLS_PER_ACCOUNT fills, INCOME_PER_ACCOUNT income rows, LIQUIDATIONS_PER_ACCOUNT liquidation
orders; per symbol TRADES_KEPT public trades, CANDLES_KEPT one-minute candles (7 days), FUNDING_KEPT
funding rates. Accounts exist only when an admin creates them, so the per-account rings are bounded
by the admin.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from ...core.events import (
    BalanceChanged,
    Deleveraged,
    FundingPaid,
    FundingRateSettled,
    InsuranceFundChanged,
    LiquidationOrderPlaced,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderTriggered,
    PositionChanged,
    PublicLiquidation,
    TakenOverByFund,
    Trade,
)
from ...core.commands import TRIGGER_TYPES

if TYPE_CHECKING:
    from ...core.engine import Exchange

CLOSED_ORDERS_KEPT = 100_000
ORDERS_PER_ACCOUNT = 1_000
FILLS_PER_ACCOUNT = 1_000
INCOME_PER_ACCOUNT = 1_000
LIQUIDATIONS_PER_ACCOUNT = 100
TRADES_KEPT = 1_000
CANDLES_KEPT = 7 * 1440
FUNDING_KEPT = 1_000
ADL_ORDER_ID_BASE = 10**15  # ADL closes get ids from here: no core order id can reach it
MINUTE_MS = 60_000
EXPIRED_REASONS = frozenset({"IOC", "FOK", "GTX", "MARKET_BAND", "NO_LIQUIDITY", "STP", "LIQUIDATION", "ADL",
                             "REDUCE_ONLY"})


class OrderRecord:
    """One order as Binance reports it. `value` = sum of fill price_ticks x lots (avg = value / filled)."""

    __slots__ = ("order_id", "account", "symbol", "side", "type", "tif", "price", "stop", "qty", "filled", "value",
                 "reduce_only", "working_type", "client_id", "status", "time_ms", "update_ms", "triggered", "origin",
                 "reason", "stp")

    def __init__(self, order_id: int, account: int, symbol: str, side: int, kind: str, tif: str, price: int,
                 stop: int, qty: int, reduce_only: bool, working_type: str, client_id: str, time_ms: int,
                 origin: str = "user", stp: str = "NONE") -> None:
        self.order_id = order_id
        self.account = account
        self.symbol = symbol
        self.side = side
        self.type = kind
        self.tif = tif
        self.price = price
        self.stop = stop
        self.qty = qty
        self.filled = 0
        self.value = 0
        self.reduce_only = reduce_only
        self.working_type = working_type
        self.client_id = client_id
        self.status = "NEW"
        self.time_ms = time_ms
        self.update_ms = time_ms
        self.triggered = False
        self.origin = origin  # user, liquidation, adl
        self.reason = ""
        self.stp = stp

    @property
    def conditional(self) -> bool:
        return self.type in TRIGGER_TYPES

    @property
    def closed(self) -> bool:
        return self.status in ("FILLED", "CANCELED", "EXPIRED")


class Fill:
    """One fill of one account's order (mutable: its realized PnL arrives with the PositionChanged after it)."""

    __slots__ = ("symbol", "trade_id", "order_id", "side", "price", "qty", "fee", "realized", "maker", "time_ms")

    def __init__(self, symbol: str, trade_id: int, order_id: int, side: int, price: int, qty: int, fee: int,
                 maker: bool, time_ms: int) -> None:
        self.symbol = symbol
        self.trade_id = trade_id
        self.order_id = order_id
        self.side = side
        self.price = price
        self.qty = qty
        self.fee = fee
        self.realized = 0
        self.maker = maker
        self.time_ms = time_ms


class Income(NamedTuple):
    tran_id: int
    symbol: str
    kind: str  # TRANSFER, REALIZED_PNL, COMMISSION, FUNDING_FEE, INSURANCE_CLEAR
    amount_cash: int
    time_ms: int
    trade_id: int


class OrderUpdate(NamedTuple):
    """What happened to an order in one event: `execution` is Binance's x (NEW, TRADE, CANCELED, EXPIRED,
    AMENDMENT, CALCULATED, TRIGGERED); status, filled and value are the order's right after that event."""

    record: OrderRecord
    execution: str
    fill: Fill | None
    status: str
    filled: int
    value: int
    triggered: bool


def update(rec: OrderRecord, execution: str, fill: Fill | None = None) -> OrderUpdate:
    return OrderUpdate(rec, execution, fill, rec.status, rec.filled, rec.value, rec.triggered)


class PublicTrade(NamedTuple):
    trade_id: int
    price: int
    qty: int
    taker_side: int
    taker_order_id: int
    time_ms: int


class History:
    """Records built from the event stream; `record` returns the order updates of one batch of events."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self.orders: dict[int, OrderRecord] = {}  # open and recently closed, by order id
        self.closed: OrderedDict[int, None] = OrderedDict()
        self.by_account: dict[int, deque[int]] = {}
        self.fills: dict[int, deque[Fill]] = {}
        self.income: dict[int, deque[Income]] = {}
        self.liquidations: dict[int, deque[int]] = {}
        self.trades = {s: deque(maxlen=TRADES_KEPT) for s in ex.instruments}
        self.candles: dict[str, deque[list[int]]] = {s: deque(maxlen=CANDLES_KEPT) for s in ex.instruments}
        self.funding = {s: deque(maxlen=FUNDING_KEPT) for s in ex.instruments}
        self.live: tuple[OrderRecord, bool] | None = None  # the liquidation order being filled, partial?
        self.sizes: dict[tuple[int, str], int] = {(a, s): p.size for s, h in ex.holders.items() for a, p in h.items()}
        self.last_delta: dict[tuple[int, str], int] = {}
        self.finished: list[OrderRecord | None] = []  # per PublicLiquidation of the last batch: its order
        self.next_tran_id = 1
        self.next_adl_id = ADL_ORDER_ID_BASE
        self.seed_open_orders()

    def seed_open_orders(self) -> None:
        """Records for the orders already open in a recovered exchange (their times are unknown: 0)."""
        for acct in self.ex.accounts.values():
            for order in acct.orders.values():
                rec = OrderRecord(order.oid, acct.id, order.symbol, order.side, order.order_type, order.tif, order.price,
                                  order.stop_price, order.orig_qty, order.reduce_only, order.working_type,
                                  order.client_order_id, 0, stp=order.stp)
                rec.filled = order.filled
                rec.status = "PARTIALLY_FILLED" if order.filled else "NEW"
                self._remember(rec)

    # -- queries -------------------------------------------------------------------------------
    def order(self, account: int, order_id: int | None = None, client_id: str | None = None) -> OrderRecord | None:
        """An order of the account by id or (its most recent) client order id."""
        if order_id is not None:
            rec = self.orders.get(order_id)
            return rec if rec is not None and rec.account == account else None
        for oid in reversed(self.by_account.get(account, ())):
            rec = self.orders.get(oid)
            if rec is not None and rec.client_id == client_id:
                return rec
        return None

    def account_orders(self, account: int, symbol: str | None = None) -> list[OrderRecord]:
        """The account's orders still kept, oldest first."""
        out = []
        for oid in self.by_account.get(account, ()):
            rec = self.orders.get(oid)
            if rec is not None and (symbol is None or rec.symbol == symbol):
                out.append(rec)
        return out

    def account_fills(self, account: int) -> Iterable[Fill]:
        return self.fills.get(account, ())

    def account_income(self, account: int) -> Iterable[Income]:
        return self.income.get(account, ())

    def account_liquidations(self, account: int) -> list[OrderRecord]:
        return [self.orders[o] for o in self.liquidations.get(account, ()) if o in self.orders]

    # -- recording -----------------------------------------------------------------------------
    def record(self, events: list, ts_ns: int) -> list[OrderUpdate]:
        ms = ts_ns // 1_000_000
        updates: list[OrderUpdate] = []
        self.finished = []
        pending: deque[tuple[int, Fill | None]] = deque()  # fills waiting for their PositionChanged
        for ev in events:
            t = type(ev)
            if t is Trade:
                self._trade(ev, ms, updates, pending)
            elif t is PositionChanged:
                self._position_changed(ev, ms, pending)
            elif t is OrderAccepted:
                self._accepted(ev, ms, updates)
            elif t is OrderCancelled:
                rec = self.orders.get(ev.order_id)
                if rec is not None and not rec.closed:
                    expired = ev.reason in EXPIRED_REASONS or ev.reason.startswith("TRIGGER_REJECTED")
                    rec.status = "EXPIRED" if expired else "CANCELED"
                    rec.reason = ev.reason
                    rec.update_ms = ms
                    self._close(rec)
                    updates.append(update(rec, rec.status))
            elif t is OrderAmended:
                rec = self.orders.get(ev.order_id)
                if rec is not None:
                    rec.price, rec.update_ms = ev.price_ticks, ms
                    rec.qty = rec.filled + ev.qty_lots
                    updates.append(update(rec, "AMENDMENT"))
            elif t is OrderTriggered:
                rec = self.orders.get(ev.order_id)
                if rec is not None:
                    rec.triggered, rec.update_ms = True, ms
                    updates.append(update(rec, "TRIGGERED"))
            elif t is LiquidationOrderPlaced:
                self._liquidation_order(ev, ms, updates)
            elif t is TakenOverByFund or t is Deleveraged:
                self._closed_outside_book(ev, ms, updates)
            elif t is PublicLiquidation:
                self._liquidation_done(ms)
            elif t is FundingPaid:
                self._income(ev.account, ev.symbol, "FUNDING_FEE", ev.amount_cash, ms, 0)
            elif t is BalanceChanged:
                if ev.reason in ("DEPOSIT", "WITHDRAW"):
                    self._income(ev.account, "", "TRANSFER", ev.delta_cash, ms, 0)
            elif t is InsuranceFundChanged:
                live = self.live
                if ev.reason == "LIQUIDATION_FEE" and live is not None and live[1] and live[0].account == ev.account:
                    self._income(ev.account, ev.symbol, "INSURANCE_CLEAR", -ev.delta_cash, ms, 0)  # partial: paid by the account
            elif t is FundingRateSettled:
                self.funding[ev.symbol].append((ev.ts_ns // 1_000_000, ev.rate_e8, ev.mark_ticks))
        return updates

    def _position_changed(self, ev: PositionChanged, ms: int, pending: deque) -> None:
        key = (ev.account, ev.symbol)
        self.last_delta[key] = ev.size_lots - self.sizes.get(key, 0)
        if ev.size_lots:
            self.sizes[key] = ev.size_lots
        else:
            self.sizes.pop(key, None)
        trade_id = 0
        if pending and pending[0][0] == ev.account:
            fill = pending.popleft()[1]
            if fill is not None:
                fill.realized = ev.realized_pnl_cash
                trade_id = fill.trade_id
        if ev.realized_pnl_cash:
            self._income(ev.account, ev.symbol, "REALIZED_PNL", ev.realized_pnl_cash, ms, trade_id)

    def _remember(self, rec: OrderRecord) -> None:
        self.orders[rec.order_id] = rec
        ring = self.by_account.get(rec.account)
        if ring is None:
            ring = self.by_account[rec.account] = deque()
        ring.append(rec.order_id)
        while len(ring) > ORDERS_PER_ACCOUNT:
            old = self.orders.get(ring[0])
            if old is not None and not old.closed:
                break  # open orders stay; the core bounds how many there are
            ring.popleft()
            if old is not None:
                self.orders.pop(old.order_id, None)
                self.closed.pop(old.order_id, None)

    def _close(self, rec: OrderRecord) -> None:
        closed = self.closed
        closed[rec.order_id] = None
        if len(closed) > CLOSED_ORDERS_KEPT:
            oid, _ = closed.popitem(last=False)
            self.orders.pop(oid, None)

    def _accepted(self, ev: OrderAccepted, ms: int, updates: list[OrderUpdate]) -> None:
        rec = self.orders.get(ev.order_id)
        if rec is not None and rec.conditional:  # a triggered conditional order placed under its own id
            rec.price = ev.price_ticks
            return
        if ev.account < 0:
            return
        order = self.ex.accounts[ev.account].orders.get(ev.order_id) or self.ex.trigger_orders.get(ev.order_id)
        working = order.working_type if order is not None else "CONTRACT_PRICE"
        stp = order.stp if order is not None else "NONE"
        rec = OrderRecord(ev.order_id, ev.account, ev.symbol, ev.side, ev.order_type, ev.tif, ev.price_ticks,
                          ev.stop_price_ticks, ev.qty_lots, ev.reduce_only, working, ev.client_order_id, ms,
                          stp=stp)
        self._remember(rec)
        updates.append(update(rec, "NEW"))

    def _fill_record(self, rec: OrderRecord, qty: int, price: int, ms: int) -> None:
        rec.filled += qty
        rec.value += qty * price
        rec.update_ms = ms
        rec.status = "FILLED" if rec.filled >= rec.qty else "PARTIALLY_FILLED"
        if rec.status == "FILLED":
            self._close(rec)

    def _trade(self, ev: Trade, ms: int, updates: list[OrderUpdate], pending: deque) -> None:
        self.trades[ev.symbol].append(PublicTrade(ev.trade_id, ev.price_ticks, ev.qty_lots, ev.taker_side,
                                                  ev.taker_order_id, ms))
        self._candle(ev, ms)
        for account, oid, side, fee, maker in ((ev.maker_account, ev.maker_order_id, -ev.taker_side, ev.maker_fee_cash, True),
                                               (ev.taker_account, ev.taker_order_id, ev.taker_side, ev.taker_fee_cash, False)):
            if account < 0:
                pending.append((account, None))
                continue
            fill = Fill(ev.symbol, ev.trade_id, oid, side, ev.price_ticks, ev.qty_lots, fee, maker, ms)
            pending.append((account, fill))
            ring = self.fills.get(account)
            if ring is None:
                ring = self.fills[account] = deque(maxlen=FILLS_PER_ACCOUNT)
            ring.append(fill)
            if fee:
                self._income(account, ev.symbol, "COMMISSION", -fee, ms, ev.trade_id)
            rec = self.orders.get(oid)
            if rec is not None:
                self._fill_record(rec, ev.qty_lots, ev.price_ticks, ms)
                updates.append(update(rec, "CALCULATED" if rec.origin != "user" else "TRADE", fill))

    def _candle(self, ev: Trade, ms: int) -> None:
        candles = self.candles[ev.symbol]
        start = ms - ms % MINUTE_MS
        price, qty = ev.price_ticks, ev.qty_lots
        if candles and candles[-1][0] == start:
            c = candles[-1]
            c[2] = max(c[2], price)
            c[3] = min(c[3], price)
            c[4] = price
            c[5] += qty
            c[6] += qty * price
            c[7] += 1
            c[11] = ev.trade_id
        else:  # open time, o, h, l, c, lots, value (ticks x lots), trades, taker-buy lots and value, first/last trade id
            c = [start, price, price, price, price, qty, qty * price, 1, 0, 0, ev.trade_id, ev.trade_id]
            candles.append(c)
        if ev.taker_side > 0:
            c[8] += qty
            c[9] += qty * price

    def _liquidation_order(self, ev: LiquidationOrderPlaced, ms: int, updates: list[OrderUpdate]) -> None:
        """A liquidation order (one at a time: the core finishes it before the next): the account's
        `autoclose-` order, filled in the book, by the insurance fund or by ADL at the bankruptcy price."""
        self.live = None
        if ev.account < 0:
            return
        rec = OrderRecord(ev.order_id, ev.account, ev.symbol, ev.side, "LIQUIDATION", "IOC", ev.bankruptcy_price_ticks,
                          0, ev.qty_lots, True, "CONTRACT_PRICE", f"autoclose-{ms}", ms, origin="liquidation")
        self._remember(rec)
        self.live = (rec, ev.partial)
        self._liquidation_ring(ev.account).append(ev.order_id)
        updates.append(update(rec, "NEW"))

    def _liquidation_done(self, ms: int) -> None:
        live, self.live = self.live, None
        self.finished.append(live[0] if live is not None else None)
        if live is not None and not live[0].closed:
            live[0].status = "EXPIRED"
            live[0].update_ms = ms
            self._close(live[0])

    def _closed_outside_book(self, ev: TakenOverByFund | Deleveraged, ms: int, updates: list[OrderUpdate]) -> None:
        """The fund's takeover or an ADL pair: the liquidated side fills its liquidation order; the ADL
        counterparty gets an `adl_autoclose` order of its own, already filled."""
        live = self.live
        if live is not None and live[0].account == ev.account and live[0].symbol == ev.symbol:
            self._fill_record(live[0], ev.qty_lots, ev.price_ticks, ms)
            updates.append(update(live[0], "CALCULATED"))
            return
        if ev.account < 0 or type(ev) is not Deleveraged:
            return
        side = 1 if self.last_delta.get((ev.account, ev.symbol), 0) > 0 else -1
        oid = self.next_adl_id
        self.next_adl_id += 1
        rec = OrderRecord(oid, ev.account, ev.symbol, side, "LIQUIDATION", "IOC", ev.price_ticks, 0, ev.qty_lots, True,
                          "CONTRACT_PRICE", "adl_autoclose", ms, origin="adl")
        self._remember(rec)
        self._fill_record(rec, ev.qty_lots, ev.price_ticks, ms)
        self._liquidation_ring(ev.account).append(oid)
        updates.append(update(rec, "CALCULATED"))

    def _liquidation_ring(self, account: int) -> deque[int]:
        ring = self.liquidations.get(account)
        if ring is None:
            ring = self.liquidations[account] = deque(maxlen=LIQUIDATIONS_PER_ACCOUNT)
        return ring

    def _income(self, account: int, symbol: str, kind: str, amount: int, ms: int, trade_id: int) -> None:
        if account < 0 or not amount:
            return
        ring = self.income.get(account)
        if ring is None:
            ring = self.income[account] = deque(maxlen=INCOME_PER_ACCOUNT)
        ring.append(Income(self.next_tran_id, symbol, kind, amount, ms, trade_id))
        self.next_tran_id += 1


INTERVALS_MIN = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240, "6h": 360, "8h": 480,
                 "12h": 720, "1d": 1440, "3d": 4320, "1w": 10080}
WEEK_OFFSET_MS = 4 * 86_400_000  # 1970-01-05, a Monday: weekly candles open on Mondays 00:00 UTC


def bucket_start(ms: int, interval_ms: int) -> int:
    offset = WEEK_OFFSET_MS if interval_ms == 7 * 86_400_000 else 0
    return ms - (ms - offset) % interval_ms


def merge_candles(candles: Iterable[list[int]], interval_ms: int) -> list[list[int]]:
    """One-minute candles -> candles of `interval_ms` (same layout), oldest first."""
    out: list[list[int]] = []
    for c in candles:
        start = bucket_start(c[0], interval_ms)
        if out and out[-1][0] == start:
            m = out[-1]
            m[2], m[3], m[4] = max(m[2], c[2]), min(m[3], c[3]), c[4]
            for i in (5, 6, 7, 8, 9):
                m[i] += c[i]
            m[11] = c[11]
        else:
            out.append([start, *c[1:]])
    return out
