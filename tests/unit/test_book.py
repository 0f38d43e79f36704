"""The order book alone: price-time priority, depth, cancel, reduce, and the two ways to match: every fill
accepted (`take`), or each fill decided by the caller (`match`: settle part, take a maker off the book,
stop the taker)."""

from __future__ import annotations

import pytest

from exchange.core.book import MAKER_OUT, NO_ASK, NO_BID, TAKER_OUT, Book, Order
from exchange.core.commands import BUY, SELL

_next = iter(range(1, 1 << 30))


def book_with(*orders: tuple[int, int, int]) -> tuple[Book, list[int]]:
    """A book holding the given (side, price, qty) orders, and their ids in that order."""
    b = Book("X")
    oids = []
    for side, price, qty in orders:
        oid = next(_next)
        b.add(oid, side, price, qty)
        oids.append(oid)
    b.check_invariants()
    return b, oids


def take(book: Book, side: int, qty: int, limit: int) -> tuple[list[tuple[int, int, int]], int]:
    """Match with every fill accepted; returns the fills as (maker oid, price, qty) and the lots left."""
    fills: list[tuple[int, int, int]] = []
    left = book.take(side, qty, limit, fills)
    book.check_invariants()
    return fills, left


def test_empty_book_has_sentinels():
    b = Book("X")
    assert (b.best_bid, b.best_ask) == (NO_BID, NO_ASK)
    assert not b.has_bid() and not b.has_ask()
    assert b.depth(BUY) == [] and b.depth(SELL) == []
    assert b.take(BUY, 5, NO_ASK - 1, []) == 5 and b.match(SELL, 5, 1, lambda o, q, p: (q, 0)) == (5, False)
    b.check_invariants()


def test_best_prices_and_depth_aggregate_levels_best_first():
    b, _ = book_with((BUY, 99, 5), (BUY, 100, 3), (BUY, 100, 2), (BUY, 97, 1),
                     (SELL, 101, 4), (SELL, 103, 6), (SELL, 101, 1))
    assert (b.best_bid, b.best_ask) == (100, 101)
    assert b.depth(BUY) == [(100, 5), (99, 5), (97, 1)]
    assert b.depth(SELL) == [(101, 5), (103, 6)]
    assert b.depth(BUY, 2) == [(100, 5), (99, 5)]
    assert b.depth(SELL, 1) == [(101, 5)] and b.depth(SELL, 0) == []
    assert b.level_qty(BUY, 99) == 5 and b.level_qty(SELL, 102) == 0
    assert b.resting(SELL) == [(101, [b.queue(SELL, 101)[0][0], b.queue(SELL, 101)[1][0]]),
                               (103, [b.queue(SELL, 103)[0][0]])]


def test_crosses_and_fillable():
    b, _ = book_with((SELL, 101, 4), (SELL, 103, 6), (BUY, 99, 2))
    assert b.crosses(BUY, 101) and not b.crosses(BUY, 100)
    assert b.crosses(SELL, 99) and not b.crosses(SELL, 100)
    assert b.fillable(BUY, 103, 10) and not b.fillable(BUY, 103, 11) and not b.fillable(BUY, 102, 5)
    assert b.fillable(SELL, 99, 2) and not b.fillable(SELL, 99, 3)


def test_take_walks_levels_in_price_then_time_order():
    b, (a3, a1, a2, a4) = book_with((SELL, 102, 4), (SELL, 101, 2), (SELL, 101, 3), (SELL, 104, 9))
    fills, left = take(b, BUY, 8, 103)
    assert fills == [(a1, 101, 2), (a2, 101, 3), (a3, 102, 3)] and left == 0
    assert b.queue(SELL, 102) == [(a3, 1)]
    assert b.depth(SELL) == [(102, 1), (104, 9)] and b.best_ask == 102
    assert a1 not in b.orders and a3 in b.orders


def test_take_stops_at_limit_and_leaves_remainder():
    b, _ = book_with((BUY, 100, 2), (BUY, 98, 5))
    fills, left = take(b, SELL, 10, 99)
    assert [(p, q) for _, p, q in fills] == [(100, 2)] and left == 8
    assert b.best_bid == 98


