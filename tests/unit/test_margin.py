"""Margin arithmetic: brackets, IM/MM rounding, UPNL, balances, and Binance's published
liquidation-price example reproduced to the cent (cross and isolated)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from margin_fixtures import (
    BTC_2021,
    BUY,
    ETH_2021,
    SELL,
    USDT,
    Driver,
    make_instrument,
    rejected,
    whole_unit_instrument,
)

from exchange.core.commands import AdjustIsolatedMargin
from exchange.core.margin import (
    bankruptcy_price,
    closing_cost,
    initial_margin,
    maint_margin,
    maint_margin_ppm,
    solve_price,
    unrealized_pnl,
)
from exchange.core.money import PPM

BTC = make_instrument("BTCUSDT", BTC_2021, mark_method="index", maker_fee="0", taker_fee="0")
ETH = make_instrument("ETHUSDT", ETH_2021, mark_method="index", maker_fee="0", taker_fee="0")
WB = 153_544_301 * USDT // 100  # 1,535,443.01 USDT
BTC_QTY, BTC_ENTRY, BTC_MARK = 109_488, 3_248_198, 3_196_727  # lots of 0.001, ticks of 0.01
ETH_QTY, ETH_ENTRY, ETH_MARK = 3_683_979, 145_684, 133_518


def cents(price: tuple[int, int] | None) -> int:
    """A num/den tick price rounded half up to whole ticks (0.01 USDT): how a venue displays it."""
    assert price is not None
    return (2 * price[0] + price[1]) // (2 * price[1])


# -- brackets ---------------------------------------------------------------------------------------
def test_cum_is_derived_from_the_2021_tables():
    btc = {b.floor_cash // USDT: (b.mmr_ppm, b.cum_cash // USDT, b.max_leverage) for b in BTC.brackets}
    assert btc[0] == (4_000, 0, 125) and btc[50_000] == (5_000, 50, 100) and btc[250_000] == (10_000, 1_300, 50)
    assert btc[1_000_000] == (25_000, 16_300, 20) and btc[5_000_000] == (50_000, 141_300, 10)
    eth = {b.floor_cash // USDT: (b.mmr_ppm, b.cum_cash // USDT) for b in ETH.brackets}
    assert eth[10_000] == (6_500, 15) and eth[100_000] == (10_000, 365) and eth[500_000] == (20_000, 5_365)
    assert eth[1_000_000] == (50_000, 35_365) and eth[2_000_000] == (100_000, 135_365)
    assert all(b.cum_cash % USDT == 0 for b in BTC.brackets + ETH.brackets)


def test_bracket_lookup_at_boundaries_and_mm_is_continuous():
    assert BTC.bracket_for(0).mmr_ppm == 4_000
    assert BTC.bracket_for(50_000 * USDT).mmr_ppm == 4_000  # a shared boundary belongs to the lower bracket
    assert BTC.bracket_for(50_000 * USDT + 1).mmr_ppm == 5_000
    assert BTC.bracket_for(10**9 * USDT).mmr_ppm == 500_000  # beyond the last cap: the last bracket
    for b in BTC.brackets[1:]:
        below = BTC.brackets[BTC.brackets.index(b) - 1]
        assert b.floor_cash * below.mmr_ppm - below.cum_cash * PPM == b.floor_cash * b.mmr_ppm - b.cum_cash * PPM


def test_maintenance_and_initial_margin_round_up():
    assert maint_margin_ppm(BTC, 0) == 0
    assert maint_margin_ppm(BTC, 1_000) == 4_000_000  # 0.001 USDT x 0.4% = 4e-6 USDT, in ppm of a unit
    assert maint_margin(BTC, 1_000) == 4
    assert maint_margin(BTC, 1_001) == 5  # 4.004 units -> 5
    assert maint_margin(BTC, 100_000 * USDT) == 450 * USDT  # 100,000 x 0.5% - 50
    assert initial_margin(1_000, 20) == 50
    assert initial_margin(1_001, 20) == 51
    assert initial_margin(0, 20) == 0


def test_unrealized_pnl_and_closing_cost():
    k = ETH.cash_per_tick_lot
    assert k == 10  # 0.01 USDT x 0.001 ETH = 1e-5 USDT = 10 units
    cost = ETH_QTY * ETH_ENTRY * k
    # 3,683.979 x (1,335.18 - 1,456.84) = -448,192.88 USDT (exact to the unit)
    assert unrealized_pnl(ETH_QTY, cost, ETH_MARK, k) == -448_192_885_140
    short_cost = -2 * 1000 * k
    assert unrealized_pnl(-2, short_cost, 990, k) == 20 * k
    # closing 1 of 3 lots of a cost basis of 100 units removes ceil(100/3) = 34 from the basis
    assert closing_cost(100, 3, 1) == 34
    assert closing_cost(-100, -3, 1) == -33  # short: a smaller |basis| removed, the buyer's PnL lower


# -- Binance's published example ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def example() -> Driver:
    """The example's account built through real trades: cross wallet 1,535,443.01, BTC and ETH longs."""
    d = Driver([BTC, ETH])
    d.account(1, 0, WB, BTCUSDT=("CROSS", 20), ETHUSDT=("CROSS", 4))
    d.account(2, 100_000_000, BTCUSDT=("CROSS", 1), ETHUSDT=("CROSS", 1))  # the counterparty
    d.index("BTCUSDT", BTC_ENTRY)
    d.index("ETHUSDT", ETH_ENTRY)
    d.trade(1, 2, "BTCUSDT", BTC_QTY, BTC_ENTRY)
    d.trade(1, 2, "ETHUSDT", ETH_QTY, ETH_ENTRY)
    d.index("BTCUSDT", BTC_MARK)
    d.index("ETHUSDT", ETH_MARK)
    assert d.ex.accounts[1].cross_wallet == WB
    return d


