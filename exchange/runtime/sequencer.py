"""The single writer: stamp -> journal append -> apply -> fan out; flush the journal, then answer.

Work arrives in a queue from sessions, feeds and tickers. Each drain takes everything queued,
applies it in order, then flushes the journal once (group commit) and only then writes the
sessions' output, so no client ever sees the effect of a command that is not in the journal.
Queries travel through the same queue (but not the journal) so a connection reads its own writes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from ..core.commands import Envelope
from ..core.engine import Exchange
from ..persistence import JournalWriter
from .clock import Clock
from .hub import Hub

Done = Callable[[list], None]  # called with the events of the applied commands


class Sequencer:
    def __init__(self, exchange: Exchange, journal: JournalWriter, clock: Clock, hub: Hub, log: Any,
                 log_commands: bool = True) -> None:
        self.ex = exchange
        self.journal = journal
        self.clock = clock
        self.hub = hub
        self.log = log
        self.log_commands = log_commands
        self.queue: deque[tuple[Any, str, Done | None]] = deque()
        self.dirty: list = []  # sessions with output waiting for the end of the drain
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    # -- producers -----------------------------------------------------------------------------
    def submit(self, commands: Any, origin: str, done: Done | None = None) -> None:
        """Queue a command (or a list of commands applied back to back) from `origin`."""
        self.queue.append((commands, origin, done))
        self._wake.set()

    def call(self, fn: Callable[[], None]) -> None:
        """Queue a read (query, snapshot) to run in order with the commands, outside the journal."""
        self.queue.append((None, "", fn))
        self._wake.set()

    # -- the writer ----------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sequencer")

    async def stop(self) -> None:
        """Drain what is queued, flush and close the journal."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self.drain()
        self.journal.close()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self.drain()
            await asyncio.sleep(0)  # let the sockets read more before the next group

    def drain(self) -> None:
        queue = self.queue
        if not queue:
            return
        ex = self.ex
        hub = self.hub
        append = self.journal.append
        clock = self.clock
        while queue:
            commands, origin, done = queue.popleft()
            if commands is None:
                done()  # type: ignore[misc]
                continue
            events: list = []
            for cmd in commands if type(commands) is list else (commands,):
                ts = max(clock.now_ns(), ex.ts_ns)  # time never runs backwards in the journal
                env = Envelope(ex.seq + 1, ts, origin, cmd)
                append(env)
                touched = hub.touched_before(cmd)
                new = ex.apply(env)
                hub.publish(new, touched, ts)
                if self.log_commands:
                    self._log(env, new)
                events += new
            if done is not None:
                done(events)
        self.journal.flush()
        dirty, self.dirty = self.dirty, []
        for session in dirty:
            session.flush()

    def _log(self, env: Envelope, events: list) -> None:
        cmd = env.command
        rejected = next((e for e in events if type(e).__name__ in ("OrderRejected", "CommandRejected")), None)
        self.log.info("command", seq=env.seq, ts_ns=env.ts_ns, origin=env.origin, command=type(cmd).__name__,
                      account=getattr(cmd, "account", None), symbol=getattr(cmd, "symbol", None), events=len(events),
                      rejected=rejected.code if rejected is not None else None)
