"""Wire schema: request validation, wire values -> core commands, core values -> wire values.

Requests are msgpack maps {"op": str, "id": int, ...params}. Prices, quantities and cash amounts
travel as decimal strings and are converted with the instrument's tick size and lot step; a value
that is not an exact multiple is refused with a message naming the step. Outgoing integers in core
units are turned back into decimal strings by their key's unit suffix (`_ticks`, `_lots`, `_cash`,
`_e8`, `_ppm`), which is dropped from the wire name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from ..core.commands import (
    BUY,
    GTC,
    GTX,
    LIMIT,
    MARGIN_MODES,
    MARK_PRICE,
    ORDER_TYPES,
    SELL,
    STOP,
    STP_MODES,
    STP_NONE,
    TAKE_PROFIT,
    TIFS,
    TRIGGER_TYPES,
    WORKING_TYPES,
    AdjustIsolatedMargin,
    AmendOrder,
    CancelAll,
    CancelOrder,
    PlaceOrder,
    SetAutoAddMargin,
    SetLeverage,
    SetMarginMode,
)
from ..core.engine import INSTRUMENT_PARAMS, MAX_CASH
from ..core.instruments import MAX_BRACKETS, Instrument, brackets_from_rows
from ..core.money import CASH_DECIMALS

PROTOCOL_VERSION = 1
MAX_CLIENT_ORDER_ID = 36
MAX_API_KEY = 128
MAX_DECIMAL_CHARS = 40
MAX_REQUEST_ID = 2**63 - 1
MAX_ID = 2**62  # account and order ids
MAX_BOOK_DEPTH = 10_000
CASH_UNIT = Decimal(1).scaleb(-CASH_DECIMALS)
PPM_UNIT = Decimal(1).scaleb(-6)

SESSION_OPS = frozenset({"hello", "login", "ping", "subscribe", "unsubscribe"})
COMMAND_OPS = frozenset({"place", "cancel", "cancel_all", "amend", "set_leverage", "set_margin_mode",
                         "adjust_margin", "set_auto_add_margin"})
QUERY_OPS = frozenset({"account", "positions", "open_orders", "order", "book", "instruments", "ticker",
                       "funding", "insurance_fund", "time"})
ADMIN_OPS = frozenset({"create_account", "create_api_key", "deposit", "withdraw", "set_halted", "set_index",
                       "shock_index", "set_param", "set_brackets", "deposit_asset", "withdraw_asset", "snapshot",
                       "state_hash"})
ALL_OPS = SESSION_OPS | COMMAND_OPS | QUERY_OPS | ADMIN_OPS
CHANNELS = frozenset({"book", "trades", "ticker", "liquidations", "private"})
PUBLIC_CHANNELS_WITH_SYMBOL = frozenset({"book", "trades", "ticker", "liquidations"})


class WireError(Exception):
    """A request that cannot be executed: answered with an error frame {code, message}."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def show(value: Any) -> str:
    """A client's value in a message: strings and numbers cut short, anything else by its type
    (the repr of a value nested 1,000 deep recurses past Python's limit)."""
    if type(value) is str:
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    if type(value) in (int, bool, float) or value is None:
        return repr(value)
    return f"a {type(value).__name__}"


def parse_request(msg: Any) -> tuple[str, int]:
    """(op, request id) of a request map, or WireError BAD_MESSAGE / UNKNOWN_OP."""
    if type(msg) is not dict:
        raise WireError("BAD_MESSAGE", f"a request must be a map, not {type(msg).__name__}")
    rid = msg.get("id")
    if type(rid) is not int or not 0 <= rid <= MAX_REQUEST_ID:
        raise WireError("BAD_MESSAGE", f"request id {show(rid)} must be an int in [0, 2**63)")
    op = msg.get("op")
    if type(op) is not str:
        raise WireError("BAD_MESSAGE", f"op {show(op)} must be a string")
    if op not in ALL_OPS:
        raise WireError("UNKNOWN_OP", f"unknown op {show(op)}")
    return op, rid


# -- parameters ---------------------------------------------------------------------------------
# Every request parameter is declared once, in PARAMS: what it is, its bounds, and the code of a
# value out of them. Everything a command carries into the journal passes through here first, so
# nothing unbounded, unencodable or outside what the instrument and the core can hold is journaled.
@dataclass(frozen=True, slots=True)
class Param:
    kind: str  # int | bool | str | enum | lots | ticks | cash | decimal
    lo: Any = 0  # int, cash, decimal: the range; str: unused
    hi: Any = 0  # ... ; str: the longest length
    values: tuple[str, ...] = ()  # enum: the allowed values (matched after `fold`)
    fold: Callable[[str], str] | None = None  # enum: str.upper, str.lower, or None (exact)
    code: str = "INVALID_PARAM"  # the code of a well-formed value out of range


