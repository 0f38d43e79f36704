"""Binance USDⓈ-M WebSocket stream names and payloads. Pure: names are parsed and validated here,
payloads are built from history records and core views; nothing is sent from this module."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, NamedTuple

from ....core.instruments import Instrument
from ..history import INTERVALS_MIN, Fill, OrderRecord, OrderUpdate
from . import shapes

DEPTH_SPEEDS_MS = (100, 250, 500)
PARTIAL_LEVELS = (5, 10, 20)
MARK_SPEEDS_MS = (1000, 3000)
STREAM = re.compile(
    r"^(?:(?P<sym>[a-z0-9]{1,20})@(?P<kind>aggTrade|trade|bookTicker|forceOrder|markPrice(?:@1s)?|"
    r"depth(?:5|10|20)?(?:@(?:100|250|500)ms)?|kline_[0-9]{1,2}[mhdw])"
    r"|(?P<all>!forceOrder@arr|!markPrice@arr(?:@1s)?|!bookTicker))$")


class StreamKey(NamedTuple):
    kind: str  # trade, aggTrade, bookTicker, forceOrder, markPrice, depth, partial, kline
    symbol: str  # "" for the all-symbol streams
    arg: int  # depth: update speed ms; partial: levels*1000 + speed; markPrice: speed ms; kline: interval ms


def parse_stream(name: str, instruments: dict[str, Instrument]) -> StreamKey | None:
    """The key of a valid stream name over our instruments, else None."""
    m = STREAM.match(name)
    if m is None:
        return None
    if m.group("all"):
        whole = m.group("all")
        if whole.startswith("!markPrice"):
            return StreamKey("markPrice", "", 1000 if whole.endswith("@1s") else 3000)
        return StreamKey("forceOrder" if whole.startswith("!force") else "bookTicker", "", 0)
    symbol = m.group("sym").upper()
    if symbol not in instruments:
        return None
    kind = m.group("kind")
    if kind.startswith("markPrice"):
        return StreamKey("markPrice", symbol, 1000 if kind.endswith("@1s") else 3000)
    if kind.startswith("kline_"):
        minutes = INTERVALS_MIN.get(kind[len("kline_"):])
        return None if minutes is None else StreamKey("kline", symbol, minutes * 60_000)
    if kind.startswith("depth"):
        head, _, speed = kind.partition("@")
        speed_ms = int(speed[:-2]) if speed else 250
        levels = head[len("depth"):]
        return StreamKey("partial", symbol, int(levels) * 1000 + speed_ms) if levels else StreamKey("depth", symbol, speed_ms)
    return StreamKey(kind, symbol, 0)


# -- public payloads -----------------------------------------------------------------------------
def depth_update(inst: Instrument, bids: list, asks: list, first: int, last: int, prev: int, ms: int) -> dict[str, Any]:
    return {"e": "depthUpdate", "E": ms, "T": ms, "s": inst.symbol, "U": first, "u": last, "pu": prev,
            "b": shapes.levels(bids, inst), "a": shapes.levels(asks, inst)}


def agg_trade_event(group: list, inst: Instrument, ms: int) -> dict[str, Any]:
    return {"e": "aggTrade", "E": ms, "s": inst.symbol, **shapes.agg_trade(group, inst)}


def trade_event(t: Any, inst: Instrument, ms: int) -> dict[str, Any]:
    return {"e": "trade", "E": ms, "T": t.time_ms, "s": inst.symbol, "t": t.trade_id, "p": shapes.px(t.price, inst),
            "q": shapes.qty(t.qty, inst), "X": "MARKET", "m": t.taker_side < 0}


def mark_price_event(view: dict[str, Any], inst: Instrument, ms: int) -> dict[str, Any]:
    """From core views.funding_view."""
    return {"e": "markPriceUpdate", "E": ms, "s": inst.symbol, "p": shapes.px(view["mark_price_ticks"], inst),
            "ap": shapes.px(view["mark_price_ticks"], inst), "i": shapes.px(view["index_price_ticks"], inst),
            "P": shapes.px(view["index_price_ticks"], inst), "r": shapes.rate_e8(view["funding_rate_e8"]),
            "T": view["next_funding_ts_ns"] // 1_000_000}


def book_ticker_event(inst: Instrument, top: tuple[int, int, int, int], update_id: int, ms: int) -> dict[str, Any]:
    bid, bid_qty, ask, ask_qty = top
    return {"e": "bookTicker", "u": update_id, "s": inst.symbol, "b": shapes.px(bid, inst), "B": shapes.qty(bid_qty, inst),
            "a": shapes.px(ask, inst), "A": shapes.qty(ask_qty, inst), "T": ms, "E": ms}


def kline_event(c: list[int], interval: str, interval_ms: int, closed: bool, inst: Instrument, ms: int) -> dict[str, Any]:
    k = inst.tick_size * inst.lot_step
    return {"e": "kline", "E": ms, "s": inst.symbol, "k": {
        "t": c[0], "T": c[0] + interval_ms - 1, "s": inst.symbol, "i": interval, "f": c[10], "L": c[11],
        "o": shapes.px(c[1], inst), "c": shapes.px(c[4], inst), "h": shapes.px(c[2], inst), "l": shapes.px(c[3], inst),
        "v": shapes.qty(c[5], inst), "n": c[7], "x": closed, "q": str(c[6] * k), "V": shapes.qty(c[8], inst),
        "Q": str(c[9] * k), "B": "0"}}


def force_order_event(rec: OrderRecord, inst: Instrument, last_qty: int, ms: int) -> dict[str, Any]:
    """A liquidation order, public (`forceOrder`): price = bankruptcy price, ap = average fill."""
    return {"e": "forceOrder", "E": ms, "o": {
        "s": inst.symbol, "S": shapes.side_name(rec.side), "o": "LIMIT", "f": "IOC", "q": shapes.qty(rec.qty, inst),
        "p": shapes.px(rec.price, inst), "ap": shapes.avg_price(rec, inst), "X": "FILLED" if rec.filled >= rec.qty else "EXPIRED",
        "l": shapes.qty(last_qty, inst), "z": shapes.qty(rec.filled, inst), "T": rec.update_ms}}


# -- user data -----------------------------------------------------------------------------------
def _avg(value: int, filled: int, inst: Instrument) -> str:
    return shapes.px_fraction(Fraction(value, filled), inst) if filled else "0"


def order_trade_update(u: OrderUpdate, inst: Instrument, ms: int) -> dict[str, Any]:
    """The order as it was right after the event (the record itself may have moved on in the same batch)."""
    rec, x, fill = u.record, u.execution, u.fill
    kind = rec.type
    current = ("MARKET" if kind.endswith("MARKET") else "LIMIT") if u.triggered else kind
    f: Fill | None = fill
    return {"e": "ORDER_TRADE_UPDATE", "E": ms, "T": ms, "o": {
        "s": rec.symbol, "c": rec.client_id, "S": shapes.side_name(rec.side), "o": current, "f": rec.tif,
        "q": shapes.qty(rec.qty, inst), "p": shapes.px(rec.price, inst), "ap": _avg(u.value, u.filled, inst),
        "sp": shapes.px(rec.stop, inst), "x": x, "X": u.status, "i": rec.order_id,
        "l": shapes.qty(f.qty if f else 0, inst), "z": shapes.qty(u.filled, inst),
        "L": shapes.px(f.price if f else 0, inst), "N": shapes.QUOTE, "n": shapes.cash(f.fee if f else 0),
        "T": rec.update_ms, "t": f.trade_id if f else 0, "b": "0", "a": "0", "m": bool(f and f.maker),
        "R": rec.reduce_only, "wt": rec.working_type, "ot": kind, "ps": "BOTH", "cp": False, "rp": shapes.cash(f.realized if f else 0),
        "pP": False, "si": 0, "ss": 0, "V": rec.stp, "pm": "NONE", "gtd": 0, "er": "0"}}


def algo_update(u: OrderUpdate, inst: Instrument, ms: int) -> dict[str, Any]:
    rec = u.record
    return {"e": "ALGO_UPDATE", "T": ms, "E": ms, "o": {
        "caid": rec.client_id, "aid": rec.order_id, "at": "CONDITIONAL", "o": rec.type, "s": rec.symbol,
        "S": shapes.side_name(rec.side), "ps": "BOTH", "f": rec.tif, "q": shapes.qty(rec.qty, inst),
        "X": shapes.algo_status(u.status, u.triggered, rec.reason if u.status == "EXPIRED" else ""),
        "ai": str(rec.order_id) if rec.triggered else "", "ap": _avg(u.value, u.filled, inst),
        "aq": shapes.qty(u.filled, inst), "act": "0", "tp": shapes.px(rec.stop, inst), "p": shapes.px(rec.price, inst),
        "V": rec.stp, "wt": rec.working_type, "pm": "NONE", "cp": False, "pP": False, "R": rec.reduce_only,
        "tt": rec.update_ms if rec.triggered else 0, "gtd": 0, "rm": ""}}


def account_update(reason: str, acct: dict[str, Any], balance_change: int, positions: list[dict[str, Any]],
                   instruments: dict[str, Instrument], ms: int) -> dict[str, Any]:
    """From core views.account_view and the position_view of each changed position."""
    rows = []
    for p in positions:
        inst = instruments[p["symbol"]]
        size = p["size_lots"]
        entry = shapes.px_fraction(p["entry_price_ticks"], inst) if size else "0"
        rows.append({"s": p["symbol"], "pa": shapes.qty(size, inst), "ep": entry, "bep": entry,
                     "cr": shapes.cash(p["realized_pnl_cash"]), "up": shapes.cash(p["unrealized_pnl_cash"]),
                     "mt": "isolated" if p["mode"] == "ISOLATED" else "cross",
                     "iw": shapes.cash(p["isolated_wallet_cash"]), "ps": "BOTH", "ma": shapes.QUOTE})
    return {"e": "ACCOUNT_UPDATE", "E": ms, "T": ms, "a": {"m": reason, "B": [
        {"a": shapes.QUOTE, "wb": shapes.cash(acct["wallet_cash"]), "cw": shapes.cash(acct["cross_wallet_cash"]),
         "bc": shapes.cash(balance_change)}], "P": rows}}


def margin_call(acct: dict[str, Any], p: dict[str, Any], inst: Instrument, ms: int) -> dict[str, Any]:
    return {"e": "MARGIN_CALL", "E": ms, "cw": shapes.cash(acct["cross_wallet_cash"]), "p": [{
        "s": p["symbol"], "ps": "BOTH", "pa": shapes.qty(p["size_lots"], inst),
        "mt": "ISOLATED" if p["mode"] == "ISOLATED" else "CROSSED", "iw": shapes.cash(p["isolated_wallet_cash"]),
        "mp": shapes.px(p["mark_price_ticks"], inst), "up": shapes.cash(p["unrealized_pnl_cash"]),
        "mm": shapes.cash(p["maint_margin_cash"])}]}


def account_config_update(symbol: str, leverage: int, ms: int) -> dict[str, Any]:
    return {"e": "ACCOUNT_CONFIG_UPDATE", "E": ms, "T": ms, "ac": {"s": symbol, "l": leverage}}


def listen_key_expired(key: str, ms: int) -> dict[str, Any]:
    return {"e": "listenKeyExpired", "E": ms, "listenKey": key}
