"""What a student does: orders (limit or market, with a stop-loss and a take-profit), cancels, closing
a position, leverage, margin mode and isolated margin. Each is checked (plain words on a refusal,
nothing sent) and sent to the sequencer as core commands with origin `student:<id>`; the answer is
built from the events right after they were applied."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ...core.commands import (
    BUY,
    LIMIT,
    MARKET,
    SELL,
    STOP_MARKET,
    TAKE_PROFIT_MARKET,
    AdjustIsolatedMargin,
    CancelAll,
    CancelOrder,
    PlaceOrder,
    SetLeverage,
    SetMarginMode,
)
from ...core.events import OrderAccepted, OrderRejected, Trade
from ...wire.schema import param, symbol_field, to_units
from ..http.binance import shapes
from .game import ENDED, LOBBY, PAUSED, Game, GameError, checked, refusal
from .roster import Student
from .words import sentence


def _open_for_trading(game: Game) -> None:
    if game.state == LOBBY:
        raise GameError("The game has not started yet. Wait for your teacher.", 409)
    if game.state == PAUSED:
        raise GameError("The game is paused. Wait for your teacher.", 409)
    if game.state == ENDED:
        raise GameError("The game is over: trading has ended.", 409)

async def _submit(game: Game, student: Student, commands: list, answer: Callable[[list], Any]) -> Any:
    """Commands of a student (origin student:<id>), within their rate limit."""
    game.api.admit(f"game{student.id}")
    return await game.api.submit(commands, f"student:{student.id}", answer)

def done(student: Student, message: str) -> Callable[[list], dict[str, Any]]:
    """The answer to a student's command: `message`, or the exchange's refusal in plain words."""
    def answer(events: list) -> dict[str, Any]:
        why = refusal(events, student.account)
        if why is not None:
            raise GameError(why)
        return {"ok": True, "message": message}
    return answer

async def place(game: Game, student: Student, body: dict[str, Any]) -> dict[str, Any]:
    """A limit or market order, with an optional stop-loss and take-profit for the position
    (reduce-only stop-market and take-profit-market orders on the mark price)."""
    _open_for_trading(game)
    inst = checked(lambda: symbol_field(body, game.instruments))
    side = {"buy": BUY, "sell": SELL}.get(str(body.get("side", "")).lower())
    if side is None:
        raise GameError("Choose buy or sell.")
    kind = str(body.get("type", "")).upper()
    if kind not in (LIMIT, MARKET):
        raise GameError("Choose a limit or a market order.")
    qty = checked(lambda: param(body, "qty", inst=inst))
    price = checked(lambda: param(body, "price", inst=inst)) if kind == LIMIT else 0
    reduce_only = checked(lambda: param(body, "reduce_only", False))
    protect = []
    for key, order_type in (("stop_loss", STOP_MARKET), ("take_profit", TAKE_PROFIT_MARKET)):
        if body.get(key) not in (None, ""):
            stop = checked(partial(to_units, body[key], inst.tick_size, key, "tick size"))
            if not 1 <= stop <= inst.max_price_ticks:
                raise GameError(f"The {key.replace('_', '-')} price is outside the range this market allows.")
            protect.append((key, PlaceOrder(student.account, inst.symbol, -side, qty, 0, order_type,
                                            reduce_only=True, stop_price_ticks=stop)))
    account = student.account
    order = PlaceOrder(account, inst.symbol, side, qty, price, kind, reduce_only=reduce_only)

    def answer(events: list) -> dict[str, Any]:
        accepted = next((e for e in events if type(e) is OrderAccepted and e.account == account), None)
        if accepted is None:
            raise GameError(refusal(events, account) or "The order was not accepted.")
        filled = value = 0
        for e in events:
            if type(e) is Trade and accepted.order_id in (e.taker_order_id, e.maker_order_id) \
                    and account in (e.taker_account, e.maker_account):
                filled += e.qty_lots
                value += e.qty_lots * e.price_ticks
        verb = "Bought" if side == BUY else "Sold"
        if filled:
            message = f"{verb} {shapes.qty(filled, inst)} at {shapes.px(value // filled, inst)} on average."
            if filled < qty and kind == LIMIT:
                message += f" The other {shapes.qty(qty - filled, inst)} wait in the book."
        elif kind == LIMIT:
            message = f"Your {'buy' if side == BUY else 'sell'} order for {shapes.qty(qty, inst)} at " \
                      f"{shapes.px(price, inst)} waits in the book."
        else:
            message = "The market order did not fill."
        notes = []
        refused = iter(e for e in events if type(e) is OrderRejected and e.account == account)
        for key, cmd in protect:
            label = "stop-loss" if key == "stop_loss" else "take-profit"
            placed = any(type(e) is OrderAccepted and e.account == account and e.order_type == cmd.order_type
                         and e.stop_price_ticks == cmd.stop_price_ticks for e in events)
            if placed:
                notes.append(f"The {label} at {shapes.px(cmd.stop_price_ticks, inst)} is set.")
            else:
                why = next(refused, None)
                notes.append(f"The {label} was not set: {sentence(why.code, 'PlaceOrder') if why else ''}")
        return {"ok": True, "order_id": accepted.order_id, "message": " ".join([message, *notes])}
    return await _submit(game, student, [order] + [cmd for _, cmd in protect], answer)

async def cancel(game: Game, student: Student, body: dict[str, Any]) -> dict[str, Any]:
    _open_for_trading(game)
    inst = checked(lambda: symbol_field(body, game.instruments))
    if body.get("order_id") in (None, "all"):
        cmd: Any = CancelAll(student.account, inst.symbol)
    else:
        cmd = CancelOrder(student.account, inst.symbol, checked(lambda: param(body, "order_id")))

    return await _submit(game, student, [cmd], done(student, "Cancelled."))

async def close_position(game: Game, student: Student, body: dict[str, Any]) -> dict[str, Any]:
    """Close the whole position at market (reduce-only)."""
    inst = checked(lambda: symbol_field(body, game.instruments))
    acct = game.ex.accounts.get(student.account)
    size = acct.positions[inst.symbol].size if acct else 0
    if not size:
        raise GameError("You have no position in this market.")
    return await place(game, student, {"symbol": inst.symbol, "side": "sell" if size > 0 else "buy",
                                      "type": MARKET, "qty": shapes.qty(abs(size), inst), "reduce_only": True})

async def set_leverage(game: Game, student: Student, body: dict[str, Any]) -> dict[str, Any]:
    _open_for_trading(game)
    inst = checked(lambda: symbol_field(body, game.instruments))
    lev = body.get("leverage")
    if type(lev) is not int or not 1 <= lev <= game.max_leverage:
        raise GameError(f"Leverage must be a whole number from 1 to {game.max_leverage} in this game.")

    return await _submit(game, student, [SetLeverage(student.account, inst.symbol, lev)],
                         done(student, f"Leverage set to {lev}x."))

async def set_margin_mode(game: Game, student: Student, body: dict[str, Any]) -> dict[str, Any]:
    _open_for_trading(game)
    inst = checked(lambda: symbol_field(body, game.instruments))
    mode = str(body.get("mode", "")).upper()
    if mode not in game.cfg.margin_modes:
        raise GameError(f"This game allows {' and '.join(m.lower() for m in game.cfg.margin_modes)} margin only.")

    return await _submit(game, student, [SetMarginMode(student.account, inst.symbol, mode)],
                         done(student, f"Margin mode set to {mode.lower()}."))

async def adjust_margin(game: Game, student: Student, body: dict[str, Any]) -> dict[str, Any]:
    """Add (amount > 0) or remove (amount < 0) margin of an isolated position, in USDT."""
    _open_for_trading(game)
    inst = checked(lambda: symbol_field(body, game.instruments))
    amount = checked(lambda: param(body, "amount"))
    if not amount:
        raise GameError("Enter an amount of USDT: positive to add margin, negative to remove it.")

    verb = "Added" if amount > 0 else "Removed"
    return await _submit(game, student, [AdjustIsolatedMargin(student.account, inst.symbol, amount)],
                         done(student, f"{verb} {shapes.cash(abs(amount)).rstrip('0').rstrip('.')} USDT of margin."))
