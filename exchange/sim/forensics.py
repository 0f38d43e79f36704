"""Cascade forensics: why each liquidation happened, from a run's journal (replayed, so its events are
exactly the run's).

The causal model (proximate causes; see docs/research.md):
- A liquidation L is triggered at a mark tick of symbol S (an IndexPrice command): the mark moved from
  the previous tick's `mark_from` to `mark_to`, crossing L's threshold. `driver` says what set the new
  mark: "last" when it equals the last trade price (the median picked it, or the mark is the last
  price), "index" when it is the bare index, else "basis" (the median's index-plus-basis terms: the
  average of book mid minus index, which trades move by taking the book, or the funding basis).
- The fills that breached L are the trades in S since the previous mark tick of S whose taker pushed
  the price against L's position (sells for a long, buys for a short): the price, or the book, the new
  mark saw. A mark at the bare index saw no trade: such a liquidation has no breaching fills.
- Each such fill has an origin: a liquidation order (forced: of the earlier liquidation that placed
  it), the insurance fund unwinding, a triggered stop, or an ordinary order. L's parents are the
  earlier liquidations with forced fills among its breaching fills, each with its share of their
  notional. A liquidation without parents is a root: the initial shock (index move, a whale) did it.
- A liquidation's notional is what it closed, at the bankruptcy price. Waves group liquidations less
  than WAVE_GAP_S apart (as summary.json does). In a wave: depth = the longest parent chain (a root alone is 1), amplification = the wave's liquidated notional / its
  roots' (forced selling multiplied the shock's direct damage this many times), the accounts most
  responsible (most breaching notional taken, forced or not) and most harmed (most equity lost from
  just before the wave to its end, found by a second replay; ADL'd counterparties count).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.commands import Envelope, IndexPrice
from ..core.engine import Exchange
from ..core.instruments import Instrument
from ..core.events import (
    Deleveraged,
    FundingRateSettled,
    LiquidationOrderPlaced,
    LiquidationTriggered,
    MarkPriceUpdated,
    OrderTriggered,
    PositionChanged,
    PublicLiquidation,
    Trade,
)
from .recorder import equity
from .replay import replay
from .report import WAVE_GAP_S

NS = 1_000_000_000
CASH = 1_000_000
FUND = -1  # the insurance fund's account in events
TOP = 5


def price(ticks: int, inst: Instrument) -> float:
    return float(ticks * inst.tick_size)


@dataclass
class Fill:
    trade_id: int
    ts_ns: int
    price: float
    qty: float
    notional_usdt: float
    taker_side: int
    account: int  # the taker's account
    origin: str  # "liquidation", "fund", "stop" or "order"
    liquidation: int = -1  # id of the liquidation whose order took, for origin "liquidation"


@dataclass
class Liq:
    id: int
    ts_ns: int
    seq: int
    account: int
    symbol: str
    mode: str
    side: int  # the position's side: +1 long, -1 short
    cause: str  # "mark" (a mark tick), "funding" or "other"
    mark_from: float | None = None
    mark_to: float | None = None
    index: float | None = None
    last: float | None = None
    driver: str = ""
    breaching: list[Fill] = field(default_factory=list)
    parents: dict[int, float] = field(default_factory=dict)  # liquidation id -> share of breaching notional
    notional_usdt: float = 0.0  # its liquidation orders at the bankruptcy price
    forced_fills_usdt: float = 0.0  # what its orders filled in the book
    deleveraged: list[int] = field(default_factory=list)  # counterparties closed by ADL
    generation: int = 0


class Tracer:
    """Builds the liquidations and their links from each replayed envelope's events."""

    def __init__(self, exchange: Exchange) -> None:
        self.inst = exchange.instruments
        self.liqs: list[Liq] = []
        self.window: dict[str, list[Fill]] = {s: [] for s in self.inst}  # fills since the last mark tick
        self.closed: dict[str, list[Fill]] = {s: [] for s in self.inst}  # the window the last tick closed
        self.marks: dict[str, float | None] = dict.fromkeys(self.inst)
        self.sizes: dict[tuple[int, str], int] = {}
        self.liq_orders: dict[int, int] = {}  # liquidation order id -> liquidation id
        self.stops: set[int] = set()
        self.current: dict[int, int] = {}  # account -> its liquidation being processed in this envelope
        self.last_order = (-1, False)  # (liquidation id, partial) of the last liquidation order
        self._tick_from: float | None = None  # the mark before the tick being processed

    def __call__(self, _ex: Exchange, env: Envelope, events: list) -> None:
        tick: MarkPriceUpdated | None = None
        self.current = {}
        funding = False
        for ev in events:
            cls = type(ev)
            if cls is Trade:
                self._trade(env.ts_ns, ev)
            elif cls is PositionChanged:
                self.sizes[(ev.account, ev.symbol)] = ev.size_lots
            elif cls is MarkPriceUpdated:
                tick = ev
                self.closed[ev.symbol] = self.window[ev.symbol]
                self.window[ev.symbol] = []
                self._tick_from = self.marks[ev.symbol]
                self.marks[ev.symbol] = price(ev.mark_ticks, self.inst[ev.symbol])
            elif cls is LiquidationTriggered:
                self._triggered(env, ev, tick, funding)
            elif cls is LiquidationOrderPlaced:
                owner = self.current[ev.account]
                self.liq_orders[ev.order_id] = owner
                self.last_order = (owner, ev.partial)
            elif cls is PublicLiquidation:  # what was closed: all of a full close, the fills of a partial one
                owner, partial = self.last_order
                closed = ev.filled_lots if partial else ev.qty_lots
                self.liqs[owner].notional_usdt += \
                    closed * ev.bankruptcy_price_ticks * self.inst[ev.symbol].cash_per_tick_lot / CASH
            elif cls is Deleveraged:
                owner = self.current.get(ev.account)
                if owner is not None:
                    self.liqs[owner].deleveraged.append(ev.counterparty)
            elif cls is OrderTriggered:
                self.stops.add(ev.order_id)
            elif cls is FundingRateSettled:
                funding = True

    def _trade(self, ts: int, t: Trade) -> None:
        inst = self.inst[t.symbol]
        owner = self.liq_orders.get(t.taker_order_id, -1)
        origin = ("liquidation" if owner >= 0 else "fund" if t.taker_account == FUND
                  else "stop" if t.taker_order_id in self.stops else "order")
        notional = t.qty_lots * t.price_ticks * inst.cash_per_tick_lot / CASH
        fill = Fill(t.trade_id, ts, price(t.price_ticks, inst), float(t.qty_lots * inst.lot_step), notional,
                    t.taker_side, t.taker_account, origin, owner)
        self.window[t.symbol].append(fill)
        if owner >= 0:
            self.liqs[owner].forced_fills_usdt += notional

    def _triggered(self, env: Envelope, ev: LiquidationTriggered, tick: MarkPriceUpdated | None,
                   funding: bool) -> None:
        symbol = ev.symbol or (env.command.symbol if type(env.command) is IndexPrice else "")
        if not symbol:  # a cross account breached by funding: its largest position's symbol
            held = [(abs(n), s) for (a, s), n in self.sizes.items() if a == ev.account and n]
            symbol = max(held)[1] if held else next(iter(self.inst))
        size = self.sizes.get((ev.account, symbol), 0)
        liq = Liq(len(self.liqs), env.ts_ns, env.seq, ev.account, symbol, ev.mode, 1 if size >= 0 else -1,
                  "mark" if tick is not None and tick.symbol == symbol else "funding" if funding else "other")
        self.current[ev.account] = liq.id
        if liq.cause == "mark" and tick is not None:
            inst = self.inst[symbol]
            liq.mark_from, liq.mark_to = self._tick_from, price(tick.mark_ticks, inst)
            liq.index, liq.last = price(tick.index_ticks, inst), price(tick.last_ticks, inst)
            liq.driver = ("last" if tick.mark_ticks == tick.last_ticks else
                          "index" if tick.mark_ticks == tick.index_ticks else "basis")
            # with the mark at the bare index no trade moved it: no fill breached the position
            liq.breaching = [] if liq.driver == "index" else \
                [f for f in self.closed[symbol] if f.taker_side == -liq.side]
            total = sum(f.notional_usdt for f in liq.breaching)
            for f in liq.breaching:
                if f.liquidation >= 0 and total > 0:
                    liq.parents[f.liquidation] = liq.parents.get(f.liquidation, 0.0) + f.notional_usdt / total
            liq.parents = {p: round(s, 6) for p, s in sorted(liq.parents.items())}
            liq.generation = 1 + max((self.liqs[p].generation for p in liq.parents), default=-1)
        self.liqs.append(liq)


