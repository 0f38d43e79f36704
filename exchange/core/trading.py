"""The order path: place (validate -> reserve -> accept -> match and settle -> rest or expire ->
triggers), cancel, amend, and what follows trades (last-price triggers, reduce-only trimming, orders
whose reservation lost its cash)."""

from __future__ import annotations

from .accounts import Account
from .book import Book, Order
from .commands import BUY, GTX, IOC, MARKET, TRIGGER_TYPES, AmendOrder, CancelAll, CancelOrder, PlaceOrder, as_sent
from .entry import OrderEntry
from .errors import Reject, Rejection
from .events import Event, OrderAccepted, OrderAmended, OrderCancelled, OrderRejected, OrderTriggered
from .market import Market
from .matching import Matching
from .risk import Risk, fee_bound
from .settlement import AtFillPrice, Settlement
from .state import State
from .triggers import Triggers, triggered_command

_new = tuple.__new__  # builds a NamedTuple event from a ready tuple, skipping its Python-level __new__


class Trading:
    """Orders from accounts: placement, cancel, amend, and the follow-ups of each command's trades."""

    __slots__ = ("state", "books", "markets", "risk", "entry", "matching", "triggers", "at_fill_price", "settling")

    def __init__(self, state: State, books: dict[str, Book], markets: dict[str, Market], risk: Risk,
                 entry: OrderEntry, matching: Matching, triggers: Triggers, settlement: Settlement) -> None:
        self.state = state
        self.books = books
        self.markets = markets
        self.risk = risk
        self.entry = entry
        self.matching = matching
        self.triggers = triggers
        self.at_fill_price = AtFillPrice(settlement, checked=True)
        self.settling: set[str] = set()  # symbols whose follow-ups are running (they do not nest)

    # -- placement -----------------------------------------------------------------------------
    def place(self, cmd: PlaceOrder, events: list[Event], oid: int = 0) -> None:
        """Place an order; `oid` is given when a triggered conditional order keeps its id."""
        state = self.state
        try:
            # validate: nothing changes before every check has passed (every field has its type from here on)
            acct, inst, pos, limit = self.entry.check(cmd)
            side, qty, kind, reduce_only = cmd[2], cmd[3], cmd[5], cmd[7]
            # reserve: the margin of what the order would open, against the account's room
            cost = 0
            if limit and state.margin_checks and not reduce_only:
                book = self.books[inst.symbol]
                est = limit if kind != MARKET else (book.best_ask if side == BUY else book.best_bid)
                cost = self.risk.reserve(acct, pos, inst, side, qty, est)
        except Rejection as r:
            account, symbol, *_, coid = as_sent(cmd)
            events.append(_new(OrderRejected, (account, symbol, coid, r.code.value, r.message)))
            return
        priority = state.next_order_id
        state.next_order_id = priority + 1
        market = kind == MARKET
        order = Order(oid or priority, acct.id, side, 0 if market else cmd.price_ticks, qty, priority, inst.symbol,
                      kind, IOC if market else cmd.tif, reduce_only, cmd.stp, cmd.client_order_id,
                      cmd.stop_price_ticks, cmd.working_type)
        events.append(_new(OrderAccepted, (acct.id, inst.symbol, order.oid, side, kind, order.price, qty, order.tif,
                                           reduce_only, cmd.stop_price_ticks, cmd.client_order_id)))
        if not limit:  # a conditional order waits for its trigger
            self.risk.hold(acct, pos, order)
            self.triggers.arm(order)
            return
        # match, settle each fill, rest or expire the remainder
        self.matching.execute(order, acct, pos, inst, self.books[inst.symbol], limit, cost, events,
                              self.at_fill_price, inst.taker_fee_ppm)
        # what the trades set off: last-price triggers, reduce-only trimming, unbacked reservations
        if self.triggers.orders or state.trim or state.recheck:
            self.after_trades(inst.symbol, events)

    # -- follow-ups of trades ------------------------------------------------------------------
    def after_trades(self, symbol: str, events: list[Event]) -> None:
        """Fire last-price triggers, trim reduce-only orders and cancel orders whose reservation lost its
        cash, until nothing more happens."""
        state = self.state
        if symbol in self.settling or not (self.triggers.orders or state.trim or state.recheck):
            return
        self.settling.add(symbol)
        while True:
            before = len(events)
            if self.triggers.orders:
                self.fire_triggers(symbol, "CONTRACT_PRICE", events)
            if state.trim:
                self._trim_reduce_only(events)
            if state.recheck:
                self.release_unbacked(events)
            if len(events) == before:
                break
        self.settling.discard(symbol)

    def fire_triggers(self, symbol: str, working_type: str, events: list[Event]) -> None:
        """Place the conditional orders the current mark or last price fires. Every fired order leaves the
        trigger book and its account before any of them trades, so the fills of one (reduce-only
        trimming, say) never try to cancel another that is already out."""
        price = self.entry.reference_price(symbol, working_type)
        if not price:
            return
        fired = self.triggers.due(symbol, working_type, price)
        accounts = self.state.accounts
        for order in fired:
            acct = accounts[order.account]
            self.risk.release(acct, acct.positions[symbol], order)
        for order in fired:
            oid = order.oid
            events.append(OrderTriggered(order.account, symbol, oid, price))
            before = len(events)
            self.place(triggered_command(order, working_type), events, oid)
            rejected = events[before] if len(events) > before else None
            if isinstance(rejected, OrderRejected):
                events.append(OrderCancelled(order.account, symbol, oid, order.side, order.price, order.orig_qty,
                                             f"TRIGGER_REJECTED:{rejected.code}"))

    def release_unbacked(self, events: list[Event]) -> None:
        """Enforce the reservation rule (`Risk.backed`) on the accounts whose cross wallet may have lost
        cash: cancel their newest reserving orders until their reservations fit in the wallet again."""
        for order in self.risk.unbacked_orders():
            self.cancel_open(order, "INSUFFICIENT_MARGIN", events)

    def _trim_reduce_only(self, events: list[Event]) -> None:
        """Cancel or shrink resting reduce-only orders that would now increase or flip the position."""
        state = self.state
        pending, state.trim = state.trim, {}
        for account, symbol in pending:
            acct = state.accounts[account]
            size = acct.positions[symbol].size
            for order in [o for o in acct.orders.values() if o.reduce_only and o.symbol == symbol]:
                if size == 0 or (size > 0) == (order.side > 0):
                    self.cancel_open(order, "REDUCE_ONLY", events)
                elif order.qty > abs(size) and order.order_type not in TRIGGER_TYPES:
                    self._shrink(acct, order, abs(size))
                    events.append(OrderAmended(account, symbol, order.oid, order.price, order.qty))

    def _shrink(self, acct: Account, order: Order, qty: int) -> None:
        """Lower a resting order's qty in place (keeps priority); its reserve shrinks in proportion."""
        self.risk.shrink(acct, order, qty)
        self.matching.shrink(order, qty)

    # -- cancel / amend ------------------------------------------------------------------------
    def cancel_open(self, order: Order, reason: str, events: list[Event]) -> None:
        """Take an open order (resting or armed) out and off its account."""
        if order.order_type in TRIGGER_TYPES:
            self.triggers.disarm(order)
        else:
            self.matching.unrest(order)
        self.matching.forget(order, reason, events)

    def cancel_orders_of(self, acct: Account, reason: str, events: list[Event], symbol: str | None = None) -> None:
        for order in [o for o in acct.orders.values() if symbol is None or o.symbol == symbol]:
            self.cancel_open(order, reason, events)

    def cancel(self, cmd: CancelOrder, events: list[Event]) -> None:
        account, symbol, order_id = as_sent(cmd)
        acct = self.state.accounts.get(account) if type(account) is int else None
        order = acct.orders.get(order_id) if acct and type(order_id) is int else None
        if order is None or order.symbol != symbol:
            events.append(_new(OrderRejected, (account, symbol, "", Reject.UNKNOWN_ORDER.value,
                                               f"no open order {order_id!r} of account {account} on {symbol}")))
            return
        self.cancel_open(order, "USER", events)

    def cancel_all(self, cmd: CancelAll, events: list[Event]) -> None:
        acct = self.state.accounts.get(cmd.account)
        if acct is None:
            events.append(OrderRejected(cmd.account, cmd.symbol, "", Reject.UNKNOWN_ACCOUNT.value, f"unknown account {cmd.account}"))
            return
        self.cancel_orders_of(acct, "USER", events, cmd.symbol)

    def amend(self, cmd: AmendOrder, events: list[Event]) -> None:
        """A smaller qty at the same price shrinks in place; anything else re-queues the order with a new
        priority, as a fresh taker and maker (validated and reserved like a new order)."""
        state = self.state
        acct = state.accounts.get(cmd.account)
        order = acct.orders.get(cmd.order_id) if acct else None
        try:
            if acct is None or order is None or order.symbol != cmd.symbol or order.order_type in TRIGGER_TYPES:
                raise Rejection(Reject.UNKNOWN_ORDER, f"no resting order {cmd.order_id!r} of account {cmd.account} on {cmd.symbol}")
            inst = state.instruments[cmd.symbol]
            qty, price = self.entry.check_amend(acct, order, inst, cmd)
            book = self.books[cmd.symbol]
            if price == order.price and qty < order.qty:
                self.entry.check_notional(inst, price, qty, order.reduce_only)
                self._shrink(acct, order, qty)
                events.append(OrderAmended(acct.id, cmd.symbol, order.oid, price, qty))
                return
            self.entry.check_band_and_notional(inst, order.side, price, qty, order.reduce_only)
            if order.tif == GTX and book.crosses(order.side, price) and price != order.price:
                raise Rejection(Reject.POST_ONLY_WOULD_TAKE, f"post-only order at {price} ticks would take liquidity")
            pos = acct.positions[cmd.symbol]
            cost = 0
            if state.margin_checks and not order.reduce_only:
                cost = self.risk.order_cost(pos, order.side, qty, price, inst.cash_per_tick_lot, fee_bound(inst))
                if cost > order.reserve:
                    self.risk.require_available(acct, cost - order.reserve, pos.isolated)
        except Rejection as r:
            events.append(OrderRejected(cmd.account, cmd.symbol, "", r.code.value, r.message))
            return
        self.matching.unrest(order)
        self.risk.release(acct, pos, order)
        order.price = price
        order.qty = order.orig_qty = qty
        order.filled = 0
        order.priority = state.new_order_id()
        events.append(OrderAmended(acct.id, cmd.symbol, order.oid, price, qty))
        self.matching.execute(order, acct, pos, inst, book, price, cost, events, self.at_fill_price, inst.taker_fee_ppm)
        self.after_trades(cmd.symbol, events)

    def check_invariants(self) -> None:
        """Every open order that is not a conditional one rests in its book, with its side, price and
        remaining lots, and the books hold no other."""
        resting = self.matching.resting
        for acct in self.state.accounts.values():
            for oid, order in acct.orders.items():
                if order.order_type not in TRIGGER_TYPES:
                    book = self.books[order.symbol]
                    assert resting.get(oid) is order and book.orders.get(oid) == order.side * order.price, \
                        f"open order {oid} is not in its book"
                    assert (oid, order.qty) in book.queue(order.side, order.price), f"open order {oid}: lots differ"
        assert len(resting) == sum(len(b.orders) for b in self.books.values()) == self.state.resting_orders(), \
            "the books hold orders no account has"
