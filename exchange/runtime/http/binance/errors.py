"""Binance error bodies `{"code": -2019, "msg": "Margin is insufficient."}` and the table that maps
every core rejection code to the Binance code a bot branches on.

HTTP status: -2014/-2015 (key) 401, -1003 (rate) 429, -1008 (overload) 503, -1000 500, others 400.
"""

from __future__ import annotations

from ....core.errors import Reject


class BinanceError(Exception):
    """A request refused with a Binance error code; nothing was submitted for it (or the core rejected it)."""

    def __init__(self, code: int, msg: str, status: int | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status if status is not None else http_status(code)

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def http_status(code: int) -> int:
    if code in (-2014, -2015):
        return 401
    if code == -1003:
        return 429
    if code == -1008:
        return 503
    if code == -1000:
        return 500
    return 400


# -- request-level codes -------------------------------------------------------------------------
UNKNOWN = -1000
TOO_MANY_REQUESTS = -1003
SERVER_BUSY = -1008
INVALID_TIMESTAMP = -1021
INVALID_SIGNATURE = -1022
ILLEGAL_CHARS = -1100
TOO_MANY_PARAMETERS = -1101
MANDATORY_PARAM = -1102
BAD_PRECISION = -1111
INVALID_TIF = -1115
INVALID_ORDER_TYPE = -1116
INVALID_SIDE = -1117
BAD_INTERVAL = -1120
BAD_SYMBOL = -1121
INVALID_LISTEN_KEY = -1125
INVALID_PARAMETER = -1130
NO_SUCH_ORDER = -2013
CANCEL_REJECTED = -2011
BAD_API_KEY_FMT = -2014
REJECTED_MBX_KEY = -2015
PRICE_LESS_THAN_ZERO = -4001
PRICE_GREATER_THAN_MAX = -4002
QTY_LESS_THAN_ZERO = -4003
QTY_LESS_THAN_MIN = -4004
QTY_GREATER_THAN_MAX = -4005
STOP_PRICE_LESS_THAN_ZERO = -4006
STOP_PRICE_GREATER_THAN_MAX = -4007
PRICE_LESS_THAN_MIN = -4013
PRICE_NOT_BY_TICK = -4014
INVALID_CLIENT_ORDER_ID = -4015
QTY_NOT_BY_STEP = -4023
INVALID_LEVERAGE = -4028
NO_NEED_TO_CHANGE_MARGIN_TYPE = -4046
NO_NEED_TO_CHANGE_POSITION_SIDE = -4059
POSITION_SIDE_NOT_MATCH = -4061
NOT_SUPPORTED = -4084
NO_NEED_TO_CHANGE_ASSET_MODE = -4171
NOT_FOUND = -5000

MESSAGES = {
    UNKNOWN: "An unknown error occurred while processing the request.",
    INVALID_SIGNATURE: "Signature for this request is not valid.",
    BAD_PRECISION: "Precision is over the maximum defined for this asset.",
    INVALID_TIF: "Invalid timeInForce.",
    INVALID_ORDER_TYPE: "Invalid orderType.",
    INVALID_SIDE: "Invalid side.",
    BAD_INTERVAL: "Invalid interval.",
    BAD_SYMBOL: "Invalid symbol.",
    INVALID_LISTEN_KEY: "This listenKey does not exist.",
    NO_SUCH_ORDER: "Order does not exist.",
    CANCEL_REJECTED: "Unknown order sent.",
    BAD_API_KEY_FMT: "API-key format invalid.",
    REJECTED_MBX_KEY: "Invalid API-key, IP, or permissions for action.",
    QTY_LESS_THAN_ZERO: "Quantity less than or equal to zero.",
    QTY_LESS_THAN_MIN: "Quantity less than min quantity.",
    QTY_GREATER_THAN_MAX: "Quantity greater than max quantity.",
    PRICE_LESS_THAN_ZERO: "Price less than or equal to zero.",
    PRICE_GREATER_THAN_MAX: "Price greater than max price.",
    PRICE_LESS_THAN_MIN: "Price less than min price.",
    PRICE_NOT_BY_TICK: "Price not increased by tick size.",
    QTY_NOT_BY_STEP: "Quantity not increased by step size.",
    STOP_PRICE_LESS_THAN_ZERO: "Stop price less than or equal to zero.",
    STOP_PRICE_GREATER_THAN_MAX: "Stop price greater than max price.",
    INVALID_CLIENT_ORDER_ID: "Client order id is not valid.",
    NO_NEED_TO_CHANGE_MARGIN_TYPE: "No need to change margin type.",
    NO_NEED_TO_CHANGE_POSITION_SIDE: "No need to change position side.",
    POSITION_SIDE_NOT_MATCH: "Order's position side does not match user's setting.",
    NO_NEED_TO_CHANGE_ASSET_MODE: "Adjusted asset mode is currently set and does not need to be adjusted repeatedly",
}


def error(code: int, msg: str | None = None) -> BinanceError:
    """A BinanceError with Binance's standard message for the code unless one is given."""
    return BinanceError(code, msg if msg is not None else MESSAGES.get(code, MESSAGES[UNKNOWN]))


# -- core rejections -----------------------------------------------------------------------------
# Reject code -> (Binance code, message). The core's own message is appended after " " so a bot that
# matches Binance's text still matches the prefix and a person still learns the cause.
REJECT_TABLE: dict[str, tuple[int, str]] = {
    Reject.UNKNOWN_SYMBOL: (BAD_SYMBOL, "Invalid symbol."),
    Reject.UNKNOWN_ACCOUNT: (REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action."),
    Reject.ACCOUNT_EXISTS: (INVALID_PARAMETER, "Account exists."),
    Reject.UNKNOWN_ORDER: (CANCEL_REJECTED, "Unknown order sent."),
    Reject.DUPLICATE_ORDER: (-4116, "ClientOrderId is duplicated."),
    Reject.INVALID_SIDE: (INVALID_SIDE, "Invalid side."),
    Reject.INVALID_ORDER_TYPE: (INVALID_ORDER_TYPE, "Invalid orderType."),
    Reject.INVALID_TIF: (INVALID_TIF, "Invalid timeInForce."),
    Reject.INVALID_STP: (INVALID_PARAMETER, "Data sent for parameter 'selfTradePreventionMode' is not valid."),
    Reject.INVALID_TRIGGER: (-4031, "Invalid parameter working type."),
    Reject.INVALID_PRICE: (-1013, "Invalid price."),
    Reject.INVALID_QTY: (-1013, "Invalid quantity."),
    Reject.MIN_NOTIONAL: (-4164, "Order's notional must be no smaller than the minimum notional (unless you choose reduce only)."),
    Reject.PRICE_BAND: (-4016, "Price is higher than mark price multiplier cap."),  # sell: -4024, see reject_error
    Reject.NO_MARK_PRICE: (-2020, "Unable to fill."),
    Reject.NO_LIQUIDITY: (-2020, "Unable to fill."),
    Reject.POST_ONLY_WOULD_TAKE: (-5022, "Due to the order could not be executed as maker, the Post Only order will be rejected."),
    Reject.FOK_NOT_FILLABLE: (-5021, "Due to the order could not be filled immediately, the FOK order has been rejected."),
    Reject.REDUCE_ONLY_REJECTED: (-2022, "ReduceOnly Order is rejected."),
    Reject.WOULD_TRIGGER_IMMEDIATELY: (-2021, "Order would immediately trigger."),
    Reject.MAX_OPEN_ORDERS: (-2025, "Reach max open order limit."),
    Reject.INSUFFICIENT_MARGIN: (-2019, "Margin is insufficient."),
    Reject.INSUFFICIENT_BALANCE: (-2018, "Balance is insufficient."),
    Reject.INVALID_AMOUNT: (-4055, "Amount must be positive."),
    Reject.INVALID_LEVERAGE: (INVALID_LEVERAGE, "Leverage is not valid."),
    Reject.INVALID_MARGIN_MODE: (INVALID_PARAMETER, "Data sent for parameter 'marginType' is not valid."),
    Reject.MARGIN_MODE_LOCKED: (-4048, "Margin type cannot be changed if there exists position."),  # orders: -4047
    Reject.NOT_ISOLATED: (-4049, "Add margin only support for isolated position."),
    Reject.NO_POSITION: (-4054, "Cannot add position margin: position is 0."),
    Reject.TRADING_HALTED: (-4140, "Invalid symbol status for opening position."),
    Reject.IN_LIQUIDATION: (-2023, "User in liquidation mode now."),
    Reject.INVALID_PARAMETER: (INVALID_PARAMETER, "Data sent for a parameter is not valid."),
    Reject.INVALID_COMMAND: (UNKNOWN, MESSAGES[UNKNOWN]),
    Reject.INTERNAL_ERROR: (UNKNOWN, MESSAGES[UNKNOWN]),
}

# the same core code means something more specific on some commands
COMMAND_OVERRIDES: dict[tuple[str, str], tuple[int, str]] = {
    ("SetLeverage", Reject.INSUFFICIENT_MARGIN): (-2028, "Leverage is smaller than permitted: insufficient margin balance."),
    ("PlaceOrder", Reject.INVALID_LEVERAGE): (-2027, "Exceeded the maximum allowable position at current leverage."),
    ("AdjustIsolatedMargin", Reject.INSUFFICIENT_BALANCE): (-4050, "Cross balance insufficient."),
    ("AdjustIsolatedMargin", Reject.INSUFFICIENT_MARGIN): (-4051, "Isolated balance insufficient."),
    ("AmendOrder", Reject.UNKNOWN_ORDER): (NO_SUCH_ORDER, "Order does not exist."),
}


def reject_error(command: str, code: str, message: str) -> BinanceError:
    """The Binance error for a core rejection of `command` (the command's class name)."""
    binance_code, text = COMMAND_OVERRIDES.get((command, code)) or REJECT_TABLE.get(code, (UNKNOWN, MESSAGES[UNKNOWN]))
    if code == Reject.PRICE_BAND and message.startswith("sell"):
        binance_code, text = -4024, "Price is lower than mark price multiplier floor."
    elif code == Reject.MARGIN_MODE_LOCKED and " position 0 " in message:
        binance_code, text = -4047, "Margin type cannot be changed if there exists open orders."
    return BinanceError(binance_code, f"{text} ({message})" if message else text)
