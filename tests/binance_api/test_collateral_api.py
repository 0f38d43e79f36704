"""Collateral assets and live leverage brackets over the compatible API and its admin routes.

A cross account holding 0.1 BTC (haircut 95%) and no USDT: at an index of 60,000 the BTC counts 5,700 USDT
of margin. Balance and account list the BTC beside USDT, in BTC, and say multi-assets mode; the account
trades on the collateral alone, may withdraw only what its free balance releases, and a fall of BTC
both cuts the collateral and loses on the long: the account is liquidated and its collateral sold to
the fund, each asset conserved. Brackets read with GET /fapi/v1/leverageBracket are posted back with
a higher maintenance rate: the next mark tick liquidates a long those rates breach and the old ones
spared. Every bad request is refused and changes nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp

from exchange.core import views

from .conftest import ADMIN_KEY, BTC, Rest, http_service, run

BTC_COLLATERAL = {"BTC": {"decimals": 8, "value_ratio": "0.95", "index": BTC}}


async def opened(rest: Rest, deposit: str | None = None) -> dict:
    status, body = await rest.admin("/admin/v1/account", **({"deposit": deposit} if deposit else {}))
    assert status == 200, body
    return body


def holding(svc, account: int) -> tuple:
    return views.account_view(svc.exchange, account), svc.exchange.collateral.holdings.get(account)


async def post_brackets(rest: Rest, symbol: str, brackets: str) -> tuple[int, dict]:
    """In a form body, as a long JSON value is sent (a URL is cut at 8 KiB by the HTTP parser)."""
    return await rest.call("POST", "/admin/v1/leverageBracket", body=urlencode({"symbol": symbol, "brackets": brackets}),
                           headers={"X-Admin-Key": ADMIN_KEY, "Content-Type": "application/x-www-form-urlencoded"})


def rows_of(body: list, asset: str) -> list:
    return [r for r in body if r["asset"] == asset]


def test_collateral_backs_trading_is_withdrawn_only_as_free_balance_allows_and_is_sold_in_a_liquidation(tmp_path):
    async def scenario() -> None:
        async with http_service(tmp_path, instruments={BTC: {"mark_method": "index"}}, collateral=BTC_COLLATERAL) as svc, \
                aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            await rest.index(BTC, "60000")
            maker, trader = await opened(rest, "10000000"), await opened(rest)
            key, secret = trader["apiKey"], trader["secretKey"]
            status, body = await rest.admin("/admin/v1/depositAsset", account=trader["account"], asset="btc", amount="0.1")
            assert (status, body) == (200, {"account": trader["account"], "asset": "BTC", "balance": "0.10000000",
                                            "collateralValue": "5700.000000"})

            status, balance = await rest.signed("GET", "/fapi/v2/balance", key, secret)
            assert status == 200 and [r["asset"] for r in balance] == ["USDT", "BTC"]
            (btc,) = rows_of(balance, "BTC")
            assert (btc["balance"], btc["maxWithdrawAmount"]) == ("0.10000000", "0.10000000")
            status, account = await rest.signed("GET", "/fapi/v2/account", key, secret)
            assert account["multiAssetsMargin"] is True and account["totalMarginBalance"] == "5700.000000"
            assert (await rest.signed("GET", "/fapi/v1/multiAssetsMargin", key, secret))[1] == {"multiAssetsMargin": True}
            status, body = await rest.signed("POST", "/fapi/v1/multiAssetsMargin", key, secret, multiAssetsMargin="false")
            assert status == 400 and body["code"] == -4084

            # a 0.5 BTC long at 60,000 (IM 1,500 at 20x, fee 15) on the collateral alone
            assert (await rest.signed("POST", "/fapi/v1/order", maker["apiKey"], maker["secretKey"], symbol=BTC,
                                      side="SELL", type="LIMIT", quantity="1", price="60000", timeInForce="GTC"))[0] == 200
            assert (await rest.signed("POST", "/fapi/v1/leverage", key, secret, symbol=BTC, leverage=20))[0] == 200
            status, order = await rest.signed("POST", "/fapi/v1/order", key, secret, symbol=BTC, side="BUY",
                                              type="MARKET", quantity="0.5")
            assert status == 200 and order["status"] == "FILLED", order

            (btc,) = rows_of((await rest.signed("GET", "/fapi/v2/balance", key, secret))[1], "BTC")
            allowed = Decimal(btc["maxWithdrawAmount"])
            assert 0 < allowed < Decimal("0.1")
            before = holding(svc, trader["account"])
            status, body = await rest.admin("/admin/v1/withdrawAsset", account=trader["account"], asset="BTC",
                                            amount=str(allowed + Decimal("0.00000001")))
            assert (status, body["code"]) == (400, -2018) and holding(svc, trader["account"]) == before
            status, body = await rest.admin("/admin/v1/withdrawAsset", account=trader["account"], asset="BTC",
                                            amount=str(allowed))
            assert status == 200 and Decimal(body["balance"]) == Decimal("0.1") - allowed
            await rest.admin("/admin/v1/depositAsset", account=trader["account"], asset="BTC", amount=str(allowed))

            # BTC at 50,000: the collateral counts 4,750, the long loses 5,000
            await rest.index(BTC, "56000")
            status, risk = await rest.signed("GET", "/fapi/v2/positionRisk", key, secret, symbol=BTC)
            assert risk[0]["positionAmt"] == "0.500"
            await rest.index(BTC, "50000")
            status, risk = await rest.signed("GET", "/fapi/v2/positionRisk", key, secret, symbol=BTC)
            assert risk[0]["positionAmt"] == "0.000"
            status, balance = await rest.signed("GET", "/fapi/v2/balance", key, secret)
            sold = svc.exchange.collateral.fund["BTC"]
            assert sold > 0 and Decimal(rows_of(balance, "BTC")[0]["balance"] if rows_of(balance, "BTC") else 0) \
                == Decimal("0.1") - Decimal(sold).scaleb(-8)
            svc.exchange.check_invariants()  # each asset conserved exactly

    run(scenario())


def test_collateral_admin_refuses_bad_input_and_changes_nothing(tmp_path):
    async def scenario() -> None:
        async with http_service(tmp_path, collateral=BTC_COLLATERAL) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            await rest.index(BTC, "60000")
            trader = await opened(rest)
            seq, account = svc.exchange.seq, trader["account"]
            before = holding(svc, account)
            bad = [
                ({"account": account, "asset": "DOGE", "amount": "1"}, -1130),
                ({"account": account, "asset": "BTC", "amount": "0.000000001"}, -1111),  # past 8 decimals
                ({"account": account, "asset": "BTC", "amount": "0"}, -1130),
                ({"account": account, "asset": "BTC", "amount": "-1"}, -1130),
                ({"account": account, "asset": "BTC", "amount": "1" + "0" * 12}, -1130),  # 10^20 units
                ({"account": account, "asset": "BTC", "amount": "1e3"}, -1100),
                ({"account": account, "asset": "BTC" * 100, "amount": "1"}, -1100),
                ({"account": account, "asset": "BTC"}, -1102),
                ({"account": 2**63, "asset": "BTC", "amount": "1"}, -1130),
            ]
            for params, code in bad:
                status, body = await rest.admin("/admin/v1/depositAsset", **params)
                assert (status, body["code"]) == (400, code), (params, body)
            status, body = await rest.admin("/admin/v1/depositAsset", account=account + 1000, asset="BTC", amount="1")
            assert (status, body["code"]) == (401, -2015), body  # no such account: the core refuses
            status, body = await rest.admin("/admin/v1/withdrawAsset", account=account, asset="BTC", amount="0.1")
            assert (status, body["code"]) == (400, -2018)  # holds none
            status, _ = await rest.admin("/admin/v1/depositAsset", key="wrong-admin-key-0123", account=account,
                                         asset="BTC", amount="1")
            assert status in (401, 403)
            assert svc.exchange.seq == seq + 2 and holding(svc, account) == before  # two refused by the core

    run(scenario())


def test_brackets_posted_back_with_higher_rates_liquidate_at_the_next_tick(tmp_path):
    async def scenario() -> None:
        async with http_service(tmp_path, instruments={BTC: {"mark_method": "index"}}) as svc, \
                aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            await rest.index(BTC, "60000")
            maker, trader = await opened(rest, "10000000"), await opened(rest, "1000")
            key, secret = trader["apiKey"], trader["secretKey"]
            await rest.signed("POST", "/fapi/v1/order", maker["apiKey"], maker["secretKey"], symbol=BTC, side="SELL",
                              type="LIMIT", quantity="1", price="60000", timeInForce="GTC")
            await rest.signed("POST", "/fapi/v1/leverage", key, secret, symbol=BTC, leverage=75)
            status, order = await rest.signed("POST", "/fapi/v1/order", key, secret, symbol=BTC, side="BUY",
                                              type="MARKET", quantity="1")
            assert status == 200 and order["status"] == "FILLED", order
            await rest.index(BTC, "60000")  # margin balance 970 against MM 250: safe
            status, risk = await rest.signed("GET", "/fapi/v2/positionRisk", key, secret, symbol=BTC)
            assert risk[0]["positionAmt"] == "1.000"

            status, (current,) = await rest.signed("GET", "/fapi/v1/leverageBracket", key, secret, symbol=BTC)
            raised = [{**b, "maintMarginRatio": max(b["maintMarginRatio"], 0.02)} for b in current["brackets"]]
            status, body = await post_brackets(rest, BTC, json.dumps(raised))
            assert status == 200, body
            assert [b["maintMarginRatio"] for b in body["brackets"]] == [b["maintMarginRatio"] for b in raised]
            assert body["brackets"][1]["cum"] == 0  # derived: 2% from the first bracket on
            assert (await rest.signed("GET", "/fapi/v1/leverageBracket", key, secret, symbol=BTC))[1][0] == body

            await rest.index(BTC, "60000")  # the same mark: MM is now 1,200 > 970
            status, risk = await rest.signed("GET", "/fapi/v2/positionRisk", key, secret, symbol=BTC)
            assert risk[0]["positionAmt"] == "0.000"
            svc.exchange.check_invariants()

    run(scenario())


def test_brackets_admin_refuses_bad_input_and_changes_nothing(tmp_path):
    async def scenario() -> None:
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            row = {"notionalFloor": 0, "notionalCap": 50000, "initialLeverage": 125, "maintMarginRatio": 0.004}
            state = svc.exchange.state_hash()
            bad = [
                json.dumps([row, {**row, "notionalFloor": 40000, "notionalCap": 90000}]),  # does not chain
                json.dumps([{**row, "maintMarginRatio": 1.5}]),
                json.dumps([{**row, "initialLeverage": 0}]),
                json.dumps([{**row, "notionalCap": 10**20}]),
                json.dumps([{**row, "maintMarginRatio": 0.0000001}]),  # finer than 1 ppm
                json.dumps([{**row, "colour": "red"}]),
                json.dumps([{**row, "notionalCap": [1]}]),
                json.dumps([row] * 33),
                json.dumps([]),
                json.dumps(row),
                "[" * 8000 + "]" * 8000,
                "[" * 10000 + "]" * 10000,
                "not json",
            ]
            for brackets in bad:
                status, body = await post_brackets(rest, BTC, brackets)
                assert status == 400 and body["code"] < 0, (brackets[:80], body)
            status, body = await post_brackets(rest, "NOPE", json.dumps([row]))
            assert (status, body["code"]) == (400, -1121)
            assert svc.exchange.state_hash() == state

    run(scenario())
