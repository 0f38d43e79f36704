"""Account and position endpoints, Binance USDⓈ-M shapes: account, balance, positionRisk (v2 and v3),
leverage, marginType, positionMargin, leverageBracket, adlQuantile, forceOrders, income,
commissionRate, accountConfig, symbolConfig, position-mode and multi-assets-mode (one-way; multi-assets
while the account holds collateral; a switch is refused with -4084), and the listenKey of the user data
stream."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from ...core import views
from ...core.commands import AdjustIsolatedMargin, SetLeverage, SetMarginMode
from ...core.events import IsolatedMarginChanged, LeverageSet, MarginModeSet
from .api import Api, expect
from .binance import shapes
from .binance.errors import (
    NO_NEED_TO_CHANGE_ASSET_MODE,
    NO_NEED_TO_CHANGE_MARGIN_TYPE,
    NO_NEED_TO_CHANGE_POSITION_SIDE,
    NOT_SUPPORTED,
    REJECTED_MBX_KEY,
    error,
)
from .binance.params import cash_amount, leverage, margin_type, one_way
from .incoming import answer, api_of, keyed, signed

routes = web.RouteTableDef()


def origin(account: int) -> str:
    return f"a{account}"


def _views(api: Api, account: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    acct = views.account_view(api.ex, account)
    positions = views.positions_view(api.ex, account)
    if acct is None or positions is None:
        raise error(REJECTED_MBX_KEY)
    return acct, positions, views.collateral_view(api.ex, account)


@routes.get("/fapi/v2/account")
@routes.get("/fapi/v3/account")
async def account(request: web.Request) -> web.Response:
    acct_id, _ = await signed(request)
    api = api_of(request)
    v3 = request.path.startswith("/fapi/v3")
    return answer(await api.read(lambda: shapes.account(*_views(api, acct_id), api.ex.instruments, api.now_ms(), v3)))


@routes.get("/fapi/v2/balance")
@routes.get("/fapi/v3/balance")
async def balance(request: web.Request) -> web.Response:
    acct_id, _ = await signed(request)
    api = api_of(request)
    return answer(await api.read(lambda: shapes.balance(*_views(api, acct_id), api.now_ms())))


@routes.get("/fapi/v2/positionRisk")
@routes.get("/fapi/v3/positionRisk")
async def position_risk(request: web.Request) -> web.Response:
    acct_id, params = await signed(request)
    api = api_of(request)
    inst = params.optional_symbol(api.ex.instruments)
    v3 = request.path.startswith("/fapi/v3")

    def read() -> list[dict[str, Any]]:
        ms = api.now_ms()
        rows = _views(api, acct_id)[1]
        return [shapes.position_risk(p, api.ex.instruments[p["symbol"]], ms) for p in rows
                if (inst is None or p["symbol"] == inst.symbol) and (not v3 or p["size_lots"])]
    return answer(await api.read(read))


@routes.post("/fapi/v1/leverage")
async def set_leverage(request: web.Request) -> web.Response:
    acct_id, params = await signed(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)
    lev = leverage(params)

    def done(events: list) -> dict[str, Any]:
        ev = expect(events, acct_id, LeverageSet, "SetLeverage")
        return {"leverage": ev.leverage, "maxNotionalValue": shapes.cash(shapes.max_notional(inst, ev.leverage)),
                "symbol": inst.symbol}
    return answer(await api.submit(SetLeverage(acct_id, inst.symbol, lev), origin(acct_id), done))


@routes.post("/fapi/v1/marginType")
async def set_margin_type(request: web.Request) -> web.Response:
    acct_id, params = await signed(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)
    mode = margin_type(params)

    def current() -> str:
        acct = api.ex.accounts.get(acct_id)
        if acct is None:
            raise error(REJECTED_MBX_KEY)
        return acct.positions[inst.symbol].mode
    if await api.read(current) == mode:  # only this account changes its own mode: no race that matters
        raise error(NO_NEED_TO_CHANGE_MARGIN_TYPE)

    def done(events: list) -> dict[str, Any]:
        expect(events, acct_id, MarginModeSet, "SetMarginMode")
        return {"code": 200, "msg": "success"}
    return answer(await api.submit(SetMarginMode(acct_id, inst.symbol, mode), origin(acct_id), done))


@routes.post("/fapi/v1/positionMargin")
async def position_margin(request: web.Request) -> web.Response:
    acct_id, params = await signed(request)
    api = api_of(request)
    inst = params.symbol(api.ex.instruments)
    one_way(params)
    amount = cash_amount(params)
    kind = params.integer("type", 1, 2)
    delta = amount if kind == 1 else -amount

    def done(events: list) -> dict[str, Any]:
        expect(events, acct_id, IsolatedMarginChanged, "AdjustIsolatedMargin")
        return {"amount": float(Decimal(amount).scaleb(-6)), "code": 200, "msg": "Successfully modify position margin.",
                "type": kind}
    return answer(await api.submit(AdjustIsolatedMargin(acct_id, inst.symbol, delta), origin(acct_id), done))


@routes.get("/fapi/v1/leverageBracket")
@routes.get("/fapi/v2/leverageBracket")
async def leverage_bracket(request: web.Request) -> web.Response:
    _, params = await signed(request)
    api = api_of(request)
    inst = params.optional_symbol(api.ex.instruments)
    rows = [shapes.leverage_bracket(i) for s, i in api.ex.instruments.items() if inst is None or s == inst.symbol]
    return answer(rows)


@routes.get("/fapi/v1/adlQuantile")
async def adl_quantile(request: web.Request) -> web.Response:
    acct_id, params = await signed(request)
    api = api_of(request)
    inst = params.optional_symbol(api.ex.instruments)
    rows = await api.read(lambda: [shapes.adl_quantile(p) for p in _views(api, acct_id)[1]
                                   if p["size_lots"] and (inst is None or p["symbol"] == inst.symbol)])
    return answer(rows)


@routes.get("/fapi/v1/forceOrders")
async def force_orders(request: web.Request) -> web.Response:
    acct_id, params = await signed(request)
    api = api_of(request)
    inst = params.optional_symbol(api.ex.instruments)
    kind = params.enum("autoCloseType", ("LIQUIDATION", "ADL"), "")
    start = params.optional_integer("startTime", 0, 2**53)
    end = params.optional_integer("endTime", 0, 2**53)
    limit = params.integer("limit", 1, 100, 50)
    recs = await api.read(lambda: api.history.account_liquidations(acct_id))
    recs = [r for r in recs if (inst is None or r.symbol == inst.symbol)
            and (not kind or (r.origin == "adl") == (kind == "ADL"))
            and (start is None or r.time_ms >= start) and (end is None or r.time_ms <= end)][-limit:]
    return answer([shapes.order(r, api.ex.instruments[r.symbol]) for r in recs])


INCOME_TYPES = ("TRANSFER", "REALIZED_PNL", "FUNDING_FEE", "COMMISSION", "INSURANCE_CLEAR")


@routes.get("/fapi/v1/income")
async def income(request: web.Request) -> web.Response:
    acct_id, params = await signed(request)
    api = api_of(request)
    inst = params.optional_symbol(api.ex.instruments)
    kind = params.enum("incomeType", INCOME_TYPES, "")
    start = params.optional_integer("startTime", 0, 2**53)
    end = params.optional_integer("endTime", 0, 2**53)
    limit = params.integer("limit", 1, 1000, 100)
    rows = await api.read(lambda: list(api.history.account_income(acct_id)))
    rows = [r for r in rows if (inst is None or r.symbol == inst.symbol) and (not kind or r.kind == kind)
            and (start is None or r.time_ms >= start) and (end is None or r.time_ms <= end)]
    rows = rows[:limit] if start is not None else rows[-limit:]
    return answer([shapes.income(r) for r in rows])


@routes.get("/fapi/v1/commissionRate")
async def commission_rate(request: web.Request) -> web.Response:
    _, params = await signed(request)
    return answer(shapes.commission_rate(params.symbol(api_of(request).ex.instruments)))


def _multi_assets(api: Api, account: int) -> bool:
    """Multi-assets mode is on while the account holds collateral besides USDT (the admin's depositAsset)."""
    return bool(api.ex.collateral.holdings.get(account))


@routes.get("/fapi/v1/accountConfig")
async def account_config(request: web.Request) -> web.Response:
    acct_id, _ = await signed(request)
    api = api_of(request)
    multi = await api.read(lambda: _multi_assets(api, acct_id))
    return answer({"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True, "dualSidePosition": False,
                   "updateTime": 0, "multiAssetsMargin": multi, "tradeGroupId": -1})


@routes.get("/fapi/v1/symbolConfig")
async def symbol_config(request: web.Request) -> web.Response:
    acct_id, params = await signed(request)
    api = api_of(request)
    inst = params.optional_symbol(api.ex.instruments)

    def read() -> list[dict[str, Any]]:
        acct = api.ex.accounts.get(acct_id)
        if acct is None:
            raise error(REJECTED_MBX_KEY)
        return [{"symbol": s, "marginType": "ISOLATED" if p.isolated else "CROSSED", "isAutoAddMargin": p.auto_add,
                 "leverage": p.leverage, "maxNotionalValue": shapes.cash(shapes.max_notional(api.ex.instruments[s], p.leverage))}
                for s, p in acct.positions.items() if inst is None or s == inst.symbol]
    return answer(await api.read(read))


@routes.get("/fapi/v1/positionSide/dual")
async def position_mode(request: web.Request) -> web.Response:
    await signed(request)
    return answer({"dualSidePosition": False})


@routes.post("/fapi/v1/positionSide/dual")
async def set_position_mode(request: web.Request) -> web.Response:
    _, params = await signed(request)
    if params.enum("dualSidePosition", ("TRUE", "FALSE")) == "TRUE":
        raise error(NOT_SUPPORTED, "Hedge mode is not supported: positions here are one-way (positionSide BOTH).")
    raise error(NO_NEED_TO_CHANGE_POSITION_SIDE)


@routes.get("/fapi/v1/multiAssetsMargin")
async def asset_mode(request: web.Request) -> web.Response:
    acct_id, _ = await signed(request)
    api = api_of(request)
    return answer({"multiAssetsMargin": await api.read(lambda: _multi_assets(api, acct_id))})


@routes.post("/fapi/v1/multiAssetsMargin")
async def set_asset_mode(request: web.Request) -> web.Response:
    acct_id, params = await signed(request)
    api = api_of(request)
    wanted = params.enum("multiAssetsMargin", ("TRUE", "FALSE")) == "TRUE"
    if wanted != await api.read(lambda: _multi_assets(api, acct_id)):
        raise error(NOT_SUPPORTED, "The asset mode follows the account's collateral: multi-assets while it holds "
                                   "assets besides USDT (deposited by the admin), single-asset otherwise.")
    raise error(NO_NEED_TO_CHANGE_ASSET_MODE)


# -- user data stream ----------------------------------------------------------------------------
@routes.post("/fapi/v1/listenKey")
async def new_listen_key(request: web.Request) -> web.Response:
    acct_id, _ = await keyed(request)
    api = api_of(request)
    assert api.streams is not None
    return answer({"listenKey": api.streams.listen_keys.open(acct_id, api.now_ms())})


@routes.put("/fapi/v1/listenKey")
async def keep_alive_listen_key(request: web.Request) -> web.Response:
    acct_id, params = await keyed(request)
    api = api_of(request)
    assert api.streams is not None
    return answer({"listenKey": api.streams.listen_keys.keep_alive(acct_id, params.raw("listenKey"), api.now_ms())})


@routes.delete("/fapi/v1/listenKey")
async def close_listen_key(request: web.Request) -> web.Response:
    acct_id, params = await keyed(request)
    api = api_of(request)
    assert api.streams is not None
    api.streams.close_user_stream(acct_id, params.raw("listenKey"))
    return answer({})




# -- what ccxt's load_markets asks the spot API for (a futures-only exchange has one coin, no margin pairs)
@routes.get("/sapi/v1/capital/config/getall")
async def coins(request: web.Request) -> web.Response:
    await signed(request)
    return answer([{"coin": shapes.QUOTE, "name": "TetherUS", "depositAllEnable": False, "withdrawAllEnable": False,
                    "free": "0", "locked": "0", "freeze": "0", "withdrawing": "0", "ipoing": "0", "ipoable": "0",
                    "storage": "0", "isLegalMoney": False, "trading": True, "networkList": []}])


@routes.get("/sapi/v1/margin/allPairs")
@routes.get("/sapi/v1/margin/isolated/allPairs")
async def margin_pairs(request: web.Request) -> web.Response:
    await signed(request)
    return answer([])
