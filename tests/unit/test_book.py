"""The order book alone: price-time priority, depth, lazy cancellation, reduce, and the fill protocol by
which the caller settles each fill (and may take a maker off the book or stop the taker)."""

from __future__ import annotations

import pytest

from exchange.core.book import MAKER_OUT, NO_ASK, NO_BID, TAKER_OUT, Book, Order
from exchange.core.commands import BUY, SELL

_next = iter(range(1, 1 << 30))


def order(side: int, price: int, qty: int, account: int = 1) -> Order:
    n = next(_next)
    return Order(n, account, side, price, qty, n)


def book_with(*orders: Order) -> Book:
    b = Book("X")
    for o in orders:
        b.add(o)
    b.check_invariants()
    return b


def take(book: Book, taker: Order, limit: int) -> list[tuple[int, int, int]]:
    """Match with every fill accepted; returns the fills as (maker oid, qty, price)."""
    fills: list[tuple[int, int, int]] = []

    def fill(maker: Order, qty: int, price: int) -> tuple[int, int]:
        fills.append((maker.oid, qty, price))
        return qty, 0

    assert not book.match(taker, limit, fill)
    return fills


def test_empty_book_has_sentinels():
    b = Book("X")
    assert (b.best_bid, b.best_ask) == (NO_BID, NO_ASK)
    assert not b.has_bid() and not b.has_ask()
    assert b.depth(BUY) == [] and b.depth(SELL) == []
    b.check_invariants()


def test_best_prices_and_depth_aggregate_levels_best_first():
    b = book_with(order(BUY, 99, 5), order(BUY, 100, 3), order(BUY, 100, 2), order(BUY, 97, 1),
                  order(SELL, 101, 4), order(SELL, 103, 6), order(SELL, 101, 1))
    assert (b.best_bid, b.best_ask) == (100, 101)
    assert b.depth(BUY) == [(100, 5), (99, 5), (97, 1)]
    assert b.depth(SELL) == [(101, 5), (103, 6)]
    assert b.depth(BUY, 2) == [(100, 5), (99, 5)]
    assert b.depth(SELL, 1) == [(101, 5)]
    assert b.level_qty(BUY, 99) == 5 and b.level_qty(SELL, 102) == 0


def test_crosses_and_fillable():
    b = book_with(order(SELL, 101, 4), order(SELL, 103, 6), order(BUY, 99, 2))
    assert b.crosses(BUY, 101) and not b.crosses(BUY, 100)
    assert b.crosses(SELL, 99) and not b.crosses(SELL, 100)
    assert b.fillable(BUY, 103, 10) and not b.fillable(BUY, 103, 11) and not b.fillable(BUY, 102, 5)
    assert b.fillable(SELL, 99, 2) and not b.fillable(SELL, 99, 3)


def test_match_walks_levels_in_price_then_time_order():
    a1, a2, a3, a4 = order(SELL, 101, 2), order(SELL, 101, 3), order(SELL, 102, 4), order(SELL, 104, 9)
    b = book_with(a3, a1, a2, a4)
    taker = order(BUY, 0, 8, account=2)
    assert take(b, taker, 103) == [(a1.oid, 2, 101), (a2.oid, 3, 101), (a3.oid, 3, 102)]
    assert taker.qty == 0 and taker.filled == 8
    assert a3.qty == 1 and a3.filled == 3
    assert b.depth(SELL) == [(102, 1), (104, 9)] and b.best_ask == 102
    b.check_invariants()


def test_match_stops_at_limit_and_leaves_remainder():
    b = book_with(order(BUY, 100, 2), order(BUY, 98, 5))
    taker = order(SELL, 0, 10, account=2)
    assert [(q, p) for _, q, p in take(b, taker, 99)] == [(2, 100)]
    assert taker.qty == 8 and taker.filled == 2
    assert b.best_bid == 98
    b.check_invariants()


