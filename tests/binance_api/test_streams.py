"""WebSocket streams: a local order book built the Binance way (REST snapshot + buffered diff events,
U/u/pu continuity) equals a fresh snapshot after seeded random trading; SUBSCRIBE / UNSUBSCRIBE; a
slow reader is dropped; bad control messages get Binance's WebSocket errors; listenKey lifecycle."""

from __future__ import annotations

import asyncio
import json
import random
from decimal import Decimal

import aiohttp

from .conftest import BTC, Rest, base_url, http_service, run


class LocalBook:
    """Binance's recipe: buffer events, take a snapshot, drop u < lastUpdateId, the first applied event
    has U <= lastUpdateId <= u, each next one has pu == the previous u."""

    def __init__(self) -> None:
        self.buffer: list[dict] = []
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.last: int | None = None
        self.first = True  # the next event to apply is the first after the snapshot

    def on_event(self, ev: dict) -> None:
        if self.last is None:
            self.buffer.append(ev)
        else:
            self._next(ev)

    def _next(self, ev: dict) -> None:
        assert self.last is not None
        if ev["u"] < self.last:
            assert self.first, "an old event after the book was live"
            return
        if self.first:
            assert ev["U"] <= self.last <= ev["u"], (ev["U"], self.last, ev["u"])
            self.first = False
        else:
            assert ev["pu"] == self.last, f"gap: pu {ev['pu']} after u {self.last}"
        self._apply(ev)

    def snapshot(self, snap: dict) -> None:
        self.bids = {p: q for p, q in snap["bids"]}
        self.asks = {p: q for p, q in snap["asks"]}
        self.last = snap["lastUpdateId"]
        buffered, self.buffer = self.buffer, []
        for ev in buffered:
            self._next(ev)

    def _apply(self, ev: dict) -> None:
        for side, rows in ((self.bids, ev["b"]), (self.asks, ev["a"])):
            for p, q in rows:
                if Decimal(q) == 0:
                    side.pop(p, None)
                else:
                    side[p] = q
        self.last = ev["u"]

    def levels(self) -> tuple[list, list]:
        return (sorted(([p, q] for p, q in self.bids.items()), key=lambda r: -Decimal(r[0])),
                sorted(([p, q] for p, q in self.asks.items()), key=lambda r: Decimal(r[0])))


async def _random_trading(rest: Rest, accounts: list[dict], rng: random.Random, n: int) -> None:
    """Limit orders around 30,000, market orders, cancels and amends, from several accounts."""
    open_orders: list[tuple[dict, int]] = []
    for _ in range(n):
        acct = rng.choice(accounts)
        k, s = acct["apiKey"], acct["secretKey"]
        roll = rng.random()
        if roll < 0.55 or not open_orders:
            side = rng.choice(("BUY", "SELL"))
            price = 30000 + (rng.randint(-40, 5) if side == "BUY" else rng.randint(-5, 40)) * 5
            status, body = await rest.signed("POST", "/fapi/v1/order", k, s, in_body=True, symbol=BTC, side=side,
                                             type="LIMIT", timeInForce="GTC", quantity=f"{rng.randint(1, 30) / 100:.3f}",
                                             price=f"{price}.0")
            if status == 200 and body["status"] in ("NEW", "PARTIALLY_FILLED"):
                open_orders.append((acct, body["orderId"]))
        elif roll < 0.7:
            await rest.signed("POST", "/fapi/v1/order", k, s, in_body=True, symbol=BTC, side=rng.choice(("BUY", "SELL")),
                              type="MARKET", quantity=f"{rng.randint(1, 20) / 100:.3f}")
        elif roll < 0.9:
            owner, oid = open_orders.pop(rng.randrange(len(open_orders)))
            await rest.signed("DELETE", "/fapi/v1/order", owner["apiKey"], owner["secretKey"], symbol=BTC, orderId=oid)
        else:
            owner, oid = rng.choice(open_orders)
            status, order = await rest.signed("GET", "/fapi/v1/order", owner["apiKey"], owner["secretKey"], symbol=BTC, orderId=oid)
            if status == 200 and order["status"] in ("NEW", "PARTIALLY_FILLED"):
                price = Decimal(order["price"]) + rng.choice((-5, 5))
                await rest.signed("PUT", "/fapi/v1/order", owner["apiKey"], owner["secretKey"], in_body=True, symbol=BTC,
                                  orderId=oid, side=order["side"], quantity=order["origQty"], price=str(price))


