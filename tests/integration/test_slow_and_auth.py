"""A client that stops reading is cut off without stalling anyone; accounts and admin are isolated."""

from __future__ import annotations

import asyncio
import socket
import time
from decimal import Decimal

import pytest
from loopback import ADMIN_KEY, SYMBOL, RawConnection, admin_client, close_all, funded_clients, run, service

from clients.sdk import Client, ExchangeError
from exchange.runtime.server import Limits


def test_slow_reader_is_disconnected_and_the_engine_keeps_going(tmp_path):
    async def scenario():
        async with service(tmp_path, limits=Limits(max_outbox=1 << 20)) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            makers = await funded_clients(svc, admin, 2, deposit="10000000")
            (fast,) = await funded_clients(svc, admin, 1)
            await asyncio.gather(*(m.create_order(SYMBOL, "limit", "buy", "0.01", f"{29000 + 2 * i + j}")
                                   for i in range(200) for j, m in enumerate(makers)))
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", svc.port))
            reader, writer = await asyncio.open_connection(sock=sock)
            slow = RawConnection(reader, writer)
            assert (await slow.request({"op": "hello", "id": 1, "version": 1}))["type"] == "result"
            for i in range(2, 1500):  # ~10 KB answers it never reads
                slow.send({"op": "book", "id": i, "symbol": SYMBOL})
            worst = 0.0
            deadline = time.monotonic() + 20
            while not svc.server.disconnects.get("SLOW_CONSUMER") and time.monotonic() < deadline:
                t0 = time.monotonic()
                o = await fast.create_order(SYMBOL, "limit", "sell", "0.01", "31000")
                await fast.cancel_order(o.id, SYMBOL)
                worst = max(worst, time.monotonic() - t0)
            assert svc.server.disconnects == {"SLOW_CONSUMER": 1}
            assert worst < 1.0, f"a round trip took {worst:.3f}s while the slow reader was connected"
            assert len(svc.server.hub.sessions) == 4  # admin, 2 makers, fast
            await close_all(*makers, fast, admin)
            writer.close()
    run(scenario())


def test_accounts_cannot_touch_each_other_and_admin_needs_the_key(tmp_path):
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            alice, mallory = await funded_clients(svc, admin, 2)
            order = await alice.create_order(SYMBOL, "limit", "buy", "0.01", "29900")
            for attempt in (mallory.cancel_order(order.id, SYMBOL),
                            mallory.edit_order(order.id, SYMBOL, amount="0.02", price="29800"),
                            mallory.fetch_order(order.id)):
                with pytest.raises(ExchangeError) as err:
                    await attempt
                assert err.value.code == "UNKNOWN_ORDER"
            assert await mallory.cancel_all_orders(SYMBOL) == []
            # the account parameter is honoured for the admin only
            assert (await mallory.fetch_balance(account=alice.account)).account == mallory.account
            assert [o.id for o in await alice.fetch_open_orders()] == [order.id]
            for admin_call in (mallory.deposit(mallory.account, "1000000"), mallory.set_index(SYMBOL, "1000"),
                               mallory.create_account(), mallory.set_trading_halted(True), mallory.state_hash()):
                with pytest.raises(ExchangeError) as err:
                    await admin_call
                assert err.value.code == "FORBIDDEN"
            anonymous = await Client(port=svc.port, reconnect=False).connect()
            with pytest.raises(ExchangeError) as err:
                await anonymous.create_order(SYMBOL, "limit", "buy", "0.01", "29900")
            assert err.value.code == "NOT_LOGGED_IN"
            with pytest.raises(ExchangeError) as err:
                await anonymous.request("login", api_key="lk_guess")
            assert err.value.code == "AUTH_FAILED"
            raw = await RawConnection.open(svc.port)
            assert (await raw.request({"op": "login", "id": 1, "api_key": ADMIN_KEY}))["code"] == "HELLO_REQUIRED"
            raw.close()
            assert (await alice.fetch_balance()).cross_wallet == 100000
            await close_all(alice, mallory, anonymous, admin)
    run(scenario())


def test_api_keys_and_state_survive_a_restart(tmp_path):
    async def first():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            key = await admin.create_account(deposit="1234.5")
            c = await Client(port=svc.port, api_key=key.api_key, reconnect=False).connect()
            first = await c.create_order(SYMBOL, "limit", "buy", "0.01", "29900")
            snap = await admin.take_snapshot()
            second = await c.create_order(SYMBOL, "limit", "buy", "0.01", "29800")  # in the journal tail only
            assert snap["seq"] < svc.exchange.seq
            digest = await admin.state_hash()
            await close_all(c, admin)
            return key, [first.id, second.id], digest

    async def second(key, oids, digest):
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            assert await admin.state_hash() == digest
            c = await Client(port=svc.port, api_key=key.api_key, reconnect=False).connect()
            assert c.account == key.account
            assert [o.id for o in await c.fetch_open_orders()] == oids
            assert (await c.fetch_balance()).cross_wallet == 1234.5
            await close_all(c, admin)

    run(second(*run(first())))


def test_client_reconnects_and_resubscribes_after_a_restart(tmp_path):
    async def scenario():
        async with service(tmp_path) as svc:
            port = svc.port
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            key = await admin.create_account(deposit="100000")
            await admin.close()
            c = await Client(port=port, api_key=key.api_key, timeout=5).connect()
            await c.subscribe("book", SYMBOL)
            await c.create_order(SYMBOL, "limit", "buy", "0.01", "29900")
            assert c.books[SYMBOL].view(SYMBOL).bids == [(29900, Decimal("0.01"))]
        async with service(tmp_path, port=port) as svc:
            for _ in range(100):
                if c.reconnects:
                    break
                await asyncio.sleep(0.05)
            assert c.reconnects == 1
            order = await c.create_order(SYMBOL, "limit", "buy", "0.02", "29800")
            assert order.status == "NEW"
            book = await c.watch_order_book(SYMBOL)
            assert book.bids == [(29900, Decimal("0.01")), (29800, Decimal("0.02"))]
            await c.close()
    run(scenario())
