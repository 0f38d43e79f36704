"""The issue's "done when", run as a user runs it: the shipped server config (a live agent population,
the index feed, the HTTP API), an unmodified ccxt script and an unmodified python-binance script
(docs/examples/) given only the base URL and a key pair. Both buy at market from the live agents,
report the liquidation price positionRisk gives them, and are liquidated when the admin shocks the
index: each sees its own forced order."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from .conftest import ADMIN_KEY, BTC, run

ROOT = Path(__file__).resolve().parents[2]


async def _opened(proc: asyncio.subprocess.Process) -> dict:
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    event = json.loads(line)
    assert event["event"] == "opened", event
    return event


def test_ccxt_and_python_binance_bots_trade_with_the_live_agents_and_are_liquidated(tmp_path):
    async def scenario():
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "exchange", "serve", "--config", str(ROOT / "configs" / "server.toml"),
            "--run-dir", str(tmp_path), "--port", "0", "--http-port", "0", "--admin-key", ADMIN_KEY, "--quiet",
            "--log-level", "error", cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        bots: list[asyncio.subprocess.Process] = []
        try:
            info = tmp_path / "server.json"
            deadline = time.monotonic() + 60
            while not (info.exists() and json.loads(info.read_text() or "{}").get("http_port")):
                assert server.returncode is None and time.monotonic() < deadline, "server did not start"
                await asyncio.sleep(0.05)
            base = f"http://127.0.0.1:{json.loads(info.read_text())['http_port']}"
            async with aiohttp.ClientSession() as http:
                async def admin(path: str, **params: str) -> dict:
                    async with http.post(f"{base}{path}?{urlencode(params)}", headers={"X-Admin-Key": ADMIN_KEY}) as r:
                        assert r.status == 200, await r.text()
                        return await r.json()

                while True:  # the agents quote both sides within a second or two of the start
                    async with http.get(f"{base}/fapi/v1/depth?symbol={BTC}&limit=5") as r:
                        book = await r.json()
                    if book["bids"] and book["asks"]:
                        break
                    assert time.monotonic() < deadline, "the live market has no two-sided book"
                    await asyncio.sleep(0.2)
                keys = [await admin("/admin/v1/account", deposit="100000") for _ in range(2)]
                for script, acct in (("ccxt_bot.py", keys[0]), ("python_binance_bot.py", keys[1])):
                    bots.append(await asyncio.create_subprocess_exec(
                        sys.executable, str(ROOT / "docs" / "examples" / script), "--url", base, "--key",
                        acct["apiKey"], "--secret", acct["secretKey"], "--leverage", "20", "--wait", "60",
                        cwd=ROOT, stdout=asyncio.subprocess.PIPE))
                ccxt_open, binance_open = [await _opened(b) for b in bots]
                assert ccxt_open["filled"] == 0.05 and ccxt_open["marginMode"] == "isolated"
                assert binance_open["status"] == "FILLED" and binance_open["marginType"] == "isolated"
                for opened, key in ((ccxt_open, "average"), (binance_open, "avgPrice")):
                    liq, entry = float(opened["liquidationPrice"]), float(opened["entryPrice"])
                    assert abs(float(opened[key]) - entry) < 1e-6 and 0.94 * entry < liq < 0.97 * entry, opened
                async with http.get(f"{base}/fapi/v1/premiumIndex?symbol={BTC}") as r:
                    index = float((await r.json())["indexPrice"])
                assert abs(entry / index - 1) < 0.01  # bought from the agents near the index
                await admin("/admin/v1/shock", symbol=BTC, pct="-10", seconds="2")
                for bot in bots:
                    line = await asyncio.wait_for(bot.stdout.readline(), 60)
                    event = json.loads(line)
                    assert event["event"] == "liquidated", event
                    (forced,) = event["forceOrders"]
                    assert (forced["side"], forced["origQty"], forced["status"]) == ("SELL", "0.050", "FILLED"), forced
                    assert await bot.wait() == 0
        finally:
            for bot in bots:
                if bot.returncode is None:
                    bot.kill()
            server.terminate()
            await server.wait()
    run(scenario(), timeout=180)
