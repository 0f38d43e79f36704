"""A live classroom game on 127.0.0.1 (the exchange, its HTTP layer and the game, in-process), a
market maker standing in for the background population, and JSON clients for students and the
teacher."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from exchange.config import CONFIG_DIR
from exchange.core.commands import BUY, SELL, CancelAll, CreateAccount, Deposit, PlaceOrder
from exchange.core.money import CASH_SCALE
from exchange.runtime.app import ServeOptions
from exchange.runtime.classroom.cli import ClassroomService, load_game
from exchange.runtime.http.api import HttpOptions
from exchange.runtime.logcfg import configure_logging

ADMIN_KEY = "teacher-admin-key-for-tests"
BTC = "BTCUSDT"
MAKER = 900_000

configure_logging("error")

GAME = f"""
base = "{CONFIG_DIR / 'default.toml'}"
[instruments.BTCUSDT]
mark_basis_window_seconds = 3  # the mark follows the index within 3 s (300 by default): a test's shock acts quickly
[feeds.BTCUSDT]
kind = "static"
price = "60000"
interval_s = 0.2
[game]
name = "Test game"
symbols = ["BTCUSDT"]
duration_min = 30
starting_cash = "10000"
max_leverage = 25
join_code = "JOIN-ME"
[game.roster]
students = [{{ name = "Ada", team = "Red" }}, {{ name = "Bob", team = "Blue" }}]
[[game.events]]
at_min = 20
news = "Scripted news"
shock_pct = -5
over_s = 0
"""


def run(coro: Any, timeout: float = 60.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def write_game(tmp_path: Path, text: str = GAME) -> Path:
    path = tmp_path / "game.toml"
    path.write_text(text)
    return path


@contextlib.asynccontextmanager
async def classroom(tmp_path: Path, text: str = GAME, run_dir: Path | None = None,
                    speed: float = 1.0) -> AsyncIterator[ClassroomService]:
    config, raw, game = load_game(write_game(tmp_path, text))
    opts = ServeOptions(port=0, admin_key=ADMIN_KEY, log_commands=False, heartbeat_s=3600.0, snapshot_every_s=3600.0,
                        speed=speed, http=HttpOptions(port=0))
    svc = ClassroomService(config, raw, run_dir or tmp_path / "run", opts, game, tmp_path)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


async def until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def quote(svc: ClassroomService, levels: int = 20, qty_lots: int = 2000) -> int:
    """The maker's ladder around the index (as far as the price band around the mark lets it):
    `levels` bids and asks 0.1% apart, qty_lots each, its previous quotes cancelled first; returns the
    index it quoted for."""
    ex = svc.exchange
    market = ex.markets[BTC]
    mark = market.mark or market.index
    wanted = market.index
    index = min(max(wanted, mark * 96 // 100), mark * 104 // 100)
    cmds: list = [] if MAKER in ex.accounts else [CreateAccount(MAKER), Deposit(MAKER, 10**9 * CASH_SCALE)]
    cmds.append(CancelAll(MAKER, BTC))
    for i in range(1, levels + 1):
        step = index * i // 1000
        cmds += [PlaceOrder(MAKER, BTC, BUY, qty_lots, index - step), PlaceOrder(MAKER, BTC, SELL, qty_lots, index + step)]
    done = asyncio.get_running_loop().create_future()
    svc.sequencer.submit(cmds, "test", done.set_result)
    await done
    return wanted if index == wanted else -1


@contextlib.asynccontextmanager
async def market_maker(svc: ClassroomService) -> AsyncIterator[None]:
    """A market maker standing in for the background population: it quotes around the index and
    re-quotes whenever the index moves (so the mark follows an index shock, as on a live market)."""
    await until(lambda: svc.exchange.markets[BTC].index)
    quoted = await quote(svc)

    async def follow() -> None:
        nonlocal quoted
        while True:
            await asyncio.sleep(0.05)
            if svc.exchange.markets[BTC].index != quoted:  # moved, or not reached yet (-1)
                quoted = await quote(svc)
    task = asyncio.get_running_loop().create_task(follow())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Client:
    """JSON calls as a page makes them: a student's (X-Game-Login) or the teacher's (X-Admin-Key)."""

    def __init__(self, svc: ClassroomService, session: aiohttp.ClientSession, login: str = "", key: str = "") -> None:
        self.base = f"http://127.0.0.1:{svc.http_port}"
        self.session = session
        self.headers = {"X-Game-Login": login} if login else {"X-Admin-Key": key} if key else {}

    async def post(self, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else json.dumps(body or {}).encode()
        async with self.session.post(self.base + path, data=data, headers=self.headers) as r:
            return r.status, await r.json(content_type=None)

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.base + path, headers=self.headers) as r:
            return r.status, await r.text()


def login_of(svc: ClassroomService, name: str) -> str:
    assert svc.game is not None
    return next(s.login for s in svc.game.roster.students.values() if s.name == name)
