"""The game: its clock, roster, rules and scripted events, and what the teacher does (trading.py has
what a student does).

Every change to the market goes through the one sequencer as core commands (journaled; origin
`game` for the game and the teacher, `student:<id>` for a student); what is not exchange state is
written to the game journal (gamelog.py). The scoreboard and the live feed listen to every applied
command inside the sequencer. States: lobby (students may join and look, not trade) -> running <->
paused -> ended. Pausing halts trading, stops the game clock and holds the index feeds; ending halts
trading and freezes the scores.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from ...config import ExchangeConfig
from ...core.commands import (
    BUY,
    CROSS,
    MARKET,
    SELL,
    CancelAll,
    CreateAccount,
    PlaceOrder,
    SetBrackets,
    SetInstrumentParam,
    SetLeverage,
    SetMarginMode,
    SetTradingHalted,
)
from ...core.instruments import Instrument
from ...core.events import BracketsChanged, CommandRejected, InstrumentChanged, OrderRejected, TradingHalted
from ...wire.schema import WireError, field, int_field, symbol_field, to_units
from ..http.api import Api
from .config import MAX_NEWS, MAX_STUDENTS, MAX_TEAM, GameConfig, clean_name
from .feed import LiveFeed
from .gamelog import GAME_LOG, GameLog
from .replay import rebuild_board, restore
from .roster import LOGINS_FILE, LoginFile, Roster, Student, digest, new_login
from .scoreboard import Scoreboard
from .words import sentence

LOBBY, RUNNING, PAUSED, ENDED = "lobby", "running", "paused", "ended"
NEWS_KEPT = 50
TICK_S = 0.25
CLOCK_RECORD_NS = 10 * 10**9  # while running, the game clock is journaled this often (a restart resumes from it)
NS_PER_MIN = 60 * 10**9
# instrument parameters the teacher may change, in the units the console shows: name -> (core name, unit)
PARAMS: dict[str, tuple[str, Decimal]] = {
    "maker_fee_pct": ("maker_fee_ppm", Decimal("0.0001")),
    "taker_fee_pct": ("taker_fee_ppm", Decimal("0.0001")),
    "liquidation_fee_pct": ("liquidation_fee_ppm", Decimal("0.0001")),
    "price_band_pct": ("price_band_ppm", Decimal("0.0001")),
    "market_band_pct": ("market_band_ppm", Decimal("0.0001")),
    "maint_margin_pct": ("brackets", Decimal("0.0001")),  # the first tier's MMR; every tier's scales with it
}


def scaled_brackets(inst: Instrument, first_mmr_ppm: int) -> list[list[int]]:
    """The instrument's brackets with every maintenance rate scaled so the first tier's is first_mmr_ppm
    (rounded half up, at most 100%): the rows of a SetBrackets command."""
    old = inst.brackets[0].mmr_ppm
    return [[b.floor_cash, b.cap_cash, b.max_leverage,
             min(1_000_000, first_mmr_ppm if not old else (2 * b.mmr_ppm * first_mmr_ppm + old) // (2 * old))]
            for b in inst.brackets]


class GameError(Exception):
    """A request the game refuses: `message` is shown to the person as it is."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def refusal(events: list, account: int) -> str | None:
    """The plain sentence of the account's first rejection among the events, or None."""
    for ev in events:
        t = type(ev)
        if (t is OrderRejected or t is CommandRejected) and ev.account == account:
            return sentence(ev.code, ev.command if t is CommandRejected else "PlaceOrder")
    return None


def checked(fn: Callable[[], Any]) -> Any:
    """Input readers' WireError (a plain sentence already) as a GameError."""
    try:
        return fn()
    except WireError as exc:
        raise GameError(exc.message[:200]) from None


