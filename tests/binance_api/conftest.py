"""A live exchange with its Binance-compatible HTTP API on 127.0.0.1, and clients for it: raw signed
requests (for bad input), ccxt and python-binance pointed at it by URL only (as docs/binance-api.md
shows)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from exchange.config import CONFIG_DIR, parse_config, with_venue
from exchange.runtime.app import ExchangeService, ServeOptions, load_server_config
from exchange.runtime.http.api import HttpOptions
from exchange.runtime.logcfg import configure_logging

ADMIN_KEY = "test-admin-key-0123456789"
BTC = "BTCUSDT"
ETH = "ETHUSDT"

configure_logging("error")


def run(coro: Any, timeout: float = 60.0) -> Any:
    """Run a test coroutine on a fresh loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@contextlib.asynccontextmanager
async def http_service(run_dir: Path, instruments: dict[str, dict] | None = None, venue: str | None = None,
                       collateral: dict[str, dict] | None = None, **http: Any) -> AsyncIterator[ExchangeService]:
    """An exchange service with the HTTP API, both on free ports, no index feeds (tests set the index);
    `instruments` overrides instrument fields (e.g. {"BTCUSDT": {"mark_method": "index"}}); `venue`: the
    server config with `venue = VENUE` (configs/venues/); `collateral`: its [collateral.NAME] tables."""
    config, raw = load_server_config(CONFIG_DIR / "server.toml")
    raw = {**raw, "feeds": {}}
    if venue:
        raw = with_venue(raw, venue)
    if instruments:
        raw["instruments"] = {s: {**cfg, **instruments.get(s, {})} for s, cfg in raw["instruments"].items()}
    if collateral:
        raw["collateral"] = collateral
    if venue or instruments or collateral:
        config = parse_config(raw)
    opts = ServeOptions(port=0, admin_key=ADMIN_KEY, log_commands=False, heartbeat_s=3600.0, snapshot_every_s=3600.0,
                        http=HttpOptions(port=0, **http), agents=False)
    svc = ExchangeService(config, raw, run_dir, opts)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


def base_url(svc: ExchangeService) -> str:
    return f"http://127.0.0.1:{svc.http_port}"


class Rest:
    """Plain aiohttp requests: public, signed the Binance way (or deliberately not), and admin."""

    def __init__(self, svc: ExchangeService, session: aiohttp.ClientSession) -> None:
        self.base = base_url(svc)
        self.session = session

    async def call(self, method: str, path: str, params: dict | None = None, headers: dict | None = None,
                   body: str | None = None, query: str | None = None) -> tuple[int, Any]:
        url = self.base + path + ("?" + (query if query is not None else urlencode(params or {})) if query or params else "")
        async with self.session.request(method, URL(url, encoded=True), headers=headers or {}, data=body) as r:
            text = await r.text()
            return r.status, json.loads(text) if text else None

    async def public(self, path: str, **params: Any) -> tuple[int, Any]:
        return await self.call("GET", path, params)

    async def admin(self, path: str, key: str = ADMIN_KEY, **params: Any) -> tuple[int, Any]:
        return await self.call("POST", path, params, headers={"X-Admin-Key": key})

    async def account(self, deposit: str = "100000") -> dict[str, Any]:
        status, body = await self.admin("/admin/v1/account", deposit=deposit)
        assert status == 200, body
        return body

    async def signed(self, method: str, path: str, key: str, secret: str, in_body: bool = False,
                     timestamp: int | None = None, **params: Any) -> tuple[int, Any]:
        params = {**params, "timestamp": timestamp if timestamp is not None else int(time.time() * 1000)}
        query = urlencode(params)
        sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        signed = f"{query}&signature={sig}"
        headers = {"X-MBX-APIKEY": key}
        if in_body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return await self.call(method, path, headers=headers, body=signed)
        return await self.call(method, path, headers=headers, query=signed)

    async def index(self, symbol: str, price: str) -> None:
        status, body = await self.admin("/admin/v1/index", symbol=symbol, price=price)
        assert status == 200, body


def point_ccxt(exchange: Any, base: str) -> Any:
    """The docs' snippet: every REST URL of the exchange object moves to `base`, its path kept; the
    WebSocket URLs (ccxt.pro) to base's /ws."""
    for name, url in exchange.urls["api"].items():
        if isinstance(url, str):
            exchange.urls["api"][name] = base + url[url.index("/", 8):]
    if "ws" in exchange.urls["api"]:
        exchange.urls["api"]["ws"]["linear"] = base.replace("http", "ws", 1) + "/ws"
    return exchange


async def wait_for(predicate: Any, timeout: float = 5.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)
