"""A connection's received input is bounded: while more than MAX_UNHANDLED bytes of it wait to be
handled, its socket is not read (the bound that replaced max_inflight), and reading resumes, losing
nothing, once the sequencer has handled enough of it."""

from __future__ import annotations

import asyncio

from exchange.runtime.limits import Limits
from exchange.runtime.session import MAX_UNHANDLED, READ_BYTES, Session
from exchange.wire.codec import encode


class Transport:
    """What a session uses of an asyncio transport; `reading` is what a real one would deliver."""

    def __init__(self) -> None:
        self.reading = True
        self.pauses = self.resumes = 0
        self.written: list[bytes] = []

    def get_extra_info(self, name: str):
        return ("127.0.0.1", 5000) if name == "peername" else None

    def set_write_buffer_limits(self, high: int) -> None:
        pass

    def pause_reading(self) -> None:
        self.reading, self.pauses = False, self.pauses + 1

    def resume_reading(self) -> None:
        self.reading, self.resumes = True, self.resumes + 1

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def get_write_buffer_size(self) -> int:
        return 0


class Sequencer:
    def __init__(self) -> None:
        self.dirty: list = []
        self.ready_sources: list = []
        self.fault = None

    def ready(self, source: Session) -> None:
        self.ready_sources.append(source)


class Server:
    def __init__(self) -> None:
        self.limits = Limits(hello_timeout_s=0, login_timeout_s=0, rate=1e9, burst=1e9)
        self.sequencer = Sequencer()
        self.unsent = 0
        self.handled: list[int] = []

    def connected(self, session: Session) -> bool:
        return True

    def handle(self, session: Session, op: str, rid: int, msg: dict) -> None:
        self.handled.append(rid)


async def received(server: Server, n: int) -> tuple[Transport, int, int]:
    """n requests delivered as a socket would (READ_BYTES at a time, only while it is read) to a session
    whose requests are served 16 at a time whenever its socket rests: (transport, the most input that
    waited at once, the times the session entered the sequencer's round)."""
    session = Session(server)  # type: ignore[arg-type]
    transport = Transport()
    session.connection_made(transport)
    stream = b"".join(encode({"op": "time", "id": i}) for i in range(n))
    sent = most_waiting = entered = 0
    while sent < len(stream) or session.waiting:
        while transport.reading and sent < len(stream):
            chunk = stream[sent:sent + READ_BYTES]
            session.get_buffer(len(chunk))[:len(chunk)] = chunk
            entered += not session.waiting
            session.buffer_updated(len(chunk))
            sent += len(chunk)
            most_waiting = max(most_waiting, session.decoder.backlog)
        session.serve(16)
    return transport, most_waiting, entered


def test_a_socket_rests_while_its_unhandled_input_passes_the_bound_and_nothing_is_lost():
    server = Server()
    transport, most_waiting, entered = asyncio.run(received(server, 20_000))  # about 250 KB of requests
    assert MAX_UNHANDLED < most_waiting <= MAX_UNHANDLED + READ_BYTES
    assert transport.pauses == transport.resumes >= 10
    assert server.sequencer.ready_sources.count(server.sequencer.ready_sources[0]) == entered  # once per wait
    assert server.handled == list(range(20_000))
