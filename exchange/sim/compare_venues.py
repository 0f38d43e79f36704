"""Venues compared: one seeded scenario run under each venue profile (configs/venues/), same agents, same
seeds, same index path, so what differs is what the venue's rules did: who is liquidated, how (book,
fund takeover, ADL), what it cost the fund, and how far the cascade pushed the price
(`python -m exchange compare-venues SCENARIO`; docs/venues.md).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from ..config import venue_names
from ..core.accounts import Position
from ..core.commands import ISOLATED
from ..core.engine import Exchange
from .compare import crowd_metrics
from .compare_report import save_plot
from .report import pyplot
from .runner import build, run
from .feed import FeedSpec
from .scenario import Scenario

NS = 1_000_000_000
ORDER = ("binance", "bybit", "okx", "hyperliquid", "dydx")


def venue_order() -> list[str]:
    """The shipped profiles, Binance (the default) first."""
    names = venue_names()
    return [v for v in ORDER if v in names] + [v for v in names if v not in ORDER]


def venue_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """One run's outcome: liquidations, how they were closed, the fund's use, ADL, the price's fall."""
    liq, fund, price = summary["liquidations"], summary["insurance_fund"], summary["price"]
    crowd = crowd_metrics(summary)
    return {
        "accounts_liquidated": liq["accounts_liquidated"],
        "liquidations_triggered": liq["triggered"],
        "liquidation_orders": liq["orders"],
        "liquidated_notional_usdt": crowd["liquidated_notional_usdt"],
        "crowd_liquidated": crowd["accounts_liquidated"],
        "crowd_capital_lost_usdt": crowd["crowd_capital_lost_usdt"],
        "fund_takeovers": summary["fund_takeovers"]["count"],
        "insurance_fund_change_usdt": round(fund["end_usdt"] - fund["start_usdt"], 2),
        "insurance_fund_drawdown_usdt": round(fund["start_usdt"] - fund["min_usdt"], 2),
        "adl_events": summary["adl"]["count"],
        "adl_lots": summary["adl"]["lots"],
        "mark_min": price["mark_min"],
        "mark_max_drawdown": price["mark_max_drawdown"],
    }


