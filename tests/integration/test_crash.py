"""Crash-only recovery: the server process is killed with SIGKILL during a burst of orders, restarted
from its run directory, and every acknowledged order and balance is there, with the state hash of an
independent recovery of the same directory."""

from __future__ import annotations

import asyncio
import os
import random
import signal

from loopback import ADMIN_KEY, run, server_config, start_server

from clients.sdk import Client, ExchangeError
from exchange.config import load_config
from exchange.persistence import recover

SYMBOLS = ("BTCUSDT", "ETHUSDT")


async def trader(port: int, key: str, account: int, rng: random.Random, acked: dict, cancelled: set,
                 cancelling: set) -> None:
    """Place and cancel non-crossing orders as fast as answers come, until the connection dies."""
    c = await Client(port=port, api_key=key, reconnect=False).connect()
    side = "buy" if account % 2 else "sell"
    mine: list[int] = []
    try:
        while True:
            symbol = rng.choice(SYMBOLS)
            base = 30000 if symbol == "BTCUSDT" else 2000
            price = base - rng.randint(1, 500) if side == "buy" else base + rng.randint(1, 500)
            qty = "0.01" if symbol == "BTCUSDT" else "0.1"
            batch = [c.create_order(symbol, "limit", side, qty, str(price)) for _ in range(8)]
            for o in await asyncio.gather(*batch):
                acked[o.id] = (account, o.symbol, o.price, o.amount)
                mine.append(o.id)
            if len(mine) > 100:
                doomed = [mine.pop(rng.randrange(len(mine))) for _ in range(8)]
                cancelling.update(doomed)
                for o in await asyncio.gather(*(c.cancel_order(oid, acked[oid][1]) for oid in doomed)):
                    cancelled.add(o.id)
    except ExchangeError as exc:
        assert exc.code == "DISCONNECTED", exc
    finally:
        await c.close()


def test_sigkill_during_a_burst_loses_no_acknowledged_order(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = server_config(tmp_path / "server.toml", snapshot_every_s=0.3, rate_limit_per_s=100000, rate_burst=100000)
    proc, port = start_server(run_dir, config)
    acked: dict[int, tuple] = {}
    cancelled: set[int] = set()
    cancelling: set[int] = set()

    async def burst() -> list:
        admin = await Client(port=port, api_key=ADMIN_KEY, reconnect=False).connect()
        await admin.set_index("BTCUSDT", "30000")
        await admin.set_index("ETHUSDT", "2000")
        keys = [await admin.create_account(deposit="1000000") for _ in range(4)]
        await admin.close()
        tasks = [asyncio.ensure_future(trader(port, k.api_key, k.account, random.Random(k.account), acked, cancelled,
                                              cancelling)) for k in keys]
        await asyncio.sleep(1.5)
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.gather(*tasks)
        return keys

    try:
        keys = run(burst())
        assert proc.wait(10) == -signal.SIGKILL
        assert len(acked) > 200 and len(cancelled) > 5
        proc, port = start_server(run_dir, config)

        async def check() -> str:
            admin = await Client(port=port, api_key=ADMIN_KEY, reconnect=False).connect()
            for k in keys:
                open_ids = {o.id for o in await admin.fetch_open_orders(account=k.account)}
                placed = {oid for oid, v in acked.items() if v[0] == k.account}
                assert placed - cancelling <= open_ids, "an acknowledged order was lost"
                assert not open_ids & cancelled, "an acknowledged cancel was lost"
                for o in await admin.fetch_open_orders(account=k.account):
                    if o.id in acked:
                        assert (k.account, o.symbol, o.price, o.amount) == acked[o.id]
                assert (await admin.fetch_balance(account=k.account)).cross_wallet == 1000000
            digest = await admin.state_hash()
            await admin.close()
            return digest

        digest = run(check())
        cfg = load_config()
        assert recover(run_dir, cfg.instruments, cfg.initial_insurance_fund_cash).state_hash() == digest
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

