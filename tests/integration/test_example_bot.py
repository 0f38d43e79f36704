"""The example bot of docs/protocol.md, run against a live server, on an empty market and on the
default live market: it opens a 15x long, an admin shocks the index by -10% through the feed, and
the bot sees its position liquidated."""

from __future__ import annotations

import asyncio
import importlib.util
from decimal import Decimal
from pathlib import Path

import pytest
from loopback import ADMIN_KEY, SYMBOL, admin_client, run, service

BOT = Path(__file__).resolve().parents[2] / "docs" / "examples" / "liquidation_bot.py"


def load_bot():
    spec = importlib.util.spec_from_file_location("liquidation_bot", BOT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("population", [None, {"scenario": "live_market"}], ids=["empty", "live"])
def test_example_bot_is_liquidated_after_an_index_shock(tmp_path, capsys, population):
    bot = load_bot()

    async def scenario():
        feeds = {SYMBOL: {"kind": "static", "price": "30000", "interval_s": 0.05}}
        async with service(tmp_path, feeds=feeds, population=population) as svc:
            admin = await admin_client(svc)
            await asyncio.sleep(0.2)  # the feed has published an index
            trading = asyncio.ensure_future(bot.trade(svc.port, ADMIN_KEY, 15, 20.0))
            while not capsys.readouterr().out.count("bought") and not trading.done():
                await asyncio.sleep(0.05)
            (pos,) = await admin.fetch_positions([SYMBOL], account=1)  # the first account is the bot's
            assert pos.size == Decimal("0.5") and pos.leverage == 15
            await bot.shock(svc.port, ADMIN_KEY, "-10", "0.5")
            assert await trading is True
            (pos,) = await admin.fetch_positions([SYMBOL], account=1)
            assert pos.size == 0
            await admin.close()

    run(scenario())
    assert "LIQUIDATED: position 0.000" in capsys.readouterr().out