class Game:
    def __init__(self, cfg: GameConfig, config: ExchangeConfig, api: Api, run_dir: Path, log: Any) -> None:
        self.cfg = cfg
        self.config = config
        self.run_dir = run_dir
        self.api = api
        self.ex = api.ex
        self.log = log
        self.instruments = {s: api.ex.instruments[s] for s in cfg.symbols}
        self.roster = Roster()
        self.board = Scoreboard(api.ex)
        self.scoring = True
        self.state = LOBBY
        self.elapsed_ns = 0  # game time before `running_since_ns`
        self.running_since_ns: int | None = None
        self.fired: set[int] = set()
        self.news: deque[dict[str, Any]] = deque(maxlen=NEWS_KEPT)
        self.max_leverage = cfg.max_leverage
        self.roster_open = cfg.roster_open
        self.journal = GameLog(run_dir / GAME_LOG)
        self.logins = LoginFile(run_dir / LOGINS_FILE)
        self.feed = LiveFeed(self)
        self._ticker: asyncio.Task | None = None
        self._ending = False
        self.clock_recorded_ns = 0
        self._lock = asyncio.Lock()  # one roster or state change at a time (ids and names stay unique)

    # -- start and stop ------------------------------------------------------------------------
    async def start(self) -> None:
        records = self.journal.records
        hub = self.api.sequencer.hub
        if records:
            restore(self, records, self.logins.logins)
            self.scoring = self.state != ENDED
            self.clock_recorded_ns = self.elapsed_ns
            self.board = rebuild_board(self.config, self.run_dir, records)
            if self.board.ex.seq != self.ex.seq:
                self.log.warning("game scores rebuilt to another point of the journal",
                                 replayed=self.board.ex.seq, live=self.ex.seq)
            self.board.ex = self.ex
            hub.listeners.append(self.on_events)
            if self.state == RUNNING:  # the server stopped while the game ran: it resumes paused
                await self._set_state(PAUSED, [SetTradingHalted(True)], why="restart")
        else:
            self.journal.append({"e": "setup", "name": self.cfg.name, "symbols": list(self.cfg.symbols),
                                 "starting_cash": self.cfg.starting_cash, "scoring": self.cfg.scoring,
                                 "max_leverage": self.cfg.max_leverage, "roster_open": self.cfg.roster_open,
                                 "seq": self.ex.seq, "ts_ns": self.ex.ts_ns})
            hub.listeners.append(self.on_events)
            for entry in self.cfg.students:
                await self.add_student(entry.name, entry.team)
        self._freeze_index()
        self._ticker = asyncio.get_running_loop().create_task(self._tick_loop(), name="game-ticker")

    def _freeze_index(self) -> None:
        """A paused game holds the index feeds too: the market resumes where the teacher stopped it."""
        for driver in self.api.drivers.values():
            driver.frozen = self.state == PAUSED

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        if self.state == RUNNING:  # a restart resumes from this moment of the game
            self.elapsed_ns, self.running_since_ns = self.elapsed(), None
            self.record("clock", elapsed_ns=self.elapsed_ns)
        self.feed.close()
        if self.on_events in self.api.sequencer.hub.listeners:
            self.api.sequencer.hub.listeners.remove(self.on_events)
        self.journal.close()
        self.logins.close()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.api.sequencer.call(self.tick)

    # -- inside the sequencer ------------------------------------------------------------------
    def on_events(self, events: list, touched: list, ts_ns: int) -> None:
        try:
            if self.scoring:
                self.board.observe(events, ts_ns)
            self.feed.on_events(events, ts_ns)
        except Exception as exc:  # a bug of the game's must not stop the exchange's writer
            self.log.exception("game failed to follow a command", error=repr(exc))

    def tick(self) -> None:
        try:
            self._tick()
        except Exception as exc:  # as in on_events
            self.log.exception("game tick failed", error=repr(exc))

    def _tick(self) -> None:
        """The game clock (scripted events, the end), then the live feed."""
        if self.state == RUNNING:
            elapsed = self.elapsed()
            for i, ev in enumerate(self.cfg.events):
                if i not in self.fired and elapsed >= ev.at_min * NS_PER_MIN:
                    self.fire(i)
            if elapsed - self.clock_recorded_ns >= CLOCK_RECORD_NS:
                self.clock_recorded_ns = elapsed
                self.record("clock", elapsed_ns=elapsed)
            if elapsed >= self.cfg.duration_min * NS_PER_MIN and not self._ending:
                self._ending = True
                asyncio.get_running_loop().create_task(self.end())
        self.feed.tick()

    def elapsed(self) -> int:
        """Game time in ns: the clock runs only while the game runs."""
        if self.running_since_ns is None:
            return self.elapsed_ns
        return self.elapsed_ns + max(0, self.api.clock.now_ns() - self.running_since_ns)

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "elapsed_ms": self.elapsed() // 1_000_000,
                "duration_ms": int(self.cfg.duration_min * 60_000), "halted": self.ex.halted,
                "roster_open": self.roster_open and bool(self.cfg.join_code), "max_leverage": self.max_leverage,
                "news": list(self.news)[-10:]}

    def record(self, kind: str, **data: Any) -> dict[str, Any]:
        rec = {"e": kind, **data, "seq": self.ex.seq, "ts_ns": self.ex.ts_ns}
        self.journal.append(rec)
        return rec

    # -- the game's lifecycle (teacher) --------------------------------------------------------
    async def _set_state(self, state: str, commands: list, **extra: Any) -> None:
        def done(events: list) -> None:
            now = self.api.clock.now_ns()
            if self.running_since_ns is not None:
                self.elapsed_ns += max(0, now - self.running_since_ns)
                self.running_since_ns = None
            if state == RUNNING:
                self.running_since_ns = now
            if state == ENDED:
                self.scoring = False  # the standings are final
                self.elapsed_ns = min(self.elapsed_ns, int(self.cfg.duration_min * NS_PER_MIN))
            self.state = state
            self._freeze_index()
            self.record("state", state=state, elapsed_ns=self.elapsed_ns, **extra)
            self.feed.game_changed()
        await self.api.submit(commands, "game", done)

    async def begin(self) -> None:
        async with self._lock:
            if self.state != LOBBY:
                raise GameError(f"The game has already started (it is {self.state}).", 409)
            await self._set_state(RUNNING, [SetTradingHalted(False)])

    async def pause(self) -> None:
        async with self._lock:
            if self.state != RUNNING:
                raise GameError(f"Only a running game can be paused (it is {self.state}).", 409)
            await self._set_state(PAUSED, [SetTradingHalted(True)])

    async def resume(self) -> None:
        async with self._lock:
            if self.state != PAUSED:
                raise GameError(f"Only a paused game can be resumed (it is {self.state}).", 409)
            await self._set_state(RUNNING, [SetTradingHalted(False)])

    async def end(self) -> None:
        async with self._lock:
            if self.state not in (RUNNING, PAUSED):
                if self.state == ENDED:
                    return
                raise GameError("The game has not started yet.", 409)
            await self._set_state(ENDED, [SetTradingHalted(True)])

    async def halt(self, halted: bool) -> bool:
        """Halt or resume trading without touching the game clock."""
        def done(events: list) -> bool:
            ev = next(e for e in events if type(e) is TradingHalted)
            self.feed.game_changed()
            return ev.halted
        return await self.api.submit(SetTradingHalted(halted), "game", done)

    def fire(self, index: int) -> dict[str, Any]:
        """Scripted event `index` now: its news and its index shock (inside the sequencer)."""
        ev = self.cfg.events[index]
        self.fired.add(index)
        return self.announce(ev.news, ev.symbol, ev.shock_pct, ev.over_s, scripted=index)

    def announce(self, text: str, symbol: str, pct: float, over_s: float, scripted: int | None = None) -> dict[str, Any]:
        """News for everyone and, with pct, a move of the symbol's index feed by pct % over over_s s."""
        if pct:
            driver = self.api.drivers.get(symbol)
            if driver is None or driver.base is None:
                raise GameError(f"{symbol} has no index feed with a price, so it cannot be shocked.", 409)
            driver.shock(pct, over_s)
        item = {"elapsed_ms": self.elapsed() // 1_000_000, "text": text, "symbol": symbol, "shock_pct": pct,
                "over_s": over_s}
        self.news.append(item)
        self.record("news", **item, scripted=scripted)
        self.feed.game_changed()
        return item

    async def news_now(self, body: dict[str, Any]) -> dict[str, Any]:
        text = checked(lambda: field(body, "text", str, ""))
        if len(text) > MAX_NEWS:
            raise GameError(f"News can be at most {MAX_NEWS} characters.")
        inst = checked(lambda: symbol_field({"symbol": body.get("symbol", self.cfg.symbols[0])}, self.instruments))
        pct = _number(body, "shock_pct", -90, 1000)
        over_s = _number(body, "over_s", 0, 3600)
        if not text and not pct:
            raise GameError("Write some news, give a shock, or both.")
        return await self.api.read(lambda: self.announce(text, inst.symbol, pct, over_s))

    async def fire_now(self, body: dict[str, Any]) -> dict[str, Any]:
        index = checked(lambda: int_field(body, "index", 0, len(self.cfg.events) - 1)) if self.cfg.events else None
        if index is None:
            raise GameError("This game has no scripted events.")
        if index in self.fired:
            raise GameError("That event has already happened.", 409)
        return await self.api.read(lambda: self.fire(index))

    async def set_param(self, body: dict[str, Any]) -> dict[str, Any]:
        """An instrument parameter (fees, bands) for everyone, or the students' leverage cap."""
        name = checked(lambda: field(body, "name", str))
        if name == "max_leverage":
            cap = min(i.max_leverage for i in self.instruments.values())
            value = checked(lambda: int_field(body, "value", 1, cap))

            def done() -> dict[str, Any]:
                self.max_leverage = value
                self.record("rule", max_leverage=value)
                self.feed.game_changed()
                return {"name": name, "value": value}
            return await self.api.read(done)
        if name not in PARAMS:
            raise GameError(f"Unknown parameter {name[:40]!r}; choose one of: max_leverage, {', '.join(PARAMS)}.")
        inst = checked(lambda: symbol_field(body, self.instruments))
        core_name, unit = PARAMS[name]
        units = checked(lambda: to_units(field(body, "value", str), unit, name, "step"))
        if not 0 <= units <= 200_000:
            raise GameError("Give a percentage from 0 to 20.")

        if core_name == "brackets":
            return await self.api.submit(SetBrackets(inst.symbol, scaled_brackets(inst, units)), "game",
                                         lambda events: self._brackets_set(events, inst.symbol, name, units * unit))

        def answer(events: list) -> dict[str, Any]:
            ev = next((e for e in events if type(e) is InstrumentChanged), None)
            if ev is None:
                raise GameError(refusal(events, -1) or "The exchange refused the change.")
            self.instruments[inst.symbol] = self.ex.instruments[inst.symbol]
            return {"symbol": ev.symbol, "name": name, "value": str(units * unit)}
        return await self.api.submit(SetInstrumentParam(inst.symbol, core_name, units), "game", answer)

    def _brackets_set(self, events: list, symbol: str, name: str, value: Decimal) -> dict[str, Any]:
        if not any(type(e) is BracketsChanged for e in events):
            raise GameError(refusal(events, -1) or "The exchange refused the change.")
        self.instruments[symbol] = self.ex.instruments[symbol]
        return {"symbol": symbol, "name": name, "value": str(value)}

    async def set_roster_open(self, body: dict[str, Any]) -> dict[str, Any]:
        value = checked(lambda: field(body, "open", bool))
        if value and not self.cfg.join_code:
            raise GameError("This game has no join code, so students cannot join by themselves.", 409)

        def done() -> dict[str, Any]:
            self.roster_open = value
            self.record("roster", open=value)
            self.feed.game_changed()
            return {"roster_open": value}
        return await self.api.read(done)

    # -- the roster ----------------------------------------------------------------------------
    def _account_setup(self, account: int) -> list:
        """A fresh account as the game's rules want it: the starting cash, allowed mode and leverage."""
        cmds: list = [CreateAccount(account, self.cfg.starting_cash)]
        for symbol, inst in self.instruments.items():
            if CROSS not in self.cfg.margin_modes:
                cmds.append(SetMarginMode(account, symbol, self.cfg.margin_modes[0]))
            cmds.append(SetLeverage(account, symbol, min(self.max_leverage, inst.max_leverage, 10)))
        return cmds

    async def add_student(self, name: str, team: str) -> Student:
        """A new student with a fresh account (created and funded through the core) and a login."""
        async with self._lock:
            if self.roster.has_name(name):
                raise GameError("Someone in this game already has that name: choose another.", 409)
            if len(self.roster) >= MAX_STUDENTS:
                raise GameError(f"The game is full: it has {MAX_STUDENTS} students.", 409)
            login = new_login()
            sid = self.roster.next_id()
            self.logins.add(sid, login)
            account = self.api.allocate_account()

            def done(events: list) -> Student:
                why = refusal(events, account)
                if why is not None:
                    raise GameError(f"Your account could not be opened: {why}", 500)
                student = self.roster.add(Student(sid, name, team, account, digest(login), login))
                self.board.track(account, self.cfg.starting_cash, team)
                self.record("student", id=sid, name=name, team=team, account=account, login_sha256=digest(login))
                self.feed.board_changed()
                return student
            return await self.api.submit(self._account_setup(account), "game", done)

    async def join(self, body: dict[str, Any]) -> Student:
        """A student joins with a name and the game's join code while the roster is open."""
        if not self.cfg.join_code or not self.roster_open:
            raise GameError("Joining is closed. Ask your teacher for your login.", 403)
        code = body.get("code")
        if type(code) is not str or code.strip().upper() != self.cfg.join_code.upper():
            raise GameError("That join code is not right. Check it with your teacher.", 403)
        try:
            name = clean_name(body.get("name"), "Your name")
            team = clean_name(body["team"], "The team name", MAX_TEAM) if body.get("team") else ""
        except ValueError as exc:
            raise GameError(f"{exc}.") from None
        if team and self.cfg.teams and team not in self.cfg.teams:
            raise GameError(f"Choose one of the teams: {', '.join(self.cfg.teams)}.")
        return await self.add_student(name, team)

    async def reset(self, body: dict[str, Any]) -> dict[str, Any]:
        """A student starts over on a fresh account; the old one's orders are cancelled and its positions
        closed at market where the book allows (it leaves the board)."""
        sid = checked(lambda: int_field(body, "student", 1, 10**6))
        student = self.roster.students.get(sid)
        if student is None:
            raise GameError(f"There is no student {sid}.", 404)
        async with self._lock:
            old = student.account
            new = self.api.allocate_account()
            acct = self.ex.accounts.get(old)
            closing: list = [CancelAll(old, s) for s in self.instruments]
            for symbol, pos in (acct.positions.items() if acct else ()):
                if pos.size and symbol in self.instruments:
                    closing.append(PlaceOrder(old, symbol, SELL if pos.size > 0 else BUY, abs(pos.size),
                                              order_type=MARKET, reduce_only=True))

            def done(events: list) -> dict[str, Any]:
                why = refusal(events, new)
                if why is not None:
                    raise GameError(f"The new account could not be opened: {why}", 500)
                self.board.untrack(old)
                self.roster.move(student, new)
                self.board.track(new, self.cfg.starting_cash, student.team)
                self.record("reset", id=sid, account=new, old_account=old)
                self.feed.board_changed()
                self.feed.student_changed(student)
                return {"student": sid, "account": new, "old_account": old}
            return await self.api.submit(closing + self._account_setup(new), "game", done)


def _number(body: dict[str, Any], key: str, lo: float, hi: float) -> float:
    value = body.get(key, 0)
    if type(value) is str:
        try:
            value = float(Decimal(value)) if value.strip() else 0.0
        except ArithmeticError:
            value = None
    if type(value) not in (int, float) or not lo <= value <= hi:
        raise GameError(f"{key} must be a number from {lo:g} to {hi:g}.")
    return float(value)
