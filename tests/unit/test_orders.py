"""Every order type and order rule through Exchange.apply, with exact fills, fees and PnL.

BTCUSDT from configs/default.toml: tick 0.1 (60,000 USDT = 600,000 ticks), lot 0.001 BTC, one tick-lot
is worth K = 100 cash units (1 cash unit = 1e-6 USDT); maker fee 200 ppm, taker 500 ppm. The `market`
fixture marks BTCUSDT at 600,000 ticks and funds accounts 1-4.
"""

from __future__ import annotations

import pytest
from conftest import BTC, ETH, of_type

from exchange.core.commands import (
    BUY, CONTRACT_PRICE, FOK, GTX, IOC, MARKET, SELL, STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET,
    AmendOrder, CancelAll, CancelOrder, IndexPrice, PlaceOrder, SetInstrumentParam, SetTradingHalted,
)
from exchange.core.events import (
    MarkPriceUpdated, OrderAccepted, OrderAmended, OrderCancelled, OrderRejected, OrderTriggered,
    PositionChanged, Trade,
)

MARK = 600_000
K = 100
CASH = 1_000_000  # cash units per USDT


def place(drive, account, side, qty, price=0, symbol=BTC, **kw) -> list:
    return drive(PlaceOrder(account, symbol, side, qty, price, **kw))


def oid_of(events) -> int:
    return of_type(events, OrderAccepted)[0].order_id


def rest(drive, account, side, qty, price, **kw) -> int:
    """Place a limit order that must rest; returns its id."""
    ev = place(drive, account, side, qty, price, **kw)
    assert [type(e) for e in ev] == [OrderAccepted], ev
    return ev[0].order_id


def state(ex) -> dict:
    """The whole state but the sequence number."""
    return {k: v for k, v in ex.snapshot().items() if k != "seq"}


def rejected(drive, cmd) -> OrderRejected:
    """Apply a command that must be rejected without changing the state; returns the rejection."""
    before = state(drive.ex)
    ev = drive(cmd, ts_ns=drive.ts_ns)  # same time: no timer may run
    assert len(ev) == 1 and type(ev[0]) is OrderRejected, ev
    assert state(drive.ex) == before, "a rejected command changed the state"
    return ev[0]


def fills(events) -> list[tuple[int, int, int, int]]:
    """(taker account, maker account, price, qty) of each trade."""
    return [(t.taker_account, t.maker_account, t.price_ticks, t.qty_lots) for t in of_type(events, Trade)]


def book(drive, symbol=BTC):
    return drive.ex.books[symbol]


def pos(drive, account, symbol=BTC):
    return drive.ex.accounts[account].positions[symbol]


@pytest.fixture(autouse=True)
def _invariants(request):
    """Every test in this module ends with the exchange's invariants intact."""
    drive = request.getfixturevalue("market") if "market" in request.fixturenames else None
    yield
    if drive is not None:
        drive.ex.check_invariants()


# -- limit and market orders -------------------------------------------------------------------

def test_limit_order_rests_when_it_does_not_cross(market):
    ev = place(market, 1, BUY, 5, 599_000, client_order_id="c1")
    oid = oid_of(ev)
    assert ev == [OrderAccepted(1, BTC, oid, BUY, "LIMIT", 599_000, 5, "GTC", False, 0, "c1")]
    assert book(market).depth(BUY) == [(599_000, 5)]
    assert market.ex.accounts[1].orders[oid].qty == 5


def test_limit_sweeps_levels_then_rests_the_remainder(market):
    a = rest(market, 2, SELL, 3, 600_000)
    b = rest(market, 3, SELL, 4, 600_100)
    rest(market, 2, SELL, 5, 600_200)
    ev = place(market, 1, BUY, 10, 600_150)
    trades = of_type(ev, Trade)
    assert [(t.maker_order_id, t.price_ticks, t.qty_lots) for t in trades] == [(a, 600_000, 3), (b, 600_100, 4)]
    assert book(market).depth(BUY) == [(600_150, 3)]
    assert book(market).depth(SELL) == [(600_200, 5)]
    assert pos(market, 1).size == 7 and pos(market, 1).cost == (3 * 600_000 + 4 * 600_100) * K
    assert market.ex.markets[BTC].last == 600_100


