"""`python -m bench gateway [--clients 100,1000] [--seconds 2.5] [--window 16] [--repeats 2]`: the msgpack
gateway as a ratio against a bare msgpack echo server, both driven by the same C load generator.

The exchange under test is a real `python -m exchange serve` process (temporary run dir, journal on
disk, rate limits lifted) with one account per client logged in and a maker's resting bids and asks
around 30,000. The reference is a bare echo server: an asyncio Protocol in its own process on the
same event loop type as the server (uvloop when importable, as `exchange serve` does), decoding each
msgpack frame and answering {type: result, id, result: the request} re-encoded with the same framing.

The load is bench/loadgen.c, compiled here with the system C compiler (cc/gcc) into a temporary
directory: one epoll loop, every connection logged in, then WINDOW requests in flight per connection,
each slot placing a resting limit order, cancelling it by the order_id answered, placing again. The
first --warmup seconds go unmeasured, and at least until every slot's first request is answered
(the server's first drain of 16,000 requests can take seconds); then at least --seconds are
measured, and until every slot has had two answers, so bursts seconds apart are measured whole.
The open orders are cancelled at the end, so the book stays bounded. Modes: request_response (1 in
flight per client) and pipelined (--window).

For each client count and mode the exchange and the echo server are run back to back (which goes
first alternates), --repeats times; the ratio (value) is the median of exchange requests/s / echo
requests/s over those pairs; the latencies are the last pair's. generator_cpu is the generator's own
CPU time over the measured time (the most of any run in the line): well below 1.0 it waits on the
server, not the other way round. gateway.generator reports the best echo rate the generator reached:
below 80,000 requests/s the ratios would measure the clients, not the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import msgpack

from bench.__main__ import emit
from bench.server import serve
from exchange.config import CONFIG_DIR

ADMIN_KEY = "bench-gateway-admin-key"
SYMBOL = "BTCUSDT"
LOADGEN = Path(__file__).with_name("loadgen.c")
GENERATOR_FLOOR = 80_000  # echo requests/s the generator must reach for the ratios to mean something


def event_loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine on the loop `exchange serve` would use: uvloop when importable."""
    if event_loop_name() == "uvloop":
        import uvloop
        uvloop.run(main)
    else:
        asyncio.run(main)


# -- the echo server ----------------------------------------------------------------------------
class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.unpacker = msgpack.Unpacker(raw=False, max_buffer_size=1 << 20)
        self.packer = msgpack.Packer()
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.unpacker.feed(data)
        pack = self.packer.pack
        out = [pack({"type": "result", "id": msg.get("id"), "result": msg}) for msg in self.unpacker]
        if out:
            self.transport.write(b"".join(out))


