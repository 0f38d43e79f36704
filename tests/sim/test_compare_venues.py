"""compare-venues: one seeded population and one crash under each venue profile."""

from __future__ import annotations

import json
from dataclasses import replace

from exchange.sim.compare_venues import compare_venues, venue_order, venues_table, write_venues_report
from exchange.sim.scenario import load_scenario

HEADLINE = {"binance": 54_221.11, "bybit": 54_198.00, "okx": 54_244.10, "hyperliquid": 54_683.54, "dydx": 55_670.10}


def test_the_same_crash_under_each_venue(tmp_path):
    """Every profile runs the shipped scenario (its crowd cut to 60 accounts, 8 minutes): the worked
    example's liquidation price is each venue's published one, each run's numbers are its summary's, and
    the rules change the outcome: the tier-cut venues
    hand every liquidation to the fund, and only dYdX deleverages in small per-block slices."""
    sc = load_scenario("venue_crash")
    sc = replace(sc, duration_s=480.0, agents=tuple(replace(a, count=60) if a.kind == "crowd" else a for a in sc.agents))
    result = compare_venues(sc, tmp_path)
    assert result["venues"] == venue_order() == list(HEADLINE)
    assert json.loads((tmp_path / "compare_venues.json").read_text()) == {k: v for k, v in result.items() if k != "paths"}
    for venue, lp in HEADLINE.items():
        m = result[venue]
        assert m["worked_liquidation_price"] == lp
        s = json.loads((tmp_path / venue / "summary.json").read_text())
        assert (m["accounts_liquidated"], m["adl_events"]) == (s["liquidations"]["accounts_liquidated"], s["adl"]["count"])
        assert m["fund_takeovers"] == s["fund_takeovers"]["count"]
    assert all(result[v]["accounts_liquidated"] > 0 for v in HEADLINE)
    assert len({result[v]["liquidated_notional_usdt"] for v in HEADLINE}) >= 4  # the rules matter
    assert result["hyperliquid"]["liquidation_orders"] > result["hyperliquid"]["fund_takeovers"]  # into the book
    for venue in ("bybit", "okx"):
        assert result[venue]["fund_takeovers"] == result[venue]["liquidation_orders"]
    assert result["dydx"]["fund_takeovers"] == 0 and result["dydx"]["liquidation_orders"] > result["dydx"]["accounts_liquidated"]
    table = venues_table(result)
    assert all(v in table for v in HEADLINE) and "ADL events" in table and "54,683.54" in table
    page = write_venues_report(result, tmp_path)
    assert page.exists() and (tmp_path / "venues_bars.png").stat().st_size > 1000
