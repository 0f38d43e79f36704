"""`python -m exchange serve --config configs/server.toml [--run-dir DIR] [--port N] [--speed X]`.

Start-up: recovery (persistence/recovery.py: repair a damaged journal tail, the newest sound snapshot +
the journal after it, invariants; or refuse with one line and exit code 2), the live population
(docs/live-market.md) unless disabled, listen. While running: one sequencer task, index feeds (they
carry on from a recovered index), heartbeats (so funding timers run on an idle market), the
population's agents, and snapshots on a cadence. SIGINT/SIGTERM: stop listening, stop the agents,
drain, flush and close the journal, final snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any


from ..config import CONFIG_DIR, ExchangeConfig, load_config_data, parse_config
from ..core.commands import Heartbeat, IndexPrice
from ..persistence import (
    JOURNAL_NAME, OVERRIDE_FLAG, SNAPSHOTS_KEPT, JournalWriter, RecoveryRefused, recover, write_snapshot,
)
from ..sim.feed import IndexFeed, build_feed, parse_feed
from ..wire.schema import WireError
from .clock import WallClock
from .credentials import SECRET_FILE, Credentials
from .http.api import Api, HttpOptions
from .http.history import History
from .http.server import HttpServer
from .hub import Hub
from .logcfg import configure_logging, get_logger
from .population import Population, population_spec
from .sequencer import Sequencer
from .faults import describe
from .limits import Limits, limits_from_config
from .server import KeyStore, Server

DEFAULT_SERVER_CONFIG = CONFIG_DIR / "server.toml"
MIN_TICK_WAIT_S = 0.01  # feeds and heartbeats wake at most this often in real time, at any clock speed
MIN_ADMIN_KEY = 16  # characters
SNAPSHOT_RETRY_S = 5.0  # a failed periodic snapshot is tried again this soon (or at its cadence if sooner)
LOOP_RETRY_S = 1.0  # a feed or heartbeat loop that raised goes on after this long


class ServeError(Exception):
    """A reason to refuse to start, shown as one line."""


@dataclass(frozen=True, slots=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 7777
    admin_key: str = ""
    limits: Limits = field(default_factory=Limits)
    heartbeat_s: float = 1.0
    snapshot_every_s: float = 300.0
    snapshots_kept: int = SNAPSHOTS_KEPT
    truncate_journal_at_damage: bool = False
    speed: float = 1.0
    log_commands: bool = True
    http: HttpOptions = field(default_factory=lambda: HttpOptions(enabled=False))  # on from a config's [http] table
    agents: bool = True  # run the [population] of the config, if it has one


def load_server_config(path: str | Path) -> tuple[ExchangeConfig, dict[str, Any]]:
    """Parse a server config; `base = "default.toml"` layers it over another file of the same
    directory (its tables merge into the base's, key by key: see exchange/config.py)."""
    data = load_config_data(path)
    return parse_config(data), data


def options_from(raw: dict[str, Any], args: argparse.Namespace) -> ServeOptions:
    srv = raw.get("server", {})
    try:
        limits = limits_from_config(srv)
    except ValueError as exc:
        raise ServeError(str(exc)) from None
    snapshots_kept = int(srv.get("snapshots_kept", SNAPSHOTS_KEPT))
    if snapshots_kept < 1:
        raise ServeError(f"[server] snapshots_kept = {snapshots_kept}: at least 1 snapshot must be kept")
    h = raw.get("http", {})
    dh = HttpOptions()
    http = HttpOptions(
        enabled=bool(h.get("enabled", False)) and not args.no_http,
        host=args.host or h.get("host", srv.get("host", dh.host)),
        port=args.http_port if args.http_port is not None else int(h.get("port", dh.port)),
        rate_limit_per_s=float(h.get("rate_limit_per_s", dh.rate_limit_per_s)),
        rate_burst=float(h.get("rate_burst", dh.rate_burst)),
        max_pending=int(h.get("max_pending", dh.max_pending)),
        max_body_bytes=int(h.get("max_body_bytes", dh.max_body_bytes)),
        ws_max_outbox_bytes=int(h.get("ws_max_outbox_bytes", dh.ws_max_outbox_bytes)),
        ws_max_streams=int(h.get("ws_max_streams", dh.ws_max_streams)),
        listen_key_ttl_s=float(h.get("listen_key_ttl_s", dh.listen_key_ttl_s)),
    )
    return ServeOptions(
        http=http,
        host=args.host or srv.get("host", "127.0.0.1"),
        port=args.port if args.port is not None else int(srv.get("port", 7777)),
        admin_key=args.admin_key or os.environ.get("LIQUIDEX_ADMIN_KEY") or srv.get("admin_key", ""),
        limits=limits,
        heartbeat_s=float(srv.get("heartbeat_s", 1.0)),
        snapshot_every_s=float(srv.get("snapshot_every_s", 300.0)),
        snapshots_kept=snapshots_kept,
        truncate_journal_at_damage=args.truncate_journal_at_damage,
        speed=args.speed if args.speed is not None else float(srv.get("speed", 1.0)),
        log_commands=not args.quiet and bool(srv.get("log_commands", True)),
        agents=not args.no_agents,
    )


class ExchangeService:
    """The whole exchange process, startable in-process (tests, demos) or from the command line."""

    def __init__(self, config: ExchangeConfig, raw: dict[str, Any], run_dir: str | Path, options: ServeOptions,
                 config_dir: Path = CONFIG_DIR) -> None:
        self.config = config
        self.raw = raw
        self.run_dir = Path(run_dir)
        self.options = options
        self.config_dir = config_dir
        self.log = get_logger("exchange")
        self.port = 0
        self.http_port = 0
        self.http: HttpServer | None = None
        self.admin_key = ""
        self._tasks: list[asyncio.Task] = []
        self._listener: asyncio.AbstractServer | None = None
        self._stopped = asyncio.Event()
        self.population: Population | None = None

    async def start(self) -> None:
        run_dir = self.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self.admin_key = self._admin_key()  # a key too short refuses the start before anything else
        symbols = [i.symbol for i in self.config.instruments]
        population = population_spec(self.raw.get("population", {}), self.config_dir, symbols) \
            if self.options.agents else None
        ex = recover(run_dir, self.config.instruments, self.config.initial_insurance_fund_cash, venue=self.config.venue,
                     assets=self.config.assets,
                     truncate_at_damage=self.options.truncate_journal_at_damage, log=self.log)
        self.exchange = ex
        self.clock = WallClock(self.options.speed, max(time.time_ns(), ex.ts_ns))
        hub = Hub(ex)
        journal = JournalWriter(run_dir / JOURNAL_NAME)
        limits = self.options.limits
        self.sequencer = Sequencer(ex, journal, self.clock, hub, self.log, self.options.log_commands,
                                   limits.turn_requests, limits.turn_ms / 1000)
        self.drivers: dict[str, IndexFeed] = {
            sym: build_feed(parse_feed(sym, cfg, self.config_dir), ex.instruments[sym])
            for sym, cfg in self.raw.get("feeds", {}).items() if sym in ex.instruments}
        for sym, feed in self.drivers.items():
            if ex.markets[sym].index:
                feed.resume_from(ex.markets[sym].index)
        self.server = Server(ex, self.sequencer, hub, KeyStore(run_dir / "api_keys.txt"), self.clock, self.drivers,
                             self.admin_key, run_dir, self.options.limits, self.log, self.options.snapshots_kept)
        if population is not None and population.size:
            self.population = Population(ex, self.sequencer, self.clock, population, self.log)
        self.sequencer.start()
        if self.population is not None:
            await self.population.start()
            reserved = self.population.accounts  # accounts created by an admin skip the agents' ids
            self.server.next_account = max((a for a in ex.accounts if a not in reserved), default=0) + 1
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(self.server.protocol, self.options.host, self.options.port,
                                                  reuse_address=True, backlog=4096)
        self.port = self._listener.sockets[0].getsockname()[1]
        if self.options.http.enabled:
            await self._start_http(hub)
        for driver in self.drivers.values():
            self._tasks.append(loop.create_task(self._feed(driver), name=f"feed-{driver.inst.symbol}"))
        self._tasks.append(loop.create_task(self._heartbeats(), name="heartbeats"))
        self._tasks.append(loop.create_task(self._snapshots(), name="snapshots"))
        info = run_dir / "server.json.tmp"  # written whole, then renamed: a reader never sees half of it
        info.write_text(json.dumps({"host": self.options.host, "port": self.port, "http_port": self.http_port,
                                    "pid": os.getpid()}))
        info.replace(run_dir / "server.json")
        self.log.info("listening", host=self.options.host, port=self.port, run_dir=str(run_dir), seq=ex.seq,
                      accounts=len(ex.accounts), speed=self.options.speed, max_connections=self.server.max_connections,
                      agents=len(self.population.agents) if self.population else 0)

    async def _start_http(self, hub: Hub) -> None:
        """The Binance-compatible REST + WebSocket server on `[http] port`, on this loop and sequencer."""
        history = History(self.exchange)
        credentials = Credentials(self.run_dir / SECRET_FILE, self.server.keys)
        api = Api(self.exchange, self.sequencer, self.clock, credentials, history, self.drivers, self.admin_key,
                  self.options.http, self.log, allocate_account=self._allocate_account)
        self.http = HttpServer(api, hub)
        await self.http.start()
        self.http_port = self.http.port

    def _allocate_account(self) -> int:
        """The next free account id, shared with the msgpack admin's create_account; the live
        population's ids are skipped."""
        reserved = self.population.accounts if self.population is not None else range(0)
        account = self.server.next_account
        while account in self.exchange.accounts or account in reserved:
            account += 1
        self.server.next_account = account + 1
        return account

    def _admin_key(self) -> str:
        """The configured admin key, else the one stored in (or generated into) RUN_DIR/admin.key."""
        key = self.options.admin_key
        if not key:
            path = self.run_dir / "admin.key"
            if not path.exists():
                path.write_text(secrets.token_hex(16))
                path.chmod(0o600)
                self.log.warning("admin key generated", path=str(path))
            key = path.read_text().strip()
        if len(key) < MIN_ADMIN_KEY:
            raise ServeError(f"the admin key has {len(key)} characters: it needs at least {MIN_ADMIN_KEY} characters")
        return key

    async def _feed(self, driver: IndexFeed) -> None:
        """One index update per interval; at high clock speeds at most one per MIN_TICK_WAIT_S of real
        time, each then covering more clock time."""
        wait = max(MIN_TICK_WAIT_S, self.clock.wall_seconds(driver.interval_s))
        dt = max(driver.interval_s, wait * self.options.speed)
        symbol = driver.inst.symbol
        while True:
            if driver.frozen:
                await asyncio.sleep(wait)
                continue
            try:
                ticks = driver.step(dt)
            except Exception as exc:  # noqa: BLE001 - a broken feed stalls its index, not the exchange
                self.sequencer.fault("feed", exc, symbol=symbol)
                await asyncio.sleep(LOOP_RETRY_S)
                continue
            if ticks is not None:
                self.sequencer.submit(IndexPrice(symbol, ticks), "feed")
            await asyncio.sleep(wait)

    async def _heartbeats(self) -> None:
        interval_ns = int(self.options.heartbeat_s * 1e9)
        wait = max(MIN_TICK_WAIT_S, self.clock.wall_seconds(self.options.heartbeat_s) / 2)
        while True:
            await asyncio.sleep(wait)
            if self.clock.now_ns() - self.exchange.ts_ns >= interval_ns:
                self.sequencer.submit(Heartbeat(), "clock")

    async def _snapshots(self) -> None:
        """A snapshot every snapshot_every_s; one that fails (disk full, no descriptors: the server logs
        it) is tried again after SNAPSHOT_RETRY_S."""
        every = self.options.snapshot_every_s
        wait = every
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(wait)
            written = loop.create_future()
            self.sequencer.call(functools.partial(self._snapshot_into, written))
            wait = every if await written else min(every, SNAPSHOT_RETRY_S)

    def _snapshot_into(self, written: asyncio.Future) -> None:
        """Take a snapshot (in the sequencer); `written` gets whether it was."""
        try:
            self.server.take_snapshot()
            ok = True
        except WireError:
            ok = False
        if not written.done():
            written.set_result(ok)

    async def stop(self) -> None:
        """Graceful: stop listening, drain the queue, flush and close the journal, write a snapshot."""
        if self._listener is not None:
            self._listener.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.http is not None:
            await self.http.stop()
        if self.population is not None:
            await self.population.stop()
        await self.sequencer.stop()
        if self.http is not None:
            self.http.api.credentials.close()
        self.server.keys.close()
        for session in list(self.server.hub.sessions):
            session.close("SHUTDOWN")
        if self.sequencer.journal_error is None:
            try:
                write_snapshot(self.run_dir, self.exchange, self.options.snapshots_kept)
            except OSError as exc:
                self.log.error("final snapshot failed", error=describe(exc))
        self.log.info("stopped", seq=self.exchange.seq)
        self._stopped.set()

    async def run_until_signal(self) -> None:
        await self.start()
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        writer = self.sequencer._task
        done, _ = await asyncio.wait([loop.create_task(stop.wait()), writer], return_when=asyncio.FIRST_COMPLETED)
        if writer in done and writer.exception() is not None:
            self.log.error("sequencer crashed", error=repr(writer.exception()))
            raise writer.exception()
        await self.stop()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m exchange serve", description="run the exchange as a TCP service")
    p.add_argument("--config", default=str(DEFAULT_SERVER_CONFIG),
                   help="server TOML (instruments, [server], [feeds], [population])")
    p.add_argument("--run-dir", default="runs/server", help="journal, snapshots and API keys live here")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None, help="0 = any free port (written to RUN_DIR/server.json)")
    p.add_argument("--http-port", type=int, default=None, help="port of the Binance-compatible REST + WebSocket API")
    p.add_argument("--no-http", action="store_true", help="serve the msgpack gateway only")
    p.add_argument("--speed", type=float, default=None, help="clock speed factor (2 = time runs twice as fast)")
    p.add_argument("--admin-key", default=None, help="admin key (else $LIQUIDEX_ADMIN_KEY, config, RUN_DIR/admin.key)")
    p.add_argument("--log-level", default="info")
    p.add_argument("--quiet", action="store_true", help="no log line per command")
    p.add_argument(OVERRIDE_FLAG, action="store_true",
                   help="start even when the journal is damaged before valid records (or a snapshot is newer than "
                        "its end): cut there, losing the records after the damage (docs/operations.md)")
    p.add_argument("--no-agents", action="store_true", help="an empty market: do not run the config's [population]")
    return p


def serve_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    config, raw = load_server_config(args.config)
    return run_service(lambda: ExchangeService(config, raw, args.run_dir, options_from(raw, args),
                                               Path(args.config).resolve().parent))


def run_service(make: Callable[[], ExchangeService]) -> int:
    """Build a service and run it until SIGINT/SIGTERM, on uvloop when installed (the `fast` extra);
    a refused start is one line and exit code 2."""
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        runner(make().run_until_signal())
    except RecoveryRefused as exc:
        get_logger("exchange").error("refusing to start", reason=str(exc))
        return 2
    except ServeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