PARAMS: dict[str | tuple[str, str], Param] = {  # name, or (op, name) where one op differs
    "version": Param("int", 0, 2**31),
    "api_key": Param("str", hi=MAX_API_KEY),
    "channel": Param("enum", values=tuple(sorted(CHANNELS)), code="UNKNOWN_CHANNEL"),
    "side": Param("enum", values=("buy", "sell"), fold=str.lower),
    "type": Param("enum", values=ORDER_TYPES, fold=str.upper, code="INVALID_ORDER_TYPE"),
    "tif": Param("enum", values=TIFS, fold=str.upper, code="INVALID_TIF"),
    "working_type": Param("enum", values=WORKING_TYPES, fold=str.upper, code="INVALID_TRIGGER"),
    "stp": Param("enum", values=STP_MODES, fold=str.upper, code="INVALID_STP"),
    "mode": Param("enum", values=MARGIN_MODES, fold=str.upper, code="INVALID_MARGIN_MODE"),
    "name": Param("enum", values=INSTRUMENT_PARAMS, code="INVALID_PARAMETER"),  # the engine's code
    "post_only": Param("bool"), "reduce_only": Param("bool"), "enabled": Param("bool"), "halted": Param("bool"),
    "client_order_id": Param("str", hi=MAX_CLIENT_ORDER_ID),
    "qty": Param("lots", code="INVALID_QTY"),  # in [1 lot, the instrument's largest max qty]
    "price": Param("ticks", code="INVALID_PRICE"),  # in [1 tick, the instrument's max price]
    "stop_price": Param("ticks", code="INVALID_PRICE"),
    "amount": Param("cash", -MAX_CASH, MAX_CASH, code="INVALID_AMOUNT"),  # adjust_margin: signed
    ("deposit", "amount"): Param("cash", 1, MAX_CASH, code="INVALID_AMOUNT"),
    ("withdraw", "amount"): Param("cash", 1, MAX_CASH, code="INVALID_AMOUNT"),
    "deposit": Param("cash", 1, MAX_CASH, code="INVALID_AMOUNT"),  # create_account's
    "account": Param("int", 0, MAX_ID),
    "order_id": Param("int", 1, MAX_ID),
    "leverage": Param("int", 1, 1000),
    "depth": Param("int", 1, MAX_BOOK_DEPTH),
    "value": Param("int", 0, MAX_CASH),
    "pct": Param("decimal", Decimal(-100), Decimal(1000)),
    "seconds": Param("decimal", Decimal(0), Decimal(86400)),
    "asset": Param("str", hi=16),
}
_MISSING = object()
_TYPE_OF_KIND = {"int": int, "bool": bool, "str": str, "enum": str, "lots": str, "ticks": str, "cash": str,
                 "decimal": str}


def param(msg: dict, name: str, default: Any = _MISSING, inst: Instrument | None = None, op: str = "") -> Any:
    """msg[name] checked against PARAMS[op, name] or PARAMS[name] and converted (decimal strings to
    core units; `inst` for lots and ticks), or the default when absent (or None)."""
    value = msg.get(name)
    if value is None:
        if default is _MISSING:
            raise WireError("MISSING_PARAM", f"missing parameter {name!r}")
        return default
    spec = PARAMS.get((op, name)) or PARAMS[name] if op else PARAMS[name]
    kind = spec.kind
    if type(value) is not _TYPE_OF_KIND[kind]:
        raise WireError("INVALID_PARAM", f"{name} must be {_TYPE_OF_KIND[kind].__name__}, not {type(value).__name__}")
    if kind == "int":
        if not spec.lo <= value <= spec.hi:
            raise WireError(spec.code, f"{name} {value} is outside [{spec.lo}, {spec.hi}]")
        return value
    if kind == "bool":
        return value
    if kind == "str":
        if len(value) > spec.hi:
            raise WireError(spec.code, f"{name} is longer than {spec.hi} characters")
        return value
    if kind == "enum":
        folded = spec.fold(value) if spec.fold is not None and len(value) <= 40 else value
        if folded not in spec.values:
            raise WireError(spec.code, f"{name} {show(value)} is not one of {', '.join(spec.values)}")
        return folded
    if kind == "decimal":
        d = parse_decimal(value, name)
        if not spec.lo <= d <= spec.hi:
            raise WireError(spec.code, f"{name} {value} is outside [{spec.lo}, {spec.hi}]")
        return d
    if kind == "cash":
        n = to_units(value, CASH_UNIT, name, "cash unit")
        lo, hi = spec.lo, spec.hi
    else:  # lots or ticks of the instrument
        assert inst is not None, name
        unit, step, hi = ((inst.lot_step, "lot step", max(inst.max_qty_lots, inst.market_max_qty_lots))
                          if kind == "lots" else (inst.tick_size, "tick size", inst.max_price_ticks))
        n = to_units(value, unit, name, step)
        if n <= 0:
            raise WireError("INVALID_PARAM", f"{name} {value} must be positive")
        lo = 1
    if not lo <= n <= hi:
        raise WireError(spec.code, f"{name} {value} is outside [{lo}, {hi}] {'cash units' if kind == 'cash' else kind}")
    return n


