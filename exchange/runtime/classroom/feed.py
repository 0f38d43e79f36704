"""The live feed of the game's pages over one WebSocket each: what the projector and every student see.

Runs inside the sequencer. `on_events` (after each command) notes trades, liquidations and which
students' accounts changed; `tick` (every TICK_S) sends what changed since the last one: the market
of each symbol (book, new trades, prices, open interest, funding, insurance fund) encoded once for
every page, the game's status and the leaderboard (at most once a second), and to each student
whose account changed their own account, positions and orders, plus notices (a liquidation). A page
that connects gets a `hello` with the price history and the recent liquidations.

Bounded: HISTORY_KEPT price samples (one a second) per symbol, LIQUIDATIONS_KEPT liquidations,
TRADES_KEPT trades per symbol; each connection's outbox as streams.Connection bounds it (a reader too
far behind is dropped).
"""

from __future__ import annotations

import json
from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from ...core import views
from ...core.commands import BUY, SELL
from ...core.events import MarkPriceUpdated, PublicLiquidation, Trade
from ...core.money import CASH_DECIMALS, PPM
from ..http.binance import shapes
from ..http.streams import Connection
from .scoreboard import Liquidation, ranked, side_word

if TYPE_CHECKING:
    from ...core import Exchange, Instrument
    from ..http.api import Api
    from .config import GameConfig
    from .roster import Roster, Student
    from .scoreboard import Scoreboard


class Game(Protocol):
    """What the feed reads of its game (game.py; a Protocol, so this module needs no import of it)."""

    ex: Exchange
    api: Api
    cfg: GameConfig
    instruments: dict[str, Instrument]
    roster: Roster
    board: Scoreboard

    def status(self) -> dict[str, Any]: ...


HISTORY_KEPT = 3600
LIQUIDATIONS_KEPT = 100
TRADES_KEPT = 30
BOOK_LEVELS = 10
SAMPLE_MS = 1000
BOARD_MS = 1000
FILLS_SHOWN = 20
MAX_CONNECTIONS = 2000
OUTBOX_BYTES = 1 << 20


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def pct(ppm: int | None) -> str | None:
    """ppm as a percentage string with two decimals (None stays None)."""
    return None if ppm is None else f"{ppm / 10_000:.2f}"


def money(cash: int) -> str:
    """Cash units as USDT with two decimals (exact decimal rounding, half to even)."""
    return f"{Decimal(cash).scaleb(-CASH_DECIMALS):.2f}"


