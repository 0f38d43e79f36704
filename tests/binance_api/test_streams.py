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
