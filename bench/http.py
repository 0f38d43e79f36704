"""HTTP benchmark: `python -m bench http [--clients 1,32] [--seconds 3] [--workers 2]`.

The request rate the Binance-compatible REST layer sustains, beside the msgpack gateway measured in the
same run against the same server (the ratio is the claim; this machine's speed drifts). Three loads,
each from `--workers` separate processes, request/response (one request in flight per client):

- `signed_orders`: signed POST /fapi/v1/order (a limit order) then signed DELETE /fapi/v1/order
  (its cancel), HMAC-SHA256 per request, keep-alive connections;
- `public_depth`: GET /fapi/v1/depth?symbol=BTCUSDT&limit=5;
- `msgpack_orders`: the gateway's place + cancel (bench/gateway.py's load client).

Reported per load and client count: acknowledged requests per second, p50/p99 round trip, errors,
and the ratio of each HTTP rate to the msgpack rate of the same client count.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import multiprocessing as mp
import os
import signal
import subprocess
import tempfile
import time
from array import array
from pathlib import Path
from urllib.parse import urlencode

from bench.__main__ import emit
from bench.pyload import latency_ms, run_load, run_workers
from bench.server import serve
from exchange.config import CONFIG_DIR

ADMIN_KEY = "bench-admin-key-0123"
SYMBOL = "BTCUSDT"


def start_exchange(run_dir: Path) -> tuple[subprocess.Popen, int, int]:
    config = run_dir / "bench.toml"
    config.write_text(f'base = "{CONFIG_DIR / "default.toml"}"\n[server]\nheartbeat_s = 3600\nsnapshot_every_s = 3600\n'
                      "rate_limit_per_s = 1e9\nrate_burst = 1e9\n"
                      "[http]\nenabled = true\nport = 0\nrate_limit_per_s = 1e9\nrate_burst = 1e9\nmax_pending = 1000000\n")
    proc, info = serve(config, run_dir / "run", ADMIN_KEY, "--quiet", "--log-level", "error")
    return proc, info["port"], info["http_port"]


async def create_accounts(http_port: int, n: int) -> list[tuple[str, str]]:
    import aiohttp
    base = f"http://127.0.0.1:{http_port}"
    headers = {"X-Admin-Key": ADMIN_KEY}
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{base}/admin/v1/index", data={"symbol": SYMBOL, "price": "30000"}, headers=headers) as r:
            assert r.status == 200, await r.text()
        pairs = []
        for _ in range(n):
            async with s.post(f"{base}/admin/v1/account", data={"deposit": "10000000"}, headers=headers) as r:
                body = await r.json()
                pairs.append((body["apiKey"], body["secretKey"]))
    return pairs


def _signed(params: dict, secret: str) -> str:
    query = urlencode({**params, "timestamp": int(time.time() * 1000)})
    return f"{query}&signature={hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()}"


def http_worker(port: int, creds: list[tuple[str, str]], load: str, seconds: float, ready: mp.Queue, go: mp.Event,
                results: mp.Queue) -> None:
    import aiohttp
    from yarl import URL

    base = f"http://127.0.0.1:{port}"
    stats = {"requests": 0, "errors": 0}
    rtts = array("d")

    async def client(session: aiohttp.ClientSession, key: str, secret: str, n: int, stop: list[bool]) -> None:
        headers = {"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"}
        price = 29000 + n % 500
        while not stop[0]:
            t0 = time.perf_counter()
            if load == "public_depth":
                async with session.get(f"{base}/fapi/v1/depth?symbol={SYMBOL}&limit=5") as r:
                    ok = r.status == 200
                    await r.read()
            else:
                price = 29000 + (price + 1) % 500
                body = _signed({"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                "quantity": "0.01", "price": f"{price}.0"}, secret)
                async with session.post(f"{base}/fapi/v1/order", data=body, headers=headers) as r:
                    order = await r.json()
                    ok = r.status == 200
                rtts.append(time.perf_counter() - t0)
                stats["requests" if ok else "errors"] += 1
                if not ok:
                    continue
                t0 = time.perf_counter()
                query = _signed({"symbol": SYMBOL, "orderId": order["orderId"]}, secret)
                async with session.delete(URL(f"{base}/fapi/v1/order?{query}", encoded=True), headers=headers) as r:
                    ok = r.status == 200
                    await r.read()
            rtts.append(time.perf_counter() - t0)
            stats["requests" if ok else "errors"] += 1

    async def drive() -> None:
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            stop = [False]
            ready.put(len(creds))
            while not go.is_set():
                await asyncio.sleep(0.005)
            t0 = time.perf_counter()
            tasks = [asyncio.ensure_future(client(session, k, s, i, stop)) for i, (k, s) in enumerate(creds)]
            await asyncio.sleep(seconds)
            stop[0] = True
            elapsed = time.perf_counter() - t0
            results.put({**stats, "elapsed": elapsed, "rtts": rtts.tobytes()})
            await asyncio.gather(*tasks, return_exceptions=True)
    asyncio.run(drive())


def run_http_load(port: int, creds: list[tuple[str, str]], load: str, seconds: float, workers: int) -> dict:
    n = min(workers, len(creds))
    parts, elapsed = run_workers(http_worker, [(port, creds[i::n], load, seconds) for i in range(n)], seconds)
    return {"requests_per_s": sum(p["requests"] for p in parts) / elapsed, "errors": sum(p["errors"] for p in parts),
            **{k: v or 0.0 for k, v in latency_ms(parts).items()}}



def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench http")
    p.add_argument("--clients", default="1,32", help="comma-separated client counts")
    p.add_argument("--seconds", type=float, default=3.0, help="measured seconds per load")
    p.add_argument("--workers", type=int, default=2, help="load-generating processes")
    args = p.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]
    mp.set_start_method("fork", force=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, http_port = start_exchange(Path(tmp))
        try:
            creds = asyncio.run(create_accounts(http_port, max(counts)))
            for n in counts:
                gateway = run_load(port, [k for k, _ in creds[:n]], 1, args.seconds, args.workers)
                emit("http", round(gateway["requests_per_s"]), "requests/s", load="msgpack_orders", clients=n,
                     p50_ms=round(gateway["p50_ms"], 3), p99_ms=round(gateway["p99_ms"], 3), errors=gateway["errors"],
                     cores=os.cpu_count(), workers=args.workers)
                for load in ("signed_orders", "public_depth"):
                    r = run_http_load(http_port, creds[:n], load, args.seconds, args.workers)
                    emit("http", round(r["requests_per_s"]), "requests/s", load=load, clients=n,
                         p50_ms=round(r["p50_ms"], 3), p99_ms=round(r["p99_ms"], 3), errors=r["errors"],
                         ratio_to_msgpack=round(r["requests_per_s"] / gateway["requests_per_s"], 3),
                         cores=os.cpu_count(), workers=args.workers)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    return 0
