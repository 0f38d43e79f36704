"""The liquidation engine in scripted scenarios with hand-checked numbers.

Instruments: tick 1 USDT, lot 1 contract, mark = index, no trading fees, liquidation fee 1.25%,
2021 BTC brackets (0.4% MMR up to 50,000 notional). A long of 10 @ 1,000 at 10x isolated has an
isolated wallet of 1,000: LP = (1,000 - 10,000) / (10 x 0.004 - 10) = 903.61 (breached at mark <= 903),
bankruptcy price 900. The same long on a cross wallet of 2,000: LP 803.21, bankruptcy 800.
"""

from __future__ import annotations

import pytest
from margin_fixtures import BUY, SELL, USDT, Driver, of, rejected, whole_unit_instrument

from exchange.core.commands import PlaceOrder, SetLeverage
from exchange.core.views import position_view
from exchange.core.events import (
    LiquidationOrderPlaced,
    LiquidationTriggered,
    PublicLiquidation,
    TakenOverByFund,
)

FUND = 1_000_000


def scenario(insurance: int = FUND, **inst) -> Driver:
    """Account 1: TST isolated 10x, 2,000 deposited; account 2: TST cross 10x, 2,000 deposited;
    both long 10 @ 1,000 bought from market maker 9 (short 20). Account 8: an idle market maker."""
    d = Driver([whole_unit_instrument("TST", **inst), whole_unit_instrument("ALT")], insurance_usdt=insurance)
    d.account(1, 2_000, TST=("ISOLATED", 10))
    d.account(2, 2_000, TST=("CROSS", 10))
    d.account(9, 10_000_000)
    d.account(8, 10_000_000)
    d.index("TST", 1_000)
    d.index("ALT", 100)
    d.trade(1, 9, "TST", 10, 1_000)
    d.trade(2, 9, "TST", 10, 1_000)
    return d


def liquidated(events: list) -> list[tuple[int, str]]:
    return [(e.account, e.symbol) for e in of(events, "LiquidationTriggered")]


def fund_moves(events: list) -> list[tuple[str, int]]:
    return [(e.reason, e.delta_cash) for e in of(events, "InsuranceFundChanged")]


def test_breach_index_holds_exact_thresholds():
    d = scenario()
    entries = d.ex.breach_entries()
    assert entries[(1, "TST", 1)] == (True, 903)
    assert entries[(2, "TST", 0)] == (True, 803)
    assert d.ex.accounts[1].positions["TST"].isolated_wallet == 1_000 * USDT


def test_trigger_exactly_at_the_mark_tick_and_no_exact_check_before():
    d = scenario()
    ex = d.ex
    assert ex.watch.entries()[(1, "TST", 1)] == (True, 903)  # the breach index: a long, breached at <= 903
    for mark in (990, 950, 904):
        assert liquidated(d.index("TST", mark)) == []
    assert ex.liquidation.examined == 0  # nobody crossed a threshold: no account was examined
    pos = ex.accounts[1].positions["TST"]
    # at 904: margin balance 1,000 - 960 = 40 > MM 10 x 904 x 0.4% = 36.16
    assert ex.isolated_breached(pos) == (False, 40 * USDT, 36_160_000 * 10**6)
    events = d.index("TST", 903)
    assert of(events, "LiquidationTriggered") == [LiquidationTriggered(1, "TST", "ISOLATED", 30 * USDT, 36_120_000)]


