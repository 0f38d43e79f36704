"""Original vs fork after the fork time: the same figures computed from both runs' events after T."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.events import (
    Deleveraged,
    InsuranceFundChanged,
    LiquidationTriggered,
    MarkPriceUpdated,
    PublicLiquidation,
    TakenOverByFund,
)
from .replay import run_events
from .report import pyplot
from .runner import read_run_meta, scenario_of

NS = 1_000_000_000
CASH = 1_000_000


def after_stats(events: Iterable[tuple[int, Any]], at_ns: int, k: dict[str, int], tick: dict[str, float],
                symbol: str) -> dict[str, Any]:
    """Liquidations, ADL, fund and mark of one run after at_ns, with the paths for the plots."""
    liquidated: dict[int, float] = {}  # account -> first liquidation time after T
    triggered = orders = adl = takeovers = 0
    notional = 0.0
    fund = None
    fund_min = None
    marks: list[tuple[float, float]] = []
    cum: list[tuple[float, float]] = []
    for ts, ev in events:
        if ts <= at_ns:
            continue
        cls = type(ev)
        if cls is MarkPriceUpdated and ev.symbol == symbol:
            marks.append((ts / NS, ev.mark_ticks * tick[symbol]))
        elif cls is LiquidationTriggered:
            triggered += 1
            liquidated.setdefault(ev.account, ts / NS)
        elif cls is PublicLiquidation:
            orders += 1
            notional += ev.qty_lots * ev.bankruptcy_price_ticks * k[ev.symbol] / CASH
            cum.append((ts / NS, notional))
        elif cls is Deleveraged:
            adl += 1
        elif cls is TakenOverByFund:
            takeovers += 1
        elif cls is InsuranceFundChanged:
            fund = ev.balance_cash / CASH
            fund_min = fund if fund_min is None else min(fund_min, fund)
    return {"liquidations_triggered": triggered, "accounts_liquidated": len(liquidated),
            "liquidation_orders": orders, "liquidated_notional_usdt": round(notional, 2), "adl_events": adl // 2,
            "fund_takeovers": takeovers, "insurance_fund_last_usdt": None if fund is None else round(fund, 2),
            "insurance_fund_min_usdt": None if fund_min is None else round(fund_min, 2),
            "mark_min": round(min(m for _, m in marks), 2) if marks else None,
            "mark_end": round(marks[-1][1], 2) if marks else None,
            "liquidated": liquidated, "marks": marks, "cumulative_notional": cum}


ROWS = (("liquidations triggered", "liquidations_triggered", "{:,}"),
        ("accounts liquidated", "accounts_liquidated", "{:,}"),
        ("liquidation orders", "liquidation_orders", "{:,}"),
        ("liquidated notional (USDT)", "liquidated_notional_usdt", "{:,.0f}"),
        ("ADL events", "adl_events", "{:,}"),
        ("taken over by the fund", "fund_takeovers", "{:,}"),
        ("insurance fund at the end (USDT)", "insurance_fund_last_usdt", "{:,.2f}"),
        ("insurance fund minimum (USDT)", "insurance_fund_min_usdt", "{:,.2f}"),
        ("mark minimum", "mark_min", "{:,.2f}"),
        ("mark at the end", "mark_end", "{:,.2f}"))


def compare_runs(original_dir: str | Path, fork_dir: str | Path, at_s: float) -> dict[str, Any]:
    """Both runs after at_s side by side (also written to FORK/fork_report.json)."""
    meta = read_run_meta(fork_dir)
    scenario = scenario_of(meta)
    k = {i.symbol: i.cash_per_tick_lot for i in scenario.config.instruments}
    tick = {i.symbol: float(i.tick_size) for i in scenario.config.instruments}
    symbol = scenario.feeds[0].symbol
    at_ns = int(at_s * NS)
    orig = after_stats(run_events(original_dir), at_ns, k, tick, symbol)
    fork = after_stats(run_events(fork_dir), at_ns, k, tick, symbol)
    only_orig = sorted(set(orig["liquidated"]) - set(fork["liquidated"]))
    only_fork = sorted(set(fork["liquidated"]) - set(orig["liquidated"]))
    result = {"original": str(original_dir), "fork": str(fork_dir), "at_s": at_s, "changes": meta["fork"]["changes"],
              "seed": meta["fork"]["seed"],
              "figures": {key: {"original": orig[key], "fork": fork[key]} for _, key, _ in ROWS},
              "liquidated_only_in_original": only_orig, "liquidated_only_in_fork": only_fork,
              "identical_after_fork": orig["liquidated"] == fork["liquidated"] and orig["marks"] == fork["marks"]}
    result["table"] = fork_table(result)
    (Path(fork_dir) / "fork_report.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    result["paths"] = {"original": orig, "fork": fork}
    return result


def fork_table(result: dict[str, Any]) -> str:
    def fmt(spec: str, v: Any) -> str:
        return "-" if v is None else spec.format(v)

    changes = ", ".join(f"{k}={v}" for k, v in result["changes"].items()) or "no change"
    seed = "" if result["seed"] is None else f", seed {result['seed']} after T"
    lines = [f"fork at t={result['at_s']:g} s ({changes}{seed}): after T", "",
             f"  {'':36}{'original':>16}{'fork':>16}"]
    for label, key, spec in ROWS:
        f = result["figures"][key]
        lines.append(f"  {label:36}{fmt(spec, f['original']):>16}{fmt(spec, f['fork']):>16}")
    a, b = result["liquidated_only_in_original"], result["liquidated_only_in_fork"]
    lines += ["", f"  liquidated only in the original: {len(a)} accounts {a[:12]}{' ...' if len(a) > 12 else ''}",
              f"  liquidated only in the fork:     {len(b)} accounts {b[:12]}{' ...' if len(b) > 12 else ''}"]
    if result["identical_after_fork"]:
        lines.append("  the fork reproduces the original after T (same liquidations, same mark path)")
    return "\n".join(lines)


def write_fork_report(result: dict[str, Any], out_dir: str | Path) -> Path:
    """fork_report.html with two plots (mark; cumulative liquidated notional), original vs fork."""
    out = Path(out_dir)
    plt = pyplot()
    paths = result["paths"]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    for name, colour in (("original", "tab:blue"), ("fork", "tab:red")):
        p = paths[name]
        if p["marks"]:
            ax1.plot([t / 60 for t, _ in p["marks"]], [m for _, m in p["marks"]], color=colour, lw=1, label=name)
        if p["cumulative_notional"]:
            cum = p["cumulative_notional"] + ([(p["marks"][-1][0], p["cumulative_notional"][-1][1])] if p["marks"] else [])
            ax2.step([t / 60 for t, _ in cum], [v for _, v in cum], where="post", color=colour, label=name)
    ax1.set_ylabel("mark")
    ax2.set_ylabel("liquidated notional since T (USDT)")
    ax2.set_xlabel("minutes")
    for ax in (ax1, ax2):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "fork.png", dpi=85)
    plt.close(fig)
    page = out / "fork_report.html"
    page.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>fork</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:auto}}img{{max-width:100%}}</style></head><body>
<h1>Original vs fork after t = {result['at_s']:g} s</h1><pre>{html.escape(result['table'])}</pre>
<img src="fork.png" alt="mark and liquidated notional after the fork, original vs fork">
<p>Original: {html.escape(result['original'])}; fork: {html.escape(result['fork'])} (run.json records the
changes; the fork replays from its snapshot and journal).</p></body></html>""")
    return page
