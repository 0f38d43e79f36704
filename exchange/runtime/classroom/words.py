"""The core's rejection codes in plain words, for students (one place; a test checks every code has one)."""

from __future__ import annotations

from ...core.errors import Reject

SENTENCES: dict[Reject, str] = {
    Reject.UNKNOWN_SYMBOL: "That market does not exist in this game.",
    Reject.UNKNOWN_ACCOUNT: "Your account was not found. Ask your teacher.",
    Reject.ACCOUNT_EXISTS: "That account exists already.",
    Reject.UNKNOWN_ORDER: "That order is no longer open: it has filled or been cancelled.",
    Reject.DUPLICATE_ORDER: "You sent the same order twice.",
    Reject.INVALID_SIDE: "Choose buy or sell.",
    Reject.INVALID_ORDER_TYPE: "Choose a limit or a market order.",
    Reject.INVALID_TIF: "That order duration is not available.",
    Reject.INVALID_STP: "That self-trade setting is not available.",
    Reject.INVALID_TRIGGER: "That stop trigger is not available.",
    Reject.INVALID_PRICE: "That price is outside the range this market allows.",
    Reject.INVALID_QTY: "That size is too small or too large for this market.",
    Reject.MIN_NOTIONAL: "The order is too small: its value (size x price) is below this market's minimum.",
    Reject.PRICE_BAND: "The price is too far from the mark price: buy at most 5% above it, sell at most 5% below.",
    Reject.NO_MARK_PRICE: "The market has no price yet. Wait a moment.",
    Reject.NO_LIQUIDITY: "Nobody is offering the other side near the current price, so the market order "
                         "could not fill. Try a smaller size or a limit order.",
    Reject.POST_ONLY_WOULD_TAKE: "A post-only order would have traded at once, so it was not placed.",
    Reject.FOK_NOT_FILLABLE: "The order could not be filled completely at once, so it was cancelled.",
    Reject.REDUCE_ONLY_REJECTED: "A reduce-only order must close part of your position: it cannot open, add to "
                                 "or flip one.",
    Reject.WOULD_TRIGGER_IMMEDIATELY: "The trigger price has already been reached: a stop-loss must be below the "
                                      "mark price for a long (above it for a short), a take-profit the other way.",
    Reject.MAX_OPEN_ORDERS: "You have too many open orders. Cancel some first.",
    Reject.INSUFFICIENT_MARGIN: "Not enough margin: your free cash cannot cover this at your leverage. "
                                "Use a smaller size or more leverage.",
    Reject.INSUFFICIENT_BALANCE: "Not enough free cash for that.",
    Reject.INVALID_AMOUNT: "Enter an amount greater than zero.",
    Reject.INVALID_LEVERAGE: "That leverage is not allowed for a position this size.",
    Reject.INVALID_MARGIN_MODE: "Choose cross or isolated margin.",
    Reject.MARGIN_MODE_LOCKED: "You can switch between cross and isolated only with no position and no open "
                               "orders in this market.",
    Reject.NOT_ISOLATED: "Margin can be added or removed only for an isolated position.",
    Reject.NO_POSITION: "You have no position in this market.",
    Reject.TRADING_HALTED: "Trading is paused by the teacher.",
    Reject.IN_LIQUIDATION: "Your position is being liquidated right now.",
    Reject.INVALID_PARAMETER: "Something in the request was not valid.",
    Reject.INVALID_COMMAND: "The exchange did not understand the request.",
    Reject.INTERNAL_ERROR: "Something went wrong inside the exchange. Try again, or tell your teacher.",
}

IN_CONTEXT: dict[tuple[str, Reject], str] = {
    ("SetLeverage", Reject.INSUFFICIENT_MARGIN): "Not enough free cash to lower the leverage of your position.",
    ("AdjustIsolatedMargin", Reject.INSUFFICIENT_MARGIN): "That would take away more margin than the position can "
                                                          "spare: it must keep its initial margin.",
    ("AdjustIsolatedMargin", Reject.INSUFFICIENT_BALANCE): "Not enough free cash to add that much margin.",
}


def sentence(code: str, command: str = "") -> str:
    """A plain sentence for a rejection code of the core (as sent in OrderRejected / CommandRejected)."""
    try:
        reject = Reject(code)
    except ValueError:
        return "The exchange refused the request."
    return IN_CONTEXT.get((command, reject)) or SENTENCES[reject]
