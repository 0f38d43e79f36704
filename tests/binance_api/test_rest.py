"""REST over 127.0.0.1: authentication (an unsigned or badly signed request is refused and changes
nothing), bad input on every endpoint answered with Binance's code, core rejections mapped, batches,
limits, and a failing request that fails alone."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from exchange.runtime.http.binance import shapes

from .conftest import BTC, ETH, Rest, http_service, run


async def _setup(svc, session, deposit: str = "100000"):
    rest = Rest(svc, session)
    await rest.index(BTC, "30000")
    await rest.index(ETH, "2000")
    return rest, await rest.account(deposit)


def test_unsigned_or_badly_signed_requests_are_refused_and_change_nothing(tmp_path):
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest, a = await _setup(svc, session)
            k, s = a["apiKey"], a["secretKey"]
            order = {"symbol": BTC, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
                     "price": "29000"}
            seq = svc.exchange.seq
            now = int(time.time() * 1000)
            cases = [
                ({"X-MBX-APIKEY": k}, f"{_q(order)}&timestamp={now}", 400, -1102),  # no signature
                ({"X-MBX-APIKEY": k}, f"{_q(order)}&timestamp={now}&signature={'0' * 64}", 400, -1022),
                ({"X-MBX-APIKEY": k}, _signed(order, "not-the-secret", now), 400, -1022),
                ({}, _signed(order, s, now), 401, -2014),  # no key
                ({"X-MBX-APIKEY": "bad key!"}, _signed(order, s, now), 401, -2014),
                ({"X-MBX-APIKEY": "lk_" + "0" * 32}, _signed(order, s, now), 401, -2015),
                ({"X-MBX-APIKEY": k}, _signed(order, s, now - 60_000), 400, -1021),  # outside recvWindow
                ({"X-MBX-APIKEY": k}, _signed(order, s, now + 5_000), 400, -1021),  # ahead of the server
                ({"X-MBX-APIKEY": k}, _signed({**order, "recvWindow": "70000"}, s, now), 400, -1130),
                ({"X-MBX-APIKEY": k}, _signed(order, s, now) + "&signature=" + "a" * 64, 400, -1022),  # twice
            ]
            for headers, query, status, code in cases:
                got, body = await rest.call("POST", "/fapi/v1/order", headers=headers, query=query)
                assert (got, body["code"]) == (status, code), (query, body)
            # the signature covers the query string followed by the body, as Binance's does
            signed = _signed(order, s, now)
            query_part, body_part = signed.split("&", 1)[0], signed.split("&", 1)[1]
            sig = shapes_sign(s, query_part + body_part.rsplit("&signature=", 1)[0])
            got, body = await rest.call("POST", "/fapi/v1/order", headers={"X-MBX-APIKEY": k,
                                        "Content-Type": "application/x-www-form-urlencoded"},
                                        query=query_part, body=body_part.rsplit("&signature=", 1)[0] + f"&signature={sig}")
            assert got == 200 and body["status"] == "NEW", body
            assert svc.exchange.seq == seq + 1  # only the good request reached the sequencer
            status, orders = await rest.signed("GET", "/fapi/v1/allOrders", k, s, symbol=BTC)
            assert [o["orderId"] for o in orders] == [body["orderId"]]
    run(scenario())


def _q(params: dict) -> str:
    from urllib.parse import urlencode
    return urlencode(params)


def shapes_sign(secret: str, total: str) -> str:
    from exchange.runtime.http.binance.signing import sign
    return sign(secret, total)


def _signed(params: dict, secret: str, ts: int) -> str:
    q = f"{_q(params)}&timestamp={ts}"
    return f"{q}&signature={shapes_sign(secret, q)}"


BAD_ORDERS = [
    ({"symbol": "DOGEUSDT"}, -1121),
    ({"side": "UP"}, -1117),
    ({"type": "FOO"}, -1116),
    ({"type": "TRAILING_STOP_MARKET"}, -4084),
    ({"timeInForce": "XYZ"}, -1115),
    ({"timeInForce": "GTD"}, -4084),
    ({"timeInForce": None}, -1102),
    ({"quantity": None}, -1102),
    ({"quantity": "0.0015"}, -1111),
    ({"quantity": "0"}, -4003),
    ({"quantity": "abc"}, -1100),
    ({"quantity": "1e3"}, -1100),
    ({"quantity": "100000"}, -4005),
    ({"price": "29000.05"}, -1111),
    ({"price": "-5"}, -4001),
    ({"price": "1.0"}, -4013),
    ({"price": "99999999"}, -4002),
    ({"price": "9" * 70}, -1100),
    ({"positionSide": "LONG"}, -4061),
    ({"newClientOrderId": "no spaces allowed"}, -4015),
    ({"newClientOrderId": "x" * 37}, -4015),
    ({"type": "STOP_MARKET", "price": None}, -1102),  # no stopPrice
    ({"type": "STOP_MARKET", "stopPrice": "29000", "workingType": "LAST"}, -1130),
    ({"closePosition": "true"}, -4084),
    ({"reduceOnly": "maybe"}, -1130),
    ({"selfTradePreventionMode": "KILL"}, -1130),
    ({"newOrderRespType": "FULL"}, -1130),
    ({"priceMatch": "QUEUE"}, -1130),
]


@pytest.mark.parametrize("change,code", BAD_ORDERS, ids=[f"{c}-{list(ch)[0]}" for ch, c in BAD_ORDERS])
def test_bad_order_fields_are_refused_with_binance_codes(tmp_path, change, code):
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest, a = await _setup(svc, session)
            params = {"symbol": BTC, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
                      "price": "29000", **change}
            params = {k: v for k, v in params.items() if v is not None}
            seq = svc.exchange.seq
            status, body = await rest.signed("POST", "/fapi/v1/order", a["apiKey"], a["secretKey"], **params)
            assert (status, body["code"]) == (400, code), body
            assert svc.exchange.seq == seq
    run(scenario())


def test_core_rejections_come_back_as_the_codes_bots_branch_on(tmp_path):
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest, a = await _setup(svc, session, deposit="1000")
            _, maker = await _setup(svc, session, deposit="1000000")
            k, s = a["apiKey"], a["secretKey"]
            mk, ms = maker["apiKey"], maker["secretKey"]

            async def order(key=k, secret=s, **p):
                base = {"symbol": BTC, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
                        "price": "29000"}
                params = {x: y for x, y in {**base, **p}.items() if y is not None}
                return await rest.signed("POST", "/fapi/v1/order", key, secret, in_body=True, **params)

            assert (await order(side="SELL", price="30100", key=mk, secret=ms))[0] == 200
            cases = [
                (dict(quantity="10"), -2019),  # 29,000 x 10 / 20 > 1,000
                (dict(quantity="0.001"), -4164),  # notional 29 < 100
                (dict(price="31600"), -4016),  # above mark x 1.05
                (dict(side="SELL", price="28400"), -4024),  # below mark x 0.95
                (dict(reduceOnly="true"), -2022),
                (dict(price="30100", timeInForce="GTX"), -5022),
                (dict(price="30000", timeInForce="FOK"), -5021),
                (dict(type="STOP_MARKET", stopPrice="29000", workingType="MARK_PRICE", price=None), -2021),
                (dict(type="MARKET", side="SELL", price=None, timeInForce=None), -2020),  # no bids
            ]
            for change, code in cases:
                status, body = await order(**change)
                assert (status, body["code"]) == (400, code), (change, body)
            for path, params, code in [
                ("/fapi/v1/order", {"symbol": BTC, "orderId": "999"}, -2013),
                ("/fapi/v1/order", {"symbol": BTC}, -1102),
                ("/fapi/v1/order", {"symbol": BTC, "origClientOrderId": "nope"}, -2013),
                ("/fapi/v1/openOrder", {"symbol": BTC, "orderId": "999"}, -2013),
                ("/fapi/v1/algoOrder", {"symbol": BTC, "algoId": "999"}, -2013),
                ("/fapi/v1/allOrders", {}, -1102),
                ("/fapi/v1/allOrders", {"symbol": BTC, "limit": "5000"}, -1130),
                ("/fapi/v1/userTrades", {"symbol": BTC, "startTime": "x"}, -1100),
                ("/fapi/v1/income", {"incomeType": "GIFT"}, -1130),
                ("/fapi/v1/forceOrders", {"autoCloseType": "BOTH"}, -1130),
                ("/fapi/v1/commissionRate", {"symbol": "NOPE"}, -1121),
                ("/fapi/v2/positionRisk", {"symbol": "NOPE"}, -1121),
            ]:
                status, body = await rest.signed("GET", path, k, s, **params)
                assert (status, body["code"]) == (400, code), (path, params, body)
            for method, path, params, code in [
                ("DELETE", "/fapi/v1/order", {"symbol": BTC, "orderId": "999"}, -2011),
                ("DELETE", "/fapi/v1/algoOrder", {"symbol": BTC, "algoId": "999"}, -2011),
                ("PUT", "/fapi/v1/order", {"symbol": BTC, "orderId": "999", "side": "BUY", "quantity": "1", "price": "1"}, -2013),
                ("POST", "/fapi/v1/leverage", {"symbol": BTC, "leverage": "0"}, -4028),
                ("POST", "/fapi/v1/leverage", {"symbol": BTC, "leverage": "126"}, -4028),
                ("POST", "/fapi/v1/leverage", {"symbol": BTC, "leverage": "ten"}, -4028),
                ("POST", "/fapi/v1/marginType", {"symbol": BTC, "marginType": "CROSSED"}, -4046),
                ("POST", "/fapi/v1/marginType", {"symbol": BTC, "marginType": "HALF"}, -1130),
                ("POST", "/fapi/v1/positionMargin", {"symbol": BTC, "amount": "10", "type": "1"}, -4049),
                ("POST", "/fapi/v1/positionMargin", {"symbol": BTC, "amount": "0", "type": "1"}, -4055),
                ("POST", "/fapi/v1/positionMargin", {"symbol": BTC, "amount": "10", "type": "3"}, -1130),
                ("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "false"}, -4059),
                ("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"}, -4084),
                ("POST", "/fapi/v1/positionSide/dual", {}, -1102),
                ("POST", "/fapi/v1/multiAssetsMargin", {"multiAssetsMargin": "false"}, -4171),
                ("POST", "/fapi/v1/multiAssetsMargin", {"multiAssetsMargin": "true"}, -4084),
                ("DELETE", "/fapi/v1/allOpenOrders", {}, -1102),
            ]:
                status, body = await rest.signed(method, path, k, s, in_body=method != "DELETE", **params)
                assert (status, body["code"]) == (400, code), (path, params, body)
            # margin type is locked by an open order (-4047) and by a position (-4048)
            await order(price="29000")
            status, body = await rest.signed("POST", "/fapi/v1/marginType", k, s, symbol=BTC, marginType="ISOLATED")
            assert body["code"] == -4047
            await rest.signed("DELETE", "/fapi/v1/allOpenOrders", k, s, symbol=BTC)
            assert (await order(type="MARKET", price=None, timeInForce=None))[1]["status"] == "FILLED"
            status, body = await rest.signed("POST", "/fapi/v1/marginType", k, s, symbol=BTC, marginType="ISOLATED")
            assert body["code"] == -4048
    run(scenario())


def test_public_endpoints_and_their_bad_input(tmp_path):
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest, a = await _setup(svc, session)
            _, b = await _setup(svc, session)
            for side, acct in (("SELL", a), ("BUY", b)):
                await rest.signed("POST", "/fapi/v1/order", acct["apiKey"], acct["secretKey"], symbol=BTC, side=side,
                                  type="LIMIT", timeInForce="GTC", quantity="0.1", price="30000")
            assert await rest.public("/fapi/v1/ping") == (200, {})
            status, info = await rest.public("/fapi/v1/exchangeInfo")
            filters = {f["filterType"]: f for f in info["symbols"][0]["filters"]}
            assert filters["PRICE_FILTER"] == {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764.00",
                                               "tickSize": "0.10"}
            assert filters["LOT_SIZE"]["stepSize"] == "0.001" and filters["MARKET_LOT_SIZE"]["maxQty"] == "120.000"
            assert filters["MIN_NOTIONAL"]["notional"] == "100.000000"
            assert (filters["PERCENT_PRICE"]["multiplierUp"], filters["PERCENT_PRICE"]["multiplierDown"]) == ("1.0500", "0.9500")
            _, trades = await rest.public("/fapi/v1/trades", symbol=BTC)
            assert [(t["price"], t["qty"], t["isBuyerMaker"]) for t in trades] == [("30000.00", "0.100", False)]
            _, agg = await rest.public("/fapi/v1/aggTrades", symbol=BTC)
            assert [(t["p"], t["q"], t["f"], t["l"]) for t in agg] == [("30000.00", "0.100", 1, 1)]
            _, kl = await rest.public("/fapi/v1/klines", symbol=BTC, interval="1m")
            assert [k[1:6] for k in kl] == [["30000.00"] * 4 + ["0.100"]]
            _, t24 = await rest.public("/fapi/v1/ticker/24hr", symbol=BTC)
            assert (t24["lastPrice"], t24["volume"], t24["count"]) == ("30000.00", "0.100", 1)
            _, oi = await rest.public("/fapi/v1/openInterest", symbol=BTC)
            assert oi["openInterest"] == "0.100"
            _, price = await rest.public("/fapi/v1/ticker/price", symbol=BTC)
            assert price["price"] == "30000.00"
            _, prem = await rest.public("/fapi/v1/premiumIndex", symbol=BTC)
            assert (prem["markPrice"], prem["indexPrice"]) == ("30000.00", "30000.00")
            for path, one in (("/fapi/v1/ticker/24hr", t24), ("/fapi/v1/ticker/price", price),
                              ("/fapi/v1/premiumIndex", prem), ("/fapi/v1/ticker/bookTicker", None)):
                _, every = await rest.public(path)  # no symbol: a list, a row per instrument
                assert [r["symbol"] for r in every] == list(svc.exchange.instruments), path
                if one is not None:
                    row = next(r for r in every if r["symbol"] == BTC)
                    assert {k: v for k, v in row.items() if "ime" not in k} == \
                        {k: v for k, v in one.items() if "ime" not in k}, path  # all but the times
            for path, params, code in [
                ("/fapi/v1/depth", {}, -1102),
                ("/fapi/v1/depth", {"symbol": "NOPE"}, -1121),
                ("/fapi/v1/depth", {"symbol": BTC, "limit": "0"}, -1130),
                ("/fapi/v1/depth", {"symbol": BTC, "limit": "1e3"}, -1100),
                ("/fapi/v1/klines", {"symbol": BTC, "interval": "7m"}, -1120),
                ("/fapi/v1/klines", {"symbol": BTC}, -1102),
                ("/fapi/v1/trades", {"symbol": BTC, "limit": "1001"}, -1130),
                ("/fapi/v1/aggTrades", {"symbol": BTC, "fromId": "-1"}, -1130),
                ("/fapi/v1/fundingRate", {"symbol": BTC, "limit": "5000"}, -1130),
                ("/fapi/v1/openInterest", {}, -1102),
            ]:
                status, body = await rest.public(path, **params)
                assert (status, body["code"]) == (400, code), (path, params, body)
            status, body = await rest.call("GET", "/fapi/v1/depth", query="symbol=BTCUSDT&symbol=ETHUSDT")
            assert body["code"] == -1101
            status, body = await rest.call("GET", "/fapi/v1/depth", query="&".join(f"p{i}=1" for i in range(50)))
            assert body["code"] == -1101
            status, body = await rest.public("/fapi/v1/nothing")
            assert (status, body["code"]) == (404, -5000)
            status, body = await rest.call("PATCH", "/fapi/v1/order")
            assert status == 405 and body["code"] == -5000
            status, body = await rest.call("POST", "/fapi/v1/order", headers={"X-MBX-APIKEY": a["apiKey"]},
                                           body="x" * 100_000)
            assert status == 413 and body["code"] == -1101
    run(scenario())


def test_batches_answer_per_order(tmp_path):
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest, a = await _setup(svc, session)
            k, s = a["apiKey"], a["secretKey"]
            good = {"symbol": BTC, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01", "price": "29000"}
            batch = [good, {**good, "quantity": "0.0015"}, {**good, "price": "29100"}, {**good, "quantity": 0.02}]
            status, rows = await rest.signed("POST", "/fapi/v1/batchOrders", k, s, in_body=True, batchOrders=json.dumps(batch))
            assert status == 200
            assert [r.get("status", r.get("code")) for r in rows] == ["NEW", -1111, "NEW", "NEW"]
            ids = [r["orderId"] for r in rows if "orderId" in r]
            status, rows = await rest.signed("DELETE", "/fapi/v1/batchOrders", k, s, symbol=BTC,
                                             orderIdList=json.dumps(ids[:2] + [999]))
            assert isinstance(rows, list), rows
            assert [r.get("status", r.get("code")) for r in rows] == ["CANCELED", "CANCELED", -2011]
            for params, code in [({"batchOrders": "not json"}, -1130), ({"batchOrders": json.dumps([good] * 6)}, -4082),
                                 ({"batchOrders": json.dumps([])}, -4082), ({"batchOrders": json.dumps({"a": 1})}, -4082)]:
                status, body = await rest.signed("POST", "/fapi/v1/batchOrders", k, s, in_body=True, **params)
                assert (status, body["code"]) == (400, code), (params, body)
            status, rows = await rest.signed("POST", "/fapi/v1/batchOrders", k, s, in_body=True,
                                             batchOrders=json.dumps([{"symbol": {"x": 1}}]))
            assert rows == [{"code": -1130, "msg": "Data sent for parameter 'batchOrders' is not valid."}]
            status, orders = await rest.signed("GET", "/fapi/v1/openOrders", k, s, symbol=BTC)
            assert [o["price"] for o in orders] == ["29000.00"]  # the 0.02 one, placed after the 29100 one, is left
    run(scenario())


def test_rate_limit_and_overload_refuse_with_429_and_503(tmp_path):
    async def scenario():
        async with http_service(tmp_path, rate_limit_per_s=1, rate_burst=3) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            statuses = [(await rest.public("/fapi/v1/ping"))[0] for _ in range(5)]
            assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
            status, body = await rest.public("/fapi/v1/ping")
            assert body["code"] == -1003
        async with http_service(tmp_path / "b", max_pending=1) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            results = await asyncio.gather(*[rest.public("/fapi/v1/depth", symbol=BTC) for _ in range(30)])
            codes = {status for status, _ in results}
            assert codes == {200, 503}
            assert {b["code"] for s, b in results if s == 503} == {-1008}
    run(scenario())


def test_a_failing_request_fails_alone(tmp_path, monkeypatch):
    """A bug in building one answer (here, inside the sequencer right after the command) is that
    request's 500 / -1000; the writer and every other request carry on."""
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest, a = await _setup(svc, session)
            k, s = a["apiKey"], a["secretKey"]
            real = shapes.order

            def broken(rec, inst):
                raise ZeroDivisionError("a bug")
            monkeypatch.setattr(shapes, "order", broken)
            status, body = await rest.signed("POST", "/fapi/v1/order", k, s, symbol=BTC, side="BUY", type="LIMIT",
                                             timeInForce="GTC", quantity="0.01", price="29000")
            assert (status, body["code"]) == (500, -1000)
            monkeypatch.setattr(shapes, "order", real)
            status, rows = await rest.signed("GET", "/fapi/v1/openOrders", k, s, symbol=BTC)
            assert status == 200 and [r["price"] for r in rows] == ["29000.00"]  # the command itself went through
            assert not svc.sequencer._task.done()
    run(scenario())