def test_isolated_liquidation_leaves_the_rest_of_the_account_untouched_and_pays_surplus():
    d = scenario()
    ex = d.ex
    d.trade(1, 9, "ALT", 1, 100)  # a cross ALT position of the same account
    acct = ex.accounts[1]
    cross_before = acct.cross_wallet
    d.limit(8, "TST", BUY, 10, 950)  # a bid above the coming mark
    events = d.index("TST", 903)
    assert liquidated(events) == [(1, "TST")]
    order = of(events, "LiquidationOrderPlaced")[0]
    # IOC at the bankruptcy price, allowed past it by the fund down to the market band (903 x 0.95 -> 858)
    assert order == LiquidationOrderPlaced(1, "TST", order.order_id, SELL, 10, 858, 900, False)
    trades = of(events, "Trade")
    assert [(t.price_ticks, t.qty_lots, t.maker_account, t.liquidation) for t in trades] == [(950, 10, 8, True)]
    # settled at the bankruptcy price: the isolated wallet ends at exactly 0; the fill is 500 better:
    # liquidation fee 1.25% of 9,500 = 118.75, surplus 381.25
    assert fund_moves(events) == [("LIQUIDATION_FEE", 118_750_000), ("LIQUIDATION_SURPLUS", 381_250_000)]
    assert ex.insurance_fund == (FUND + 500) * USDT
    pos = acct.positions["TST"]
    assert (pos.size, pos.cost, pos.isolated_wallet, pos.realized_pnl) == (0, 0, 0, -1_000 * USDT)
    assert acct.cross_wallet == cross_before == 1_000 * USDT
    assert (acct.positions["ALT"].size, acct.positions["ALT"].cost) == (1, 100 * USDT)
    assert of(events, "PublicLiquidation") == [PublicLiquidation("TST", SELL, 10, 900, 10, 950, "ISOLATED")]
    assert ex.markets["TST"].last == 950  # liquidation fills are trades like any other
    assert (2, "TST", 0) in ex.breach_entries() and (1, "TST", 1) not in ex.breach_entries()


def test_cross_equity_delays_liquidation_compared_with_isolated():
    """Same long 10 @ 1,000 at 10x: the isolated one (wallet 1,000) dies at 903; the cross one, with
    2,000 of wallet and a profitable ALT short beside it, lives until 783 -- and then loses everything."""
    d = scenario()
    ex = d.ex
    assert not rejected(d.do(SetLeverage(2, "ALT", 10)))
    d.trade(9, 2, "ALT", 10, 100)  # account 2 short 10 ALT @ 100
    d.index("ALT", 80)  # ALT UPNL +200, MM 10 x 80 x 0.4% = 3.2
    assert liquidated(d.index("TST", 903)) == [(1, "TST")]
    assert ex.accounts[1].cross_wallet == 1_000 * USDT  # the isolated account kept half its money
    # cross LP = (2,000 + 200 - 3.2 - 10,000) / (10 x 0.004 - 10) = 783.45
    assert liquidated(d.index("TST", 784)) == []
    events = d.index("TST", 783)
    # margin balance 2,000 - 2,170 + 200 = 30 <= MM 31.32 + 3.2 = 34.52
    assert of(events, "LiquidationTriggered") == [LiquidationTriggered(2, "", "CROSS", 30 * USDT, 34_520_000)]
    # the losing position first, at the bankruptcy price of the account: (10,000 - 2,200) / 10 = 780;
    # then ALT, still breached (margin balance 0), bankrupt at 80. No liquidity: the fund, large enough
    # to carry both, takes them over at their bankruptcy prices (no one is deleveraged).
    pubs = of(events, "PublicLiquidation")
    assert pubs == [PublicLiquidation("TST", SELL, 10, 780, 0, 0, "CROSS"),
                    PublicLiquidation("ALT", BUY, 10, 80, 0, 0, "CROSS")]
    assert of(events, "TakenOverByFund") == [TakenOverByFund(2, "TST", 10, 780), TakenOverByFund(2, "ALT", 10, 80)]
    assert of(events, "Deleveraged") == []
    acct = ex.accounts[2]
    assert acct.cross_wallet == 0 and not any(p.size for p in acct.positions.values())
    assert ex.insurance_fund == FUND * USDT
    fund = ex.fund.positions  # with account 1's isolated long, taken over at 900 at the first tick
    assert (fund["TST"].size, fund["TST"].cost) == (20, (9_000 + 7_800) * USDT)
    assert (fund["ALT"].size, fund["ALT"].cost) == (-10, -800 * USDT)