class LiveFeed:
    def __init__(self, game: Game) -> None:
        self.game = game
        self.ex = game.ex
        self.conns: dict[Connection, Student | None] = {}
        self.watching: dict[int, set[Connection]] = {}  # student id -> their pages
        self.history: dict[str, deque[list[int]]] = {s: deque(maxlen=HISTORY_KEPT) for s in game.cfg.symbols}
        self.trades: dict[str, deque[list[Any]]] = {s: deque(maxlen=TRADES_KEPT) for s in game.cfg.symbols}
        self.new_trades: dict[str, list] = {s: [] for s in game.cfg.symbols}
        self.liquidations: deque[dict[str, Any]] = deque(maxlen=LIQUIDATIONS_KEPT)
        self.new_liquidations: list[dict[str, Any]] = []
        self.liquidation_count = 0  # since the server started
        self.notices: dict[int, list[dict[str, Any]]] = {}
        self.dirty: set[int] = set()  # accounts whose page needs a new `me`
        self.marks_moved = False
        self.published_seq = -1
        self.next_sample_ms = 0
        self.next_board_ms = 0
        self.board_dirty = True
        self.game_dirty = True
        self.board_json = ""

    # -- connections ---------------------------------------------------------------------------
    def attach(self, conn: Connection, student: Student | None) -> None:
        """A page connected: its hello (inside the sequencer, so nothing is missed or sent twice)."""
        if len(self.conns) >= MAX_CONNECTIONS:
            conn.drop("too many pages connected")
            return
        self.conns[conn] = student
        hello: dict[str, Any] = {"t": "hello", "game": self.static(), "status": self.game.status(),
                                 "history": {s: list(h) for s, h in self.history.items()},
                                 "liquidations": list(self.liquidations), "liquidation_count": self.liquidation_count,
                                 "board": self.board(),
                                 "markets": {s: self.market(s, list(self.trades[s])) for s in self.history}}
        if student is not None:
            self.watching.setdefault(student.id, set()).add(conn)
            hello["me"] = self.me(student)
        conn.push(dumps(hello))

    def detach(self, conn: Connection) -> None:
        student = self.conns.pop(conn, None)
        if student is not None:
            pages = self.watching.get(student.id)
            if pages is not None:
                pages.discard(conn)
                if not pages:
                    del self.watching[student.id]

    def close(self) -> None:
        for conn in list(self.conns):
            conn.drop("the game server is stopping")

    def static(self) -> dict[str, Any]:
        cfg = self.game.cfg
        return {"name": cfg.name, "symbols": list(cfg.symbols), "starting_cash": money(cfg.starting_cash),
                "margin_modes": list(cfg.margin_modes), "scoring": cfg.scoring, "teams": list(cfg.teams),
                "instruments": {s: {"tick": str(i.tick_size), "lot": str(i.lot_step), "base": shapes.base_asset(s),
                                    "min_qty": shapes.qty(i.min_qty_lots, i)}
                                for s, i in self.game.instruments.items()},
                "events": [{"at_min": e.at_min} for e in cfg.events]}

    # -- events (inside the sequencer, after each command) -------------------------------------
    def on_events(self, events: list, ts_ns: int) -> None:
        roster = self.game.roster.by_account
        ms = ts_ns // 1_000_000
        public_liqs: list[PublicLiquidation] = []
        for ev in events:
            t = type(ev)
            if t is Trade:
                if ev.symbol in self.new_trades:
                    inst = self.ex.instruments[ev.symbol]
                    row = [ms, shapes.px(ev.price_ticks, inst), shapes.qty(ev.qty_lots, inst),
                           "buy" if ev.taker_side == BUY else "sell", ev.liquidation]
                    self.trades[ev.symbol].append(row)
                    self.new_trades[ev.symbol].append(row)
                for account in (ev.taker_account, ev.maker_account):
                    if account in roster:
                        self.dirty.add(account)
            elif t is MarkPriceUpdated:
                self.marks_moved = True
            elif t is PublicLiquidation:
                public_liqs.append(ev)
            else:
                account = getattr(ev, "account", None)
                if account in roster:
                    self.dirty.add(account)
        ours = self.game.board.take_liquidations()
        for account, liq in ours:
            student = roster.get(account)
            if student is not None:
                self.notices.setdefault(student.id, []).append(notice(liq, self.ex.instruments, student))
                self.board_dirty = True
        for ev in public_liqs:
            if ev.symbol not in self.history:
                continue
            inst = self.ex.instruments[ev.symbol]
            who = next((roster[a].name for a, liq in ours if liq.symbol == ev.symbol and a in roster), "")
            item = {"ms": ms, "symbol": ev.symbol, "side": "long" if ev.side == SELL else "short",
                    "qty": shapes.qty(ev.qty_lots, inst), "mode": ev.mode.lower(), "who": who,
                    "price": shapes.px(ev.avg_price_ticks or ev.bankruptcy_price_ticks, inst),
                    "ticks": ev.avg_price_ticks or ev.bankruptcy_price_ticks}
            self.liquidations.append(item)
            self.new_liquidations.append(item)
            self.liquidation_count += 1

    def game_changed(self) -> None:
        self.game_dirty = True

    def board_changed(self) -> None:
        self.board_dirty = True

    def student_changed(self, student: Student) -> None:
        self.dirty.add(student.account)

    # -- the cadence ---------------------------------------------------------------------------
    def tick(self) -> None:
        now = self.game.api.now_ms()
        ex = self.ex
        sample = now >= self.next_sample_ms
        if sample:
            self.next_sample_ms = now + SAMPLE_MS
            for symbol, ring in self.history.items():
                m = ex.markets[symbol]
                if m.mark:
                    ring.append([now, m.mark, m.index, m.last or m.mark])
        if not self.conns:
            self._forget_pending()
            return
        out: list[str] = []
        if ex.seq != self.published_seq or sample:
            self.published_seq = ex.seq
            markets = {s: self.market(s, self.new_trades[s]) for s in self.history}
            msg: dict[str, Any] = {"t": "market", "markets": markets}
            if sample:
                msg["samples"] = {s: h[-1] for s, h in self.history.items() if h}
            if self.new_liquidations:
                msg["liquidations"] = self.new_liquidations
                msg["liquidation_count"] = self.liquidation_count
            out.append(dumps(msg))
        if self.game_dirty or sample:
            self.game_dirty = False
            out.append(dumps({"t": "status", "status": self.game.status()}))
        if (self.board_dirty or self.marks_moved) and now >= self.next_board_ms:
            self.next_board_ms = now + BOARD_MS
            self.board_dirty = False
            out.append(dumps({"t": "board", "board": self.board()}))
        for text in out:
            for conn in list(self.conns):
                conn.push(text)
        self._private()
        self._forget_pending()

    def _forget_pending(self) -> None:
        for trades in self.new_trades.values():
            trades.clear()
        self.new_liquidations = []
        self.notices.clear()
        self.marks_moved = False
        self.dirty.clear()

    def _private(self) -> None:
        roster = self.game.roster
        for sid, pages in self.watching.items():
            student = roster.students[sid]
            notes = self.notices.get(sid)
            if student.account not in self.dirty and not self.marks_moved and not notes:
                continue
            text = dumps({"t": "me", "me": self.me(student), "notices": notes or []})
            for conn in list(pages):
                conn.push(text)

    # -- what the pages show -------------------------------------------------------------------
    def market(self, symbol: str, trades: list) -> dict[str, Any]:
        ex = self.ex
        inst = ex.instruments[symbol]
        m = ex.markets[symbol]
        book = ex.books[symbol]
        oi = sum(p.size for p in ex.holders[symbol].values() if p.size > 0)
        return {"mark": shapes.px(m.mark, inst) if m.mark else None, "index": shapes.px(m.index, inst) if m.index else None,
                "last": shapes.px(m.last, inst) if m.last else None,
                "bids": [[shapes.px(p, inst), shapes.qty(q, inst)] for p, q in book.depth(BUY, BOOK_LEVELS)],
                "asks": [[shapes.px(p, inst), shapes.qty(q, inst)] for p, q in book.depth(SELL, BOOK_LEVELS)],
                "trades": trades, "open_interest": shapes.qty(oi, inst),
                "funding_rate_pct": f"{m.funding_rate / 1e6:.4f}", "next_funding_ms": m.next_funding_ts // 1_000_000,
                "insurance_fund": money(ex.insurance_fund)}

    def board(self) -> dict[str, Any]:
        game = self.game
        board = game.board
        rule = game.cfg.scoring
        rows = []
        for student in game.roster.students.values():
            if student.account in board.tracks:
                rows.append({**board.row(student.account), "name": student.name, "team": student.team,
                             "id": student.id})
        teams = [board.team_row(t) for t in board.teams]

        def shown(r: dict[str, Any]) -> dict[str, Any]:
            return {**{k: r[k] for k in r if not k.endswith(("_cash", "_ppm")) and k != "account"},
                    "equity": money(r["equity_cash"]), "pnl": money(r["pnl_cash"]), "return_pct": pct(r["return_ppm"]),
                    "max_drawdown_pct": pct(r["max_drawdown_ppm"]),
                    "score_text": money(r["score"]) if rule == "pnl" else pct(r["score"])}
        return {"rule": rule, "students": [shown(r) for r in ranked(rows, rule, "name")],
                "teams": [shown(r) for r in ranked(teams, rule, "team")]}

    def me(self, student: Student) -> dict[str, Any]:
        """A student's own account: balances, positions, open orders, recent fills and liquidations."""
        ex = self.ex
        account = student.account
        acct = ex.accounts.get(account)
        av = views.account_view(ex, account)
        if acct is None or av is None:
            return {"name": student.name, "team": student.team}
        track = self.game.board.tracks.get(account)
        positions = []
        for symbol, inst in self.game.instruments.items():
            p = views.position_view(ex, acct, acct.positions[symbol])
            ratio = p["margin_ratio_ppm"]
            positions.append({
                "symbol": symbol, "size": shapes.qty(abs(p["size_lots"]), inst),
                "side": "long" if p["size_lots"] > 0 else "short" if p["size_lots"] else "",
                "mode": p["mode"], "leverage": p["leverage"],
                "entry": price_text(p["entry_price_ticks"], inst) if p["size_lots"] else None,
                "mark": shapes.px(p["mark_price_ticks"], inst) if p["mark_price_ticks"] else None,
                "pnl": money(p["unrealized_pnl_cash"]), "notional": money(p["notional_cash"]),
                "liquidation": liq_text(p["liquidation_price_ticks"], p["size_lots"], inst),
                "margin_ratio_pct": pct(ratio) if p["size_lots"] else None,
                "margin_ratio": (ratio / PPM if ratio is not None else 1.0) if p["size_lots"] else 0,
                "adl": p["adl_quantile"], "isolated_margin": money(p["isolated_wallet_cash"])})
        orders = [{"id": o["order_id"], "symbol": o["symbol"], "side": "buy" if o["side"] == BUY else "sell",
                   "type": o["type"].lower().replace("_", " "),
                   "price": shapes.px(o["price_ticks"] or o["stop_price_ticks"], ex.instruments[o["symbol"]]),
                   "qty": shapes.qty(o["remaining_lots"], ex.instruments[o["symbol"]]), "reduce_only": o["reduce_only"]}
                  for o in views.open_orders_view(ex, account) or [] if o["symbol"] in self.game.instruments]
        fills = []
        liqs = []
        if track is not None:
            for f in list(track.fills)[-FILLS_SHOWN:][::-1]:
                inst = ex.instruments[f.symbol]
                fills.append({"ms": f.ts_ns // 1_000_000, "symbol": f.symbol, "side": "buy" if f.side == BUY else "sell",
                              "price": shapes.px(f.price_ticks, inst), "qty": shapes.qty(f.qty_lots, inst),
                              "fee": money(f.fee_cash), "pnl": money(f.realized_pnl_cash), "liquidation": f.liquidation})
            liqs = [notice(liq, ex.instruments, student) for liq in track.liquidations]
        equity = track.curve.equity if track else av["wallet_cash"]
        row = self.game.board.row(account) if track else None
        return {"name": student.name, "team": student.team, "equity": money(equity),
                "wallet": money(av["wallet_cash"]), "available": money(av["available_cash"]),
                "pnl": money(row["pnl_cash"]) if row else "0.00", "return_pct": pct(row["return_ppm"]) if row else "0.00",
                "positions": positions, "orders": orders, "fills": fills, "liquidations": liqs}