def test_market_order_fills_and_leaves_nothing(market):
    rest(market, 2, SELL, 3, 600_000)
    rest(market, 2, SELL, 4, 600_500)
    ev = place(market, 1, BUY, 5, order_type=MARKET)
    assert fills(ev) == [(1, 2, 600_000, 3), (1, 2, 600_500, 2)]
    assert not of_type(ev, OrderCancelled)
    assert book(market).depth(SELL) == [(600_500, 2)]


def test_market_order_stops_at_the_band_around_mark(market):
    """Band 5%: a market buy may not pay more than 630,000 ticks; the rest expires."""
    rest(market, 2, SELL, 3, 600_000)
    rest(market, 2, SELL, 4, 630_000)
    rest(market, 2, SELL, 5, 630_001)
    ev = place(market, 1, BUY, 10, order_type=MARKET)
    assert fills(ev) == [(1, 2, 600_000, 3), (1, 2, 630_000, 4)]
    cancelled = of_type(ev, OrderCancelled)
    assert [(c.remaining_lots, c.reason) for c in cancelled] == [(3, "MARKET_BAND")]
    assert book(market).depth(SELL) == [(630_001, 5)]


def test_market_order_that_empties_the_book_expires_for_lack_of_liquidity(market):
    rest(market, 2, SELL, 3, 600_000)
    ev = place(market, 1, BUY, 10, order_type=MARKET)
    assert fills(ev) == [(1, 2, 600_000, 3)]
    assert [(c.remaining_lots, c.reason) for c in of_type(ev, OrderCancelled)] == [(7, "NO_LIQUIDITY")]


def test_market_sell_band_is_below_mark(market):
    rest(market, 2, BUY, 2, 570_000)
    rest(market, 2, BUY, 2, 569_999)
    ev = place(market, 1, SELL, 4, order_type=MARKET)
    assert fills(ev) == [(1, 2, 570_000, 2)]
    assert book(market).depth(BUY) == [(569_999, 2)]


def test_market_order_with_nothing_inside_the_band_is_rejected(market):
    rest(market, 2, SELL, 3, 640_000)
    r = rejected(market, PlaceOrder(1, BTC, BUY, 3, 0, MARKET))
    assert r.code == "NO_LIQUIDITY" and "630000" in r.message


def test_market_order_needs_a_mark_price(drive):
    drive.fund(1, 2)
    rest(drive, 2, SELL, 3, 600_000)
    r = rejected(drive, PlaceOrder(1, BTC, BUY, 3, 0, MARKET))
    assert r.code == "NO_MARK_PRICE" and "BTCUSDT" in r.message


# -- time in force -----------------------------------------------------------------------------

def test_ioc_fills_what_it_can_and_cancels_the_rest(market):
    rest(market, 2, SELL, 3, 600_000)
    ev = place(market, 1, BUY, 5, 600_000, tif=IOC)
    assert fills(ev) == [(1, 2, 600_000, 3)]
    assert [(c.remaining_lots, c.reason) for c in of_type(ev, OrderCancelled)] == [(2, "IOC")]
    assert not book(market).has_bid() and not market.ex.accounts[1].orders


def test_fok_is_rejected_unless_fully_fillable(market):
    rest(market, 2, SELL, 3, 600_000)
    rest(market, 2, SELL, 3, 600_100)
    r = rejected(market, PlaceOrder(1, BTC, BUY, 7, 600_100, tif=FOK))
    assert r.code == "FOK_NOT_FILLABLE" and "qty 7" in r.message
    r = rejected(market, PlaceOrder(1, BTC, BUY, 6, 600_000, tif=FOK))
    assert r.code == "FOK_NOT_FILLABLE"
    ev = place(market, 1, BUY, 6, 600_100, tif=FOK)
    assert fills(ev) == [(1, 2, 600_000, 3), (1, 2, 600_100, 3)]
    assert not book(market).has_ask() and not book(market).has_bid()


def test_post_only_rests_or_is_rejected_if_it_would_take(market):
    rest(market, 2, SELL, 3, 600_000)
    r = rejected(market, PlaceOrder(1, BTC, BUY, 3, 600_000, tif=GTX))
    assert r.code == "POST_ONLY_WOULD_TAKE" and "600000" in r.message
    oid = rest(market, 1, BUY, 3, 599_900, tif=GTX)
    assert market.ex.accounts[1].orders[oid].tif == GTX