def test_the_fund_unwinds_what_it_took_over_into_the_book_within_the_band():
    """The book is empty when account 1 (isolated long 10, bankrupt at 900) is liquidated: the fund takes
    the long at 900. At the next ticks bids are back: it sells within the 5% band and books the PnL."""
    d = scenario(fund_unwind_share="1")
    ex = d.ex
    events = d.index("TST", 903)
    assert of(events, "TakenOverByFund") == [TakenOverByFund(1, "TST", 10, 900)]
    assert ex.accounts[1].positions["TST"].isolated_wallet == 0 and ex.fund.positions["TST"].size == 10
    d.limit(8, "TST", BUY, 6, 905)
    d.limit(8, "TST", BUY, 10, 850)  # below 910 x 0.95 = 864.5: out of the band
    events = d.index("TST", 910)
    assert [(t.price_ticks, t.qty_lots, t.taker_account, t.maker_account) for t in of(events, "Trade")] == [
        (905, 6, -1, 8)]
    assert fund_moves(events) == [("FUND_POSITION_PNL", 30 * USDT)]  # 6 x (905 - 900)
    assert ex.fund.positions["TST"].size == 4 and ex.insurance_fund == (FUND + 30) * USDT
    d.limit(8, "TST", BUY, 4, 870)
    d.index("TST", 910)
    assert ex.fund.positions["TST"].size == 0 and ex.insurance_fund == (FUND + 30 - 120) * USDT


def test_a_fund_too_small_to_carry_the_position_deleverages_instead():
    """The fund must cover a band-sized move (5%) of what it would hold: 10 x 903 x 5% = 451.5 > 400."""
    d = scenario(insurance=400)
    events = d.index("TST", 903)
    assert of(events, "TakenOverByFund") == []
    assert [(e.account, e.qty_lots, e.price_ticks, e.counterparty) for e in of(events, "Deleveraged")] == [
        (1, 10, 900, 9), (9, 10, 900, 1)]


def test_deficit_when_the_mark_gaps_past_bankruptcy_is_paid_by_the_fund():
    d = scenario()
    d.limit(8, "TST", BUY, 10, 880)
    events = d.index("TST", 850)  # straight through 903 and the bankruptcy price 900
    assert liquidated(events) == [(1, "TST")]
    assert of(events, "LiquidationOrderPlaced")[0].price_ticks == 808  # ceil(850 x 0.95)
    assert [(t.price_ticks, t.qty_lots) for t in of(events, "Trade")] == [(880, 10)]
    assert fund_moves(events) == [("LIQUIDATION_DEFICIT", -200 * USDT)]
    assert d.ex.insurance_fund == (FUND - 200) * USDT
    assert d.ex.accounts[1].positions["TST"].isolated_wallet == 0
    assert d.ex.accounts[1].cross_wallet == 1_000 * USDT
    assert of(events, "PublicLiquidation") == [PublicLiquidation("TST", SELL, 10, 900, 10, 880, "ISOLATED")]


def test_limit_goes_past_bankruptcy_only_as_far_as_the_fund_pays_then_adl():
    d = scenario(insurance=100)  # covers 100 / 10 lots = 10 ticks past bankruptcy
    d.limit(8, "TST", BUY, 10, 880)
    events = d.index("TST", 850)
    assert of(events, "LiquidationOrderPlaced")[0].price_ticks == 890
    assert of(events, "Trade") == []
    assert [(e.account, e.qty_lots, e.price_ticks, e.counterparty) for e in of(events, "Deleveraged")] == [
        (1, 10, 900, 9), (9, 10, 900, 1)]
    assert d.ex.insurance_fund == 100 * USDT
    assert d.ex.books["TST"].level_qty(BUY, 880) == 10  # the bid was not touched