def price_text(value: Any, inst: Any) -> str:
    """A computed price (a Fraction of ticks) to the instrument's tick decimals."""
    exact = Decimal(value.numerator) * inst.tick_size / Decimal(value.denominator)
    return str(exact.quantize(inst.tick_size))


def liq_text(value: Any, size: int, inst: Any) -> str | None:
    """The liquidation price to show, or None when there is none (no position, or a price <= 0)."""
    if not size or value is None or value <= 0:
        return None
    return shapes.px(shapes.liquidation_tick(value, size), inst)


def notice(liq: Liquidation, instruments: dict[str, Any], student: Student) -> dict[str, Any]:
    """A liquidation told in words: what happened, at what price, what it cost."""
    inst = instruments.get(liq.symbol)
    what = f"{liq.leverage}x {liq.mode.lower()} {side_word(liq.side)}" if liq.side else f"{liq.mode.lower()} position"
    size = f" of {shapes.qty(liq.qty_lots, inst)} {shapes.base_asset(liq.symbol)}" if inst and liq.qty_lots else ""
    at = f" when the mark price reached {shapes.px(liq.mark_ticks, inst)}" if inst and liq.mark_ticks else ""
    closed = f" It was closed at {shapes.px(liq.avg_price_ticks, inst)}." if inst and liq.avg_price_ticks else ""
    share = f"{liq.cost_ppm / 10_000:.1f}%"
    text = (f"Your {what}{size} was liquidated{at}: its margin could no longer cover the loss.{closed} "
            f"It cost you {money(liq.cost_cash)} USDT ({share} of your account), including a liquidation fee of "
            f"{money(liq.fee_cash)} USDT.")
    if liq.mode == "ISOLATED":
        text += " Only the margin of that position was lost: the rest of your cash is safe."
    else:
        text += " In cross margin your whole balance stood behind the position."
    return {"kind": "liquidation", "ms": liq.ts_ns // 1_000_000, "symbol": liq.symbol, "mode": liq.mode.lower(),
            "price": shapes.px(liq.avg_price_ticks, inst) if inst and liq.avg_price_ticks else None,
            "cost": money(liq.cost_cash), "cost_pct": f"{liq.cost_ppm / 10_000:.1f}", "text": text,
            "who": student.name}
