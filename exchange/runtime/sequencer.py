"""The single writer: stamp -> journal append -> apply -> fan out; flush the journal, then answer.

Work is queued per fairness key (a connection; None for the server's own feeds and timers), and
the keys are served up to PER_VISIT items at a time in start-time fair order (fair.py): a key with a
thousand queued requests delays another key's lone request by a few items, not a thousand. A turn serves at most `turn_items` items or runs for at most `turn_s` seconds, then
flushes the journal once (group commit) and only then writes the outputs the turn touched, so no
client sees the effect of a command that is not in the journal; then the loop reads the sockets again. Items of one key run in the order they were submitted; queries
travel through the same queues (but not the journal), so a connection reads its own writes.

An exception in one item costs that item only: its command is answered with a rejection event, the
fault is logged once per kind (FaultLog). A command whose journal record cannot be encoded is not
applied. When the journal cannot be written (OSError: disk full, I/O error), every output of that
turn is held, every queued command is refused with JOURNAL_UNAVAILABLE, `journal_error` says why,
and the flush is retried every JOURNAL_RETRY_S: once it succeeds the held outputs go out.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..core.commands import Envelope
from ..core.engine import Exchange
from ..core.events import CommandRejected
from ..persistence import JournalWriter
from .clock import Clock
from .fair import FairOrder
from .faults import FaultLog, describe
from .hub import Hub

Done = Callable[[list], None]  # called with the events of the applied commands
JOURNAL_RETRY_S = 0.25
PER_VISIT = 16  # items served from a key's queue each time its turn in the round comes


def rejection(command: Any, code: str, message: str) -> CommandRejected:
    account = getattr(command, "account", -1)
    return CommandRejected(account if type(account) is int else -1, type(command).__name__, code, message)


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
        self.queues: dict[Any, deque[tuple[Any, str, Any]]] = {}
        self.order = FairOrder()  # the keys with queued work, in serving order
        self.dirty: list = []  # outputs written at the end of the turn: .flush(), .queued (output waiting), .held
        self.held: list = []  # outputs held until the journal can be written again
        self.journal_error: str | None = None
        self._failed_at = self._retry_at = 0.0
        self._refused = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    # -- producers -----------------------------------------------------------------------------
    def submit(self, commands: Any, origin: str, done: Done | None = None, key: Any = None) -> None:
        """Queue a command (or a list of commands applied back to back) from `origin`. `key` is the
        fairness key, e.g. the submitting connection: one queue per key, served round-robin."""
        self._queue(key, (commands, origin, done))

    def call(self, fn: Callable[[], None], key: Any = None) -> None:
        """Queue a read (query, snapshot) to run in order with the key's commands, outside the journal."""
        self._queue(key, (None, "", fn))

    def _queue(self, key: Any, item: tuple[Any, str, Any]) -> None:
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = deque()
            self.order.add(key)
        queue.append(item)
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
            if self.queues:
                self._wake.set()
            await asyncio.sleep(0)  # let the sockets read and write before the next turn

    def drain(self) -> None:
        """Serve everything queued."""
        self.turn()
        while self.queues:
            self.turn()

    def turn(self) -> None:
        """Serve queued items round-robin within the turn's budget, flush the journal, write the outputs."""
        if self.journal_error is not None:
            self._retry_journal()
        order, queues = self.order, self.queues
        clock = time.perf_counter
        deadline = clock() + self.turn_s
        served = 0
        while order and served < self.turn_items and clock() < deadline:
            key = order.pop()
            queue = queues[key]
            n = 0
            while n < PER_VISIT:
                self._serve(queue.popleft())
                n += 1
                if not queue or clock() > deadline:
                    break
            served += n
            order.done(key, n, bool(queue))
            if not queue:
                del queues[key]
        self._commit()

    def _serve(self, item: tuple[Any, str, Any]) -> None:
        commands, origin, done = item
        if commands is None:
            try:
                done()
            except Exception as exc:  # noqa: BLE001 - a bug in a read costs that read
                self.fault("read", exc)
            return
        events: list = []
        for cmd in commands if type(commands) is list else (commands,):
            events += self._apply(cmd, origin)
        if done is not None:
            try:
                done(events)
            except Exception as exc:  # noqa: BLE001
                self.fault("answer", exc, command=type(commands).__name__)

    def _apply(self, cmd: Any, origin: str) -> list:
        """Journal and apply one command; its events, or a rejection when it could not be done."""
        if self.journal_error is not None:
            self._refused += 1
            return [rejection(cmd, "JOURNAL_UNAVAILABLE", f"the journal cannot be written ({self.journal_error}): "
                              "the exchange accepts no command until it can")]
        ex = self.ex
        ts = max(self.clock.now_ns(), ex.ts_ns)  # time never runs backwards in the journal
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
        try:
            touched = hub.touched_before(cmd)
        except Exception as exc:  # noqa: BLE001
            self.fault("publish", exc, command=type(cmd).__name__)
            touched = []
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

    def _commit(self) -> None:
        """End of a turn: flush the journal, then write (or, while it cannot be written, hold) the outputs."""
        self.flush_journal()
        dirty, self.dirty = self.dirty, []
        if self.journal_error is not None:
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
