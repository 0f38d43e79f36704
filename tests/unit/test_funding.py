"""Funding: premium index from impact bid/ask, weighted average over the interval, interest term,
clamp and cap, settlement at the interval timestamps driven by envelope time (idle gaps included),
payments from the cross or isolated wallet, rounding residue to the insurance fund.

Instrument: tick 1, lot 1 (k = 1 USDT per tick-lot), mark = index, 2021 BTC brackets (125x: impact
notional 200 x 125 = 25,000 USDT, i.e. one lot at 100,000). Premium samples every 5 s."""

from __future__ import annotations

import pytest
from margin_fixtures import BUY, SELL, USDT, Driver, of, rejected, whole_unit_instrument

from exchange.core.commands import CancelAll, Heartbeat, PlaceOrder
from exchange.core.events import FundingPaid, FundingRateSettled, InsuranceFundChanged
from exchange.core.instruments import NS_PER_HOUR, NS_PER_SECOND

S = NS_PER_SECOND
INDEX = 100_000


def driver(hours: str = "1", **kw) -> Driver:
    d = Driver([whole_unit_instrument("TST", funding_interval_hours=hours, **kw)], insurance_usdt=0)
    for aid in (1, 2, 3):
        d.account(aid, 10_000_000)
    d.index("TST", INDEX)  # at t = 1 s: first funding at the next whole interval
    return d


def test_premium_index_from_impact_bid_and_ask():
    d = driver()
    ex = d.ex
    assert ex.instruments["TST"].impact_notional_cash == 25_000 * USDT
    assert ex.premium_index_e8("TST") == 0  # empty book
    d.limit(3, "TST", BUY, 1, 100_030)  # impact bid 100,030: +0.03%
    assert ex.premium_index_e8("TST") == 30_000
    d.limit(2, "TST", SELL, 1, 100_200)  # an ask above the index adds nothing
    assert ex.premium_index_e8("TST") == 30_000
    d.do(CancelAll(2, "TST"))
    d.do(CancelAll(3, "TST"))
    d.limit(2, "TST", SELL, 1, 99_000)  # impact ask 99,000: -1%
    assert ex.premium_index_e8("TST") == -1_000_000
    d.limit(3, "TST", BUY, 1, 98_000)  # a bid below the index adds nothing
    assert ex.premium_index_e8("TST") == -1_000_000


def test_impact_price_averages_over_the_impact_notional():
    """Index 1,000: 25,000 USDT of impact notional takes 10 @ 1,010 then 15 @ 1,005 (25,175 for 25
    lots): impact bid 1,007, +0.7%; asks 26 @ 990 (25,740 for 26 lots): impact ask 990, -1%."""
    d = Driver([whole_unit_instrument("TST")])
    for aid in (1, 2):
        d.account(aid, 1_000_000)
    d.index("TST", 1_000)
    d.limit(1, "TST", BUY, 10, 1_010)
    d.limit(1, "TST", BUY, 20, 1_005)
    assert d.ex.premium_index_e8("TST") == 700_000
    d.do(CancelAll(1, "TST"))
    d.limit(2, "TST", SELL, 30, 990)
    assert d.ex.premium_index_e8("TST") == -1_000_000


