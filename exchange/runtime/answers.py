"""The answer to each trading command of the gateway, built from the events the command caused (and,
for an order that trades or was amended, from the order as it is now). A rejection among the events
becomes the request's error."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from ..core import views
from ..core.commands import TRIGGER_TYPES, PlaceOrder
from ..core.engine import Exchange
from ..core.events import (
    AutoAddMarginSet,
    CommandRejected,
    IsolatedMarginChanged,
    LeverageSet,
    MarginModeSet,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    Trade,
)
from ..core.instruments import Instrument
from ..wire.codec import Encoded, encode
from ..wire.schema import WireError, price_str, qty_str, side_str, to_wire
from .hub import EXPIRED_REASONS

Answer = Callable[[Exchange, Any, list], Any]  # (exchange, command, its events) -> the result
RESTING_TAILS_KEPT = 10_000  # encoded shapes of resting answers kept (then forgotten all at once)


def expect(events: list, account: int, kind: type) -> Any:
    """The first event of `kind` for `account`, or WireError for the rejection that came instead."""
    for ev in events:
        t = type(ev)
        if (t is OrderRejected or t is CommandRejected) and ev.account == account:
            raise WireError(ev.code, ev.message)
        if t is kind and getattr(ev, "account", account) == account:
            return ev
    raise WireError("INTERNAL", f"the engine did not answer with {kind.__name__}")


def simple(kind: type, fields: tuple[str, ...]) -> Answer:
    """Answer with some fields of the event of `kind` the command caused."""
    def answer(ex: Exchange, cmd: Any, events: list) -> dict[str, Any]:
        ev = expect(events, cmd.account, kind)
        return to_wire({f: getattr(ev, f) for f in fields}, ex.instruments.get(getattr(ev, "symbol", "")))
    return answer


def resting(ev: OrderAccepted, inst: Instrument) -> dict[str, Any]:
    """An order that rests (or waits for its trigger) untouched right after it was accepted, from its
    OrderAccepted event alone: the same answer as order_result() gives for it."""
    qty = qty_str(ev.qty_lots, inst)
    return {"order_id": ev.order_id, "client_order_id": ev.client_order_id, "symbol": ev.symbol,
            "side": side_str(ev.side), "type": ev.order_type, "price": price_str(ev.price_ticks, inst),
            "stop_price": price_str(ev.stop_price_ticks, inst), "qty": qty, "filled": qty_str(0, inst),
            "remaining": qty, "tif": ev.tif, "reduce_only": ev.reduce_only,
            "status": "UNTRIGGERED" if ev.order_type in TRIGGER_TYPES else "NEW", "avg_price": None}


_RESTING_HEAD = bytes([0x80 | 14]) + encode("order_id")  # a map of resting()'s 14 fields, order_id first
_CLIENT_ORDER_ID = encode("client_order_id")
_resting_tails: dict[tuple[Any, ...], bytes] = {}


def resting_encoded(ev: OrderAccepted, inst: Instrument) -> Encoded:
    """resting(ev, inst), encoded: what follows order_id and client_order_id is the same for every
    order of the same shape (symbol, side, type, prices, qty, tif, reduce-only), encoded once."""
    key = (ev.symbol, ev.side, ev.order_type, ev.price_ticks, ev.stop_price_ticks, ev.qty_lots, ev.tif,
           ev.reduce_only, inst.tick_size, inst.lot_step)
    head = b"".join((_RESTING_HEAD, encode(ev.order_id), _CLIENT_ORDER_ID, encode(ev.client_order_id)))
    tail = _resting_tails.get(key)
    if tail is None:  # a new shape: encoded whole, its tail kept
        whole = encode(resting(ev, inst))
        if len(_resting_tails) >= RESTING_TAILS_KEPT:
            _resting_tails.clear()
        _resting_tails[key] = whole[len(head):]
        return Encoded(whole)
    return Encoded(head + tail)


def order_result(ex: Exchange, account: int, oid: int, events: list) -> dict[str, Any]:
    """The state of an order right after the command that placed or amended it."""
    order = views.open_order(ex, account, oid)
    inst: Instrument | None
    if order is not None:
        inst = ex.instruments[order.symbol]
        result = to_wire(views.order_view(order), inst)
    else:
        result = {"order_id": oid}
        inst = None
    filled = value = 0
    status = "FILLED"
    for ev in events:
        t = type(ev)
        if t is Trade and ev.taker_order_id == oid:
            filled += ev.qty_lots
            value += ev.qty_lots * ev.price_ticks
            inst = ex.instruments[ev.symbol]
        elif t is OrderCancelled and ev.order_id == oid:
            status = "EXPIRED" if ev.reason in EXPIRED_REASONS else "CANCELED"
            result["reason"] = ev.reason
    if order is None:
        result["status"] = status
        if inst is not None:
            result["filled"] = qty_str(filled, inst)
    if inst is not None:
        result["avg_price"] = price_str(Fraction(value, filled), inst) if filled else None
    return result


def place(ex: Exchange, cmd: PlaceOrder, events: list) -> dict[str, Any] | Encoded:
    if len(events) == 1:  # accepted, and nothing else happened: it rests (the common case, made cheap)
        ev = events[0]
        if type(ev) is OrderAccepted and ev.account == cmd.account:
            return resting_encoded(ev, ex.instruments[ev.symbol])
    accepted = expect(events, cmd.account, OrderAccepted)
    result = order_result(ex, cmd.account, accepted.order_id, events)
    if "symbol" not in result:  # closed by this very request
        inst = ex.instruments[cmd.symbol]
        filled = inst.qty_to_lots(result.get("filled", "0"))
        result.update(symbol=cmd.symbol, client_order_id=cmd.client_order_id, type=cmd.order_type,
                      side=side_str(cmd.side), qty=qty_str(cmd.qty_lots, inst),
                      remaining=qty_str(cmd.qty_lots - filled, inst),
                      price=price_str(cmd.price_ticks, inst) if cmd.price_ticks else None)
    return result


def cancel(ex: Exchange, cmd: Any, events: list) -> dict[str, Any]:
    ev = expect(events, cmd.account, OrderCancelled)
    return {"order_id": ev.order_id, "symbol": ev.symbol, "status": "CANCELED",
            "remaining": qty_str(ev.remaining_lots, ex.instruments[ev.symbol])}


def cancel_all(ex: Exchange, cmd: Any, events: list) -> dict[str, Any]:
    for ev in events:
        if type(ev) is OrderRejected and ev.account == cmd.account:
            raise WireError(ev.code, ev.message)
    ids = [ev.order_id for ev in events if type(ev) is OrderCancelled and ev.account == cmd.account]
    return {"symbol": cmd.symbol, "cancelled": ids}


def amend(ex: Exchange, cmd: Any, events: list) -> dict[str, Any]:
    ev = expect(events, cmd.account, OrderAmended)
    return order_result(ex, cmd.account, ev.order_id, events)


COMMAND_ANSWERS: dict[str, Answer] = {
    "place": place,
    "cancel": cancel,
    "cancel_all": cancel_all,
    "amend": amend,
    "set_leverage": simple(LeverageSet, ("symbol", "leverage")),
    "set_margin_mode": simple(MarginModeSet, ("symbol", "mode")),
    "adjust_margin": simple(IsolatedMarginChanged, ("symbol", "delta_cash", "isolated_wallet_cash")),
    "set_auto_add_margin": simple(AutoAddMarginSet, ("symbol", "enabled")),
}
