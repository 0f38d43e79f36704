"""`python -m exchange forensics RUN_DIR`: forensics.json, a graph of the largest waves and
forensics.html, and the wave table and the largest wave's chain on the terminal."""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path
from typing import Any

from .forensics import analyze
from .report import pyplot

GRAPHED_WAVES = 3


def wave_table(result: dict[str, Any]) -> list[str]:
    lines = [f"  {'wave':>4} {'start s':>8} {'end s':>8} {'liqs':>5} {'depth':>5} {'roots':>5} "
             f"{'notional USDT':>14} {'roots USDT':>12} {'amplif.':>7}"]
    for w in result["waves"]:
        amp = "-" if w["amplification"] is None else f"{w['amplification']:.2f}"
        lines.append(f"  {w['wave']:>4} {w['start_s']:>8.0f} {w['end_s']:>8.0f} {w['liquidations']:>5} "
                     f"{w['depth']:>5} {w['roots']:>5} {w['notional_usdt']:>14,.0f} {w['root_notional_usdt']:>12,.0f} "
                     f"{amp:>7}")
    return lines


def largest(result: dict[str, Any]) -> dict[str, Any] | None:
    return max(result["waves"], key=lambda w: (w["notional_usdt"], -w["wave"]), default=None)


def describe(liq: dict[str, Any]) -> str:
    """One line: who, when, the mark move that breached it, what pushed, and its parents."""
    origins: dict[str, float] = {}
    for f in liq["breaching_fills"]:
        origins[f["origin"]] = origins.get(f["origin"], 0.0) + f["notional_usdt"]
    pushed = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(origins.items())) or "no fills (index move)"
    major = {p: s for p, s in liq["parents"].items() if s >= 0.01}
    parents = ", ".join(f"#{p} ({s:.0%})" for p, s in major.items()) or ("root" if not liq["parents"] else "")
    if len(major) < len(liq["parents"]):
        parents += f" (+{len(liq['parents']) - len(major)} under 1%)"
    move = (f"mark {liq['mark_from']:,.1f} -> {liq['mark_to']:,.1f} ({liq['driver']})"
            if liq["mark_to"] is not None and liq["mark_from"] is not None else liq["cause"])
    return (f"#{liq['id']} t={liq['t_s']:.0f}s account {liq['account']} {liq['mode'].lower()} {liq['side']} "
            f"{liq['notional_usdt']:,.0f} USDT; {move}; pushed by {pushed}; parents {parents}")


def text_report(result: dict[str, Any]) -> str:
    lines = [f"{len(result['liquidations'])} liquidations in {len(result['waves'])} waves", *wave_table(result)]
    w = largest(result)
    if w is not None:
        liqs = result["liquidations"]
        lines += ["", f"largest wave {w['wave']}: depth {w['depth']}, amplification "
                      f"{w['amplification'] if w['amplification'] is not None else '-'}, "
                      f"{w['linked_share']:.0%} of its liquidations caused in part by earlier forced fills",
                  "  breaching fills by origin (USDT): " + ", ".join(
                      f"{k} {v:,.0f}" for k, v in w["breaching_by_origin_usdt"].items()),
                  "  longest chain, root first:"]
        lines += [f"    {describe(liqs[i])}" for i in w["chain"]]
        lines.append("  most responsible (breaching notional taken, of it forced): " + "; ".join(
            f"account {r['account']} ({r['kind']}) {r['notional_usdt']:,.0f} ({r['forced_usdt']:,.0f})"
            for r in w["most_responsible"]))
        lines.append("  most harmed (equity lost over the wave): " + "; ".join(
            f"account {r['account']} ({r['kind']}) {r['equity_lost_usdt']:,.2f}" for r in w["most_harmed"]))
    return "\n".join(lines)


