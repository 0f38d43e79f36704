"""Admin over HTTP (header X-Admin-Key with the server's admin key): create an account with an API key
and secret and a deposit, deposit, withdraw, deposit and withdraw collateral assets, issue a new key
pair, set or shock the index, halt and resume trading, change an instrument parameter or its leverage
brackets, read the insurance fund. Parameters as for the Binance endpoints (query string or form body),
answers as JSON."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from ...core import views
from ...core.commands import (
    CreateAccount, Deposit, DepositAsset, IndexPrice, SetBrackets, SetInstrumentParam, SetTradingHalted, Withdraw,
    WithdrawAsset,
)
from ...core.engine import INSTRUMENT_PARAMS, MAX_CASH
from ...core.events import (
    AccountCreated, BalanceChanged, BracketsChanged, CollateralChanged, InstrumentChanged, MarkPriceUpdated, TradingHalted,
)
from .api import Api, expect
from .binance import shapes
from .binance.errors import BAD_PRECISION, INVALID_PARAMETER, REJECTED_MBX_KEY, error
from .binance.params import Params, bracket_rows, cash_amount, invalid, parse_pairs, ticks
from .incoming import answer, api_of, raw_body, raw_query

routes = web.RouteTableDef()
ADMIN = "admin"
MAX_ACCOUNT = 2**62


async def admin_params(request: web.Request) -> tuple[Api, Params]:
    api = api_of(request)
    api.admin(request.headers.get("X-Admin-Key"))
    return api, Params(parse_pairs(raw_query(request)) + parse_pairs(await raw_body(request)))


@routes.post("/admin/v1/account")
async def create_account(request: web.Request) -> web.Response:
    """Create an account (id given or the next free one) with `deposit` USDT in one atomic command (an
    existing id or a bad amount changes nothing), and issue a key pair. The secret is in this answer only."""
    api, params = await admin_params(request)
    wanted = params.optional_integer("account", 0, MAX_ACCOUNT)
    deposit = cash_amount(params, "deposit") if "deposit" in params else 0
    account = wanted if wanted is not None else api.allocate_account()

    def done(events: list) -> dict[str, Any]:
        expect(events, account, AccountCreated, "CreateAccount")
        key, secret = api.credentials.issue(account)
        return {"account": account, "apiKey": key, "secretKey": secret, "deposit": shapes.cash(deposit)}
    return answer(await api.submit(CreateAccount(account, deposit), ADMIN, done))


@routes.post("/admin/v1/apiKey")
async def new_key_pair(request: web.Request) -> web.Response:
    api, params = await admin_params(request)
    account = params.integer("account", 0, MAX_ACCOUNT)

    def issue() -> dict[str, Any]:
        if account not in api.ex.accounts:
            raise error(REJECTED_MBX_KEY, f"Unknown account {account}.")
        key, secret = api.credentials.issue(account)
        return {"account": account, "apiKey": key, "secretKey": secret}
    return answer(await api.read(issue))


async def _cash(request: web.Request, kind: type) -> web.Response:
    api, params = await admin_params(request)
    account = params.integer("account", 0, MAX_ACCOUNT)
    amount = cash_amount(params)

    def done(events: list) -> dict[str, Any]:
        ev = expect(events, account, BalanceChanged, kind.__name__)
        return {"account": account, "crossWalletBalance": shapes.cash(ev.cross_wallet_cash)}
    return answer(await api.submit(kind(account, amount), ADMIN, done))


@routes.post("/admin/v1/deposit")
async def deposit(request: web.Request) -> web.Response:
    return await _cash(request, Deposit)


@routes.post("/admin/v1/withdraw")
async def withdraw(request: web.Request) -> web.Response:
    return await _cash(request, Withdraw)


async def _asset(request: web.Request, kind: type) -> web.Response:
    """`asset` (a configured collateral asset) and `amount` in its units, to at most its decimals."""
    api, params = await admin_params(request)
    account = params.integer("account", 0, MAX_ACCOUNT)
    asset = api.ex.collateral.assets.get(params.text("asset").upper())
    if asset is None:
        raise error(INVALID_PARAMETER, f"Not a collateral asset; these are: {', '.join(api.ex.collateral.assets) or 'none'}.")
    units = params.units("amount", Decimal(1).scaleb(-asset.decimals), (BAD_PRECISION, BAD_PRECISION))
    if not 0 < units <= MAX_CASH:
        raise error(INVALID_PARAMETER, f"amount must be positive and at most {Decimal(MAX_CASH).scaleb(-asset.decimals)}.")

    def done(events: list) -> dict[str, Any]:
        ev = expect(events, account, CollateralChanged, kind.__name__)
        return {"account": account, "asset": ev.asset, "balance": str(Decimal(ev.units).scaleb(-asset.decimals)),
                "collateralValue": shapes.cash(ev.value_cash)}
    return answer(await api.submit(kind(account, asset.name, units), ADMIN, done))


@routes.post("/admin/v1/depositAsset")
async def deposit_asset(request: web.Request) -> web.Response:
    return await _asset(request, DepositAsset)


@routes.post("/admin/v1/withdrawAsset")
async def withdraw_asset(request: web.Request) -> web.Response:
    return await _asset(request, WithdrawAsset)


@routes.post("/admin/v1/index")
async def set_index(request: web.Request) -> web.Response:
    """Set a symbol's index price now (an index feed, if any, continues from there)."""
    api, params = await admin_params(request)
    inst = params.symbol(api.ex.instruments)
    price = ticks(params, "price", inst)
    driver = api.drivers.get(inst.symbol)
    if driver is not None:
        driver.set_price(price)

    def done(events: list) -> dict[str, Any]:
        expect(events, -1, MarkPriceUpdated, "IndexPrice")
        return shapes.premium_index(views.funding_view(api.ex, inst.symbol), inst, api.now_ms())
    return answer(await api.submit(IndexPrice(inst.symbol, price), ADMIN, done))


