"""Flood benchmark: `python -m bench flood [--connections 100] [--seconds 3]`.

An honest client's round trip (place an order, then cancel it: one request in flight, at most
HONEST_RATE requests per second, under the shipped rate limit) is timed alone, then while N hostile connections flood the same server process with the shipped limits:

- `book`: each keeps `--window` queries of a deep book (400 levels) in flight, reading the answers;
- `spam`: each logged in, placing and cancelling orders at the shipped per-connection rate limit;
- `nonreaders`: each subscribed to the book stream, never reading, while a maker churns the book.

Reported per flood: the honest p50/p99 and their ratio to the p50/p99 alone, measured in the same run.
Then a fresh server's RSS before and with 100 idle non-readers subscribed to a busy book stream.
The hostile connections run in their own process (`hostile()`), so the honest client and the
server do not share an interpreter with them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import signal
import socket
import subprocess
import tempfile
import time
import tomllib
from pathlib import Path

import msgpack

from bench.__main__ import emit
from bench.server import serve
from exchange.config import CONFIG_DIR

ADMIN_KEY = "bench-flood-admin-key"
SYMBOL = "BTCUSDT"
KINDS = ("book", "spam", "nonreaders")
HONEST_RATE = 1000.0  # requests/s of the honest client: half the shipped rate limit (2,000/s, burst 4,000)
CHURN_RATE = 1500.0  # amends/s of the maker churning the book for the non-readers, under the limit too


# -- hostile connections --------------------------------------------------------------------------
class Hostile(asyncio.Protocol):
    """One hostile connection: says hello (and logs in when given a key), then floods."""

    def __init__(self, kind: str, key: str | None, window: int, rate: float) -> None:
        self.kind, self.key, self.window, self.rate = kind, key, window, rate
        self.unpacker = msgpack.Unpacker(raw=False)
        self.next_id = 1
        self.answers = 0
        self.open_orders: list[int] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if self.kind == "nonreaders":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self._send({"op": "hello", "version": 1})
        if self.key:
            self._send({"op": "login", "api_key": self.key})
        if self.kind == "book":
            for _ in range(self.window):
                self._send({"op": "book", "symbol": SYMBOL})
        elif self.kind == "nonreaders":
            self._send({"op": "subscribe", "channel": "book", "symbol": SYMBOL})
            transport.pause_reading()
        elif self.kind == "spam":
            asyncio.get_running_loop().create_task(self._spam())

    def _send(self, msg: dict) -> None:
        msg["id"] = self.next_id
        self.next_id += 1
        self.transport.write(msgpack.packb(msg))

    async def _spam(self) -> None:
        """Place and cancel orders far from the market at `rate` requests per second."""
        price = 20000
        while not self.transport.is_closing():
            for _ in range(20):
                if self.open_orders:
                    self._send({"op": "cancel", "symbol": SYMBOL, "order_id": self.open_orders.pop()})
                else:
                    price = 20000 + (price + 1) % 500
                    self._send({"op": "place", "symbol": SYMBOL, "side": "buy", "qty": "0.01", "price": f"{price}"})
            await asyncio.sleep(20 / self.rate)

    def data_received(self, data: bytes) -> None:
        self.unpacker.feed(data)
        if self.kind == "book":  # every message is an answer: count them without building them
            while True:
                try:
                    self.unpacker.skip()
                except msgpack.OutOfData:
                    return
                self.answers += 1
                self._send({"op": "book", "symbol": SYMBOL})
        for msg in self.unpacker:
            if msg.get("type") not in ("result", "error"):
                continue
            self.answers += 1
            if self.kind == "spam" and msg["type"] == "result" and "order_id" in msg["result"]:
                if msg["result"].get("status") == "NEW":
                    self.open_orders.append(msg["result"]["order_id"])


def hostile(port: int, kind: str, n: int, seconds: float, keys: list[str], window: int, rate: float,
            ready: mp.Queue) -> None:
    """Run n hostile connections of `kind` for `seconds` (a process target); puts the answers read."""
    async def flood() -> int:
        loop = asyncio.get_running_loop()
        conns = []
        for i in range(n):
            key = keys[i % len(keys)] if kind == "spam" else None
            try:
                _, proto = await loop.create_connection(lambda k=key: Hostile(kind, k, window, rate), "127.0.0.1", port)
            except OSError:
                break
            conns.append(proto)
        ready.put(len(conns))
        await asyncio.sleep(seconds)
        for c in conns:
            c.transport.abort()
        return sum(c.answers for c in conns)
    ready.put(asyncio.run(flood()))


class Flood:
    """Hostile connections in a child process, as a context manager."""

    def __init__(self, port: int, kind: str, n: int, seconds: float, keys: list[str] = (), window: int = 1000,
                 rate: float = 2000.0) -> None:
        ctx = mp.get_context("spawn")
        self.ready = ctx.Queue()
        self.proc = ctx.Process(target=hostile, args=(port, kind, n, seconds, list(keys), window, rate, self.ready),
                                daemon=True)
        self.connections = self.answers = 0

    def __enter__(self) -> Flood:
        self.proc.start()
        self.connections = self.ready.get(timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.answers = self.ready.get(timeout=60)
        finally:
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()


# -- the honest client and the server -------------------------------------------------------------
async def honest_round_trips(port: int, key: str, seconds: float, rate: float = HONEST_RATE) -> list[float]:
    """Place + cancel, one request in flight and at most `rate` requests per second (an honest client
    stays under the rate limit), for `seconds`: the round trip of every request."""
    from clients.sdk import Client
    rtts: list[float] = []
    async with Client(port=port, api_key=key, reconnect=False, timeout=120) as c:
        start = time.perf_counter()
        deadline = start + seconds
        price = 29000
        while time.perf_counter() < deadline:
            price = 29000 + (price + 1) % 100
            t0 = time.perf_counter()
            order = await c.create_order(SYMBOL, "limit", "buy", "0.01", str(price))
            t1 = time.perf_counter()
            await c.cancel_order(order.id, SYMBOL)
            rtts += [t1 - t0, time.perf_counter() - t1]
            ahead = start + len(rtts) / rate - time.perf_counter()
            if ahead > 0:
                await asyncio.sleep(ahead)
    return rtts


def percentiles(rtts: list[float]) -> tuple[float, float]:
    ordered = sorted(rtts)
    return 1000 * ordered[len(ordered) // 2], 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def start_server(run_dir: Path, overrides: dict[str, object]) -> tuple[subprocess.Popen, int]:
    """The exchange with the shipped [server] limits of configs/server.toml (and `overrides`), no feeds."""
    with open(CONFIG_DIR / "server.toml", "rb") as fh:
        shipped = tomllib.load(fh)["server"]
    settings = {k: v for k, v in shipped.items() if k not in ("host", "port", "admin_key")}
    settings.update(heartbeat_s=3600, snapshot_every_s=3600, log_commands=False, **overrides)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = run_dir / "flood.toml"
    config.write_text(f'base = "{CONFIG_DIR / "default.toml"}"\n[server]\n'
                      + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
    proc, info = serve(config, run_dir / "run", ADMIN_KEY, "--quiet", "--log-level", "error")
    return proc, info["port"]


async def setup_market(port: int, accounts: int) -> list[str]:
    """Index 30,000, a 400-level book from two makers, and `accounts` funded accounts; their keys."""
    from clients.sdk import Client
    async with Client(port=port, api_key=ADMIN_KEY, timeout=60) as admin:
        await admin.set_index(SYMBOL, "30000")
        made = [await admin.create_account(deposit="10000000") for _ in range(accounts + 2)]
    for maker, side, base in ((made[0], "buy", 29800), (made[1], "sell", 30200)):
        async with Client(port=port, api_key=maker.api_key, timeout=60) as c:
            sign = -1 if side == "buy" else 1
            await asyncio.gather(*(c.create_order(SYMBOL, "limit", side, "0.01", str(base + sign * i))
                                   for i in range(200)))
    return [m.api_key for m in made[2:]]


async def churn(port: int, key: str, seconds: float, window: int = 32, rate: float = CHURN_RATE) -> int:
    """Keep the book busy: re-price one order up and down, `window` amends in flight, at most `rate`
    amends per second (under the rate limit); the amends made."""
    from clients.sdk import Client
    async with Client(port=port, api_key=key, timeout=60) as c:
        order = await c.create_order(SYMBOL, "limit", "buy", "0.01", "29500")
        start = time.perf_counter()
        deadline, n = start + seconds, 0
        while time.perf_counter() < deadline:
            await asyncio.gather(*(c.edit_order(order.id, SYMBOL, amount="0.01", price=str(29500 + (n + i) % 50))
                                   for i in range(window)))
            n += window
            ahead = start + n / rate - time.perf_counter()
            if ahead > 0:
                await asyncio.sleep(ahead)
        return n


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench flood")
    p.add_argument("--connections", type=int, default=100, help="hostile connections per flood")
    p.add_argument("--seconds", type=float, default=3.0, help="measured seconds per phase")
    p.add_argument("--window", type=int, default=1000, help="book queries in flight per book flooder")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a [server] setting of configs/server.toml, e.g. --set turn_ms=2")
    args = p.parse_args(argv)
    overrides = {k: json.loads(v) for k, _, v in (item.partition("=") for item in args.set)}
    n = args.connections
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_server(Path(tmp) / "flood", overrides)
        try:
            keys = asyncio.run(setup_market(port, n + 2))
            honest, churner, spam_keys = keys[0], keys[1], keys[2:]
            alone = percentiles(asyncio.run(honest_round_trips(port, honest, args.seconds)))
            for kind in KINDS:
                with Flood(port, kind, n, args.seconds + 1.0, spam_keys, args.window) as flood:
                    if kind == "nonreaders":
                        async def busy() -> list[float]:
                            rtts, _ = await asyncio.gather(honest_round_trips(port, honest, args.seconds),
                                                           churn(port, churner, args.seconds))
                            return rtts
                        under = percentiles(asyncio.run(busy()))
                    else:
                        under = percentiles(asyncio.run(honest_round_trips(port, honest, args.seconds)))
                emit("flood", round(under[1], 3), "ms", metric="honest_p99", flood=kind, connections=flood.connections,
                     p50_ms=round(under[0], 3), alone_p50_ms=round(alone[0], 3), alone_p99_ms=round(alone[1], 3),
                     p50_ratio=round(under[0] / alone[0], 2), p99_ratio=round(under[1] / alone[1], 2),
                     hostile_answers=flood.answers)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        proc, port = start_server(Path(tmp) / "rss", overrides)
        try:
            keys = asyncio.run(setup_market(port, 1))
            before = rss_bytes(proc.pid)
            with Flood(port, "nonreaders", 100, args.seconds + 2.0) as flood:
                time.sleep(0.5)
                updates = asyncio.run(churn(port, keys[0], args.seconds))
                after = rss_bytes(proc.pid)
            emit("flood", round(after / 2**20, 1), "MiB", metric="rss_100_nonreaders", connections=flood.connections,
                 rss_before_mib=round(before / 2**20, 1), rss_growth_mib=round((after - before) / 2**20, 1),
                 book_updates=updates)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    return 0