def test_partial_liquidation_by_bracket_for_a_large_position():
    """Long 100 @ 1,000 (notional 100,000, bracket 2: MMR 0.5%, cum 50) on 2,000 cross at 50x.
    LP = (2,000 + 50 - 100,000) / (100 x 0.005 - 100) = 984.42. At 984 the position is cut to the
    bracket floor: ceil((98,400 - 50,000) / 984) = 50 lots, sold at fill prices with a 0.1% fee."""
    d = Driver([whole_unit_instrument("BIG", liquidation_fee="0.001")])
    d.account(3, 2_000, BIG=("CROSS", 50))
    d.account(9, 10_000_000)
    d.account(8, 10_000_000)
    d.index("BIG", 1_000)
    d.trade(3, 9, "BIG", 100, 1_000)
    assert d.ex.breach_entries()[(3, "BIG", 0)] == (True, 984)
    d.limit(8, "BIG", BUY, 100, 984)
    assert liquidated(d.index("BIG", 985)) == []
    events = d.index("BIG", 984)
    # margin balance 2,000 - 1,600 = 400 <= MM 98,400 x 0.5% - 50 = 442
    assert of(events, "LiquidationTriggered") == [LiquidationTriggered(3, "", "CROSS", 400 * USDT, 442 * USDT)]
    placed = of(events, "LiquidationOrderPlaced")
    assert [(o.qty_lots, o.price_ticks, o.bankruptcy_price_ticks, o.partial) for o in placed] == [(50, 980, 980, True)]
    assert [(t.price_ticks, t.qty_lots) for t in of(events, "Trade")] == [(984, 50)]
    assert fund_moves(events) == [("PARTIAL_LIQUIDATION_FEE", 49_200_000)]  # 0.1% of 49,200
    acct = d.ex.accounts[3]
    pos = acct.positions["BIG"]
    assert (pos.size, pos.cost) == (50, 50_000 * USDT)
    assert acct.cross_wallet == 2_000 * USDT - 800 * USDT - 49_200_000  # realized -800, fee 49.2
    assert not d.ex.cross_breached(acct)[0]  # 350.8 > MM 196.8: the rest stays open
    assert of(events, "PublicLiquidation") == [PublicLiquidation("BIG", SELL, 50, 980, 50, 984, "CROSS")]


def test_partial_liquidation_of_an_isolated_position_keeps_the_bankruptcy_price_of_the_rest():
    """The same long 100 @ 1,000 at 50x, isolated: box 2,000, bankruptcy price 1,000 - 2,000/100 = 980,
    LP 984.42. At 984, 50 lots are sold at 984. The closed lots' half of the box (1,000), less their loss
    (800), less the 0.1% fee (49.2), goes back to the cross wallet: 150.8. The rest keeps its 1,000 and
    so its bankruptcy price, 1,000 - 1,000/50 = 980. (The fee used to come out of the rest's box after
    the release: 950.8 left, the bankruptcy price moved to 980.98.) The events account for every unit."""
    d = Driver([whole_unit_instrument("BIG", liquidation_fee="0.001")])
    d.account(3, 2_000, BIG=("ISOLATED", 50))
    d.account(9, 10_000_000)
    d.account(8, 10_000_000)
    d.index("BIG", 1_000)
    d.trade(3, 9, "BIG", 100, 1_000)
    ex = d.ex
    acct = ex.accounts[3]
    pos = acct.positions["BIG"]
    assert (pos.isolated_wallet, acct.cross_wallet) == (2_000 * USDT, 0)
    assert position_view(ex, acct, pos)["bankruptcy_price_ticks"] == 980
    d.limit(8, "BIG", BUY, 100, 984)
    events = d.index("BIG", 984)
    assert [(o.qty_lots, o.partial) for o in of(events, "LiquidationOrderPlaced")] == [(50, True)]
    assert [(t.price_ticks, t.qty_lots) for t in of(events, "Trade")] == [(984, 50)]
    assert fund_moves(events) == [("PARTIAL_LIQUIDATION_FEE", 49_200_000)]
    assert [(e.delta_cash, e.reason) for e in of(events, "IsolatedMarginChanged")] == [(-150_800_000, "RELEASE")]
    assert (pos.size, pos.isolated_wallet, acct.cross_wallet) == (50, 1_000 * USDT, 150_800_000)
    assert position_view(ex, acct, pos)["bankruptcy_price_ticks"] == 980
    assert not ex.isolated_breached(pos)[0]  # 1,000 - 800 = 200 > MM 49,200 x 0.4% = 196.8
    assert ex.insurance_fund == FUND * USDT + 49_200_000  # and d.do checked the events against every wallet


