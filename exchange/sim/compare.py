"""Cross vs isolated, measured: one seeded scenario run twice, the retail crowd on cross then on
isolated margin (same agents, same seeds, same orders until the first divergence), side by side."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from statistics import mean, median
from typing import Any

from ..core.commands import CROSS, ISOLATED, SetMarginMode
from ..persistence import read_journal
from ..persistence import JOURNAL_NAME
from .runner import run_scenario
from .scenario import Scenario

NS = 1_000_000_000
MODES = (CROSS, ISOLATED)


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


def compare(scenario: Scenario, out_dir: str | Path,
            progress: Callable[[str], Callable[[int], None] | None] | None = None) -> dict[str, Any]:
    out = Path(out_dir)
    result: dict[str, Any] = {"scenario": scenario.name, "seed": scenario.seed}
    for mode in MODES:
        bar = progress(mode) if progress else None
        _, summary = run_scenario(scenario.with_crowd_mode(mode), out / mode.lower(), bar)
        if bar is not None:
            bar(int(scenario.duration_s * NS))
        result[mode] = crowd_metrics(summary)
    result["divergence"] = first_divergence(out / "cross", out / "isolated")
    (out / "compare.json").write_text(json.dumps(result, indent=1, sort_keys=True))
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

    lines = [f"compare-margin {result['scenario']} (seed {result['seed']}): the retail crowd on cross vs isolated",
             "", f"  {'':42}{'cross':>16}{'isolated':>16}"]
    for label, key, spec in ROWS:
        lines.append(f"  {label:42}{fmt(spec, result[CROSS][key]):>16}{fmt(spec, result[ISOLATED][key]):>16}")
    d = result["divergence"]
    at = "never" if d["at_s"] is None else f"at t={d['at_s']:.0f} s"
    lines += ["", f"  the two runs sent the same {d['identical_commands']:,} commands, then diverged {at}"]
    return "\n".join(lines)