def waves_of(liqs: list[Liq]) -> list[list[Liq]]:
    """Liquidations grouped into waves separated by more than WAVE_GAP_S."""
    waves: list[list[Liq]] = []
    for liq in liqs:
        if waves and (liq.ts_ns - waves[-1][-1].ts_ns) / NS <= WAVE_GAP_S:
            waves[-1].append(liq)
        else:
            waves.append([liq])
    return waves


def longest_chain(wave: list[Liq], liqs: list[Liq]) -> list[int]:
    """Liquidation ids from a root to the deepest liquidation of the wave, by the largest-share parent."""
    node = max(wave, key=lambda q: (q.generation, q.notional_usdt, -q.id))
    chain = [node.id]
    while node.parents:
        node = liqs[max(node.parents, key=lambda p: (node.parents[p], -p))]
        chain.append(node.id)
    return chain[::-1]


def analyze(run_dir: str | Path) -> dict[str, Any]:
    """Every liquidation with its causes, and every wave with its depth, amplification and accounts."""
    tracer: Tracer | None = None

    def on_events(ex: Exchange, env: Envelope, events: list) -> None:
        nonlocal tracer
        if tracer is None:
            tracer = Tracer(ex)
        tracer(ex, env, events)

    replay(run_dir, on_events=on_events)
    liqs = tracer.liqs if tracer is not None else []
    waves = waves_of(liqs)
    harm = _equity_changes(run_dir, waves)
    summary = Path(run_dir) / "summary.json"
    kinds = {r["account"]: r["kind"] for r in json.loads(summary.read_text())["per_agent"]} if summary.exists() else {}
    kinds[FUND] = "insurance fund"
    return {"liquidations": [_liq_json(q) for q in liqs],
            "waves": [_wave_json(i, w, liqs, harm[i], kinds) for i, w in enumerate(waves)]}


