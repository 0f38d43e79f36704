"""HTTP requests queue under their client's fairness key: one client's backlog of queries does not
stand in front of another client's lone order (the sequencer serves keys round-robin)."""

from __future__ import annotations

import asyncio

import aiohttp

from exchange.core.commands import BUY, SELL, PlaceOrder

from .conftest import BTC, Rest, http_service, run

FLOOD = 300


def test_a_lone_order_is_served_before_another_clients_backlog(tmp_path):
    async def scenario():
        async with http_service(tmp_path, rate_burst=10_000.0) as svc, \
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            rest = Rest(svc, session)
            await rest.index(BTC, "30000")
            honest = await rest.account()
            maker = await rest.account("100000000")
            inst = svc.exchange.instruments[BTC]
            levels = [PlaceOrder(maker["account"], BTC, side, inst.qty_to_lots("0.01"),
                                 inst.price_to_ticks(str(30000 - side * (10 + i))))
                      for i in range(1000) for side in (BUY, SELL)]
            placed = asyncio.get_running_loop().create_future()
            svc.sequencer.submit(levels, "test", placed.set_result)
            await placed  # a deep book: each depth answer below costs real work
            answered = 0

            async def query() -> None:
                nonlocal answered
                status, _ = await rest.public("/fapi/v1/depth", symbol=BTC, limit="1000")
                assert status == 200
                answered += 1

            flood = [asyncio.ensure_future(query()) for _ in range(FLOOD)]
            while sum(len(q) for q in svc.sequencer.queues.values()) < FLOOD // 2:
                assert answered < FLOOD, "the flood was served before it could queue up"
                await asyncio.sleep(0.001)
            before = answered
            status, body = await rest.signed("POST", "/fapi/v1/order", honest["apiKey"], honest["secretKey"],
                                             symbol=BTC, side="BUY", type="LIMIT", timeInForce="GTC",
                                             quantity="0.01", price="29000")
            assert (status, body["status"]) == (200, "NEW"), body
            overtaken = answered - before
            await asyncio.gather(*flood)
            # served in the sequencer's next rounds: a visit of the flood's key is 16 items
            assert overtaken < FLOOD // 4, f"{overtaken} queued queries of another client went first"
    run(scenario())
