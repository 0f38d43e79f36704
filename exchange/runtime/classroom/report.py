"""A game's results: a CSV (one row per student) and a printable HTML report with each student's
trades and liquidations and the cross-versus-isolated lesson. Works on a running Game or a replayed
one (replay.py): both have cfg, roster, board and news."""

from __future__ import annotations

import csv
import io
import time
from html import escape
from typing import Any

from .config import SCORING_RULES
from .feed import money, pct
from .scoreboard import Liquidation, ranked, side_word

CSV_COLUMNS = ("rank", "name", "team", "equity_usdt", "pnl_usdt", "return_pct", "max_drawdown_pct", "liquidations",
               "isolated_liquidations", "cross_liquidations", "liquidation_cost_usdt", "trades", "fees_usdt")


def standings(game: Any) -> list[dict[str, Any]]:
    """The students' rows, best first, with their liquidations."""
    board = game.board
    rows = []
    for student in game.roster.students.values():
        if student.account in board.tracks:
            track = board.tracks[student.account]
            rows.append({**board.row(student.account), "name": student.name, "team": student.team,
                         "student": student, "track": track})
    return ranked(rows, game.cfg.scoring, "name")


def results_csv(game: Any) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in standings(game):
        liqs = list(r["track"].liquidations)
        writer.writerow([r["rank"], r["name"], r["team"], money(r["equity_cash"]), money(r["pnl_cash"]),
                         pct(r["return_ppm"]), pct(r["max_drawdown_ppm"]), r["liquidations"],
                         sum(1 for x in liqs if x.mode == "ISOLATED"), sum(1 for x in liqs if x.mode != "ISOLATED"),
                         money(sum(x.cost_cash for x in liqs)), r["trades"], money(r["fees_cash"])])
    return out.getvalue()