def _equity_changes(run_dir: str | Path, waves: list[list[Liq]]) -> list[dict[int, float]]:
    """Per wave: the equity each liquidated or deleveraged account lost from before the wave to its end."""
    if not waves:
        return []
    marks: dict[int, list[tuple[int, str, set[int]]]] = {}
    for i, w in enumerate(waves):
        accounts = {q.account for q in w} | {c for q in w for c in q.deleveraged}
        marks.setdefault(w[0].seq - 1, []).append((i, "before", accounts))
        marks.setdefault(w[-1].seq, []).append((i, "after", accounts))
    before: list[dict[int, int]] = [{} for _ in waves]
    lost: list[dict[int, float]] = [{} for _ in waves]
    last_seq = waves[-1][-1].seq

    def take(ex: Exchange, seq: int) -> None:
        for i, when, accounts in marks.get(seq, ()):
            for a in accounts:
                value = equity(ex, ex.accounts[a]) if a in ex.accounts else 0
                if when == "before":
                    before[i][a] = value
                else:
                    lost[i][a] = round((before[i].get(a, 0) - value) / CASH, 2)

    class Done(Exception):
        pass

    def on_events(ex: Exchange, env: Envelope, _events: list) -> None:
        take(ex, env.seq)
        if env.seq >= last_seq:
            raise Done

    try:
        replay(run_dir, on_events=on_events)
    except Done:
        pass
    return lost