# -- reduce-only -------------------------------------------------------------------------------

def long_position(drive, account=1, qty=5, price=MARK, counterparty=2):
    rest(drive, counterparty, SELL, qty, price)
    place(drive, account, BUY, qty, price)
    assert pos(drive, account).size == qty


def test_reduce_only_rejected_without_position_or_when_it_would_increase_or_flip(market):
    r = rejected(market, PlaceOrder(1, BTC, SELL, 2, 600_000, reduce_only=True))
    assert r.code == "REDUCE_ONLY_REJECTED" and "position 0" in r.message
    long_position(market)
    r = rejected(market, PlaceOrder(1, BTC, BUY, 2, 599_000, reduce_only=True))
    assert r.code == "REDUCE_ONLY_REJECTED" and "buy of 2 lots" in r.message
    r = rejected(market, PlaceOrder(1, BTC, SELL, 6, 601_000, reduce_only=True))
    assert r.code == "REDUCE_ONLY_REJECTED" and "sell of 6 lots" in r.message and "position 5" in r.message


def test_reduce_only_reduces_and_is_exempt_from_min_notional(market):
    long_position(market)
    rest(market, 3, BUY, 2, 599_000)
    ev = place(market, 1, SELL, 1, 599_000, reduce_only=True)  # 59.9 USDT < 100 USDT min notional
    assert fills(ev) == [(1, 3, 599_000, 1)]
    assert pos(market, 1).size == 4


def test_resting_reduce_only_orders_shrink_then_cancel_as_the_position_shrinks(market):
    long_position(market)
    big = rest(market, 1, SELL, 5, 610_000, reduce_only=True)
    small = rest(market, 1, SELL, 2, 620_000, reduce_only=True)
    rest(market, 3, BUY, 5, 599_000)
    ev = place(market, 1, SELL, 3, order_type=MARKET)
    assert pos(market, 1).size == 2
    orders = market.ex.accounts[1].orders
    assert orders[big].qty == 2 and orders[small].qty == 2
    assert book(market).depth(SELL) == [(610_000, 2), (620_000, 2)]
    assert not of_type(ev, OrderCancelled)
    assert [(a.order_id, a.qty_lots) for a in of_type(ev, OrderAmended)] == [(big, 2)]
    ev = place(market, 1, SELL, 2, order_type=MARKET)
    assert pos(market, 1).size == 0
    assert sorted((c.order_id, c.reason) for c in of_type(ev, OrderCancelled)) == [
        (big, "REDUCE_ONLY"), (small, "REDUCE_ONLY")]
    assert not market.ex.accounts[1].orders and not book(market).has_ask()


# -- conditional orders ------------------------------------------------------------------------

def test_stop_market_sell_triggers_on_mark_price(market):
    long_position(market, qty=10)
    rest(market, 3, BUY, 10, 590_000)
    stop = oid_of(place(market, 1, SELL, 10, 0, order_type=STOP_MARKET, stop_price_ticks=595_000))
    assert book(market).depth(SELL) == [] and pos(market, 1).open_orders == 1
    ev = market(IndexPrice(BTC, 596_000))
    assert of_type(ev, MarkPriceUpdated)[0].mark_ticks == 596_000  # median(596000, 596000, last 600000)
    assert not of_type(ev, OrderTriggered)
    ev = market(IndexPrice(BTC, 594_000))
    assert of_type(ev, MarkPriceUpdated)[0].mark_ticks == 594_000
    # median(p1, p2, last): last is still 600,000 and p2 = index, so the mark is the index
    assert [type(e) for e in ev][:4] == [MarkPriceUpdated, OrderTriggered, OrderAccepted, Trade]
    assert of_type(ev, OrderTriggered) == [OrderTriggered(1, BTC, stop, 594_000)]
    assert of_type(ev, OrderAccepted)[0].order_id == stop
    assert fills(ev) == [(1, 3, 590_000, 10)]
    assert pos(market, 1).size == 0 and not market.ex.accounts[1].orders


