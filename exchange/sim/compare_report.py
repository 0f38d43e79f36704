"""The plots of compare-margin, beside its table: equity paths by mode, loss beyond the failing
position, survival curves; and compare.html with the table, what was held equal and the plots."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ..core.commands import CROSS, ISOLATED
from .compare import compare_table
from .report import pyplot

COLOURS = {CROSS: "tab:red", ISOLATED: "tab:purple"}


def _quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def write_compare_report(result: dict[str, Any], out_dir: str | Path) -> Path:
    out = Path(out_dir)
    plt = pyplot()
    paths = result["paths"]
    plots = []

    fig, ax = plt.subplots(figsize=(10, 4))
    for mode, series in paths["equity"].items():
        if not series:
            continue
        t = [ts / 60 for ts, _ in series]
        ax.plot(t, [_quantile(v, 0.5) for _, v in series], color=COLOURS[mode], label=f"{mode.lower()} median")
        ax.fill_between(t, [_quantile(v, 0.1) for _, v in series], [_quantile(v, 0.9) for _, v in series],
                        color=COLOURS[mode], alpha=0.15, label=f"{mode.lower()} 10% to 90%")
        ax.plot(t, [sum(v) / len(v) for _, v in series], color=COLOURS[mode], ls="--", lw=0.8,
                label=f"{mode.lower()} mean")
    ax.set_xlabel("minutes")
    ax.set_ylabel("equity / deposit (crowd)")
    ax.legend(fontsize=7, loc="lower left")
    plots.append(save_plot(plt, fig, out / "compare_equity.png", "Equity paths of the crowd by margin mode"))

    fig, ax = plt.subplots(figsize=(10, 3.5))
    for mode, rows in paths["rows"].items():
        losses = sorted((r["loss_beyond_position_usdt"] for r in rows if r["kind"] == "crowd" and r["liquidated"]),
                        reverse=True)
        if losses:
            ax.plot(range(1, len(losses) + 1), losses, color=COLOURS[mode], drawstyle="steps-post",
                    label=f"{mode.lower()} ({len(losses)} liquidated, total {sum(losses):,.0f} USDT)")
    ax.set_xlabel("liquidated crowd accounts, largest loss first")
    ax.set_ylabel("loss beyond the failing position (USDT)")
    ax.legend(fontsize=8)
    plots.append(save_plot(plt, fig, out / "compare_loss_beyond.png",
                       "Loss beyond the failing position, per liquidated account (contagion to the rest of the wallet)"))

    fig, ax = plt.subplots(figsize=(10, 3.5))
    end = paths["duration_s"]
    for mode, rows in paths["rows"].items():
        crowd = [r for r in rows if r["kind"] == "crowd"]
        times = sorted(r["first_liquidation_s"] for r in crowd if r["liquidated"])
        if crowd:
            xs = [0.0] + [t / 60 for t in times] + [end / 60]
            ys = [1.0] + [1 - (i + 1) / len(crowd) for i in range(len(times))] + [1 - len(times) / len(crowd)]
            ax.step(xs, ys, where="post", color=COLOURS[mode], label=f"{mode.lower()}")
    ax.set_xlabel("minutes")
    ax.set_ylabel("share of the crowd not yet liquidated")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    plots.append(save_plot(plt, fig, out / "compare_survival.png", "Survival curves: never liquidated so far"))

    figs = "".join(f"<h3>{html.escape(t)}</h3><img src='{n}' alt='{html.escape(t)}'>" for n, t in plots)
    page = out / "compare.html"
    page.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>compare-margin</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:auto}}img{{max-width:100%}}</style></head><body>
<h1>Cross vs isolated: {html.escape(result['scenario'])} (seed {result['seed']})</h1>
<pre>{html.escape(compare_table(result))}</pre>{figs}
<p>Numbers: compare.json; each side's run: cross/ and isolated/ (summary, journal). How to read it:
docs/research.md.</p></body></html>""")
    return page


def save_plot(plt: Any, fig: Any, path: Path, title: str) -> tuple[str, str]:
    fig.tight_layout()
    fig.savefig(path, dpi=85)
    plt.close(fig)
    return path.name, title
