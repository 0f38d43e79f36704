"""The live population (exchange/runtime/population.py) on a real Exchange and Sequencer, driven turn
by turn with a hand-moved clock: its [population] table, its per-turn budget, the bounded inbox, and
a faulty agent costing only its own calls."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from exchange.config import CONFIG_DIR, load_config
from exchange.core.commands import CreateAccount, Deposit, Envelope, IndexPrice, PlaceOrder, Withdraw
from exchange.core.engine import Exchange
from exchange.core.events import OrderAccepted, PublicLiquidation
from exchange.persistence import JournalWriter, read_journal
from exchange.runtime import population as pop_module
from exchange.runtime.hub import Hub
from exchange.runtime.logcfg import get_logger
from exchange.runtime.population import FIRST_ACCOUNT, Population, PopulationSpec, population_spec
from exchange.runtime.sequencer import Sequencer
from exchange.sim.scenario import AgentSpec, load_scenario

CONFIG = load_config()
SYMBOLS = [i.symbol for i in CONFIG.instruments]
NS = 1_000_000_000


class HandClock:
    def __init__(self) -> None:
        self.t = 10 * NS

    def now_ns(self) -> int:
        return self.t

    def wall_seconds(self, clock_seconds: float) -> float:
        return clock_seconds


def test_a_scenario_and_inline_agents_make_one_population():
    spec = population_spec({"scenario": "live_market", "agents": [{"kind": "noise", "count": 3}], "seed": 9},
                           CONFIG_DIR, SYMBOLS)
    scenario = load_scenario("live_market")
    assert spec.agents[:-1] == tuple(replace(a, symbol="BTCUSDT") for a in scenario.agents)  # its first symbol
    assert spec.agents[-1] == AgentSpec("noise", 3, symbol="BTCUSDT")
    assert (spec.size, spec.seed, spec.first_account) == (scenario.agent_count + 3, 9, FIRST_ACCOUNT)
    assert population_spec({"scenario": "scenarios/live_market.toml"}, CONFIG_DIR, SYMBOLS).seed == scenario.seed
    assert population_spec({"enabled": False, "scenario": "nonexistent"}, CONFIG_DIR, SYMBOLS) is None
    by_path = population_spec({"agents": [{"agent": "exchange.sim.agents.noise:NoiseTaker", "count": 2}]},
                              CONFIG_DIR, SYMBOLS)  # a class by import path, as in a scenario
    assert by_path.agents == (AgentSpec("", 2, symbol="BTCUSDT", agent="exchange.sim.agents.noise:NoiseTaker"),)


@pytest.mark.parametrize("table, error", [
    ({"scenery": "demo"}, "unknown keys \\['scenery'\\]"),
    ({"enabled": "yes"}, "enabled must be true or false"),
    ({"scenario": "no_such_scenario"}, "no scenario 'no_such_scenario'"),
    ({"agents": {"kind": "noise"}}, "agents must be a list"),
    ({"agents": [{"kind": "dolphin", "count": 1}]}, "unknown agent kind 'dolphin'"),
    ({"agents": [{"agent": "nowhere.at_all:Bot", "count": 1}]}, "cannot import 'nowhere.at_all'"),
    ({"agents": [{"kind": "noise", "count": -1}]}, "count of noise must be a non-negative integer"),
    ({"agents": [{"kind": "noise", "count": 1.5}]}, "count of noise must be a non-negative integer"),
    ({"agents": [{"kind": "noise", "count": 1, "colour": "red"}]}, "an agent is"),
    ({"agents": [{"kind": "noise", "count": 1, "params": [1]}]}, "params of noise must be a table"),
    ({"agents": [{"kind": "noise", "count": 1, "symbol": "DOGEUSDT"}]}, "agents trade \\['DOGEUSDT'\\]"),
    ({"agents": [{"kind": "noise", "count": 100_001}]}, "more than 100000"),
    ({"seed": "x"}, "seed must be a non-negative integer"),
    ({"first_account": -5}, "first_account must be a non-negative integer"),
    ({"revive_after_s": -1}, "revive_after_s must be a number"),
    ({"max_commands_per_s": 0}, "max_commands_per_s must be a number in"),
])
def test_bad_population_tables_are_refused(table, error):
    with pytest.raises((ValueError, FileNotFoundError), match=error):
        population_spec(table, CONFIG_DIR, SYMBOLS)


def make(tmp_path: Path, agents: list[AgentSpec], **spec: float) -> tuple[Population, Sequencer, HandClock]:
    ex = Exchange(CONFIG.instruments, CONFIG.initial_insurance_fund_cash)
    clock = HandClock()
    seq = Sequencer(ex, JournalWriter(tmp_path / "journal.msgpack"), clock, Hub(ex), get_logger("test"), False)
    seq.drain()
    ex.apply(Envelope(1, clock.t, "feed", IndexPrice("BTCUSDT", 300_000)))
    return Population(ex, seq, clock, PopulationSpec(tuple(agents), seed=3, **spec), get_logger("test")), seq, clock


def set_up(pop: Population, seq: Sequencer) -> None:
    """What Population.start does, without a loop: accounts, then every agent's start."""
    for a in pop.agents:
        seq.submit([CreateAccount(a.ctx.account), Deposit(a.ctx.account, a.deposit_cash)], "population")
    seq.drain()
    pop.t0_ns = pop.clock.now_ns()
    seq.hub.listeners.append(pop.observe)
    for i, a in enumerate(pop.agents):
        pop._call(i, a.start)
    seq.drain()


