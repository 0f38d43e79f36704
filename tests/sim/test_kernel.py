"""The discrete-event kernel: virtual time, latency, routing, idle agents."""

from __future__ import annotations

import itertools
import random

from exchange.sim.agent import NS, Agent, AgentContext, MarketView, TopOfBook
from exchange.config import load_config
from exchange.core.commands import BUY, CreateAccount, Deposit
from exchange.core.engine import Exchange
from exchange.sim.feed import IndexFeed, StaticSource
from exchange.sim.kernel import Kernel, Latency

INSTRUMENTS = tuple(i for i in load_config().instruments if i.symbol == "BTCUSDT")


class Probe(Agent):
    """Places one limit buy at t=1 s (if active) and records every call it gets."""

    kind = "probe"

    def __init__(self, ctx: AgentContext, active: bool) -> None:
        super().__init__(ctx)
        self.active = active
        self.calls: list[tuple[int, str]] = []

    def on_start(self) -> list:
        if self.active:
            self.ctx.wake_in(NS)
        return []

    def on_tick(self) -> list:
        self.calls.append((self.ctx.now_ns, "timer"))
        return [self.limit(BUY, 10, 590_000)]

    def on_event(self, ev) -> list:
        self.calls.append((self.ctx.now_ns, type(ev).__name__))
        return super().on_event(ev)


def make(latency_ms: float) -> tuple[Kernel, list[Probe], list]:
    ex = Exchange(INSTRUMENTS)
    views = {"BTCUSDT": MarketView("BTCUSDT")}
    instruments = dict(ex.instruments)
    agents = [Probe(AgentContext(i + 1, instruments, random.Random(i), views), active=(i == 0)) for i in range(3)]
    feed = IndexFeed(instruments["BTCUSDT"], StaticSource(600_000.0))
    journal: list = []

    class ListJournal:
        append = staticmethod(journal.append)

    lat = [Latency(latency_ms, 0, random.Random(9)), None, None]
    kernel = Kernel(ex, agents, [feed], views, lat, ListJournal())
    setup = [(-1, c) for a in agents for c in (CreateAccount(a.ctx.account), Deposit(a.ctx.account, 10**10))]
    kernel.start(setup)
    kernel.run(5 * NS)
    return kernel, agents, journal


def test_latency_delays_the_command_in_virtual_time():
    """A command sent at t=1 s with 25 ms latency is applied at t=1.025 s; its events come back then."""
    _, agents, journal = make(25)
    placed = [env for env in journal if type(env.command).__name__ == "PlaceOrder"]
    assert [env.ts_ns for env in placed] == [NS + 25_000_000]
    assert (NS + 25_000_000, "OrderAccepted") in agents[0].calls
    assert agents[0].open_orders and agents[0].view.best_bid == 590_000


def test_idle_agents_are_never_called():
    """Agents without a timer or a subscription cost nothing: they get no call at all."""
    kernel, agents, journal = make(0)
    for idle in agents[1:]:  # only the events of their own set-up, at t=0
        assert [name for _, name in idle.calls] == ["AccountCreated", "BalanceChanged", "MarginModeSet", "LeverageSet"]
        assert {t for t, _ in idle.calls} == {0}
    assert agents[0].calls[4] == (NS, "timer")
    # index ticks: 1 at start + 5; accounts and deposits: 6; margin mode and leverage: 6; one order
    assert len(journal) == kernel.commands == 6 + 6 + 6 + 1
    assert [env.seq for env in journal] == list(range(1, len(journal) + 1))
    assert all(a.ts_ns <= b.ts_ns for a, b in itertools.pairwise(journal))


class BookWatcher(Agent):
    """Records the TopOfBook events it subscribed to."""

    kind = "book_watcher"
    subscriptions = frozenset({"book"})

    def __init__(self, ctx: AgentContext) -> None:
        super().__init__(ctx)
        self.tops: list = []

    def on_public(self, ev) -> list:
        self.tops.append(ev)
        return []


def test_book_subscribers_see_each_change_of_the_top_of_book():
    ex = Exchange(INSTRUMENTS)
    views = {"BTCUSDT": MarketView("BTCUSDT")}
    instruments = dict(ex.instruments)
    probe = Probe(AgentContext(1, instruments, random.Random(1), views), active=True)
    watcher = BookWatcher(AgentContext(2, instruments, random.Random(2), views))
    feed = IndexFeed(instruments["BTCUSDT"], StaticSource(600_000.0))
    kernel = Kernel(ex, [probe, watcher], [feed], views)
    kernel.start([(-1, c) for a in (1, 2) for c in (CreateAccount(a), Deposit(a, 10**10))])
    kernel.run(3 * NS)
    assert watcher.tops == [TopOfBook("BTCUSDT", 590_000, 0)]  # the probe's bid at t=1 s; nothing else moved it
