"""Margin at the moment of each fill: orders are margined one by one, but a single sweep can fill many
of them, so every fill is decided as it happens (`Trading._fillable`). A fill may reduce a position only
by what is left of it; reduce-only remainders are cancelled in the fill loop; whatever opens or extends a
position needs its margin then, or only its closing part fills and the rest is cancelled
(INSUFFICIENT_MARGIN) while matching goes on with the next maker.

BTCUSDT from configs/default.toml (tick 0.1, lot 0.001 BTC, maker 0.02%, taker 0.05%), mark 60,000.
"""

from __future__ import annotations

import pytest
from conftest import BTC, of_type

from exchange.core.commands import BUY, SELL, CreateAccount, Deposit, IndexPrice, PlaceOrder, SetLeverage
from exchange.core.events import InsuranceFundChanged, LiquidationTriggered, OrderCancelled, Trade

USDT = 1_000_000
BTC_LOT = 1_000  # lots per BTC
MARK = 600_000


def long_one_btc_with_closing_sells(drive, reduce_only: bool) -> None:
    """Account 1: 3,100 USDT, 20x, long 1 BTC @ 60,000 (IM 3,000), then 50 resting sells of 1 BTC at
    60,001-60,005.9, each margined alone as closing the long. Account 2: a big counterparty."""
    drive(CreateAccount(1))
    drive(Deposit(1, 3_100 * USDT))
    drive(SetLeverage(1, BTC, 20))
    drive(CreateAccount(2))
    drive(Deposit(2, 10_000_000 * USDT))
    drive(IndexPrice(BTC, MARK))
    drive(PlaceOrder(2, BTC, SELL, BTC_LOT, MARK))
    drive(PlaceOrder(1, BTC, BUY, BTC_LOT, MARK, tif="IOC"))
    assert drive.ex.accounts[1].positions[BTC].size == BTC_LOT
    for i in range(50):
        events = drive(PlaceOrder(1, BTC, SELL, BTC_LOT, MARK + 10 + i, reduce_only=reduce_only))
        assert [type(e).__name__ for e in events] == ["OrderAccepted"], events


def test_one_sweep_fills_one_reduce_only_sell_and_cancels_the_other_49_in_the_fill_loop(drive):
    """Before: all 50 filled, leaving account 1 short 49 BTC on a 3,000 USDT wallet for the fund to pay."""
    long_one_btc_with_closing_sells(drive, reduce_only=True)
    ex = drive.ex
    fund = ex.insurance_fund
    events = drive(PlaceOrder(2, BTC, BUY, 50 * BTC_LOT, MARK + 100, tif="IOC"))
    assert [(t.maker_account, t.qty_lots) for t in of_type(events, Trade)] == [(1, BTC_LOT)]
    cancels = [(e.account, e.remaining_lots, e.reason) for e in of_type(events, OrderCancelled)]
    assert cancels == [(1, BTC_LOT, "REDUCE_ONLY")] * 49 + [(2, 49 * BTC_LOT, "IOC")]
    # the 49 are cancelled as the sweep meets them, before the taker's remainder expires
    assert events.index(of_type(events, OrderCancelled)[0]) < events.index(of_type(events, OrderCancelled)[-1])
    acct = ex.accounts[1]
    assert acct.positions[BTC].size == 0 and not acct.orders and acct.order_margin == 0
    for price in (MARK, 660_000):  # a 10% rally liquidates nobody and costs the fund nothing
        assert not of_type(drive(IndexPrice(BTC, price)), LiquidationTriggered)
    assert ex.insurance_fund == fund
    ex.check_invariants()


def test_plain_closing_sells_open_a_short_only_as_far_as_the_margin_goes(drive):
    """The same sweep over plain (not reduce-only) sells: the first closes the long; the short that the
    next ones open needs 20x margin (+ the maker fee) at each fill. The wallet left, about 3,059 USDT,
    pays for 1.015 BTC of short; the rest of the third sell and every later one are cancelled for margin."""
    long_one_btc_with_closing_sells(drive, reduce_only=False)
    ex = drive.ex
    fund = ex.insurance_fund
    events = drive(PlaceOrder(2, BTC, BUY, 50 * BTC_LOT, MARK + 100, tif="IOC"))
    filled = [(t.maker_account, t.price_ticks, t.qty_lots) for t in of_type(events, Trade)]
    acct = ex.accounts[1]
    pos = acct.positions[BTC]
    assert filled[0] == (1, MARK + 10, BTC_LOT)
    assert sum(q for _, _, q in filled) == BTC_LOT - pos.size
    assert pos.size == -1_015
    reasons = {e.reason for e in of_type(events, OrderCancelled) if e.account == 1}
    assert reasons == {"INSUFFICIENT_MARGIN"} and not acct.orders
    # what is open is backed by its initial margin: the available balance never went below zero
    assert ex.available(acct) >= 0
    assert not of_type(drive(IndexPrice(BTC, MARK)), LiquidationTriggered)
    assert ex.insurance_fund == fund
    ex.check_invariants()