def asset_units(msg: dict, name: str, decimals: int) -> int:
    """A positive amount of a collateral asset with `decimals`, in its atomic units (at most MAX_CASH)."""
    n = to_units(field(msg, name, str), Decimal(1).scaleb(-decimals), name, "asset unit")
    if not 0 < n <= MAX_CASH:
        raise WireError("INVALID_AMOUNT", f"{name} must be positive and at most {MAX_CASH} units")
    return n


BRACKET_KEYS = frozenset({"floor", "cap", "max_leverage", "mmr"})


def brackets_field(msg: dict, name: str = "brackets") -> list[list[int]]:
    """Leverage brackets [{floor, cap (USDT), max_leverage, mmr (e.g. "0.004"), cum (ignored)}, ...], as
    set_brackets answers them -> SetBrackets rows
    [floor cash, cap cash, max leverage, MMR ppm], checked as the core checks them (each floor the
    previous cap, from 0; rates in [0, 1]) before anything is journaled."""
    items = field(msg, name, list)
    if not 0 < len(items) <= MAX_BRACKETS:
        raise WireError("INVALID_PARAM", f"{name} must list 1 to {MAX_BRACKETS} brackets")
    rows = []
    for item in items:
        if type(item) is not dict or item.keys() - {"cum"} != BRACKET_KEYS:  # cum (as answered) is derived
            raise WireError("INVALID_PARAM", f"each bracket is a map of {', '.join(sorted(BRACKET_KEYS))} (and cum)")
        rows.append([to_units(field(item, "floor", str), CASH_UNIT, "floor", "cash unit"),
                     to_units(field(item, "cap", str), CASH_UNIT, "cap", "cash unit"),
                     int_field(item, "max_leverage", 1, 1000), to_units(field(item, "mmr", str), PPM_UNIT, "mmr", "ppm")])
    try:
        brackets_from_rows(rows)
    except ValueError as e:
        raise WireError("INVALID_PARAM", str(e)) from None
    return rows


def field(msg: dict, name: str, kind: type, default: Any = _MISSING) -> Any:
    """msg[name] checked to be of `kind` (bool is not an int here), or the default when absent."""
    value = msg.get(name, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise WireError("MISSING_PARAM", f"missing parameter {name!r}")
        return default
    if type(value) is not kind:
        raise WireError("INVALID_PARAM", f"{name} must be {kind.__name__}, not {type(value).__name__}")
    return value


def int_field(msg: dict, name: str, lo: int, hi: int, default: Any = _MISSING) -> Any:
    value = field(msg, name, int, default)
    if value is not default and not lo <= value <= hi:
        raise WireError("INVALID_PARAM", f"{name} {value} is outside [{lo}, {hi}]")
    return value


def symbol_field(msg: dict, instruments: dict[str, Instrument], name: str = "symbol") -> Instrument:
    symbol = field(msg, name, str)
    inst = instruments.get(symbol)
    if inst is None:
        raise WireError("UNKNOWN_SYMBOL", f"unknown symbol {show(symbol)}")
    return inst


_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)  # no spaces, _, NaN, Infinity


def parse_decimal(value: Any, what: str) -> Decimal:
    if type(value) is int:
        value = str(value)
    if type(value) is not str or len(value) > MAX_DECIMAL_CHARS:
        raise WireError("INVALID_PARAM", f"{what} must be a decimal string")
    if not _DECIMAL.fullmatch(value):
        raise WireError("INVALID_PARAM", f"{what} {value!r} is not a decimal number")
    d = Decimal(value)
    if not d.is_finite() or (d and not -12 <= d.adjusted() <= 18):
        raise WireError("INVALID_PARAM", f"{what} {value} is out of range")
    return d


