"""Orders, Binance USDⓈ-M shapes: /fapi/v1/order (new, query, cancel, modify), batchOrders,
openOrder(s), allOrders, allOpenOrders, userTrades, and the algo (conditional) order endpoints
/fapi/v1/algoOrder, openAlgoOrders, allAlgoOrders, algoOpenOrders that ccxt and python-binance use for
STOP / TAKE_PROFIT orders. Every command is checked by its signature first and built from validated
parameters before it reaches the sequencer."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from aiohttp import web

from ...core.commands import TRIGGER_TYPES, CancelAll, CancelOrder
from ...core.events import OrderAccepted, OrderAmended, OrderCancelled
from .api import Api, expect, rejection_of
from .binance import shapes
from .binance.errors import CANCEL_REJECTED, MANDATORY_PARAM, NO_SUCH_ORDER, BinanceError, error
from .binance.params import Params, amend_command, invalid, item_params, json_param, order_command
from .history import OrderRecord
from .incoming import answer, api_of, signed

routes = web.RouteTableDef()
MAX_BATCH = 5
MAX_CANCEL_BATCH = 10
DONE = {"code": 200, "msg": "The operation of cancel all open order is done."}


def new_client_id() -> str:
    return "lq" + secrets.token_urlsafe(15)[:20]


def origin(account: int) -> str:
    return f"a{account}"


# -- placing -------------------------------------------------------------------------------------
async def place(api: Api, account: int, params: Params, algo: bool) -> dict[str, Any]:
    cmd = order_command(params, account, api.ex.instruments, new_client_id(), algo)
    inst = api.ex.instruments[cmd.symbol]

    def placed(events: list) -> dict[str, Any]:
        ev = expect(events, account, OrderAccepted, "PlaceOrder", lambda e: e.client_order_id == cmd.client_order_id)
        rec = api.history.orders[ev.order_id]
        return shapes.algo_order(rec, inst) if algo else shapes.order(rec, inst)
    return await api.submit(cmd, origin(account), placed)


@routes.post("/fapi/v1/order")
async def new_order(request: web.Request) -> web.Response:
    account, params = await signed(request)
    return answer(await place(api_of(request), account, params, False))


@routes.post("/fapi/v1/algoOrder")
async def new_algo_order(request: web.Request) -> web.Response:
    account, params = await signed(request)
    return answer(await place(api_of(request), account, params, True))


@routes.post("/fapi/v1/order/test")
async def test_order(request: web.Request) -> web.Response:
    account, params = await signed(request)
    order_command(params, account, api_of(request).ex.instruments, new_client_id())
    return answer({})


# -- finding an order ----------------------------------------------------------------------------
def find(api: Api, account: int, params: Params, id_name: str = "orderId", client_name: str = "origClientOrderId",
         missing: int = NO_SUCH_ORDER) -> OrderRecord:
    """The account's order named by id or client id (read inside the sequencer), or the `missing` error."""
    inst = params.symbol(api.ex.instruments)
    oid = params.optional_integer(id_name, 1, 2**62)
    coid = params.raw(client_name)
    if oid is None and coid is None:
        raise error(MANDATORY_PARAM, f"Param '{id_name}' or '{client_name}' must be sent, but both were empty/null!")
    rec = api.history.order(account, oid, coid)
    if rec is None or rec.symbol != inst.symbol:
        raise error(missing)
    return rec


def is_open(api: Api, rec: OrderRecord) -> bool:
    acct = api.ex.accounts.get(rec.account)
    return acct is not None and rec.order_id in acct.orders


async def cancel(api: Api, account: int, params: Params, algo: bool = False) -> dict[str, Any]:
    def resolve() -> OrderRecord:
        if algo:
            rec = find(api, account, params, "algoId", "clientAlgoId", CANCEL_REJECTED)
        else:
            rec = find(api, account, params, missing=CANCEL_REJECTED)
        if not is_open(api, rec) or (algo and not rec.conditional):
            raise error(CANCEL_REJECTED)
        return rec
    rec = await api.read(resolve)
    inst = api.ex.instruments[rec.symbol]

    def cancelled(events: list) -> dict[str, Any]:
        expect(events, account, OrderCancelled, "CancelOrder", lambda e: e.order_id == rec.order_id)
        if algo:
            return {"algoId": rec.order_id, "clientAlgoId": rec.client_id, "code": "200", "msg": "success"}
        return shapes.order(rec, inst)
    return await api.submit(CancelOrder(account, rec.symbol, rec.order_id), origin(account), cancelled)


