"""Discrete-event kernel in virtual time: drives the core with envelopes stamped by virtual time.

One heap of (time, seq, kind, a, b) entries: index-feed ticks, agent timers and (with a latency model)
command arrivals. Popping an entry advances virtual time; there is no waiting, so a run goes as fast
as the CPU allows. Every command goes through `Exchange.apply` (journaled first, when a journal is
given); the events it returns update the agents' market views, go to the recorder, and are routed
(exchange/sim/routing.py): private events to the account's agent, public ones to the agents that
subscribed to their kind.
An agent with no timer and no subscription is never called: idle agents cost nothing.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

from .agent import BOOK, Agent, MarketView, TopOfBook

from ..core.commands import Envelope, IndexPrice
from ..core.engine import Exchange
from .feed import IndexFeed
from .routing import Router, refresh_view

FEED, TIMER, ARRIVAL = 0, 1, 2
MAX_COMMANDS_PER_INSTANT = 1_000_000  # agents answering each other forever at one instant is a bug


class Latency:
    """Seeded per-agent latency: base + exponential jitter, FIFO per agent."""

    __slots__ = ("base_ns", "jitter_ns", "last_ns", "rng")

    def __init__(self, base_ms: float, jitter_ms: float, rng: random.Random) -> None:
        self.base_ns = int(base_ms * 1e6)
        self.jitter_ns = jitter_ms * 1e6
        self.rng = rng
        self.last_ns = 0

    def arrival(self, now_ns: int) -> int:
        t = now_ns + self.base_ns + (int(self.rng.expovariate(1.0 / self.jitter_ns)) if self.jitter_ns else 0)
        self.last_ns = t = max(t, self.last_ns)
        return t


class Kernel:
    """Runs agents against an Exchange in virtual time (ns)."""

    def __init__(self, exchange: Exchange, agents: list[Agent], feeds: list[IndexFeed],
                 views: dict[str, MarketView], latencies: list[Latency | None] | None = None,
                 journal: Any = None, recorder: Callable[[int, list], None] | None = None) -> None:
        self.ex = exchange
        self.agents = agents
        self.feeds = feeds
        self.views = views
        self.latencies = latencies or [None] * len(agents)
        self.journal = journal
        self.recorder = recorder
        self.router = Router(agents)
        self.heap: list[tuple[int, int, int, int, Any]] = []
        self.scheduled = [-1] * len(agents)
        self.pending: deque[tuple[int, Any]] = deque()
        self.now = 0
        self.seq = 0
        self.order = 0
        self.commands = 0
        self.agent_calls = 0
        # a margin policy acting for agents: called with each command's events, returns (agent, command)s
        self.policy: Callable[[list], list[tuple[int, Any]]] | None = None

    # -- scheduling ----------------------------------------------------------------------------
    def _push(self, t: int, kind: int, a: int, b: Any = None) -> None:
        self.order += 1
        heappush(self.heap, (t, self.order, kind, a, b))

    def start(self, setup: list[tuple[int, Any]]) -> None:
        """Apply set-up commands (origin index, command; -1 = admin) at t=0, start feeds and agents."""
        for i, feed in enumerate(self.feeds):
            ticks = feed.at(0.0)
            if ticks is not None:
                self.submit(-1, IndexPrice(feed.inst.symbol, ticks))
            self._push(feed.interval_ns, FEED, i)
        for who, cmd in setup:
            self.submit(who, cmd)
        self._drain()
        for i, agent in enumerate(self.agents):
            agent.ctx.now_ns = 0
            self._after_agent(i, agent.start())
        self._drain()

    def run(self, until_ns: int, progress: Callable[[int], None] | None = None) -> None:
        """Process everything due up to until_ns, in time order."""
        heap, agents, feeds = self.heap, self.agents, self.feeds
        next_progress = 0
        while heap and heap[0][0] <= until_ns:
            t, _, kind, a, b = heappop(heap)
            self.now = t
            if kind == TIMER:
                agent = agents[a]
                ctx = agent.ctx
                if ctx.wake_at_ns != t or self.scheduled[a] != t:
                    continue
                ctx.wake_at_ns = self.scheduled[a] = -1
                ctx.now_ns = t
                self.agent_calls += 1
                self._after_agent(a, agent.on_timer())
            elif kind == FEED:
                feed = feeds[a]
                ticks = feed.at(t / 1e9)
                if ticks is not None:
                    self.submit(-1, IndexPrice(feed.inst.symbol, ticks))
                self._push(t + feed.interval_ns, FEED, a)
                if progress is not None and t >= next_progress:
                    progress(t)
                    next_progress = t + until_ns // 200
            else:
                self._apply(a, b)
            self._drain()
        self.now = until_ns

    # -- commands and events -------------------------------------------------------------------
    def _after_agent(self, i: int, cmds: list) -> None:
        ctx = self.agents[i].ctx
        w = ctx.wake_at_ns
        if w >= 0 and w != self.scheduled[i]:
            if w <= self.now:
                ctx.wake_at_ns = w = self.now + 1
            self.scheduled[i] = w
            self._push(w, TIMER, i)
        for cmd in cmds:
            self.submit(i, cmd)

    def submit(self, i: int, cmd: Any) -> None:
        """Queue a command from agent i (-1 = the feed or admin), after its latency if it has one."""
        lat = self.latencies[i] if i >= 0 else None
        if lat is None:
            self.pending.append((i, cmd))
        else:
            self._push(lat.arrival(self.now), ARRIVAL, i, cmd)

    def _drain(self) -> None:
        pending = self.pending
        n = 0
        while pending:
            i, cmd = pending.popleft()
            self._apply(i, cmd)
            n += 1
            if n > MAX_COMMANDS_PER_INSTANT:
                raise RuntimeError(f"more than {MAX_COMMANDS_PER_INSTANT} commands at t={self.now} ns")

    def _apply(self, i: int, cmd: Any) -> None:
        self.seq += 1
        self.commands += 1
        env = Envelope(self.seq, self.now, "feed" if i < 0 else f"agent:{i}", cmd)
        if self.journal is not None:
            self.journal.append(env)
        events = self.ex.apply(env)
        symbol = getattr(cmd, "symbol", None)
        book_changed = symbol is not None and self._refresh_view(symbol)
        if self.recorder is not None:
            self.recorder(self.now, events)
        self._route(events)
        if self.policy is not None:
            for who, extra in self.policy(events):
                self.submit(who, extra)
        if book_changed and BOOK in self.router.subscribers:
            view = self.views[symbol]
            self._route([TopOfBook(symbol, view.best_bid, view.best_ask)])

    def _refresh_view(self, symbol: str) -> bool:
        """Bring the symbol's view up to date; True if the top of the book changed."""
        view = self.views.get(symbol)
        return view is not None and refresh_view(view, self.ex)

    def _route(self, events: list) -> None:
        targets, agents, now = self.router.targets, self.agents, self.now
        for ev in events:
            for i in targets(ev):
                agent = agents[i]
                agent.ctx.now_ns = now
                self.agent_calls += 1
                cmds = agent.on_event(ev)
                if cmds or agent.ctx.wake_at_ns != self.scheduled[i]:
                    self._after_agent(i, cmds)
