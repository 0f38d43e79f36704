"""The `[game]` table of a game file: who plays, with what, for how long, and what happens when.

A game file is a server config (instruments via `base`, `[feeds]`, `[population]`, `[http]`,
`[server]`) with a `[game]` table; this module reads only the table, strictly: unknown keys, wrong
types and out-of-range values are refused with a sentence naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ...core.commands import CROSS, ISOLATED
from ...core.money import CASH_SCALE

SCORING_RULES = {
    "return": "return on the starting cash",
    "pnl": "profit and loss in USDT",
    "risk_adjusted": "return minus the maximum drawdown",
}
MAX_STUDENTS = 500
MAX_EVENTS = 100
MAX_NAME = 24
MAX_TEAM = 24
MAX_NEWS = 280
MAX_DURATION_MIN = 24 * 60
NAME_TEXT = re.compile(r"^[\w][\w .'\-]*$")
JOIN_CODE = re.compile(r"^[A-Za-z0-9-]{4,24}$")
GAME_KEYS = {"name", "symbols", "duration_min", "starting_cash", "max_leverage", "margin_modes", "scoring",
             "join_code", "roster_open", "roster", "events"}
ROSTER_KEYS = {"count", "teams", "students"}
EVENT_KEYS = {"at_min", "news", "symbol", "shock_pct", "over_s"}


@dataclass(frozen=True, slots=True)
class Entry:
    """A student of the roster as the file names them."""

    name: str
    team: str = ""


@dataclass(frozen=True, slots=True)
class ScriptedEvent:
    """At `at_min` minutes of game time: show `news`, and move the index of `symbol` by `shock_pct` %
    over `over_s` seconds (no move when shock_pct is 0)."""

    at_min: float
    news: str
    symbol: str = ""
    shock_pct: float = 0.0
    over_s: float = 0.0


@dataclass(frozen=True, slots=True)
class GameConfig:
    name: str
    symbols: tuple[str, ...]
    duration_min: float
    starting_cash: int  # cash units
    max_leverage: int
    margin_modes: tuple[str, ...]
    scoring: str
    join_code: str  # "" = no joining by code
    roster_open: bool
    students: tuple[Entry, ...]
    teams: tuple[str, ...]
    events: tuple[ScriptedEvent, ...]


def clean_name(value: Any, what: str = "name", limit: int = MAX_NAME) -> str:
    """A display name: 1..limit letters, digits, spaces and . ' - (leading and trailing spaces dropped)."""
    if type(value) is not str:
        raise ValueError(f"{what} must be text")
    text = " ".join(value.split())
    if not 1 <= len(text) <= limit or not NAME_TEXT.match(text):
        raise ValueError(f"{what} must be 1 to {limit} letters, digits, spaces or . ' -")
    return text


def _number(table: dict[str, Any], key: str, lo: float, hi: float, default: float | None = None) -> float:
    value = table.get(key, default)
    if value is None:
        raise ValueError(f"game: {key} is required")
    if type(value) not in (int, float) or not lo <= value <= hi:
        raise ValueError(f"game: {key} must be a number from {lo:g} to {hi:g}, not {value!r}")
    return float(value)


def _cash(value: Any) -> int:
    try:
        amount = Decimal(str(value)) if type(value) in (str, int) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or not 1 <= amount <= 10**9 or (amount * CASH_SCALE) % 1:
        raise ValueError(f"game: starting_cash must be an amount of USDT from 1 to 1,000,000,000, not {value!r}")
    return int(amount * CASH_SCALE)


def _unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    extra = set(table) - known
    if extra:
        raise ValueError(f"{where}: unknown keys {sorted(extra)}; known: {sorted(known)}")


