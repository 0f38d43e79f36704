"""Cross vs isolated, measured: one seeded scenario run twice, the retail crowd on cross then on
isolated margin (same agents, same seeds, same orders until the first divergence), side by side.

What is held equal is checked, not assumed (`held_equal`). By default an isolated position posts its
initial margin (notional / leverage) and the rest of the wallet stays outside the bucket; the
like-for-like variant (`whole_wallet`) moves the whole free balance into the bucket, so both modes
have the same money behind a single position and any difference left is the mode's own."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from statistics import mean, median
from typing import Any

from ..core.commands import CROSS, ISOLATED, AdjustIsolatedMargin, SetMarginMode
from ..core.events import OrderCancelled, PositionChanged
from ..persistence import JOURNAL_NAME, read_journal
from .runner import build, run
from .scenario import Scenario
from .simulation import Simulation

NS = 1_000_000_000
MODES = (CROSS, ISOLATED)
EQUITY_SAMPLES = 200


def crowd_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """The crowd's outcome in one run: who was liquidated, when, and what they lost."""
    crowd = [r for r in summary["per_agent"] if r["kind"] == "crowd"]
    liq = [r for r in crowd if r["liquidated"]]
    times = [r["first_liquidation_s"] for r in liq]
    lost = [max(0.0, -r["pnl_usdt"]) for r in crowd]
    lost_liq = [max(0.0, -r["pnl_usdt"]) for r in liq]
    beyond = [r["loss_beyond_position_usdt"] for r in liq]
    fund = summary["insurance_fund"]
    return {
        "crowd_accounts": len(crowd),
        "accounts_liquidated": len(liq),
        "first_liquidation_s": min(times) if times else None,
        "median_liquidation_s": median(times) if times else None,
        "capital_lost_per_account_usdt": round(mean(lost), 2) if lost else 0.0,
        "capital_lost_per_liquidated_usdt": round(mean(lost_liq), 2) if lost_liq else 0.0,
        "crowd_capital_lost_usdt": round(sum(lost), 2),
        "loss_beyond_position_usdt": round(sum(beyond), 2),
        "loss_beyond_position_per_liquidated_usdt": round(mean(beyond), 2) if beyond else 0.0,
        "liquidated_notional_usdt": round(sum(m["notional_usdt"] for m in summary["liquidations"]["by_mode"].values()), 2),
        "insurance_fund_change_usdt": round(fund["end_usdt"] - fund["start_usdt"], 2),
        "insurance_fund_min_usdt": fund["min_usdt"],
        "adl_events": summary["adl"]["count"],
    }


def first_divergence(cross_dir: Path, isolated_dir: Path) -> dict[str, Any]:
    """The first journal record (margin-mode set-up aside) where the two runs' commands differ."""
    def records(d: Path):
        return (e for e in read_journal(d / JOURNAL_NAME) if type(e.command) is not SetMarginMode)

    n = 0
    for a, b in zip(records(cross_dir), records(isolated_dir)):
        if a.command != b.command or a.ts_ns != b.ts_ns:
            return {"identical_commands": n, "at_s": min(a.ts_ns, b.ts_ns) / NS}
        n += 1
    return {"identical_commands": n, "at_s": None}