def worked_liquidation_price(ex: Exchange, feed: FeedSpec, leverage: int = 10) -> float | None:
    """The liquidation price under the run's rules of a long of one base unit at the feed's start price,
    isolated at `leverage` (for venue_crash, VENUES.md's worked example: 1 BTC at 60,000, 10x)."""
    if feed.price is None:
        return None
    inst = ex.instruments[feed.symbol]
    pos = Position(0, feed.symbol)
    pos.mode, pos.leverage = ISOLATED, leverage
    pos.size = inst.qty_to_lots("1")
    pos.cost = pos.size * inst.price_to_ticks(feed.price) * inst.cash_per_tick_lot
    pos.isolated_wallet = -(-pos.cost // leverage)
    lp = ex.venue.position_price(inst, pos, pos.isolated_wallet)
    if lp is None:
        return None
    return float((Decimal(lp[0]) / lp[1] * inst.tick_size).quantize(Decimal("0.01"), ROUND_HALF_UP))


def first_liquidations(triggers: list[tuple[int, int, str, str]]) -> list[float]:
    """The time (s) each account was first liquidated (a venue that waits triggers an account many times)."""
    first: dict[int, float] = {}
    for ts, account, _, _ in triggers:
        first.setdefault(account, ts / NS)
    return sorted(first.values())


def compare_venues(scenario: Scenario, out_dir: str | Path, venues: list[str] | None = None,
                   progress: Callable[[str], Callable[[int], None] | None] | None = None) -> dict[str, Any]:
    """Run the scenario once per venue (each in out_dir/VENUE); compare_venues.json, and under "paths" the
    series the plots need."""
    out = Path(out_dir)
    venues = venues or venue_order()
    result: dict[str, Any] = {"scenario": scenario.name, "seed": scenario.seed, "venues": venues}
    paths: dict[str, Any] = {}
    end = int(scenario.duration_s * NS)
    for venue in venues:
        bar = progress(venue) if progress else None
        sim = build(scenario.with_venue(venue), out / venue)
        summary = run(sim, bar)
        if bar is not None:
            bar(end)
        result[venue] = {**venue_metrics(summary),
                         "worked_liquidation_price": worked_liquidation_price(sim.exchange, scenario.feeds[0])}
        tick = float(sim.exchange.instruments[summary["price"]["symbol"]].tick_size)
        paths[venue] = {"fund": summary["insurance_fund"]["path"],
                        "liquidations": first_liquidations(sim.recorder.triggers),
                        "mark": [[t / NS, m * tick] for t, _, m, _ in sim.recorder.prices[summary["price"]["symbol"]][::5]]}
    (out / "compare_venues.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    result["paths"] = paths
    return result


ROWS = (
    ("LP of 1 unit long, 10x isolated, at start", "worked_liquidation_price", "{:,.2f}"),
    ("accounts liquidated", "accounts_liquidated", "{:,}"),
    ("  of them in the crowd", "crowd_liquidated", "{:,}"),
    ("liquidations triggered", "liquidations_triggered", "{:,}"),
    ("liquidation closes (orders, takeovers)", "liquidation_orders", "{:,}"),
    ("liquidated notional (USDT)", "liquidated_notional_usdt", "{:,.0f}"),
    ("crowd capital lost (USDT)", "crowd_capital_lost_usdt", "{:,.0f}"),
    ("fund takeovers", "fund_takeovers", "{:,}"),
    ("insurance fund change (USDT)", "insurance_fund_change_usdt", "{:+,.0f}"),
    ("insurance fund drawdown (USDT)", "insurance_fund_drawdown_usdt", "{:,.0f}"),
    ("ADL events", "adl_events", "{:,}"),
    ("mark minimum", "mark_min", "{:,.1f}"),
    ("mark max drawdown", "mark_max_drawdown", "{:.2%}"),
)


def venues_table(result: dict[str, Any]) -> str:
    venues = result["venues"]
    lines = [f"compare-venues {result['scenario']} (seed {result['seed']}): the same population and crash under "
             f"each venue's rules", "", f"  {'':42}" + "".join(f"{v:>13}" for v in venues)]
    for label, key, spec in ROWS:
        cells = ("-" if result[v][key] is None else spec.format(result[v][key]) for v in venues)
        lines.append(f"  {label:42}" + "".join(f"{c:>13}" for c in cells))
    return "\n".join(lines)


def write_venues_report(result: dict[str, Any], out_dir: str | Path) -> Path:
    """compare_venues.html: the table, bars of liquidations / fund use / ADL, the fund and the mark over time."""
    out = Path(out_dir)
    plt = pyplot()
    venues = result["venues"]
    plots = []
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    for ax, (key, title) in zip(axes, (("accounts_liquidated", "accounts liquidated"),
                                       ("insurance_fund_drawdown_usdt", "fund drawdown (USDT)"),
                                       ("adl_events", "ADL events")), strict=True):
        ax.bar(venues, [result[v][key] for v in venues], color="tab:blue")
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelsize=7, rotation=30)
    plots.append(save_plot(plt, fig, out / "venues_bars.png", "Liquidations, fund use and ADL by venue"))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for v in venues:
        p = result["paths"][v]
        top.plot([t / 60 for t, _ in p["fund"]], [b for _, b in p["fund"]], drawstyle="steps-post", label=v)
        times = p["liquidations"]
        bottom.step([t / 60 for t in times], range(1, len(times) + 1), where="post", label=v)
    top.set_ylabel("insurance fund equity (USDT)")
    bottom.set_ylabel("accounts liquidated so far")
    bottom.set_xlabel("minutes")
    top.legend(fontsize=7)
    plots.append(save_plot(plt, fig, out / "venues_paths.png", "The insurance fund and the accounts liquidated over time"))
    fig, ax = plt.subplots(figsize=(10, 3))
    for v in venues:
        m = result["paths"][v]["mark"]
        ax.plot([t / 60 for t, _ in m], [x for _, x in m], lw=0.8, label=v)
    ax.set_xlabel("minutes")
    ax.set_ylabel("mark price")
    ax.legend(fontsize=7)
    plots.append(save_plot(plt, fig, out / "venues_mark.png", "The mark: how far each venue's liquidations pushed it"))
    figs = "".join(f"<h3>{html.escape(t)}</h3><img src='{n}' alt='{html.escape(t)}'>" for n, t in plots)
    page = out / "compare_venues.html"
    page.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>compare-venues</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:auto}}img{{max-width:100%}}</style></head><body>
<h1>Venues compared: {html.escape(result['scenario'])} (seed {result['seed']})</h1>
<pre>{html.escape(venues_table(result))}</pre>{figs}
<p>Numbers: compare_venues.json; each venue's run: VENUE/ (summary, journal). The rules: docs/venues.md.</p>
</body></html>""")
    return page

