"""Hostile input: random bytes and malformed messages get error frames (or a closed connection);
the exchange state is untouched and a client trading meanwhile is unaffected."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

from loopback import SYMBOL, RawConnection, admin_client, close_all, funded_clients, run, service

MALFORMED = [
    [1, 2, 3], "hello", 42, None, {}, {"id": 1}, {"op": "ping"}, {"op": "ping", "id": -1}, {"op": "ping", "id": "x"},
    {"op": 7, "id": 2}, {"op": "nope", "id": 3}, {"op": "place", "id": 4},
    {"op": "place", "id": 5, "symbol": SYMBOL, "side": "buy", "qty": "1e999999", "price": "30000"},
    {"op": "place", "id": 6, "symbol": SYMBOL, "side": "up", "qty": "1", "price": "30000"},
    {"op": "place", "id": 7, "symbol": SYMBOL, "side": "buy", "qty": 0.5, "price": "30000"},
    {"op": "place", "id": 8, "symbol": SYMBOL, "side": "buy", "qty": "NaN", "price": "30000"},
    {"op": "place", "id": 9, "symbol": SYMBOL, "side": "buy", "qty": "-1", "price": "30000"},
    {"op": "place", "id": 10, "symbol": "X" * 1000, "side": "buy", "qty": "1", "price": "30000"},
    {"op": "place", "id": 11, "symbol": SYMBOL, "side": "buy", "qty": "0.001", "price": "30000", "type": "LIMITX"},
    {"op": "place", "id": 12, "symbol": SYMBOL, "side": "buy", "qty": "0.001", "price": "30000", "tif": ["GTC"]},
    {"op": "cancel", "id": 13, "symbol": SYMBOL, "order_id": 2**64 - 1},
    {"op": "cancel", "id": 14, "symbol": SYMBOL, "order_id": True},
    {"op": "amend", "id": 15, "symbol": SYMBOL, "order_id": 1, "qty": "1", "price": "-5"},
    {"op": "set_leverage", "id": 16, "symbol": SYMBOL, "leverage": 10**9},
    {"op": "adjust_margin", "id": 17, "symbol": SYMBOL, "amount": "0.0000001"},
    {"op": "subscribe", "id": 18, "channel": "secrets"},
    {"op": "deposit", "id": 19, "account": 1, "amount": "1000000"},
    {"op": "positions", "id": 20, "symbol": {"a": 1}},
    {"op": "hello", "id": 21, "version": 99},
]


def test_random_bytes_and_malformed_messages(tmp_path):
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            (honest, other) = await funded_clients(svc, admin, 2)
            resting = await honest.create_order(SYMBOL, "limit", "buy", "0.1", "29990")
            await honest.subscribe("book", SYMBOL)
            before = await admin.state_hash()

            rng = random.Random(7)
            raws = [await RawConnection.open(svc.port) for _ in range(20)]
            for raw in raws:
                for _ in range(rng.randint(1, 20)):
                    raw.send(rng.randbytes(rng.randint(1, 3000)))
            answered = 0
            for raw in raws:  # each gets error frames, a closed socket, or silence (an unfinished frame)
                try:
                    reply = await raw.recv(timeout=0.5)
                except TimeoutError:
                    reply = None
                assert reply is None or reply["type"] == "error"
                answered += reply is not None
                raw.close()
            assert answered > 10

            # a logged-in connection sending malformed requests: one error frame each, then still works
            key = await admin.create_api_key(other.account)
            raw = await RawConnection.open(svc.port)
            assert (await raw.request({"op": "hello", "id": 100, "version": 1}))["type"] == "result"
            assert (await raw.request({"op": "login", "id": 101, "api_key": key.api_key}))["type"] == "result"
            for msg in MALFORMED:
                raw.send(msg)
            errors = [await raw.recv() for _ in MALFORMED]
            assert all(e["type"] == "error" and e["code"] and e["message"] for e in errors)
            codes = {e["code"] for e in errors}
            assert {"BAD_MESSAGE", "UNKNOWN_OP", "MISSING_PARAM", "INVALID_PARAM", "UNKNOWN_SYMBOL", "FORBIDDEN",
                    "UNKNOWN_CHANNEL", "UNSUPPORTED_VERSION", "INVALID_ORDER_TYPE"} <= codes
            assert (await raw.request({"op": "ping", "id": 102}))["type"] == "result"

            # an oversize frame closes that connection only
            raw.send({"op": "ping", "id": 103, "pad": "x" * (svc.options.limits.max_frame + 10)})
            reply = await raw.recv()
            assert reply["code"] == "FRAME_TOO_LARGE"
            assert await raw.recv() is None

            assert await admin.state_hash() == before
            assert [o.id for o in await honest.fetch_open_orders()] == [resting.id]
            update = asyncio.ensure_future(honest.watch_order_book(SYMBOL))
            await other.create_order(SYMBOL, "limit", "sell", "0.05", "29990")
            book = await update
            assert book.bids[0] == (Decimal(29990), Decimal("0.05"))
            svc.exchange.check_invariants()
            await close_all(honest, other, admin)
    run(scenario())