def test_weighted_average_interest_clamp_and_exact_payments():
    """1 h interval, samples at 5 s .. 3,600 s (720). +0.03% for samples 1..360, -1% for 361..720;
    weights 1, 2, 3, ...: P = floor((30,000 x 64,980 - 1,000,000 x 194,580) / 259,560) = -742,143 e8.
    F8 = P + clamp(I - P = 752,143, +-50,000) = -692,143; per 1 h: floor(-692,143 / 8) = -86,518 e8.
    Shorts pay longs 2 x 100,000 x 0.086518% = 173.036 USDT."""
    d = driver()
    d.trade(1, 2, "TST", 2, INDEX)
    d.do(CancelAll(1, "TST"))
    d.limit(3, "TST", BUY, 1, 100_030)
    d.do(CancelAll(3, "TST"), ts=1_800 * S)  # samples 5 .. 1,800 s saw +0.03%
    assert not rejected(d.limit(3, "TST", SELL, 1, 99_000))
    m = d.ex.markets["TST"]
    assert (m.premium_count, m.premium_weights, m.premium_weighted) == (360, 64_980, 30_000 * 64_980)
    assert of(d.do(Heartbeat(), ts=3_600 * S - 1), "FundingRateSettled") == []
    events = d.do(Heartbeat(), ts=3_600 * S)
    assert of(events, "FundingRateSettled") == [FundingRateSettled("TST", -86_518, INDEX, 3_600 * S)]
    assert sorted(of(events, "FundingPaid")) == [FundingPaid(1, "TST", 173_036_000, -86_518),
                                                 FundingPaid(2, "TST", -173_036_000, -86_518)]
    assert of(events, "InsuranceFundChanged") == []
    assert m.funding_rate == -86_518 and m.premium_count == 0
    assert d.ex.accounts[1].cross_wallet == 10_000_000 * USDT + 173_036_000


@pytest.mark.parametrize(("bid", "ask", "hours", "rate"), [
    (None, None, "8", 10_000),  # no premium: the interest rate, 0.01% per 8 h
    (100_030, None, "8", 10_000),  # |I - P| within the 0.05% clamp: F = I
    (100_700, None, "8", 300_000),  # 0.7% - 0.05% = 0.65%, capped at 0.3%
    (None, 99_800, "8", -150_000),  # -0.2% + 0.05%
    (None, None, "4", 5_000),  # a 4 h interval pays half of the 8 h rate
])
def test_rate_formula(bid, ask, hours, rate):
    d = driver(hours)
    if bid:
        d.limit(3, "TST", BUY, 1, bid)
    if ask:
        d.limit(3, "TST", SELL, 1, ask)
    interval = int(hours) * NS_PER_HOUR
    (settled,) = of(d.do(Heartbeat(), ts=interval), "FundingRateSettled")
    assert (settled.rate_e8, settled.ts_ns) == (rate, interval)


def test_settlement_over_an_idle_gap_and_only_holders_at_the_timestamp():
    """No book: each 1 h settles at 10,000 / 8 = 1,250 e8 (longs pay). One heartbeat 3.5 h later
    settles 1 h, 2 h and 3 h in order. A position opened at exactly 4 h does not pay the 4 h funding."""
    d = driver()
    d.trade(1, 2, "TST", 2, INDEX)
    events = d.do(Heartbeat(), ts=3 * NS_PER_HOUR + 1_800 * S)
    assert [(e.ts_ns, e.rate_e8) for e in of(events, "FundingRateSettled")] == [
        (NS_PER_HOUR, 1_250), (2 * NS_PER_HOUR, 1_250), (3 * NS_PER_HOUR, 1_250)]
    # 2 x 100,000 x 0.0125% = 2.5 USDT per settlement
    assert sorted((e.account, e.amount_cash) for e in of(events, "FundingPaid")) == [
        (1, -2_500_000)] * 3 + [(2, 2_500_000)] * 3
    assert d.ex.accounts[1].cross_wallet == 10_000_000 * USDT - 7_500_000
    d.trade(2, 1, "TST", 2, INDEX)  # closed before 4 h: no funding at 4 h
    d.limit(3, "TST", SELL, 1, INDEX)
    events = d.do(PlaceOrder(1, "TST", BUY, 1, INDEX, tif="IOC"), ts=4 * NS_PER_HOUR)
    names = [type(e).__name__ for e in events]
    assert names.index("FundingRateSettled") < names.index("Trade")  # settled before the fill
    assert of(events, "FundingPaid") == []
    assert d.ex.markets["TST"].next_funding_ts == 5 * NS_PER_HOUR
    events = d.do(Heartbeat(), ts=5 * NS_PER_HOUR)  # now both hold 1 lot: 1.25 USDT
    assert sorted((e.account, e.amount_cash) for e in of(events, "FundingPaid")) == [(1, -1_250_000), (3, 1_250_000)]


