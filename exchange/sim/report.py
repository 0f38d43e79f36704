"""summary.json and the report (PNG plots + report.html) of a simulation run.

Money in the summary is in USDT (floats rounded to cents, for reading; the journal holds the exact
integers), times in seconds of virtual time, prices in quote units.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.commands import CROSS, ISOLATED
from .recorder import Peak, equity

if TYPE_CHECKING:
    from .simulation import Simulation

CASH = 1_000_000
NS = 1_000_000_000
WAVE_GAP_S = 60.0  # liquidations less than this apart belong to the same cascade wave
MAX_PATH_POINTS = 400


def usdt(cash: float) -> float:
    return round(cash / CASH, 2)


def _downsample(points: list, n: int = MAX_PATH_POINTS) -> list:
    if len(points) <= n:
        return points
    step = len(points) / n
    return [points[int(i * step)] for i in range(n)] + [points[-1]]


def agent_rows(sim: Simulation) -> list[dict[str, Any]]:
    """Per agent: kind, margin mode, leverage, deposit, final equity, PnL, liquidation facts, and its
    exposure at its peak notional with every cut of its order sizes by reason."""
    ex, rec = sim.exchange, sim.recorder
    rows = []
    for a in sim.agents:
        acct = ex.accounts[a.ctx.account]
        eq = equity(ex, acct)
        pnl = eq - acct.deposited + acct.withdrawn
        margin = a.cost_at_liquidation // a.leverage if a.liquidated else 0
        rows.append({
            "account": a.ctx.account, "kind": a.kind, "mode": a.margin_mode, "leverage": a.leverage,
            "deposit_usdt": usdt(acct.deposited), "equity_usdt": usdt(eq), "pnl_usdt": usdt(pnl),
            "liquidated": bool(a.liquidated),
            "first_liquidation_s": a.first_liquidation_ns / NS if a.liquidated else None,
            "position_margin_usdt": usdt(margin),
            "loss_beyond_position_usdt": usdt(max(0, -pnl - margin)) if a.liquidated else 0.0,
            **exposure(rec.peaks.get(a.ctx.account), a.requested_peak_cash,
                       _add(a.size_cuts, rec.cuts.get(a.ctx.account, {}))),
        })
    return rows


def _add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in sorted({*a, *b})}


def exposure(peak: Peak | None, requested_cash: int, cuts: dict[str, int]) -> dict[str, Any]:
    """The exposure columns of one agent's row (see docs/research.md, "Exposure and fairness")."""
    cuts = dict(sorted(cuts.items()))
    if peak is None:
        return {"side": "flat", "peak_notional_usdt": 0.0, "peak_s": None, "requested_notional_usdt": usdt(requested_cash),
                "effective_leverage": 0.0, "margin_posted_usdt": 0.0, "wallet_at_peak_usdt": 0.0,
                "liq_price_at_entry": None, "size_cut": bool(cuts), "cut_reasons": cuts}
    return {
        "side": "long" if peak.size > 0 else "short", "peak_notional_usdt": usdt(peak.cost), "peak_s": peak.ts / NS,
        "requested_notional_usdt": usdt(requested_cash),
        "effective_leverage": round(peak.cost / peak.wallet_total, 2) if peak.wallet_total > 0 else None,
        "margin_posted_usdt": usdt(peak.margin_posted), "wallet_at_peak_usdt": usdt(peak.wallet_total),
        "liq_price_at_entry": round(peak.liq_price, 2) if peak.liq_price is not None else None,
        "size_cut": bool(cuts), "cut_reasons": cuts,
    }


