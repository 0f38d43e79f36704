"""Live swarm: N agents of a scenario's mix over real sockets against a running exchange, spread over
worker processes (one asyncio loop each, one connection per agent), with a summary at the end.

The scenario file gives the agent kinds, their proportions and parameters, and the seed; its shocks
are sent to the exchange's index feed with the admin key when their time comes (within --duration).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchange.sim.runner import agent_rng
from exchange.sim.scenario import AgentSpec, Scenario, load_scenario

from exchange.sim.agent import AgentContext, MarketView
from exchange.sim.agents import agent_class
from .runner import SocketRunner
from .sdk import Client

CONNECT_CONCURRENCY = 32  # connections opened at once per worker


def scaled_specs(scenario: Scenario, n: int) -> list[AgentSpec]:
    """The scenario's mix scaled to n agents: one of each kind first (when n allows), the rest in
    proportion (largest remainders)."""
    total = scenario.agent_count
    if total <= 0:
        raise ValueError(f"scenario {scenario.name} has no agents")
    kinds = scenario.agents
    base = 1 if n >= len(kinds) else 0
    rest = n - base * len(kinds)
    exact = [a.count * rest / total for a in kinds]
    counts = [base + int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: int(exact[i]) - exact[i])[: n - sum(counts)]:
        counts[i] += 1
    return [replace(a, count=c) for a, c in zip(kinds, counts, strict=True) if c]


def assignments(specs: list[AgentSpec], workers: int) -> list[list[tuple[int, AgentSpec]]]:
    """(global agent index, spec) per worker, round-robin so each worker gets a similar mix."""
    flat = [(i, s) for i, s in enumerate(s for s in specs for _ in range(s.count))]
    return [flat[w::workers] for w in range(workers)]


def _cash_str(cash: int) -> str:
    return f"{Decimal(cash).scaleb(-6):f}"


async def _run_worker(host: str, port: int, admin_key: str, scenario_name: str, seed: int,
                      agents: list[tuple[int, AgentSpec]], duration_s: float) -> dict[str, Any]:
    scenario = load_scenario(scenario_name)
    instruments = {i.symbol: i for i in scenario.config.instruments}
    views = {s: MarketView(s) for s in instruments}
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    stats: dict[str, Counter] = {}
    async with Client(host, port, admin_key) as admin:
        async def one(i: int, spec: AgentSpec) -> None:
            ctx = AgentContext(account=-1, instruments=instruments, rng=agent_rng(seed, i), market=views,
                               name=f"{spec.kind}-{i}")
            agent = agent_class(spec.kind, spec.agent)(ctx, spec.symbol, **spec.params)
            c = stats.setdefault(spec.kind, Counter())
            c["agents"] += 1
            async with gate:
                key = await admin.create_account(deposit=_cash_str(agent.deposit_cash))
                ctx.account = key.account
                client = Client(host, port, key.api_key, reconnect=False, timeout=30)
                await client.connect()
            c["connected"] += 1
            try:
                r = await SocketRunner(agent, client).run(duration_s)
            finally:
                await client.close()
            c.update({"commands": r.commands, "rejected": r.rejected, "fills": r.fills, "events": r.events,
                      "errors": r.errors, "liquidated": int(agent.liquidated > 0)})

        results = await asyncio.gather(*(one(i, s) for i, s in agents), return_exceptions=True)
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    return {"stats": {k: dict(v) for k, v in stats.items()}, "failures": failures[:5], "failed": len(failures)}


def _worker(args: tuple) -> dict[str, Any]:
    return asyncio.run(_run_worker(*args))


async def _shocks(host: str, port: int, admin_key: str, scenario: Scenario, duration_s: float,
                  t0: float) -> list[str]:
    done = []
    async with Client(host, port, admin_key) as admin:
        for symbol, s in scenario.shocks:
            if s.at_s >= duration_s:
                break
            await asyncio.sleep(max(0.0, t0 + s.at_s - time.monotonic()))
            await admin.shock_index(symbol, Decimal(str(s.pct)), Decimal(str(s.over_s)))
            done.append(f"{symbol} {s.pct:+.1f}% over {s.over_s:.0f}s at t={s.at_s:.0f}s")
    return done


async def _server_state(host: str, port: int, admin_key: str, symbols: list[str]) -> list[str]:
    async with Client(host, port, admin_key) as admin:
        fund = await admin.fetch_insurance_fund()
        lines = [f"insurance fund {fund['balance']} USDT (seed {fund['seed']})"]
        for symbol in symbols:
            t = await admin.fetch_ticker(symbol)
            lines.append(f"{symbol} index {t.index} mark {t.mark} last {t.last}")
    return lines


def run_swarm(scenario_name: str, n: int, host: str, port: int, admin_key: str, workers: int,
              duration_s: float, seed: int | None = None) -> dict[str, Any]:
    scenario = load_scenario(scenario_name)
    seed = scenario.seed if seed is None else seed
    plan = assignments(scaled_specs(scenario, n), workers)
    t0 = time.monotonic()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(len(plan)) as pool:
        pending = pool.map_async(_worker, [(host, port, admin_key, scenario_name, seed, part, duration_s)
                                           for part in plan if part])
        shocks = asyncio.run(_shocks(host, port, admin_key, scenario, duration_s, t0)) if scenario.shocks else []
        results = pending.get(timeout=duration_s + 600)
    symbols = sorted({a.symbol or scenario.config.instruments[0].symbol for a in scenario.agents})
    server = asyncio.run(_server_state(host, port, admin_key, symbols))
    totals: dict[str, Counter] = {}
    for r in results:
        for kind, c in r["stats"].items():
            totals.setdefault(kind, Counter()).update(c)
    return {"scenario": scenario.name, "seed": seed, "agents": n, "workers": len(plan), "duration_s": duration_s,
            "wall_s": round(time.monotonic() - t0, 1), "by_kind": {k: dict(v) for k, v in totals.items()},
            "failed": sum(r["failed"] for r in results), "failures": [f for r in results for f in r["failures"]][:5],
            "shocks": shocks, "server": server}


COLUMNS = ("agents", "connected", "commands", "rejected", "fills", "liquidated", "errors")


def summary_table(result: dict[str, Any]) -> str:
    head = (f"swarm {result['scenario']} (seed {result['seed']}): {result['agents']} agents in "
            f"{result['workers']} worker processes, {result['duration_s']:.0f} s, wall {result['wall_s']} s")
    lines = [head, "", f"  {'kind':14}" + "".join(f"{c:>11}" for c in COLUMNS)]
    total: Counter = Counter()
    for kind, c in sorted(result["by_kind"].items()):
        total.update(c)
        lines.append(f"  {kind:14}" + "".join(f"{c.get(k, 0):>11,}" for k in COLUMNS))
    lines.append(f"  {'total':14}" + "".join(f"{total.get(k, 0):>11,}" for k in COLUMNS))
    for s in result["shocks"]:
        lines.append(f"  shock: {s}")
    for s in result["server"]:
        lines.append(f"  exchange: {s}")
    if result["failed"]:
        lines.append(f"  {result['failed']} agents failed, e.g. {result['failures'][0]}")
    return "\n".join(lines)


def swarm_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m clients swarm")
    p.add_argument("--config", default="classroom", help="scenario name or .toml path (agent mix, seed, shocks)")
    p.add_argument("--agents", type=int, default=100)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default: from RUN_DIR/server.json, else 7777")
    p.add_argument("--admin-key", default=None,
                   help="the exchange's admin key (creates and funds accounts); default: $LIQUIDEX_ADMIN_KEY, "
                        "else RUN_DIR/admin.key")
    p.add_argument("--run-dir", default="runs/server", help="the server's run directory (for the defaults)")
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of trading")
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("error: the swarm connects to 127.0.0.1 only", file=sys.stderr)
        return 2
    if args.agents < 1 or args.workers < 1 or args.duration <= 0:
        print("error: --agents, --workers and --duration must be positive", file=sys.stderr)
        return 2
    run_dir = Path(args.run_dir)
    port = args.port
    if port is None:
        info = run_dir / "server.json"
        port = json.loads(info.read_text())["port"] if info.exists() else 7777
    key_file = run_dir / "admin.key"
    admin_key = args.admin_key or os.environ.get("LIQUIDEX_ADMIN_KEY") or (
        key_file.read_text().strip() if key_file.exists() else "")
    if not admin_key:
        print("error: no admin key: give --admin-key, set LIQUIDEX_ADMIN_KEY or point --run-dir at the server's",
              file=sys.stderr)
        return 2
    result = run_swarm(args.config, args.agents, args.host, port, admin_key, args.workers, args.duration, args.seed)
    print(summary_table(result))
    return 1 if result["failed"] else 0