def test_take_profit_market_sell_triggers_on_last_price(market):
    long_position(market, qty=10)
    rest(market, 4, BUY, 20, 604_000)
    tp = oid_of(place(market, 1, SELL, 10, 0, order_type=TAKE_PROFIT_MARKET, stop_price_ticks=605_000,
                      working_type=CONTRACT_PRICE))
    rest(market, 3, SELL, 2, 605_000)
    ev = place(market, 4, BUY, 2, 605_000, tif=IOC)  # prints 605,000: the take-profit fires
    assert of_type(ev, OrderTriggered) == [OrderTriggered(1, BTC, tp, 605_000)]
    assert fills(ev) == [(4, 3, 605_000, 2), (1, 4, 604_000, 10)]
    assert pos(market, 1).size == 0
    assert pos(market, 1).realized_pnl == 10 * (604_000 - 600_000) * K


def test_stop_limit_buy_triggers_on_last_price_and_rests(market):
    oid = oid_of(place(market, 1, BUY, 4, 606_000, order_type=STOP, stop_price_ticks=605_000,
                       working_type=CONTRACT_PRICE))
    rest(market, 3, SELL, 2, 604_000)
    ev = place(market, 4, BUY, 2, 604_000)
    assert not of_type(ev, OrderTriggered)
    rest(market, 3, SELL, 2, 605_000)
    rest(market, 3, SELL, 3, 607_000)
    ev = place(market, 4, BUY, 2, 605_000)
    assert of_type(ev, OrderTriggered) == [OrderTriggered(1, BTC, oid, 605_000)]
    assert not of_type(ev, Trade)[1:]  # the stop-limit found nothing at or below 606,000 to take
    assert book(market).depth(BUY) == [(606_000, 4)]
    assert market.ex.accounts[1].orders[oid].order_type == "LIMIT"


def test_take_profit_limit_buy_triggers_on_mark_price(market):
    oid = oid_of(place(market, 1, BUY, 4, 595_000, order_type=TAKE_PROFIT, stop_price_ticks=596_000))
    ev = market(IndexPrice(BTC, 596_000))
    assert of_type(ev, OrderTriggered) == [OrderTriggered(1, BTC, oid, 596_000)]
    assert book(market).depth(BUY) == [(595_000, 4)]


@pytest.mark.parametrize("order_type, side, stop, working", [
    (STOP_MARKET, SELL, 600_000, "MARK_PRICE"),  # sell stop fires at mark <= stop
    (STOP, BUY, 599_000, "MARK_PRICE"),  # buy stop fires at mark >= stop
    (TAKE_PROFIT_MARKET, SELL, 599_999, "MARK_PRICE"),  # sell take-profit fires at mark >= stop
    (TAKE_PROFIT, BUY, 600_001, "MARK_PRICE"),  # buy take-profit fires at mark <= stop
    (STOP_MARKET, BUY, 601_000, CONTRACT_PRICE),  # last is 601,000
])
def test_conditional_order_that_would_trigger_at_once_is_rejected(market, order_type, side, stop, working):
    rest(market, 2, SELL, 2, 601_000)
    place(market, 3, BUY, 2, 601_000)
    r = rejected(market, PlaceOrder(1, BTC, side, 2, 601_000, order_type, stop_price_ticks=stop,
                                    working_type=working))
    assert r.code == "WOULD_TRIGGER_IMMEDIATELY" and f"stop {stop} ticks" in r.message


def test_two_reduce_only_stops_on_one_position_fire_on_one_mark_tick(market):
    """The first stop closes the position; the second can no longer reduce and is cancelled, not lost."""
    long_position(market, qty=10)
    rest(market, 3, BUY, 20, 590_000)
    s1 = oid_of(place(market, 1, SELL, 10, 0, order_type=STOP_MARKET, stop_price_ticks=595_000, reduce_only=True))
    s2 = oid_of(place(market, 1, SELL, 10, 0, order_type=STOP_MARKET, stop_price_ticks=596_000, reduce_only=True))
    ev = market(IndexPrice(BTC, 594_000))
    assert [e.order_id for e in of_type(ev, OrderTriggered)] == [s1, s2]  # in arrival order
    assert fills(ev) == [(1, 3, 590_000, 10)]
    assert [(c.order_id, c.reason) for c in of_type(ev, OrderCancelled)] == [
        (s2, "TRIGGER_REJECTED:REDUCE_ONLY_REJECTED")]
    assert pos(market, 1).size == 0
    assert not market.ex.accounts[1].orders and not market.ex.trigger_orders