class WholeWallet:
    """The like-for-like policy: whenever an isolated crowd position fills or an order of its account is
    cancelled (freeing its reserve), the account's whole free balance is moved into the bucket
    (AdjustIsolatedMargin, sent for the agent and journaled), so the isolated position has the whole
    wallet behind it, as a cross position has."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.agent_of = {a.ctx.account: i for i, a in enumerate(sim.agents) if a.kind == "crowd"}

    def __call__(self, events: list) -> list[tuple[int, Any]]:
        touched = {(ev.account, ev.symbol): None for ev in events
                   if type(ev) in (PositionChanged, OrderCancelled) and ev.account in self.agent_of}
        out = []
        ex = self.sim.exchange
        for account, symbol in touched:  # after a fill, or a cancel that frees an order's reserve
            acct = ex.accounts[account]
            pos = acct.positions[symbol]
            if pos.isolated and pos.size:
                free = ex.free_balance(acct)
                if free > 0:
                    out.append((self.agent_of[account], AdjustIsolatedMargin(account, symbol, free)))
        return out


def held_equal(summaries: dict[str, dict[str, Any]], divergence: dict[str, Any], whole_wallet: bool) -> dict[str, Any]:
    """What the two runs share, checked: the agents (kind, leverage, deposit), the orders until the
    first divergence, the wallets, and the margin posted by crowd positions opened before it."""
    rows = {m: summaries[m]["per_agent"] for m in MODES}
    same_agents = [(r["account"], r["kind"], r["leverage"], r["deposit_usdt"]) for r in rows[CROSS]] == \
        [(r["account"], r["kind"], r["leverage"], r["deposit_usdt"]) for r in rows[ISOLATED]]
    until = divergence["at_s"] if divergence["at_s"] is not None else float("inf")
    early = [(a, b) for a, b in zip(rows[CROSS], rows[ISOLATED], strict=True)
             if a["kind"] == "crowd" and a["peak_s"] is not None and b["peak_s"] is not None
             and max(a["peak_s"], b["peak_s"]) < until]
    return {
        "agents": same_agents, "accounts": len(rows[CROSS]),
        "deposits_usdt": round(sum(r["deposit_usdt"] for r in rows[CROSS]), 2) if same_agents else None,
        "identical_commands": divergence["identical_commands"], "diverged_at_s": divergence["at_s"],
        "positions_before_divergence": len(early),
        "same_margin_posted": sum(1 for a, b in early if a["margin_posted_usdt"] == b["margin_posted_usdt"]),
        "isolated_margin": "the whole wallet" if whole_wallet else "initial margin (notional / leverage)",
    }


def compare(scenario: Scenario, out_dir: str | Path,
            progress: Callable[[str], Callable[[int], None] | None] | None = None,
            whole_wallet: bool = False) -> dict[str, Any]:
    """Run the crowd on cross then on isolated margin (with whole_wallet: every isolated bucket gets the
    account's whole free balance); compare.json, and the series the plots need under "paths"."""
    out = Path(out_dir)
    result: dict[str, Any] = {"scenario": scenario.name, "seed": scenario.seed,
                              "variant": "whole-wallet" if whole_wallet else "initial-margin"}
    summaries, paths = {}, {}
    end = int(scenario.duration_s * NS)
    for mode in MODES:
        bar = progress(mode) if progress else None
        sim = build(scenario.with_crowd_mode(mode), out / mode.lower())
        crowd = [a.ctx.account for a in sim.agents if a.kind == "crowd"]
        sim.recorder.track_equity(crowd, max(1.0, scenario.duration_s / EQUITY_SAMPLES))
        if whole_wallet and mode == ISOLATED:
            sim.kernel.policy = WholeWallet(sim)
        summaries[mode] = run(sim, bar)
        if bar is not None:
            bar(end)
        deposits = [sim.exchange.accounts[a].deposited for a in crowd]
        paths[mode] = [(ts / NS, [e / d for e, d in zip(eq, deposits, strict=True)])
                       for ts, eq in sim.recorder.equity_paths]
        result[mode] = crowd_metrics(summaries[mode])
    result["divergence"] = first_divergence(out / "cross", out / "isolated")
    result["held_equal"] = held_equal(summaries, result["divergence"], whole_wallet)
    (out / "compare.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    result["paths"] = {"equity": paths, "rows": {m: summaries[m]["per_agent"] for m in MODES},
                       "duration_s": scenario.duration_s}
    return result


ROWS = (
    ("crowd accounts", "crowd_accounts", "{:,}"),
    ("accounts liquidated", "accounts_liquidated", "{:,}"),
    ("time to first liquidation (s)", "first_liquidation_s", "{:,.0f}"),
    ("median time of liquidation (s)", "median_liquidation_s", "{:,.0f}"),
    ("capital lost per account (USDT)", "capital_lost_per_account_usdt", "{:,.2f}"),
    ("capital lost per liquidated account", "capital_lost_per_liquidated_usdt", "{:,.2f}"),
    ("loss beyond the failing position, total", "loss_beyond_position_usdt", "{:,.2f}"),
    ("  per liquidated account", "loss_beyond_position_per_liquidated_usdt", "{:,.2f}"),
    ("liquidated notional (USDT)", "liquidated_notional_usdt", "{:,.0f}"),
    ("insurance fund change (USDT)", "insurance_fund_change_usdt", "{:+,.2f}"),
    ("insurance fund minimum (USDT)", "insurance_fund_min_usdt", "{:,.2f}"),
    ("ADL events", "adl_events", "{:,}"),
)


def compare_table(result: dict[str, Any]) -> str:
    """The side-by-side table, plain text."""
    def fmt(spec: str, v: Any) -> str:
        return "-" if v is None else spec.format(v)

    h = result["held_equal"]
    lines = [f"compare-margin {result['scenario']} (seed {result['seed']}): the retail crowd on cross vs isolated"
             f" ({result['variant']})", "", "held equal:",
             f"  same agents (kind, leverage, deposit): {'yes' if h['agents'] else 'NO'}, {h['accounts']:,} accounts, "
             f"deposits {h['deposits_usdt'] or 0:,.0f} USDT",
             f"  same orders until the first divergence: {h['identical_commands']:,} commands"
             + (f", to t={h['diverged_at_s']:.0f} s" if h["diverged_at_s"] is not None else " (never diverged)"),
             f"  same margin posted by crowd positions opened before it: {h['same_margin_posted']:,} of "
             f"{h['positions_before_divergence']:,}",
             f"  an isolated position posts: {h['isolated_margin']}",
             "", f"  {'':42}{'cross':>16}{'isolated':>16}"]
    for label, key, spec in ROWS:
        lines.append(f"  {label:42}{fmt(spec, result[CROSS][key]):>16}{fmt(spec, result[ISOLATED][key]):>16}")
    return "\n".join(lines)
