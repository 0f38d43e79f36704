"""Every order's reservation is backed by cash: an account's open orders never reserve more than its cross
wallet holds (`Risk.backed`, checked by check_invariants after every command). When the cash goes
(a liquidation, funding, fees, a loss), the newest reserving orders are cancelled (INSUFFICIENT_MARGIN)
until the rule holds again; and whatever the reservations say, a fill that opens a position needs its
margin at that moment.

Instruments TST and ALT: tick 1, lot 1 (1 USDT per tick-lot), mark = index, no trading fees, 2021 BTC
brackets (0.4% MMR up to 50,000 notional).
"""

from __future__ import annotations

from margin_fixtures import BUY, SELL, USDT, Driver, of, rejected, whole_unit_instrument

from exchange.core.commands import Heartbeat, PlaceOrder, Withdraw
from exchange.core.instruments import NS_PER_HOUR


def test_a_cross_liquidation_cancels_the_isolated_orders_its_cash_backed():
    """Account 1 (2,000 USDT): cross long 10 TST @ 1,000 at 10x, and a resting isolated ALT buy of 50 @ 100
    at 10x reserving 500. TST falls to 800, the bankruptcy price of the cross account: it is liquidated
    and its cross wallet ends at 0, so nothing backs the ALT order any more and it is cancelled. Before,
    it stayed and later filled with an isolated wallet of 0."""
    d = Driver([whole_unit_instrument("TST"), whole_unit_instrument("ALT")])
    d.account(1, 2_000, TST=("CROSS", 10), ALT=("ISOLATED", 10))
    d.account(9, 10_000_000)
    d.account(8, 10_000_000)
    d.index("TST", 1_000)
    d.index("ALT", 100)
    d.trade(1, 9, "TST", 10, 1_000)
    assert not rejected(d.limit(1, "ALT", BUY, 50, 100))
    acct = d.ex.accounts[1]
    assert acct.order_margin == 500 * USDT
    d.limit(8, "TST", BUY, 10, 850)
    events = d.index("TST", 800)
    assert [(e.account, e.mode) for e in of(events, "LiquidationTriggered")] == [(1, "CROSS")]
    assert acct.cross_wallet == 0
    assert [(e.account, e.symbol, e.remaining_lots, e.reason) for e in of(events, "OrderCancelled")] == \
        [(1, "ALT", 50, "INSUFFICIENT_MARGIN")]
    assert not acct.orders and acct.order_margin == 0
    events = d.limit(9, "ALT", SELL, 50, 100, tif="IOC")  # nobody is left to buy from
    assert not of(events, "Trade") and acct.positions["ALT"].size == 0


def test_funding_that_drains_the_wallet_cancels_what_it_no_longer_backs():
    """Account 1 (1,000 USDT) holds a cross long 10 TST @ 100 at 10x (IM 100) and rests an isolated ALT
    buy of 8 @ 100 at 1x reserving 800. Market maker 9's bid at 105 against an index of 100 makes a 5%
    premium; with the funding cap at 5% the rate is 4.95% and the long pays 49.5 USDT per 8 h. After five
    settlements the wallet holds 752.5 < 800 reserved: the ALT order is cancelled. The account is never
    near liquidation (MM of 1,000 notional is 4 USDT)."""
    d = Driver([whole_unit_instrument("TST", funding_cap="0.05"), whole_unit_instrument("ALT")])
    d.account(1, 1_000, TST=("CROSS", 10), ALT=("ISOLATED", 1))
    d.account(9, 10_000_000)
    d.index("TST", 100)
    d.index("ALT", 100)
    d.trade(1, 9, "TST", 10, 100)
    assert not rejected(d.limit(1, "ALT", BUY, 8, 100))
    assert not rejected(d.limit(9, "TST", BUY, 1_000, 105) + d.limit(9, "TST", SELL, 1_000, 106))
    acct = d.ex.accounts[1]
    paid = []
    for n in range(1, 6):
        events = d.do(Heartbeat(), ts=n * 8 * NS_PER_HOUR)
        paid += [e.amount_cash for e in of(events, "FundingPaid") if e.account == 1]
        cancelled = [(e.symbol, e.reason) for e in of(events, "OrderCancelled")]
        assert cancelled == ([("ALT", "INSUFFICIENT_MARGIN")] if n == 5 else []), (n, cancelled)
    assert paid == [-49_500_000] * 5
    assert acct.cross_wallet == 752_500_000 and not acct.orders
    assert not of(d.index("TST", 100), "LiquidationTriggered")


def test_an_order_reserves_cash_not_unrealized_profit():
    """Cross long 10 TST @ 100 at 10x on 1,000 USDT; TST to 300: UPNL +2,000, available 2,700. A cross order
    may use the profit as margin, but its reservation needs cash in the wallet: 1,000 at most."""
    d = Driver([whole_unit_instrument("TST"), whole_unit_instrument("ALT")])
    d.account(1, 1_000, TST=("CROSS", 10), ALT=("CROSS", 1))
    d.account(9, 10_000_000)
    d.index("TST", 100)
    d.index("ALT", 100)
    d.trade(1, 9, "TST", 10, 100)
    d.index("TST", 300)
    ex, acct = d.ex, d.ex.accounts[1]
    assert ex.available(acct) == 2_700 * USDT
    assert [e.code for e in rejected(d.limit(1, "ALT", BUY, 11, 100))] == ["INSUFFICIENT_MARGIN"]
    assert not rejected(d.limit(1, "ALT", BUY, 10, 100))
    assert acct.order_margin == acct.cross_wallet == 1_000 * USDT
    assert [e.code for e in rejected(d.do(Withdraw(1, 1)))] == ["INSUFFICIENT_BALANCE"]


def test_a_loss_realized_by_a_fill_cancels_the_newest_unbacked_orders():
    """Account 1 (1,000 USDT, cross, no fees) is long 10 TST @ 100 at 10x and rests two ALT buys at 1x:
    300 then 500 reserved. TST falls to 50 (UPNL -500); closing the long realizes the loss, the wallet
    drops to 500 < 800 reserved: the newer ALT order (500) is cancelled, the older one stays."""
    d = Driver([whole_unit_instrument("TST"), whole_unit_instrument("ALT")])
    d.account(1, 1_000, TST=("CROSS", 10), ALT=("CROSS", 1))
    d.account(9, 10_000_000)
    d.index("TST", 100)
    d.index("ALT", 100)
    d.trade(1, 9, "TST", 10, 100)
    older = of(d.limit(1, "ALT", BUY, 3, 100), "OrderAccepted")[0].order_id
    newer = of(d.limit(1, "ALT", BUY, 5, 100), "OrderAccepted")[0].order_id
    d.index("TST", 50)
    d.limit(9, "TST", BUY, 10, 50)
    events = d.do(PlaceOrder(1, "TST", SELL, 10, 50, tif="IOC"))
    acct = d.ex.accounts[1]
    assert acct.cross_wallet == 500 * USDT
    assert [(e.order_id, e.reason) for e in of(events, "OrderCancelled")] == [(newer, "INSUFFICIENT_MARGIN")]
    assert list(acct.orders) == [older] and acct.order_margin == 300 * USDT
