"""Gateway benchmark: `python -m bench gateway [--clients 1,100,1000] [--seconds 3] [--window 16]`.

1, 100 and 1,000 concurrent clients on 127.0.0.1 place a limit order and cancel it as soon as it is
acknowledged, request/response (one request in flight per client) and pipelined (`--window` in
flight per client). Measured: acknowledged requests (places + cancels) per second, orders per second
(acknowledged places) and the p50/p99 round trip. The same load then runs against a bare asyncio
msgpack echo server (decode each frame, answer it re-encoded), and the ratio exchange/echo is
reported. The load comes from `--workers` separate processes (multiprocessing) so the client side
does not share the server's interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

import msgpack

from bench.__main__ import emit
from exchange.config import CONFIG_DIR

ADMIN_KEY = "bench-gateway-admin-key"
SYMBOL = "BTCUSDT"


# -- the echo server ----------------------------------------------------------------------------
class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.unpacker = msgpack.Unpacker(raw=False, max_buffer_size=1 << 20)
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.unpacker.feed(data)
        packb = msgpack.packb
        out = [packb({"type": "result", "id": msg.get("id"), "result": msg}) for msg in self.unpacker]
        if out:
            self.transport.write(b"".join(out))


def echo_server(port_queue: mp.Queue) -> None:
    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(EchoProtocol, "127.0.0.1", 0, backlog=4096)
        port_queue.put(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()
    asyncio.run(serve())


# -- the load -----------------------------------------------------------------------------------
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


def run_load(port: int, keys: list[str], window: int, seconds: float, workers: int) -> dict:
    ready, results, go = mp.Queue(), mp.Queue(), mp.Event()
    n = min(workers, len(keys))
    procs = [mp.Process(target=worker, args=(port, keys[i::n], window, seconds, ready, go, results))
             for i in range(n)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    go.set()
    parts = [results.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(30)
    rtts = array("d")
    for part in parts:
        rtts.frombytes(part["rtts"])
    ordered = sorted(rtts)
    elapsed = max(part["elapsed"] for part in parts)
    orders = sum(part["orders"] for part in parts)
    cancels = sum(part["cancels"] for part in parts)
    return {"requests_per_s": (orders + cancels) / elapsed, "orders_per_s": orders / elapsed,
            "errors": sum(part["errors"] for part in parts),
            "p50_ms": 1000 * ordered[len(ordered) // 2] if ordered else None,
            "p99_ms": 1000 * ordered[int(len(ordered) * 0.99)] if ordered else None}


# -- the exchange under test --------------------------------------------------------------------
def start_exchange(run_dir: Path) -> tuple[subprocess.Popen, int]:
    config = run_dir / "bench.toml"
    config.write_text(f'base = "{CONFIG_DIR / "default.toml"}"\n[server]\nheartbeat_s = 3600\n'
                      "snapshot_every_s = 3600\nrate_limit_per_s = 1e9\nrate_burst = 1e9\nmax_inflight = 100000\n")
    proc = subprocess.Popen([sys.executable, "-m", "exchange", "serve", "--config", str(config), "--run-dir",
                             str(run_dir / "run"), "--port", "0", "--admin-key", ADMIN_KEY, "--quiet",
                             "--log-level", "error"])
    info = run_dir / "run" / "server.json"
    deadline = time.monotonic() + 30
    while not info.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the exchange did not start")
        time.sleep(0.05)
    return proc, json.loads(info.read_text())["port"]


async def create_accounts(port: int, n: int) -> list[str]:
    from clients.sdk import Client
    async with Client(port=port, api_key=ADMIN_KEY, timeout=60) as admin:
        await admin.set_index(SYMBOL, "30000")
        made = await asyncio.gather(*(admin.create_account(deposit="10000000") for _ in range(n)))
    return [m.api_key for m in made]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench gateway")
    p.add_argument("--clients", default="1,100,1000", help="comma-separated client counts")
    p.add_argument("--seconds", type=float, default=3.0, help="measured seconds per run")
    p.add_argument("--window", type=int, default=16, help="requests in flight per client when pipelined")
    p.add_argument("--workers", type=int, default=2, help="load-generating processes")
    args = p.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]
    mp.set_start_method("fork", force=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_exchange(Path(tmp))
        port_queue: mp.Queue = mp.Queue()
        echo = mp.Process(target=echo_server, args=(port_queue,), daemon=True)
        echo.start()
        echo_port = port_queue.get(timeout=30)
        try:
            keys = asyncio.run(create_accounts(port, max(counts)))
            for n in counts:
                for mode, window in (("request_response", 1), ("pipelined", args.window)):
                    ex = run_load(port, keys[:n], window, args.seconds, args.workers)
                    echo_r = run_load(echo_port, keys[:n], window, args.seconds, args.workers)
                    ratio = ex["requests_per_s"] / echo_r["requests_per_s"]
                    emit("gateway", round(ex["orders_per_s"]), "orders/s", clients=n, mode=mode,
                         requests_per_s=round(ex["requests_per_s"]), p50_ms=round(ex["p50_ms"], 3),
                         p99_ms=round(ex["p99_ms"], 3), errors=ex["errors"],
                         echo_requests_per_s=round(echo_r["requests_per_s"]), echo_p50_ms=round(echo_r["p50_ms"], 3),
                         echo_p99_ms=round(echo_r["p99_ms"], 3), ratio_to_echo=round(ratio, 3),
                         cores=os.cpu_count(), workers=args.workers)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            echo.kill()
    return 0
