"""Binance request parameters -> validated values and core commands. Pure: strings in, values out.

Every parameter arrives as a string (query string or form body). Each reader bounds it: at most
MAX_VALUE_CHARS characters, decimals within the instrument's tick/lot grid and its min/max, integers
within stated ranges, enums checked. A failure raises BinanceError with the code Binance uses.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from ....core.commands import (
    BUY,
    CONTRACT_PRICE,
    MARK_PRICE,
    SELL,
    STP_MODES,
    TRIGGER_TYPES,
    AmendOrder,
    PlaceOrder,
)
from ....core.instruments import MAX_BRACKETS, Instrument, brackets_from_rows
from .errors import (
    BAD_PRECISION,
    BAD_SYMBOL,
    ILLEGAL_CHARS,
    INVALID_CLIENT_ORDER_ID,
    INVALID_LEVERAGE,
    INVALID_ORDER_TYPE,
    INVALID_PARAMETER,
    INVALID_SIDE,
    INVALID_TIF,
    MANDATORY_PARAM,
    NOT_SUPPORTED,
    POSITION_SIDE_NOT_MATCH,
    PRICE_GREATER_THAN_MAX,
    PRICE_LESS_THAN_MIN,
    PRICE_LESS_THAN_ZERO,
    PRICE_NOT_BY_TICK,
    QTY_GREATER_THAN_MAX,
    QTY_LESS_THAN_MIN,
    QTY_LESS_THAN_ZERO,
    QTY_NOT_BY_STEP,
    STOP_PRICE_GREATER_THAN_MAX,
    STOP_PRICE_LESS_THAN_ZERO,
    TOO_MANY_PARAMETERS,
    BinanceError,
    error,
)

MAX_PARAMS = 40
MAX_VALUE_CHARS = 64
MAX_BATCH_JSON_CHARS = 16_384
JSON_PARAMS = frozenset({"batchOrders", "brackets"})  # JSON values, bounded by MAX_BATCH_JSON_CHARS instead
CLIENT_ORDER_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
DECIMAL_TEXT = re.compile(r"^-?[0-9]{1,20}(\.[0-9]{1,18})?$")
INTEGER_TEXT = re.compile(r"^-?[0-9]{1,19}$")

SIDES = {"BUY": BUY, "SELL": SELL}
ORDER_TYPES = ("LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET")
UNSUPPORTED_TYPES = ("TRAILING_STOP_MARKET",)
PRICED_TYPES = ("LIMIT", "STOP", "TAKE_PROFIT")
TIFS = ("GTC", "IOC", "FOK", "GTX")
WORKING_TYPES = (MARK_PRICE, CONTRACT_PRICE)
RESP_TYPES = ("ACK", "RESULT")
MARGIN_TYPES = {"ISOLATED": "ISOLATED", "CROSSED": "CROSS", "CROSS": "CROSS"}


def parse_pairs(raw: str) -> list[tuple[str, str]]:
    """`a=1&b=2` -> pairs, bounded in count (-1101) and in each value's length (-1100)."""
    if not raw:
        return []
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_PARAMS, errors="strict")
    except ValueError:
        raise error(TOO_MANY_PARAMETERS, f"Too many parameters; at most {MAX_PARAMS}.") from None
    except UnicodeDecodeError:
        raise error(ILLEGAL_CHARS, "Illegal characters found in a parameter.") from None
    return pairs


