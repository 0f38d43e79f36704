"""The headline: a ccxt bot holds a 20x isolated long and another a 10x cross long (liquidity from a
maker the test funds); the admin steps the index down; the isolated one is liquidated first, exactly
at the liquidation price positionRisk reported (the first mark at or below it, on the tick), with a
forceOrder event and an ORDER_TRADE_UPDATE on its user stream; the cross one survives until its own."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import aiohttp

from .conftest import BTC, Rest, base_url, http_service, run
from .test_ccxt import SYM, _ccxt

TICK = Decimal("0.10")


async def _long(bot, mode: str, leverage: int) -> Decimal:
    """Open a 0.1 BTC long at market; the liquidation price positionRisk reports for it."""
    if mode == "isolated":  # cross is the default: asking for it again is Binance's -4046
        await bot.set_margin_mode(mode, SYM)
    await bot.set_leverage(leverage, SYM)
    order = await bot.create_order(SYM, "market", "buy", 0.1)
    assert order["status"] == "closed"
    (pos,) = [p for p in await bot.fetch_positions([SYM]) if p["contracts"]]
    assert pos["marginMode"] == mode and pos["leverage"] == leverage
    return Decimal(pos["info"]["liquidationPrice"])


async def _size(bot) -> float:
    return sum(p["contracts"] or 0 for p in await bot.fetch_positions([SYM]))


def test_isolated_20x_is_liquidated_first_at_its_reported_price_cross_10x_later(tmp_path):
    async def scenario():
        # mark = index here, so a step of the index is a step of the mark, to the tick
        async with http_service(tmp_path, instruments={BTC: {"mark_method": "index"}}) as svc, \
                aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            await rest.index(BTC, "30000")
            maker = await rest.account("10000000")
            iso_acct, cross_acct = await rest.account("1000"), await rest.account("1000")
            mk = _ccxt(svc, maker)
            iso, cross = _ccxt(svc, iso_acct), _ccxt(svc, cross_acct)
            try:
                await mk.load_markets()
                await mk.create_order(SYM, "limit", "sell", 0.2, 30000)
                for price in (28600, 28000, 25000, 20100, 20000):
                    await mk.create_order(SYM, "limit", "buy", 0.5, price)
                iso_lp = await _long(iso, "isolated", 20)
                cross_lp = await _long(cross, "cross", 10)
                # isolated wallet 150 backs 0.1 BTC bought at 30,000: LP = (3000 - 150) / (0.1 x (1 - 0.4%))
                assert iso_lp == Decimal("28614.40")
                assert cross_lp < iso_lp

                base = base_url(svc).replace("http", "ws", 1)
                status, key = await rest.call("POST", "/fapi/v1/listenKey", headers={"X-MBX-APIKEY": iso_acct["apiKey"]})
                assert status == 200
                user = await session.ws_connect(f"{base}/ws/{key['listenKey']}")
                liquidations = await session.ws_connect(f"{base}/ws/btcusdt@forceOrder")
                await asyncio.sleep(0.2)

                await rest.index(BTC, str(iso_lp + TICK))  # one tick above: nothing happens
                assert await _size(iso) == 0.1 and await _size(cross) == 0.1
                await rest.index(BTC, str(iso_lp))  # at the reported price: the isolated long goes
                assert await _size(iso) == 0 and await _size(cross) == 0.1

                force = json.loads((await liquidations.receive(timeout=5)).data)
                assert force["e"] == "forceOrder"
                assert (force["o"]["s"], force["o"]["S"], force["o"]["q"], force["o"]["X"], force["o"]["ap"]) == \
                    (BTC, "SELL", "0.100", "FILLED", "28600.00000000")
                updates = []
                while not any(u["o"]["X"] == "FILLED" for u in updates):
                    msg = json.loads((await user.receive(timeout=5)).data)
                    if msg["e"] == "ORDER_TRADE_UPDATE" and msg["o"]["c"].startswith("autoclose-"):
                        updates.append(msg)
                filled = next(u["o"] for u in updates if u["o"]["X"] == "FILLED")
                assert (filled["o"], filled["S"], filled["z"], filled["x"]) == ("LIQUIDATION", "SELL", "0.100", "CALCULATED")
                (forced,) = await iso.fapiPrivateGetForceOrders({"symbol": BTC})
                assert (forced["side"], forced["executedQty"], forced["status"]) == ("SELL", "0.100", "FILLED")

                await rest.index(BTC, str(cross_lp + TICK))  # the cross long is still there a tick above its own
                assert await _size(cross) == 0.1
                await rest.index(BTC, str(cross_lp))
                assert await _size(cross) == 0
                await user.close()
                await liquidations.close()
            finally:
                for client in (mk, iso, cross):
                    await client.close()
    run(scenario())
