"""A game rebuilt from its run directory: the game journal (roster, clock, news, rules) and the
exchange journal (everything else). The scores come from replaying the exchange journal through a
Scoreboard, tracking each student's account from the command that opened it (the `seq` of its
record) and stopping at the end of the game: the same events in the same order as when it ran, so the
same numbers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...config import ExchangeConfig
from ...core.engine import Exchange
from ...persistence import JOURNAL_NAME, read_journal
from .config import GameConfig
from .gamelog import GAME_LOG, read_log
from .roster import LOGINS_FILE, Roster, Student

NEWS_KEPT = 50


@dataclass
class Replayed:
    """What restore() fills: the same attributes a running Game has."""

    cfg: GameConfig
    roster: Roster = field(default_factory=Roster)
    board: Any = None
    state: str = "lobby"
    elapsed_ns: int = 0
    running_since_ns: int | None = None
    fired: set[int] = field(default_factory=set)
    news: deque = field(default_factory=lambda: deque(maxlen=NEWS_KEPT))
    max_leverage: int = 0
    roster_open: bool = False


def read_logins(run_dir: Path) -> dict[int, str]:
    path = run_dir / LOGINS_FILE
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        parts = line.split(" ")
        if len(parts) == 2 and parts[0].isdigit():
            out[int(parts[0])] = parts[1]
    return out


def restore(target: Any, records: list[dict[str, Any]], logins: dict[int, str]) -> None:
    """The game's state from its journal records, onto a Game or a Replayed (not the scores)."""
    for rec in records:
        kind = rec.get("e")
        if kind == "setup":
            target.max_leverage = rec["max_leverage"]
            target.roster_open = rec["roster_open"]
        elif kind == "student":
            sid = rec["id"]
            target.roster.add(Student(sid, rec["name"], rec["team"], rec["account"], rec["login_sha256"],
                                      logins.get(sid, "")))
        elif kind == "reset":
            target.roster.move(target.roster.students[rec["id"]], rec["account"])
        elif kind == "state":
            target.state = rec["state"]
            target.elapsed_ns = rec["elapsed_ns"]
        elif kind == "clock":
            target.elapsed_ns = rec["elapsed_ns"]
        elif kind == "news":
            target.news.append({k: rec[k] for k in ("elapsed_ms", "text", "symbol", "shock_pct", "over_s")})
            if rec.get("scripted") is not None:
                target.fired.add(rec["scripted"])
        elif kind == "rule":
            target.max_leverage = rec["max_leverage"]
        elif kind == "roster":
            target.roster_open = rec["open"]
    target.running_since_ns = None  # a game that was running resumes paused


def rebuild_board(config: ExchangeConfig, run_dir: Path, records: list[dict[str, Any]]) -> Any:
    """The scoreboard, from a replay of the exchange journal (on an exchange of its own)."""
    from .scoreboard import Scoreboard

    ex = Exchange(config.instruments, config.initial_insurance_fund_cash, venue=config.venue, assets=config.assets)
    board = Scoreboard(ex)
    start_cash = next((r["starting_cash"] for r in records if r.get("e") == "setup"), 0)
    actions: dict[int, list[dict[str, Any]]] = {}
    for rec in records:
        if rec.get("e") in ("student", "reset") or (rec.get("e") == "state" and rec.get("state") == "ended"):
            actions.setdefault(rec["seq"], []).append(rec)
    teams = {r["id"]: r["team"] for r in records if r.get("e") == "student"}
    scoring = True
    if not actions:
        return board
    last = max(actions)
    path = run_dir / JOURNAL_NAME
    for env in read_journal(path) if path.exists() else ():
        events = ex.apply(env)
        if scoring:
            board.observe(events, env.ts_ns)
            board.new_liquidations.clear()
        for rec in actions.get(env.seq, ()):
            if rec["e"] == "student":
                board.track(rec["account"], start_cash, rec["team"])
            elif rec["e"] == "reset":
                board.untrack(rec["old_account"])
                board.track(rec["account"], start_cash, teams.get(rec["id"], ""))
            else:
                scoring = False
        if env.seq >= last and not scoring:
            break
    return board


def replay_run(config: ExchangeConfig, cfg: GameConfig, run_dir: Path) -> Replayed:
    """A finished (or interrupted) game, read back for its results."""
    records = read_log(run_dir / GAME_LOG)
    if not records:
        raise FileNotFoundError(f"{run_dir / GAME_LOG}: no game was played in this run directory")
    game = Replayed(cfg)
    restore(game, records, read_logins(run_dir))
    game.board = rebuild_board(config, run_dir, records)
    return game
