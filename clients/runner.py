"""Run an I/O-free agent over a real socket through the SDK (clients/sdk.py).

The shell translates both ways: the agent's core commands become wire requests, and wire messages
(the account's private events, tickers, public liquidations, funding) become the same core event
tuples, in the same integer units, that the virtual-time kernel delivers. Timers run on the wall
clock: `ctx.now_ns` is nanoseconds since the runner started.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from exchange.core import events as core_events
from exchange.core.commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    PlaceOrder,
    SetAutoAddMargin,
    SetLeverage,
    SetMarginMode,
)
from exchange.core.events import FundingRateSettled, MarkPriceUpdated, OrderRejected, PublicLiquidation, Trade
from exchange.core.instruments import Instrument
from exchange.core.money import CASH_SCALE

from exchange.sim.agent import BOOK, FUNDING, LIQUIDATIONS, MARK, TRADES, Agent, TopOfBook
from .sdk import Client, ExchangeError

SUFFIXES = (("_ticks", "ticks"), ("_lots", "lots"), ("_cash", "cash"), ("_e8", "e8"), ("_ppm", "ppm"))
SIDES = ("side", "taker_side")


@dataclass
class RunnerStats:
    commands: int = 0
    rejected: int = 0
    events: int = 0
    fills: int = 0
    errors: int = 0


def _unit(name: str) -> tuple[str, str]:
    for suffix, unit in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)], unit
    return name, "side" if name in SIDES else ""


def from_wire(unit: str, value: Any, inst: Instrument | None) -> Any:
    """A wire value back in core units (ticks, lots, cash units, e8, ppm, +1/-1 sides)."""
    if value is None or unit == "":
        return value
    if unit == "side":
        return 1 if value == "buy" else -1
    d = Decimal(value)
    if unit == "ticks":
        return int(d / inst.tick_size) if inst is not None else int(d)
    if unit == "lots":
        return int(d / inst.lot_step) if inst is not None else int(d)
    scale = {"cash": CASH_SCALE, "e8": 10**8, "ppm": 10**6}[unit]
    return int(d * scale)


def wire_event(msg: dict, instruments: dict[str, Instrument], account: int) -> Any:
    """The core event a private wire message stands for (None for messages agents do not use)."""
    name = msg.get("event")
    inst = instruments.get(msg.get("symbol", ""))
    if name == "Fill":
        taker = msg["role"] == "taker"
        side = 1 if msg["side"] == "buy" else -1
        price, qty = int(Decimal(msg["price"]) / inst.tick_size), int(Decimal(msg["qty"]) / inst.lot_step)
        oid = msg["order_id"]
        return Trade(msg["symbol"], msg["trade_id"], price, qty, side if taker else -side, account if taker else -1,
                     oid if taker else 0, -1 if taker else account, 0 if taker else oid, 0, 0, msg["liquidation"])
    cls = getattr(core_events, name or "", None)
    if cls is None or not hasattr(cls, "_fields"):
        return None
    values = []
    for f in cls._fields:
        wire_name, unit = _unit(f)
        values.append(from_wire(unit, msg.get(wire_name), inst))
    return cls(*values)


def command_request(cmd: Any, inst: Instrument) -> tuple[str, dict[str, Any]]:
    """(op, params) of the wire request for a core command of the agent's own account."""
    t = type(cmd)
    if t is PlaceOrder:
        p: dict[str, Any] = {"symbol": cmd.symbol, "type": cmd.order_type.lower(),
                             "side": "buy" if cmd.side > 0 else "sell", "qty": inst.lots_to_str(cmd.qty_lots),
                             "tif": cmd.tif, "reduce_only": cmd.reduce_only, "working_type": cmd.working_type,
                             "stp": cmd.stp}
        if cmd.price_ticks:
            p["price"] = inst.ticks_to_str(cmd.price_ticks)
        if cmd.stop_price_ticks:
            p["stop_price"] = inst.ticks_to_str(cmd.stop_price_ticks)
        if cmd.client_order_id:
            p["client_order_id"] = cmd.client_order_id
        return "place", p
    if t is CancelAll:
        return "cancel_all", {"symbol": cmd.symbol}
    if t is CancelOrder:
        return "cancel", {"symbol": cmd.symbol, "order_id": cmd.order_id}
    if t is AmendOrder:
        return "amend", {"symbol": cmd.symbol, "order_id": cmd.order_id, "qty": inst.lots_to_str(cmd.qty_lots),
                         "price": inst.ticks_to_str(cmd.price_ticks)}
    if t is SetLeverage:
        return "set_leverage", {"symbol": cmd.symbol, "leverage": cmd.leverage}
    if t is SetMarginMode:
        return "set_margin_mode", {"symbol": cmd.symbol, "mode": cmd.mode}
    if t is SetAutoAddMargin:
        return "set_auto_add_margin", {"symbol": cmd.symbol, "enabled": cmd.enabled}
    raise ValueError(f"agents may not send {t.__name__} over the wire")


