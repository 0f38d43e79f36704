"""Each venue profile (configs/venues/) on the venue's own published numbers, to the cent
(../shared/VENUES.md; docs/venues.md has the worked examples).

The headline: the same 1 BTC long (short) at 60,000, 10x isolated (a box of 6,000), is liquidated at
54,221.11 (65,721.39) on Binance, 54,198.00 (65,802.00) on Bybit, 54,244.10 (65,704.33) on OKX,
54,683.54 (65,185.19) on Hyperliquid and 55,670.10 (64,077.67) on dYdX; its bankruptcy price is 54,000
(66,000) everywhere.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from margin_fixtures import BUY, SELL, USDT, Driver, of, rejected

from exchange.config import DEFAULT_CONFIG, layer, load_config_data, parse_config, venue_names, with_venue
from exchange.core.accounts import Position
from exchange.core.views import position_view
from exchange.core.venues import build_venue
from exchange.core.venues.execution import FillablePerBlock
from exchange.core.venues.policies import EstimatedFeeToClose

HEADLINE = {  # venue: (long LP, short LP)
    "binance": ("54221.11", "65721.39"),
    "bybit": ("54198.00", "65802.00"),
    "okx": ("54244.10", "65704.33"),
    "hyperliquid": ("54683.54", "65185.19"),
    "dydx": ("55670.10", "64077.67"),
}
LOT = 1000  # 1 BTC in lots of 0.001
TICKS = 10  # ticks of 0.10 per USDT


def profile(name: str, **btc: object):
    """The default config under venue `name`, BTCUSDT's mark = index (so a test moves it exactly)."""
    data = layer(with_venue(load_config_data(DEFAULT_CONFIG), name),
                 {"instruments": {"BTCUSDT": {"mark_method": "index", **btc}}})
    return parse_config(data)


def opened(name: str, side: int, mode: str = "ISOLATED", lots: int = LOT, insurance: int = 1_000_000,
           **btc: object) -> Driver:
    """Account 1 opens `lots` BTC at 60,000 on `side`, 10x `mode`, against account 9's resting order."""
    cfg = profile(name, **btc)
    d = Driver([i for i in cfg.instruments if i.symbol == "BTCUSDT"], insurance, venue=cfg.venue)
    d.account(1, 300_000, BTCUSDT=(mode, 10))
    d.account(9, 10_000_000, BTCUSDT=("CROSS", 5))
    d.index("BTCUSDT", 600_000)
    events = d.limit(9, "BTCUSDT", -side, lots, 600_000) + d.limit(1, "BTCUSDT", side, lots, 600_000, tif="IOC")
    assert not rejected(events) and sum(e.qty_lots for e in of(events, "Trade")) == lots
    return d


def view(d: Driver) -> dict:
    acct = d.ex.accounts[1]
    return position_view(d.ex, acct, acct.positions["BTCUSDT"])


def usdt(ticks: Fraction | int | None) -> str:
    assert ticks is not None
    return str((Decimal(ticks.numerator) / Decimal(ticks.denominator) / TICKS if isinstance(ticks, Fraction)
                else Decimal(ticks) / TICKS).quantize(Decimal("0.01"), ROUND_HALF_UP))


def test_every_profile_is_shipped_and_builds():
    assert venue_names() == sorted(HEADLINE)
    for name in HEADLINE:
        assert profile(name).venue.name == name


@pytest.mark.parametrize("name", HEADLINE)
def test_the_same_position_liquidates_at_each_venues_published_price(name):
    for side, lp in zip((BUY, SELL), HEADLINE[name], strict=True):
        v = view(opened(name, side))
        assert v["isolated_wallet_cash"] == 6_000 * USDT
        assert usdt(v["liquidation_price_ticks"]) == lp
        assert usdt(v["bankruptcy_price_ticks"]) == ("54000.00" if side == BUY else "66000.00")


@pytest.mark.parametrize("name", HEADLINE)
def test_the_trigger_fires_at_the_published_price_and_not_a_tick_before(name):
    """The breach index holds the long at floor(LP); a mark one tick above spares it, the LP's tick
    liquidates it (for the strict venues too: the LP is not on the grid)."""
    d = opened(name, BUY)
    at = view(d)["liquidation_price_ticks"].__floor__()
    assert d.ex.breach_entries()[(1, "BTCUSDT", 1)] == (True, at)
    d.limit(9, "BTCUSDT", BUY, LOT, 500_000)  # a bid far below, so the book takes nothing first
    assert not of(d.index("BTCUSDT", at + 1), "LiquidationTriggered")
    assert of(d.index("BTCUSDT", at), "LiquidationTriggered")


