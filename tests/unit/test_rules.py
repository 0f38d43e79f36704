"""Venue rules are live seams: the default venue computes exactly Binance's formulas, and replacing one
piece (the maintenance form, the breach test, the penalty) changes where and how the exchange
liquidates, consistently in the breach index, the exact check and the settlement.

The maintenance form: long 10 TST @ 6,000 isolated 10x (box 6,000), notional 60,000 in the 2021 BTC
table's second bracket (MMR 0.5%, cum 50). Binance: LP = (60,000 - 6,000 - 50) / (10 x 0.995) = 5,422.11,
breached at a mark <= 5,422. Without the deduction (a whole-position form): LP = 54,000 / 9.95 = 5,427.13.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from margin_fixtures import BUY, USDT, Driver, make_instrument, of, whole_unit_instrument

from exchange.core.commands import AdjustIsolatedMargin
from exchange.core.instruments import Bracket, Instrument
from exchange.core.margin import maint_margin_ppm, solve_price
from exchange.core.rules import BINANCE, Venue

BTC = make_instrument("BTCUSDT")


class NoDeduction:
    """MM = notional x the tier's MMR: no cumulative deduction (it jumps at tier bounds)."""

    def terms(self, bracket: Bracket) -> tuple[int, int]:
        return bracket.mmr_ppm, 0


class BelowMaintenance:
    """Liquidated only when the margin balance is strictly below the maintenance margin."""

    def breached(self, margin_balance_cash: int, maint_ppm: int) -> bool:
        return margin_balance_cash * 1_000_000 < maint_ppm


class AllToTheFund:
    """The fund keeps everything a liquidation fill leaves above the bankruptcy price."""

    def fee(self, inst: Instrument, trade_value_cash: int) -> int:
        return trade_value_cash


@given(st.integers(1, 10**6), st.integers(1, 10**7), st.integers(-10**12, 10**13))
def test_the_default_venue_computes_binances_formulas(lots, entry, other):
    k = BTC.cash_per_tick_lot
    for size in (lots, -lots):
        cost = size * entry * k
        notional = abs(cost)
        assert BINANCE.maint_ppm(BTC, lots, notional) == maint_margin_ppm(BTC, notional)
        assert BINANCE.liquidation_price(BTC, size, cost, other) == solve_price(BTC, size, cost, other)


def long_10(venue: Venue, entry: int) -> Driver:
    """Account 1 long 10 TST @ entry, isolated 10x (a box of entry x 1 USDT); account 9 the maker."""
    d = Driver([whole_unit_instrument("TST")], venue=venue)
    d.account(1, 10_000, TST=("ISOLATED", 10))
    d.account(9, 10_000_000)
    d.index("TST", entry)
    d.trade(1, 9, "TST", 10, entry)
    return d


def test_a_maintenance_form_without_deduction_liquidates_earlier():
    binance, whole = long_10(BINANCE, 6_000), long_10(Venue("no-deduction", maintenance=NoDeduction()), 6_000)
    assert binance.ex.breach_entries()[(1, "TST", 1)] == (True, 5_422)
    assert whole.ex.breach_entries()[(1, "TST", 1)] == (True, 5_427)
    for d in (binance, whole):
        d.limit(9, "TST", BUY, 10, 5_400)
    assert not of(binance.index("TST", 5_425), "LiquidationTriggered")
    (triggered,) = of(whole.index("TST", 5_425), "LiquidationTriggered")
    # box 6,000 + 10 x (5,425 - 6,000) = 250 <= MM 54,250 x 0.5% = 271.25 (Binance's: 221.25)
    assert (triggered.margin_balance_cash, triggered.maint_margin_cash) == (250 * USDT, 271_250_000)
    assert of(binance.index("TST", 5_422), "LiquidationTriggered")


def test_a_strict_breach_test_spares_a_balance_equal_to_the_maintenance_margin():
    """Long 10 @ 1,000 (first bracket, MMR 0.4%) with a box of 1,006.12: at 903 the balance 1,006.12 - 970
    = 36.12 equals the MM 9,030 x 0.4%. Binance liquidates (<=), a strict venue (<) does not."""
    for venue, liquidated in ((BINANCE, True), (Venue("strict", breach=BelowMaintenance()), False)):
        d = long_10(venue, 1_000)
        d.limit(9, "TST", BUY, 10, 850)
        d.do(AdjustIsolatedMargin(1, "TST", 6_120_000))
        assert d.ex.breach_entries()[(1, "TST", 1)] == (True, 903)  # where the two meet
        assert bool(of(d.index("TST", 903), "LiquidationTriggered")) is liquidated
        assert d.ex.accounts[1].positions["TST"].size == (0 if liquidated else 10)


def test_a_penalty_rule_decides_what_the_fund_keeps():
    """A bid at 950 takes the liquidation of the long 10 @ 1,000 (box 1,000) 50 x 10 above its bankruptcy
    price 900: Binance's fund keeps its 1.25% fee (118.75 of 9,500) and the rest as surplus; a rule
    keeping all takes the 500 as the fee."""
    moves = {}
    for venue in (BINANCE, Venue("all-to-fund", penalty=AllToTheFund())):
        d = long_10(venue, 1_000)
        d.limit(9, "TST", BUY, 10, 950)
        events = d.index("TST", 903)
        moves[venue.name] = [(e.reason, e.delta_cash) for e in of(events, "InsuranceFundChanged")]
    assert moves == {"binance": [("LIQUIDATION_FEE", 118_750_000), ("LIQUIDATION_SURPLUS", 381_250_000)],
                     "all-to-fund": [("LIQUIDATION_FEE", 500 * USDT)]}