async def modify(api: Api, account: int, params: Params) -> dict[str, Any]:
    def resolve() -> tuple[OrderRecord, Any]:
        rec = find(api, account, params)
        if not is_open(api, rec) or rec.type != "LIMIT":
            raise error(NO_SUCH_ORDER, "Order does not exist (or is not an open LIMIT order).")
        inst = api.ex.instruments[rec.symbol]
        return rec, amend_command(params, account, inst, rec.order_id, rec.side, rec.filled)
    rec, cmd = await api.read(resolve)
    inst = api.ex.instruments[rec.symbol]

    def amended(events: list) -> dict[str, Any]:
        expect(events, account, OrderAmended, "AmendOrder", lambda e: e.order_id == rec.order_id)
        return shapes.order(rec, inst)
    return await api.submit(cmd, origin(account), amended)


@routes.delete("/fapi/v1/order")
async def cancel_order(request: web.Request) -> web.Response:
    account, params = await signed(request)
    return answer(await cancel(api_of(request), account, params))


@routes.delete("/fapi/v1/algoOrder")
async def cancel_algo_order(request: web.Request) -> web.Response:
    account, params = await signed(request)
    return answer(await cancel(api_of(request), account, params, algo=True))


@routes.put("/fapi/v1/order")
async def modify_order(request: web.Request) -> web.Response:
    account, params = await signed(request)
    return answer(await modify(api_of(request), account, params))


@routes.get("/fapi/v1/order")
async def query_order(request: web.Request) -> web.Response:
    account, params = await signed(request)
    api = api_of(request)
    rec = await api.read(lambda: find(api, account, params))
    return answer(shapes.order(rec, api.ex.instruments[rec.symbol]))


@routes.get("/fapi/v1/algoOrder")
async def query_algo_order(request: web.Request) -> web.Response:
    account, params = await signed(request)
    api = api_of(request)
    rec = await api.read(lambda: find(api, account, params, "algoId", "clientAlgoId"))
    if not rec.conditional:
        raise error(NO_SUCH_ORDER)
    return answer(shapes.algo_order(rec, api.ex.instruments[rec.symbol]))


@routes.get("/fapi/v1/openOrder")
async def query_open_order(request: web.Request) -> web.Response:
    account, params = await signed(request)
    api = api_of(request)

    def read() -> dict[str, Any]:
        rec = find(api, account, params)
        if not is_open(api, rec):
            raise error(NO_SUCH_ORDER)
        return shapes.order(rec, api.ex.instruments[rec.symbol])
    return answer(await api.read(read))


# -- lists ---------------------------------------------------------------------------------------
def open_records(api: Api, account: int, symbol: str | None, conditional: bool) -> list[OrderRecord]:
    acct = api.ex.accounts.get(account)
    if acct is None:
        return []
    out = []
    for oid, order in acct.orders.items():
        rec = api.history.orders.get(oid)
        untriggered = order.order_type in TRIGGER_TYPES
        if rec is not None and (symbol is None or order.symbol == symbol) and untriggered == conditional:
            out.append(rec)
    return out


@routes.get("/fapi/v1/openOrders")
async def open_orders(request: web.Request) -> web.Response:
    account, params = await signed(request)
    api = api_of(request)
    inst = params.optional_symbol(api.ex.instruments)
    rows = await api.read(lambda: [shapes.order(r, api.ex.instruments[r.symbol])
                                   for r in open_records(api, account, inst.symbol if inst else None, False)])
    return answer(rows)


@routes.get("/fapi/v1/openAlgoOrders")
async def open_algo_orders(request: web.Request) -> web.Response:
    account, params = await signed(request)
    api = api_of(request)
    inst = params.optional_symbol(api.ex.instruments)
    rows = await api.read(lambda: [shapes.algo_order(r, api.ex.instruments[r.symbol])
                                   for r in open_records(api, account, inst.symbol if inst else None, True)])
    return answer(rows)


def _window(params: Params, default: int, hi: int) -> tuple[int | None, int | None, int]:
    return (params.optional_integer("startTime", 0, 2**53), params.optional_integer("endTime", 0, 2**53),
            params.integer("limit", 1, hi, default))


def _select(rows: list, start: int | None, end: int | None, limit: int, time_of: Any) -> list:
    rows = [r for r in rows if (start is None or time_of(r) >= start) and (end is None or time_of(r) <= end)]
    return rows[:limit] if start is not None else rows[-limit:]