def cross_lp(d: Driver, account: int, symbol: str) -> tuple[int, int] | None:
    """Binance cross LP: other_cash = cross wallet + sum over the other cross positions of (UPNL - MM)."""
    ex = d.ex
    acct = ex.accounts[account]
    pos = acct.positions[symbol]
    other_ppm = acct.cross_wallet * PPM
    for p in acct.positions.values():
        if p is not pos and p.size and not p.isolated:
            other_ppm += ex._upnl(p) * PPM - ex._mm_ppm(p)
    return solve_price(ex.instruments[symbol], pos.size, pos.cost, other_ppm // PPM)


def test_worked_example_brackets_at_the_marks(example):
    ex = example.ex
    btc, eth = ex.accounts[1].positions["BTCUSDT"], ex.accounts[1].positions["ETHUSDT"]
    b = BTC.bracket_for(ex._notional(btc))
    e = ETH.bracket_for(ex._notional(eth))
    assert (b.mmr_ppm, b.cum_cash) == (25_000, 16_300 * USDT)
    assert (e.mmr_ppm, e.cum_cash) == (100_000, 135_365 * USDT)
    # ETH is entered in the 12.5% bracket (5.37M notional): only the re-check at LP finds 10%
    assert ETH.bracket_for(abs(eth.cost)).mmr_ppm == 125_000


def test_worked_example_cross_liquidation_prices(example):
    eth_lp, btc_lp = cross_lp(example, 1, "ETHUSDT"), cross_lp(example, 1, "BTCUSDT")
    assert cents(eth_lp) == 115_326  # 1,153.26
    assert cents(btc_lp) == 2_631_689  # 26,316.89
    k = ETH.cash_per_tick_lot
    assert ETH.bracket_for(ETH_QTY * k * eth_lp[0] // eth_lp[1]).mmr_ppm == 100_000
    assert BTC.bracket_for(BTC_QTY * k * btc_lp[0] // btc_lp[1]).mmr_ppm == 25_000


def test_worked_example_isolated_liquidation_prices():
    """The same positions isolated, each with the whole balance as its isolated wallet."""
    d = Driver([BTC, ETH])
    d.account(1, 2 * WB // USDT + 10, BTCUSDT=("ISOLATED", 20))
    d.account(3, 2 * WB // USDT + 10, ETHUSDT=("ISOLATED", 4))
    d.account(2, 100_000_000, BTCUSDT=("CROSS", 1), ETHUSDT=("CROSS", 1))  # the counterparty
    d.index("BTCUSDT", BTC_ENTRY)
    d.index("ETHUSDT", ETH_ENTRY)
    d.trade(1, 2, "BTCUSDT", BTC_QTY, BTC_ENTRY)
    d.trade(3, 2, "ETHUSDT", ETH_QTY, ETH_ENTRY)
    for account, symbol in ((1, "BTCUSDT"), (3, "ETHUSDT")):
        pos = d.ex.accounts[account].positions[symbol]
        assert not rejected(d.do(AdjustIsolatedMargin(account, symbol, WB - pos.isolated_wallet)))
        assert pos.isolated_wallet == WB
    d.index("BTCUSDT", BTC_MARK)
    d.index("ETHUSDT", ETH_MARK)
    btc, eth = d.ex.accounts[1].positions["BTCUSDT"], d.ex.accounts[3].positions["ETHUSDT"]
    eth_lp = solve_price(ETH, eth.size, eth.cost, eth.isolated_wallet)
    btc_lp = solve_price(BTC, btc.size, btc.cost, btc.isolated_wallet)
    assert cents(eth_lp) == 111_478  # 1,114.78
    assert cents(btc_lp) == 1_877_873  # 18,778.73
    # the engine indexes each isolated position at exactly its liquidation price (long: floor)
    assert d.ex.breach_entries()[(3, "ETHUSDT", 1)] == (True, eth_lp[0] // eth_lp[1])
    assert d.ex.breach_entries()[(1, "BTCUSDT", 1)] == (True, btc_lp[0] // btc_lp[1])
    # bankruptcy price of an isolated long: EP - IWB/Q
    bp = bankruptcy_price(eth.size, eth.cost, eth.isolated_wallet, ETH.cash_per_tick_lot)
    assert Fraction(*bp) == Fraction(ETH_ENTRY) - Fraction(WB, ETH_QTY * ETH.cash_per_tick_lot)


def test_no_liquidation_price_when_not_positive():
    k = BTC.cash_per_tick_lot
    cost = 10 * 3_000_000 * k  # long 0.01 BTC at 30,000 fully funded: LP would be negative
    assert solve_price(BTC, 10, cost, cost) is None
    assert bankruptcy_price(10, cost, cost, k) is None
    # a short always has one
    assert solve_price(BTC, -10, -cost, cost) is not None


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 10**7).flatmap(lambda q: st.sampled_from([q, -q])),
       entry=st.integers(100_00, 100_000_00), other=st.integers(0, 10**14))
def test_solve_price_is_the_exact_root_in_its_own_bracket(size, entry, other):
    """other + size*P*k - cost == MM(|size|*P*k) exactly, MMR/cum of the notional at P."""
    k = BTC.cash_per_tick_lot
    cost = size * entry * k
    lp = solve_price(BTC, size, cost, other)
    if lp is None:
        return
    p = Fraction(*lp)
    assert p > 0
    notional = abs(size) * p * k
    b = BTC.bracket_for(int(notional))  # floor: at a shared boundary both brackets give the same MM
    lhs = other + size * p * k - cost
    assert lhs == notional * Fraction(b.mmr_ppm, PPM) - b.cum_cash


# -- balances through the engine ------------------------------------------------------------------------
def test_available_and_free_balance():
    d = Driver([whole_unit_instrument("TST")])
    d.account(1, 1_000, TST=("CROSS", 10))
    d.account(2, 1_000_000)
    d.index("TST", 100)
    d.trade(1, 2, "TST", 20, 100)  # long 20 @ 100: IM 200
    ex, acct = d.ex, d.ex.accounts[1]
    assert ex.available(acct) == 800 * USDT
    assert ex.free_balance(acct) == 800 * USDT
    d.index("TST", 104)  # UPNL +80, IM 208: profit counts toward available, not toward free
    assert ex.available(acct) == (1_000 + 80 - 208) * USDT
    assert ex.free_balance(acct) == (1_000 - 208) * USDT
    d.index("TST", 95)  # UPNL -100, IM 190: a loss counts against both
    assert ex.available(acct) == ex.free_balance(acct) == (1_000 - 100 - 190) * USDT
    d.limit(1, "TST", BUY, 10, 94)  # resting buy: IM 94 reserved, no open loss (below mark)
    assert acct.order_margin == 94 * USDT
    assert ex.available(acct) == (1_000 - 100 - 190 - 94) * USDT
    d.limit(1, "TST", SELL, 5, 99)  # a closing order needs no margin
    assert acct.order_margin == 94 * USDT
    upnl, mm, im, n = ex.cross_totals(acct)
    assert (upnl, mm, im, n) == (-100 * USDT, 20 * 95 * 4_000 * USDT, 190 * USDT, 1)