def test_liquidation_fills_move_the_last_price_and_cascade():
    """Mark = last price. Account 4 (long 10 @ 1,000, LP 903) is liquidated into a bid at 855; that
    fill makes the last price, hence the next mark, 855, which breaches account 5 (long 10 @ 950, LP 858)."""
    d = Driver([whole_unit_instrument("CAS", mark_method="last")])
    d.account(4, 1_000, CAS=("ISOLATED", 10))
    d.account(5, 1_000, CAS=("ISOLATED", 10))
    d.account(9, 10_000_000)
    d.account(8, 10_000_000)
    d.index("CAS", 1_000)
    d.trade(4, 9, "CAS", 10, 1_000)
    d.index("CAS", 950)
    d.trade(5, 9, "CAS", 10, 950)
    assert d.ex.breach_entries()[(5, "CAS", 1)] == (True, 858)
    d.index("CAS", 950)  # mark = last = 950
    d.trade(8, 9, "CAS", 1, 930)
    d.index("CAS", 930)
    d.limit(8, "CAS", BUY, 10, 855)
    d.trade(8, 9, "CAS", 1, 900)
    events = d.index("CAS", 900)
    assert liquidated(events) == [(4, "CAS")]
    assert [(t.price_ticks, t.qty_lots, t.liquidation) for t in of(events, "Trade")] == [(855, 10, True)]
    assert fund_moves(events) == [("LIQUIDATION_DEFICIT", -450 * USDT)]
    assert d.ex.markets["CAS"].last == 855
    events = d.index("CAS", 900)  # the index did not move; the mark follows the liquidation's fill
    assert of(events, "MarkPriceUpdated")[0].mark_ticks == 855
    assert liquidated(events) == [(5, "CAS")]


def adl_setup(insurance: int = 0) -> Driver:
    """Shorts 11, 12, 13 (10 each @ 1,000) with wallets 500, 5,000, 100,000; long 1 (25, isolated 10x,
    LP 903.61, bankruptcy 900), long 14 (5). No bids: account 1's liquidation is deleveraged entirely."""
    d = Driver([whole_unit_instrument("TST"), whole_unit_instrument("ALT")], insurance_usdt=insurance)
    d.account(1, 5_000, TST=("ISOLATED", 10))
    d.account(14, 100_000)
    for aid, usdt in ((11, 500), (12, 5_000), (13, 100_000)):
        d.account(aid, usdt, TST=("CROSS", 20))
    d.index("TST", 1_000)
    d.index("ALT", 100)
    for short in (11, 12, 13):
        d.trade(1 if short != 13 else 14, short, "TST", 10, 1_000)
    d.trade(1, 14, "TST", 5, 1_000)
    return d


def test_adl_ranked_by_leverage_pnl_cancels_counterparty_orders():
    d = adl_setup()
    ex = d.ex
    assert ex.accounts[1].positions["TST"].size == 25 and ex.accounts[14].positions["TST"].size == 5
    d.limit(12, "TST", SELL, 1, 1_040)  # resting orders of the shorts
    d.limit(13, "TST", SELL, 1, 1_040)
    d.limit(12, "ALT", BUY, 1, 99)
    # at the bankruptcy price 900 (1,000 - 2,500/25) every short earns 1,000: PnL% x margin ratio
    # ranks the smallest wallet first: 11 (500), then 12 (5,000), then 13 (100,000)
    assert [p.account for p in ex.adl_ranking("TST", -1, 900)] == [11, 12, 13]
    events = d.index("TST", 903)
    assert liquidated(events) == [(1, "TST")]
    dl = [(e.account, e.qty_lots, e.price_ticks, e.counterparty) for e in of(events, "Deleveraged")]
    assert dl == [(1, 10, 900, 11), (11, 10, 900, 1), (1, 10, 900, 12), (12, 10, 900, 1),
                  (1, 5, 900, 13), (13, 5, 900, 1)]
    cancelled = [(e.account, e.symbol, e.reason) for e in of(events, "OrderCancelled")]
    assert (12, "TST", "ADL") in cancelled and (13, "TST", "ADL") in cancelled
    assert (12, "ALT", "ADL") not in cancelled and len(ex.accounts[12].orders) == 1  # other symbols keep theirs
    assert ex.accounts[11].cross_wallet == 1_500 * USDT  # +1,000 realized at 900, no fee
    assert ex.accounts[13].positions["TST"].size == -5
    assert ex.accounts[1].positions["TST"].isolated_wallet == 0
    assert ex.insurance_fund == 0


