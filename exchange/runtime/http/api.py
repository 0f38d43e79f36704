"""What the HTTP routes share: awaitable access to the single sequencer, authentication, rate limits.

Routes never touch the exchange directly: `read(fn)` runs fn inside the sequencer (ordered with the
commands, outside the journal) and `submit(commands, answer)` queues commands and computes the answer
from their events inside the sequencer, right after they were applied, so an answer sees exactly the
state its own command left. An exception in fn or answer fails that request only, never the writer.

Answers are released like a connection's output: at the end of the sequencer's turn, after the journal
flush, and held while the journal cannot be written (so no client hears of a command the journal lost).
Each request's work is queued under the fairness key of its rate-limit bucket (an API key's account, or
the remote address for public data), so one flooding client delays another's lone request by a few items.
"""

from __future__ import annotations

import asyncio
import contextvars
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
_fairness_key: contextvars.ContextVar[str] = contextvars.ContextVar("http_fairness_key", default="")


class Answers:
    """Results computed inside the sequencer, handed to their waiting requests when it writes its
    outputs (the output protocol of exchange/runtime/sequencer.py: `queued`, `held`, `flush()`)."""

    def __init__(self, sequencer: Sequencer) -> None:
        self.sequencer = sequencer
        self.ready: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        self.queued = False
        self.held = False  # set by the sequencer while the journal cannot be written

    def put(self, fut: asyncio.Future[Any], result: Any = None, exc: BaseException | None = None) -> None:
        self.ready.append((fut, result, exc))
        if not self.queued:
            self.queued = True
            self.sequencer.dirty.append(self)

    def flush(self) -> None:
        self.queued = False
        if self.held:
            return
        ready, self.ready = self.ready, []
        for fut, result, exc in ready:
            if fut.done():  # the request went away (client disconnected)
                continue
            if exc is None:
                fut.set_result(result)
            else:
                fut.set_exception(exc)


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
        self.answers = Answers(sequencer)
        self.game: Any = None  # the classroom game when one runs (runtime/classroom), served by its routes
        self.pending = 0
        self.buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def now_ms(self) -> int:
        """Exchange time (the clock the journal is stamped with) in ms: event and order times."""
        return self.clock.now_ns() // 1_000_000

    # -- the sequencer -------------------------------------------------------------------------
    def admit(self, bucket_key: str) -> None:
        """Count a request against its bucket (-1003 beyond the rate, -1008 when too much is pending); the
        bucket is also the fairness key of everything this request queues."""
        _fairness_key.set(bucket_key)
        self._check_journal()
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

    def _check_journal(self) -> None:
        """-1008 (HTTP 503) while the journal cannot be written, as the msgpack gateway answers JOURNAL_UNAVAILABLE."""
        if self.sequencer.journal_error is not None:
            raise error(SERVER_BUSY, f"The journal cannot be written ({self.sequencer.journal_error}): the exchange "
                        "serves no request until it can. Please try again later.")

    async def read(self, fn: Callable[[], Any]) -> Any:
        """fn() run inside the sequencer, in order with the commands."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def run() -> None:
            if not fut.done():
                self._settle(fut, fn)

        self.pending += 1
        try:
            self.sequencer.call(run, key=("http", _fairness_key.get()))
            return await fut
        finally:
            self.pending -= 1

    async def submit(self, commands: Any, origin: str, answer: Callable[[list], Any]) -> Any:
        """Queue commands; answer(events) runs inside the sequencer right after they are applied."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def done(events: list) -> None:
            self._settle(fut, lambda: answer(events))

        self.pending += 1
        try:
            self.sequencer.submit(commands, origin, done, key=("http", _fairness_key.get()))
            return await fut
        finally:
            self.pending -= 1

    def _settle(self, fut: asyncio.Future[Any], fn: Callable[[], Any]) -> None:
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - the request fails, not the writer
            self.answers.put(fut, exc=exc)
        else:
            self.answers.put(fut, result)

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
        _fairness_key.set("admin")
        self._check_journal()


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