class Params:
    """The parameters of one request, each read at most once through a typed reader."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        values: dict[str, str] = {}
        for name, value in pairs:
            if name in values:
                raise error(TOO_MANY_PARAMETERS, f"Duplicate values for a parameter detected: '{name[:30]}'.")
            if len(name) > MAX_VALUE_CHARS or (len(value) > MAX_VALUE_CHARS and name not in JSON_PARAMS):
                raise error(ILLEGAL_CHARS, f"Illegal characters found in parameter '{name[:30]}'; "
                            f"values are at most {MAX_VALUE_CHARS} characters.")
            values[name] = value
        self.values = values

    @classmethod
    def of(cls, **values: str) -> Params:
        return cls(list(values.items()))

    def __contains__(self, name: str) -> bool:
        return bool(self.values.get(name))

    def raw(self, name: str) -> str | None:
        """The value, or None when absent or empty."""
        value = self.values.get(name)
        return value if value else None

    def text(self, name: str) -> str:
        value = self.raw(name)
        if value is None:
            raise error(MANDATORY_PARAM, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        return value

    def symbol(self, instruments: dict[str, Instrument], name: str = "symbol") -> Instrument:
        inst = instruments.get(self.text(name).upper())
        if inst is None:
            raise error(BAD_SYMBOL)
        return inst

    def optional_symbol(self, instruments: dict[str, Instrument]) -> Instrument | None:
        return self.symbol(instruments) if "symbol" in self else None

    def enum(self, name: str, choices: tuple[str, ...], default: str | None = None, code: int = INVALID_PARAMETER,
             upper: bool = True) -> str:
        value = self.raw(name)
        if value is None:
            if default is None:
                self.text(name)
            return default  # type: ignore[return-value]
        value = value.upper() if upper else value
        if value not in choices:
            raise error(code) if code != INVALID_PARAMETER else invalid(name)
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        low = value.lower()
        if low not in ("true", "false"):
            raise invalid(name)
        return low == "true"

    def integer(self, name: str, lo: int, hi: int, default: int | None = None) -> int:
        value = self.raw(name)
        if value is None:
            if default is None:
                self.text(name)
            return default  # type: ignore[return-value]
        if not INTEGER_TEXT.match(value):
            raise error(ILLEGAL_CHARS, f"Illegal characters found in parameter '{name}'; legal range is an integer.")
        n = int(value)
        if not lo <= n <= hi:
            raise error(INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid: {n} is outside [{lo}, {hi}].")
        return n

    def optional_integer(self, name: str, lo: int, hi: int) -> int | None:
        return self.integer(name, lo, hi) if name in self else None

    def decimal(self, name: str) -> Decimal:
        value = self.text(name)
        if not DECIMAL_TEXT.match(value):
            raise error(ILLEGAL_CHARS, f"Illegal characters found in parameter '{name}'; legal range is a decimal number.")
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            raise invalid(name) from None

    def units(self, name: str, unit: Decimal, codes: tuple[int, int]) -> int:
        """A decimal as an exact count of `unit`; codes = (too many decimals, not a multiple)."""
        d = self.decimal(name)
        places = max(0, -unit.normalize().as_tuple().exponent)  # type: ignore[operator]
        if -d.as_tuple().exponent > places and d != d.quantize(Decimal(1).scaleb(-places)):  # type: ignore[operator]
            raise error(codes[0], f"Precision is over the maximum defined for this asset: {name} {d} has more "
                        f"than {places} decimals.")
        count, rest = divmod(d, unit)
        if rest:
            raise error(codes[1], f"{error(codes[1]).msg} ({name} {d} is not a multiple of {unit})")
        return int(count)


def invalid(name: str) -> BinanceError:
    return error(INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid.")


def ticks(params: Params, name: str, inst: Instrument, stop: bool = False) -> int:
    """A price in ticks within the instrument's PRICE_FILTER."""
    n = params.units(name, inst.tick_size, (BAD_PRECISION, PRICE_NOT_BY_TICK))
    if n <= 0:
        raise error(STOP_PRICE_LESS_THAN_ZERO if stop else PRICE_LESS_THAN_ZERO)
    if n > inst.max_price_ticks:
        raise error(STOP_PRICE_GREATER_THAN_MAX if stop else PRICE_GREATER_THAN_MAX)
    if n < inst.min_price_ticks:
        raise error(PRICE_LESS_THAN_MIN)
    return n