def test_adl_quantile_0_to_4():
    d = Driver([whole_unit_instrument("TST")])
    d.account(20, 10_000_000)
    wallets = {21: 400, 22: 1_000, 23: 3_000, 24: 10_000, 25: 100_000}
    for aid, usdt in wallets.items():
        d.account(aid, usdt, TST=("CROSS", 20))
    d.index("TST", 1_000)
    for aid in wallets:
        d.trade(20, aid, "TST", 5, 1_000)
    d.index("TST", 980)  # every short earns 100: the smaller the wallet, the higher the rank
    assert [d.ex.adl_quantile(aid, "TST") for aid in wallets] == [4, 3, 2, 1, 0]
    assert d.ex.adl_quantile(20, "TST") == 0  # alone on its side, with a loss


@pytest.mark.parametrize(("fund", "limit", "fills"), [(0, 800, []), (30, 797, [(799, 10)])])
def test_a_wallet_never_stays_negative(fund, limit, fills):
    """Both longs gapped far through bankruptcy (mark 720), one bid at 799. Account 1 (isolated, worse
    ratio tie -> lower id first, bankrupt at 900) cannot reach it. Account 2 (cross, bankrupt at 800)
    reaches it only if the fund pays the 1 x 10 lots deficit: limit = 800 - fund / 10 lots. What the
    book does not take is deleveraged at the bankruptcy price. Every wallet ends at exactly 0."""
    d = scenario(insurance=fund)
    d.limit(8, "TST", BUY, 10, 799)
    events = d.index("TST", 720)
    assert liquidated(events) == [(1, "TST"), (2, "")]
    placed = of(events, "LiquidationOrderPlaced")
    assert [(o.account, o.price_ticks, o.bankruptcy_price_ticks) for o in placed] == [
        (1, max(900 - fund // 10, 684), 900), (2, limit, 800)]
    assert [(t.price_ticks, t.qty_lots) for t in of(events, "Trade")] == fills
    assert d.ex.insurance_fund == (fund - 10 * len(fills)) * USDT
    assert sum(e.qty_lots for e in of(events, "Deleveraged") if e.account in (1, 2)) == 20 - 10 * len(fills)
    for aid in (1, 2):
        acct = d.ex.accounts[aid]
        assert acct.cross_wallet >= 0 and acct.positions["TST"].size == 0
        assert acct.positions["TST"].isolated_wallet == 0
    assert d.ex.accounts[2].cross_wallet == 0 and d.ex.accounts[1].cross_wallet == 1_000 * USDT


def test_a_closing_order_cannot_lose_more_than_the_margin_behind_it():
    """Isolated long 10 @ 1,000 at 50x: wallet 200, bankruptcy price 980. A limit sell below 980 is
    rejected; a market sell sweeps the bids only down to 980; so no user trade creates bad debt."""
    d = Driver([whole_unit_instrument("TST")])
    d.account(1, 1_000, TST=("ISOLATED", 50))
    d.account(9, 100_000)
    d.index("TST", 1_000)
    d.trade(1, 9, "TST", 10, 1_000)
    assert [e.code for e in rejected(d.limit(1, "TST", SELL, 10, 979))] == ["INSUFFICIENT_MARGIN"]
    d.limit(9, "TST", BUY, 4, 990)
    d.limit(9, "TST", BUY, 10, 970)
    events = d.do(PlaceOrder(1, "TST", SELL, 10, 0, "MARKET"))
    assert [(t.price_ticks, t.qty_lots) for t in of(events, "Trade")] == [(990, 4)]
    assert [(e.remaining_lots, e.reason) for e in of(events, "OrderCancelled")] == [(6, "MARKET_BAND")]
    assert not rejected(d.limit(1, "TST", SELL, 6, 980))  # exactly at the bankruptcy price: allowed
    assert d.ex.insurance_fund == FUND * USDT


def test_short_triggers_exactly_at_its_tick_and_buys_back_at_bankruptcy():
    """Isolated short 10 @ 1,000 at 10x (wallet 1,000): LP = (1,000 + 10,000) / (10 + 0.04) = 1,095.62,
    so breached at mark >= 1,096 (margin balance 40 <= MM 43.84), not at 1,095 (50 > 43.8). Bankruptcy
    1,100; asks at 1,098: the 20 better than bankruptcy go to the fund as (capped) liquidation fee."""
    d = Driver([whole_unit_instrument("TST")])
    d.account(1, 2_000, TST=("ISOLATED", 10))
    d.account(9, 10_000_000)
    d.index("TST", 1_000)
    d.trade(9, 1, "TST", 10, 1_000)
    assert d.ex.breach_entries()[(1, "TST", 1)] == (False, 1_096)
    d.index("TST", 1_050)
    d.limit(9, "TST", SELL, 10, 1_098)
    assert liquidated(d.index("TST", 1_095)) == []
    events = d.index("TST", 1_096)
    assert of(events, "LiquidationTriggered") == [LiquidationTriggered(1, "TST", "ISOLATED", 40 * USDT, 43_840_000)]
    placed = of(events, "LiquidationOrderPlaced")[0]
    assert (placed.side, placed.price_ticks, placed.bankruptcy_price_ticks) == (BUY, 1_150, 1_100)  # 1,096 x 1.05
    assert [(t.price_ticks, t.qty_lots) for t in of(events, "Trade")] == [(1_098, 10)]
    assert fund_moves(events) == [("LIQUIDATION_FEE", 20 * USDT)]
    assert of(events, "PublicLiquidation") == [PublicLiquidation("TST", BUY, 10, 1_100, 10, 1_098, "ISOLATED")]
    assert d.ex.accounts[1].cross_wallet == 1_000 * USDT and d.ex.accounts[1].positions["TST"].isolated_wallet == 0


def test_a_crashed_long_is_liquidated_before_the_winning_short_beside_it():
    """Cross wallet 3,000, long 10 AAA @ 1,000 and short 2 BBB @ 1,000. AAA gaps to 100: margin balance
    -6,000. The short, backed by -6,000 + 2,000 of other cash, has no bankruptcy price; the losing long
    goes first, bankrupt at 1,000 - 3,000 / 10 = 700 (no bids: deleveraged), then the short at its mark."""
    d = Driver([whole_unit_instrument("AAA"), whole_unit_instrument("BBB")], insurance_usdt=0)
    d.account(1, 3_000)
    d.account(9, 1_000_000)
    d.index("AAA", 1_000)
    d.index("BBB", 1_000)
    d.trade(1, 9, "AAA", 10, 1_000)
    d.trade(9, 1, "BBB", 2, 1_000)
    events = d.index("AAA", 100)
    assert of(events, "LiquidationTriggered") == [LiquidationTriggered(1, "", "CROSS", -6_000 * USDT, 12 * USDT)]
    assert of(events, "PublicLiquidation") == [PublicLiquidation("AAA", SELL, 10, 700, 0, 0, "CROSS"),
                                               PublicLiquidation("BBB", BUY, 2, 1_000, 0, 0, "CROSS")]
    acct = d.ex.accounts[1]
    assert acct.cross_wallet == 0 and not any(p.size for p in acct.positions.values())
    assert d.ex.insurance_fund == 0


def test_the_fund_offers_a_quarter_of_its_position_per_tick_by_default():
    d = scenario()
    ex = d.ex
    assert of(d.index("TST", 903), "TakenOverByFund") == [TakenOverByFund(1, "TST", 10, 900)]
    d.limit(8, "TST", BUY, 100, 905)
    sold = []
    for _ in range(5):
        sold.append(sum(t.qty_lots for t in of(d.index("TST", 910), "Trade")))
    assert sold == [3, 2, 2, 1, 1]  # ceil(25%) of what remains: 10, 7, 5, 3, 2
    assert ex.fund.positions["TST"].size == 1


def test_a_fund_whose_equity_is_gone_deleverages_what_it_holds_at_its_bankruptcy_price():
    """Fund 500 takes over the long 10 @ 900 (equity 530 >= 5% x 9,030). At 840 its equity is
    500 - 600 < 0: its long is deleveraged against the short maker at its bankruptcy price
    (9,000 - 500) / 10 = 850, and the fund ends at exactly 0."""
    d = scenario(insurance=500)
    ex = d.ex
    assert of(d.index("TST", 903), "TakenOverByFund") == [TakenOverByFund(1, "TST", 10, 900)]
    events = d.index("TST", 840)
    assert [(e.account, e.qty_lots, e.price_ticks, e.counterparty) for e in of(events, "Deleveraged")] == [
        (-1, 10, 850, 9), (9, 10, 850, -1)]
    assert ex.fund.positions["TST"].size == 0 and ex.insurance_fund == 0
    assert ex.accounts[9].positions["TST"].size == -10