def cascade_waves(times_notional: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """Group liquidations (time s, notional) into waves separated by more than WAVE_GAP_S."""
    waves: list[dict[str, Any]] = []
    for t, notional in times_notional:
        if waves and t - waves[-1]["end_s"] <= WAVE_GAP_S:
            w = waves[-1]
            w["end_s"] = t
            w["liquidations"] += 1
            w["notional_usdt"] = round(w["notional_usdt"] + notional, 2)
        else:
            waves.append({"start_s": t, "end_s": t, "liquidations": 1, "notional_usdt": round(notional, 2)})
    return waves


def max_drawdown(prices: list[int]) -> float:
    """Largest peak-to-trough fall, as a fraction of the peak."""
    peak, worst = 0, 0.0
    for p in prices:
        peak = max(peak, p)
        if peak:
            worst = max(worst, (peak - p) / peak)
    return round(worst, 6)


def summarize(sim: Simulation, journal_hash: str = "") -> dict[str, Any]:
    ex, rec, sc = sim.exchange, sim.recorder, sim.scenario
    by_mode: dict[str, dict[str, float]] = {m: {"count": 0, "notional_usdt": 0.0} for m in (CROSS, ISOLATED)}
    timeline = []
    for ts, sym, _side, qty, bp, _filled, mode in rec.liquidations:
        notional = qty * bp * ex.instruments[sym].cash_per_tick_lot / CASH
        by_mode[mode]["count"] += 1
        by_mode[mode]["notional_usdt"] = round(by_mode[mode]["notional_usdt"] + notional, 2)
        timeline.append((ts / NS, notional))
    triggered_by_mode: dict[str, int] = defaultdict(int)
    for _, _, _, mode in rec.triggers:
        triggered_by_mode[mode] += 1
    rows = agent_rows(sim)
    kinds: dict[str, dict[str, Any]] = {}
    for r in rows:
        k = kinds.setdefault(r["kind"], {"count": 0, "liquidated": 0, "pnl_usdt": 0.0, "size_cut": 0,
                                         "cut_reasons": {}})
        k["count"] += 1
        k["liquidated"] += int(r["liquidated"])
        k["pnl_usdt"] = round(k["pnl_usdt"] + r["pnl_usdt"], 2)
        k["size_cut"] += int(r["size_cut"])
        k["cut_reasons"] = _add(k["cut_reasons"], {c: 1 for c in r["cut_reasons"]})
    fund = [b for _, b in rec.insurance]
    symbol = sc.feeds[0].symbol
    tick = float(ex.instruments[symbol].tick_size)
    prices = rec.prices[symbol]
    marks = [m for _, _, m, _ in prices]
    lasts = [lp for _, _, _, lp in prices if lp]
    return {
        "scenario": sc.name, "seed": sc.seed, "duration_s": sc.duration_s, "agents": len(sim.agents),
        "commands": sim.kernel.commands, "events": rec.events, "journal_sha256": journal_hash,
        "state_hash": ex.state_hash(),
        "liquidations": {
            "orders": len(rec.liquidations), "triggered": len(rec.triggers),
            "triggered_by_mode": dict(sorted(triggered_by_mode.items())),
            "accounts_liquidated": len({a for _, a, _, _ in rec.triggers}),
            "first_s": rec.triggers[0][0] / NS if rec.triggers else None,
            "by_mode": by_mode,
        },
        "insurance_fund": {"start_usdt": usdt(fund[0]), "end_usdt": usdt(fund[-1]), "min_usdt": usdt(min(fund)),
                           "path": [[t / NS, usdt(b)] for t, b in _downsample(rec.insurance)]},
        "adl": {"count": rec.adl_count // 2, "lots": rec.adl_lots // 2},
        "fund_takeovers": {"count": rec.takeover_count, "lots": rec.takeover_lots},
        "price": {"symbol": symbol, "index_start": round(prices[0][1] * tick, 8) if prices else None,
                  "mark_end": round(marks[-1] * tick, 8) if marks else None,
                  "mark_min": round(min(marks) * tick, 8) if marks else None,
                  "mark_max_drawdown": max_drawdown(marks), "last_max_drawdown": max_drawdown(lasts)},
        "cascade_waves": cascade_waves(timeline),
        "by_kind": kinds,
        "per_agent": rows,
    }


def write_summary(summary: dict[str, Any], out_dir: Path) -> Path:
    path = Path(out_dir) / "summary.json"
    path.write_text(json.dumps(summary, indent=1, sort_keys=True))
    return path


# -- plots and page ----------------------------------------------------------------------------
def pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend (imported on first use: runs without plots stay light)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_report(sim: Simulation, summary: dict[str, Any], out_dir: Path) -> Path:
    """Five PNG plots and report.html embedding them; returns the page's path."""
    plt = pyplot()

    out = Path(out_dir)
    rec, ex = sim.recorder, sim.exchange
    symbol = summary["price"]["symbol"]
    tick = float(ex.instruments[symbol].tick_size)
    k = ex.instruments[symbol].cash_per_tick_lot
    prices = rec.prices[symbol]
    minutes = [t / NS / 60 for t, *_ in prices]
    plots = []

    def save(fig: Any, name: str, title: str) -> None:
        for ax in fig.axes:
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        plots.append((name, title))

    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(minutes, [p[1] * tick for p in prices], label="index", lw=1)
    ax.plot(minutes, [p[2] * tick for p in prices], label="mark", lw=1)
    ax.plot(minutes, [(p[3] or p[1]) * tick for p in prices], label="last", lw=0.7, alpha=0.7)
    for mode, colour in ((CROSS, "tab:red"), (ISOLATED, "tab:purple")):
        pts = [(ts / NS / 60, bp * tick) for ts, s, _, _, bp, _, m in rec.liquidations if m == mode and s == symbol]
        if pts:
            ax.scatter(*zip(*pts), s=12, c=colour, marker="v", label=f"liquidation ({mode.lower()})", zorder=3)
    ax.set_xlabel("minutes")
    ax.set_ylabel(symbol)
    save(fig, "prices.png", "Index, mark and last price; markers at the bankruptcy price of each liquidation")

    fig, ax = plt.subplots(figsize=(10, 3.5))
    span = max(1.0, summary["duration_s"])
    bin_s = max(1.0, span / 120)
    for mode, colour in ((CROSS, "tab:red"), (ISOLATED, "tab:purple")):
        bins: dict[int, float] = defaultdict(float)
        for ts, s, _, qty, bp, _, m in rec.liquidations:
            if m == mode and s == symbol:
                bins[int(ts / NS / bin_s)] += qty * bp * k / CASH
        if bins:
            xs = sorted(bins)
            ax.bar([x * bin_s / 60 for x in xs], [bins[x] for x in xs], width=bin_s / 60, color=colour,
                   alpha=0.7, label=mode.lower(), align="edge")
    ax.set_xlabel("minutes")
    ax.set_ylabel(f"USDT per {bin_s:.0f} s")
    save(fig, "liquidations.png", "Liquidated notional over time (at the bankruptcy price)")

    fig, ax = plt.subplots(figsize=(10, 3))
    ins = rec.insurance + [(int(summary["duration_s"] * NS), rec.insurance[-1][1])]
    ax.step([t / NS / 60 for t, _ in ins], [b / CASH for _, b in ins], where="post")
    ax.set_xlabel("minutes")
    ax.set_ylabel("USDT")
    save(fig, "insurance.png", "Insurance fund")

    fig, ax = plt.subplots(figsize=(10, 3))
    oi = rec.open_interest[symbol]
    ax.plot([t / NS / 60 for t, _ in oi], [v * float(ex.instruments[symbol].lot_step) for _, v in oi])
    ax.set_xlabel("minutes")
    ax.set_ylabel(f"{symbol} (long side)")
    save(fig, "open_interest.png", "Open interest")

    fig, ax = plt.subplots(figsize=(10, 3.5))
    for mode, colour in ((CROSS, "tab:red"), (ISOLATED, "tab:purple")):
        ratios = [r["equity_usdt"] / r["deposit_usdt"] for r in summary["per_agent"]
                  if r["mode"] == mode and r["kind"] == "crowd" and r["deposit_usdt"]]
        if ratios:
            ax.hist(ratios, bins=30, alpha=0.6, color=colour, label=f"{mode.lower()} ({len(ratios)})")
    ax.set_xlabel("final equity / deposit (retail crowd)")
    ax.set_ylabel("accounts")
    save(fig, "equity.png", "Equity distribution of the retail crowd by margin mode")

    page = out / "report.html"
    page.write_text(_html(summary, plots))
    return page


def headline(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The few numbers a person wants first, as (label, value) rows."""
    liq = summary["liquidations"]
    fund = summary["insurance_fund"]
    waves = summary["cascade_waves"]
    by_mode = liq["by_mode"]
    first = liq["first_s"]
    return [
        ("agents", str(summary["agents"])),
        ("simulated time", f"{summary['duration_s']:.0f} s"),
        ("commands / events", f"{summary['commands']:,} / {summary['events']:,}"),
        ("accounts liquidated", str(liq["accounts_liquidated"])),
        ("liquidations triggered cross / isolated",
         f"{liq['triggered_by_mode'].get(CROSS, 0)} / {liq['triggered_by_mode'].get(ISOLATED, 0)}"),
        ("liquidation orders cross / isolated", f"{by_mode[CROSS]['count']} / {by_mode[ISOLATED]['count']}"),
        ("liquidated notional cross / isolated",
         f"{by_mode[CROSS]['notional_usdt']:,.0f} / {by_mode[ISOLATED]['notional_usdt']:,.0f} USDT"),
        ("first liquidation", f"{first:.1f} s" if first is not None else "none"),
        ("cascade waves (largest)", f"{len(waves)} ({max((w['liquidations'] for w in waves), default=0)} liquidations)"),
        ("insurance fund start -> end (min)",
         f"{fund['start_usdt']:,.0f} -> {fund['end_usdt']:,.0f} ({fund['min_usdt']:,.0f}) USDT"),
        ("taken over by the insurance fund", str(summary["fund_takeovers"]["count"])),
        ("ADL events", str(summary["adl"]["count"])),
        ("mark max drawdown", f"{summary['price']['mark_max_drawdown'] * 100:.2f} %"),
    ]


def _html(summary: dict[str, Any], plots: list[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>" for a, b in headline(summary))
    kinds = "".join(f"<tr><td>{html.escape(k)}</td><td>{v['count']}</td><td>{v['liquidated']}</td>"
                    f"<td>{v['pnl_usdt']:,.2f}</td></tr>" for k, v in sorted(summary["by_kind"].items()))
    waves = "".join(f"<tr><td>{w['start_s']:.0f}</td><td>{w['end_s']:.0f}</td><td>{w['liquidations']}</td>"
                    f"<td>{w['notional_usdt']:,.0f}</td></tr>" for w in summary["cascade_waves"])
    figs = "".join(f"<h3>{html.escape(t)}</h3><img src='{n}' alt='{html.escape(t)}'>" for n, t in plots)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(summary['scenario'])}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:auto}}td,th{{padding:2px 10px;text-align:right}}
td:first-child{{text-align:left}}img{{max-width:100%}}</style></head><body>
<h1>Scenario {html.escape(summary['scenario'])} (seed {summary['seed']})</h1>
<table>{rows}</table>
<h2>By agent kind</h2><table><tr><th>kind</th><th>agents</th><th>liquidated</th><th>PnL USDT</th></tr>{kinds}</table>
<h2>Cascade waves</h2><table><tr><th>start s</th><th>end s</th><th>liquidations</th><th>notional USDT</th></tr>{waves}</table>
<h2>Plots</h2>{figs}
<p>Data: summary.json, journal.msgpack (replays to state hash {summary['state_hash'][:16]}...), events.msgpack.</p>
</body></html>"""
