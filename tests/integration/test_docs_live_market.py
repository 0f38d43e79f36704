"""docs/live-market.md, run: every command it shows, and its TOML examples parsed by the code that
reads them."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from loopback import run

from clients.sdk import Client, ExchangeError
from exchange.config import CONFIG_DIR
from exchange.runtime.population import FIRST_ACCOUNT, population_spec
from exchange.sim.feed import parse_feed

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "live-market.md").read_text()
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", DOC, re.S)
COMMANDS = [line for lang, text in BLOCKS if not lang for line in text.splitlines() if line.startswith("python ")]
SERVE = "python -m exchange serve --config configs/server.toml --admin-key classroom-demo-key"
SHOCK = "python docs/examples/liquidation_bot.py --admin-key classroom-demo-key --shock -10 --over 3"
BENCH = "python -m bench live"


def launch(command: str, *extra: str) -> subprocess.Popen:
    args = shlex.split(command)
    return subprocess.Popen([sys.executable, *args[1:], *extra], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def port_of(run_dir: Path, proc: subprocess.Popen) -> int:
    deadline = time.monotonic() + 30
    while not (run_dir / "server.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    return json.loads((run_dir / "server.json").read_text())["port"]


async def until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        await asyncio.sleep(0.1)
    return result


def test_the_doc_shows_these_commands():
    assert COMMANDS == [SERVE, SHOCK, f"{SERVE} --no-agents", f"{SERVE} --speed 10", BENCH]


def test_the_servers_of_the_doc_start_live_or_empty_and_the_shock_liquidates(tmp_path):
    crowd = range(FIRST_ACCOUNT + 20, FIRST_ACCOUNT + 60)  # after 4 makers, 10 noise, 2 arbitrageurs, 4 momentum
    assert [a.kind for a in population_spec({"scenario": "scenarios/live_market.toml"}, CONFIG_DIR,
                                            ["BTCUSDT"]).agents] == ["market_maker", "noise", "arbitrageur",
                                                                     "momentum", "crowd"]
    servers = {name: launch(cmd, "--run-dir", str(tmp_path / name), "--port", "0", "--http-port", "0")
               for name, cmd in (("live", SERVE), ("empty", f"{SERVE} --no-agents"), ("fast", f"{SERVE} --speed 10"))}
    try:
        ports = {name: port_of(tmp_path / name, proc) for name, proc in servers.items()}

        async def check() -> None:
            async with Client(port=ports["live"], api_key="classroom-demo-key") as live, \
                    Client(port=ports["empty"], api_key="classroom-demo-key") as empty, \
                    Client(port=ports["fast"], api_key="classroom-demo-key") as fast:
                async def two_sided():
                    book = await live.fetch_order_book("BTCUSDT")
                    return book.bids and book.asks
                await until(two_sided, 10, "two-sided book on the live server")
                book = await empty.fetch_order_book("BTCUSDT")
                assert (book.bids, book.asks) == ([], [])
                try:
                    await empty.fetch_balance(account=FIRST_ACCOUNT)
                    raise AssertionError("the empty market has agent accounts")
                except ExchangeError as exc:
                    assert exc.code == "UNKNOWN_ACCOUNT"

                async def crowd_in():
                    held = [await fast.fetch_positions(["BTCUSDT"], account=a) for a in crowd]
                    return sum(1 for p in held if p and p[0].size > 0) >= 5
                await until(crowd_in, 15, "5 crowd accounts long at 10x speed")
                await fast.subscribe("liquidations", "BTCUSDT")
                shock = launch(SHOCK, "--port", str(ports["fast"]))
                assert shock.wait(30) == 0 and "'pct': '-10'" in shock.stdout.read()
                liquidations = await asyncio.wait_for(fast.watch_liquidations("BTCUSDT"), 10)
                assert liquidations and all(q.side == "sell" for q in liquidations)

        run(check())
    finally:
        for proc in servers.values():
            proc.terminate()
            proc.wait(30)


def test_the_benchmark_of_the_doc_runs(tmp_path):
    bench = launch(BENCH, "--seconds", "0.3", "--rounds", "1", "--warmup", "0.2")
    out, _ = bench.communicate(timeout=120)
    assert bench.returncode == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["metric"] for r in lines] == ["server_cpu_with_agents", "client_rtt_p50_with_vs_without_agents",
                                            "client_rtt_p99_with_vs_without_agents",
                                            "client_requests_per_s_with_vs_without_agents"]
    assert lines[0]["commands_per_s"] > lines[0]["commands_per_s_without"]


def test_the_toml_examples_of_the_doc_parse(tmp_path):
    tables = [tomllib.loads(text) for lang, text in BLOCKS if lang == "toml"]
    population, feeds = (next(t for t in tables if key in t) for key in ("population", "feeds"))
    spec = population_spec(population["population"], CONFIG_DIR, ["BTCUSDT", "ETHUSDT"])
    assert (spec.agents[-1].kind, spec.agents[-1].count, spec.seed, spec.revive_after_s) == ("noise", 5, 42, 300)
    feed = parse_feed("BTCUSDT", feeds["feeds"]["BTCUSDT"], tmp_path)
    assert (feed.kind, feed.path, feed.shocks[0].pct) == ("csv", tmp_path / "btc-2024-08-05.csv", -5)