def test_cancel_returns_the_remaining_lots_once():
    b, (a1, a2, a3) = book_with((SELL, 101, 2), (SELL, 101, 3), (SELL, 101, 4))
    assert b.cancel(a2) == 3
    assert b.cancel(a2) is None
    assert b.level_qty(SELL, 101) == 6
    fills, _ = take(b, BUY, 5, 101)
    assert fills == [(a1, 101, 2), (a3, 101, 3)]


def test_cancel_last_order_drops_level_and_moves_best():
    b, (a1, _, bid) = book_with((SELL, 101, 2), (SELL, 105, 3), (BUY, 99, 1))
    b.cancel(a1)
    assert b.best_ask == 105 and b.depth(SELL) == [(105, 3)]
    b.cancel(bid)
    assert b.best_bid == NO_BID
    b.check_invariants()


def test_many_cancels_keep_fifo():
    b, oids = book_with(*[(BUY, 100, 1)] * 100)
    for oid in oids[:90]:
        b.cancel(oid)
    b.check_invariants()
    fills, _ = take(b, SELL, 10, 100)
    assert [oid for oid, _, _ in fills] == oids[90:]
    assert not b.has_bid()


def test_reduce_keeps_priority_and_updates_totals():
    b, (a1, a2) = book_with((BUY, 100, 5), (BUY, 100, 5))
    b.reduce(a1, 2)
    assert b.queue(BUY, 100) == [(a1, 2), (a2, 5)] and b.level_qty(BUY, 100) == 7
    fills, _ = take(b, SELL, 3, 100)
    assert fills == [(a1, 100, 2), (a2, 100, 1)]


def test_a_maker_taken_out_leaves_the_book_after_what_it_filled():
    """The caller fills 1 of a1's 2 lots and takes it out (MAKER_OUT): its remainder leaves the book and
    matching goes on with a2; a3 is refused outright (0 lots, MAKER_OUT)."""
    b, (a1, a2, a3, a4) = book_with((SELL, 101, 2), (SELL, 101, 3), (SELL, 102, 4), (SELL, 102, 5))
    decisions = {a1: (1, MAKER_OUT), a3: (0, MAKER_OUT)}
    seen = []

    def fill(maker: int, qty: int, price: int) -> tuple[int, int]:
        seen.append((maker, qty, price))
        return decisions.get(maker, (qty, 0))

    assert b.match(BUY, 6, 102, fill) == (0, False)
    assert seen == [(a1, 2, 101), (a2, 3, 101), (a3, 2, 102), (a4, 2, 102)]
    assert b.orders == {a4: -102} and b.depth(SELL) == [(102, 3)]
    b.check_invariants()


@pytest.mark.parametrize("n, out, maker_left", [(0, TAKER_OUT, [2, 3]), (1, TAKER_OUT, [1, 3]),
                                                (0, TAKER_OUT | MAKER_OUT, [3])])
def test_taker_out_ends_the_match(n, out, maker_left):
    b, _ = book_with((SELL, 101, 2), (SELL, 101, 3))
    assert b.match(BUY, 4, 101, lambda maker, qty, price: (n, out)) == (4 - n, True)
    assert [q for _, q in b.queue(SELL, 101)] == maker_left
    b.check_invariants()


def test_take_and_match_agree_when_every_fill_is_accepted():
    orders = ((SELL, 101, 2), (SELL, 101, 3), (SELL, 102, 4), (SELL, 104, 1), (BUY, 99, 7))
    (b1, ids1), (b2, ids2) = book_with(*orders), book_with(*orders)
    fills, left = take(b1, BUY, 8, 103)
    seen = []
    assert b2.match(BUY, 8, 103, lambda m, q, p: seen.append((m, p, q)) or (q, 0)) == (left, False) == (0, False)
    assert [(ids2.index(m), p, q) for m, p, q in seen] == [(ids1.index(m), p, q) for m, p, q in fills]
    assert b1.depth(SELL) == b2.depth(SELL) == [(102, 1), (104, 1)]
    assert sorted(ids1.index(o) for o in b1.orders) == sorted(ids2.index(o) for o in b2.orders)


def test_order_state_round_trip():
    o = Order(1, 2, SELL, 101, 2, 1)
    o.symbol, o.reserve, o.client_order_id = "X", 7, "abc"
    assert Order.from_state(o.state()).state() == o.state()