def test_cancel_is_lazy_but_invisible():
    a1, a2, a3 = order(SELL, 101, 2), order(SELL, 101, 3), order(SELL, 101, 4)
    b = book_with(a1, a2, a3)
    assert b.cancel(a2.oid) is a2
    assert b.cancel(a2.oid) is None
    assert b.level_qty(SELL, 101) == 6
    taker = order(BUY, 0, 5, account=2)
    assert take(b, taker, 101) == [(a1.oid, 2, 101), (a3.oid, 3, 101)]
    b.check_invariants()


def test_cancel_last_order_drops_level_and_moves_best():
    a1, a2 = order(SELL, 101, 2), order(SELL, 105, 3)
    bid = order(BUY, 99, 1)
    b = book_with(a1, a2, bid)
    b.cancel(a1.oid)
    assert b.best_ask == 105 and b.depth(SELL) == [(105, 3)]
    b.cancel(bid.oid)
    assert b.best_bid == NO_BID
    b.check_invariants()


def test_many_cancels_compact_a_level_and_keep_fifo():
    orders = [order(BUY, 100, 1) for _ in range(100)]
    b = book_with(*orders)
    for o in orders[:90]:
        b.cancel(o.oid)
    assert len(b.bids[100].orders) < 100  # compacted
    b.check_invariants()
    taker = order(SELL, 0, 10, account=2)
    assert [oid for oid, _, _ in take(b, taker, 100)] == [o.oid for o in orders[90:]]
    assert not b.has_bid()


def test_reduce_keeps_priority_and_updates_totals():
    a1, a2 = order(BUY, 100, 5), order(BUY, 100, 5)
    b = book_with(a1, a2)
    b.reduce(a1.oid, 2)
    assert a1.qty == 2 and a1.orig_qty == 2 and b.level_qty(BUY, 100) == 7
    taker = order(SELL, 0, 3, account=2)
    assert take(b, taker, 100) == [(a1.oid, 2, 100), (a2.oid, 1, 100)]
    b.check_invariants()


def test_a_maker_taken_out_leaves_the_book_after_what_it_filled():
    """The caller fills 1 of a1's 2 lots and takes it out (MAKER_OUT): its remainder leaves the book and
    matching goes on with a2; a3 is refused outright (0 lots, MAKER_OUT)."""
    a1, a2, a3, a4 = order(SELL, 101, 2), order(SELL, 101, 3), order(SELL, 102, 4), order(SELL, 102, 5)
    b = book_with(a1, a2, a3, a4)
    decisions = {a1.oid: (1, MAKER_OUT), a3.oid: (0, MAKER_OUT)}
    seen = []

    def fill(maker: Order, qty: int, price: int) -> tuple[int, int]:
        seen.append((maker.oid, qty, price))
        return decisions.get(maker.oid, (qty, 0))

    taker = order(BUY, 0, 6, account=2)
    assert not b.match(taker, 102, fill)
    assert seen == [(a1.oid, 2, 101), (a2.oid, 3, 101), (a3.oid, 2, 102), (a4.oid, 2, 102)]
    assert (taker.qty, taker.filled) == (0, 6)
    assert (a1.qty, a1.filled, a3.qty, a4.qty) == (0, 1, 0, 3)
    assert b.orders == {a4.oid: a4} and b.depth(SELL) == [(102, 3)]
    b.check_invariants()


@pytest.mark.parametrize("n, out, maker_left", [(0, TAKER_OUT, [2, 3]), (1, TAKER_OUT, [1, 3]),
                                                (0, TAKER_OUT | MAKER_OUT, [3])])
def test_taker_out_ends_the_match(n, out, maker_left):
    a1, a2 = order(SELL, 101, 2), order(SELL, 101, 3)
    b = book_with(a1, a2)
    taker = order(BUY, 0, 4, account=2)
    assert b.match(taker, 101, lambda maker, qty, price: (n, out))
    assert taker.qty == 4 - n
    assert [o.qty for o in b.orders.values()] == maker_left
    b.check_invariants()


def test_order_state_round_trip():
    o = order(SELL, 101, 2)
    o.symbol, o.reserve, o.client_order_id = "X", 7, "abc"
    assert Order.from_state(o.state()).state() == o.state()