def lots(params: Params, name: str, inst: Instrument, market: bool) -> int:
    """A quantity in lots within LOT_SIZE (or MARKET_LOT_SIZE)."""
    n = params.units(name, inst.lot_step, (BAD_PRECISION, QTY_NOT_BY_STEP))
    lo, hi = (inst.market_min_qty_lots, inst.market_max_qty_lots) if market else (inst.min_qty_lots, inst.max_qty_lots)
    if n <= 0:
        raise error(QTY_LESS_THAN_ZERO)
    if n < lo:
        raise error(QTY_LESS_THAN_MIN)
    if n > hi:
        raise error(QTY_GREATER_THAN_MAX)
    return n


def client_order_id(params: Params, name: str, make: str) -> str:
    value = params.raw(name)
    if value is None:
        return make
    if not CLIENT_ORDER_ID.match(value):
        raise error(INVALID_CLIENT_ORDER_ID)
    return value


def one_way(params: Params) -> None:
    """Only one-way mode exists here: positionSide, when sent, must be BOTH."""
    side = params.raw("positionSide")
    if side is not None and side.upper() != "BOTH":
        raise error(POSITION_SIDE_NOT_MATCH)


def order_command(params: Params, account: int, instruments: dict[str, Instrument], new_client_id: str,
                  algo: bool = False) -> PlaceOrder:
    """POST /fapi/v1/order (or /fapi/v1/algoOrder with `algo`) -> PlaceOrder, every field checked."""
    inst = params.symbol(instruments)
    side = SIDES[params.enum("side", tuple(SIDES), code=INVALID_SIDE)]
    kind = params.raw("type")
    if kind is not None and kind.upper() in UNSUPPORTED_TYPES:
        raise error(NOT_SUPPORTED, f"Order type {kind.upper()} is not supported by this exchange.")
    kind = params.enum("type", ORDER_TYPES, code=INVALID_ORDER_TYPE)
    conditional = kind in TRIGGER_TYPES
    if algo:
        params.enum("algoType", ("CONDITIONAL",))
        if not conditional:
            raise error(INVALID_ORDER_TYPE, "Invalid orderType: algo orders are STOP, STOP_MARKET, TAKE_PROFIT "
                        "or TAKE_PROFIT_MARKET.")
    one_way(params)
    if params.boolean("closePosition"):
        raise error(NOT_SUPPORTED, "closePosition is not supported: send quantity with reduceOnly=true.")
    if "priceMatch" in params and params.enum("priceMatch", ("NONE",)) != "NONE":
        raise error(NOT_SUPPORTED)
    params.enum("newOrderRespType", RESP_TYPES, "ACK")
    params.boolean("priceProtect")
    market = kind.endswith("MARKET")
    qty = lots(params, "quantity", inst, market)
    price = ticks(params, "price", inst) if kind in PRICED_TYPES else 0
    tif = params.enum("timeInForce", TIFS + ("GTD",), "GTC", code=INVALID_TIF)
    if tif == "GTD":
        raise error(NOT_SUPPORTED, "timeInForce GTD is not supported.")
    if kind == "LIMIT" and "timeInForce" not in params:
        params.text("timeInForce")
    stop = ticks(params, "triggerPrice" if algo else "stopPrice", inst, stop=True) if conditional else 0
    working = params.enum("workingType", WORKING_TYPES, CONTRACT_PRICE)
    stp = params.enum("selfTradePreventionMode", STP_MODES, "NONE")
    coid = client_order_id(params, "clientAlgoId" if algo else "newClientOrderId", new_client_id)
    return PlaceOrder(account, inst.symbol, side, qty, price, kind, "GTC" if market else tif,
                      params.boolean("reduceOnly"), stop, working, stp, coid)