_unit_cache: dict[tuple[str, Decimal, Any], int] = {}


def to_units(value: Any, unit: Decimal, what: str, step_name: str) -> int:
    """An exact count of `unit` in a decimal string: 'qty 0.0015 is not a multiple of lot step 0.001'."""
    key = (what, unit, value)
    hit = _unit_cache.get(key)
    if hit is not None:
        return hit
    d = parse_decimal(value, what)
    try:
        count, rest = divmod(d, unit)
    except InvalidOperation:  # more digits than the context holds
        raise WireError("INVALID_PARAM", f"{what} {value} is out of range") from None
    if rest:
        raise WireError("INVALID_PARAM", f"{what} {value} is not a multiple of {step_name} {unit}")
    if len(_unit_cache) > 65536:
        _unit_cache.clear()
    n = _unit_cache[key] = int(count)
    return n


def cash_field(msg: dict, name: str = "amount") -> int:
    return param(msg, name)


# -- commands -----------------------------------------------------------------------------------
def place_command(msg: dict, account: int, instruments: dict[str, Instrument]) -> PlaceOrder:
    inst = symbol_field(msg, instruments)
    get = msg.get  # the optional fields are usually absent: checked here before param() is called
    order_type = LIMIT if get("type") is None else param(msg, "type")
    priced = order_type in (LIMIT, STOP, TAKE_PROFIT)
    price = param(msg, "price", inst=inst) if priced else 0
    stop = param(msg, "stop_price", inst=inst) if order_type in TRIGGER_TYPES else 0
    tif = GTX if get("post_only") is not None and param(msg, "post_only") else \
        GTC if get("tif") is None else param(msg, "tif")
    return PlaceOrder(account, inst.symbol, BUY if param(msg, "side") == "buy" else SELL,
                      param(msg, "qty", inst=inst), price, order_type, tif,
                      get("reduce_only") is not None and param(msg, "reduce_only"), stop,
                      MARK_PRICE if get("working_type") is None else param(msg, "working_type"),
                      STP_NONE if get("stp") is None else param(msg, "stp"),
                      "" if get("client_order_id") is None else param(msg, "client_order_id"))


def _cancel(msg: dict, account: int, instruments: dict[str, Instrument]) -> CancelOrder:
    return CancelOrder(account, symbol_field(msg, instruments).symbol, param(msg, "order_id"))


def _cancel_all(msg: dict, account: int, instruments: dict[str, Instrument]) -> CancelAll:
    return CancelAll(account, symbol_field(msg, instruments).symbol)


def _amend(msg: dict, account: int, instruments: dict[str, Instrument]) -> AmendOrder:
    inst = symbol_field(msg, instruments)
    return AmendOrder(account, inst.symbol, param(msg, "order_id"), param(msg, "qty", inst=inst),
                      param(msg, "price", inst=inst))


def _set_leverage(msg: dict, account: int, instruments: dict[str, Instrument]) -> SetLeverage:
    return SetLeverage(account, symbol_field(msg, instruments).symbol, param(msg, "leverage"))


def _set_margin_mode(msg: dict, account: int, instruments: dict[str, Instrument]) -> SetMarginMode:
    return SetMarginMode(account, symbol_field(msg, instruments).symbol, param(msg, "mode"))


def _adjust_margin(msg: dict, account: int, instruments: dict[str, Instrument]) -> AdjustIsolatedMargin:
    symbol = symbol_field(msg, instruments).symbol
    amount = param(msg, "amount")
    if not amount:
        raise WireError("INVALID_PARAM", "amount must not be 0")
    return AdjustIsolatedMargin(account, symbol, amount)


def _set_auto_add_margin(msg: dict, account: int, instruments: dict[str, Instrument]) -> SetAutoAddMargin:
    return SetAutoAddMargin(account, symbol_field(msg, instruments).symbol, param(msg, "enabled"))


_COMMANDS: dict[str, Callable[[dict, int, dict[str, Instrument]], Any]] = {
    "place": place_command, "cancel": _cancel, "cancel_all": _cancel_all, "amend": _amend,
    "set_leverage": _set_leverage, "set_margin_mode": _set_margin_mode, "adjust_margin": _adjust_margin,
    "set_auto_add_margin": _set_auto_add_margin,
}


def to_command(op: str, msg: dict, account: int, instruments: dict[str, Instrument]) -> Any:
    """The core command for a trading op of an authenticated account."""
    parse = _COMMANDS.get(op)
    if parse is None:
        raise WireError("UNKNOWN_OP", f"{op!r} is not a trading command")
    return parse(msg, account, instruments)


