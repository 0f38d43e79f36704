"""One client connection (asyncio Protocol): framing, hello/login state, rate limit, bounded outbox.

Output is collected in memory and written once per drain of the sequencer (or once per read for
immediate answers). A connection whose unsent output (our buffer + the transport's) passes
`max_outbox` bytes is aborted: a client that does not read never stalls the engine or grows memory.
Too many requests in flight pause reading from that socket until the answers have gone out.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import TYPE_CHECKING, Any

from ..wire.codec import Decoder, FrameError, encode
from ..wire.schema import WireError, parse_request

if TYPE_CHECKING:
    from .server import Server


class TokenBucket:
    """`rate` requests per second on average, bursts up to `burst`."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Session(asyncio.Protocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        limits = server.limits
        self.decoder = Decoder(limits.max_frame)
        self.bucket = TokenBucket(limits.rate, limits.burst)
        self.max_outbox = limits.max_outbox
        self.max_inflight = limits.max_inflight
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.hello = False
        self.account = -1  # logged-in account, -1 = none
        self.admin = False
        self.closed = False
        self.out: list[bytes] = []
        self.out_bytes = 0
        self.queued = False
        self.inflight = 0
        self.paused = False

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        transport.set_write_buffer_limits(high=self.max_outbox)
        self.server.connected(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.out.clear()
        self.server.disconnected(self)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            messages = self.decoder.feed(data)
        except FrameError as exc:
            self.error(None, exc.code, str(exc))
            self.flush()
            self.close(exc.code)
            return
        handle = self.server.handle
        for msg in messages:
            try:
                op, rid = parse_request(msg)
                if not self.bucket.take():
                    raise WireError("RATE_LIMITED", f"more than {self.bucket.rate:g} requests/s "
                                    f"(burst {self.bucket.burst:g}): request refused, slow down")
                handle(self, op, rid, msg)
            except WireError as exc:
                rid = msg.get("id") if type(msg) is dict and type(msg.get("id")) is int else None
                self.error(rid, exc.code, exc.message)
            if self.closed:
                return
        self.flush()

    def pause_writing(self) -> None:
        """The transport's buffer passed max_outbox: checked in flush(), nothing to do here."""

    def resume_writing(self) -> None:
        pass

    # -- output --------------------------------------------------------------------------------
    def send(self, msg: dict) -> None:
        self.send_bytes(encode(msg))

    def send_bytes(self, data: bytes) -> None:
        if self.closed:
            return
        self.out.append(data)
        self.out_bytes += len(data)
        if self.out_bytes > self.max_outbox:
            self.close("SLOW_CONSUMER")
            return
        if not self.queued:
            self.queued = True
            self.server.sequencer.dirty.append(self)

    def result(self, rid: int, result: Any) -> None:
        self.send({"type": "result", "id": rid, "result": result})

    def error(self, rid: int | None, code: str, message: str) -> None:
        self.send({"type": "error", "id": rid, "code": code, "message": message})

    def flush(self) -> None:
        self.queued = False
        if self.closed or not self.out:
            return
        transport = self.transport
        transport.write(b"".join(self.out) if len(self.out) > 1 else self.out[0])
        self.out.clear()
        self.out_bytes = 0
        if transport.get_write_buffer_size() > self.max_outbox:
            self.close("SLOW_CONSUMER")
            return
        if self.paused and self.inflight <= self.max_inflight // 2:
            self.paused = False
            transport.resume_reading()

    # -- requests in flight --------------------------------------------------------------------
    def begin(self) -> None:
        self.inflight += 1
        if self.inflight >= self.max_inflight and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def end(self) -> None:
        self.inflight -= 1

    def close(self, reason: str) -> None:
        """Drop the connection now (unsent output is discarded)."""
        if self.closed:
            return
        self.closed = True
        self.out.clear()
        self.server.dropped(self, reason)
        if reason == "SLOW_CONSUMER":
            self.transport.abort()
        else:
            self.transport.close()