def queued(seq: Sequencer) -> list:
    return [item for queue in seq.queues.values() for item in queue]


def queued_commands(seq: Sequencer) -> int:
    return sum(len(c) if type(c) is list else 1 for c, _, _ in queued(seq) if c is not None)


def test_a_turn_stays_within_its_budget_and_the_rest_waits(tmp_path):
    """200 makers all due at once: each turn makes at most MAX_CALLS_PER_TURN calls and stops once it
    has submitted MAX_COMMANDS_PER_TURN commands (plus the last call's); the others wait their turn."""
    maker = AgentSpec("market_maker", 200, {"deposit_usdt": 1_000_000, "levels": 2, "refresh_s": 1}, "BTCUSDT")
    pop, seq, clock = make(tmp_path, [maker])
    set_up(pop, seq)
    clock.t += NS  # every maker's first refresh is due
    per_call = 2 * 2  # two levels a side
    turns = 0
    while pop.inbox or (pop.heap and pop.heap[0][0] <= pop.now_ns()):
        before = pop.stats["calls"]
        pop.turn()
        turns += 1
        assert pop.stats["calls"] - before <= pop_module.MAX_CALLS_PER_TURN
        assert queued_commands(seq) <= pop_module.MAX_COMMANDS_PER_TURN + per_call
        seq.drain()
    assert turns >= 200 * per_call // (pop_module.MAX_COMMANDS_PER_TURN + per_call)
    assert all(len(pop.ex.accounts[a.ctx.account].orders) == per_call for a in pop.agents)


def test_past_the_inbox_bound_news_is_dropped_and_own_events_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(pop_module, "MAX_INBOX", 5)
    hunters = AgentSpec("hunter", 2, {}, "BTCUSDT")  # subscribed to public liquidations
    pop, seq, _ = make(tmp_path, [hunters])
    news = PublicLiquidation("BTCUSDT", -1, 10, 290_000, 10, 291_000, "CROSS")
    own = OrderAccepted(FIRST_ACCOUNT + 1, "BTCUSDT", 7, 1, "LIMIT", 299_000, 10, "GTC", False, 0, "")
    pop.observe([news, news, news, own, news, own], [], 0)
    assert [(i, type(e).__name__) for i, e in pop.inbox] == [
        (0, "PublicLiquidation"), (1, "PublicLiquidation"), (0, "PublicLiquidation"), (1, "PublicLiquidation"),
        (0, "PublicLiquidation"), (1, "PublicLiquidation"), (1, "OrderAccepted"), (1, "OrderAccepted")]
    assert pop.stats["dropped_events"] == 2


