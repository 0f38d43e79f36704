"""python-binance's Client (futures methods) and BinanceSocketManager against the live exchange over
127.0.0.1, pointed at it by its URL attributes only."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp
import pytest
from binance import AsyncClient, BinanceSocketManager
from binance.client import Client
from binance.exceptions import BinanceAPIException

from .conftest import BTC, Rest, base_url, http_service, run


def _client(svc, acct) -> Client:
    """The docs' python-binance snippet (class attributes, so the constructor's ping goes here too)."""
    base = base_url(svc)

    class Local(Client):
        API_URL = base + "/api"
        FUTURES_URL = base + "/fapi"
    return Local(acct["apiKey"], acct["secretKey"])


def test_python_binance_futures_client(tmp_path):
    """Balance, leverage, margin type, limit / market / stop-market / reduce-only orders, positions,
    position margin, funding, cancel all, and the errors bots branch on, with the sync Client."""
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            await rest.index(BTC, "30000")
            maker, taker = await rest.account(), await rest.account()
            mk, tk = await asyncio.gather(asyncio.to_thread(_client, svc, maker), asyncio.to_thread(_client, svc, taker))
            call = asyncio.to_thread
            (bal,) = await call(tk.futures_account_balance)
            assert (bal["asset"], Decimal(bal["balance"])) == ("USDT", Decimal(100000))
            await call(tk.futures_change_margin_type, symbol=BTC, marginType="ISOLATED")
            with pytest.raises(BinanceAPIException) as err:
                await call(tk.futures_change_margin_type, symbol=BTC, marginType="ISOLATED")
            assert err.value.code == -4046
            assert (await call(tk.futures_change_leverage, symbol=BTC, leverage=20))["leverage"] == 20
            await call(mk.futures_create_order, symbol=BTC, side="SELL", type="LIMIT", timeInForce="GTC",
                       quantity="0.2", price="30000")
            order = await call(tk.futures_create_order, symbol=BTC, side="BUY", type="MARKET", quantity="0.2")
            assert (order["status"], order["executedQty"], order["avgPrice"]) == ("FILLED", "0.200", "30000.00000000")
            (pos,) = await call(tk.futures_position_information, symbol=BTC)
            assert (pos["positionAmt"], pos["entryPrice"], pos["isolatedWallet"]) == ("0.200", "30000.00000000", "300.000000")
            await call(tk.futures_change_position_margin, symbol=BTC, amount="100", type=1)
            (pos,) = await call(tk.futures_position_information, symbol=BTC)
            assert Decimal(pos["isolatedWallet"]) == 400
            stop = await call(tk.futures_create_order, symbol=BTC, side="SELL", type="STOP_MARKET", stopPrice="28000",
                              quantity="0.2", reduceOnly="true")
            assert stop["algoStatus"] == "NEW" and stop["orderType"] == "STOP_MARKET"
            with pytest.raises(BinanceAPIException) as err:  # the margin is not there
                await call(tk.futures_create_order, symbol=BTC, side="BUY", type="LIMIT", timeInForce="GTC",
                           quantity="100", price="30000")
            assert (err.value.code, err.value.status_code) == (-2019, 400)
            with pytest.raises(BinanceAPIException) as err:  # would increase the position
                await call(tk.futures_create_order, symbol=BTC, side="BUY", type="LIMIT", timeInForce="GTC",
                           quantity="0.01", price="29000", reduceOnly="true")
            assert err.value.code == -2022
            assert (await call(tk.futures_get_position_mode))["dualSidePosition"] is False
            with pytest.raises(BinanceAPIException) as err:
                await call(tk.futures_change_position_mode, dualSidePosition="false")
            assert err.value.code == -4059
            mark = await call(tk.futures_mark_price, symbol=BTC)
            assert mark["markPrice"] == "30000.00"
            await call(tk.futures_cancel_all_open_orders, symbol=BTC)
            assert await call(tk.futures_get_open_orders, symbol=BTC) == []
            trades = await call(tk.futures_account_trades, symbol=BTC)
            assert [(t["price"], t["qty"], t["side"], t["commission"]) for t in trades] == \
                [("30000.00", "0.200", "BUY", "3.000000")]
            book = await call(tk.futures_order_book, symbol=BTC)
            assert book["asks"] == [] and book["lastUpdateId"] > 0
    run(scenario())


def test_python_binance_socket_manager(tmp_path):
    """BinanceSocketManager's futures user socket and multiplex socket deliver ORDER_TRADE_UPDATE,
    ACCOUNT_UPDATE and aggTrade for a fill."""
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            await rest.index(BTC, "30000")
            maker, taker = await rest.account(), await rest.account()
            base = base_url(svc)

            class LocalAsync(AsyncClient):
                API_URL = base + "/api"
                FUTURES_URL = base + "/fapi"

            class LocalSockets(BinanceSocketManager):
                FSTREAM_URL = base.replace("http", "ws", 1) + "/"
            client = await LocalAsync.create(taker["apiKey"], taker["secretKey"])
            mk = await LocalAsync.create(maker["apiKey"], maker["secretKey"])
            try:
                bsm = LocalSockets(client)
                # python-binance leaves a socket when its reader wakes up (at most 10 s): the mark price
                # stream ticks every second, and an order just before the user socket closes wakes that one
                async with bsm.futures_user_socket() as user:
                    async with bsm.futures_multiplex_socket(["btcusdt@aggTrade", "btcusdt@markPrice@1s"]) as market:
                        await asyncio.sleep(0.3)
                        await mk.futures_create_order(symbol=BTC, side="SELL", type="LIMIT", timeInForce="GTC",
                                                      quantity="0.1", price="30000")
                        await client.futures_create_order(symbol=BTC, side="BUY", type="MARKET", quantity="0.1")
                        msg = await asyncio.wait_for(market.recv(), 5)
                        while msg["stream"] != "btcusdt@aggTrade":
                            msg = await asyncio.wait_for(market.recv(), 5)
                        assert (msg["data"]["p"], msg["data"]["q"], msg["data"]["m"]) == ("30000.00", "0.100", False)
                    seen = {}
                    while "ACCOUNT_UPDATE" not in seen or seen.get("ORDER_TRADE_UPDATE", {}).get("o", {}).get("X") != "FILLED":
                        msg = await asyncio.wait_for(user.recv(), 5)
                        seen[msg["e"]] = msg
                    o = seen["ORDER_TRADE_UPDATE"]["o"]
                    assert (o["x"], o["X"], o["l"], o["L"], o["n"]) == ("TRADE", "FILLED", "0.100", "30000.00", "1.500000")
                    p = seen["ACCOUNT_UPDATE"]["a"]["P"][0]
                    assert (p["s"], p["pa"], p["ep"]) == (BTC, "0.100", "30000.00000000")

                    async def wake_the_reader() -> None:
                        await asyncio.sleep(0.3)
                        await client.futures_change_leverage(symbol=BTC, leverage=5)  # an ACCOUNT_CONFIG_UPDATE
                    waker = asyncio.ensure_future(wake_the_reader())
                await waker
            finally:
                await client.close_connection()
                await mk.close_connection()
    run(scenario())
