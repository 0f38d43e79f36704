"""The Python msgpack load client: asyncio clients in `workers` processes placing a limit order and
cancelling it as soon as it is acknowledged, `window` requests in flight per client.

bench/http.py drives the msgpack gateway with it beside its Python REST clients, so both loads come
from the same kind of client. bench/gateway.py measures the gateway with the C generator (loadgen.c)
instead: on two cores these clients take a core of their own and their rate, not the server's, can
be what is measured.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import socket
import time
from array import array
from collections.abc import Callable
from typing import Any

import msgpack

SYMBOL = "BTCUSDT"


class LoadClient(asyncio.Protocol):
    """Logs in, then keeps `window` requests in flight: each acknowledged place is cancelled, each
    acknowledged cancel is followed by a new place."""

    def __init__(self, key: str, window: int, base_price: int, stats: dict, rtts: array) -> None:
        self.key = key
        self.window = window
        self.price = base_price
        self.stats = stats
        self.rtts = rtts
        self.sent: dict[int, tuple[str, float, str]] = {}
        self.next_id = 1
        self.ready = asyncio.get_running_loop().create_future()
        self.running = False
        self.unpacker = msgpack.Unpacker(raw=False)
        self.out: list[bytes] = []

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._send("hello", {"version": 1})
        self._send("login", {"api_key": self.key})
        self._flush()

    def _send(self, op: str, params: dict, order_id: int = 0) -> None:
        rid = self.next_id
        self.next_id += 1
        params["op"] = op
        params["id"] = rid
        self.sent[rid] = (op, time.perf_counter(), order_id)
        self.out.append(msgpack.packb(params))

    def _place(self) -> None:
        self.price = 29000 + (self.price + 1) % 200
        self._send("place", {"symbol": SYMBOL, "side": "buy", "type": "limit", "qty": "0.01",
                             "price": f"{self.price}.0"})

    def _flush(self) -> None:
        if self.out:
            self.transport.write(b"".join(self.out))
            self.out.clear()

    def start(self) -> None:
        self.running = True
        for _ in range(self.window):
            self._place()
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.unpacker.feed(data)
        now = time.perf_counter()
        stats = self.stats
        for msg in self.unpacker:
            entry = self.sent.pop(msg.get("id"), None)
            if entry is None:
                continue
            op, t0, _ = entry
            if op == "login":
                self.ready.set_result(None)
                continue
            if not self.running:
                continue
            self.rtts.append(now - t0)
            if msg["type"] != "result":
                stats["errors"] += 1
                self._place()
            elif op == "place":
                stats["orders"] += 1
                result = msg["result"]
                oid = result.get("order_id", 1) if isinstance(result, dict) else 1
                self._send("cancel", {"symbol": SYMBOL, "order_id": oid})
            else:
                stats["cancels"] += 1
                self._place()
        self._flush()


def worker(port: int, keys: list[str], window: int, seconds: float, ready: mp.Queue, go: mp.Event,
           results: mp.Queue) -> None:
    async def drive() -> None:
        loop = asyncio.get_running_loop()
        stats = {"orders": 0, "cancels": 0, "errors": 0}
        rtts = array("d")
        clients = []
        for i, key in enumerate(keys):
            _, proto = await loop.create_connection(
                lambda k=key, i=i: LoadClient(k, window, i * 7, stats, rtts), "127.0.0.1", port)
            clients.append(proto)
        await asyncio.gather(*(c.ready for c in clients))
        ready.put(len(clients))
        while not go.is_set():
            await asyncio.sleep(0.005)
        t0 = time.perf_counter()
        for c in clients:
            c.start()
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - t0
        for c in clients:
            c.running = False
        results.put({**stats, "elapsed": elapsed, "rtts": rtts.tobytes()})
        for c in clients:
            c.transport.close()
    asyncio.run(drive())


def run_workers(target: Callable[..., None], arg_sets: list[tuple[Any, ...]], seconds: float) -> tuple[list[dict], float]:
    """One process per argument set, `target(*args, ready, go, results)`, started together; what each
    put on `results` ({"elapsed", "rtts" (an array of seconds, as bytes), its counters...}) and the
    longest elapsed. A process puts one item on `ready` once connected, then waits for `go`."""
    ready, results, go = mp.Queue(), mp.Queue(), mp.Event()
    procs = [mp.Process(target=target, args=(*args, ready, go, results)) for args in arg_sets]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    go.set()
    parts = [results.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(30)
    return parts, max(part["elapsed"] for part in parts)


def latency_ms(parts: list[dict]) -> dict[str, float | None]:
    """p50 and p99 of the round trips the processes measured, in ms (None when there were none)."""
    rtts = array("d")
    for part in parts:
        rtts.frombytes(part["rtts"])
    ordered = sorted(rtts)
    return {"p50_ms": 1000 * ordered[len(ordered) // 2] if ordered else None,
            "p99_ms": 1000 * ordered[int(len(ordered) * 0.99)] if ordered else None}


def run_load(port: int, keys: list[str], window: int, seconds: float, workers: int) -> dict:
    n = min(workers, len(keys))
    parts, elapsed = run_workers(worker, [(port, keys[i::n], window, seconds) for i in range(n)], seconds)
    orders = sum(part["orders"] for part in parts)
    cancels = sum(part["cancels"] for part in parts)
    return {"requests_per_s": (orders + cancels) / elapsed, "orders_per_s": orders / elapsed,
            "errors": sum(part["errors"] for part in parts), **latency_ms(parts)}