def test_a_failing_agent_costs_its_own_calls_only(tmp_path):
    maker = AgentSpec("market_maker", 1, {"deposit_usdt": 1_000_000, "refresh_s": 1}, "BTCUSDT")
    noise = AgentSpec("noise", 3, {"mean_interval_s": 1, "size_usdt": 1000}, "BTCUSDT")
    pop, seq, clock = make(tmp_path, [maker, noise])
    set_up(pop, seq)

    def broken() -> list:
        raise ZeroDivisionError("a bug in an agent")
    pop.agents[2].on_timer = broken  # type: ignore[method-assign]
    for _ in range(60):
        clock.t += NS // 2
        pop.turn()
        seq.drain()
    seq.journal.flush()
    orders = Counter(env.origin for env in read_journal(tmp_path / "journal.msgpack")
                     if type(env.command) is PlaceOrder)
    assert pop.stats["agent_errors"] >= 1 and orders["agent:2"] == 0
    assert orders["agent:0"] > 20 and orders["agent:1"] > 5 and orders["agent:3"] > 5
    assert pop.agents[1].holding.size or pop.agents[3].holding.size


def test_an_agent_may_send_only_journalable_commands_of_its_own_account(tmp_path):
    """A command for another account, an admin command, or a field the journal cannot hold is refused
    before it reaches the sequencer; the agent's other commands go through."""
    noise = AgentSpec("noise", 2, {}, "BTCUSDT")
    pop, seq, _ = make(tmp_path, [noise])
    me, other = FIRST_ACCOUNT, FIRST_ACCOUNT + 1
    good = PlaceOrder(me, "BTCUSDT", 1, 10, 299_000)
    bad = [PlaceOrder(other, "BTCUSDT", 1, 10, 299_000), Withdraw(me, 5), PlaceOrder(me, "BTCUSDT", 1, 10**30, 1),
           PlaceOrder(me, "BTCUSDT", 1, 10, 299_000, client_order_id="x" * 65), PlaceOrder(me, "BTCUSDT", 1, 1.5, 2),
           "not a command"]
    assert pop._call(0, lambda: [*bad, good]) == 1
    assert [c for c, origin, _ in queued(seq)] == [[good]] and pop.stats["agent_errors"] == 1
    assert list(seq.queues) == ["population"]  # one fairness key for all its agents
    seq.drain()  # and the journal takes it


def test_a_deposit_the_core_cannot_hold_is_a_configuration_error(tmp_path):
    with pytest.raises(ValueError, match="noise-0 deposits"):
        make(tmp_path, [AgentSpec("noise", 1, {"deposit_usdt": 1e30}, "BTCUSDT")])


def test_over_time_the_population_keeps_to_its_command_rate(tmp_path):
    """With makers always due (a clock racing ahead), the commands submitted in real time stay within
    the burst plus max_commands_per_s x elapsed; the agents fall behind instead."""
    maker = AgentSpec("market_maker", 50, {"deposit_usdt": 1_000_000, "levels": 2, "refresh_s": 1}, "BTCUSDT")
    pop, seq, clock = make(tmp_path, [maker], max_commands_per_s=200)
    set_up(pop, seq)
    start, sent = time.monotonic(), pop.stats["commands"]
    while time.monotonic() - start < 0.3:
        clock.t += NS  # every maker due again on every turn
        pop.turn()
        seq.drain()
    elapsed = time.monotonic() - start
    assert pop.stats["commands"] - sent <= pop.burst + 200 * elapsed + 5
    assert pop.stats["commands"] - sent >= 200 * elapsed * 0.5  # and it does use its rate