def test_payments_from_cross_and_isolated_wallets_with_rounding_residue_to_the_fund():
    """Rate 1,250 e8 per tick-lot = 12.5 cash units at mark 1,001: the long of 3 pays
    ceil(3 x 1,001 x 12.5 = 37,537.5) = 37,538; the shorts of 1 and 2 receive floor(12,512.5) and
    25,025. The unit left over goes to the insurance fund."""
    d = Driver([whole_unit_instrument("TST", funding_interval_hours="1")], insurance_usdt=0)
    d.account(1, 10_000)
    d.account(2, 10_000)
    d.account(3, 10_000, TST=("ISOLATED", 10))
    d.index("TST", 1_001)
    d.trade(1, 2, "TST", 1, 1_001)
    d.trade(1, 3, "TST", 2, 1_001)
    iso_before = d.ex.accounts[3].positions["TST"].isolated_wallet
    cross_before = d.ex.accounts[3].cross_wallet
    events = d.do(Heartbeat(), ts=NS_PER_HOUR)
    assert sorted(of(events, "FundingPaid")) == [FundingPaid(1, "TST", -37_538, 1_250),
                                                 FundingPaid(2, "TST", 12_512, 1_250),
                                                 FundingPaid(3, "TST", 25_025, 1_250)]
    assert of(events, "InsuranceFundChanged") == [InsuranceFundChanged("TST", 1, 1, "FUNDING_ROUNDING", -1)]
    pos = d.ex.accounts[3].positions["TST"]
    assert pos.isolated_wallet == iso_before + 25_025 and d.ex.accounts[3].cross_wallet == cross_before
    assert d.ex.accounts[1].cross_wallet == 10_000 * USDT - 37_538


def test_funding_that_breaches_a_position_liquidates_it_at_the_interval():
    """Isolated long 10 @ 1,000 at 100x: wallet 100, MM 40. A bid of 30 @ 1,007 makes the premium
    +0.7%: F = 0.65%, capped at 0.3% per 8 h, i.e. 30 USDT. One heartbeat 32 h later: the 8 h and 16 h
    payments leave 40 <= MM 40, so the position is liquidated at 16 h (into the bid: 110 better than
    bankruptcy 996, all of it liquidation fee) and pays nothing at 24 h and 32 h."""
    d = Driver([whole_unit_instrument("TST", funding_interval_hours="8")])
    d.account(1, 1_000, TST=("ISOLATED", 100))
    d.account(8, 1_000_000)
    d.account(9, 1_000_000)
    d.index("TST", 1_000)
    d.trade(1, 9, "TST", 10, 1_000)
    d.limit(8, "TST", BUY, 30, 1_007)
    assert d.ex.premium_index_e8("TST") == 700_000
    events = d.do(Heartbeat(), ts=32 * NS_PER_HOUR)
    names = [(type(e).__name__, getattr(e, "ts_ns", None)) for e in events
             if type(e).__name__ in ("FundingRateSettled", "LiquidationTriggered")]
    assert names == [("FundingRateSettled", 8 * NS_PER_HOUR), ("FundingRateSettled", 16 * NS_PER_HOUR),
                     ("LiquidationTriggered", None), ("FundingRateSettled", 24 * NS_PER_HOUR),
                     ("FundingRateSettled", 32 * NS_PER_HOUR)]
    assert [e.amount_cash for e in of(events, "FundingPaid") if e.account == 1] == [-30 * USDT, -30 * USDT]
    assert of(events, "LiquidationTriggered")[0][:5] == (1, "TST", "ISOLATED", 40 * USDT, 40 * USDT)
    assert [(t.price_ticks, t.qty_lots) for t in of(events, "Trade")] == [(1_007, 10)]
    assert [(e.reason, e.delta_cash) for e in of(events, "InsuranceFundChanged")] == [("LIQUIDATION_FEE", 110 * USDT)]
    pos = d.ex.accounts[1].positions["TST"]
    assert (pos.size, pos.isolated_wallet, d.ex.accounts[1].cross_wallet) == (0, 0, 900 * USDT)
