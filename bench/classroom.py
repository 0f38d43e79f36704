"""Classroom benchmark: `python -m bench classroom [--students 30] [--seconds 10] [--orders-per-s 10] [--population]`.

What 30 browsers and the projector cost the server. `python -m exchange classroom` runs as its own
process; this one opens the pages' WebSocket feeds (each message read and parsed, as a page does) and
sends the students' orders over the game's JSON API. The server's CPU (user + system time of its
process, in % of one core) is measured over each phase, in this order:

- `idle_no_pages`: the game running, nobody connected (the reference);
- `idle_pages`: 30 student feeds and the projector's connected, nobody trading;
- `trading_pages`: the same, with the students trading (`--orders-per-s` orders in all: half of the
  students quote limit orders around the mark, the others send market orders);
- `trading_no_pages`: the same trading with the feeds closed.

With `--population` the classroom scenario's background market trades all along (the pages then
follow a busier book). Reported: CPU % per phase, the ratios idle_pages / idle_no_pages and trading_pages / trading_no_pages
(the claims: this machine's speed drifts), and what one page receives (messages and bytes per second).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.__main__ import emit
from exchange.config import CONFIG_DIR

ADMIN_KEY = "bench-classroom-admin-key"
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def game_file(run_dir: Path, students: int, population: bool) -> Path:
    path = run_dir / "bench-game.toml"
    path.write_text(f'base = "{CONFIG_DIR / "default.toml"}"\n[server]\nsnapshot_every_s = 3600\n'
                    '[feeds.BTCUSDT]\nkind = "gbm"\nprice = "60000"\nvolatility = 0.3\nseed = 3\n'
                    + ('[population]\nscenario = "classroom"\n' if population else '[population]\nenabled = false\n') +
                    f'[game]\nname = "Bench"\nmax_leverage = 20\nduration_min = 600\n[game.roster]\ncount = {students}\n'
                    'teams = ["A", "B", "C"]\n')
    return path


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


class Feeds:
    """The pages' WebSockets: each message is parsed, as a page's script does."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.tasks: list[asyncio.Task] = []

    async def open(self, session: aiohttp.ClientSession, url: str) -> None:
        ws = await session.ws_connect(url, max_msg_size=0)

        async def read() -> None:
            async for msg in ws:
                self.messages += 1
                self.bytes += len(msg.data)
                json.loads(msg.data)
        self.sockets.append(ws)
        self.tasks.append(asyncio.get_running_loop().create_task(read()))

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.sockets, self.tasks = [], []


async def trade(session: aiohttp.ClientSession, base: str, logins: list[str], rate: float, seconds: float) -> int:
    """Orders at `rate` per second for `seconds`: quoters rest limit orders near the mark (cancelling
    their old ones), takers send small market orders; returns how many were answered 200."""
    rng = random.Random(7)
    ok = 0
    quoters = logins[: len(logins) // 2]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        login = rng.choice(logins)
        headers = {"X-Game-Login": login}
        if login in quoters:
            async with session.post(f"{base}/game/api/cancel", json={"symbol": "BTCUSDT"}, headers=headers) as r:
                await r.read()
            async with session.get(f"{base}/fapi/v1/premiumIndex?symbol=BTCUSDT") as r:
                mark = float((await r.json())["markPrice"])
            side = rng.choice(["buy", "sell"])
            price = round(mark * (1 - 0.0005 if side == "buy" else 1 + 0.0005), 1)
            body = {"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "qty": "0.050", "price": f"{price:.1f}"}
        else:
            body = {"symbol": "BTCUSDT", "side": rng.choice(["buy", "sell"]), "type": "MARKET", "qty": "0.010"}
        async with session.post(f"{base}/game/api/order", json=body, headers=headers) as r:
            ok += r.status == 200
            await r.read()
        await asyncio.sleep(1 / rate)
    return ok


async def phases(pid: int, base: str, logins: list[str], seconds: float, rate: float) -> dict[str, float]:
    out: dict[str, float] = {}
    feeds = Feeds()
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/game/admin/start", headers={"X-Admin-Key": ADMIN_KEY}) as r:
            assert r.status == 200, await r.text()

        async def measure(name: str, work) -> None:
            t0, m0, b0 = cpu_seconds(pid), feeds.messages, feeds.bytes
            w0 = time.monotonic()
            answered = await work
            wall = time.monotonic() - w0
            out[f"{name}_orders_per_s"] = (answered or 0) / wall
            out[name] = 100 * (cpu_seconds(pid) - t0) / wall
            out[f"{name}_page_msgs_per_s"] = (feeds.messages - m0) / wall / max(1, len(feeds.sockets))
            out[f"{name}_page_bytes_per_s"] = (feeds.bytes - b0) / wall / max(1, len(feeds.sockets))

        settle = min(2.0, seconds)  # the game started; the pages' first messages sent
        await asyncio.sleep(settle)
        await measure("idle_no_pages", asyncio.sleep(seconds))
        ws = base.replace("http", "ws", 1) + "/game/ws"
        for login in logins:
            await feeds.open(session, f"{ws}?login={login}")
        await feeds.open(session, ws)  # the projector
        await asyncio.sleep(settle)
        await measure("idle_pages", asyncio.sleep(seconds))
        await measure("trading_pages", trade(session, base, logins, rate, seconds))
        await feeds.close()
        await measure("trading_no_pages", trade(session, base, logins, rate, seconds))
    return out


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench classroom")
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--orders-per-s", type=float, default=10.0)
    p.add_argument("--population", action="store_true",
                   help="with the classroom scenario's background market (92 agents) trading all along")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        http_port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "exchange", "classroom", str(game_file(run_dir, args.students, args.population)),
                                 "--run-dir", str(run_dir / "run"), "--host", "127.0.0.1", "--port", "0",
                                 "--http-port", str(http_port), "--admin-key", ADMIN_KEY, "--quiet",
                                 "--log-level", "error"], stdout=subprocess.PIPE, text=True)
        try:
            logins = []
            assert proc.stdout is not None
            for line in proc.stdout:
                parts = line.split()
                if len(parts) >= 3 and parts[-1].count("-") == 1 and len(parts[-1]) == 9 and parts[0] == "Student":
                    logins.append(parts[-1])
                if len(logins) == args.students:
                    break
            result = asyncio.run(phases(proc.pid, f"http://127.0.0.1:{http_port}", logins, args.seconds,
                                        args.orders_per_s))
        finally:
            proc.terminate()
            proc.wait(30)
    for name in ("idle_no_pages", "idle_pages", "trading_pages", "trading_no_pages"):
        emit(f"classroom_cpu_{name}", round(result[name], 2), "% of one core", students=args.students,
             population=args.population,
             pages=args.students + 1 if "no_pages" not in name else 0,
             orders_per_s=round(result[f"{name}_orders_per_s"], 1),
             page_msgs_per_s=round(result[f"{name}_page_msgs_per_s"], 2),
             page_bytes_per_s=round(result[f"{name}_page_bytes_per_s"]))
    emit("classroom_cpu_ratio_idle", round(result["idle_pages"] / max(result["idle_no_pages"], 0.01), 2),
         "x (31 pages connected / none, idle)")
    emit("classroom_cpu_ratio_trading", round(result["trading_pages"] / max(result["trading_no_pages"], 0.01), 2),
         "x (31 pages connected / none, trading)")