def parse_game(table: Any, symbols: list[str], instrument_max_leverage: dict[str, int]) -> GameConfig:
    """The [game] table, checked against the exchange's instruments."""
    if not isinstance(table, dict):
        raise ValueError("game: [game] must be a table")
    _unknown(table, GAME_KEYS, "game")
    name = clean_name(table.get("name", "Trading game"), "game: name", 60)
    chosen = table.get("symbols", symbols[:1])
    if not isinstance(chosen, list) or not chosen or not all(type(s) is str for s in chosen):
        raise ValueError("game: symbols must be a list of instrument symbols")
    unknown = [s for s in chosen if s not in symbols]
    if unknown or len(set(chosen)) != len(chosen):
        raise ValueError(f"game: symbols {chosen} must be distinct instruments of the exchange: {symbols}")
    cap = min(instrument_max_leverage[s] for s in chosen)
    modes = table.get("margin_modes", [ISOLATED, CROSS])
    if not isinstance(modes, list) or not modes or any(m not in (ISOLATED, CROSS) for m in modes) \
            or len(set(modes)) != len(modes):
        raise ValueError("game: margin_modes must list ISOLATED and/or CROSS")
    scoring = table.get("scoring", "return")
    if scoring not in SCORING_RULES:
        raise ValueError(f"game: scoring must be one of {sorted(SCORING_RULES)}, not {scoring!r}")
    join_code = table.get("join_code", "")
    if type(join_code) is not str or (join_code and not JOIN_CODE.match(join_code)):
        raise ValueError("game: join_code must be 4 to 24 letters, digits or dashes (or left out: no joining)")
    roster_open = table.get("roster_open", bool(join_code))
    if type(roster_open) is not bool:
        raise ValueError("game: roster_open must be true or false")
    students, teams = _roster(table.get("roster", {}))
    events = _events(table.get("events", []), chosen)
    duration = _number(table, "duration_min", 1, MAX_DURATION_MIN, 45)
    late = [e.at_min for e in events if e.at_min >= duration]
    if late:
        raise ValueError(f"game: events at minutes {late} fall after the end (duration_min = {duration:g})")
    return GameConfig(
        name=name, symbols=tuple(chosen), duration_min=duration,
        starting_cash=_cash(table.get("starting_cash", "10000")),
        max_leverage=int(_number(table, "max_leverage", 1, cap, min(20, cap))),
        margin_modes=tuple(modes), scoring=scoring, join_code=join_code, roster_open=roster_open,
        students=students, teams=teams, events=events)


def _roster(table: Any) -> tuple[tuple[Entry, ...], tuple[str, ...]]:
    if not isinstance(table, dict):
        raise ValueError("game.roster must be a table")
    _unknown(table, ROSTER_KEYS, "game.roster")
    teams_raw = table.get("teams", [])
    if not isinstance(teams_raw, list) or len(teams_raw) > MAX_STUDENTS:
        raise ValueError("game.roster: teams must be a list of team names")
    teams = tuple(clean_name(t, "game.roster: a team name", MAX_TEAM) for t in teams_raw)
    entries: list[Entry] = []
    listed = table.get("students", [])
    if not isinstance(listed, list):
        raise ValueError("game.roster: students must be a list of {name, team}")
    for s in listed:
        if not isinstance(s, dict) or set(s) - {"name", "team"} or "name" not in s:
            raise ValueError(f"game.roster: a student is {{name, team}}, not {s!r}")
        team = clean_name(s["team"], "game.roster: a team name", MAX_TEAM) if "team" in s else ""
        entries.append(Entry(clean_name(s["name"], "game.roster: a student's name"), team))
    count = table.get("count", 0)
    if type(count) is not int or not 0 <= count <= MAX_STUDENTS:
        raise ValueError(f"game.roster: count must be a whole number from 0 to {MAX_STUDENTS}")
    width = len(str(max(count, 1)))
    for i in range(count):  # generated students, dealt to the teams in turn
        entries.append(Entry(f"Student {i + 1:0{width}d}", teams[i % len(teams)] if teams else ""))
    if len(entries) > MAX_STUDENTS:
        raise ValueError(f"game.roster: at most {MAX_STUDENTS} students")
    names = [e.name.casefold() for e in entries]
    if len(set(names)) != len(names):
        raise ValueError("game.roster: two students have the same name")
    for e in entries:
        if e.team and e.team not in teams:
            teams += (e.team,)
    return tuple(entries), teams


def _events(rows: Any, symbols: list[str]) -> tuple[ScriptedEvent, ...]:
    if not isinstance(rows, list) or len(rows) > MAX_EVENTS:
        raise ValueError(f"game.events must be a list of at most {MAX_EVENTS} [[game.events]] tables")
    out = []
    for row in rows:
        if not isinstance(row, dict):
            raise ValueError("game.events: each event is a table")
        _unknown(row, EVENT_KEYS, "game.events")
        news = row.get("news", "")
        if type(news) is not str or len(news) > MAX_NEWS:
            raise ValueError(f"game.events: news must be text of at most {MAX_NEWS} characters")
        symbol = row.get("symbol", symbols[0])
        if symbol not in symbols:
            raise ValueError(f"game.events: symbol {symbol!r} is not one of the game's symbols {symbols}")
        pct = _number(row, "shock_pct", -90, 1000, 0)
        if not news and not pct:
            raise ValueError("game.events: an event needs news text, an index shock, or both")
        out.append(ScriptedEvent(_number(row, "at_min", 0, MAX_DURATION_MIN), news, symbol, pct,
                                 _number(row, "over_s", 0, 3600, 0)))
    return tuple(sorted(out, key=lambda e: e.at_min))