def amend_command(params: Params, account: int, inst: Instrument, order_id: int, side: int, filled: int) -> AmendOrder:
    """PUT /fapi/v1/order -> AmendOrder. Binance's quantity is the new original quantity; the core's is
    what rests, so the filled part is taken off (it must leave something to rest)."""
    if SIDES[params.enum("side", tuple(SIDES), code=INVALID_SIDE)] != side:
        raise invalid("side")
    if "priceMatch" in params and params.enum("priceMatch", ("NONE",)) != "NONE":
        raise error(NOT_SUPPORTED)
    qty = lots(params, "quantity", inst, False)
    if qty <= filled:
        raise error(QTY_LESS_THAN_MIN, f"Quantity less than min quantity: the order has filled {filled} lots already.")
    return AmendOrder(account, inst.symbol, order_id, qty - filled, ticks(params, "price", inst))


def margin_type(params: Params) -> str:
    return MARGIN_TYPES[params.enum("marginType", tuple(MARGIN_TYPES))]


def leverage(params: Params) -> int:
    """1..1000 here (the core then holds it to the symbol's brackets); beyond: -4028."""
    text = params.text("leverage")
    if not INTEGER_TEXT.match(text) or not 1 <= int(text) <= 1000:
        raise error(INVALID_LEVERAGE, f"Leverage {text[:20]} is not valid")
    return int(text)


def cash_amount(params: Params, name: str = "amount") -> int:
    """A positive USDT amount in cash units (1e-6)."""
    n = params.units(name, Decimal("0.000001"), (BAD_PRECISION, BAD_PRECISION))
    if n <= 0 or n > 10**18:
        raise error(-4055, f"Amount must be positive (and at most 10^12): {name}.")
    return n


def json_param(params: Params, name: str) -> Any:
    """A parameter that carries JSON (batchOrders, brackets), at most MAX_BATCH_JSON_CHARS long."""
    text = params.text(name)
    if len(text) > MAX_BATCH_JSON_CHARS:
        raise invalid(name)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise invalid(name) from None


def item_params(item: Any, name: str) -> Params:
    """One item of a JSON list parameter: an object of scalars -> Params (booleans and numbers as Binance
    strings)."""
    if not isinstance(item, dict):
        raise invalid(name)
    pairs = []
    for k, v in item.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, (int, float)):
            v = repr(v)
        if not isinstance(k, str) or not isinstance(v, str):
            raise invalid(name)
        pairs.append((k, v))
    return Params(pairs)


def bracket_rows(params: Params) -> list[list[int]]:
    """`brackets`: a JSON list of Binance leverage brackets (as GET /fapi/v1/leverageBracket answers them:
    notionalFloor, notionalCap, initialLeverage, maintMarginRatio; bracket and cum are ignored, cum is
    derived) -> SetBrackets rows [floor cash, cap cash, max leverage, MMR ppm], checked as the core checks
    them (they chain from 0, rates within [0, 1]) before anything is journaled."""
    items = json_param(params, "brackets")
    if not isinstance(items, list) or not 0 < len(items) <= MAX_BRACKETS:
        raise error(INVALID_PARAMETER, f"brackets must be a JSON list of 1 to {MAX_BRACKETS} brackets.")
    rows = []
    for item in items:
        p = item_params(item, "brackets")
        if set(p.values) - {"bracket", "cum", "notionalFloor", "notionalCap", "initialLeverage", "maintMarginRatio"}:
            raise invalid("brackets")
        floor = p.units("notionalFloor", Decimal("0.000001"), (BAD_PRECISION, BAD_PRECISION))
        cap = p.units("notionalCap", Decimal("0.000001"), (BAD_PRECISION, BAD_PRECISION))
        mmr = p.units("maintMarginRatio", Decimal("0.000001"), (BAD_PRECISION, BAD_PRECISION))
        rows.append([floor, cap, p.integer("initialLeverage", 1, 1000), mmr])
    try:
        brackets_from_rows(rows)
    except ValueError as e:
        raise error(INVALID_PARAMETER, f"brackets: {e}.") from None
    return rows
