"""The live market: a scenario's agent population inside the exchange process, in wall-clock time.

The same I/O-free agent classes as in the virtual-time kernel. They live on the server's asyncio
loop: their timers run on the exchange clock (so `--speed` speeds them up), their events come from
the sequencer's fan-out (a `Hub` listener: each applied command's events, routed to the agents they
concern exactly as the kernel routes them), and their commands go to the one `Sequencer` with origin
`agent:<i>`, so everything is journaled, applied in order with everyone else's commands, and replays.
An agent may send only trading commands of its own account, with fields the journal can hold;
anything else, like an exception in its code, costs that call only (counted, the first few logged).

Agent i trades on account `first_account + i`. At start-up each agent whose account does not exist
yet gets one, funded with its deposit (`CreateAccount`, `Deposit`, origin `population`). An agent
whose account exists (a restart on a recovered exchange) resumes: its orders left from the previous
run are cancelled (`CancelAll`), its wallet is topped back up to its deposit if it has fallen below,
and its bookkeeping starts from the recovered position. Accounts from `first_account` up that no
agent takes any more (the population shrank) have their orders cancelled. Then every agent starts as
in a simulation (margin mode, leverage, its own first timer), with `ctx.now_ns` counting clock time
since start-up. An agent liquidated while running is revived `revive_after_s` later: a fresh agent
of its kind (new random draws) on the same account, resumed the same way, so the leveraged crowd
does not die out on a long-running server.

Work per loop turn is bounded (`MAX_CALLS_PER_TURN` agent calls, `MAX_COMMANDS_PER_TURN` commands,
`MAX_TURN_S` of CPU); what is left waits for the next turn of the event loop, after the gateway has
run, so a client's command waits behind at most one turn of the population's commands. Over time its
commands are bounded too (`max_commands_per_s` of real time, 1,000 by default): past that the agents
fall behind (their timers fire late), whatever the clock speed. Events wait in an inbox: past
`MAX_INBOX` entries, public news (mark ticks, the tape, others' liquidations) is dropped and counted;
an agent's own events never are.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, replace
from heapq import heappop, heappush
from pathlib import Path
from typing import Any

from ..core.commands import (
    AdjustIsolatedMargin,
    AmendOrder,
    CancelAll,
    CancelOrder,
    CreateAccount,
    Deposit,
    PlaceOrder,
    SetAutoAddMargin,
    SetLeverage,
    SetMarginMode,
)
from ..core.engine import MAX_CASH, Exchange
from ..core.events import CommandRejected, LiquidationTriggered, OrderRejected
from ..sim.agent import BOOK, Agent, AgentContext, Holding, MarketView, TopOfBook
from ..sim.agents import agent_class
from ..sim.routing import PUBLIC_KINDS, Router, refresh_view
from ..sim.runner import agent_rng, make_agent
from ..sim.scenario import AgentSpec, load_scenario, resolve
from .clock import Clock
from .sequencer import Sequencer

FIRST_ACCOUNT = 1_000_000
MAX_AGENTS = 100_000
MAX_CALLS_PER_TURN = 64
MAX_COMMANDS_PER_TURN = 32
MAX_TURN_S = 0.002
MAX_COMMANDS_PER_S = 1000.0
MAX_INBOX = 100_000
REVIVE_AFTER_S = 300.0
AGENT_COMMANDS = frozenset({PlaceOrder, CancelOrder, CancelAll, AmendOrder, SetLeverage, SetMarginMode,
                            AdjustIsolatedMargin, SetAutoAddMargin})
INT64 = 2**63  # what the journal can hold; the core checks the real ranges
MAX_TEXT = 64
MIN_WAIT_S = 0.001
FAIRNESS_KEY = "population"  # the sequencer serves the population as one producer among the connections  # the shortest real-time sleep between turns when only timers are pending


@dataclass(frozen=True)
class PopulationSpec:
    """Who is in the live market: agent specs (in order: agent i is the i-th built), seed, accounts."""

    agents: tuple[AgentSpec, ...]
    seed: int = 1
    first_account: int = FIRST_ACCOUNT
    revive_after_s: float = REVIVE_AFTER_S
    max_commands_per_s: float = MAX_COMMANDS_PER_S
    source: str = "inline"

    @property
    def size(self) -> int:
        return sum(a.count for a in self.agents)


def _checked(spec: AgentSpec, default_symbol: str) -> AgentSpec:
    if not isinstance(spec.kind, str) or not isinstance(spec.agent, str):
        raise ValueError(f"population: kind and agent must be strings, not {spec.kind!r}, {spec.agent!r}")
    try:
        agent_class(spec.kind, spec.agent)
    except ValueError as exc:
        raise ValueError(f"population: {exc}") from None
    name = spec.kind or spec.agent
    if isinstance(spec.count, bool) or not isinstance(spec.count, int) or spec.count < 0:
        raise ValueError(f"population: count of {name} must be a non-negative integer, not {spec.count!r}")
    if not isinstance(spec.params, dict) or not isinstance(spec.symbol, str):
        raise ValueError(f"population: params of {name} must be a table and symbol a string")
    return spec if spec.symbol else replace(spec, symbol=default_symbol)


def _inline(entry: Any) -> AgentSpec:
    try:
        return AgentSpec(**{"kind": "", **entry})
    except TypeError as exc:
        raise ValueError(f"population: an agent is {{kind or agent, count, params, symbol}}, not {entry!r} "
                         f"({exc})") from None


def population_spec(table: dict[str, Any], config_dir: Path, symbols: list[str]) -> PopulationSpec | None:
    """The [population] table of a server config: `scenario` (a file relative to the config, or a name
    in configs/scenarios) and/or inline `agents`, `seed`, `first_account`, `enabled`. None when off."""
    known = {"scenario", "agents", "seed", "first_account", "revive_after_s", "max_commands_per_s", "enabled"}
    if set(table) - known:
        raise ValueError(f"population: unknown keys {sorted(set(table) - known)}; known: {sorted(known)}")
    if table.get("enabled", True) is not True:
        if table["enabled"] is not False:
            raise ValueError("population: enabled must be true or false")
        return None
    agents: list[AgentSpec] = []
    seed, source = 1, "inline"
    if "scenario" in table:
        name = str(table["scenario"])
        path = config_dir / name if (config_dir / name).is_file() else resolve(name)
        scenario = load_scenario(str(path))
        agents += [_checked(a, scenario.config.instruments[0].symbol) for a in scenario.agents]
        seed, source = scenario.seed, str(path)
    inline = table.get("agents", [])
    if not isinstance(inline, list):
        raise ValueError("population: agents must be a list of {kind, count, params, symbol}")
    agents += [_checked(_inline(a), symbols[0]) for a in inline]
    for key in ("seed", "first_account"):
        value = table.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**62):
            raise ValueError(f"population: {key} must be a non-negative integer, not {value!r}")
    revive = table.get("revive_after_s", REVIVE_AFTER_S)
    if isinstance(revive, bool) or not isinstance(revive, int | float) or not 0 <= revive <= 1e9:
        raise ValueError(f"population: revive_after_s must be a number of seconds >= 0 (0: never), not {revive!r}")
    rate = table.get("max_commands_per_s", MAX_COMMANDS_PER_S)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 1 <= rate <= 1e6:
        raise ValueError(f"population: max_commands_per_s must be a number in [1, 1000000], not {rate!r}")
    spec = PopulationSpec(tuple(agents), table.get("seed", seed), table.get("first_account", FIRST_ACCOUNT),
                          float(revive), float(rate), source)
    if spec.size > MAX_AGENTS:
        raise ValueError(f"population: {spec.size} agents is more than {MAX_AGENTS}")
    unknown = {a.symbol for a in spec.agents} - set(symbols)
    if unknown:
        raise ValueError(f"population: agents trade {sorted(unknown)}, which the exchange does not list")
    return spec


class Population:
    """Hosts the agents on the running loop (see the module docstring)."""

    def __init__(self, exchange: Exchange, sequencer: Sequencer, clock: Clock, spec: PopulationSpec, log: Any) -> None:
        self.ex = exchange
        self.sequencer = sequencer
        self.clock = clock
        self.spec = spec
        self.log = log
        self.views = {s: MarketView(s) for s in exchange.instruments}
        self.kinds = [a for a in spec.agents for _ in range(a.count)]  # agent i's spec
        self.agents = [self.build_agent(i, 0) for i in range(len(self.kinds))]
        for a in self.agents:
            if not 0 < a.deposit_cash <= MAX_CASH:
                raise ValueError(f"population: {a.ctx.name} deposits {a.deposit_cash} cash units; the most is {MAX_CASH}")
        self.generation = [0] * len(self.agents)
        self.revive_ns = int(spec.revive_after_s * 1e9)
        self.accounts = range(spec.first_account, spec.first_account + len(self.agents))
        self.router = Router(self.agents)
        self.origins = [f"agent:{i}" for i in range(len(self.agents))]
        self.inbox: deque[tuple[int, Any]] = deque()
        self.heap: list[tuple[int, int, int]] = []  # (wake_ns, order, agent i), or -1 - i: revive agent i
        self.scheduled = [-1] * len(self.agents)
        self.order = 0
        self.t0_ns = 0
        self.rate = spec.max_commands_per_s  # commands per second of real time, with bursts of a tenth of that
        self.burst = max(float(MAX_COMMANDS_PER_TURN), self.rate / 10)
        self.tokens = self.burst
        self.stamp = time.monotonic()
        self.stats = {"created": 0, "resumed": 0, "cancelled_orders": 0, "topped_up": 0, "revived": 0, "calls": 0,
                      "commands": 0, "turns": 0, "full_turns": 0, "rate_limited_turns": 0, "dropped_events": 0,
                      "agent_errors": 0}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def build_agent(self, i: int, generation: int) -> Agent:
        """Agent i as the scenario describes it; generation 0 draws as agent i of `simulate` does."""
        spec = self.kinds[i]
        cls = agent_class(spec.kind, spec.agent)
        ctx = AgentContext(account=self.spec.first_account + i, instruments=dict(self.ex.instruments),
                           rng=agent_rng(self.spec.seed + 7_919 * generation, i), market=self.views,
                           name=f"{spec.kind or cls.kind}-{i}")
        return make_agent(cls, spec, ctx)

    # -- start-up ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Create or resume every agent's account, wait until that is applied, then start the agents."""
        setup: list = []
        for agent in self.agents:
            acct = self.ex.accounts.get(agent.ctx.account)
            if acct is None:
                setup += [CreateAccount(agent.ctx.account), Deposit(agent.ctx.account, agent.deposit_cash)]
                self.stats["created"] += 1
            else:
                setup += self._resume(agent, acct)
                self.stats["resumed"] += 1
        for account in sorted(a for a in self.ex.accounts if a >= self.spec.first_account and a not in self.accounts):
            setup += self._cancels(self.ex.accounts[account])  # an agent of a larger population before
        applied = asyncio.get_running_loop().create_future()
        self.sequencer.submit(setup, "population", applied.set_result, key=FAIRNESS_KEY)
        rejected = [ev for ev in await applied if type(ev) is OrderRejected or type(ev) is CommandRejected]
        if rejected:
            raise RuntimeError(f"the population's set-up was refused: {rejected[0]}")
        self.t0_ns = self.clock.now_ns()
        self.refresh_views()
        self.sequencer.hub.listeners.append(self.observe)
        for i, agent in enumerate(self.agents):
            agent.ctx.now_ns = 0
            self._call(i, agent.start)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="population")
        self._task.add_done_callback(self._ended)
        self.log.info("population started", agents=len(self.agents), source=self.spec.source,
                      **{k: self.stats[k] for k in ("created", "resumed", "cancelled_orders", "topped_up")})

    def _resume(self, agent: Agent, acct: Any) -> list:
        """Commands that clear what the previous run left, and the agent's bookkeeping rebuilt from the
        recovered account (its realized PnL: what the wallet holds beyond the deposit)."""
        cmds = self._cancels(acct)
        wallet = acct.wallet_total()
        if wallet < agent.deposit_cash:
            cmds.append(Deposit(acct.id, agent.deposit_cash - wallet))
            self.stats["topped_up"] += 1
            wallet = agent.deposit_cash
        pos = acct.positions.get(agent.symbol)
        agent.holding = Holding(pos.size, pos.cost) if pos is not None else Holding()
        agent.holding.realized = wallet - agent.deposit_cash
        return cmds

    def _cancels(self, acct: Any) -> list:
        """A CancelAll for each symbol the account has open orders in."""
        self.stats["cancelled_orders"] += len(acct.orders)
        return [CancelAll(acct.id, s) for s in sorted({o.symbol for o in acct.orders.values()})]

    def _ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("population stopped by an error; the market carries on without it",
                           error=repr(task.exception()))
            if self.observe in self.sequencer.hub.listeners:
                self.sequencer.hub.listeners.remove(self.observe)

    async def stop(self) -> None:
        if self.observe in self.sequencer.hub.listeners:
            self.sequencer.hub.listeners.remove(self.observe)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    # -- events in (called by the sequencer after each command) --------------------------------
    def observe(self, events: list, touched: list, ts_ns: int) -> None:
        inbox, route = self.inbox, self.router.targets
        for ev in events:
            targets = route(ev)
            if not targets:
                continue
            if len(inbox) >= MAX_INBOX:  # overloaded: keep an agent's own events, drop the news
                kept = self.router.parties(ev) if type(ev) in PUBLIC_KINDS else targets
                self.stats["dropped_events"] += len(targets) - len(kept)
                targets = kept
            for i in targets:
                inbox.append((i, ev))
        if inbox:
            self._wake.set()

    # -- the loop ------------------------------------------------------------------------------
    def now_ns(self) -> int:
        """Agent time: clock nanoseconds since the population started."""
        return self.clock.now_ns() - self.t0_ns

    def refresh_views(self) -> None:
        """Views from the core; a TopOfBook to the "book" subscribers where the best bid or ask moved."""
        watchers = BOOK in self.router.subscribers
        for view in self.views.values():
            if refresh_view(view, self.ex) and watchers:
                for i in self.router.subscribers[BOOK]:
                    self.inbox.append((i, TopOfBook(view.symbol, view.best_bid, view.best_ask)))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.turn()
            heap = self.heap
            if self.inbox or (heap and heap[0][0] <= self.now_ns()):
                self.stats["full_turns"] += 1
                if self.tokens < 1:  # over its command rate: the agents fall behind, the gateway does not
                    self.stats["rate_limited_turns"] += 1
                    await asyncio.sleep((1 - self.tokens) / self.rate)
                else:
                    await asyncio.sleep(0)  # more to do: let the gateway run first
                continue
            self._wake.clear()
            if heap:
                delay = max(MIN_WAIT_S, self.clock.wall_seconds((heap[0][0] - self.now_ns()) / 1e9))
                handle = loop.call_later(delay, self._wake.set)
                await self._wake.wait()
                handle.cancel()
            else:
                await self._wake.wait()

    def turn(self) -> None:
        """Deliver queued events, then due timers, within this turn's budget; submit the commands."""
        self.stats["turns"] += 1
        stamp = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (stamp - self.stamp) * self.rate)
        self.stamp = stamp
        self.refresh_views()
        deadline = time.perf_counter() + MAX_TURN_S
        inbox, heap, agents = self.inbox, self.heap, self.agents
        now = self.now_ns()
        calls = commands = 0
        allowed = min(MAX_COMMANDS_PER_TURN, self.tokens)
        while (inbox or (heap and heap[0][0] <= now)) and calls < MAX_CALLS_PER_TURN \
                and commands < allowed and time.perf_counter() < deadline:
            if inbox:
                i, ev = inbox.popleft()
                agents[i].ctx.now_ns = now
                commands += self._call(i, agents[i].on_event, ev)
                if type(ev) is LiquidationTriggered and self.revive_ns and agents[i].liquidated == 1:
                    self._push(now + self.revive_ns, -1 - i)
            else:
                t, _, i = heappop(heap)
                if i < 0:
                    commands += self._revive(-1 - i, now)
                    calls += 1
                    continue
                ctx = agents[i].ctx
                if ctx.wake_at_ns != t or self.scheduled[i] != t:
                    continue  # replaced by a later request
                ctx.wake_at_ns = self.scheduled[i] = -1
                ctx.now_ns = now
                commands += self._call(i, agents[i].on_timer)
            calls += 1
        self.stats["calls"] += calls
        self.stats["commands"] += commands
        self.tokens -= commands

    def _push(self, t: int, entry: int) -> None:
        self.order += 1
        heappush(self.heap, (t, self.order, entry))

    def _revive(self, i: int, now: int) -> int:
        """A fresh agent i (new random draws) on its liquidated account, resumed like after a restart."""
        self.generation[i] += 1
        agent = self.agents[i] = self.build_agent(i, self.generation[i])
        agent.ctx.now_ns = now
        self.scheduled[i] = -1
        self.stats["revived"] += 1
        cmds = self._resume(agent, self.ex.accounts[agent.ctx.account])
        if cmds:
            self.sequencer.submit(cmds, "population", key=FAIRNESS_KEY)
        return len(cmds) + self._call(i, agent.start)

    def _fault(self, agent: str, what: str, detail: str) -> None:
        self.stats["agent_errors"] += 1
        if self.stats["agent_errors"] <= 10:  # the first few, not a flood
            self.log.error(what, agent=agent, detail=detail)

    def _call(self, i: int, hook: Any, *args: Any) -> int:
        """Run one agent hook, schedule the timer it asked for, submit its commands; their count."""
        ctx = self.agents[i].ctx
        try:
            cmds = list(hook(*args) or ())
        except Exception as exc:  # a faulty agent costs its own call, never the market
            self._fault(ctx.name, "agent failed", repr(exc))
            cmds = []
        fit = [c for c in cmds if _fits(c, ctx.account)]
        if len(fit) < len(cmds):
            bad = next(c for c in cmds if not _fits(c, ctx.account))
            self._fault(ctx.name, "agent command refused", repr(bad)[:200])
            cmds = fit
        w = ctx.wake_at_ns
        if w >= 0 and w != self.scheduled[i]:
            self.scheduled[i] = w
            self._push(w, i)
        if cmds:
            self.sequencer.submit(cmds, self.origins[i], key=FAIRNESS_KEY)
        return len(cmds)


def _fits(cmd: Any, account: int) -> bool:
    """An agent may send only trading commands of its own account, with fields the journal can hold
    (ints within int64, short strings, bools); the core validates the rest and rejects as usual."""
    return type(cmd) in AGENT_COMMANDS and cmd.account == account and all(
        (type(v) is int and -INT64 <= v < INT64) or type(v) is bool or (type(v) is str and len(v) <= MAX_TEXT)
        for v in cmd)