@routes.post("/admin/v1/shock")
async def shock(request: web.Request) -> web.Response:
    """Move a fed index by `pct` % over `seconds` (a ramp, then held)."""
    api, params = await admin_params(request)
    inst = params.symbol(api.ex.instruments)
    pct = params.decimal("pct")
    seconds = params.decimal("seconds") if "seconds" in params else Decimal(0)
    if not -100 < pct <= 1000 or not 0 <= seconds <= 86400:
        raise error(INVALID_PARAMETER, "pct must be in (-100, 1000] and seconds in [0, 86400].")
    driver = api.drivers.get(inst.symbol)
    if driver is None or driver.base is None:
        raise error(INVALID_PARAMETER, f"{inst.symbol} has no index feed with a price yet: use /admin/v1/index.")
    driver.shock(float(pct), float(seconds))
    return answer({"symbol": inst.symbol, "pct": str(pct), "seconds": str(seconds)})


async def _halt(request: web.Request, halted: bool) -> web.Response:
    api, _ = await admin_params(request)

    def done(events: list) -> dict[str, Any]:
        return {"halted": expect(events, -1, TradingHalted, "SetTradingHalted").halted}
    return answer(await api.submit(SetTradingHalted(halted), ADMIN, done))


@routes.post("/admin/v1/halt")
async def halt(request: web.Request) -> web.Response:
    return await _halt(request, True)


@routes.post("/admin/v1/resume")
async def resume(request: web.Request) -> web.Response:
    return await _halt(request, False)


@routes.post("/admin/v1/param")
async def set_param(request: web.Request) -> web.Response:
    """Change an instrument parameter, in core units (e.g. name=min_notional_cash value=5000000)."""
    api, params = await admin_params(request)
    inst = params.symbol(api.ex.instruments)
    name = params.text("name")
    if name not in INSTRUMENT_PARAMS:
        raise invalid("name")
    value = params.integer("value", 0, 10**18)

    def done(events: list) -> dict[str, Any]:
        ev = expect(events, -1, InstrumentChanged, "SetInstrumentParam")
        return {"symbol": ev.symbol, "name": ev.name, "value": ev.value}
    return answer(await api.submit(SetInstrumentParam(inst.symbol, name, value), ADMIN, done))


@routes.post("/admin/v1/leverageBracket")
async def set_brackets(request: web.Request) -> web.Response:
    """Replace a symbol's leverage brackets (its maintenance rates) live: `brackets` as GET
    /fapi/v1/leverageBracket lists them. Every holder is re-checked at the next mark tick."""
    api, params = await admin_params(request)
    inst = params.symbol(api.ex.instruments)
    rows = bracket_rows(params)

    def done(events: list) -> dict[str, Any]:
        expect(events, -1, BracketsChanged, "SetBrackets")
        return shapes.leverage_bracket(api.ex.instruments[inst.symbol])
    return answer(await api.submit(SetBrackets(inst.symbol, rows), ADMIN, done))


@routes.get("/admin/v1/insurance")
async def insurance(request: web.Request) -> web.Response:
    api, _ = await admin_params(request)
    view = await api.read(lambda: views.insurance_view(api.ex))
    return answer({"balance": shapes.cash(view["balance_cash"]), "feesCollected": shapes.cash(view["fees_collected_cash"])})
