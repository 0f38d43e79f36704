"""Your own agent: a class from a module outside the package, named by import path, runs unchanged in
virtual time (a scenario, and the command line with PYTHONPATH) and over a real socket."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clients.runner import SocketRunner
from clients.sdk import Client
from exchange.config import CONFIG_DIR, load_config
from exchange.runtime.app import ExchangeService, ServeOptions, load_server_config
from exchange.runtime.logcfg import configure_logging
from exchange.sim.agent import AgentContext, MarketView
from exchange.sim.agents import MarketMaker, agent_class
from exchange.sim.runner import run_scenario
from exchange.sim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[2]
BOT = textwrap.dedent('''
    """A bot written by a user, outside the liquidex package."""
    from exchange.core.commands import BUY, SELL
    from exchange.sim.agent import MARK, NS, Agent


    class FlipBot(Agent):
        """Buys on even ticks and sells on odd ones, `lots` at a time, every `every_s` seconds."""

        kind = "flip"
        subscriptions = frozenset({MARK})

        def __init__(self, ctx, symbol="", **params):
            super().__init__(ctx, symbol, **params)
            self.every_ns = int(float(params.get("every_s", 1)) * NS)
            self.lots = int(params.get("lots", 10))
            self.ticks = 0
            self.marks_seen = 0

        def on_start(self):
            self.ctx.wake_in(self.every_ns)
            return []

        def on_public(self, ev):
            if type(ev).__name__ == "MarkPriceUpdated":
                self.marks_seen += 1
            return []

        def on_tick(self):
            self.ctx.wake_in(self.every_ns)
            self.ticks += 1
            if not self.view.mark:
                return []
            return [self.market(BUY if self.ticks % 2 else SELL, self.lots)]
''')


@pytest.fixture
def bot_dir(tmp_path, monkeypatch):
    pkg = tmp_path / "userbots"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "flip.py").write_text(BOT)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def scenario_data(duration_s: float) -> dict:
    return {"name": "own", "seed": 4, "duration_s": duration_s, "symbols": ["BTCUSDT"],
            "feed": {"BTCUSDT": {"kind": "gbm", "price": "60000", "interval_s": 1, "volatility": 0.3}},
            "agents": [{"kind": "market_maker", "count": 1, "params": {"deposit_usdt": 1_000_000}},
                       {"agent": "userbots.flip:FlipBot", "count": 2, "params": {"every_s": 2, "lots": 5}}]}


def test_own_agent_in_virtual_time(bot_dir, tmp_path):
    sim, summary = run_scenario(parse_scenario(scenario_data(60)), tmp_path / "run")
    bots = [a for a in sim.agents if type(a).__name__ == "FlipBot"]
    # a timer every 2 s up to 60 s; a mark at t = 0 and every second after
    assert len(bots) == 2 and all(b.ticks == 30 and b.marks_seen == 61 for b in bots)
    rows = [r for r in summary["per_agent"] if r["kind"] == "flip"]
    assert len(rows) == 2 and all(r["peak_notional_usdt"] > 0 for r in rows)
    assert sim.kernel.commands > 60 + 2 * 30


def test_own_agent_from_the_command_line(bot_dir, tmp_path):
    """A scenario file naming the bot; the bot's directory on PYTHONPATH; `python -m exchange simulate`."""
    toml = tmp_path / "own.toml"
    toml.write_text('name = "own"\nseed = 4\nduration_s = 30\nsymbols = ["BTCUSDT"]\n'
                    '[feed.BTCUSDT]\nkind = "gbm"\nprice = "60000"\n'
                    '[[agents]]\nkind = "market_maker"\ncount = 1\n[agents.params]\ndeposit_usdt = 1000000\n'
                    '[[agents]]\nagent = "userbots.flip:FlipBot"\ncount = 2\n[agents.params]\nevery_s = 2\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(bot_dir), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "exchange", "simulate", str(toml), "--out", str(tmp_path / "cli")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    kinds = {r["kind"] for r in json.loads((tmp_path / "cli" / "summary.json").read_text())["per_agent"]}
    assert kinds == {"market_maker", "flip"}


def test_bad_import_paths_say_what_is_wrong(bot_dir):
    for path, words in (("userbots.flip", "of the form"), ("nowhere.mod:X", "cannot import"),
                        ("userbots.flip:Nope", "no Agent subclass"), ("json:JSONDecoder", "no Agent subclass")):
        with pytest.raises(ValueError, match=words):
            agent_class("", path)


async def _over_tcp(tmp_path) -> tuple:
    configure_logging("error")
    config, raw = load_server_config(CONFIG_DIR / "server.toml")
    svc = ExchangeService(config, {**raw, "feeds": {}}, tmp_path,
                          ServeOptions(port=0, admin_key="own-admin-key-0123456789", log_commands=False, heartbeat_s=3600.0,
                                       snapshot_every_s=3600.0))
    await svc.start()
    instruments = {i.symbol: i for i in load_config().instruments}
    try:
        async with Client(port=svc.port, api_key="own-admin-key-0123456789", reconnect=False) as admin:
            await admin.set_index("BTCUSDT", "60000")
            views = {"BTCUSDT": MarketView("BTCUSDT")}
            cls = agent_class("", "userbots.flip:FlipBot")
            runners = []
            for i, (make, params) in enumerate(((MarketMaker, {"refresh_s": 0.2}), (cls, {"every_s": 0.2}))):
                key = await admin.create_account(deposit="1000000")
                ctx = AgentContext(key.account, instruments, random.Random(i), views)
                client = await Client(port=svc.port, api_key=key.api_key, reconnect=False).connect()
                runners.append((make(ctx, "BTCUSDT", **params), client))
            stats = await asyncio.gather(*(SocketRunner(a, c).run(2.0) for a, c in runners))
            for _, c in runners:
                await c.close()
            return runners[1][0], stats[1]
    finally:
        await svc.stop()


def test_own_agent_over_a_socket(bot_dir, tmp_path):
    bot, stats = asyncio.run(asyncio.wait_for(_over_tcp(tmp_path), 60))
    assert type(bot).__name__ == "FlipBot" and bot.ticks >= 5 and bot.marks_seen >= 1
    assert stats.commands >= bot.ticks - 1 and stats.fills >= 1