def plot_wave(result: dict[str, Any], wave: dict[str, Any], path: Path) -> None:
    """The wave as a layered graph: each liquidation at (time, generation), sized by notional, coloured
    by margin mode; an arrow from each parent (darker: a larger share of the breaching fills)."""
    plt = pyplot()
    members = [q for q in result["liquidations"] if wave["start_s"] <= q["t_s"] <= wave["end_s"]]
    slots: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for q in members:
        slots.setdefault((round(q["t_s"]), q["generation"]), []).append(q)
    pos = {}
    for (_t, gen), qs in slots.items():
        for k, q in enumerate(qs):
            pos[q["id"]] = (q["t_s"], gen + (0.6 * (k + 0.5) / len(qs) - 0.3 if len(qs) > 1 else 0.0))
    fig, ax = plt.subplots(figsize=(10, 2.2 + 1.1 * wave["depth"]))
    for q in members:
        for p, share in q["parents"].items():
            if int(p) in pos:
                ax.annotate("", xy=pos[q["id"]], xytext=pos[int(p)],
                            arrowprops={"arrowstyle": "->", "alpha": 0.15 + 0.85 * share, "lw": 0.8})
    biggest = max((q["notional_usdt"] for q in members), default=1.0) or 1.0
    for mode, colour in (("CROSS", "tab:red"), ("ISOLATED", "tab:purple")):
        qs = [q for q in members if q["mode"] == mode]
        if qs:
            ax.scatter([pos[q["id"]][0] for q in qs], [pos[q["id"]][1] for q in qs],
                       s=[10 + 150 * q["notional_usdt"] / biggest for q in qs], c=colour, alpha=0.8, zorder=3,
                       edgecolors="black", linewidths=[1.2 if q["id"] in wave["chain"] else 0.0 for q in qs],
                       label=mode.lower())
    ax.set_yticks(range(wave["depth"]), ["root" if g == 0 else f"generation {g}" for g in range(wave["depth"])])
    ax.set_ylim(-0.6, wave["depth"] - 0.4)
    ax.set_xlabel("virtual time (s)")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(f"wave {wave['wave']}: {wave['liquidations']} liquidations, depth {wave['depth']}, amplification "
                 f"{wave['amplification']}; arrows: parent -> child; outlined: the longest chain", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=85)
    plt.close(fig)


def write_forensics(result: dict[str, Any], out_dir: Path) -> Path:
    (out_dir / "forensics.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    graphed = sorted(result["waves"], key=lambda w: (-w["notional_usdt"], w["wave"]))[:GRAPHED_WAVES]
    figs = ""
    for w in graphed:
        name = f"forensics_wave_{w['wave']}.png"
        plot_wave(result, w, out_dir / name)
        figs += f"<h3>wave {w['wave']}</h3><img src='{name}' alt='causal graph of wave {w['wave']}'>"
    rows = "".join(
        f"<tr><td>{w['wave']}</td><td>{w['start_s']:.0f}</td><td>{w['end_s']:.0f}</td><td>{w['liquidations']}</td>"
        f"<td>{w['depth']}</td><td>{w['roots']}</td><td>{w['notional_usdt']:,.0f}</td>"
        f"<td>{w['root_notional_usdt']:,.0f}</td><td>{'-' if w['amplification'] is None else w['amplification']}</td>"
        f"<td>{html.escape(', '.join(str(r['account']) for r in w['most_responsible']))}</td>"
        f"<td>{html.escape(', '.join(str(r['account']) for r in w['most_harmed']))}</td></tr>"
        for w in result["waves"])
    page = out_dir / "forensics.html"
    page.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>forensics</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}td,th{{padding:2px 8px;text-align:right;
font-size:12px}}img{{max-width:100%}}pre{{font-size:11px;white-space:pre-wrap}}</style></head><body>
<h1>Cascade forensics</h1>
<table><tr><th>wave</th><th>start s</th><th>end s</th><th>liquidations</th><th>depth</th><th>roots</th>
<th>notional USDT</th><th>roots' USDT</th><th>amplification</th><th>most responsible</th><th>most harmed</th></tr>
{rows}</table><h2>The largest wave</h2><pre>{html.escape(text_report(result))}</pre>
<h2>Causal graphs</h2>{figs}<p>All links, fills and accounts: forensics.json.</p></body></html>""")
    return page


def forensics_main(argv: list[str]) -> int:
    """python -m exchange forensics RUN_DIR [--out DIR]"""
    p = argparse.ArgumentParser(prog="python -m exchange forensics",
                                description="The causal chain of every cascade wave of a run.")
    p.add_argument("run_dir")
    p.add_argument("--out", default=None, help="where to write (default: the run directory)")
    args = p.parse_args(argv)
    try:
        result = analyze(args.run_dir)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out or args.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    page = write_forensics(result, out)
    print(text_report(result))
    print(f"\nreport: {page}  data: {out / 'forensics.json'}")
    return 0