def test_bybit_classic_isolated_example_and_the_entry_basis():
    """BY-A1: long 1 BTC @ 20,000, 50x, MMR 0.5%: IM 400, MM 100 -> LP 19,700. And the 1 BTC @ 60,000 10x
    whose MM is taken at the mark instead of at entry (Binance's root of margin = MM) is at 54,178.79."""
    one_tier = [{"floor": "0", "cap": "2000000", "max_leverage": 100, "mmr": "0.005"}]
    cfg = profile("bybit", brackets=one_tier)
    d = Driver([i for i in cfg.instruments if i.symbol == "BTCUSDT"], venue=cfg.venue)
    d.account(1, 10_000, BTCUSDT=("ISOLATED", 50))
    d.account(9, 10_000_000)
    d.index("BTCUSDT", 200_000)
    d.trade(1, 9, "BTCUSDT", LOT, 200_000)
    v = view(d)
    assert (v["isolated_wallet_cash"], v["maint_margin_cash"]) == (400 * USDT, 100 * USDT)
    assert usdt(v["liquidation_price_ticks"]) == "19700.00"
    at_mark = build_venue({**cfg.raw["venue_rules"], "maintenance_basis": "mark"})
    pos = opened("bybit", BUY).ex.accounts[1].positions["BTCUSDT"]
    inst = profile("bybit").instruments[0]
    assert usdt(Fraction(*at_mark.position_price(inst, pos, pos.isolated_wallet))) == "54178.79"


def test_bybit_estimated_fee_to_close():
    """BY-FEECLOSE: 0.5 BTC @ 50,000, 10x, taker 0.055%: long 12.375, short 15.125; and the cross 1 BTC @
    60,000 10x long has MM 198 + 29.70 = 227.70 (UTA)."""
    inst = profile("bybit").instruments[0]
    fee = EstimatedFeeToClose()
    for size, cash in ((500, 12_375_000), (-500, 15_125_000)):
        pos = Position(1, "BTCUSDT")
        pos.size, pos.cost, pos.leverage = size, size * 500_000 * inst.cash_per_tick_lot, 10
        assert fee.cash(inst, pos) == cash
    assert view(opened("bybit", BUY, "CROSS"))["maint_margin_cash"] == 227_700_000


def test_hyperliquid_maintenance_at_entry_and_the_backstop():
    """MM at entry 750 (1.25% of 60,000). Equity below 2/3 MM (54,453.78 for the long) hands the position
    and its margin to the vault: with no bid in the band the book cannot take it at 54,460, the vault
    does at 54,453.7."""
    d = opened("hyperliquid", BUY)
    assert view(d)["maint_margin_cash"] == 750 * USDT
    events = d.index("BTCUSDT", 544_600)
    assert of(events, "LiquidationTriggered") and not of(events, "Trade") and not of(events, "TakenOverByFund")
    assert d.ex.accounts[1].positions["BTCUSDT"].size == LOT
    (taken,) = of(d.index("BTCUSDT", 544_537), "TakenOverByFund")
    assert (taken.qty_lots, taken.price_ticks) == (LOT, 540_000)
    assert d.ex.accounts[1].positions["BTCUSDT"].size == 0 and d.ex.fund.positions["BTCUSDT"].size == LOT
    short = opened("hyperliquid", SELL)
    assert not of(short.index("BTCUSDT", 654_545), "TakenOverByFund")
    assert of(short.index("BTCUSDT", 654_546), "TakenOverByFund")


def test_hyperliquid_slices_a_large_position_then_waits_30_seconds():
    """2 BTC (120,000 > 100,000): 20% (0.4 BTC) goes to the book, then nothing for 30 s, then the rest."""
    d = opened("hyperliquid", BUY, lots=2 * LOT)
    d.limit(9, "BTCUSDT", BUY, 2 * LOT, 545_000)
    first = d.index("BTCUSDT", 546_000)
    assert [e.qty_lots for e in of(first, "LiquidationOrderPlaced")] == [400]
    assert d.ex.accounts[1].positions["BTCUSDT"].size == 1_600
    assert not of(d.index("BTCUSDT", 545_900), "LiquidationOrderPlaced")
    d.ts += 29_000_000_000
    assert not of(d.index("BTCUSDT", 545_800), "LiquidationOrderPlaced")
    d.ts += 1_000_000_000
    assert [e.qty_lots for e in of(d.index("BTCUSDT", 545_700), "LiquidationOrderPlaced")] == [1_600]
    assert d.ex.accounts[1].positions["BTCUSDT"].size == 0