# -- cancel, cancel-all, amend -----------------------------------------------------------------

def test_cancel_own_order_and_reject_unknown_or_foreign_ids(market):
    oid = rest(market, 1, BUY, 5, 599_000)
    r = rejected(market, CancelOrder(2, BTC, oid))
    assert r.code == "UNKNOWN_ORDER" and f"{oid}" in r.message and "account 2" in r.message
    r = rejected(market, CancelOrder(1, ETH, oid))
    assert r.code == "UNKNOWN_ORDER"
    ev = market(CancelOrder(1, BTC, oid))
    assert ev == [OrderCancelled(1, BTC, oid, BUY, 599_000, 5, "USER")]
    assert not book(market).has_bid() and pos(market, 1).open_orders == 0
    assert rejected(market, CancelOrder(1, BTC, oid)).code == "UNKNOWN_ORDER"


def test_cancel_all_is_per_account_and_symbol(market):
    mine = [rest(market, 1, BUY, 5, 599_000), rest(market, 1, SELL, 5, 601_000),
            oid_of(place(market, 1, SELL, 5, 0, order_type=STOP_MARKET, stop_price_ticks=590_000))]
    eth = rest(market, 1, BUY, 100, 290_000, symbol=ETH)
    other = rest(market, 2, BUY, 5, 599_000)
    ev = market(CancelAll(1, BTC))
    assert sorted(c.order_id for c in of_type(ev, OrderCancelled)) == sorted(mine)
    assert set(market.ex.accounts[1].orders) == {eth}
    assert set(market.ex.accounts[2].orders) == {other}
    assert book(market).depth(BUY) == [(599_000, 5)] and not market.ex.trigger_orders


def test_amend_reducing_qty_keeps_priority(market):
    first = rest(market, 1, BUY, 5, 599_000)
    second = rest(market, 3, BUY, 5, 599_000)
    ev = market(AmendOrder(1, BTC, first, 3, 599_000))
    assert ev == [OrderAmended(1, BTC, first, 599_000, 3)]
    ev = place(market, 2, SELL, 4, order_type=MARKET)
    assert [t.maker_order_id for t in of_type(ev, Trade)] == [first, second]
    assert fills(ev) == [(2, 1, 599_000, 3), (2, 3, 599_000, 1)]


def test_amend_to_a_new_price_loses_priority(market):
    first = rest(market, 1, BUY, 5, 599_000)
    second = rest(market, 3, BUY, 5, 598_000)
    market(AmendOrder(1, BTC, first, 5, 598_000))
    ev = place(market, 2, SELL, 6, order_type=MARKET)
    assert [t.maker_order_id for t in of_type(ev, Trade)] == [second, first]


def test_amend_increasing_qty_loses_priority(market):
    first = rest(market, 1, BUY, 5, 599_000)
    second = rest(market, 3, BUY, 5, 599_000)
    market(AmendOrder(1, BTC, first, 6, 599_000))
    ev = place(market, 2, SELL, 6, order_type=MARKET)
    assert [t.maker_order_id for t in of_type(ev, Trade)] == [second, first]


def test_amend_into_the_book_trades(market):
    ask = rest(market, 2, SELL, 3, 600_000)
    bid = rest(market, 1, BUY, 5, 599_000)
    ev = market(AmendOrder(1, BTC, bid, 5, 600_000))
    assert [type(e) for e in ev][:2] == [OrderAmended, Trade]
    assert [(t.maker_order_id, t.taker_order_id, t.qty_lots) for t in of_type(ev, Trade)] == [(ask, bid, 3)]
    assert book(market).depth(BUY) == [(600_000, 2)]


