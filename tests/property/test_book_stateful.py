"""Hypothesis state machines over the Book and over the Exchange order flow (no price shocks), with the
invariants checked after every step: book never crossed, FIFO within a level, cash conserved exactly,
positions net to zero."""

from __future__ import annotations

import pytest
from conftest import BTC, Driver
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test,
)

from exchange.config import load_config
from exchange.core import Exchange
from exchange.core.book import MAKER_OUT, NO_ASK, NO_BID, Book
from exchange.core.commands import (
    BUY, CONTRACT_PRICE, MARK_PRICE, SELL, STP_MODES, AmendOrder, CancelAll, CancelOrder, IndexPrice, PlaceOrder,
)
from exchange.core.events import Trade

SIDES = st.sampled_from((BUY, SELL))
REDUCE = st.sampled_from((False, False, False, True))
CONFIG = load_config()


class BookMachine(RuleBasedStateMachine):
    """Random adds (matched first), cancels, market sweeps and reductions on a bare Book; the machine
    keeps each resting order's account, side, price and arrival, and checks FIFO within every level."""

    def __init__(self) -> None:
        super().__init__()
        self.book = Book("X")
        self.next_id = 1
        self.matched = 0
        self.added = 0
        self.owner: dict[int, int] = {}  # resting order id -> account

    def _take(self, account: int, side: int, qty: int, limit: int, refuse_own: bool = False) -> int:
        """Match; with refuse_own, the caller takes out the taker's own makers (as EXPIRE_MAKER would).
        Returns the lots left."""
        fills, out = [], []

        def fill(maker: int, n: int, price: int) -> tuple[int, int]:
            if refuse_own and self.owner[maker] == account:
                out.append(maker)
                return 0, MAKER_OUT
            fills.append((maker, n, price))
            return n, 0

        if refuse_own:
            left, _ = self.book.match(side, qty, limit, fill)
        else:
            taken: list[tuple[int, int, int]] = []
            left = self.book.take(side, qty, limit, taken)
            fills = [(m, n, p) for m, p, n in taken]
        prices = [p for _, _, p in fills]
        assert prices == sorted(prices, reverse=side == SELL), "fills must walk away from the touch"
        assert all((p <= limit) if side == BUY else (p >= limit) for p in prices)
        assert sum(q for _, q, _ in fills) == qty - left
        assert all(m not in self.book.orders for m in out)
        self.owner = {o: a for o, a in self.owner.items() if o in self.book.orders}
        self.matched += qty - left
        return left

    @rule(account=st.integers(1, 3), side=SIDES, price=st.integers(95, 105), qty=st.integers(1, 9),
          refuse_own=st.booleans())
    def limit(self, account, side, price, qty, refuse_own):
        left = self._take(account, side, qty, price, refuse_own)
        if left and not self.book.crosses(side, price):
            self.book.add(self.next_id, side, price, left)
            self.owner[self.next_id] = account
            self.added += 1
        self.next_id += 1

    @rule(account=st.integers(1, 3), side=SIDES, qty=st.integers(1, 30))
    def market(self, account, side, qty):
        self._take(account, side, qty, NO_ASK - 1 if side == BUY else 1)
        self.next_id += 1

    @precondition(lambda self: self.book.orders)
    @rule(data=st.data())
    def cancel(self, data):
        oid = data.draw(st.sampled_from(sorted(self.book.orders)))
        signed = self.book.orders[oid]
        queued = dict(self.book.queue(1 if signed > 0 else -1, abs(signed)))[oid]
        assert self.book.cancel(oid) == queued and oid not in self.book.orders
        del self.owner[oid]

    @precondition(lambda self: any(q > 1 for s in (BUY, SELL) for p, _ in self.book.depth(s)
                                   for _, q in self.book.queue(s, p)))
    @rule(data=st.data())
    def reduce(self, data):
        candidates = sorted((oid, s, p, q) for s in (BUY, SELL) for p, _ in self.book.depth(s)
                            for oid, q in self.book.queue(s, p) if q > 1)
        oid, side, price, qty = data.draw(st.sampled_from(candidates))
        level_before = self.book.level_qty(side, price)
        order_before = [o for o, _ in self.book.queue(side, price)]
        new = data.draw(st.integers(1, qty - 1))
        self.book.reduce(oid, new)
        assert self.book.level_qty(side, price) == level_before - (qty - new)
        assert [o for o, _ in self.book.queue(side, price)] == order_before  # keeps its place

    @invariant()
    def book_is_sound(self):
        self.book.check_invariants()  # not crossed, totals and indexes in sync
        assert self.book.best_bid == NO_BID or self.book.best_ask == NO_ASK or self.book.best_bid < self.book.best_ask
        for side in (BUY, SELL):
            for price, _ in self.book.depth(side):
                arrivals = [oid for oid, _ in self.book.queue(side, price)]
                assert arrivals == sorted(arrivals), f"level {price} not FIFO"  # ids are given in arrival order
        assert self.owner.keys() == self.book.orders.keys()


