"""The journal cannot be written (RLIMIT_FSIZE on a real server process): the HTTP answer of the command
caught in that batch is held until its record is on file, every other HTTP request is refused with
-1008 (503) meanwhile, and when the file can grow again the held answer goes out and trading resumes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from .conftest import ADMIN_KEY, BTC

REPO = Path(__file__).resolve().parents[2]


def start(tmp_path: Path) -> tuple[subprocess.Popen, int, Path]:
    run_dir = tmp_path / "run"
    config = tmp_path / "server.toml"
    config.write_text(f'base = "{REPO / "configs" / "default.toml"}"\n[server]\nheartbeat_s = 3600\n'
                      'snapshot_every_s = 3600\n[http]\nenabled = true\nport = 0\n')
    proc = subprocess.Popen([sys.executable, "-m", "exchange", "serve", "--config", str(config), "--run-dir",
                             str(run_dir), "--port", "0", "--admin-key", ADMIN_KEY, "--quiet", "--log-level", "error"],
                            cwd=REPO, stderr=subprocess.PIPE, text=True)
    info = run_dir / "server.json"
    deadline = time.monotonic() + 60
    while not info.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    return proc, json.loads(info.read_text())["http_port"], run_dir / "journal.msgpack"


def test_http_answers_wait_for_the_journal_and_requests_are_refused_while_it_fails(tmp_path):
    proc, port, journal = start(tmp_path)
    base = f"http://127.0.0.1:{port}"
    fsize = resource.prlimit(proc.pid, resource.RLIMIT_FSIZE)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            async def admin(path: str, **params: str) -> dict:
                async with http.post(f"{base}{path}?{urlencode(params)}", headers={"X-Admin-Key": ADMIN_KEY}) as r:
                    assert r.status == 200, await r.text()
                    return await r.json()

            async def order(acct: dict, price: str) -> tuple[int, dict]:
                query = urlencode({"symbol": BTC, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                   "quantity": "0.01", "price": price, "timestamp": int(time.time() * 1000)})
                sig = hmac.new(acct["secretKey"].encode(), query.encode(), hashlib.sha256).hexdigest()
                async with http.post(f"{base}/fapi/v1/order?{query}&signature={sig}",
                                     headers={"X-MBX-APIKEY": acct["apiKey"]}) as r:
                    return r.status, await r.json()

            await admin("/admin/v1/index", symbol=BTC, price="30000")
            alice, bob = [await admin("/admin/v1/account", deposit="100000") for _ in range(2)]
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (journal.stat().st_size, fsize[1]))
            held = asyncio.ensure_future(order(alice, "29000"))
            await asyncio.sleep(0.5)
            assert not held.done(), "answered before its journal record was written"
            status, body = await order(bob, "29001")
            assert (status, body["code"]) == (503, -1008), body
            async with http.get(f"{base}/fapi/v1/depth?symbol={BTC}") as r:
                assert r.status == 503 and (await r.json())["code"] == -1008
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, fsize)
            status, body = await asyncio.wait_for(held, 10)
            assert (status, body["status"]) == (200, "NEW"), body
            status, body = await order(bob, "29002")
            assert (status, body["status"]) == (200, "NEW"), body

    try:
        asyncio.run(asyncio.wait_for(scenario(), 60))
        assert proc.poll() is None, "the server died"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert err.count('"journal flush failed"') == 1, err
