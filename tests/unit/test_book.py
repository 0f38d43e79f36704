"""The order book alone: price-time priority, depth, lazy cancellation, reduce, self-trade prevention."""

from __future__ import annotations

import pytest

from exchange.core.book import NO_ASK, NO_BID, Book, Order
from exchange.core.commands import BUY, SELL, STP_EXPIRE_BOTH, STP_EXPIRE_MAKER, STP_EXPIRE_TAKER

_next = iter(range(1, 1 << 30))


def order(side: int, price: int, qty: int, account: int = 1, stp: str = "NONE") -> Order:
    n = next(_next)
    o = Order(n, account, side, price, qty, n)
    o.stp = stp
    return o


def book_with(*orders: Order) -> Book:
    b = Book("X")
    for o in orders:
        b.add(o)
    b.check_invariants()
    return b


def fills_of(result) -> list[tuple[int, int, int]]:
    return [(m.oid, q, p) for m, q, p in result[0]]


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
    result = b.match(taker, 103)
    assert fills_of(result) == [(a1.oid, 2, 101), (a2.oid, 3, 101), (a3.oid, 3, 102)]
    assert taker.qty == 0 and taker.filled == 8
    assert a3.qty == 1 and a3.filled == 3
    assert b.depth(SELL) == [(102, 1), (104, 9)] and b.best_ask == 102
    b.check_invariants()


def test_match_stops_at_limit_and_leaves_remainder():
    b = book_with(order(BUY, 100, 2), order(BUY, 98, 5))
    taker = order(SELL, 0, 10, account=2)
    result = b.match(taker, 99)
    assert [(q, p) for _, q, p in result[0]] == [(2, 100)]
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
    assert fills_of(b.match(taker, 101)) == [(a1.oid, 2, 101), (a3.oid, 3, 101)]
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
    assert [m.oid for m, _, _ in b.match(taker, 100)[0]] == [o.oid for o in orders[90:]]
    assert not b.has_bid()


def test_reduce_keeps_priority_and_updates_totals():
    a1, a2 = order(BUY, 100, 5), order(BUY, 100, 5)
    b = book_with(a1, a2)
    b.reduce(a1.oid, 2)
    assert a1.qty == 2 and a1.orig_qty == 2 and b.level_qty(BUY, 100) == 7
    taker = order(SELL, 0, 3, account=2)
    assert fills_of(b.match(taker, 100)) == [(a1.oid, 2, 100), (a2.oid, 1, 100)]
    b.check_invariants()


@pytest.mark.parametrize("stp, makers_left, taker_left, expired_own, filled", [
    # book: own 101 x2, other 101 x3; taker (account 1) buys 4 up to 101
    (STP_EXPIRE_TAKER, [2, 3], 4, False, 0),
    (STP_EXPIRE_MAKER, [], 1, True, 3),
    (STP_EXPIRE_BOTH, [3], 4, True, 0),
])
def test_self_trade_prevention(stp, makers_left, taker_left, expired_own, filled):
    own, other = order(SELL, 101, 2, account=1), order(SELL, 101, 3, account=2)
    b = book_with(own, other)
    taker = order(BUY, 0, 4, account=1, stp=stp)
    fills, expired, taker_expired = b.match(taker, 101)
    assert sum(q for _, q, _ in fills) == filled
    assert (own in expired) == expired_own
    assert taker_expired == (stp != STP_EXPIRE_MAKER)
    assert taker.qty == taker_left
    assert [o.qty for o in b.orders.values()] == makers_left
    b.check_invariants()


def test_stp_none_trades_with_itself():
    own = order(SELL, 101, 2, account=1)
    b = book_with(own)
    taker = order(BUY, 0, 2, account=1)
    assert fills_of(b.match(taker, 101)) == [(own.oid, 2, 101)]


def test_stp_expire_taker_keeps_earlier_fills():
    other, own = order(SELL, 101, 3, account=2), order(SELL, 101, 2, account=1)
    b = book_with(other, own)
    taker = order(BUY, 0, 5, account=1, stp=STP_EXPIRE_TAKER)
    fills, expired, taker_expired = b.match(taker, 102)
    assert fills_of((fills,)) == [(other.oid, 3, 101)]
    assert taker_expired and not expired and taker.qty == 2 and own.qty == 2
    b.check_invariants()


def test_order_state_round_trip():
    o = order(SELL, 101, 2)
    o.symbol, o.reserve, o.client_order_id = "X", 7, "abc"
    assert Order.from_state(o.state()).state() == o.state()