def test_amend_is_validated_like_a_new_order(market):
    oid = rest(market, 1, BUY, 5, 599_000)
    assert rejected(market, AmendOrder(1, BTC, oid, 0, 599_000)).code == "INVALID_QTY"
    assert rejected(market, AmendOrder(1, BTC, oid, 5, 700_000)).code == "PRICE_BAND"
    r = rejected(market, AmendOrder(1, BTC, oid, 1, 599_000))  # 59.9 USDT
    assert r.code == "MIN_NOTIONAL"
    assert rejected(market, AmendOrder(1, BTC, oid + 100, 5, 599_000)).code == "UNKNOWN_ORDER"
    assert rejected(market, AmendOrder(2, BTC, oid, 5, 599_000)).code == "UNKNOWN_ORDER"
    assert market.ex.accounts[1].orders[oid].qty == 5


def test_amending_a_post_only_order_into_the_book_is_rejected(market):
    rest(market, 2, SELL, 3, 600_000)
    oid = rest(market, 1, BUY, 3, 599_000, tif=GTX)
    r = rejected(market, AmendOrder(1, BTC, oid, 3, 600_000))
    assert r.code == "POST_ONLY_WOULD_TAKE"


def test_amend_of_a_partly_filled_order_sets_the_remaining_qty(market):
    oid = rest(market, 1, BUY, 10, 599_000)
    place(market, 2, SELL, 4, 599_000)
    market(AmendOrder(1, BTC, oid, 5, 599_000))
    ev = market(CancelOrder(1, BTC, oid))
    assert ev == [OrderCancelled(1, BTC, oid, BUY, 599_000, 5, "USER")]


def test_amend_of_a_reduce_only_order_may_not_exceed_the_position(market):
    long_position(market)
    oid = rest(market, 1, SELL, 5, 610_000, reduce_only=True)
    r = rejected(market, AmendOrder(1, BTC, oid, 6, 610_000))
    assert r.code == "REDUCE_ONLY_REJECTED" and "qty 6" in r.message and "position 5" in r.message
    assert market(AmendOrder(1, BTC, oid, 1, 610_000)) == [OrderAmended(1, BTC, oid, 610_000, 1)]


# -- self-trade prevention ---------------------------------------------------------------------

def stp_book(drive):
    own = rest(drive, 1, SELL, 2, 600_000)
    other = rest(drive, 2, SELL, 3, 600_000)
    return own, other


def test_stp_none_trades_with_itself(market):
    own, other = stp_book(market)
    ev = place(market, 1, BUY, 4, 600_000)
    assert fills(ev) == [(1, 1, 600_000, 2), (1, 2, 600_000, 2)]
    assert pos(market, 1).size == 2


def test_stp_expire_taker(market):
    own, other = stp_book(market)
    ev = place(market, 1, BUY, 4, 600_000, stp="EXPIRE_TAKER")
    assert not of_type(ev, Trade)
    taker = oid_of(ev)
    assert [(c.order_id, c.remaining_lots, c.reason) for c in of_type(ev, OrderCancelled)] == [(taker, 4, "STP")]
    assert book(market).depth(SELL) == [(600_000, 5)]


def test_stp_expire_maker(market):
    own, other = stp_book(market)
    ev = place(market, 1, BUY, 4, 600_000, stp="EXPIRE_MAKER")
    assert [(c.order_id, c.reason) for c in of_type(ev, OrderCancelled)] == [(own, "STP")]
    assert fills(ev) == [(1, 2, 600_000, 3)]
    assert book(market).depth(BUY) == [(600_000, 1)] and not book(market).has_ask()
    assert own not in market.ex.accounts[1].orders


def test_stp_expire_both(market):
    own, other = stp_book(market)
    ev = place(market, 1, BUY, 4, 600_000, stp="EXPIRE_BOTH")
    taker = oid_of(ev)
    assert not of_type(ev, Trade)
    assert sorted((c.order_id, c.reason) for c in of_type(ev, OrderCancelled)) == [(own, "STP"), (taker, "STP")]
    assert book(market).depth(SELL) == [(600_000, 3)] and not book(market).has_bid()


def test_stp_is_not_available_for_fok_or_post_only(market):
    for tif in (FOK, GTX):
        r = rejected(market, PlaceOrder(1, BTC, BUY, 4, 599_000, tif=tif, stp="EXPIRE_MAKER"))
        assert r.code == "INVALID_STP" and tif in r.message


# -- filters -----------------------------------------------------------------------------------