def test_a_maker_whose_margin_went_fills_what_it_can_and_the_sweep_goes_on(drive):
    """Maker 5 (1,000 USDT, cross) is long 1 ETH @ 3,000 at 10x and rests a sell of 1 BTC @ 60,000 at 100x,
    reserving 630.0 (IM 600 + the 0.05% fee bound 30). ETH then falls to 2,400: its available balance goes
    to -471.5 with no cash leaving. When a sweep reaches the BTC sell, its fill needs IM 600 + the 0.02%
    maker fee 12; the room is -471.5 + its own reservation 630 = 158.5, enough for 258 lots: those fill,
    the other 742 are cancelled for margin, and the sweep fills maker 3 behind it."""
    from conftest import ETH
    ex = drive.ex
    drive.fund(2, 3, usdt=1_000_000)
    drive(CreateAccount(5))
    drive(Deposit(5, 1_000 * USDT))
    drive(SetLeverage(5, BTC, 100))
    drive(SetLeverage(5, ETH, 10))
    drive(IndexPrice(BTC, MARK))
    drive(IndexPrice(ETH, 300_000))
    drive(PlaceOrder(2, ETH, SELL, 1_000, 300_000))
    drive(PlaceOrder(5, ETH, BUY, 1_000, 300_000, tif="IOC"))
    drive(PlaceOrder(5, BTC, SELL, 1_000, MARK))
    drive(PlaceOrder(3, BTC, SELL, 500, MARK + 10))
    acct = ex.accounts[5]
    assert acct.order_margin == 630 * USDT
    drive(IndexPrice(ETH, 240_000))
    assert ex.available(acct) == -471_500_000
    events = drive(PlaceOrder(2, BTC, BUY, 2_000, MARK + 100, tif="IOC"))
    assert [(t.maker_account, t.qty_lots) for t in of_type(events, Trade)] == [(5, 258), (3, 500)]
    assert [(e.account, e.remaining_lots, e.reason) for e in of_type(events, OrderCancelled)] == \
        [(5, 742, "INSUFFICIENT_MARGIN"), (2, 1_242, "IOC")]
    assert acct.positions[BTC].size == -258 and not acct.orders
    ex.check_invariants()


@pytest.mark.parametrize("mode", ["CROSS", "ISOLATED"])
def test_a_market_buy_stops_where_its_margin_ends(drive, mode):
    """A market buy is margined at the best ask; sweeping deeper costs more. Account 1 (334 USDT, 20x)
    buys 0.11 BTC, margined at 60,000: IM 330 + 3.3 of fee bound. 0.1 fills at 60,000 (IM 300, fee 3);
    0.01 more at 63,000 would need IM 31.5 + open loss 30 (3,000 above the mark) + 0.315 of fee, and 31
    is left: it takes the 0.005 that this pays for (30.91) and the rest is cancelled for margin. Nothing
    opens short of its initial margin."""
    from exchange.core.commands import SetMarginMode
    ex = drive.ex
    drive.fund(2, usdt=1_000_000)
    drive(CreateAccount(1))
    drive(Deposit(1, 334 * USDT))
    drive(SetMarginMode(1, BTC, mode))
    drive(SetLeverage(1, BTC, 20))
    drive(IndexPrice(BTC, MARK))
    drive(PlaceOrder(2, BTC, SELL, 100, MARK))
    drive(PlaceOrder(2, BTC, SELL, 100, 630_000))
    events = drive(PlaceOrder(1, BTC, BUY, 110, 0, "MARKET"))
    assert [(t.price_ticks, t.qty_lots) for t in of_type(events, Trade)] == [(MARK, 100), (630_000, 5)]
    assert [(e.remaining_lots, e.reason) for e in of_type(events, OrderCancelled)] == [(5, "INSUFFICIENT_MARGIN")]
    acct = ex.accounts[1]
    pos = acct.positions[BTC]
    if mode == "ISOLATED":  # the box holds the whole initial margin, paid in cash from the cross wallet
        # box: IM 300 + 15.75; cross: 334 - 303 - 15.75 - 0.1575 of fee
        assert (pos.isolated_wallet, acct.cross_wallet) == (315_750_000, 15_092_500)
    else:
        assert ex.available(acct) >= 0
    assert not of_type(drive(IndexPrice(BTC, MARK)), InsuranceFundChanged)
    ex.check_invariants()
