"""Matching: an accepted order against the book, each fill decided and settled as it happens, then the
remainder rested or expired. The book knows nothing of accounts; its fill callback, here, applies
self-trade prevention and decides how much the maker and the taker can pay for (`Risk.fillable`)."""

from __future__ import annotations

from .accounts import Account, Position
from .book import MAKER_OUT, TAKER_OUT, Book, Fill, Order
from .commands import BUY, GTC, GTX, MARKET, STP_EXPIRE_MAKER, STP_EXPIRE_TAKER, STP_NONE
from .events import Event, OrderCancelled, Trade
from .instruments import Instrument
from .market import Market
from .money import PPM, ceil_div
from .risk import Risk
from .settlement import SettlePolicy, Settlement
from .state import State

_new = tuple.__new__  # builds a NamedTuple event from a ready tuple, skipping its Python-level __new__


class Matching:
    """Runs orders through the books and knows the resting orders by id (`resting`): `execute` matches,
    settles and rests or expires; `rest`, `unrest` and `forget` put an order in, take it out of its book,
    and off its account."""

    __slots__ = ("state", "books", "markets", "risk", "settlement", "resting")

    def __init__(self, state: State, books: dict[str, Book], markets: dict[str, Market], risk: Risk,
                 settlement: Settlement) -> None:
        self.state = state
        self.books = books
        self.markets = markets
        self.risk = risk
        self.settlement = settlement
        self.resting: dict[int, Order] = {}

    def rest(self, order: Order, acct: Account, pos: Position) -> None:
        """An order (that does not cross) joins its book; its account holds its reservation."""
        self.risk.hold(acct, pos, order)
        self.books[order.symbol].add(order.oid, order.side, order.price, order.qty)
        self.resting[order.oid] = order

    def unrest(self, order: Order) -> None:
        """A resting order leaves its book (its account still holds it: `forget`)."""
        self.books[order.symbol].cancel(order.oid)
        del self.resting[order.oid]

    def shrink(self, order: Order, qty: int) -> None:
        """A resting order's remaining lots drop to `qty` in place (it keeps its priority)."""
        order.orig_qty -= order.qty - qty
        order.qty = qty
        self.books[order.symbol].reduce(order.oid, qty)

    def forget(self, order: Order, reason: str, events: list[Event], remaining: int | None = None) -> None:
        """Bookkeeping after an order left the book or trigger list: release its reserve and emit.
        `remaining`: the lots cancelled, when the order's own counts are not yet up to date (a fill)."""
        acct = self.state.accounts[order.account]
        self.risk.release(acct, acct.positions[order.symbol], order)
        events.append(_new(OrderCancelled, (order.account, order.symbol, order.oid, order.side, order.price,
                                            order.orig_qty - order.filled if remaining is None else remaining,
                                            reason)))

    def execute(self, order: Order, acct: Account, pos: Position, inst: Instrument, book: Book, limit: int,
                cost: int, events: list[Event], policy: SettlePolicy, taker_fee_ppm: int) -> None:
        """Match an accepted order, settling each fill as it happens, then rest or expire the remainder.

        `cost` is the order's reservation, checked against the account in this command: the taker's
        fills draw on it first. Every maker, and a `policy.checked` taker, is re-checked at each fill
        (`Risk.fillable`): a maker that may not fill all it is offered fills its closing part and is
        cancelled, and matching goes on with the next one; a taker that may not stops there. Without
        margin checks or self-trade prevention every fill is accepted (`Book.take`).
        """
        symbol = inst.symbol
        side = order.side
        orig = order.qty
        stop = ""
        if book.crosses(side, limit):
            k = inst.cash_per_tick_lot
            maker_ppm = inst.maker_fee_ppm
            accounts = self.state.accounts
            resting = self.resting
            settle = self._settle
            stp = order.stp
            if stp == STP_NONE and not self.state.margin_checks:
                fills: list[Fill] = []
                left = book.take(side, orig, limit, fills)
                for moid, price, n in fills:
                    maker = resting[moid]
                    macct = accounts[maker.account]
                    settle(order, acct, pos, maker, macct, macct.positions[symbol], n, price, k, taker_fee_ppm,
                           maker_ppm, policy, events)
            else:
                fillable = self.risk.fillable
                checked = policy.checked
                budget = cost

                def fill(moid: int, qty: int, price: int) -> tuple[int, int]:
                    nonlocal stop, budget
                    maker = resting[moid]
                    if stp != STP_NONE and maker.account == order.account:
                        out = 0
                        if stp != STP_EXPIRE_TAKER:
                            del resting[moid]
                            self.forget(maker, "STP", events)
                            out = MAKER_OUT
                        if stp != STP_EXPIRE_MAKER:
                            stop = "STP"
                            out |= TAKER_OUT
                        return 0, out
                    macct = accounts[maker.account]
                    mpos = macct.positions[symbol]
                    held = maker.reserve if qty == maker.qty else maker.reserve * qty // maker.qty
                    n, _, maker_why = fillable(macct, mpos, maker, qty, price, k, maker_ppm, held, 0)
                    out = MAKER_OUT if n < qty else 0
                    if checked and n:
                        t, need, why = fillable(acct, pos, order, n, price, k, taker_fee_ppm, 0, budget)
                        budget = max(0, budget - need)
                        if t < n:
                            n, out, stop = t, TAKER_OUT, why
                    if out & MAKER_OUT:
                        remaining = maker.qty - n
                        if n:
                            settle(order, acct, pos, maker, macct, mpos, n, price, k, taker_fee_ppm, maker_ppm,
                                   policy, events)
                        resting.pop(moid, None)
                        self.forget(maker, maker_why, events, remaining)
                    elif n:
                        settle(order, acct, pos, maker, macct, mpos, n, price, k, taker_fee_ppm, maker_ppm, policy,
                               events)
                    return n, out

                left, _ = book.match(side, orig, limit, fill)
            order.filled += orig - left
            order.qty = left
        if order.qty:
            if order.tif in (GTC, GTX) and not stop:
                order.reserve = ceil_div(cost * order.qty, orig) if cost else 0
                self.rest(order, acct, pos)
            else:
                if stop:
                    reason = stop
                elif order.order_type == MARKET:
                    reason = "MARKET_BAND" if (book.has_ask() if side == BUY else book.has_bid()) else "NO_LIQUIDITY"
                else:
                    reason = order.tif
                events.append(OrderCancelled(order.account, symbol, order.oid, side, order.price, order.qty, reason))

    def _settle(self, taker: Order, acct: Account, pos: Position, maker: Order, macct: Account, mpos: Position,
                qty: int, price: int, k: int, taker_ppm: int, maker_ppm: int, policy: SettlePolicy,
                events: list[Event]) -> None:
        """One trade of qty at price: the Trade event, the maker's reservation released in proportion (all of
        it, and the maker out of `resting`, when it fills up), then both positions and wallets."""
        value = qty * price * k
        taker_fee = -((-value * taker_ppm) // PPM)
        maker_fee = -((-value * maker_ppm) // PPM)
        state = self.state
        trade_id = state.next_trade_id
        state.next_trade_id = trade_id + 1
        side = taker.side
        symbol = taker.symbol
        events.append(_new(Trade, (symbol, trade_id, price, qty, side, taker.account, taker.oid, maker.account,
                                   maker.oid, taker_fee, maker_fee, taker.origin != "user")))
        if qty == maker.qty:
            self.risk.release(macct, mpos, maker)
            self.resting.pop(maker.oid, None)
        else:
            self.risk.release_share(macct, maker, qty)
        maker.qty -= qty
        maker.filled += qty
        self.settlement.fill(macct, mpos, -side, qty, price, k, maker_fee, events)
        policy.settle_taker(acct, pos, side, qty, price, k, taker_fee, events)
        self.markets[symbol].last = price
