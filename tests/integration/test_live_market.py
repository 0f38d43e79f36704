"""A market that is alive on start: the server runs an agent population in wall-clock time (here at
10x clock speed). A bot that connects finds a two-sided book and trades at once; an index shock moves
the book and the mark and liquidates leveraged crowd accounts; a server killed mid-trading restarts
with its population resumed and a state that an independent replay of the journal reproduces."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from decimal import Decimal
from typing import Any

import aiohttp
from loopback import ADMIN_KEY, SYMBOL, admin_client, run, service
from test_crash import start_server

from clients.sdk import Client
from exchange.config import CONFIG_DIR, load_config
from exchange.core.commands import CancelAll, CreateAccount, Deposit, PlaceOrder
from exchange.core.engine import Exchange
from exchange.persistence import read_journal, recover
from exchange.runtime.http.api import HttpOptions
from exchange.runtime.population import FIRST_ACCOUNT

FEEDS = {SYMBOL: {"kind": "static", "price": "30000", "interval_s": 1}}
POPULATION: dict[str, Any] = {"seed": 5, "revive_after_s": 5, "agents": [
    {"kind": "market_maker", "count": 2,
     "params": {"deposit_usdt": 2000000, "size_usdt": 20000, "levels": 3, "stress_action": "widen"}},
    {"kind": "noise", "count": 4, "params": {"deposit_usdt": 20000, "mean_interval_s": 2, "size_usdt": 2000}},
    {"kind": "arbitrageur", "count": 1, "params": {"deposit_usdt": 500000, "size_usdt": 10000, "entry_bps": 10}},
    {"kind": "crowd", "count": 12, "params": {"leverages": [20, 25, 50], "long_bias": 1.0, "round_step_usdt": 100000,
                                              "entry_window_s": 10, "entry_timeout_s": 5, "hold_mean_s": 36000,
                                              "stop_fraction": 0}},  # no round price near: market entries
]}
AGENTS = sum(a["count"] for a in POPULATION["agents"])
MAKERS = range(FIRST_ACCOUNT, FIRST_ACCOUNT + 2)


async def until(check, timeout: float = 8.0, what: str = "condition"):
    """Poll an async check until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := await check()):
        assert loop.time() < deadline, f"no {what} within {timeout} s"
        await asyncio.sleep(0.05)
    return result


def test_a_bot_finds_a_live_market_and_a_shock_moves_it(tmp_path):
    async def scenario():
        async with service(tmp_path, feeds=FEEDS, population=POPULATION, speed=10.0, http=HttpOptions(port=0)) as svc:
            crowd = [a for a in svc.population.agents if a.kind == "crowd"]
            admin = await admin_client(svc)
            seen: list[dict] = []
            admin.add_listener(lambda m: seen.append(m) if m["type"] in ("trades", "liquidation") else None)
            await admin.subscribe("trades", SYMBOL)
            await admin.subscribe("liquidations", SYMBOL)

            async def alive():
                book = await admin.fetch_order_book(SYMBOL)
                trading = any(m["type"] == "trades" for m in seen)
                return book if book.bids and book.asks and trading and all(a.holding.size > 0 for a in crowd) \
                    else None
            book = await until(alive, what="two-sided book, trades and a crowd in position")
            assert Decimal("29850") < book.bids[0][0] < book.asks[0][0] < Decimal("30150")  # within 0.5% of the index

            key = await admin.create_account(deposit="10000")
            async with aiohttp.ClientSession() as http:  # the HTTP admin shares the msgpack admin's counter
                async with http.post(f"http://127.0.0.1:{svc.http_port}/admin/v1/account",
                                     headers={"X-Admin-Key": ADMIN_KEY}) as r:
                    assert r.status == 200
                    over_http = (await r.json())["account"]
            assert (key.account, over_http) == (1, 2)  # admin-created accounts stay clear of the agents' ids
            async with Client(port=svc.port, api_key=key.api_key, reconnect=False) as bot:
                order = await bot.create_order(SYMBOL, "market", "buy", "0.01")
            assert (order.status, order.filled) == ("FILLED", Decimal("0.010"))

            before = await admin.fetch_ticker(SYMBOL)
            liquidations_before = sum(m["type"] == "liquidation" for m in seen)
            await admin.shock_index(SYMBOL, "-10", "0")

            async def moved():
                t = await admin.fetch_ticker(SYMBOL)
                down = t.mark < before.mark * Decimal("0.93") and t.bid is not None and t.bid < before.bid * Decimal("0.93")
                return t if down and sum(m["type"] == "liquidation" for m in seen) > liquidations_before else None
            after = await until(moved, what="mark and best bid down 7% and a public liquidation")
            assert after.index == before.index * Decimal("0.9")
            assert any(a.liquidated for a in crowd)
            liquidated = [a.ctx.account for a in svc.population.agents if a.liquidated]
            assert {svc.population.agents[a - FIRST_ACCOUNT].kind for a in liquidated} == {"crowd"}

            async def revived():  # 5 clock seconds later, a fresh crowd agent on each liquidated account
                return all(svc.population.agents[a - FIRST_ACCOUNT].liquidated == 0 for a in liquidated)
            await until(revived, what="revived crowd agents")
            await admin.fetch_time()  # queued after the revivals' deposits: they are in the journal now
            assert svc.population.stats["revived"] >= len(liquidated)
            # a revival tops the wallet up to the new agent's deposit (when below it): replay the journal
            pop = svc.population
            deposits = {a: {pop.build_agent(a - FIRST_ACCOUNT, g).deposit_cash
                            for g in range(1, pop.generation[a - FIRST_ACCOUNT] + 1)} for a in liquidated}
            replay = Exchange(svc.config.instruments, svc.config.initial_insurance_fund_cash)
            topped_up = []
            for env in read_journal(tmp_path / "journal.msgpack"):
                replay.apply(env)
                cmd = env.command
                if type(cmd) is Deposit and cmd.account in deposits and env.origin == "population" \
                        and replay.accounts[cmd.account].deposited > cmd.amount_cash:  # not the first funding
                    topped_up.append(cmd.account)
                    assert replay.accounts[cmd.account].wallet_total() in deposits[cmd.account]
            assert topped_up
            assert svc.population.stats["agent_errors"] == 0
            await admin.close()
            svc.exchange.check_invariants()

    run(scenario())