def test_percent_price_band_around_mark(market):
    rest(market, 1, BUY, 2, 630_000)
    r = rejected(market, PlaceOrder(1, BTC, BUY, 2, 630_001))
    assert r.code == "PRICE_BAND" and "above 630000" in r.message
    rest(market, 1, SELL, 2, 570_000 + 100_000)
    r = rejected(market, PlaceOrder(1, BTC, SELL, 2, 569_999))
    assert r.code == "PRICE_BAND" and "below 570000" in r.message


def test_min_notional(market):
    r = rejected(market, PlaceOrder(1, BTC, BUY, 1, 599_000))
    assert r.code == "MIN_NOTIONAL" and "59900000" in r.message and "100000000" in r.message
    rest(market, 1, BUY, 2, 599_000)  # 119.8 USDT


@pytest.mark.parametrize("qty, price, order_type, code, text", [
    (0, 599_000, "LIMIT", "INVALID_QTY", "qty 0 lots is outside [1, 1000000]"),
    (-3, 599_000, "LIMIT", "INVALID_QTY", "qty -3"),
    (2.0, 599_000, "LIMIT", "INVALID_QTY", "qty 2.0"),
    (1_000_001, 599_000, "LIMIT", "INVALID_QTY", "qty 1000001"),
    (120_001, 0, "MARKET", "INVALID_QTY", "outside [1, 120000]"),
    (2, 0, "LIMIT", "INVALID_PRICE", "price 0 ticks"),
    (2, 5_567, "LIMIT", "INVALID_PRICE", "outside [5568, 45297640]"),
    (2, 599_000.5, "LIMIT", "INVALID_PRICE", "599000.5"),
    (2, 45_297_641, "LIMIT", "INVALID_PRICE", "45297641"),
    (2, 599_000, "LIMITED", "INVALID_ORDER_TYPE", "LIMITED"),
])
def test_qty_and_price_filters(market, qty, price, order_type, code, text):
    r = rejected(market, PlaceOrder(1, BTC, BUY, qty, price, order_type))
    assert (r.code, text in r.message) == (code, True), r.message


@pytest.mark.parametrize("cmd, code, text", [
    (PlaceOrder(1, "DOGEUSDT", BUY, 2, 599_000), "UNKNOWN_SYMBOL", "DOGEUSDT"),
    (PlaceOrder(99, BTC, BUY, 2, 599_000), "UNKNOWN_ACCOUNT", "99"),
    (PlaceOrder(1, BTC, 0, 2, 599_000), "INVALID_SIDE", "side 0"),
    (PlaceOrder(1, BTC, BUY, 2, 599_000, tif="GTD"), "INVALID_TIF", "GTD"),
    (PlaceOrder(1, BTC, BUY, 2, 599_000, stp="MAYBE"), "INVALID_STP", "MAYBE"),
    (PlaceOrder(1, BTC, BUY, 2, 599_000, STOP, stop_price_ticks=0), "INVALID_PRICE", "stop price 0"),
    (PlaceOrder(1, BTC, BUY, 2, 599_000, STOP, stop_price_ticks=601_000, working_type="INDEX"),
     "INVALID_TRIGGER", "INDEX"),
    (PlaceOrder(1, BTC, BUY, 10**9, 599_000), "INVALID_QTY", "1000000000"),
])
def test_bad_order_fields_are_rejected_with_a_code_and_a_reason(market, cmd, code, text):
    r = rejected(market, cmd)
    assert r.code == code and text in r.message, r


def test_max_open_orders_counts_resting_and_conditional_orders(market):
    market(SetInstrumentParam(BTC, "max_open_orders", 2))
    rest(market, 1, BUY, 2, 599_000)
    place(market, 1, SELL, 2, 0, order_type=STOP_MARKET, stop_price_ticks=590_000)
    r = rejected(market, PlaceOrder(1, BTC, BUY, 2, 598_000))
    assert r.code == "MAX_OPEN_ORDERS" and "2 open orders" in r.message and "limit is 2" in r.message
    rest(market, 2, BUY, 2, 598_000)  # the limit is per account


def test_halted_trading_rejects_orders(market):
    market(SetTradingHalted(True))
    assert rejected(market, PlaceOrder(1, BTC, BUY, 2, 599_000)).code == "TRADING_HALTED"
    market(SetTradingHalted(False))
    rest(market, 1, BUY, 2, 599_000)


