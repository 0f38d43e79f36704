"""The single writer: stamp -> journal append -> apply -> fan out; flush the journal, then answer.

Work comes from sources served in start-time fair order (fair.py), up to PER_VISIT units at a time:
each connection is a source (session.py: its received requests are decoded and handled right in the
turn, in order), and so is each fairness key of the other producers (feeds, timers, the HTTP layer,
the live population: `submit` and `call` queue their items under a key; None for the server's own).
A source with a thousand requests waiting delays another source's lone request by a few items, not
a thousand. A turn serves at most `turn_items` units or runs for at most `turn_s` seconds, then
flushes the journal once (group commit) and only then writes the outputs the turn touched, so no
client sees the effect of a command that is not in the journal; then the loop reads the sockets
again. Queries run in the same turns (outside the journal), so a connection reads its own writes.

An exception in one item costs that item only: its command is answered with a rejection event, the
fault is logged once per kind (FaultLog). A command whose journal record cannot be encoded is not
applied. When the journal cannot be written (OSError: disk full, I/O error), every output of the
turn that applied commands is held, every command from then on is refused with JOURNAL_UNAVAILABLE,
`journal_error` says why, and the flush is retried every JOURNAL_RETRY_S: once it succeeds the held
outputs go out.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from ..core.commands import AmendOrder, Envelope
from ..core.engine import Exchange
from ..core.events import CommandRejected
from ..persistence import JournalWriter
from .clock import Clock
from .fair import FairOrder
from .faults import FaultLog, describe
from .hub import Hub

Done = Callable[[list], None]  # called with the events of the applied commands
JOURNAL_RETRY_S = 0.25
PER_VISIT = 16  # units served from a source each time its turn in the round comes


class Source(Protocol):
    """Work for the sequencer: a connection's requests, a producer's queue."""

    def serve(self, n: int) -> tuple[int, bool]:
        """Serve about n units of work: (units served, whether work is left)."""
        ...


class Output(Protocol):
    """A connection's output, written at the end of the turn that produced it."""

    queued: bool  # has output waiting
    held: bool  # held until the journal can be written

    def flush(self) -> None: ...


def rejection(command: Any, code: str, message: str) -> CommandRejected:
    account = getattr(command, "account", -1)
    return CommandRejected(account if type(account) is int else -1, type(command).__name__, code, message)


class _Queue(deque):
    """The items submitted under one fairness key, served in order."""

    __slots__ = ("key", "sequencer")

    def __init__(self, sequencer: Sequencer, key: Any) -> None:
        super().__init__()
        self.sequencer = sequencer
        self.key = key

    def serve(self, n: int) -> tuple[int, bool]:
        serve = self.sequencer.serve_item
        served = 0
        while self and served < n:
            serve(self.popleft())
            served += 1
        if self:
            return served, True
        del self.sequencer.queues[self.key]
        return served, False


