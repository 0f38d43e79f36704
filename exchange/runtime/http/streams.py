"""WebSocket fan-out in Binance's names and payloads: public streams, user data streams (listenKey).

A Hub listener (`on_events`, inside the sequencer right after each command) records the history and
pushes what happens at once: trades, aggTrades, bookTicker changes, forceOrder, and the user streams
(ORDER_TRADE_UPDATE, ALGO_UPDATE, ACCOUNT_UPDATE, ACCOUNT_CONFIG_UPDATE, MARGIN_CALL). A ticker every
TICK_MS (`tick`, also inside the sequencer) pushes what Binance pushes on a cadence: diff depth
(@100ms/@250ms/@500ms), partial depth, markPrice (1 s / 3 s), klines (250 ms), and expires listenKeys.

Diff depth update ids are the exchange's command sequence numbers: an event covers the commands
(pu, u] and carries the current quantity of every level any of them touched, so a book built from a
REST snapshot (lastUpdateId = the sequence number it was read at) plus the events with u >= that id
equals the exchange's book, Binance's way.

Memory per connection is bounded: a reader whose unsent output passes `ws_max_outbox_bytes` is
dropped; at most `ws_max_streams` streams per connection; at most 10 messages per second in.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from ...core import views
from ...core.commands import BUY, SELL
from ...core.events import (
    BalanceChanged,
    FundingPaid,
    IsolatedMarginChanged,
    LeverageSet,
    MarginModeSet,
    MarkPriceUpdated,
    PositionChanged,
    PublicLiquidation,
    Trade,
)
from ..hub import MARGIN_CALL_PPM
from .binance import shapes
from .binance import streams as payloads
from .binance.errors import INVALID_LISTEN_KEY, error
from .binance.streams import DEPTH_SPEEDS_MS, StreamKey, parse_stream
from .history import INTERVALS_MIN, History, OrderUpdate, bucket_start, merge_candles

if TYPE_CHECKING:
    from aiohttp import web

    from ...core import Exchange
    from ..sequencer import Sequencer


class StreamOptions(Protocol):
    @property
    def listen_key_ttl_s(self) -> float: ...

    @property
    def ws_max_streams(self) -> int: ...


class Api(Protocol):
    """What the streams read of the HTTP API (api.py; a Protocol, so this module needs no import of it)."""

    ex: Exchange
    history: History
    sequencer: Sequencer

    @property
    def options(self) -> StreamOptions: ...

    def now_ms(self) -> int: ...

TICK_MS = 100
KLINE_MS = 250
ACCOUNT_REASONS: dict[type, str] = {PositionChanged: "ORDER", FundingPaid: "FUNDING_FEE",
                                    IsolatedMarginChanged: "MARGIN_TRANSFER", MarginModeSet: "MARGIN_TYPE_CHANGE"}
INTERVAL_NAMES = {m * 60_000: name for name, m in INTERVALS_MIN.items()}


class Connection:
    """One WebSocket: its streams, its bounded outbox and the task that writes it."""

    def __init__(self, ws: web.WebSocketResponse, combined: bool, max_bytes: int, transport: Any = None) -> None:
        self.ws = ws
        self.transport = transport
        self.combined = combined
        self.max_bytes = max_bytes
        self.streams: set[str] = set()
        self.account: int | None = None
        self.listen_key = ""
        self.queue: deque[str] = deque()
        self.queued = 0
        self.wake = asyncio.Event()
        self.closed = False
        self.dropped = ""

    def push(self, text: str) -> None:
        if self.closed:
            return
        self.queue.append(text)
        self.queued += len(text)
        if self.queued > self.max_bytes:
            self.drop("slow reader: outbox over the limit", abort=True)
            return
        self.wake.set()

    def send(self, name: str, raw: str, wrapped: str | None = None) -> None:
        """A payload of stream `name`, raw JSON; combined connections get {"stream", "data"}."""
        if self.combined:
            self.push(wrapped if wrapped is not None else f'{{"stream":"{name}","data":{raw}}}')
        else:
            self.push(raw)

    def drop(self, reason: str, abort: bool = False) -> None:
        """Close: at once (abort) for a reader too slow to take a close frame, else after what is queued
        and a close frame."""
        self.closed = True
        self.dropped = reason
        self.wake.set()
        if abort:
            self.queue.clear()
            self.queued = 0
            if self.transport is not None:
                self.transport.abort()

    async def write(self) -> None:
        """Send the outbox in order until the connection closes (then with a close frame giving the reason)."""
        ws = self.ws
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.queue:
                    text = self.queue.popleft()
                    self.queued -= len(text)
                    await ws.send_str(text)
                if self.closed:
                    await ws.close(code=1008, message=self.dropped.encode()[:120])
                    return
        except (ConnectionError, RuntimeError):  # the peer went away: nothing left to send to
            self.closed = True


    async def finish(self, writer: asyncio.Task) -> None:
        """After the reading ends: let the writer send what is queued (at most 1 s), then close the socket."""
        if not self.closed:
            self.closed = True
            self.wake.set()
        try:
            await asyncio.wait_for(writer, 1.0)
        except TimeoutError:
            writer.cancel()
        await self.ws.close()


class ListenKeys:
    """One listenKey per account, valid `ttl_ms` after its creation or last keep-alive."""

    def __init__(self, ttl_ms: int) -> None:
        self.ttl_ms = ttl_ms
        self.keys: dict[str, list[int]] = {}  # key -> [account, expires_ms]
        self.by_account: dict[int, str] = {}

    def open(self, account: int, now_ms: int) -> str:
        key = self.by_account.get(account)
        if key is None:
            key = secrets.token_urlsafe(48)[:64]
            self.by_account[account] = key
            self.keys[key] = [account, 0]
        self.keys[key][1] = now_ms + self.ttl_ms
        return key

    def keep_alive(self, account: int, key: str | None, now_ms: int) -> str:
        current = self.by_account.get(account)
        if current is None or (key is not None and key != current):
            raise error(INVALID_LISTEN_KEY)
        self.keys[current][1] = now_ms + self.ttl_ms
        return current

    def close(self, account: int, key: str | None) -> str:
        current = self.by_account.get(account)
        if current is None or (key is not None and key != current):
            raise error(INVALID_LISTEN_KEY)
        del self.by_account[account]
        del self.keys[current]
        return current

    def account_of(self, key: str) -> int | None:
        entry = self.keys.get(key)
        return entry[0] if entry is not None else None

    def expire(self, now_ms: int) -> list[tuple[int, str]]:
        gone = [(a, k) for k, (a, exp) in self.keys.items() if exp <= now_ms]
        for account, key in gone:
            del self.keys[key]
            del self.by_account[account]
        return gone


class DepthFeed:
    """Diff depth of one symbol at one speed: the levels touched since the last push."""

    __slots__ = ("speed_ms", "touched", "last_u", "due_ms")

    def __init__(self, speed_ms: int, seq: int, now_ms: int) -> None:
        self.speed_ms = speed_ms
        self.touched: set[tuple[int, int]] = set()
        self.last_u = seq
        self.due_ms = now_ms + speed_ms


class Streams:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.ex = api.ex
        self.history: History = api.history
        self.conns: set[Connection] = set()
        self.readers: dict[str, set[Connection]] = {}
        self.keys: dict[str, StreamKey] = {}
        self.users: dict[int, set[Connection]] = {}
        self.listen_keys = ListenKeys(int(api.options.listen_key_ttl_s * 1000))
        self.depth: dict[tuple[str, int], DepthFeed] = {}
        self.partial_due: dict[str, int] = {}
        self.partial_seq: dict[str, int] = {}
        self.mark_due: dict[int, int] = {}
        self.book_top: dict[str, tuple[int, int, int, int]] = {}
        self.kline_dirty: set[str] = set()
        self.kline_bucket: dict[str, int] = {}
        self.kline_due = 0
        self.margin_called: set[tuple[int, str]] = set()

    # -- subscriptions (inside the sequencer) --------------------------------------------------
    def subscribe(self, conn: Connection, names: list[str]) -> list[str]:
        """Add the valid names (the others are ignored, as Binance does); returns those added."""
        added = []
        for name in names:
            key = parse_stream(name, self.ex.instruments)
            if key is None or name in conn.streams:
                continue
            if len(conn.streams) >= self.api.options.ws_max_streams:
                break
            conn.streams.add(name)
            self.readers.setdefault(name, set()).add(conn)
            self.keys[name] = key
            if key.kind == "depth" and (key.symbol, key.arg) not in self.depth:
                self.depth[(key.symbol, key.arg)] = DepthFeed(key.arg, self.ex.seq, self.api.now_ms())
            added.append(name)
        return added

    def unsubscribe(self, conn: Connection, names: list[str]) -> None:
        for name in names:
            if name in conn.streams:
                conn.streams.discard(name)
                readers = self.readers.get(name)
                if readers is not None:
                    readers.discard(conn)
                    if not readers:
                        self._forget(name)

    def _forget(self, name: str) -> None:
        del self.readers[name]
        key = self.keys.pop(name)
        if key.kind == "depth" and not any(k.kind == "depth" and k.symbol == key.symbol and k.arg == key.arg
                                           for k in self.keys.values()):
            self.depth.pop((key.symbol, key.arg), None)

    def attach_user(self, conn: Connection, key: str) -> bool:
        account = self.listen_keys.account_of(key)
        if account is None:
            return False
        conn.account, conn.listen_key = account, key
        self.users.setdefault(account, set()).add(conn)
        return True

    def detach(self, conn: Connection) -> None:
        self.conns.discard(conn)
        self.unsubscribe(conn, list(conn.streams))
        if conn.account is not None:
            users = self.users.get(conn.account)
            if users is not None:
                users.discard(conn)
                if not users:
                    del self.users[conn.account]

    def close_user_stream(self, account: int, key: str | None) -> None:
        gone = self.listen_keys.close(account, key)
        for conn in list(self.users.get(account, ())):
            if conn.listen_key == gone:
                conn.drop("listenKey closed")

    # -- publication ---------------------------------------------------------------------------
    def _publish(self, name: str, payload: dict[str, Any]) -> None:
        readers = self.readers.get(name)
        if not readers:
            return
        raw = json.dumps(payload, separators=(",", ":"))
        wrapped = None
        for conn in list(readers):
            if conn.combined and wrapped is None:
                wrapped = f'{{"stream":"{name}","data":{raw}}}'
            conn.send(name, raw, wrapped)

    def _to_user(self, account: int, payload: dict[str, Any]) -> None:
        conns = self.users.get(account)
        if not conns:
            return
        raw = json.dumps(payload, separators=(",", ":"))
        for conn in list(conns):
            conn.send(conn.listen_key, raw)

    def on_events(self, events: list, touched: list[tuple[str, int, int]], ts_ns: int) -> None:
        """The Hub listener: history first, then everything pushed at once."""
        updates = self.history.record(events, ts_ns)
        if not self.readers and not self.users:
            return
        ms = ts_ns // 1_000_000
        if self.depth:
            for symbol, side, price in touched:
                for speed in DEPTH_SPEEDS_MS:
                    feed = self.depth.get((symbol, speed))
                    if feed is not None:
                        feed.touched.add((side, price))
        trades: dict[str, list] = {}
        finished = iter(self.history.finished)
        for ev in events:
            t = type(ev)
            if t is Trade:
                trades.setdefault(ev.symbol, []).append(ev)
            elif t is PublicLiquidation:
                self._force_order(next(finished, None), ev, ms)
            elif t is MarkPriceUpdated and self.users:
                self._margin_calls(ev.symbol, ms)
        for symbol in trades:
            self._trades(symbol, len(trades[symbol]), ms)
            self.kline_dirty.add(symbol)
        if touched or trades:
            self._book_tickers({s for s, _, _ in touched} | set(trades), ms)
        if self.users:
            self._user_events(events, updates, ms)

    def _trades(self, symbol: str, n: int, ms: int) -> None:
        sym = symbol.lower()
        agg, raw = f"{sym}@aggTrade", f"{sym}@trade"
        if agg not in self.readers and raw not in self.readers:
            return
        inst = self.ex.instruments[symbol]
        recent = list(islice(reversed(self.history.trades[symbol]), n))[::-1]
        for t in recent if raw in self.readers else ():
            self._publish(raw, payloads.trade_event(t, inst, ms))
        for group in shapes.aggregate(recent) if agg in self.readers else ():
            self._publish(agg, payloads.agg_trade_event(group, inst, ms))

    def _force_order(self, rec: Any, ev: PublicLiquidation, ms: int) -> None:
        name = f"{ev.symbol.lower()}@forceOrder"
        if rec is None or (name not in self.readers and "!forceOrder@arr" not in self.readers):
            return
        payload = payloads.force_order_event(rec, self.ex.instruments[ev.symbol], ev.filled_lots, ms)
        self._publish(name, payload)
        self._publish("!forceOrder@arr", payload)

    def _book_tickers(self, symbols: set[str], ms: int) -> None:
        for symbol in symbols:
            name = f"{symbol.lower()}@bookTicker"
            if name not in self.readers and "!bookTicker" not in self.readers:
                continue
            book = self.ex.books[symbol]
            top = (book.best_bid if book.has_bid() else 0, book.level_qty(BUY, book.best_bid) if book.has_bid() else 0,
                   book.best_ask if book.has_ask() else 0, book.level_qty(SELL, book.best_ask) if book.has_ask() else 0)
            if self.book_top.get(symbol) == top:
                continue
            self.book_top[symbol] = top
            payload = payloads.book_ticker_event(self.ex.instruments[symbol], top, self.ex.seq, ms)
            self._publish(name, payload)
            self._publish("!bookTicker", payload)

    def _order_update(self, u: OrderUpdate, ms: int) -> None:
        """ORDER_TRADE_UPDATE, and for a conditional order ALGO_UPDATE: alone while it waits for its
        trigger, both when it triggers (the order then starts as NEW) and when the triggered order ends."""
        rec = u.record
        inst = self.ex.instruments[rec.symbol]
        if rec.conditional and (not u.triggered or u.execution == "TRIGGERED"):
            self._to_user(rec.account, payloads.algo_update(u, inst, ms))
            if u.execution != "TRIGGERED":
                return
            u = u._replace(execution="NEW", status="NEW")
        self._to_user(rec.account, payloads.order_trade_update(u, inst, ms))
        if rec.conditional and u.status in ("FILLED", "CANCELED", "EXPIRED"):
            self._to_user(rec.account, payloads.algo_update(u, inst, ms))

    def _user_events(self, events: list, updates: list, ms: int) -> None:
        ex = self.ex
        for u in updates:
            if u.record.account in self.users:
                self._order_update(u, ms)
        changed: dict[int, list] = {}  # account -> [reason (its first event's), balance change, symbols]
        for ev in events:
            t = type(ev)
            account = getattr(ev, "account", -1)
            if account not in self.users:
                continue
            if t is LeverageSet:
                self._to_user(account, payloads.account_config_update(ev.symbol, ev.leverage, ms))
                continue
            if t is BalanceChanged:
                reason = ev.reason if ev.reason in ("DEPOSIT", "WITHDRAW") else "ADJUSTMENT"
            else:
                reason = ACCOUNT_REASONS.get(t)
                if reason is None:
                    continue
            entry = changed.setdefault(account, [reason, 0, set()])
            if t is BalanceChanged:
                entry[1] += ev.delta_cash
            elif ev.symbol:
                entry[2].add(ev.symbol)
        for account, (reason, delta, symbols) in changed.items():
            rows = [p for p in views.positions_view(ex, account) or [] if p["symbol"] in symbols]
            self._to_user(account, payloads.account_update(reason, views.account_view(ex, account), delta, rows,
                                                           ex.instruments, ms))

    def _margin_calls(self, symbol: str, ms: int) -> None:
        ex = self.ex
        for account in list(self.users):
            acct = ex.accounts.get(account)
            pos = acct.positions.get(symbol) if acct else None
            if pos is None or not pos.size:
                continue
            _, mb, mm = ex.isolated_breached(pos) if pos.isolated else ex.cross_breached(acct)
            key = (account, symbol)
            if mb <= 0 or mm // mb >= MARGIN_CALL_PPM:
                if key not in self.margin_called:
                    self.margin_called.add(key)
                    view = views.position_view(ex, acct, pos)
                    self._to_user(account, payloads.margin_call(views.account_view(ex, account), view,
                                                                ex.instruments[symbol], ms))
            else:
                self.margin_called.discard(key)

    # -- the ticker (inside the sequencer) -----------------------------------------------------
    def tick(self) -> None:
        now = self.api.now_ms()
        ex = self.ex
        for (symbol, speed), feed in self.depth.items():
            if now < feed.due_ms:
                continue
            feed.due_ms = now + speed
            if not feed.touched:
                continue
            book = ex.books[symbol]
            bids = sorted(((p, book.level_qty(BUY, p)) for s, p in feed.touched if s == BUY), reverse=True)
            asks = sorted((p, book.level_qty(SELL, p)) for s, p in feed.touched if s == SELL)
            feed.touched = set()
            first, prev = feed.last_u + 1, feed.last_u
            feed.last_u = ex.seq
            payload = payloads.depth_update(ex.instruments[symbol], bids, asks, first, ex.seq, prev, now)
            suffix = "" if speed == 250 else f"@{speed}ms"
            self._publish(f"{symbol.lower()}@depth{suffix}", payload)
        for name, key in list(self.keys.items()):
            if key.kind == "partial":
                self._partial(name, key, now)
            elif key.kind == "markPrice":
                self._mark(name, key, now)
        if now >= self.kline_due:
            self.kline_due = now + KLINE_MS
            self._klines(now)
        for account, key in self.listen_keys.expire(now):
            self._to_user(account, payloads.listen_key_expired(key, now))
            for conn in list(self.users.get(account, ())):
                conn.drop("listenKey expired")

    def _partial(self, name: str, key: StreamKey, now: int) -> None:
        levels, speed = divmod(key.arg, 1000)
        if now < self.partial_due.get(name, 0):
            return
        self.partial_due[name] = now + speed
        book = self.ex.books[key.symbol]
        prev = self.partial_seq.get(name, self.ex.seq)
        self.partial_seq[name] = self.ex.seq
        self._publish(name, payloads.depth_update(self.ex.instruments[key.symbol], book.depth(BUY, levels),
                                                  book.depth(SELL, levels), prev + 1, self.ex.seq, prev, now))

    def _mark(self, name: str, key: StreamKey, now: int) -> None:
        if now < self.partial_due.get(name, 0):
            return
        self.partial_due[name] = now + key.arg
        symbols = [key.symbol] if key.symbol else [s for s, m in self.ex.markets.items() if m.mark]
        rows = [payloads.mark_price_event(views.funding_view(self.ex, s), self.ex.instruments[s], now) for s in symbols
                if self.ex.markets[s].mark]
        if key.symbol and rows:
            self._publish(name, rows[0])
        elif rows:
            readers = self.readers.get(name)
            if readers:
                raw = json.dumps(rows, separators=(",", ":"))
                for conn in list(readers):
                    conn.send(name, raw)

    def _klines(self, now: int) -> None:
        dirty, self.kline_dirty = self.kline_dirty, set()
        for name, key in list(self.keys.items()):
            if key.kind != "kline":
                continue
            start = bucket_start(now, key.arg)
            rolled = self.kline_bucket.get(name, start) != start
            if key.symbol not in dirty and not rolled:
                continue
            candles = [c for c in self.history.candles[key.symbol] if c[0] >= bucket_start(now, key.arg) - key.arg]
            merged = merge_candles(candles, key.arg)
            inst = self.ex.instruments[key.symbol]
            interval = INTERVAL_NAMES[key.arg]
            if rolled and merged and merged[0][0] == self.kline_bucket[name]:
                self._publish(name, payloads.kline_event(merged[0], interval, key.arg, True, inst, now))
            self.kline_bucket[name] = start
            if merged and merged[-1][0] == start and key.symbol in dirty:
                self._publish(name, payloads.kline_event(merged[-1], interval, key.arg, False, inst, now))

    async def run_ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_MS / 1000)
            if self.readers or self.listen_keys.keys:
                self.api.sequencer.call(self.tick)
