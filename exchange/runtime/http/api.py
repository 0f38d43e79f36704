"""What the HTTP routes share: awaitable access to the single sequencer, authentication, rate limits.

Routes never touch the exchange directly: `read(fn)` runs fn inside the sequencer (ordered with the
commands, outside the journal) and `submit(commands, answer)` queues commands and computes the answer
from their events inside the sequencer, right after they were applied, so an answer sees exactly the
state its own command left. An exception in fn or answer fails that request only, never the writer.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...core.events import CommandRejected, OrderRejected
from ..session import TokenBucket
from .binance.errors import (
    BAD_API_KEY_FMT,
    REJECTED_MBX_KEY,
    SERVER_BUSY,
    TOO_MANY_REQUESTS,
    BinanceError,
    error,
    reject_error,
)
from .binance.params import Params, parse_pairs
from .binance.signing import verify
from .history import History

if TYPE_CHECKING:
    from ...core.engine import Exchange
    from ...sim.feed import IndexFeed
    from ..clock import Clock
    from ..credentials import Credentials
    from ..sequencer import Sequencer
    from .streams import Streams

API_KEY = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
BUCKETS_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class HttpOptions:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    rate_limit_per_s: float = 1000.0  # per API key (signed) or per remote address (public)
    rate_burst: float = 2000.0
    max_pending: int = 10_000  # requests waiting for the sequencer; beyond: -1008
    max_body_bytes: int = 64 * 1024
    ws_max_outbox_bytes: int = 4 * 1024 * 1024  # a WebSocket reader further behind than this is dropped
    ws_max_streams: int = 200
    listen_key_ttl_s: float = 3600.0


class Api:
    def __init__(self, ex: Exchange, sequencer: Sequencer, clock: Clock, credentials: Credentials, history: History,
                 drivers: dict[str, IndexFeed], admin_key: str, options: HttpOptions, log: Any,
                 allocate_account: Callable[[], int] | None = None,
                 wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        self.ex = ex
        self.sequencer = sequencer
        self.clock = clock
        self.credentials = credentials
        self.history = history
        self.drivers = drivers
        self.admin_key = admin_key
        self.options = options
        self.log = log
        self.wall_ms = wall_ms
        self.allocate_account = allocate_account or (lambda: max(ex.accounts, default=0) + 1)
        self.streams: Streams | None = None
        self.pending = 0
        self.buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def now_ms(self) -> int:
        """Exchange time (the clock the journal is stamped with) in ms: event and order times."""
        return self.clock.now_ns() // 1_000_000

    # -- the sequencer -------------------------------------------------------------------------
    def admit(self, bucket_key: str) -> None:
        if self.pending >= self.options.max_pending:
            raise error(SERVER_BUSY, "Server is currently overloaded with other requests. Please try again in a few minutes.")
        bucket = self.buckets.get(bucket_key)
        if bucket is None:
            bucket = self.buckets[bucket_key] = TokenBucket(self.options.rate_limit_per_s, self.options.rate_burst)
            if len(self.buckets) > BUCKETS_KEPT:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(bucket_key)
        if not bucket.take():
            raise error(TOO_MANY_REQUESTS, f"Too many requests; current limit is {self.options.rate_limit_per_s:g} "
                        "requests per second. Please use the websocket for live updates to avoid polling the API.")

    async def read(self, fn: Callable[[], Any], bucket_key: str = "") -> Any:
        """fn() run inside the sequencer, in order with the commands."""
        if bucket_key:
            self.admit(bucket_key)
        fut = asyncio.get_running_loop().create_future()

        def run() -> None:
            if fut.done():
                return
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - the request fails, not the writer
                fut.set_exception(exc)

        self.pending += 1
        try:
            self.sequencer.call(run)
            return await fut
        finally:
            self.pending -= 1

    async def submit(self, commands: Any, origin: str, answer: Callable[[list], Any]) -> Any:
        """Queue commands; answer(events) runs inside the sequencer right after they are applied."""
        fut = asyncio.get_running_loop().create_future()

        def done(events: list) -> None:
            if fut.done():
                return
            try:
                fut.set_result(answer(events))
            except BaseException as exc:  # noqa: BLE001 - the request fails, not the writer
                fut.set_exception(exc)

        self.pending += 1
        try:
            self.sequencer.submit(commands, origin, done)
            return await fut
        finally:
            self.pending -= 1

    # -- authentication ------------------------------------------------------------------------
    def api_key_account(self, key: str | None) -> tuple[int, str | None]:
        """(account, secret) of the X-MBX-APIKEY header, or -2014 / -2015."""
        if key is None or not API_KEY.match(key):
            raise error(BAD_API_KEY_FMT)
        found = self.credentials.lookup(key)
        if found is None:
            raise error(REJECTED_MBX_KEY)
        return found

    def signed(self, key: str | None, query: str, body: str) -> tuple[int, Params]:
        """Check a signed request: the key, the HMAC signature, the timestamp. Nothing runs before this."""
        account, secret = self.api_key_account(key)
        if secret is None:
            raise error(REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action: this key has no secret "
                        "(issue a key pair over HTTP to sign requests).")
        self.admit(f"k{account}")
        return account, verify(query, body, secret, self.wall_ms())

    def keyed(self, key: str | None, query: str, body: str) -> tuple[int, Params]:
        """An API-key-only request (the listenKey endpoints)."""
        account, _ = self.api_key_account(key)
        self.admit(f"k{account}")
        return account, Params(parse_pairs(query) + parse_pairs(body))

    def admin(self, key: str | None) -> None:
        if not self.admin_key or key is None or not hmac.compare_digest(key.encode(), self.admin_key.encode()):
            raise error(REJECTED_MBX_KEY, "Invalid admin key.")


def expect(events: list, account: int, kind: type, command: str, match: Callable[[Any], bool] | None = None) -> Any:
    """The first event of `kind` for the account (that `match` accepts), or the BinanceError of the
    rejection that came before it."""
    for ev in events:
        t = type(ev)
        if (t is OrderRejected or t is CommandRejected) and ev.account == account:
            raise reject_error(ev.command if t is CommandRejected else command, ev.code, ev.message)
        if t is kind and getattr(ev, "account", account) == account and (match is None or match(ev)):
            return ev
    raise error(-1000, f"An unknown error occurred while processing the request: no {kind.__name__}.")


def rejection_of(events: list, account: int, command: str) -> BinanceError | None:
    """The Binance error of the account's first rejection among the events, or None."""
    for ev in events:
        t = type(ev)
        if (t is OrderRejected or t is CommandRejected) and ev.account == account:
            return reject_error(ev.command if t is CommandRejected else command, ev.code, ev.message)
    return None