class Sequencer:
    def __init__(self, exchange: Exchange, journal: JournalWriter, clock: Clock, hub: Hub, log: Any,
                 log_commands: bool = True, turn_items: int = 1000, turn_s: float = 0.005) -> None:
        self.ex = exchange
        self.journal = journal
        self.clock = clock
        self.hub = hub
        self.log = log
        self.log_commands = log_commands
        self.turn_items = max(1, turn_items)
        self.turn_s = turn_s
        self.fault = FaultLog(log)
        self.queues: dict[Any, _Queue] = {}
        self.order = FairOrder()  # the sources with work, in serving order
        self.dirty: list[Output] = []  # outputs written at the end of the turn
        self.held: list[Output] = []  # outputs held until the journal can be written again
        self.journal_error: str | None = None
        self._failed_at = self._retry_at = 0.0
        self._refused = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    # -- producers -----------------------------------------------------------------------------
    def submit(self, commands: Any, origin: str, done: Done | None = None, key: Any = None) -> None:
        """Queue a command (or a list of commands applied back to back) from `origin`. `key` is the
        fairness key, e.g. the live population: one queue per key, served in fair order."""
        self._queue(key, (commands, origin, done))

    def call(self, fn: Callable[[], None], key: Any = None) -> None:
        """Queue a read (query, snapshot) to run in order with the key's commands, outside the journal."""
        self._queue(key, (None, "", fn))

    def _queue(self, key: Any, item: tuple[Any, str, Any]) -> None:
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = _Queue(self, key)
            self.order.add(key, queue)
        queue.append(item)
        self._wake.set()

    def ready(self, source: Source) -> None:
        """`source` (not yet in the round) has work."""
        self.order.add(source, source)
        self._wake.set()

    # -- the writer ----------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sequencer")

    async def stop(self) -> None:
        """Serve what is queued, flush and close the journal."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self.drain()
        try:
            self.journal.close()
        except OSError as exc:
            self.log.error("journal close failed", error=describe(exc))

    async def _run(self) -> None:
        while True:
            if self.journal_error is None:
                await self._wake.wait()
            else:
                try:
                    await asyncio.wait_for(self._wake.wait(), JOURNAL_RETRY_S)
                except TimeoutError:
                    pass
            self._wake.clear()
            self.turn()
            if self.order:
                self._wake.set()
            await asyncio.sleep(0)  # let the sockets read and write before the next turn

    def drain(self) -> None:
        """Serve everything queued."""
        self.turn()
        while self.order:
            self.turn()

    def turn(self) -> None:
        """Serve the sources in fair order within the turn's budget, flush the journal, write the outputs."""
        if self.journal_error is not None:
            self._retry_journal()
        journal_ok = self.journal_error is None  # else this turn applies nothing: its outputs may go out
        order = self.order
        clock = time.perf_counter
        deadline = clock() + self.turn_s
        budget = self.turn_items
        while order and budget > 0 and clock() < deadline:
            key, source = order.pop()
            served, more = source.serve(PER_VISIT if budget > PER_VISIT else budget)
            budget -= served if served > 0 else 1
            order.done(key, source, served, more)
        self._commit(journal_ok)

    def serve_item(self, item: tuple[Any, str, Any]) -> None:
        """Run one queued item: a read, or commands and the callback that answers them."""
        commands, origin, done = item
        if commands is None:
            try:
                done()
            except Exception as exc:  # noqa: BLE001 - a bug in a read costs that read
                self.fault("read", exc)
            return
        events = self.execute(commands, origin)
        if done is not None:
            try:
                done(events)
            except Exception as exc:  # noqa: BLE001
                self.fault("answer", exc, command=type(commands).__name__)

    def execute(self, commands: Any, origin: str) -> list:
        """Journal and apply a command (or a list of them, back to back) now, inside a turn; the events."""
        if type(commands) is not list:
            return self._apply(commands, origin)
        events: list = []
        for cmd in commands:
            events += self._apply(cmd, origin)
        return events

    def _apply(self, cmd: Any, origin: str) -> list:
        """Journal and apply one command; its events, or a rejection when it could not be done."""
        if self.journal_error is not None:
            self._refused += 1
            return [rejection(cmd, "JOURNAL_UNAVAILABLE", f"the journal cannot be written ({self.journal_error}): "
                              "the exchange accepts no command until it can")]
        ex = self.ex
        ts = self.clock.now_ns()
        if ts < ex.ts_ns:  # time never runs backwards in the journal
            ts = ex.ts_ns
        env = Envelope(ex.seq + 1, ts, origin, cmd)
        try:
            self.journal.append(env)
        except OSError as exc:
            self._journal_failed(exc)
            return self._apply(cmd, origin)
        except Exception as exc:  # noqa: BLE001 - the record cannot be encoded: nothing was written
            self.fault("journal encode", exc, command=type(cmd).__name__)
            return [rejection(cmd, "INTERNAL", f"the command cannot be journaled ({type(exc).__name__}): "
                              "nothing was applied")]
        hub = self.hub
        touched: list = []
        if type(cmd) is AmendOrder:
            try:
                touched = hub.touched_before(cmd)
            except Exception as exc:  # noqa: BLE001
                self.fault("publish", exc, command=type(cmd).__name__)
        try:
            events = ex.apply(env)
        except Exception as exc:  # noqa: BLE001 - a bug in the core: this command fails, the exchange goes on
            self.fault("apply", exc, command=type(cmd).__name__, seq=env.seq)
            return [rejection(cmd, "INTERNAL", f"internal error ({type(exc).__name__})")]
        try:
            hub.publish(events, touched, ts)
        except Exception as exc:  # noqa: BLE001 - the command stands; some stream messages are lost
            self.fault("publish", exc, command=type(cmd).__name__, seq=env.seq)
        if self.log_commands and not origin.startswith("agent:"):  # agents: journaled, not logged
            self._log(env, events)
        return events

    def flush_journal(self, sync: bool = False) -> str | None:
        """Hand the journal to the OS now (`sync`: and to the disk); why it cannot be written, or None."""
        if self.journal_error is None:
            try:
                (self.journal.sync if sync else self.journal.flush)()
            except OSError as exc:
                self._journal_failed(exc)
        return self.journal_error

    def _commit(self, journal_ok: bool) -> None:
        """End of a turn: flush the journal, then write the outputs; when the flush of this turn's
        commands failed, hold the outputs they touched until it succeeds."""
        error = self.flush_journal()
        dirty, self.dirty = self.dirty, []
        if error is not None and journal_ok:
            for out in dirty:
                if out.queued and not out.held:
                    out.held = True
                    self.held.append(out)
            return
        for out in dirty:
            try:
                out.flush()
            except Exception as exc:  # noqa: BLE001
                self.fault("write", exc)

    # -- journal faults ------------------------------------------------------------------------
    def _journal_failed(self, exc: OSError) -> None:
        self.journal_error = describe(exc)
        self._failed_at = self._retry_at = time.monotonic()
        self._refused = 0
        self.log.error("journal flush failed", error=self.journal_error, errno=exc.errno, retry_every_s=JOURNAL_RETRY_S)

    def _retry_journal(self) -> None:
        now = time.monotonic()
        if now < self._retry_at + JOURNAL_RETRY_S:
            return
        self._retry_at = now
        try:
            self.journal.flush()
        except OSError:
            return
        self.log.warning("journal recovered", failed_for_s=round(now - self._failed_at, 3), refused=self._refused)
        self.journal_error = None
        held, self.held = self.held, []
        for out in held:
            out.held = False
            try:
                out.flush()
            except Exception as exc:  # noqa: BLE001
                self.fault("write", exc)

    def _log(self, env: Envelope, events: list) -> None:
        cmd = env.command
        rejected = next((e for e in events if type(e).__name__ in ("OrderRejected", "CommandRejected")), None)
        self.log.info("command", seq=env.seq, ts_ns=env.ts_ns, origin=env.origin, command=type(cmd).__name__,
                      account=getattr(cmd, "account", None), symbol=getattr(cmd, "symbol", None), events=len(events),
                      rejected=rejected.code if rejected is not None else None)
