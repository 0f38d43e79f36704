"""ccxt's binanceusdm and ccxt.pro driving the live exchange over 127.0.0.1, nothing patched but URLs and keys."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp
import ccxt.async_support as ccxt
import ccxt.pro as ccxtpro
import pytest

from .conftest import BTC, Rest, base_url, http_service, point_ccxt, run

SYM = "BTC/USDT:USDT"


async def _clients(svc, n: int, deposit: str = "100000"):
    session = aiohttp.ClientSession()
    rest = Rest(svc, session)
    accounts = [await rest.account(deposit) for _ in range(n)]
    return rest, session, accounts


def _ccxt(svc, acct, pro: bool = False):
    cls = ccxtpro.binanceusdm if pro else ccxt.binanceusdm
    return point_ccxt(cls({"apiKey": acct["apiKey"], "secret": acct["secretKey"]}), base_url(svc))


def test_ccxt_rest_session(tmp_path):
    """load_markets, balance, margin mode, leverage, limit / market / stop-market / reduce-only orders,
    positions, add and reduce margin, funding rate, cancel all: each answers with our exact numbers."""
    async def scenario():
        async with http_service(tmp_path) as svc:
            rest, session, (maker, taker) = await _clients(svc, 2)
            await rest.index(BTC, "30000")
            mk, tk = _ccxt(svc, maker), _ccxt(svc, taker)
            try:
                markets = await tk.load_markets()
                m = markets[SYM]
                assert (m["precision"]["price"], m["precision"]["amount"], m["limits"]["cost"]["min"]) == (0.1, 0.001, 100.0)
                bal = await tk.fetch_balance()
                assert bal["USDT"]["total"] == 100000.0 and bal["USDT"]["free"] == 100000.0
                await tk.set_margin_mode("isolated", SYM)
                await tk.set_leverage(10, SYM)
                resting = await mk.create_order(SYM, "limit", "sell", 0.1, 30000)
                assert resting["status"] == "open" and resting["price"] == 30000.0
                bought = await tk.create_order(SYM, "market", "buy", 0.1)
                assert bought["status"] == "closed" and bought["filled"] == 0.1 and bought["average"] == 30000.0
                (pos,) = [p for p in await tk.fetch_positions([SYM]) if p["contracts"]]
                assert (pos["side"], pos["contracts"], pos["entryPrice"], pos["marginMode"], pos["leverage"]) == \
                    ("long", 0.1, 30000.0, "isolated", 10)
                # isolated margin = IM 300 (3,000 / 10); fee 1.5 from the cross wallet
                assert Decimal(pos["info"]["isolatedWallet"]) == Decimal(300)
                await tk.add_margin(SYM, 50)
                await tk.reduce_margin(SYM, 20)
                (pos,) = [p for p in await tk.fetch_positions([SYM]) if p["contracts"]]
                assert Decimal(pos["info"]["isolatedWallet"]) == Decimal(330)
                stop = await tk.create_order(SYM, "market", "sell", 0.1, None, {"stopPrice": 29000, "reduceOnly": True})
                assert stop["status"] == "open"
                limit = await tk.create_order(SYM, "limit", "sell", 0.05, 31000, {"reduceOnly": True})
                assert limit["reduceOnly"] is True
                assert {o["id"] for o in await tk.fetch_open_orders(SYM)} == {limit["id"]}
                assert {o["id"] for o in await tk.fetch_open_orders(SYM, params={"trigger": True})} == {stop["id"]}
                await tk.cancel_all_orders(SYM)
                assert await tk.fetch_open_orders(SYM) == []
                assert await tk.fetch_open_orders(SYM, params={"trigger": True}) == []
                rate = await tk.fetch_funding_rate(SYM)
                assert rate["markPrice"] == 30000.0 and rate["indexPrice"] == 30000.0
                bal = await tk.fetch_balance()
                assert bal["USDT"]["total"] == pytest.approx(100000 - 1.5)
            finally:
                await mk.close()
                await tk.close()
                await session.close()
    run(scenario())


def test_ccxt_pro_streams(tmp_path):
    """watch_order_book, watch_trades, watch_orders, watch_positions, watch_balance see a maker's order
    and a taker's fill, with the numbers REST reports."""
    async def scenario():
        async with http_service(tmp_path) as svc:
            rest, session, (maker, taker) = await _clients(svc, 2)
            await rest.index(BTC, "30000")
            mk, tk = _ccxt(svc, maker), _ccxt(svc, taker, pro=True)
            try:
                await mk.load_markets()
                await mk.create_order(SYM, "limit", "sell", 0.5, 30010)
                book = await tk.watch_order_book(SYM)
                assert book["asks"][0] == [30010.0, 0.5]
                orders_w = asyncio.ensure_future(tk.watch_orders(SYM))
                positions_w = asyncio.ensure_future(tk.watch_positions([SYM]))
                balance_w = asyncio.ensure_future(tk.watch_balance())
                trades_w = asyncio.ensure_future(tk.watch_trades(SYM))
                await asyncio.sleep(0.5)  # the subscriptions reach the server
                await mk.create_order(SYM, "limit", "buy", 0.2, 29990)
                book = tk.orderbooks[SYM]
                while book["bids"][:1] != [[29990.0, 0.2]]:
                    book = await asyncio.wait_for(tk.watch_order_book(SYM), 5)
                order = await tk.create_order(SYM, "market", "buy", 0.3)
                trades = await asyncio.wait_for(trades_w, 5)
                assert [(t["price"], t["amount"], t["side"]) for t in trades] == [(30010.0, 0.3, "buy")]
                orders = await asyncio.wait_for(orders_w, 5)
                while not any(o["id"] == order["id"] and o["status"] == "closed" for o in orders):
                    orders = await asyncio.wait_for(tk.watch_orders(SYM), 5)
                positions = await asyncio.wait_for(positions_w, 5)
                while not any(p["contracts"] == 0.3 for p in positions):
                    positions = await asyncio.wait_for(tk.watch_positions([SYM]), 5)
                (pos,) = [p for p in positions if p["contracts"]]
                assert (pos["side"], pos["entryPrice"]) == ("long", 30010.0)
                balance = await asyncio.wait_for(balance_w, 5)
                while balance["USDT"]["total"] == 100000.0:
                    balance = await asyncio.wait_for(tk.watch_balance(), 5)
                assert Decimal(str(balance["USDT"]["total"])) == Decimal("100000") - Decimal("4.5015")  # 0.05% of 9,003
                book = tk.orderbooks[SYM]
                while book["asks"][0] != [30010.0, 0.2]:
                    book = await asyncio.wait_for(tk.watch_order_book(SYM), 5)
                assert book["asks"][:1] == [[30010.0, 0.2]] and book["bids"][:1] == [[29990.0, 0.2]]
            finally:
                await mk.close()
                await tk.close()
                await session.close()
    run(scenario())
