"""Build a simulation from a scenario, run it in virtual time, write journal, events, summary, report.

A run directory holds `run.json` (the scenario's tables and seed: what rebuilds the run), the journal
(what replays it), `summary.json`, optionally `events.msgpack`, and for a fork the snapshot it starts
from (see fork.py).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .agent import Agent, AgentContext, MarketView
from .agents import agent_class

from ..core.commands import CreateAccount, Deposit
from ..core.engine import Exchange
from ..persistence import JOURNAL_NAME, JournalWriter
from .feed import build_feed
from .kernel import Kernel, Latency
from .recorder import EVENTS_NAME, Recorder
from .report import summarize, write_summary
from .scenario import AgentSpec, Scenario, parse_scenario
from .simulation import Simulation

NS = 1_000_000_000
RUN_NAME = "run.json"


def agent_rng(seed: int, index: int, stream: int = 0) -> random.Random:
    """The seeded RNG of agent `index` (stream 0: its decisions, 1: its latency)."""
    return random.Random(seed * 1_000_003 + index * 7 + stream)


def feed_seed(seed: int, index: int) -> int:
    """The seed of feed `index` of a run, for a gbm feed that names none."""
    return seed * 31 + index


def make_agent(cls: type[Agent], spec: AgentSpec, ctx: AgentContext) -> Agent:
    """One agent of a group, built with the group's parameters and labelled with its kind."""
    agent = cls(ctx, spec.symbol, **spec.params)
    if spec.kind and spec.kind != cls.kind:
        agent.kind = spec.kind  # type: ignore[misc]  # the scenario's name for the group labels its rows
    return agent


def build(scenario: Scenario, out_dir: str | Path | None = None, events: bool = True) -> Simulation:
    """Exchange, feeds, agents and kernel for a scenario; with out_dir, a journal, run.json and (with
    `events`) an events file there."""
    cfg = scenario.config
    ex = Exchange(cfg.instruments, scenario.insurance_fund_cash, venue=cfg.venue, assets=cfg.assets)
    instruments = dict(ex.instruments)
    views = {s: MarketView(s) for s in instruments}
    feeds = [build_feed(f, instruments[f.symbol], feed_seed(scenario.seed, i)) for i, f in enumerate(scenario.feeds)]
    agents: list[Agent] = []
    latencies: list[Latency | None] = []
    for spec in scenario.agents:
        cls = agent_class(spec.kind, spec.agent)
        for _ in range(spec.count):
            i = len(agents)
            ctx = AgentContext(account=i + 1, instruments=instruments, rng=agent_rng(scenario.seed, i),
                               market=views, name=f"{spec.kind or cls.kind}-{i}")
            agents.append(make_agent(cls, spec, ctx))
            latencies.append(Latency(spec.latency_ms, spec.jitter_ms, agent_rng(scenario.seed, i, 1))
                             if spec.latency_ms or spec.jitter_ms else None)
    out = Path(out_dir) if out_dir is not None else None
    recorder = Recorder(ex)
    kernel = Kernel(ex, agents, feeds, views, latencies, None, recorder.record)
    sim = Simulation(scenario, ex, kernel, agents, recorder, None, out)
    if out is not None:
        open_outputs(sim, out, events)
        write_run_meta(out, scenario)
    return sim


def open_outputs(sim: Simulation, out: Path, events: bool = True) -> None:
    """Start writing the journal (and the events file) of everything applied from now on into out."""
    out.mkdir(parents=True, exist_ok=True)
    for old in [out / JOURNAL_NAME, out / EVENTS_NAME, *out.glob("snapshot-*.msgpack")]:  # an earlier run's
        old.unlink(missing_ok=True)
    sim.out_dir = out
    sim.journal = sim.kernel.journal = JournalWriter(out / JOURNAL_NAME)
    if events:
        sim.recorder.open_events(out / EVENTS_NAME)


def write_run_meta(out: Path, scenario: Scenario, **extra: Any) -> None:
    meta = {"scenario": {**scenario.data, "seed": scenario.seed}, "base": str(scenario.base), **extra}
    (out / RUN_NAME).write_text(json.dumps(meta, indent=1, sort_keys=True))


def read_run_meta(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / RUN_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: not a run directory of `simulate`, `sweep --journals` or `fork`")
    return json.loads(path.read_text())


def scenario_of(meta: dict[str, Any]) -> Scenario:
    """The scenario a run.json describes."""
    return parse_scenario(meta["scenario"], Path(meta["base"]))


def start(sim: Simulation) -> None:
    """Create and fund every agent's account at t = 0 and start the agents."""
    setup: list[tuple[int, Any]] = []
    for a in sim.agents:
        setup += [(-1, CreateAccount(a.ctx.account)), (-1, Deposit(a.ctx.account, a.deposit_cash))]
    sim.kernel.start(setup)


def finish(sim: Simulation) -> dict[str, Any]:
    """Close the outputs; the summary (also written with out_dir)."""
    sim.recorder.close()
    journal_hash = ""
    if sim.journal is not None:
        sim.journal.close()
        journal_hash = file_sha256(sim.out_dir / JOURNAL_NAME)
    summary = summarize(sim, journal_hash)
    if sim.out_dir is not None:
        write_summary(summary, sim.out_dir)
    return summary


def run(sim: Simulation, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Set up accounts, run to the scenario's end; returns the summary (also written with out_dir)."""
    start(sim)
    sim.kernel.run(int(sim.scenario.duration_s * NS), progress)
    return finish(sim)


def run_scenario(scenario: Scenario, out_dir: str | Path | None = None,
                 progress: Callable[[int], None] | None = None,
                 events: bool = True) -> tuple[Simulation, dict[str, Any]]:
    sim = build(scenario, out_dir, events)
    return sim, run(sim, progress)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
