"""Scores of a game, from the core's events and state alone (I/O-free), so a replay of the exchange
journal rebuilds them exactly.

Each student account is tracked: its equity (wallet + unrealized PnL at mark) sampled after every
command that touched it and at every mark-price update, the peak of that equity and the largest fall
from a peak (maximum drawdown), its fills (the last FILLS_KEPT), and every liquidation with what it
cost: the account's wallet just before the liquidating command less the wallet after it. Teams are
scored on the sum of their members' equity, sampled at the same moments.

Rates are integers in parts per million; cash in the core's cash units.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...core.commands import BUY
from ...core.events import (
    Deleveraged,
    InsuranceFundChanged,
    LiquidationOrderPlaced,
    LiquidationTriggered,
    MarkPriceUpdated,
    PositionChanged,
    TakenOverByFund,
    Trade,
)
from ...core.money import PPM

if TYPE_CHECKING:
    from ...core.engine import Exchange

FILLS_KEPT = 500
LIQUIDATIONS_KEPT = 100


@dataclass(slots=True)
class Fill:
    ts_ns: int
    symbol: str
    side: int
    price_ticks: int
    qty_lots: int
    fee_cash: int
    liquidation: bool
    realized_pnl_cash: int = 0


@dataclass(slots=True)
class Liquidation:
    """One liquidation of a student: the position it closed and what it cost the account."""

    ts_ns: int
    symbol: str
    mode: str  # CROSS or ISOLATED
    side: int  # of the position: 1 long, -1 short
    qty_lots: int
    leverage: int
    mark_ticks: int  # when it was triggered
    avg_price_ticks: int  # of the closing fills (the fund's takeover and ADL at their prices)
    fee_cash: int
    wallet_before_cash: int
    wallet_after_cash: int

    @property
    def cost_cash(self) -> int:
        return self.wallet_before_cash - self.wallet_after_cash

    @property
    def cost_ppm(self) -> int:
        """The share of the wallet it took (floor)."""
        return self.cost_cash * PPM // self.wallet_before_cash if self.wallet_before_cash > 0 else 0


@dataclass(slots=True)
class Curve:
    """An equity path: the last value, its peak and the largest fall from a peak (ppm of the peak)."""

    equity: int = 0
    peak: int = 0
    max_drawdown_ppm: int = 0

    def sample(self, equity: int) -> None:
        self.equity = equity
        if equity > self.peak:
            self.peak = equity
        elif self.peak > 0:
            dd = (self.peak - equity) * PPM // self.peak
            if dd > self.max_drawdown_ppm:
                self.max_drawdown_ppm = dd


@dataclass(slots=True)
class Track:
    account: int
    start_cash: int
    curve: Curve = field(default_factory=Curve)
    wallet: int = 0
    fills: deque = field(default_factory=lambda: deque(maxlen=FILLS_KEPT))
    liquidations: deque = field(default_factory=lambda: deque(maxlen=LIQUIDATIONS_KEPT))
    liquidation_count: int = 0
    trade_count: int = 0
    fees_cash: int = 0
    volume_cash: int = 0


def equity_cash(ex: Exchange, account: int) -> int:
    """Wallet (cross + isolated) plus unrealized PnL at mark."""
    acct = ex.accounts.get(account)
    if acct is None:
        return 0
    return acct.wallet_total() + sum(ex._upnl(p) for p in acct.positions.values() if p.size)


def net_deposits(ex: Exchange, account: int) -> int:
    acct = ex.accounts.get(account)
    return acct.deposited - acct.withdrawn if acct is not None else 0


class Scoreboard:
    """Tracks accounts (added with `track`) from each applied command's events (`observe`)."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self.tracks: dict[int, Track] = {}
        self.teams: dict[str, Curve] = {}
        self.scored: dict[int, None] = {}  # the accounts on the board (a reset student's old one is not)
        self.team_of: dict[int, str] = {}  # account -> team
        self.new_liquidations: list[tuple[int, Liquidation]] = []  # since the last `take_liquidations`

    def track(self, account: int, start_cash: int, team: str = "") -> Track:
        t = self.tracks[account] = Track(account, start_cash)
        t.wallet = t.curve.equity = t.curve.peak = start_cash
        self.scored[account] = None
        if team:
            self.team_of[account] = team
            self.teams.setdefault(team, Curve())
            self._sample_teams()
        return t

    def untrack(self, account: int) -> None:
        """Stop scoring an account (a reset student's old one); its record stays readable."""
        self.scored.pop(account, None)
        if self.team_of.pop(account, None) is not None:
            self._sample_teams()

    def observe(self, events: list, ts_ns: int) -> None:
        """One applied command's events."""
        tracks = self.tracks
        touched: dict[int, None] = {}
        marks = False
        liquidated: list[LiquidationTriggered] = []
        for ev in events:
            t = type(ev)
            if t is Trade:
                for account, side, fee in ((ev.taker_account, ev.taker_side, ev.taker_fee_cash),
                                           (ev.maker_account, -ev.taker_side, ev.maker_fee_cash)):
                    track = tracks.get(account)
                    if track is not None:
                        self._fill(track, ev, side, fee, ts_ns)
                        touched[account] = None
            elif t is MarkPriceUpdated:
                marks = True
            elif t is PositionChanged:
                track = tracks.get(ev.account)
                if track is not None:
                    if ev.realized_pnl_cash and track.fills and track.fills[-1].symbol == ev.symbol:
                        track.fills[-1].realized_pnl_cash += ev.realized_pnl_cash
                    touched[ev.account] = None
            elif t is LiquidationTriggered and ev.account in tracks:
                liquidated.append(ev)
            else:
                account = getattr(ev, "account", None)
                if account in tracks:
                    touched[account] = None
        for ev in liquidated:
            self._liquidation(tracks[ev.account], ev, events, ts_ns)
        if marks:  # a new mark moves every open position
            touched.update(self.scored)
        ex = self.ex
        for account in touched:
            track = tracks[account]
            acct = ex.accounts.get(account)
            if acct is not None:
                track.wallet = acct.wallet_total()
                track.curve.sample(equity_cash(ex, account))
        if touched and self.teams:
            self._sample_teams()

    def _fill(self, track: Track, ev: Trade, side: int, fee: int, ts_ns: int) -> None:
        track.fills.append(Fill(ts_ns, ev.symbol, side, ev.price_ticks, ev.qty_lots, fee, ev.liquidation))
        track.trade_count += 1
        track.fees_cash += fee
        track.volume_cash += ev.price_ticks * ev.qty_lots * self.ex.instruments[ev.symbol].cash_per_tick_lot

    def _liquidation(self, track: Track, trig: LiquidationTriggered, events: list, ts_ns: int) -> None:
        """What the liquidation of `trig` closed, at what price, and what it cost (the whole command's
        effect on the account's wallet)."""
        account = trig.account
        ex = self.ex
        qty = value = fee = 0
        side = 0
        symbol = trig.symbol
        for ev in events:
            t = type(ev)
            if getattr(ev, "account", None) != account and t is not Trade:
                continue
            if t is LiquidationOrderPlaced:
                side = -ev.side
                symbol = symbol or ev.symbol
            elif t is Trade and ev.liquidation and account in (ev.taker_account, ev.maker_account):
                qty += ev.qty_lots
                value += ev.qty_lots * ev.price_ticks
            elif t is TakenOverByFund or t is Deleveraged:
                qty += ev.qty_lots
                value += ev.qty_lots * ev.price_ticks
            elif t is InsuranceFundChanged and ev.reason == "LIQUIDATION_FEE":
                fee += ev.delta_cash
        acct = ex.accounts[account]
        pos = acct.positions.get(symbol) if symbol else None
        liq = Liquidation(ts_ns, symbol, trig.mode, side, qty, pos.leverage if pos is not None else 0,
                          ex.markets[symbol].mark if symbol else 0, value // qty if qty else 0, fee,
                          track.wallet, acct.wallet_total())
        track.liquidations.append(liq)
        track.liquidation_count += 1
        track.wallet = liq.wallet_after_cash
        self.new_liquidations.append((account, liq))

    def _sample_teams(self) -> None:
        sums: dict[str, int] = dict.fromkeys(self.teams, 0)
        for account, team in self.team_of.items():
            sums[team] += self.tracks[account].curve.equity
        for team, total in sums.items():
            self.teams[team].sample(total)

    def take_liquidations(self) -> list[tuple[int, Liquidation]]:
        out, self.new_liquidations = self.new_liquidations, []
        return out

    # -- standings -----------------------------------------------------------------------------
    def row(self, account: int) -> dict[str, Any]:
        """Equity, PnL (equity less net deposits), return (ppm of the start), liquidations, drawdown."""
        track = self.tracks[account]
        equity = track.curve.equity
        pnl = equity - track.start_cash
        return {"account": account, "equity_cash": equity, "pnl_cash": pnl,
                "return_ppm": pnl * PPM // track.start_cash if track.start_cash else 0,
                "liquidations": track.liquidation_count, "max_drawdown_ppm": track.curve.max_drawdown_ppm,
                "trades": track.trade_count, "fees_cash": track.fees_cash}

    def team_row(self, team: str) -> dict[str, Any]:
        members = [a for a, t in self.team_of.items() if t == team]
        start = sum(self.tracks[a].start_cash for a in members)
        curve = self.teams[team]
        pnl = curve.equity - start
        return {"team": team, "members": len(members), "equity_cash": curve.equity, "pnl_cash": pnl,
                "return_ppm": pnl * PPM // start if start else 0,
                "liquidations": sum(self.tracks[a].liquidation_count for a in members),
                "max_drawdown_ppm": curve.max_drawdown_ppm}


def score(row: dict[str, Any], rule: str) -> int:
    """The number a rule ranks by (higher is better): pnl in cash units, the others in ppm."""
    if rule == "pnl":
        return row["pnl_cash"]
    if rule == "risk_adjusted":
        return row["return_ppm"] - row["max_drawdown_ppm"]
    return row["return_ppm"]


def ranked(rows: list[dict[str, Any]], rule: str, name_key: str) -> list[dict[str, Any]]:
    """Rows sorted best first (ties by name), each with its `score` and `rank` (equal scores share one)."""
    out = sorted(({**r, "score": score(r, rule)} for r in rows), key=lambda r: (-r["score"], r[name_key].casefold()))
    for i, r in enumerate(out):
        r["rank"] = out[i - 1]["rank"] if i and out[i - 1]["score"] == r["score"] else i + 1
    return out


def side_word(side: int) -> str:
    return "long" if side == BUY else "short"
