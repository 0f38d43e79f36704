"""Mark price: median(index x (1 + funding basis), index + moving-average basis, last), index only,
last only; the percent-price filter and MARK_PRICE stops follow the mark, not the last price.
Instruments: tick 1, lot 1, no fees. Basis samples are (bid + ask - 2 x index) half-ticks, one per second."""

from __future__ import annotations

from margin_fixtures import BUY, SELL, Driver, of, rejected, whole_unit_instrument

from exchange.core.commands import CancelAll, IndexPrice, PlaceOrder
from exchange.core.instruments import NS_PER_HOUR, NS_PER_SECOND

T0 = 1_000_000_000  # the driver's start time: 1 s


def marks(events: list) -> list[int]:
    return [e.mark_ticks for e in of(events, "MarkPriceUpdated")]


def driver(method: str, **kw) -> Driver:
    d = Driver([whole_unit_instrument("TST", mark_method=method, **kw)])
    for aid in (1, 2, 3):
        d.account(aid, 1_000_000)
    return d


def quote(d: Driver, bid: int, ask: int) -> None:
    d.do(CancelAll(1, "TST"))
    d.do(CancelAll(2, "TST"))
    assert not rejected(d.limit(1, "TST", BUY, 1, bid) + d.limit(2, "TST", SELL, 1, ask))


def tick(d: Driver, index: int, ts: int) -> int:
    (mark,) = marks(d.do(IndexPrice("TST", index), ts=ts))
    return mark


def test_index_only_and_last_only():
    d = driver("index")
    d.index("TST", 1_000)
    d.trade(1, 2, "TST", 1, 1_040)
    assert marks(d.index("TST", 1_001)) == [1_001]
    d = driver("last")
    assert marks(d.index("TST", 1_000)) == [1_000]  # no trade yet: the index
    d.trade(1, 2, "TST", 1, 1_040)
    assert marks(d.index("TST", 1_001)) == [1_040]


def test_median_with_a_moving_average_basis():
    d = driver("median", mark_basis_samples="3")
    assert tick(d, 1_000, T0) == 1_000
    d.trade(1, 2, "TST", 1, 1_005)
    quote(d, 1_010, 1_012)  # basis sample 1,010 + 1,012 - 2,000 = 22 half-ticks
    # Price1 1,000 (no funding rate), Price2 1,000 + 11 = 1,011, last 1,005: the median is the last
    assert tick(d, 1_000, T0 + NS_PER_SECOND) == 1_005
    d.do(CancelAll(1, "TST"))
    d.do(CancelAll(2, "TST"))
    d.trade(1, 2, "TST", 1, 1_020)
    quote(d, 1_010, 1_012)
    # same second: no new sample; median(1,000, 1,011, 1,020) = Price2
    assert tick(d, 1_000, T0 + NS_PER_SECOND) == 1_011
    assert list(d.ex.markets["TST"].basis_samples) == [22]
    quote(d, 1_000, 1_002)  # samples of 2 half-ticks from now on
    assert tick(d, 1_000, T0 + 2 * NS_PER_SECOND) == 1_006  # 1,000 + (22 + 2) / 4
    assert tick(d, 1_000, T0 + 3 * NS_PER_SECOND) == 1_004  # 1,000 + round(26 / 6 = 4.33)
    assert tick(d, 1_000, T0 + 4 * NS_PER_SECOND) == 1_001  # window of 3: (2 + 2 + 2) / 6
    assert list(d.ex.markets["TST"].basis_samples) == [2, 2, 2]


def test_median_with_the_funding_basis():
    """Price1 = index x (1 + rate x time-to-funding / interval), rounded half up. Index 100,000, rate
    0.01% (10,000 e8): 4 h before funding Price1 = 100,005; 2 h before, 100,002.5 -> 100,003."""
    d = driver("median")
    d.index("TST", 100_000)
    m = d.ex.markets["TST"]
    assert m.next_funding_ts == 8 * NS_PER_HOUR
    m.funding_rate = 10_000  # as if settled at the last funding
    d.trade(1, 2, "TST", 1, 100_010)  # no book left: Price2 = index
    assert tick(d, 100_000, 4 * NS_PER_HOUR) == 100_005
    assert tick(d, 100_000, 6 * NS_PER_HOUR) == 100_003
    m.funding_rate = -10_000
    assert tick(d, 100_000, 6 * NS_PER_HOUR) == 100_000  # median(99,997, 100,000, 100,010)


def test_percent_price_filter_uses_the_mark():
    d = driver("index")
    d.index("TST", 1_150)
    d.trade(1, 2, "TST", 1, 1_150)
    d.index("TST", 1_000)  # last 1,150, mark 1,000
    assert [e.code for e in rejected(d.limit(1, "TST", BUY, 1, 1_051))] == ["PRICE_BAND"]  # cap 1,050
    assert not rejected(d.limit(1, "TST", BUY, 1, 1_050))
    assert [e.code for e in rejected(d.limit(2, "TST", SELL, 1, 1_099))] == []  # rests above the bid
    assert [e.code for e in rejected(d.limit(3, "TST", SELL, 1, 949))] == ["PRICE_BAND"]  # floor 950
    d.index("TST", 1_100)  # the band follows the mark
    assert not rejected(d.limit(1, "TST", BUY, 1, 1_155))


def test_mark_price_stops_fire_on_the_mark_not_the_last_price():
    d = driver("index")
    d.index("TST", 1_000)
    d.trade(1, 2, "TST", 5, 1_000)  # account 1 long 5
    stop = d.do(PlaceOrder(1, "TST", SELL, 5, 0, "STOP_MARKET", stop_price_ticks=950, reduce_only=True))
    last_stop = d.do(PlaceOrder(2, "TST", BUY, 1, 0, "STOP_MARKET", stop_price_ticks=1_020,
                                working_type="CONTRACT_PRICE"))
    assert not rejected(stop + last_stop)
    d.index("TST", 990)
    events = d.trade(3, 2, "TST", 1, 945)  # the last price falls through 950; the mark stays at 990
    assert d.ex.markets["TST"].last == 945 and of(events, "OrderTriggered") == []
    d.limit(3, "TST", BUY, 5, 940)
    events = d.index("TST", 950)  # the mark reaches the stop
    assert [e.order_id for e in of(events, "OrderTriggered")] == [of(stop, "OrderAccepted")[0].order_id]
    assert [(t.price_ticks, t.qty_lots, t.taker_account) for t in of(events, "Trade")] == [(940, 5, 1)]
    assert d.ex.accounts[1].positions["TST"].size == 0
    # the CONTRACT_PRICE stop ignores the mark, and fires on the last price
    assert of(d.index("TST", 1_030), "OrderTriggered") == []
    events = d.limit(1, "TST", SELL, 1, 1_021) + d.limit(3, "TST", BUY, 1, 1_021, tif="IOC")
    assert d.ex.markets["TST"].last == 1_021
    assert [e.order_id for e in of(events, "OrderTriggered")] == [of(last_stop, "OrderAccepted")[0].order_id]