class ExchangeMachine(RuleBasedStateMachine):
    """Order flow of four accounts through Exchange.apply; the index only drifts by a few ticks."""

    def __init__(self) -> None:
        super().__init__()
        self.ex = Exchange(CONFIG.instruments, CONFIG.initial_insurance_fund_cash)
        self.drive = Driver(self.ex)
        self.mark = 600_000
        self.trades = 0

    @initialize()
    def accounts(self):
        self.drive.fund(1, 2, 3, 4, usdt=100_000)
        self.drive(IndexPrice(BTC, self.mark))

    def _apply(self, cmd):
        events = self.drive(cmd)
        self.trades += sum(type(e) is Trade for e in events)
        return events

    @rule(account=st.integers(1, 4), side=SIDES, offset=st.integers(-8, 12), qty=st.integers(2, 60),
          tif=st.sampled_from(("GTC", "GTC", "IOC", "FOK", "GTX")), stp=st.sampled_from(STP_MODES),
          reduce_only=REDUCE)
    def limit(self, account, side, offset, qty, tif, stp, reduce_only):
        self._apply(PlaceOrder(account, BTC, side, qty, self.mark - side * offset * 10, tif=tif,
                               stp=stp if tif in ("GTC", "IOC") else "NONE", reduce_only=reduce_only))

    @rule(account=st.integers(1, 4), side=SIDES, qty=st.integers(1, 80), reduce_only=REDUCE)
    def market(self, account, side, qty, reduce_only):
        self._apply(PlaceOrder(account, BTC, side, qty, 0, "MARKET", reduce_only=reduce_only))

    @rule(account=st.integers(1, 4), side=SIDES, kind=st.sampled_from(("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP")),
          distance=st.integers(1, 30), qty=st.integers(2, 40), working=st.sampled_from((MARK_PRICE, CONTRACT_PRICE)),
          reduce_only=REDUCE)
    def conditional(self, account, side, kind, distance, qty, working, reduce_only):
        rises = (kind != "TAKE_PROFIT_MARKET") == (side == BUY)
        stop = self.mark + (distance if rises else -distance) * 10
        self._apply(PlaceOrder(account, BTC, side, qty, stop, kind, stop_price_ticks=stop, working_type=working,
                               reduce_only=reduce_only))

    @precondition(lambda self: any(a.orders for a in self.ex.accounts.values()))
    @rule(data=st.data())
    def cancel(self, data):
        o = data.draw(st.sampled_from([o for a in self.ex.accounts.values() for o in a.orders.values()]))
        self._apply(CancelOrder(o.account, BTC, o.oid))
        assert o.oid not in self.ex.accounts[o.account].orders

    @precondition(lambda self: any(a.orders for a in self.ex.accounts.values()))
    @rule(data=st.data(), qty=st.integers(1, 60), offset=st.integers(-5, 40))
    def amend(self, data, qty, offset):
        o = data.draw(st.sampled_from([o for a in self.ex.accounts.values() for o in a.orders.values()]))
        self._apply(AmendOrder(o.account, BTC, o.oid, qty, self.mark - o.side * offset * 10))

    @rule(account=st.integers(1, 4))
    def cancel_all(self, account):
        self._apply(CancelAll(account, BTC))
        assert not self.ex.accounts[account].orders

    @rule(step=st.integers(-3, 3))
    def drift(self, step):
        self.mark += step * 10
        self._apply(IndexPrice(BTC, self.mark))

    @invariant()
    def exchange_is_sound(self):
        ex = self.ex
        ex.check_invariants()  # book not crossed + FIFO, deposits = wallets + fees + fund - cost, sizes net 0
        book = ex.books[BTC]
        assert not (book.has_bid() and book.has_ask()) or book.best_bid < book.best_ask
        assert sum(a.positions[BTC].size for a in ex.accounts.values()) == 0
        resting = {oid for oid in book.orders}
        open_orders = {oid for a in ex.accounts.values() for oid, o in a.orders.items() if o.order_type == "LIMIT"}
        assert resting == open_orders
        assert set(ex.trigger_orders) == {oid for a in ex.accounts.values() for oid, o in a.orders.items()
                                          if o.order_type != "LIMIT"}


BookMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=60, deadline=None)
ExchangeMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=50, deadline=None)
TestBook = BookMachine.TestCase
TestExchange = ExchangeMachine.TestCase


@pytest.mark.stress
def test_exchange_machine_long_runs():
    run_state_machine_as_test(ExchangeMachine, settings=settings(max_examples=400, stateful_step_count=200,
                                                                 deadline=None))