def test_dydx_fillable_price_and_ten_percent_per_block():
    """DY-4: the long 1 BTC @ 60,000 with 6,000 of collateral at an oracle of 55,000: TNC 1,000, TMMR 1,650,
    ABR = 1 - 1,000/1,650, fillable = 55,000 - ABR x 1.5 x 1,650 = 54,025: an IOC there for 10% (0.1 BTC)."""
    rule = FillablePerBlock(100_000, 1_000 * USDT, 100_000 * USDT, 1_500_000)
    assert rule.fillable_ticks(1_000 * USDT, 1_650 * USDT * 10**6, 1_650 * USDT * 10**6, LOT, True, 550_000, 100) == 540_250
    d = opened("dydx", BUY)
    d.limit(9, "BTCUSDT", BUY, LOT, 540_250)
    events = d.index("BTCUSDT", 550_000)
    (order,) = of(events, "LiquidationOrderPlaced")
    assert (order.qty_lots, order.price_ticks, order.bankruptcy_price_ticks) == (100, 540_250, 540_000)
    (fee,) = [e for e in of(events, "InsuranceFundChanged") if e.reason == "PARTIAL_LIQUIDATION_FEE"]
    # min(quote - bankruptcy quote, 1.5% x quote): 0.1 x (54,025 - 54,000) = 2.50 is below 1.5% of 5,402.50
    assert fee.delta_cash == 2_500_000
    assert d.ex.accounts[1].positions["BTCUSDT"].size == 900
    assert len(of(d.index("BTCUSDT", 549_990), "LiquidationOrderPlaced")) == 1  # one per block


def test_okx_tiers_by_contracts_and_two_tiers_at_a_time():
    """Tiers by lots do not move with the price; a breached position in tier 4 is cut to the cap of tier 2
    by a fill-or-kill at its bankruptcy price (and, were it still breached, the rest taken over there)."""
    rows = [{"floor": "0", "cap": "600000", "floor_qty": "0", "max_leverage": 100, "mmr": "0.004"},
            {"floor": "600000", "cap": "1200000", "floor_qty": "10", "max_leverage": 50, "mmr": "0.01"},
            {"floor": "1200000", "cap": "1800000", "floor_qty": "20", "max_leverage": 20, "mmr": "0.02"},
            {"floor": "1800000", "cap": "1800000000", "floor_qty": "30", "max_leverage": 10, "mmr": "0.05"}]
    d = opened("okx", BUY, lots=35 * LOT, brackets=rows)
    risk, pos = d.ex.risk, d.ex.accounts[1].positions["BTCUSDT"]
    assert risk.tier(pos, 1).mmr_ppm == risk.tier(pos, 10**15).mmr_ppm == 50_000
    # tier 4 whole position: (MMR 5% + taker 0.05%) of the notional; box 210,000
    assert view(d)["maint_margin_cash"] == 35 * 60_000 * 50_500
    d.limit(9, "BTCUSDT", BUY, 35 * LOT, 560_000)
    events = d.index("BTCUSDT", 565_000)  # below its liquidation price 56,872.04
    (cut,) = of(events, "LiquidationOrderPlaced")
    assert (cut.qty_lots, cut.price_ticks) == (15 * LOT, 540_000)  # FOK at BP, down to tier 2's cap of 20 BTC
    assert d.ex.accounts[1].positions["BTCUSDT"].size == 20 * LOT and not of(events, "TakenOverByFund")
    assert risk.tier(pos, 1).mmr_ppm == 10_000


def test_okx_deleverages_at_the_mark():
    """An empty fund cannot take the long over at 54,244: OKX closes it against the short at the mark
    54,200 (Binance: at its bankruptcy price 54,000), the gap above the bankruptcy value to the fund."""
    prices = {}
    for name in ("okx", "binance"):
        d = opened(name, BUY, insurance=0)
        events = d.index("BTCUSDT", 542_000)
        prices[name] = {e.price_ticks for e in of(events, "Deleveraged")}
        assert d.ex.accounts[9].positions["BTCUSDT"].size == 0
    assert prices == {"okx": {542_000}, "binance": {540_000}}


def test_funding_rules_differ_by_venue():
    """Hyperliquid pays hourly at F_8h / 8 on the oracle (index) notional; OKX has no interest term."""
    hl, okx = profile("hyperliquid").venue.funding, profile("okx").venue.funding
    hl_btc, okx_btc = profile("hyperliquid").instruments[0], profile("okx").instruments[0]
    assert hl.rate_e8(hl_btc, 0) == 10_000 // 8  # the interest 0.01% / 8 h, one hour of it
    assert okx.rate_e8(okx_btc, 0) == 0 and okx.rate_e8(okx_btc, 20_000) == 20_000
    assert hl.payment_price(mark=101, index=100) == 100 and okx.payment_price(mark=101, index=100) == 101
    assert (hl.weight(3, 2), profile("bybit").venue.funding.weight(3, 2)) == (2, 9)


def test_a_bad_profile_is_refused_with_the_known_choices():
    with pytest.raises(ValueError, match="is not one of"):
        build_venue({"liquidation": "bogus"})
    with pytest.raises(ValueError, match="unknown venue keys"):
        build_venue({"liquidaton": "book_slices"})
    with pytest.raises(ValueError, match="unknown venue"):
        with_venue({}, "kraken")
