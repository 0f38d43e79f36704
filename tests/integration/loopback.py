"""Helpers for the loopback tests: an exchange service on 127.0.0.1 (in-process or a real server
process) and funded clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import structlog

from clients.sdk import Client
from exchange.config import CONFIG_DIR, parse_config
from exchange.runtime.app import ExchangeService, ServeOptions, load_server_config
from exchange.runtime.logcfg import configure_logging
from exchange.wire.codec import Decoder, encode

ADMIN_KEY = "test-admin-key-0123456789"
SYMBOL = "BTCUSDT"
REPO = Path(__file__).resolve().parents[2]

configure_logging("error")


def run(coro, timeout: float = 60.0):
    """Run a test coroutine on a fresh loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@contextlib.asynccontextmanager
async def service(run_dir: Path, feeds: dict | None = None, population: dict | None = None,
                  collateral: dict | None = None, **options) -> AsyncIterator[ExchangeService]:
    """An exchange service on a free port, without index feeds or agents unless given (tests set the
    index); `collateral`: the config's [collateral.NAME] tables."""
    config, raw = load_server_config(CONFIG_DIR / "server.toml")
    raw = {**raw, "feeds": feeds or {}, "population": population or {"enabled": False}}
    if collateral:
        raw["collateral"] = collateral
        config = parse_config(raw)
    opts = {"port": 0, "admin_key": ADMIN_KEY, "log_commands": False, "heartbeat_s": 3600.0,
            "snapshot_every_s": 3600.0, **options}
    svc = ExchangeService(config, raw, run_dir, ServeOptions(**opts))
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


def start_server(run_dir: Path, config: Path, *extra: str, **popen) -> tuple[subprocess.Popen, int]:
    """`python -m exchange serve` as a real process on a free port; returns it and its port."""
    info = run_dir / "server.json"
    info.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "exchange", "serve", "--config", str(config), "--run-dir",
                             str(run_dir), "--port", "0", "--admin-key", ADMIN_KEY, "--quiet", "--log-level", "error",
                             *extra], cwd=REPO, **popen)
    deadline = time.monotonic() + 20
    while not info.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    return proc, json.loads(info.read_text())["port"]


def server_config(path: Path, **server: object) -> Path:
    """A server config file: the default instruments, no feeds, and these [server] settings."""
    settings = {"heartbeat_s": 3600, "snapshot_every_s": 3600, **server}
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    path.write_text(f'base = "{REPO / "configs" / "default.toml"}"\n[server]\n{lines}')
    return path


@contextlib.contextmanager
def captured_logs():
    """The log entries made inside, at every level (the tests otherwise log errors only)."""
    wrapper = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with structlog.testing.capture_logs() as logs:
            yield logs
    finally:
        structlog.configure(wrapper_class=wrapper)


async def admin_client(svc: ExchangeService) -> Client:
    return await Client(port=svc.port, api_key=ADMIN_KEY, reconnect=False).connect()


async def funded_clients(svc: ExchangeService, admin: Client, n: int, deposit: str = "100000") -> list[Client]:
    clients = []
    for _ in range(n):
        key = await admin.create_account(deposit=deposit)
        clients.append(await Client(port=svc.port, api_key=key.api_key, reconnect=False).connect())
    return clients


async def close_all(*clients: Client) -> None:
    for c in clients:
        await c.close()


class RawConnection:
    """A bare socket speaking the wire format, for malformed input."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = Decoder(1 << 24)
        self.inbox: list = []

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def send(self, data: bytes | dict) -> None:
        self.writer.write(data if isinstance(data, bytes) else encode(data))

    async def recv(self, timeout: float = 5.0):
        """The next message, or None when the server closed the connection."""
        while not self.inbox:
            data = await asyncio.wait_for(self.reader.read(1 << 16), timeout)
            if not data:
                return None
            self.inbox += self.decoder.feed(data)
        return self.inbox.pop(0)

    async def request(self, msg: dict) -> dict:
        self.send(msg)
        while True:
            reply = await self.recv()
            if reply is None or reply.get("id") == msg.get("id"):
                return reply

    def close(self) -> None:
        self.writer.close()