@routes.get("/fapi/v1/allOrders")
async def all_orders(request: web.Request) -> web.Response:
    account, params = await signed(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)
    from_id = params.optional_integer("orderId", 1, 2**62)
    start, end, limit = _window(params, 500, 1000)
    recs = await api.read(lambda: [r for r in api.history.account_orders(account, inst.symbol) if not r.conditional
                                   or r.triggered])
    recs = [r for r in recs if from_id is None or r.order_id >= from_id]
    recs = _select(recs, start, end, limit, lambda r: r.time_ms)
    return answer([shapes.order(r, inst) for r in recs])


@routes.get("/fapi/v1/allAlgoOrders")
async def all_algo_orders(request: web.Request) -> web.Response:
    account, params = await signed(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)
    start, end, limit = _window(params, 500, 1000)
    recs = await api.read(lambda: [r for r in api.history.account_orders(account, inst.symbol) if r.conditional])
    return answer([shapes.algo_order(r, inst) for r in _select(recs, start, end, limit, lambda r: r.time_ms)])


@routes.get("/fapi/v1/userTrades")
async def user_trades(request: web.Request) -> web.Response:
    account, params = await signed(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)
    from_id = params.optional_integer("fromId", 0, 2**62)
    start, end, limit = _window(params, 500, 1000)
    fills = await api.read(lambda: [f for f in api.history.account_fills(account) if f.symbol == inst.symbol])
    fills = [f for f in fills if from_id is None or f.trade_id >= from_id]
    fills = _select(fills, start if from_id is None else 0, end, limit, lambda f: f.time_ms)
    return answer([shapes.user_trade(f, inst) for f in fills])


# -- cancelling many -----------------------------------------------------------------------------
@routes.delete("/fapi/v1/allOpenOrders")
async def cancel_all(request: web.Request) -> web.Response:
    account, params = await signed(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)

    def done(events: list) -> dict[str, Any]:
        rejected = rejection_of(events, account, "CancelAll")
        if rejected is not None:
            raise rejected
        return DONE
    return answer(await api.submit(CancelAll(account, inst.symbol), origin(account), done))


@routes.delete("/fapi/v1/algoOpenOrders")
async def cancel_all_algo(request: web.Request) -> web.Response:
    account, params = await signed(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)
    recs = await api.read(lambda: open_records(api, account, inst.symbol, True))
    if recs:
        await api.submit([CancelOrder(account, inst.symbol, r.order_id) for r in recs], origin(account), lambda ev: None)
    return answer(DONE)


# -- batches -------------------------------------------------------------------------------------
def batch_items(params: Params, name: str, limit: int) -> list[Any]:
    items = json_param(params, name)
    if not isinstance(items, list) or not 0 < len(items) <= limit:
        raise error(-4082, f"Invalid number of batch place orders: 1 to {limit}.")
    return items


async def _each(calls: list) -> list[Any]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    out = []
    for r in results:
        if isinstance(r, BinanceError):
            out.append(r.body())
        elif isinstance(r, BaseException):
            raise r
        else:
            out.append(r)
    return out


async def _guarded(fn: Any, item: Any) -> Any:
    """fn(item) awaited, so a bad item's BinanceError lands in its own slot of the batch answer."""
    return await fn(item)


@routes.post("/fapi/v1/batchOrders")
async def batch_new(request: web.Request) -> web.Response:
    account, params = await signed(request)
    api = api_of(request)
    items = batch_items(params, "batchOrders", MAX_BATCH)
    return answer(await _each([_guarded(lambda it: place(api, account, item_params(it, "batchOrders"), False), it) for it in items]))


@routes.put("/fapi/v1/batchOrders")
async def batch_modify(request: web.Request) -> web.Response:
    account, params = await signed(request)
    api = api_of(request)
    items = batch_items(params, "batchOrders", MAX_BATCH)
    return answer(await _each([_guarded(lambda it: modify(api, account, item_params(it, "batchOrders")), it) for it in items]))


@routes.delete("/fapi/v1/batchOrders")
async def batch_cancel(request: web.Request) -> web.Response:
    account, params = await signed(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)
    if "orderIdList" in params:
        ids = batch_items(params, "orderIdList", MAX_CANCEL_BATCH)
        if not all(type(i) is int and 0 < i < 2**62 for i in ids):
            raise invalid("orderIdList")
        names = [Params.of(symbol=inst.symbol, orderId=str(i)) for i in ids]
    else:
        coids = batch_items(params, "origClientOrderIdList", MAX_CANCEL_BATCH)
        if not all(isinstance(c, str) and 0 < len(c) <= 36 for c in coids):
            raise invalid("origClientOrderIdList")
        names = [Params.of(symbol=inst.symbol, origClientOrderId=c) for c in coids]
    return answer(await _each([cancel(api, account, p) for p in names]))