# -- core values -> wire values -----------------------------------------------------------------
def price_str(ticks: int | Fraction, inst: Instrument | None) -> str:
    """Ticks (or a Fraction of ticks, shown to 1/10,000 of a tick) as a decimal price string."""
    if inst is None:
        return str(ticks)
    tick = _display_unit(inst.tick_size)
    if type(ticks) is int:
        return _scaled_str(ticks, tick)
    value = Decimal(ticks.numerator) * tick / Decimal(ticks.denominator)
    return str(value.quantize(tick.scaleb(-4)))


_units: dict[Decimal, Decimal] = {}


def _display_unit(step: Decimal) -> Decimal:
    """The step without trailing zeros (0.10 -> 0.1) so prices print as 29990.0, not 29990.00."""
    unit = _units.get(step)
    if unit is None:
        unit = step.normalize()
        _units[step] = unit = unit if unit.as_tuple().exponent <= 0 else step
    return unit


_strings: dict[tuple[int, Decimal], str] = {}


def _scaled_str(count: int, unit: Decimal) -> str:
    """str(count * unit), memoised: the same prices and sizes come back again and again."""
    key = (count, unit)
    text = _strings.get(key)
    if text is None:
        if len(_strings) > 100_000:
            _strings.clear()
        text = _strings[key] = str(count * unit)
    return text


def qty_str(lots: int, inst: Instrument) -> str:
    """Lots as a decimal quantity string."""
    return _scaled_str(lots, inst.lot_step)


def side_str(side: int) -> str:
    return "buy" if side > 0 else "sell"


def _lots(v: int, inst: Instrument | None) -> str:
    return _scaled_str(v, inst.lot_step) if inst is not None else str(v)


def _scaled(decimals: int) -> Callable[[int, Instrument | None], str]:
    return lambda v, inst: f"{Decimal(v).scaleb(-decimals):f}"


def _side(v: int, inst: Instrument | None) -> str:
    return side_str(v)


_SUFFIXES: tuple[tuple[str, Callable], ...] = (
    ("_ticks", price_str), ("_lots", _lots), ("_cash", _scaled(CASH_DECIMALS)), ("_e8", _scaled(8)),
    ("_ppm", _scaled(6)))
_PASS = (int, str, bool, type(None))
_plans: dict[str, tuple[str, Callable | None]] = {}


def _plan(key: str) -> tuple[str, Callable | None]:
    """(wire name, converter) of a field name; None = passed through."""
    plan = _plans.get(key)
    if plan is None:
        plan = (key, _side if key in ("side", "taker_side") else None)
        for suffix, conv in _SUFFIXES:
            if key.endswith(suffix):
                plan = (key[: -len(suffix)], conv)
                break
        _plans[key] = plan
    return plan


def wire_value(unit: str, value: Any, inst: Instrument | None) -> Any:
    """One value in core units ("ticks", "lots", "cash", "e8", "ppm") as a decimal string."""
    conv = _plan("_" + unit)[1]
    return None if value is None or conv is None else conv(value, inst)


def _plain(value: Any, inst: Instrument | None) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return to_wire(value, inst)
    if isinstance(value, (list, tuple)):
        return [_plain(v, inst) for v in value]
    return value


def to_wire(values: dict[str, Any], inst: Instrument | None) -> dict[str, Any]:
    """A view dict in core units -> the same dict in wire units (decimal strings)."""
    out = {}
    plans = _plans
    for key, value in values.items():
        plan = plans.get(key) or _plan(key)
        conv = plan[1]
        if value is None:
            out[plan[0]] = None
        elif conv is not None:
            out[plan[0]] = conv(value, inst)
        else:
            out[plan[0]] = value if type(value) in _PASS else _plain(value, inst)
    return out


def event_to_wire(event: Any, instruments: dict[str, Instrument]) -> dict[str, Any]:
    """A core event -> {"event": name, ...fields in wire units}."""
    symbol = getattr(event, "symbol", None)
    inst = instruments.get(symbol) if symbol else None
    out = to_wire(event._asdict(), inst)
    out["event"] = type(event).__name__
    return out


def levels_to_wire(levels: list[tuple[int, int]], inst: Instrument) -> list[list[str]]:
    tick, lot = _display_unit(inst.tick_size), inst.lot_step
    return [[_scaled_str(p, tick), _scaled_str(q, lot)] for p, q in levels]