def echo_server(port_queue: mp.Queue) -> None:
    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(EchoProtocol, "127.0.0.1", 0, backlog=4096)
        port_queue.put(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()
    run_loop(serve())


# -- the load generator -------------------------------------------------------------------------
def compile_loadgen(out_dir: Path) -> Path | None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    binary = out_dir / "loadgen"
    subprocess.run([cc, "-O2", "-o", str(binary), str(LOADGEN)], check=True)
    return binary


def run_loadgen(binary: Path, port: int, clients: int, window: int, warmup: float, seconds: float,
                keys: Path) -> dict:
    out = subprocess.run([str(binary), str(port), str(clients), str(window), str(warmup), str(seconds), str(keys),
                          SYMBOL], capture_output=True, text=True, timeout=warmup + seconds + 180)
    if out.returncode:
        raise RuntimeError(f"the load generator failed ({out.returncode}): {out.stderr.strip()}")
    return json.loads(out.stdout)


# -- the exchange under test --------------------------------------------------------------------
def start_exchange(run_dir: Path, profile_to: str | None = None) -> tuple[subprocess.Popen, int]:
    config = run_dir / "bench.toml"
    config.write_text(f'base = "{CONFIG_DIR / "default.toml"}"\n[server]\nheartbeat_s = 3600\n'
                      "snapshot_every_s = 3600\nrate_limit_per_s = 1e9\nrate_burst = 1e9\n")
    profiler = ("-m", "cProfile", "-o", profile_to) if profile_to else ()
    proc, info = serve(config, run_dir / "run", ADMIN_KEY, "--quiet", "--log-level", "error", interpreter_args=profiler)
    return proc, info["port"]


async def prepare_exchange(port: int, clients: int) -> list[str]:
    """Index at 30,000, a maker's resting bids 29,900..29,990 and asks 30,010..30,100, one funded account
    per client; returns the clients' API keys."""
    from clients.sdk import Client
    async with Client(port=port, api_key=ADMIN_KEY, timeout=60) as admin:
        await admin.set_index(SYMBOL, "30000")
        maker = await admin.create_account(deposit="100000000")
        made = await asyncio.gather(*(admin.create_account(deposit="10000000") for _ in range(clients)))
    async with Client(port=port, api_key=maker.api_key, timeout=60) as m:
        for i in range(10):
            await m.create_order(SYMBOL, "limit", "buy", "0.1", str(29_900 + 10 * i))
            await m.create_order(SYMBOL, "limit", "sell", "0.1", str(30_010 + 10 * i))
    return [a.api_key for a in made]


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def report(mode: str, clients: int, window: int, pairs: list[tuple[dict, dict]]) -> float:
    """One result line from (exchange, echo) runs; returns the best echo rate among them."""
    ratios = [x["requests_per_s"] / e["requests_per_s"] for x, e in pairs]
    exchange, echo = [x for x, _ in pairs], [e for _, e in pairs]
    emit(f"gateway.{mode}", round(statistics.median(ratios), 3), "x echo", clients=clients, window=window,
         requests_per_s=round(statistics.median(x["requests_per_s"] for x in exchange)),
         orders_per_s=round(statistics.median(x["places"] / x["elapsed_s"] for x in exchange)),
         echo_requests_per_s=round(statistics.median(e["requests_per_s"] for e in echo)),
         ratio_min=round(min(ratios), 3), ratio_max=round(max(ratios), 3),
         p50_us=exchange[-1]["p50_us"], p99_us=exchange[-1]["p99_us"],
         echo_p50_us=echo[-1]["p50_us"], echo_p99_us=echo[-1]["p99_us"],
         errors=sum(x["errors"] for x in exchange), undrained=sum(x["undrained"] for x in exchange),
         generator_cpu=round(max(r["cpu_share"] for r in exchange + echo), 2), repeats=len(pairs),
         loop=event_loop_name(), cores=os.cpu_count())
    return max(e["requests_per_s"] for e in echo)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench gateway")
    p.add_argument("--clients", default="100,1000", help="comma-separated client counts")
    p.add_argument("--seconds", type=float, default=2.5, help="measured seconds per run")
    p.add_argument("--window", type=int, default=16, help="requests in flight per client when pipelined (<= 254)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each measured run")
    p.add_argument("--repeats", type=int, default=2, help="exchange/echo pairs per client count and mode")
    p.add_argument("--profile-server", metavar="FILE", help="run the exchange under cProfile, stats to FILE")
    args = p.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 1,000 clients: servers and generator
    with tempfile.TemporaryDirectory() as tmp:
        binary = compile_loadgen(Path(tmp))
        if binary is None:
            print("gateway: no C compiler (cc or gcc) on PATH, which the load generator needs "
                  "(apt-get install gcc); skipped", file=sys.stderr)
            return 0
        ctx = mp.get_context("spawn")
        port_queue = ctx.Queue()
        echo = ctx.Process(target=echo_server, args=(port_queue,), daemon=True)
        echo.start()
        echo_port = port_queue.get(timeout=60)
        proc, port = start_exchange(Path(tmp), args.profile_server)
        best_echo = 0.0
        try:
            keys = Path(tmp) / "keys.txt"
            keys.write_text("\n".join(asyncio.run(prepare_exchange(port, max(counts)))) + "\n")
            for n in counts:
                for mode, window in (("request_response", 1), ("pipelined", args.window)):
                    pairs = []
                    for rep in range(args.repeats):  # which one goes first alternates
                        order = (port, echo_port) if rep % 2 == 0 else (echo_port, port)
                        runs = {to: run_loadgen(binary, to, n, window, args.warmup, args.seconds, keys) for to in order}
                        pairs.append((runs[port], runs[echo_port]))
                    best_echo = max(best_echo, report(mode, n, window, pairs))
        finally:
            stop(proc)
            echo.kill()
        emit("gateway.generator", round(best_echo), "requests/s", floor=GENERATOR_FLOOR,
             ok=best_echo >= GENERATOR_FLOOR, loop=event_loop_name(),
             note="the best echo rate the C load generator reached in this run; below the floor the ratios "
                  "measure the clients")
    return 0
