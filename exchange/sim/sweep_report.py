"""The sweep report: every metric against every swept parameter, with the spread across seeds.

One PNG per parameter (`sweep_PARAM.png`), a panel per metric: each seed's value as a dot, the mean
across seeds as a line, and the band from the lowest to the highest seed. With two or more
parameters, the other parameters' combinations are separate lines (pooled when there are more than
MAX_LINES of them). `sweep_report.html` shows the plots and a table of means (with min-max) per value.
"""

from __future__ import annotations

import html
import itertools
import json
from pathlib import Path
from statistics import mean
from typing import Any

from .report import pyplot

PLOTTED = (("liquidated_share", "liquidated share of accounts"),
           ("crowd_liquidated_share", "liquidated share of the crowd"),
           ("liquidated_notional_usdt", "liquidated notional (USDT)"),
           ("largest_wave_liquidations", "liquidations in the largest wave"),
           ("insurance_fund_min_usdt", "insurance fund minimum (USDT)"),
           ("adl_events", "ADL events"),
           ("mark_max_drawdown", "mark max drawdown"),
           ("crowd_effective_leverage", "crowd effective leverage (mean)"))
MAX_LINES = 6


def _key(v: Any) -> str:
    return json.dumps(v, sort_keys=True)


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def groups(rows: list[dict[str, Any]], axis: str, others: list[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """rows by (the other axes' values, as a label) then by this axis' value."""
    lines: dict[str, dict[str, list[dict[str, Any]]]] = {}
    combos = {tuple(_key(r[o]) for o in others) for r in rows}
    pooled = len(combos) > MAX_LINES
    for r in rows:
        label = "all" if pooled or not others else ", ".join(f"{o}={_key(r[o])}" for o in others)
        lines.setdefault(label, {}).setdefault(_key(r[axis]), []).append(r)
    return lines


def write_sweep_report(rows: list[dict[str, Any]], axes: dict[str, list[Any]], out_dir: str | Path,
                       title: str = "sweep") -> Path:
    """The PNGs and sweep_report.html in out_dir; returns the page."""
    out = Path(out_dir)
    metrics = [(m, label) for m, label in PLOTTED if any(r.get(m) is not None for r in rows)]
    figures = []
    for i, axis in enumerate(axes):
        name = f"sweep_{i}.png"
        _plot_axis(rows, axis, [a for a in axes if a != axis], [_key(v) for v in axes[axis]], metrics, out / name)
        figures.append((name, axis))
    page = out / "sweep_report.html"
    page.write_text(_html(rows, axes, metrics, figures, title))
    return page


def _plot_axis(rows: list[dict[str, Any]], axis: str, others: list[str], order: list[str],
               metrics: list[tuple[str, str]], path: Path) -> None:
    values = [json.loads(k) for k in order]
    numeric = _numeric(values)
    xs = {k: (v if numeric else i) for i, (k, v) in enumerate(zip(order, values))}
    cols = 2
    nrows = (len(metrics) + cols - 1) // cols
    plt = pyplot()
    fig, axs = plt.subplots(nrows, cols, figsize=(11, 3.0 * nrows), squeeze=False)
    lines = sorted(groups(rows, axis, others).items())
    for (metric, label), ax in itertools.zip_longest(metrics, axs.flat, fillvalue=(None, None)):
        if metric is None:
            ax.set_visible(False)
            continue
        for line, (lname, by_value) in enumerate(lines):
            colour = f"C{line % 10}"
            pts = [(xs[k], [r[metric] for r in by_value[k] if r.get(metric) is not None])
                   for k in order if k in by_value]
            pts = [(x, ys) for x, ys in pts if ys]
            if not pts:
                continue
            for x, ys in pts:
                ax.scatter([x] * len(ys), ys, s=9, color=colour, alpha=0.45, linewidths=0)
            px = [x for x, _ in pts]
            ax.plot(px, [mean(ys) for _, ys in pts], color=colour, lw=1.5, label=lname if others else None)
            ax.fill_between(px, [min(ys) for _, ys in pts], [max(ys) for _, ys in pts], color=colour, alpha=0.12)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(axis, fontsize=8)
        if not numeric:
            ax.set_xticks(range(len(order)), [str(v) for v in values], fontsize=7)
        if others and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="best")
    fig.suptitle(f"metrics against {axis} (dots: seeds; line: mean; band: min to max)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _html(rows: list[dict[str, Any]], axes: dict[str, list[Any]], metrics: list[tuple[str, str]],
          figures: list[tuple[str, str]], title: str) -> str:
    seeds = sorted({r["seed"] for r in rows})
    tables = []
    for axis, values in axes.items():
        head = "".join(f"<th>{html.escape(label)}</th>" for _, label in metrics)
        body = ""
        for v in values:
            sel = [r for r in rows if _key(r[axis]) == _key(v)]
            cells = ""
            for m, _ in metrics:
                ys = [r[m] for r in sel if r.get(m) is not None]
                cells += f"<td>{mean(ys):,.4g} <small>({min(ys):,.4g} to {max(ys):,.4g})</small></td>" if ys else "<td>-</td>"
            body += f"<tr><td>{html.escape(_key(v))}</td><td>{len(sel)}</td>{cells}</tr>"
        tables.append(f"<h2>{html.escape(axis)}</h2><table><tr><th>value</th><th>runs</th>{head}</tr>{body}</table>")
    figs = "".join(f"<h3>against {html.escape(a)}</h3><img src='{n}' alt='metrics against {html.escape(a)}'>"
                   for n, a in figures)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}td,th{{padding:2px 8px;text-align:right;
font-size:12px}}td:first-child{{text-align:left}}img{{max-width:100%}}</style></head><body>
<h1>Sweep {html.escape(title)}</h1>
<p>{len(rows)} runs; seeds {seeds[0] if seeds else '-'} to {seeds[-1] if seeds else '-'} ({len(seeds)}) per
combination. Each cell: the mean over the runs with that value, and the lowest to highest.
Rows: sweep.csv.</p>
{''.join(tables)}
<h2>Plots</h2>{figs}
</body></html>"""
