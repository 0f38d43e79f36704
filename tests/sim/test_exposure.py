"""Exposure and fairness per agent: the position at its peak and every cut of an order's size, by reason."""

from __future__ import annotations

import pytest

from exchange.sim.runner import run_scenario
from exchange.sim.scenario import parse_scenario

from .test_forensics import CASCADE, scripted

FEED = {"BTCUSDT": {"kind": "gbm", "price": "60000", "interval_s": 1, "volatility": 0.0}}


def test_peak_exposure_of_the_hand_built_longs(tmp_path):
    """1 BTC at 60,000 isolated, deposit 10,000, taker fee 30: margin posted = IM, liquidation price exact."""
    _, s = run_scenario(parse_scenario(CASCADE), tmp_path)
    rows = {r["account"]: r for r in s["per_agent"]}
    for account, leverage, margin, liq_price in ((2, 50, 1200.0, 59045.23), (3, 25, 2400.0, 57839.2),
                                                 (4, 15, 4000.0, 56231.16)):
        r = rows[account]
        assert (r["side"], r["mode"], r["leverage"], r["peak_notional_usdt"]) == ("long", "ISOLATED", leverage, 60000.0)
        assert r["margin_posted_usdt"] == margin and r["wallet_at_peak_usdt"] == 9970.0
        assert r["effective_leverage"] == round(60000 / 9970, 2) and r["liq_price_at_entry"] == liq_price
        assert not r["size_cut"] and r["cut_reasons"] == {}
    assert rows[1]["side"] == "short" and rows[1]["margin_posted_usdt"] == 18000.0  # cross: IM of 180,000 at 10x


def test_a_125x_crowd_is_cut_to_the_bracket_and_says_so(tmp_path):
    """Asking 5,000 x 0.9 x 125 = 562,500 USDT of notional at 125x, the crowd gets at most the first
    bracket's 50,000 (less 1% room): the row says the size was cut, by the bracket."""
    data = {"name": "cut", "seed": 2, "duration_s": 30, "symbols": ["BTCUSDT"], "feed": FEED, "agents": [
        {"kind": "market_maker", "count": 1, "params": {"deposit_usdt": 5_000_000, "size_usdt": 300_000,
                                                        "refresh_s": 0.1}},
        {"kind": "crowd", "count": 3, "params": {"leverage": 125, "equity_usdt": 5000, "equity_sigma": 0,
                                                 "utilization_min": 0.9, "utilization_max": 0.9, "long_bias": 1,
                                                 "round_step_usdt": 7, "cluster_bps": 0.1,  # market entries
                                                 "entry_window_s": 5, "stop_fraction": 0}}]}
    _, s = run_scenario(parse_scenario(data), tmp_path)
    crowd = [r for r in s["per_agent"] if r["kind"] == "crowd"]
    assert len(crowd) == 3
    for r in crowd:
        assert r["leverage"] == 125 and r["requested_notional_usdt"] == pytest.approx(562_500, rel=1e-3)
        assert r["size_cut"] and r["cut_reasons"].get("bracket", 0) >= 1
        assert 49_000 < r["peak_notional_usdt"] <= 50_000  # 825 lots, sized at the mark, bought at the ask
        assert r["effective_leverage"] == pytest.approx(r["peak_notional_usdt"] / r["wallet_at_peak_usdt"], abs=0.01)
        assert r["effective_leverage"] < 10  # "125x" in name, under 10x of the wallet in fact
    assert s["by_kind"]["crowd"]["size_cut"] == 3 and s["by_kind"]["crowd"]["cut_reasons"]["bracket"] == 3


def test_core_refusals_count_as_margin_and_band_cuts(tmp_path):
    data = {"name": "refused", "seed": 1, "duration_s": 5, "symbols": ["BTCUSDT"], "feed": FEED, "agents": [
        scripted("maker", [[-1, 5, 60000]], deposit_usdt=1_000_000),
        scripted("poor", [[1, 1, 0]], deposit_usdt=1_000, leverage=10),       # needs 6,000 of margin
        scripted("far", [[-1, 1, 50000]], deposit_usdt=100_000),              # 17% under the mark
    ]}
    _, s = run_scenario(parse_scenario(data), tmp_path)
    rows = {r["account"]: r for r in s["per_agent"]}
    assert rows[2]["cut_reasons"] == {"margin": 1} and rows[2]["side"] == "flat"
    assert rows[3]["cut_reasons"] == {"band": 1}
    assert rows[1]["cut_reasons"] == {} and not rows[1]["size_cut"]
