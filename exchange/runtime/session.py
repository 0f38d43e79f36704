"""One client connection (asyncio BufferedProtocol): framing, hello/login state and deadlines, rate
limit, fair reading, bounded outbox; and the Inbox that handles the input of all connections.

Reading: a socket is read (at most READ_BYTES at a time) only when everything read before has been
handled. The Inbox handles what was read a few requests of each connection at a time, in fair order
(fair.py), about `read_requests` per loop iteration, so a connection pipelining thousands of requests
costs other connections one request per round, and every loop iteration stays short. Past
`max_inflight` queued requests a connection is not read until answers have gone out.

Output is collected in memory and written once per sequencer turn (or once per Inbox round for
immediate answers). A connection whose unsent output (our buffer + the transport's) passes
`max_outbox` bytes is aborted, and the server drops the largest backlogs when all connections
together pass `max_outbox_total`: a client that does not read never stalls the engine or grows
memory. An exception while handling one request answers that request with INTERNAL and the
connection carries on.
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any, Protocol

from ..wire.codec import Decoder, Encoded, FrameError, encode, encode_result
from ..wire.schema import WireError, parse_request
from .fair import FairOrder
from .limits import TokenBucket

if TYPE_CHECKING:
    from .faults import FaultLog
    from .limits import Limits

READ_BYTES = 16 * 1024
PER_VISIT = 16  # requests of a connection handled each time its turn in the round comes
LINGER_S = 1.0
_read_buffer = memoryview(bytearray(READ_BYTES))  # shared: the loop fills it and hands it over at once


class Writer(Protocol):
    """What a session needs of the sequencer (sequencer.py): where to report a fault, where to say it has
    bytes to flush."""

    dirty: list[Any]
    fault: FaultLog


class Server(Protocol):
    """What a session needs of the gateway server (server.py; Protocols, so this module imports neither)."""

    limits: Limits
    inbox: Inbox
    unsent: int

    @property
    def sequencer(self) -> Writer: ...

    def connected(self, session: Session) -> bool: ...

    def disconnected(self, session: Session, admitted: bool) -> None: ...

    def handle(self, session: Session, op: str, rid: int, msg: dict[str, Any]) -> None: ...

    def shed(self) -> None: ...

    def dropped(self, session: Session, reason: str) -> None: ...


class Inbox:
    """Connections with received input waiting, served up to PER_VISIT requests at a time in fair
    order (fair.py), about `per_iteration` requests a round. The first input of a loop iteration is
    handled at once (a lone client waits for no extra iteration); input arriving after it waits for
    the next round, at the next iteration."""

    def __init__(self, per_iteration: int) -> None:
        self.per_iteration = max(1, per_iteration)
        self.order = FairOrder()
        self._scheduled = False

    def add(self, session: Session) -> None:
        if session.waiting:
            return
        session.waiting = True
        self.order.add(session)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._next)
            self._round()

    def _next(self) -> None:
        self._scheduled = False
        if self.order:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._next)
            self._round()

    def _round(self) -> None:
        order = self.order
        touched: dict[Session, None] = {}
        budget = self.per_iteration
        while order and budget > 0:
            session = order.pop()
            touched[session] = None
            handled, more = session.take(PER_VISIT)
            budget -= max(handled, 1)
            order.done(session, handled, more)
            session.waiting = more
        for session in touched:
            session.flush()
            if not session.waiting:
                session.pace()


class Session(asyncio.BufferedProtocol):
    def __init__(self, server: Server) -> None:
        self.server = server
        limits = server.limits
        self.decoder = Decoder(limits.max_frame)
        self.bucket = TokenBucket(limits.rate, limits.burst)
        self.max_outbox = limits.max_outbox
        self.max_inflight = limits.max_inflight
        self.transport: asyncio.Transport | None = None
        self.peer = self.host = ""
        self.hello = False
        self.account = -1  # logged-in account, -1 = none
        self.admin = False
        self.closed = False
        self.out: list[bytes] = []
        self.out_bytes = 0  # in self.out
        self.backlog = 0  # in the transport's buffer, as last seen
        self.queued = False
        self.held = False  # output held by the sequencer until the journal can be written
        self.inflight = 0
        self.paused = False  # reading paused
        self.waiting = False  # in the inbox's ring
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
        return _read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        """Bytes arrived: keep them for the inbox and read no more until they are handled."""
        if self.closed:
            return
        self.decoder.push(bytes(_read_buffer[:nbytes]))
        if not self.paused:
            self.paused = True
            self.transport.pause_reading()
        self.server.inbox.add(self)

    def pause_writing(self) -> None:
        """The transport's buffer passed max_outbox: checked in flush(), nothing to do here."""

    def resume_writing(self) -> None:
        pass

    # -- input ---------------------------------------------------------------------------------
    def take(self, n: int) -> tuple[int, bool]:
        """Handle up to n of the requests received (fewer at max_inflight): (how many, whether to
        come back for more)."""
        if self.closed:
            return 0, False
        try:
            messages = self.decoder.feed(b"", max(1, min(n, self.max_inflight - self.inflight)))
        except FrameError as exc:
            self.error(None, exc.code, str(exc))
            self.flush()
            self.close(exc.code)
            return 0, False
        for msg in messages:
            self._handle(msg)
            if self.closed:
                return len(messages), False
        return len(messages), self.decoder.pending and self.inflight < self.max_inflight

    def _handle(self, msg: Any) -> None:
        op = None
        try:
            op, rid = parse_request(msg)
            if not self.bucket.take():
                raise WireError("RATE_LIMITED", f"more than {self.bucket.rate:g} requests/s "
                                f"(burst {self.bucket.burst:g}): request refused, slow down")
            self.server.handle(self, op, rid, msg)
        except WireError as exc:
            self.error(_request_id(msg), exc.code, exc.message)
        except Exception as exc:  # noqa: BLE001 - a bug costs this request, not the connection
            self.server.sequencer.fault("request", exc, op=op)
            self.error(_request_id(msg), "INTERNAL", f"internal error ({type(exc).__name__})")

    def pace(self) -> None:
        """Out of the inbox: back into it with input still to handle, else read the socket again,
        unless too many requests are in flight (then flush() calls this again as answers go out)."""
        if self.closed or self.waiting or self.inflight >= self.max_inflight:
            return
        if self.decoder.pending:
            self.server.inbox.add(self)
        elif self.paused:
            self.paused = False
            self.transport.resume_reading()

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

    def logged_in(self) -> None:
        self._expect("", 0)

    def _late(self, code: str) -> None:
        self._deadline = None
        if self.closed:
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
            self.server.sequencer.dirty.append(self)

    def result(self, rid: int, result: Any) -> None:
        if type(result) is Encoded:
            self.send_bytes(encode_result(rid, result))
        else:
            self.send({"type": "result", "id": rid, "result": result})

    def error(self, rid: int | None, code: str, message: str) -> None:
        self.send({"type": "error", "id": rid, "code": code, "message": message})

    def flush(self) -> None:
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
            return
        if self.paused and not self.waiting and self.inflight < self.max_inflight:
            self.pace()

    def refresh_backlog(self) -> None:
        """Count the transport's buffer as it is now (the kernel takes from it between our looks)."""
        backlog = self.transport.get_write_buffer_size()
        self.server.unsent += backlog - self.backlog
        self.backlog = backlog

    # -- requests in flight --------------------------------------------------------------------
    def begin(self) -> None:
        self.inflight += 1

    def end(self) -> None:
        self.inflight -= 1

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