def test_local_book_from_snapshot_and_diffs_equals_a_fresh_snapshot(tmp_path):
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            await rest.index(BTC, "30000")
            accounts = [await rest.account("1000000") for _ in range(4)]
            rng = random.Random(20261201)
            books = {"btcusdt@depth@100ms": LocalBook(), "btcusdt@depth": LocalBook(), "btcusdt@depth@500ms": LocalBook()}
            ws = await session.ws_connect(base_url(svc).replace("http", "ws", 1) + "/stream?streams=" + "/".join(books))

            async def read() -> None:
                async for msg in ws:
                    m = json.loads(msg.data)
                    books[m["stream"]].on_event(m["data"])
            reader = asyncio.ensure_future(read())
            await _random_trading(rest, accounts, rng, 60)
            trading = asyncio.ensure_future(_random_trading(rest, accounts, rng, 200))
            await asyncio.sleep(0.15)
            for book in books.values():  # snapshots taken while the trading goes on
                _, snap = await rest.public("/fapi/v1/depth", symbol=BTC, limit=1000)
                book.snapshot(snap)
                await asyncio.sleep(0.1)
            await trading
            await asyncio.sleep(0.8)  # the slowest stream (500 ms) has pushed the last changes
            _, fresh = await rest.public("/fapi/v1/depth", symbol=BTC, limit=1000)
            assert fresh["bids"] and fresh["asks"]
            for name, book in books.items():
                assert book.last is not None and book.last <= fresh["lastUpdateId"], name
                assert book.levels() == (fresh["bids"], fresh["asks"]), name
            reader.cancel()
            await ws.close()
    run(scenario())


def test_control_messages_subscriptions_and_their_bad_input(tmp_path):
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            await rest.index(BTC, "30000")
            ws = await session.ws_connect(base_url(svc).replace("http", "ws", 1) + "/public/ws/0")

            async def ask(payload) -> dict:
                await (ws.send_str(payload) if isinstance(payload, str) else ws.send_json(payload))
                return json.loads((await ws.receive(timeout=5)).data)
            assert await ask({"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s", "nope@trade", "btcusdt@kline_7m",
                                                               "BTCUSDT@trade"], "id": 1}) == {"result": None, "id": 1}
            assert await ask({"method": "LIST_SUBSCRIPTIONS", "id": 2}) == {"result": ["btcusdt@markPrice@1s"], "id": 2}
            msg = json.loads((await ws.receive(timeout=5)).data)
            assert (msg["e"], msg["s"], msg["p"], msg["i"]) == ("markPriceUpdate", BTC, "30000.00", "30000.00")
            assert await ask({"method": "UNSUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 3}) == {"result": None, "id": 3}
            bad = [("not json", {"error": {"code": 3, "msg": "Invalid JSON"}}),
                   ([1, 2], {"error": {"code": 2, "msg": "Invalid request"}}),
                   ({"method": "SUBSCRIBE", "params": "btcusdt@trade", "id": 4},
                    {"error": {"code": 1, "msg": "Invalid value type: params"}, "id": 4}),
                   ({"method": "SUBSCRIBE", "params": ["x" * 100], "id": 5},
                    {"error": {"code": 1, "msg": "Invalid value type: params"}, "id": 5}),
                   ({"method": "SUBSCRIBE", "params": [], "id": {"x": 1}}, {"error": {"code": 1, "msg": "Invalid value type: id"}}),
                   ({"method": "EXPLODE", "id": 6}, {"error": {"code": 2, "msg": "Invalid request: unknown method"}, "id": 6}),
                   ({"method": "SET_PROPERTY", "params": ["colour", 1], "id": 7},
                    {"error": {"code": 0, "msg": "Unknown property"}, "id": 7})]
            for payload, reply in bad:
                await asyncio.sleep(0.12)  # under the 10 messages a second
                while True:
                    got = await ask(payload)
                    if got.get("e") is None:
                        break
                    await ws.receive(timeout=5)  # a late mark price
                assert got == reply, payload
            assert await ask({"method": "SET_PROPERTY", "params": ["combined", True], "id": 8}) == {"result": None, "id": 8}
            assert await ask({"method": "GET_PROPERTY", "params": ["combined"], "id": 9}) == {"result": True, "id": 9}
            for i in range(30):  # past 10 messages a second the connection is dropped
                await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 100 + i})
            while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
                pass
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
            await ws.close()
            status, _ = await rest.public("/fapi/v1/ping")
            assert status == 200
            big = await session.ws_connect(base_url(svc).replace("http", "ws", 1) + "/ws")
            await big.send_str("x" * 20_000)  # over the 16 KiB frame limit
            msg = await big.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
            await big.close()
    run(scenario())