def toml_value(v: Any) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(v)


def server_config(path, agents: list[dict]) -> Any:
    lines = [f'base = "{CONFIG_DIR / "default.toml"}"', "[server]", "heartbeat_s = 3600", "snapshot_every_s = 0.5",
             "speed = 10.0", "[feeds.BTCUSDT]", *(f"{k} = {toml_value(v)}" for k, v in FEEDS[SYMBOL].items()),
             "[population]", f"seed = {POPULATION['seed']}"]
    for agent in agents:
        lines += ["[[population.agents]]", *(f"{k} = {toml_value(v)}" for k, v in agent.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_killed_server_restarts_with_its_population_resumed(tmp_path):
    """SIGKILL mid-trading, restart (with the last maker dropped from the config): the agents' accounts
    are not created again, their orders of the previous run are cancelled (the dropped maker's too),
    they trade again, the index carries on from the recovered level, and the state equals an
    independent replay of the whole journal."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    extra_maker = {"kind": "market_maker", "count": 1, "params": POPULATION["agents"][0]["params"]}
    config = server_config(tmp_path / "before.toml", [*POPULATION["agents"], extra_maker])
    dropped = FIRST_ACCOUNT + AGENTS
    cfg = load_config()
    proc, port = start_server(run_dir, config)
    try:
        async def trade_then_move_the_index() -> None:
            admin = await Client(port=port, api_key=ADMIN_KEY, reconnect=False).connect()
            for maker in (*MAKERS, dropped):
                await until(lambda m=maker: admin.fetch_open_orders(account=m), what="maker quotes")
            await admin.set_index(SYMBOL, "30300")  # the feed must carry on from here after the restart
            await asyncio.sleep(1.0)
            await admin.close()

        run(trade_then_move_the_index())
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        shutil.copytree(run_dir, tmp_path / "crashed")
        before = recover(tmp_path / "crashed", cfg.instruments, cfg.initial_insurance_fund_cash)
        stale = {oid for a in range(FIRST_ACCOUNT, dropped + 1) for oid in before.accounts[a].orders}
        assert stale and before.accounts[dropped].orders and before.markets[SYMBOL].index == 303000

        proc, port = start_server(run_dir, server_config(tmp_path / "after.toml", POPULATION["agents"]))

        async def after_restart() -> tuple[int, str]:
            admin = await Client(port=port, api_key=ADMIN_KEY, reconnect=False).connect()
            for maker in MAKERS:
                fresh = await until(lambda m=maker: admin.fetch_open_orders(account=m), what="new quotes")
                assert not {o.id for o in fresh} & stale
            assert (await admin.fetch_ticker(SYMBOL)).index == Decimal("30300.0")
            assert await admin.fetch_open_orders(account=dropped) == []
            state = await admin.request("state_hash")
            await admin.close()
            return state["seq"], state["state_hash"]

        seq, digest = run(after_restart())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    replay = Exchange(cfg.instruments, cfg.initial_insurance_fund_cash)
    journal = list(read_journal(run_dir / "journal.msgpack"))
    for env in journal:
        if env.seq <= seq:
            replay.apply(env)
    assert replay.seq == seq and replay.state_hash() == digest
    created = [env.command.account for env in journal if type(env.command) is CreateAccount]
    assert sorted(created) == list(range(FIRST_ACCOUNT, dropped + 1))  # once each, at first start
    resumed = [env for env in journal if env.seq > before.seq and env.origin == "population"]
    cancelled = {env.command.account for env in resumed if type(env.command) is CancelAll}
    assert cancelled == {a for a in range(FIRST_ACCOUNT, dropped + 1) if before.accounts[a].orders}
    topped_up = [env.command for env in resumed if type(env.command) is Deposit]
    for cmd in topped_up:  # back to the deposit, not beyond
        assert cmd.amount_cash > 0 and before.accounts[cmd.account].wallet_total() + cmd.amount_cash <= 2_000_000 * 10**6
    placed_again = {env.origin for env in journal if env.seq > before.seq and type(env.command) is PlaceOrder}
    assert {"agent:0", "agent:1"} <= placed_again
