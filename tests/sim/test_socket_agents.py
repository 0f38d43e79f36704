"""Agents over real sockets: the SDK shell delivers the same events as the kernel; the swarm runs."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

from exchange.sim.agent import AgentContext, MarketView
from exchange.sim.agents import MarketMaker, NoiseTaker
from clients.runner import SocketRunner, command_request, wire_event
from clients.sdk import Client
from clients.swarm import run_swarm, scaled_specs
from .server_process import server_process
from exchange.config import CONFIG_DIR, load_config
from exchange.core.commands import PlaceOrder
from exchange.core.events import PositionChanged, Trade
from exchange.runtime.app import ExchangeService, ServeOptions, load_server_config
from exchange.runtime.logcfg import configure_logging
from exchange.sim.scenario import load_scenario

ADMIN = "sim-test-admin-key-0123"
INSTRUMENTS = {i.symbol: i for i in load_config().instruments}
BTC = "BTCUSDT"


def test_wire_round_trip_of_commands_and_events():
    inst = INSTRUMENTS[BTC]
    op, params = command_request(PlaceOrder(3, BTC, -1, 25, 600_123, tif="GTX"), inst)
    assert op == "place" and params["qty"] == "0.025" and params["price"] == "60012.30" and params["side"] == "sell"
    msg = {"type": "private", "event": "PositionChanged", "account": 3, "symbol": BTC, "size": "-0.025",
           "cost": "-1500.307500", "realized_pnl": "0", "wallet": "998.5"}
    assert wire_event(msg, INSTRUMENTS, 3) == PositionChanged(3, BTC, -25, -1_500_307_500, 0, 998_500_000)
    fill = {"type": "private", "event": "Fill", "symbol": BTC, "trade_id": 9, "order_id": 41, "side": "sell",
            "price": "60012.30", "qty": "0.025", "fee": "0.3", "role": "maker", "liquidation": False}
    assert wire_event(fill, INSTRUMENTS, 3) == Trade(BTC, 9, 600_123, 25, 1, -1, 0, 3, 41, 0, 0, False)


async def _two_agents_over_tcp(tmp_path) -> tuple:
    configure_logging("error")
    config, raw = load_server_config(CONFIG_DIR / "server.toml")
    svc = ExchangeService(config, {**raw, "feeds": {}}, tmp_path,
                          ServeOptions(port=0, admin_key=ADMIN, log_commands=False, heartbeat_s=3600.0,
                                       snapshot_every_s=3600.0, agents=False))
    await svc.start()
    try:
        async with Client(port=svc.port, api_key=ADMIN, reconnect=False) as admin:
            await admin.set_index(BTC, "60000")
            views = {BTC: MarketView(BTC)}
            agents, clients = [], []
            for i, cls in enumerate((MarketMaker, NoiseTaker)):
                key = await admin.create_account(deposit="1000000")
                ctx = AgentContext(key.account, INSTRUMENTS, random.Random(i), views)
                params = {"refresh_s": 0.2} if cls is MarketMaker else {"mean_interval_s": 0.1, "size_usdt": 500}
                agents.append(cls(ctx, BTC, **params))
                clients.append(await Client(port=svc.port, api_key=key.api_key, reconnect=False).connect())
            runners = [SocketRunner(a, c) for a, c in zip(agents, clients)]
            stats = await asyncio.gather(*(r.run(2.0) for r in runners[:1]), _later(runners[1], 2.0))
            positions = [await c.fetch_positions([BTC]) for c in clients]
            for c in clients:
                await c.close()
            return agents, stats, positions
    finally:
        await svc.stop()


async def _later(runner: SocketRunner, duration: float):
    await asyncio.sleep(0.3)  # the maker quotes first
    return await runner.run(duration - 0.3)


def test_agents_trade_over_tcp_and_track_their_positions(tmp_path):
    """A maker and a noise taker trade through the server; each agent's own position, built from the
    wire events, equals what the server reports."""
    agents, stats, positions = asyncio.run(asyncio.wait_for(_two_agents_over_tcp(tmp_path), 60))
    mm_stats, noise_stats = stats
    assert mm_stats.commands > 5 and noise_stats.commands > 3
    assert noise_stats.fills > 0 and mm_stats.fills > 0
    for agent, pos in zip(agents, positions):
        size = pos[0].size if pos else Decimal(0)
        assert agent.holding.size * INSTRUMENTS[BTC].lot_step == size
    assert agents[0].holding.size == -agents[1].holding.size != 0


def test_swarm_scales_the_mix():
    scenario = load_scenario("classroom")
    specs = scaled_specs(scenario, 1000)
    assert sum(s.count for s in specs) == 1000
    assert {s.kind for s in specs} == {a.kind for a in scenario.agents}
    few = scaled_specs(scenario, len(scenario.agents))  # one of each kind, even the rare ones
    assert [(s.kind, s.count) for s in few] == [(a.kind, 1) for a in scenario.agents]


def test_swarm_runs_agents_in_worker_processes(tmp_path):
    """`python -m clients swarm` against a real server process: every agent connects and trades."""
    with server_process(tmp_path, ADMIN) as port:
        result = run_swarm("classroom", 12, "127.0.0.1", port, ADMIN, workers=2, duration_s=3.0)
    assert result["failed"] == 0, result["failures"]
    totals = {k: sum(c.get(k, 0) for c in result["by_kind"].values()) for k in ("agents", "connected", "commands")}
    assert totals["agents"] == totals["connected"] == 12
    assert totals["commands"] >= 24  # at least margin mode and leverage for each
