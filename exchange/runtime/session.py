"""One client connection (asyncio BufferedProtocol): framing, hello/login state and deadlines, rate
limit, bounded input, bounded outbox.

Input: what the socket delivers (at most READ_BYTES at a time) is kept undecoded, and the connection
becomes a source of the sequencer (sequencer.py), which decodes and handles its requests a few at a
time, in fair order with the other connections, inside its turns. While more than MAX_UNHANDLED
bytes of a connection's input wait, its socket is not read.

Output is collected in memory and written at the end of the sequencer's turn, after the journal
flush. A connection whose unsent output (our buffer + the transport's) passes `max_outbox` bytes is
aborted, and the server drops the largest backlogs when all connections together pass
`max_outbox_total`: a client that does not read never stalls the engine or grows memory. An
exception while handling one request answers that request with INTERNAL and the connection carries on.
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any, Protocol

from ..wire.codec import Decoder, Encoded, FrameError, encode, encode_result
from ..wire.schema import WireError, parse_request
from .limits import TokenBucket

if TYPE_CHECKING:
    from .faults import FaultLog
    from .limits import Limits

READ_BYTES = 16 * 1024
MAX_UNHANDLED = READ_BYTES  # input bytes of a connection waiting to be handled before its socket rests
LINGER_S = 1.0
_read_buffer = bytearray(READ_BYTES)  # shared: the loop fills it and hands it over at once
_read_view = memoryview(_read_buffer)


class Writer(Protocol):
    """What a session needs of the sequencer (sequencer.py): where to say it has work, or bytes to
    flush, and where to report a fault."""

    dirty: list[Any]
    fault: FaultLog

    def ready(self, source: Session) -> None: ...


class Server(Protocol):
    """What a session needs of the gateway server (server.py; Protocols, so this module imports neither)."""

    limits: Limits
    unsent: int

    @property
    def sequencer(self) -> Writer: ...

    def connected(self, session: Session) -> bool: ...

    def disconnected(self, session: Session, admitted: bool) -> None: ...

    def handle(self, session: Session, op: str, rid: int, msg: dict[str, Any]) -> None: ...

    def shed(self) -> None: ...

    def dropped(self, session: Session, reason: str) -> None: ...


class Session(asyncio.BufferedProtocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.sequencer = server.sequencer
        limits = server.limits
        self.decoder = Decoder(limits.max_frame)
        self.bucket = TokenBucket(limits.rate, limits.burst)
        self.max_outbox = limits.max_outbox
        self.transport: asyncio.Transport | None = None
        self.peer = self.host = ""
        self.hello = False
        self.account = -1  # logged-in account, -1 = none
        self.origin = ""  # of its commands in the journal: a<account>
        self.admin = False
        self.closed = False
        self.ending = ""  # the reason to close once the output of this turn is written
        self.out: list[bytes] = []
        self.out_bytes = 0  # in self.out
        self.backlog = 0  # in the transport's buffer, as last seen
        self.queued = False  # in the sequencer's dirty list
        self.held = False  # output held by the sequencer until the journal can be written
        self.paused = False  # reading paused
        self.waiting = False  # in the sequencer's round
        self.admitted = False  # counted in the server's connections
        self._since = 0.0
        self._deadline: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.host, self.peer = (peer[0], f"{peer[0]}:{peer[1]}") if peer else ("?", "?")
        transport.set_write_buffer_limits(high=self.max_outbox)
        self._since = asyncio.get_running_loop().time()
        self.admitted = self.server.connected(self)
        if self.admitted:
            self._expect("HELLO_TIMEOUT", self.server.limits.hello_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        self.server.disconnected(self, self.admitted)

    def get_buffer(self, sizehint: int) -> memoryview:
        return _read_view

    def buffer_updated(self, nbytes: int) -> None:
        """Bytes arrived: keep them for the sequencer; rest the socket while too many wait."""
        if self.closed or self.ending:
            return
        decoder = self.decoder
        decoder.push(_read_view[:nbytes])
        if not self.waiting:
            self.waiting = True
            self.sequencer.ready(self)
        if not self.paused and decoder.backlog > MAX_UNHANDLED:
            self.paused = True
            self.transport.pause_reading()

    def pause_writing(self) -> None:
        """The transport's buffer passed max_outbox: checked in flush(), nothing to do here."""

    def resume_writing(self) -> None:
        pass

    # -- input: a source of the sequencer ------------------------------------------------------
    def serve(self, n: int) -> tuple[int, bool]:
        """Handle up to n of the requests received (inside a sequencer turn): (how many, whether
        more are waiting)."""
        if self.closed or self.ending:
            self.waiting = False
            return 0, False
        decoder = self.decoder
        try:
            messages = decoder.feed(b"", n)
        except FrameError as exc:
            self.error(None, exc.code, str(exc))
            self.close_after_output(exc.code)
            self.waiting = False
            return 1, False
        for msg in messages:
            self._handle(msg)
            if self.closed or self.ending:
                self.waiting = False
                return len(messages), False
        more = self.waiting = decoder.pending
        if self.paused and (not more or decoder.backlog <= MAX_UNHANDLED):
            self.paused = False
            self.transport.resume_reading()
        return len(messages), more

    def _handle(self, msg: Any) -> None:
        op = None
        try:
            op, rid = parse_request(msg)
            bucket = self.bucket
            if bucket.tokens >= 1:  # TokenBucket.take() without the call, in the common case
                bucket.tokens -= 1
            elif not bucket.take():
                raise WireError("RATE_LIMITED", f"more than {self.bucket.rate:g} requests/s "
                                f"(burst {self.bucket.burst:g}): request refused, slow down")
            self.server.handle(self, op, rid, msg)
        except WireError as exc:
            self.error(_request_id(msg), exc.code, exc.message)
        except Exception as exc:  # noqa: BLE001 - a bug costs this request, not the connection
            self.sequencer.fault("request", exc, op=op)
            self.error(_request_id(msg), "INTERNAL", f"internal error ({type(exc).__name__})")

    # -- deadlines -----------------------------------------------------------------------------
    def _expect(self, code: str, seconds: float) -> None:
        """Close the connection with `code` unless the next stage (hello, login) comes within `seconds`."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if seconds > 0:
            self._deadline = asyncio.get_running_loop().call_later(seconds, self._late, code)

    def said_hello(self) -> None:
        self.hello = True
        login_s = self.server.limits.login_timeout_s
        if self.account < 0 and not self.admin and login_s > 0:  # within login_s of connecting
            left = login_s - (asyncio.get_running_loop().time() - self._since)
            self._expect("LOGIN_TIMEOUT", max(left, 0.001))
        else:
            self._expect("", 0)

    def logged_in(self, account: int) -> None:
        """Logged in as `account` (-1: the admin)."""
        if account >= 0:
            self.account = account
            self.origin = f"a{account}"
        self._expect("", 0)

    def _late(self, code: str) -> None:
        """A deadline passed (outside the sequencer's turns: nothing unjournaled is in the outbox)."""
        self._deadline = None
        if self.closed or self.ending:
            return
        what = "hello" if code == "HELLO_TIMEOUT" else "login"
        self.error(None, code, f"no {what} in time: connection closed")
        self.flush()
        self.close(code)

    # -- output --------------------------------------------------------------------------------
    def send(self, msg: dict) -> None:
        self.send_bytes(encode(msg))

    def send_bytes(self, data: bytes) -> None:
        if self.closed:
            return
        self.out.append(data)
        self.out_bytes += len(data)
        server = self.server
        server.unsent += len(data)
        if self.out_bytes + self.backlog > self.max_outbox:
            self.close("SLOW_CONSUMER")
            return
        if server.unsent > server.limits.max_outbox_total:
            server.shed()
            if self.closed:
                return
        if not self.queued:
            self.queued = True
            self.sequencer.dirty.append(self)

    def result(self, rid: int, result: Any) -> None:
        if type(result) is Encoded:
            self.send_bytes(encode_result(rid, result))
        else:
            self.send_bytes(encode({"type": "result", "id": rid, "result": result}))

    def error(self, rid: int | None, code: str, message: str) -> None:
        self.send({"type": "error", "id": rid, "code": code, "message": message})

    def flush(self) -> None:
        """Write the output collected (the sequencer calls this after the journal flush)."""
        self.queued = False
        if self.closed or self.held:
            return
        if self.out:
            self.transport.write(b"".join(self.out) if len(self.out) > 1 else self.out[0])
            self.out.clear()
            self.server.unsent -= self.out_bytes
            self.out_bytes = 0
        self.refresh_backlog()
        if self.backlog > self.max_outbox:
            self.close("SLOW_CONSUMER")
        elif self.ending:
            self.close(self.ending)

    def refresh_backlog(self) -> None:
        """Count the transport's buffer as it is now (the kernel takes from it between our looks)."""
        backlog = self.transport.get_write_buffer_size()
        self.server.unsent += backlog - self.backlog
        self.backlog = backlog

    def close_after_output(self, reason: str) -> None:
        """Close with `reason` once what this turn produced is written (a bad frame: nothing more is read)."""
        self.ending = reason
        if not self.paused:
            self.paused = True
            self.transport.pause_reading()
        if not self.queued:
            self.queued = True
            self.sequencer.dirty.append(self)

    def close(self, reason: str) -> None:
        """Drop the connection. A slow consumer at once; one refused at the cap, or at shutdown, after
        what was flushed; any other (a bad frame, a timeout: counted among the connections until gone)
        after what was flushed and an end of stream, reading and discarding what the peer still sends
        for up to LINGER_S, so that its unread requests do not turn the close into a reset that loses
        the error frame."""
        if self.closed:
            return
        self._release()
        self.server.dropped(self, reason)
        transport = self.transport
        if reason == "SLOW_CONSUMER":
            transport.abort()
        elif not self.admitted or reason == "SHUTDOWN" or not transport.can_write_eof():
            transport.close()
        else:
            transport.write_eof()
            if self.paused:
                self.paused = False
                transport.resume_reading()
            asyncio.get_running_loop().call_later(LINGER_S, transport.abort)

    def eof_received(self) -> bool:
        return False  # the peer is done: the transport closes

    def _release(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if not self.closed:
            self.closed = True
            self.server.unsent -= self.out_bytes + self.backlog
        self.out.clear()
        self.out_bytes = self.backlog = 0


def _request_id(msg: Any) -> int | None:
    rid = msg.get("id") if type(msg) is dict else None
    return rid if type(rid) is int else None