async def _stalled_reader(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket client that shakes hands and then never reads (a tiny receive buffer)."""
    import base64
    import os
    import socket
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await writer.drain()
    assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
    return reader, writer


def test_a_reader_that_does_not_keep_up_is_dropped(tmp_path):
    async def scenario():
        async with http_service(tmp_path, ws_max_outbox_bytes=20_000) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            await rest.index(BTC, "30000")
            maker, taker = await rest.account("10000000"), await rest.account("10000000")
            _, writer = await _stalled_reader(svc.http_port, "/stream?streams=btcusdt@trade/btcusdt@aggTrade/btcusdt@depth@100ms")
            await asyncio.sleep(0.2)
            assert len(svc.http.streams.conns) == 1
            for price in range(30000, 30400, 1):
                batch = [{"symbol": BTC, "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.004",
                          "price": f"{price}.{d}"} for d in range(5)]
                await rest.signed("POST", "/fapi/v1/batchOrders", maker["apiKey"], maker["secretKey"], in_body=True,
                                  batchOrders=json.dumps(batch))
                if price % 50 == 49:
                    await rest.signed("POST", "/fapi/v1/order", taker["apiKey"], taker["secretKey"], symbol=BTC, side="BUY",
                                      type="MARKET", quantity="1.000")
                if not svc.http.streams.conns:
                    break
            assert not svc.http.streams.conns  # dropped, while everyone else is served
            status, _ = await rest.public("/fapi/v1/depth", symbol=BTC)
            assert status == 200
            writer.close()
    run(scenario())


def test_listen_key_create_keep_alive_close_and_expiry(tmp_path):
    async def scenario():
        async with http_service(tmp_path, listen_key_ttl_s=0.5) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            a = await rest.account()
            h = {"X-MBX-APIKEY": a["apiKey"]}
            status, first = await rest.call("POST", "/fapi/v1/listenKey", headers=h)
            status, again = await rest.call("POST", "/fapi/v1/listenKey", headers=h)
            assert first == again  # one per account, extended
            assert (await rest.call("PUT", "/fapi/v1/listenKey", headers=h))[1] == first
            status, body = await rest.call("PUT", "/fapi/v1/listenKey", {"listenKey": "nope"}, headers=h)
            assert (status, body["code"]) == (400, -1125)
            status, body = await rest.call("POST", "/fapi/v1/listenKey")
            assert (status, body["code"]) == (401, -2014)
            base = base_url(svc).replace("http", "ws", 1)
            status, body = await rest.call("GET", "/private/ws", {"listenKey": "nope"})
            assert body["code"] == -1125
            user = await session.ws_connect(f"{base}/private/ws?listenKey={first['listenKey']}")
            msg = json.loads((await user.receive(timeout=5)).data)  # nobody keeps it alive: it expires
            assert msg == {"e": "listenKeyExpired", "E": msg["E"], "listenKey": first["listenKey"]}
            assert (await user.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            status, body = await rest.call("PUT", "/fapi/v1/listenKey", headers=h)
            assert body["code"] == -1125
            status, key = await rest.call("POST", "/fapi/v1/listenKey", headers=h)
            assert key != first
            user = await session.ws_connect(f"{base}/ws/{key['listenKey']}")
            await asyncio.sleep(0.1)
            assert (await rest.call("DELETE", "/fapi/v1/listenKey", headers=h))[0] == 200
            assert (await user.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    run(scenario())


def test_user_stream_follows_a_stop_order_from_placement_to_fill_and_warns_of_margin(tmp_path):
    """ALGO_UPDATE NEW; at the trigger ALGO_UPDATE TRIGGERED, ORDER_TRADE_UPDATE NEW (type MARKET, original
    STOP_MARKET), TRADE/FILLED, ALGO_UPDATE FINISHED; ACCOUNT_CONFIG_UPDATE for leverage; MARGIN_CALL at 80%."""
    async def scenario():
        async with http_service(tmp_path, instruments={BTC: {"mark_method": "index"}}) as svc, \
                aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            await rest.index(BTC, "30000")
            maker, bot = await rest.account("10000000"), await rest.account("200")
            mk, ms, k, s = maker["apiKey"], maker["secretKey"], bot["apiKey"], bot["secretKey"]
            _, key = await rest.call("POST", "/fapi/v1/listenKey", headers={"X-MBX-APIKEY": k})
            user = await session.ws_connect(base_url(svc).replace("http", "ws", 1) + f"/ws/{key['listenKey']}")
            await asyncio.sleep(0.1)

            async def next_event(kind: str) -> dict:
                while True:
                    msg = json.loads((await user.receive(timeout=5)).data)
                    if msg["e"] == kind:
                        return msg
            await rest.signed("POST", "/fapi/v1/leverage", k, s, symbol=BTC, leverage="25")
            assert (await next_event("ACCOUNT_CONFIG_UPDATE"))["ac"] == {"s": BTC, "l": 25}
            await rest.signed("POST", "/fapi/v1/order", mk, ms, symbol=BTC, side="SELL", type="LIMIT", timeInForce="GTC",
                              quantity="0.2", price="30000")
            await rest.signed("POST", "/fapi/v1/order", mk, ms, symbol=BTC, side="SELL", type="LIMIT", timeInForce="GTC",
                              quantity="0.1", price="30100")
            await rest.signed("POST", "/fapi/v1/order", k, s, symbol=BTC, side="BUY", type="MARKET", quantity="0.15")
            status, algo = await rest.signed("POST", "/fapi/v1/algoOrder", k, s, algoType="CONDITIONAL", symbol=BTC, side="BUY",
                                             type="STOP_MARKET", quantity="0.01", triggerPrice="30050", workingType="MARK_PRICE")
            assert status == 200 and algo["algoStatus"] == "NEW"
            new = await next_event("ALGO_UPDATE")
            assert (new["o"]["aid"], new["o"]["X"], new["o"]["o"], new["o"]["tp"]) == (algo["algoId"], "NEW", "STOP_MARKET", "30050.00")
            await rest.index(BTC, "30060")
            assert (await next_event("ALGO_UPDATE"))["o"]["X"] == "TRIGGERED"
            placed = await next_event("ORDER_TRADE_UPDATE")
            assert (placed["o"]["i"], placed["o"]["x"], placed["o"]["X"], placed["o"]["o"], placed["o"]["ot"]) == \
                (algo["algoId"], "NEW", "NEW", "MARKET", "STOP_MARKET")
            filled = await next_event("ORDER_TRADE_UPDATE")
            assert (filled["o"]["x"], filled["o"]["X"], filled["o"]["L"], filled["o"]["z"]) == ("TRADE", "FILLED", "30000.00", "0.010")
            assert (await next_event("ALGO_UPDATE"))["o"]["X"] == "FINISHED"
            status, queried = await rest.signed("GET", "/fapi/v1/algoOrder", k, s, symbol=BTC, algoId=algo["algoId"])
            assert (queried["algoStatus"], queried["actualOrderId"], queried["executedQty"]) == ("FINISHED", str(algo["algoId"]), "0.010")
            # 0.16 BTC long at 30,000 on a wallet of 197.60 (200 less 2.40 of fees): MM = 0.4% of 0.16 x mark
            # reaches 80% of the margin balance below 28,909.5 and all of it at 28,880.5
            await rest.index(BTC, "28900")
            call = await next_event("MARGIN_CALL")
            assert (call["p"][0]["s"], call["p"][0]["pa"], call["p"][0]["mt"], call["p"][0]["mm"]) == \
                (BTC, "0.160", "CROSSED", "18.496000")
            # nobody bids: the insurance fund takes the position over at the bankruptcy price
            await rest.index(BTC, "28880")
            liquidation = await next_event("ORDER_TRADE_UPDATE")
            while liquidation["o"]["X"] != "FILLED":
                liquidation = await next_event("ORDER_TRADE_UPDATE")
            assert (liquidation["o"]["o"], liquidation["o"]["z"], liquidation["o"]["c"][:10]) == ("LIQUIDATION", "0.160", "autoclose-")
            status, rows = await rest.signed("GET", "/fapi/v2/positionRisk", k, s, symbol=BTC)
            assert (status, rows[0]["positionAmt"]) == (200, "0.000")  # and the exchange goes on
            await user.close()
    run(scenario())
