"""Build a simulation from a scenario, run it in virtual time, write journal, events, summary, report."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .agent import Agent, AgentContext, MarketView
from .agents import AGENT_KINDS

from ..core.commands import CreateAccount, Deposit
from ..core.engine import Exchange
from ..persistence import JournalWriter
from ..persistence import JOURNAL_NAME
from .feed import IndexFeed
from .kernel import Kernel, Latency
from .recorder import EVENTS_NAME, Recorder
from .report import summarize, write_summary
from .scenario import Scenario
from .simulation import Simulation

NS = 1_000_000_000


def agent_rng(seed: int, index: int, stream: int = 0) -> random.Random:
    """The seeded RNG of agent `index` (stream 0: its decisions, 1: its latency)."""
    return random.Random(seed * 1_000_003 + index * 7 + stream)


def build(scenario: Scenario, out_dir: str | Path | None = None) -> Simulation:
    """Exchange, feeds, agents and kernel for a scenario; with out_dir, a journal and an events file."""
    cfg = scenario.config
    ex = Exchange(cfg.instruments, scenario.insurance_fund_cash)
    instruments = dict(ex.instruments)
    views = {s: MarketView(s) for s in instruments}
    feeds = [IndexFeed(f, instruments[f.symbol], [s for s in scenario.shocks if s.symbol == f.symbol],
                       random.Random(scenario.seed * 31 + i)) for i, f in enumerate(scenario.feeds)]
    agents: list[Agent] = []
    latencies: list[Latency | None] = []
    for spec in scenario.agents:
        cls = AGENT_KINDS.get(spec.kind)
        if cls is None:
            raise ValueError(f"unknown agent kind {spec.kind!r}; known: {', '.join(sorted(AGENT_KINDS))}")
        for _ in range(spec.count):
            i = len(agents)
            ctx = AgentContext(account=i + 1, instruments=instruments, rng=agent_rng(scenario.seed, i),
                               market=views, name=f"{spec.kind}-{i}")
            agents.append(cls(ctx, spec.symbol, **spec.params))
            latencies.append(Latency(spec.latency_ms, spec.jitter_ms, agent_rng(scenario.seed, i, 1))
                             if spec.latency_ms or spec.jitter_ms else None)
    journal = None
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name in (JOURNAL_NAME, EVENTS_NAME):
            (out / name).unlink(missing_ok=True)
        journal = JournalWriter(out / JOURNAL_NAME)
    recorder = Recorder(ex, out / EVENTS_NAME if out is not None else None)
    kernel = Kernel(ex, agents, feeds, views, latencies, journal, recorder.record)
    return Simulation(scenario, ex, kernel, agents, recorder, journal, out)


def run(sim: Simulation, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Set up accounts, run to the scenario's end; returns the summary (also written with out_dir)."""
    setup: list[tuple[int, Any]] = []
    for a in sim.agents:
        setup += [(-1, CreateAccount(a.ctx.account)), (-1, Deposit(a.ctx.account, a.deposit_cash))]
    sim.kernel.start(setup)
    end_ns = int(sim.scenario.duration_s * NS)
    sim.kernel.run(end_ns, progress)
    sim.recorder.close()
    journal_hash = ""
    if sim.journal is not None:
        sim.journal.close()
        journal_hash = file_sha256(sim.out_dir / JOURNAL_NAME)
    summary = summarize(sim, journal_hash)
    if sim.out_dir is not None:
        write_summary(summary, sim.out_dir)
    return summary


def run_scenario(scenario: Scenario, out_dir: str | Path | None = None,
                 progress: Callable[[int], None] | None = None) -> tuple[Simulation, dict[str, Any]]:
    sim = build(scenario, out_dir)
    return sim, run(sim, progress)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