class SocketRunner:
    """One agent on one logged-in Client until `stop()` or the deadline."""

    def __init__(self, agent: Agent, client: Client, started_ns: int | None = None) -> None:
        self.agent = agent
        self.client = client
        self.t0 = time.monotonic_ns() if started_ns is None else started_ns
        self.stats = RunnerStats()
        self.outbox: asyncio.Queue = asyncio.Queue()
        self.wake_changed = asyncio.Event()
        self.done = False
        self.last_top: TopOfBook | None = None

    def now(self) -> int:
        return time.monotonic_ns() - self.t0

    # -- inbound -------------------------------------------------------------------------------
    def on_message(self, msg: dict) -> None:
        agent = self.agent
        kind = msg.get("type")
        ev: Any = None
        if kind == "private":
            ev = wire_event(msg, agent.ctx.instruments, agent.ctx.account)
            if msg.get("event") == "Fill":
                self.stats.fills += 1
        elif kind == "ticker" and msg.get("symbol") in agent.ctx.market:
            inst = agent.ctx.instruments[msg["symbol"]]
            view = agent.ctx.market[msg["symbol"]]
            mark, index, last = (from_wire("ticks", msg[k], inst) for k in ("mark_price", "index_price", "last_price"))
            view.mark, view.index, view.last = mark, index, last
            bid, ask = from_wire("ticks", msg["best_bid"], inst), from_wire("ticks", msg["best_ask"], inst)
            view.set_book(bid, ask)
            top = TopOfBook(msg["symbol"], view.best_bid, view.best_ask)
            if BOOK in agent.subscriptions and top != self.last_top:  # views may be shared: compare our own
                self.last_top = top
                self.stats.events += 1
                self._deliver(top)
            if MARK in agent.subscriptions:
                ev = MarkPriceUpdated(msg["symbol"], mark, index, last)
        elif kind == "trades" and TRADES in agent.subscriptions:
            inst = agent.ctx.instruments[msg["symbol"]]
            for t in msg["trades"]:  # the public tape: no accounts or order ids
                self.stats.events += 1
                self._deliver(Trade(msg["symbol"], t["id"], from_wire("ticks", t["price"], inst),
                                    from_wire("lots", t["qty"], inst), from_wire("side", t["side"], inst),
                                    -1, 0, -1, 0, 0, 0, t["liquidation"]))
        elif kind == "liquidation" and LIQUIDATIONS in agent.subscriptions:
            inst = agent.ctx.instruments.get(msg["symbol"])
            ev = PublicLiquidation(msg["symbol"], from_wire("side", msg["side"], inst),
                                   from_wire("lots", msg["qty"], inst), from_wire("ticks", msg["bankruptcy_price"], inst),
                                   from_wire("lots", msg["filled"], inst), from_wire("ticks", msg["avg_price"], inst),
                                   msg["mode"])
        elif kind == "funding" and FUNDING in agent.subscriptions:
            inst = agent.ctx.instruments.get(msg["symbol"])
            ev = FundingRateSettled(msg["symbol"], from_wire("e8", msg["rate"], inst),
                                    from_wire("ticks", msg["mark"], inst), msg.get("ts_ns", 0))
        if ev is not None:
            self.stats.events += 1
            self._deliver(ev)

    def _deliver(self, ev: Any) -> None:
        ctx = self.agent.ctx
        ctx.now_ns = self.now()
        before = ctx.wake_at_ns
        for cmd in self.agent.on_event(ev):
            self.outbox.put_nowait(cmd)
        if ctx.wake_at_ns != before:
            self.wake_changed.set()

    # -- outbound ------------------------------------------------------------------------------
    async def _sender(self) -> None:
        agent = self.agent
        while True:
            cmd = await self.outbox.get()
            if cmd is None:
                return
            inst = agent.ctx.instruments[cmd.symbol]
            op, params = command_request(cmd, inst)
            self.stats.commands += 1
            try:
                await self.client.request(op, **params)
            except ExchangeError as e:
                self.stats.rejected += 1
                if e.code in ("DISCONNECTED", "TIMEOUT"):
                    self.stats.errors += 1
                self._deliver(OrderRejected(agent.ctx.account, cmd.symbol, "", e.code, e.message))

    async def _timers(self, deadline_ns: int) -> None:
        ctx = self.agent.ctx
        while not self.done:
            now = self.now()
            if now >= deadline_ns:
                return
            w = ctx.wake_at_ns
            if 0 <= w <= now:
                ctx.wake_at_ns = -1
                ctx.now_ns = now
                for cmd in self.agent.on_timer():
                    self.outbox.put_nowait(cmd)
                continue
            wait = (min(w, deadline_ns) if w >= 0 else deadline_ns) - now
            self.wake_changed.clear()
            try:
                await asyncio.wait_for(self.wake_changed.wait(), wait / 1e9)
            except TimeoutError:
                pass

    async def run(self, duration_s: float) -> RunnerStats:
        """Subscribe, start the agent, run its timers and orders for duration_s seconds."""
        agent, client = self.agent, self.client
        client.add_listener(self.on_message)
        await client.subscribe("private")
        await client.subscribe("ticker", agent.symbol)
        ticker = await client.fetch_ticker(agent.symbol)  # the view starts from the current prices
        self.on_message({**ticker.info, "type": "ticker"})
        for kind, channel in ((LIQUIDATIONS, "liquidations"), (TRADES, "trades")):
            if kind in agent.subscriptions:
                await client.subscribe(channel, agent.symbol)
        agent.ctx.now_ns = self.now()
        for cmd in agent.start():
            self.outbox.put_nowait(cmd)
        sender = asyncio.get_running_loop().create_task(self._sender())
        await self._timers(self.now() + int(duration_s * 1e9))
        self.done = True
        self.outbox.put_nowait(None)
        await sender
        return self.stats
