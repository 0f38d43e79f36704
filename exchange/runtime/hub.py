"""Fan-out of the events of each applied command to subscribed sessions.

Channels: `book` (per-symbol L2 snapshot, then level updates with a per-symbol sequence number),
`trades`, `ticker` (mark/index/last/funding), `liquidations` (public), `private` (one account's own
orders, fills, positions, balances, margin calls, liquidation and ADL notices). Book updates are
computed from the prices the events touched: the level quantity now in the book is compared with the
last published one, so only changed levels go out. Public messages are encoded once for all readers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.commands import BUY, SELL, AmendOrder
from ..core.engine import Exchange
from ..core.events import (
    FundingRateSettled,
    InstrumentChanged,
    InsuranceFundChanged,
    MarkPriceUpdated,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    PositionChanged,
    PublicLiquidation,
    Trade,
    TradingHalted,
)
from ..core.views import account_view, ticker_view
from ..wire.codec import encode
from ..wire.schema import event_to_wire, levels_to_wire, price_str, to_wire, wire_value

if TYPE_CHECKING:
    from .session import Session

MARGIN_CALL_PPM = 800_000  # a private MarginCall goes out when the margin ratio reaches 80%
EXPIRED_REASONS = frozenset({"IOC", "FOK", "GTX", "MARKET_BAND", "NO_LIQUIDITY", "STP"})
CLOSED_ORDERS_KEPT = 100_000


class Hub:
    """Subscriptions and event routing. Runs inside the sequencer, right after each apply."""

    def __init__(self, exchange: Exchange) -> None:
        self.ex = exchange
        self.sessions: set[Session] = set()
        self.channels: dict[tuple[str, str], set[Session]] = {}
        self.private: dict[int, set[Session]] = {}
        self.book_seq = {s: 0 for s in exchange.instruments}
        self.shadow: dict[str, dict[tuple[int, int], int] | None] = {s: None for s in exchange.instruments}
        self.margin_called: set[tuple[int, str]] = set()
        self.closed_orders: OrderedDict[int, tuple[int, str]] = OrderedDict()  # oid -> (account, final status)
        self.listeners: list[Callable[[list, list, int], None]] = []  # (events, touched levels, ts_ns), e.g. HTTP streams

    # -- subscriptions -------------------------------------------------------------------------
    def subscribe(self, session: Session, channel: str, symbol: str) -> dict[str, Any] | None:
        """Add a subscription; for `book` returns the snapshot {seq, bids, asks} it starts from."""
        if channel == "private":
            self.private.setdefault(session.account, set()).add(session)
            return None
        self.channels.setdefault((channel, symbol), set()).add(session)
        if channel != "book":
            return None
        book = self.ex.books[symbol]
        if self.shadow[symbol] is None:
            self.shadow[symbol] = {(side, p): q for side in (BUY, SELL) for p, q in book.depth(side)}
        inst = self.ex.instruments[symbol]
        return {"symbol": symbol, "seq": self.book_seq[symbol], "bids": levels_to_wire(book.depth(BUY), inst),
                "asks": levels_to_wire(book.depth(SELL), inst)}

    def unsubscribe(self, session: Session, channel: str, symbol: str) -> None:
        subs = self.private.get(session.account) if channel == "private" else self.channels.get((channel, symbol))
        if subs is not None:
            subs.discard(session)

    def drop(self, session: Session) -> None:
        self.sessions.discard(session)
        for subs in self.channels.values():
            subs.discard(session)
        subs = self.private.get(session.account)
        if subs is not None:
            subs.discard(session)

    def _readers(self, channel: str, symbol: str) -> set[Session] | None:
        subs = self.channels.get((channel, symbol))
        return subs if subs else None

    # -- publication ---------------------------------------------------------------------------
    def touched_before(self, command: Any) -> list[tuple[str, int, int]]:
        """Levels an amend will leave (its old price): known only before the command is applied."""
        if type(command) is AmendOrder:
            acct = self.ex.accounts.get(command.account)
            order = acct.orders.get(command.order_id) if acct else None
            if order is not None:
                return [(order.symbol, order.side, order.price)]
        return []

    def publish(self, events: list, touched: list[tuple[str, int, int]], ts_ns: int) -> None:
        ex = self.ex
        trades: dict[str, list] | None = None
        marks: list[str] | None = None
        for ev in events:
            t = type(ev)
            if t is Trade:
                touched.append((ev.symbol, -ev.taker_side, ev.price_ticks))
                self._closed_if_filled(ev.maker_account, ev.maker_order_id)
                self._closed_if_filled(ev.taker_account, ev.taker_order_id)
                if trades is None:
                    trades = {}
                trades.setdefault(ev.symbol, []).append(ev)
                if self.private:
                    self._fill(ev, ev.taker_account, "taker")
                    self._fill(ev, ev.maker_account, "maker")
                continue
            if t is OrderAccepted or t is OrderCancelled:
                if ev.price_ticks:
                    touched.append((ev.symbol, ev.side, ev.price_ticks))
                if t is OrderCancelled:
                    self._closed(ev.order_id, ev.account, "EXPIRED" if ev.reason in EXPIRED_REASONS else "CANCELED")
            elif t is OrderAmended:
                touched.append((ev.symbol, BUY, ev.price_ticks))
                touched.append((ev.symbol, SELL, ev.price_ticks))
            elif t is PositionChanged:
                self._reduce_only_levels(ev, touched)
            elif t is MarkPriceUpdated:
                if marks is None:
                    marks = []
                marks.append(ev.symbol)
                continue
            elif t is PublicLiquidation or t is FundingRateSettled:
                channel = "liquidations" if t is PublicLiquidation else "ticker"
                readers = self._readers(channel, ev.symbol)
                if readers:
                    msg = event_to_wire(ev, ex.instruments)
                    msg["type"] = "liquidation" if t is PublicLiquidation else "funding"
                    msg["ts"] = ts_ns
                    self._broadcast(readers, msg)
                continue
            elif t is TradingHalted or t is InstrumentChanged:
                msg = event_to_wire(ev, ex.instruments)
                msg["type"] = "status"
                self._broadcast(self.sessions, msg)
                continue
            elif t is InsuranceFundChanged:
                continue
            if self.private:
                account = getattr(ev, "account", -1)
                subs = self.private.get(account)
                if subs:
                    msg = event_to_wire(ev, ex.instruments)
                    msg["type"] = "private"
                    msg["ts"] = ts_ns
                    self._broadcast(subs, msg)
        if touched:
            self._book_updates(touched)
        for listener in self.listeners:
            listener(events, touched, ts_ns)
        for symbol, group in (trades or {}).items():
            readers = self._readers("trades", symbol)
            if readers:
                inst = ex.instruments[symbol]
                self._broadcast(readers, {"type": "trades", "symbol": symbol, "ts": ts_ns, "trades": [
                    {"id": tr.trade_id, "price": price_str(tr.price_ticks, inst),
                     "qty": str(tr.qty_lots * inst.lot_step), "side": "buy" if tr.taker_side > 0 else "sell",
                     "liquidation": tr.liquidation} for tr in group]})
        for symbol in marks or ():
            readers = self._readers("ticker", symbol)
            if readers:
                msg = to_wire(ticker_view(ex, symbol), ex.instruments[symbol])
                msg["type"] = "ticker"
                msg["ts"] = ts_ns
                self._broadcast(readers, msg)
            if self.private:
                self._margin_calls(symbol, ts_ns)

    def _closed_if_filled(self, account: int, oid: int) -> None:
        acct = self.ex.accounts.get(account)  # None for the insurance fund's own orders
        if acct is not None and oid not in acct.orders:
            self._closed(oid, account, "FILLED")

    def _closed(self, oid: int, account: int, status: str) -> None:
        """Remember the final status of recently closed orders (the core forgets them)."""
        closed = self.closed_orders
        closed[oid] = (account, status)
        closed.move_to_end(oid)
        if len(closed) > CLOSED_ORDERS_KEPT:
            closed.popitem(last=False)

    def _fill(self, tr: Trade, account: int, role: str) -> None:
        subs = self.private.get(account)
        if not subs:
            return
        inst = self.ex.instruments[tr.symbol]
        taker = role == "taker"
        side = tr.taker_side if taker else -tr.taker_side
        fee = tr.taker_fee_cash if taker else tr.maker_fee_cash
        self._broadcast(subs, {
            "type": "private", "event": "Fill", "symbol": tr.symbol, "trade_id": tr.trade_id,
            "order_id": tr.taker_order_id if taker else tr.maker_order_id, "side": "buy" if side > 0 else "sell",
            "price": price_str(tr.price_ticks, inst), "qty": str(tr.qty_lots * inst.lot_step),
            "fee": wire_value("cash", fee, None), "role": role, "liquidation": tr.liquidation})

    def _reduce_only_levels(self, ev: PositionChanged, touched: list) -> None:
        """Trimming reduce-only orders after a position change shrinks them without an event."""
        acct = self.ex.accounts.get(ev.account)  # None for the insurance fund's own positions
        if acct is not None and acct.positions[ev.symbol].reduce_only_orders:
            for o in acct.orders.values():
                if o.reduce_only and o.symbol == ev.symbol and o.price:
                    touched.append((o.symbol, o.side, o.price))

    def _book_updates(self, touched: list[tuple[str, int, int]]) -> None:
        changes: dict[str, tuple[list, list]] = {}
        books = self.ex.books
        for symbol, side, price in touched:
            shadow = self.shadow[symbol]
            if shadow is None:
                continue
            qty = books[symbol].level_qty(side, price)
            key = (side, price)
            if shadow.get(key, 0) == qty:
                continue
            if qty:
                shadow[key] = qty
            else:
                del shadow[key]
            bids, asks = changes.setdefault(symbol, ({}, {}))
            (bids if side == BUY else asks)[price] = qty
        for symbol, (bids, asks) in changes.items():
            self.book_seq[symbol] += 1
            readers = self._readers("book", symbol)
            if not readers:
                self.shadow[symbol] = None  # rebuilt from the book by the next subscriber
                continue
            inst = self.ex.instruments[symbol]
            self._broadcast(readers, {"type": "book", "symbol": symbol, "seq": self.book_seq[symbol],
                                      "bids": levels_to_wire(list(bids.items()), inst),
                                      "asks": levels_to_wire(list(asks.items()), inst)})

    def _margin_calls(self, symbol: str, ts_ns: int) -> None:
        """Warn subscribed accounts holding `symbol` whose margin ratio crossed MARGIN_CALL_PPM."""
        ex = self.ex
        for account, subs in self.private.items():
            acct = ex.accounts.get(account)
            pos = acct.positions.get(symbol) if acct else None
            if not subs or pos is None or not pos.size:
                continue
            if pos.isolated:
                _, mb, mm = ex.isolated_breached(pos)
            else:
                _, mb, mm = ex.cross_breached(acct)
            ratio = mm // mb if mb > 0 else None
            key = (account, symbol)
            if ratio is None or ratio >= MARGIN_CALL_PPM:
                if key not in self.margin_called:
                    self.margin_called.add(key)
                    view = account_view(ex, account)
                    self._broadcast(subs, {"type": "private", "event": "MarginCall", "symbol": symbol,
                                           "mode": pos.mode, "ts": ts_ns,
                                           "margin_ratio": wire_value("ppm", ratio, None),
                                           "margin_balance": wire_value("cash", mb, None),
                                           "available": wire_value("cash", view["available_cash"], None)})
            else:
                self.margin_called.discard(key)

    @staticmethod
    def _broadcast(readers: Any, msg: dict) -> None:
        data = encode(msg)
        for session in list(readers):
            session.send_bytes(data)