def _liq_json(q: Liq) -> dict[str, Any]:
    return {"id": q.id, "t_s": q.ts_ns / NS, "seq": q.seq, "account": q.account, "symbol": q.symbol, "mode": q.mode,
            "side": "long" if q.side > 0 else "short", "cause": q.cause, "mark_from": q.mark_from,
            "mark_to": q.mark_to, "index": q.index, "last": q.last, "driver": q.driver,
            "parents": {str(p): s for p, s in q.parents.items()}, "generation": q.generation,
            "notional_usdt": round(q.notional_usdt, 2), "forced_fills_usdt": round(q.forced_fills_usdt, 2),
            "deleveraged": q.deleveraged,
            "breaching_fills": [{"trade": f.trade_id, "t_s": f.ts_ns / NS, "price": f.price, "qty": f.qty,
                                 "notional_usdt": round(f.notional_usdt, 2), "account": f.account,
                                 "origin": f.origin, "liquidation": f.liquidation if f.liquidation >= 0 else None}
                                for f in q.breaching]}


def _wave_json(i: int, wave: list[Liq], liqs: list[Liq], lost: dict[int, float], kinds: dict[int, str]) -> dict[str, Any]:
    total = sum(q.notional_usdt for q in wave)
    roots = [q for q in wave if not q.parents]
    root_notional = sum(q.notional_usdt for q in roots)
    pushed: dict[int, dict[str, float]] = {}
    seen: set[int] = set()
    for q in wave:
        for f in q.breaching:
            if f.trade_id in seen:
                continue
            seen.add(f.trade_id)
            p = pushed.setdefault(f.account, {"notional_usdt": 0.0, "forced_usdt": 0.0})
            p["notional_usdt"] += f.notional_usdt
            if f.origin == "liquidation":
                p["forced_usdt"] += f.notional_usdt
    responsible = sorted(pushed.items(), key=lambda kv: (-kv[1]["notional_usdt"], kv[0]))[:TOP]
    harmed = sorted(((a, v) for a, v in lost.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    by_origin: dict[str, float] = {}
    for q in wave:
        for f in q.breaching:
            by_origin[f.origin] = by_origin.get(f.origin, 0.0) + f.notional_usdt
    marks = [q.mark_to for q in wave if q.mark_to is not None]
    starts = [q.mark_from for q in wave if q.mark_from is not None]
    return {
        "wave": i, "start_s": wave[0].ts_ns / NS, "end_s": wave[-1].ts_ns / NS, "liquidations": len(wave),
        "accounts": len({q.account for q in wave}), "depth": 1 + max(q.generation for q in wave),
        "roots": len(roots), "notional_usdt": round(total, 2), "root_notional_usdt": round(root_notional, 2),
        "amplification": round(total / root_notional, 3) if root_notional else None,
        "linked_share": round(sum(1 for q in wave if q.parents) / len(wave), 4),
        "mark_from": starts[0] if starts else None, "mark_low": min(marks) if marks else None,
        "mark_high": max(marks) if marks else None,
        "breaching_by_origin_usdt": {k: round(v, 2) for k, v in sorted(by_origin.items())},
        "chain": longest_chain(wave, liqs),
        "most_responsible": [{"account": a, "kind": kinds.get(a, ""), "notional_usdt": round(v["notional_usdt"], 2),
                              "forced_usdt": round(v["forced_usdt"], 2)} for a, v in responsible],
        "most_harmed": [{"account": a, "kind": kinds.get(a, ""), "equity_lost_usdt": v} for a, v in harmed],
    }
