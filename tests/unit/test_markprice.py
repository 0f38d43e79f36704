"""Mark price: median(index x (1 + funding basis), index + moving-average basis, last) clamped around the
index, index only, last only; the percent-price filter and MARK_PRICE stops follow the mark, not the last
price; wash trades on a thin book cannot push the mark into a victim's liquidation.
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
    """A window of 4 one-second samples (clamp 5%, out of the way). Samples are bid + ask - 2 x index in
    half-ticks; Price2 = index + their sum / (2 x window), seconds before the first sample counting 0."""
    d = driver("median", mark_basis_window_seconds="4", mark_clamp="0.05")
    assert tick(d, 1_000, T0) == 1_000  # an empty book: sample 0
    d.trade(1, 2, "TST", 1, 1_005)
    quote(d, 1_010, 1_012)  # basis sample 1,010 + 1,012 - 2,000 = 22 half-ticks
    # Price1 1,000 (no funding rate), Price2 1,000 + 22 / 8 = 1,002.75 -> 1,003, last 1,005
    assert tick(d, 1_000, T0 + NS_PER_SECOND) == 1_003
    d.do(CancelAll(1, "TST"))
    d.do(CancelAll(2, "TST"))
    d.trade(1, 2, "TST", 1, 1_020)
    quote(d, 1_010, 1_012)
    # same second: no new sample; median(1,000, 1,003, 1,020) = Price2
    assert tick(d, 1_000, T0 + NS_PER_SECOND) == 1_003
    assert list(d.ex.markets["TST"].basis_runs) == [[0, 1], [22, 1]]  # [sample, seconds]
    quote(d, 1_000, 1_002)  # samples of 2 half-ticks from now on
    assert tick(d, 1_000, T0 + 2 * NS_PER_SECOND) == 1_003  # (0 + 22 + 2) / 8
    # no tick at 3 s and 4 s: those seconds hold the last sample; the window keeps the last 4
    assert tick(d, 1_000, T0 + 5 * NS_PER_SECOND) == 1_001  # (2 + 2 + 2 + 2) / 8
    assert list(d.ex.markets["TST"].basis_runs) == [[2, 4]]


def test_a_fresh_market_gives_its_first_sample_the_weight_of_one_second():
    """Default window, 300 s: a first sample of a book quoted 10% above the index (202 half-ticks) moves
    Price2 by 202 / 600 of a tick, nothing after rounding. It used to be the whole average: 1,101."""
    d = driver("median", mark_clamp="0.5")
    quote(d, 1_100, 1_102)
    d.trade(3, 1, "TST", 1, 1_100)
    quote(d, 1_100, 1_102)
    assert tick(d, 1_000, T0) == 1_000
    assert d.ex.markets["TST"].basis_sum == 202


def test_the_mark_is_clamped_around_the_index():
    """A book held 10% above the index for a whole window of 4 s, trades there too: Price2 and the last
    price are both 1,101, but the mark stays within index x (1 + 0.5%) = 1,005."""
    d = driver("median", mark_basis_window_seconds="4", mark_clamp="0.005")
    d.index("TST", 1_000)
    d.trade(1, 2, "TST", 1, 1_050)
    d.index("TST", 1_050)
    d.trade(1, 2, "TST", 1, 1_100)
    quote(d, 1_100, 1_102)
    assert [tick(d, 1_000, T0 + i * NS_PER_SECOND) for i in range(1, 6)] == [1_005] * 5
    assert d.ex.markets["TST"].basis_sum // 8 == 101  # Price2 alone would be 1,101


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


def test_wash_trades_on_a_thin_book_do_not_move_the_mark_into_a_victims_liquidation(drive):
    """BTCUSDT as configured (median mark, 300 s basis window, clamp 0.5%), index fixed at 60,000. A victim
    is long 1 BTC at 20x on 3,100 USDT (liquidation price about 57,160, 4.7% below). A manipulator with
    two accounts owns the thin book: each second it quotes 5% under the mark and trades with itself
    there, then the index ticks. Over two minutes the mark never leaves 59,700 (the clamp) and nobody
    is liquidated. (It used to follow the wash trades down 5% in a few rounds, into the victim.)"""
    from conftest import BTC

    from exchange.core.commands import BUY, SELL, CancelAll, CreateAccount, Deposit, IndexPrice, PlaceOrder, SetLeverage
    from exchange.core.events import LiquidationTriggered, MarkPriceUpdated

    index = 600_000
    drive.fund(2, 11, 12, usdt=10_000_000)
    drive(CreateAccount(10))
    drive(Deposit(10, 3_100 * 1_000_000))
    drive(SetLeverage(10, BTC, 20))
    drive(IndexPrice(BTC, index))
    drive(PlaceOrder(2, BTC, SELL, 1_000, index))
    drive(PlaceOrder(10, BTC, BUY, 1_000, index, tif="IOC"))
    assert drive.ex.accounts[10].positions[BTC].size == 1_000
    marks, liquidations = [], 0
    for _ in range(120):
        mark = drive.ex.markets[BTC].mark
        low = -(-mark * 95 // 100)  # the lowest sell the price band allows
        for account in (11, 12):
            drive(CancelAll(account, BTC))
        drive(PlaceOrder(11, BTC, BUY, 20, low))  # the manipulator's quotes: 5% under the mark
        drive(PlaceOrder(12, BTC, SELL, 10, low + 1))
        drive(PlaceOrder(12, BTC, SELL, 10, low))  # and a wash trade there: the last price
        events = drive(IndexPrice(BTC, index))
        marks += [e.mark_ticks for e in events if type(e) is MarkPriceUpdated]
        liquidations += sum(type(e) is LiquidationTriggered for e in events)
    assert drive.ex.markets[BTC].last < 575_000  # the wash trades did print far below the index
    assert min(marks) == 597_000 and liquidations == 0
    assert drive.ex.accounts[10].positions[BTC].size == 1_000
    drive.ex.check_invariants()