# -- fees, entry price, realized PnL -----------------------------------------------------------

def test_maker_and_taker_fees_are_exact(market):
    """1 BTC at 60,000 USDT: taker pays 0.05% = 30 USDT, maker 0.02% = 12 USDT."""
    rest(market, 2, SELL, 1_000, 600_000)
    ev = place(market, 1, BUY, 1_000, 600_000)
    (t,) = of_type(ev, Trade)
    assert (t.taker_fee_cash, t.maker_fee_cash) == (30 * CASH, 12 * CASH)
    assert market.ex.accounts[1].cross_wallet == (1_000_000 - 30) * CASH
    assert market.ex.accounts[2].cross_wallet == (1_000_000 - 12) * CASH
    assert market.ex.fees_collected == 42 * CASH


def test_fees_round_up_to_the_next_cash_unit(market):
    rest(market, 2, SELL, 3, 600_001)
    (t,) = of_type(place(market, 1, BUY, 3, 600_001), Trade)
    value = 3 * 600_001 * K  # 180,000,300 cash units
    assert t.taker_fee_cash == 90_001 and value * 500 / 1e6 == 90_000.15
    assert t.maker_fee_cash == 36_001 and value * 200 / 1e6 == 36_000.06


def test_entry_price_and_realized_pnl_through_adds_partial_close_and_flip(market):
    rest(market, 2, SELL, 1_000, 600_000)
    place(market, 1, BUY, 1_000, 600_000)
    rest(market, 2, SELL, 1_000, 610_000)
    place(market, 1, BUY, 1_000, 610_000)
    p = pos(market, 1)
    assert (p.size, p.cost) == (2_000, 2_000 * 605_000 * K)  # entry 60,500
    rest(market, 3, BUY, 500, 620_000)
    ev = place(market, 1, SELL, 500, 620_000)
    (change,) = [c for c in of_type(ev, PositionChanged) if c.account == 1]
    assert change.realized_pnl_cash == 750 * CASH  # 0.5 BTC x (62,000 - 60,500)
    assert (p.size, p.cost) == (1_500, 1_500 * 605_000 * K)
    rest(market, 3, BUY, 2_000, 590_000)
    ev = place(market, 1, SELL, 2_000, 590_000)
    (change,) = [c for c in of_type(ev, PositionChanged) if c.account == 1]
    assert change.realized_pnl_cash == -2_250 * CASH  # 1.5 BTC x (59,000 - 60,500)
    assert (p.size, p.cost) == (-500, -500 * 590_000 * K)  # flipped short 0.5 at 59,000
    assert p.realized_pnl == -1_500 * CASH
    fees = (600_000 + 610_000) * 1_000 * K * 500 // 10**6 + (500 * 620_000 + 2_000 * 590_000) * K * 500 // 10**6
    assert market.ex.accounts[1].cross_wallet == 1_000_000 * CASH - 1_500 * CASH - fees


def test_partial_close_rounds_realized_pnl_against_the_account(market):
    """Long 6 lots costing 360,000,200 cash: closing a third removes ceil(cost/3) of the basis."""
    for price in (600_000, 600_000, 600_001):
        rest(market, 2, SELL, 2, price)
        place(market, 1, BUY, 2, price)
    p = pos(market, 1)
    assert (p.size, p.cost) == (6, 360_000_200)
    rest(market, 3, BUY, 2, 600_000)
    place(market, 1, SELL, 2, 600_000, reduce_only=True)
    assert p.realized_pnl == 120_000_000 - 120_000_067  # exact: -66.67
    assert p.cost == 360_000_200 - 120_000_067


def test_short_partial_close_rounds_against_the_account(market):
    for price in (600_000, 600_000, 600_001):
        rest(market, 2, BUY, 2, price)
        place(market, 1, SELL, 2, price)
    p = pos(market, 1)
    assert (p.size, p.cost) == (-6, -360_000_200)
    rest(market, 3, SELL, 2, 600_000)
    place(market, 1, BUY, 2, 600_000, reduce_only=True)
    assert p.realized_pnl == 66  # exact: 66.67