def lesson(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per margin mode: how many liquidations, and the average share of the account each cost (ppm)."""
    out: dict[str, dict[str, Any]] = {}
    for mode in ("ISOLATED", "CROSS"):
        liqs = [x for r in rows for x in r["track"].liquidations if x.mode == mode]
        out[mode] = {"count": len(liqs), "students": len({id(r) for r in rows for x in r["track"].liquidations
                                                         if x.mode == mode}),
                     "average_cost_ppm": sum(x.cost_ppm for x in liqs) // len(liqs) if liqs else None,
                     "cost_cash": sum(x.cost_cash for x in liqs)}
    return out


def _clock(ts_ns: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts_ns / 1e9))


def _liq_row(game: Any, name: str, x: Liquidation) -> str:
    inst = game.board.ex.instruments.get(x.symbol)
    price = str(x.avg_price_ticks * inst.tick_size) if inst and x.avg_price_ticks else "-"
    size = str(x.qty_lots * inst.lot_step) if inst else "-"
    return (f"<tr><td>{escape(name)}</td><td>{_clock(x.ts_ns)}</td><td>{escape(x.symbol)}</td>"
            f"<td>{x.mode.lower()}</td><td>{x.leverage}x {side_word(x.side) if x.side else ''}</td><td>{size}</td>"
            f"<td>{price}</td><td>{money(x.cost_cash)}</td><td>{x.cost_ppm / 10_000:.1f}%</td></tr>")


def report_html(game: Any) -> str:
    cfg = game.cfg
    rows = standings(game)
    board = game.board
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(cfg.name)}: results</title>",
             "<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}table{border-collapse:collapse;"
             "margin:.5em 0 1.5em}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}h2{margin-top:1.5em}.student{break-inside:avoid}"
             "@media print{a{display:none}}</style></head><body>",
             f"<h1>{escape(cfg.name)}: results</h1>",
             f"<p>Ranked by {escape(SCORING_RULES[cfg.scoring])}. Every student started with "
             f"{money(cfg.starting_cash)} USDT.</p>",
             "<h2>Leaderboard</h2><table><tr><th>Student</th><th>Team</th><th>Rank</th><th>Equity</th><th>PnL</th>"
             "<th>Return</th><th>Max drawdown</th><th>Liquidations</th><th>Trades</th></tr>"]
    for r in rows:
        parts.append(f"<tr><td>{escape(r['name'])}</td><td>{escape(r['team'])}</td><td>{r['rank']}</td>"
                     f"<td>{money(r['equity_cash'])}</td><td>{money(r['pnl_cash'])}</td><td>{pct(r['return_ppm'])}%</td>"
                     f"<td>{pct(r['max_drawdown_ppm'])}%</td><td>{r['liquidations']}</td><td>{r['trades']}</td></tr>")
    parts.append("</table>")
    if board.teams:
        parts.append("<h2>Teams</h2><table><tr><th>Team</th><th>Members</th><th>Equity</th><th>PnL</th><th>Return</th>"
                     "<th>Max drawdown</th><th>Liquidations</th></tr>")
        for t in ranked([board.team_row(t) for t in board.teams], cfg.scoring, "team"):
            parts.append(f"<tr><td>{escape(t['team'])}</td><td>{t['members']}</td><td>{money(t['equity_cash'])}</td>"
                         f"<td>{money(t['pnl_cash'])}</td><td>{pct(t['return_ppm'])}%</td>"
                         f"<td>{pct(t['max_drawdown_ppm'])}%</td><td>{t['liquidations']}</td></tr>")
        parts.append("</table>")
    summary = lesson(rows)
    parts.append("<h2>The lesson: cross or isolated margin</h2>"
                 "<p>An <b>isolated</b> position stands on its own margin: when it is liquidated, only that margin is "
                 "lost. A <b>cross</b> position has the whole balance behind it: it survives a larger move, but when "
                 "it goes, it takes most of the account with it.</p><table><tr><th>Mode</th><th>Liquidations</th>"
                 "<th>Students</th><th>Average cost (share of the account)</th><th>Total cost</th></tr>")
    for mode, s in summary.items():
        avg = f"{s['average_cost_ppm'] / 10_000:.1f}%" if s["average_cost_ppm"] is not None else "-"
        parts.append(f"<tr><td>{mode.lower()}</td><td>{s['count']}</td><td>{s['students']}</td><td>{avg}</td>"
                     f"<td>{money(s['cost_cash'])}</td></tr>")
    parts.append("</table>")
    liq_rows = [_liq_row(game, r["name"], x) for r in rows for x in r["track"].liquidations]
    if liq_rows:
        parts.append("<table><tr><th>Student</th><th>Time (UTC)</th><th>Market</th><th>Mode</th><th>Position</th>"
                     "<th>Size</th><th>Closed at</th><th>Cost (USDT)</th><th>Of the account</th></tr>")
        parts += liq_rows
        parts.append("</table>")
    else:
        parts.append("<p>Nobody was liquidated.</p>")
    if game.news:
        parts.append("<h2>News</h2><ul>")
        for n in game.news:
            shock = f" (index {n['shock_pct']:+g}% over {n['over_s']:g} s)" if n["shock_pct"] else ""
            parts.append(f"<li>minute {n['elapsed_ms'] / 60_000:.1f}: {escape(n['text'])}{escape(shock)}</li>")
        parts.append("</ul>")
    parts.append("<h2>Each student's trades</h2>")
    for r in rows:
        track = r["track"]
        parts.append(f"<div class=student><h3>{escape(r['name'])}</h3><p>Equity {money(r['equity_cash'])} USDT, "
                     f"PnL {money(r['pnl_cash'])}, {r['trades']} trades, fees {money(r['fees_cash'])}, "
                     f"{r['liquidations']} liquidations.</p>")
        if track.fills:
            parts.append("<table><tr><th>Time (UTC)</th><th>Market</th><th>Side</th><th>Size</th><th>Price</th>"
                         "<th>Fee</th><th>Realized PnL</th><th></th></tr>")
            for f in track.fills:
                inst = board.ex.instruments[f.symbol]
                parts.append(f"<tr><td>{_clock(f.ts_ns)}</td><td>{escape(f.symbol)}</td>"
                             f"<td>{'buy' if f.side > 0 else 'sell'}</td><td>{f.qty_lots * inst.lot_step}</td>"
                             f"<td>{f.price_ticks * inst.tick_size}</td><td>{money(f.fee_cash)}</td>"
                             f"<td>{money(f.realized_pnl_cash)}</td><td>{'liquidation' if f.liquidation else ''}</td></tr>")
            parts.append("</table>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "".join(parts)


def logins_html(game: Any, url: str) -> str:
    """A printable sheet: one slip per student with their login."""
    slips = "".join(f"<div class=slip><b>{escape(s.name)}</b>{' (' + escape(s.team) + ')' if s.team else ''}<br>"
                    f"Go to <code>{escape(url)}</code><br>Your login: <code class=login>{escape(s.login or '?')}</code></div>"
                    for s in game.roster.students.values())
    join = ""
    if game.cfg.join_code:
        join = f"<p>Joining: students may also join at {escape(url)} with the code <b>{escape(game.cfg.join_code)}</b>.</p>"
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(game.cfg.name)}: logins</title>"
            "<style>body{font:14px system-ui,sans-serif;margin:1em}.slip{display:inline-block;width:17em;margin:.3em;"
            "padding:.6em;border:1px dashed #777;break-inside:avoid}.login{font-size:1.4em}</style></head><body>"
            f"<h1>{escape(game.cfg.name)}: logins</h1>{join}{slips}</body></html>")
