"""Several clients trading against a live server over 127.0.0.1: exact balances, streams, liquidation."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from loopback import SYMBOL, admin_client, close_all, funded_clients, run, service

from clients.sdk import ExchangeError
from exchange.runtime.server import Limits


def test_maker_taker_fill_exact_balances_and_streams(tmp_path):
    """A resting buy is hit by a market sell: positions, fees and both streams carry exact numbers."""
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            a, b, watcher = await funded_clients(svc, admin, 3)
            await a.subscribe("private")
            await watcher.subscribe("trades", SYMBOL)
            fill_wait = asyncio.ensure_future(a.watch_orders())
            trades_wait = asyncio.ensure_future(watcher.watch_trades(SYMBOL))
            await asyncio.sleep(0)
            resting = await a.create_order(SYMBOL, "limit", "buy", "0.1", "30000", {"client_order_id": "a-1"})
            assert (resting.status, resting.remaining, resting.client_order_id) == ("NEW", Decimal("0.1"), "a-1")
            taken = await b.create_order(SYMBOL, "market", "sell", "0.1")
            assert (taken.status, taken.filled, taken.average) == ("FILLED", Decimal("0.1"), Decimal(30000))
            ba, bb = await a.fetch_balance(), await b.fetch_balance()
            assert ba.cross_wallet == Decimal("99999.4")  # maker fee 0.02% of 3,000
            assert bb.cross_wallet == Decimal("99998.5")  # taker fee 0.05% of 3,000
            (pa,), (pb,) = await a.fetch_positions([SYMBOL]), await b.fetch_positions([SYMBOL])
            assert (pa.size, pa.entry_price, pa.side) == (Decimal("0.1"), Decimal(30000), "long")
            assert (pb.size, pb.entry_price, pb.side) == (Decimal("-0.1"), Decimal(30000), "short")
            assert (await admin.fetch_insurance_fund())["fees_collected"] == "2.100000"
            trades = await trades_wait
            assert [(t.price, t.amount, t.side) for t in trades] == [(Decimal(30000), Decimal("0.1"), "sell")]
            seen = await fill_wait
            while not any(m["event"] == "Fill" for m in seen):
                seen += await a.watch_orders()
            fill = next(m for m in seen if m["event"] == "Fill")
            assert (fill["role"], fill["fee"], fill["order_id"]) == ("maker", "0.600000", resting.id)
            await close_all(a, b, watcher, admin)
    run(scenario())


def test_rejections_carry_stable_codes(tmp_path):
    """Bad orders come back as ExchangeError with the engine's or the wire's code; nothing changes."""
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            (a,) = await funded_clients(svc, admin, 1, deposit="100")
            cases = [
                (("limit", "buy", "0.0015", "30000"), "INVALID_PARAM", "qty 0.0015 is not a multiple of lot step 0.001"),
                (("limit", "buy", "0.001", "30000.05"), "INVALID_PARAM", "price 30000.05 is not a multiple of tick size 0.10"),
                (("limit", "buy", "1", "30000"), "INSUFFICIENT_MARGIN", None),
                (("limit", "buy", "0.001", "40000"), "PRICE_BAND", None),
                (("market", "buy", "0.01", None), "NO_LIQUIDITY", None),
                (("limit", "buy", "0.001", "30000"), "MIN_NOTIONAL", None),
            ]
            for (kind, side, qty, price), code, message in cases:
                with pytest.raises(ExchangeError) as err:
                    await a.create_order(SYMBOL, kind, side, qty, price)
                assert err.value.code == code
                if message:
                    assert err.value.message == message
            with pytest.raises(ExchangeError) as err:
                await a.create_order("DOGEUSDT", "limit", "buy", "1", "1")
            assert err.value.code == "UNKNOWN_SYMBOL"
            assert await a.fetch_open_orders() == []
            assert (await a.fetch_balance()).cross_wallet == Decimal(100)
            await close_all(a, admin)
    run(scenario())


def test_rate_limit_refuses_excess_requests(tmp_path):
    """Past the per-connection budget requests get RATE_LIMITED; the connection stays usable."""
    async def scenario():
        async with service(tmp_path, limits=Limits(rate=1.0, burst=5.0)) as svc:
            admin = await admin_client(svc)
            (a,) = await funded_clients(svc, admin, 1)  # hello + login use 2 of the 5
            results = await asyncio.gather(*(a.fetch_time() for _ in range(6)), return_exceptions=True)
            codes = [r.code for r in results if isinstance(r, ExchangeError)]
            assert len(results) - len(codes) == 3 and codes == ["RATE_LIMITED"] * 3
            await asyncio.sleep(1.1)
            assert (await a.fetch_time())["seq"] > 0
            await close_all(a, admin)
    run(scenario())


def test_index_shock_liquidates_a_leveraged_long(tmp_path):
    """The example-bot story: a 15x long, the admin drops the index, the position is liquidated into
    the book at 29,000 and settled at its bankruptcy price 28,015: wallet 0, fund +985."""
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            (bot,) = await funded_clients(svc, admin, 1, deposit="2000")
            (maker, watcher) = await funded_clients(svc, admin, 2)
            await bot.subscribe("private")
            await watcher.subscribe("liquidations", SYMBOL)
            liq_wait = asyncio.ensure_future(watcher.watch_liquidations(SYMBOL))
            private_wait = asyncio.ensure_future(bot.watch_private())
            await asyncio.sleep(0)
            await maker.create_order(SYMBOL, "limit", "sell", "1", "30000")
            opened = await bot.create_order(SYMBOL, "market", "buy", "1")
            assert opened.average == Decimal(30000)
            await maker.create_order(SYMBOL, "limit", "buy", "1", "29000")
            (pos,) = await bot.fetch_positions([SYMBOL])
            assert pos.liquidation_price == Decimal("28127.510040")  # (30,000 - 1,985) / (1 - 0.004)
            assert pos.bankruptcy_price == Decimal(28015)
            await admin.set_index(SYMBOL, "28000")
            (liq,) = await liq_wait
            assert (liq.side, liq.amount, liq.filled, liq.average, liq.margin_mode) == (
                "sell", Decimal(1), Decimal(1), Decimal(29000), "cross")
            events = [m["event"] for m in await private_wait]
            while "LiquidationTriggered" not in events:
                events += [m["event"] for m in await bot.watch_private()]
            (pos,) = await bot.fetch_positions([SYMBOL])
            assert pos.size == 0
            assert (await bot.fetch_balance()).cross_wallet == 0
            assert (await admin.fetch_insurance_fund())["balance"] == "1000985.000000"
            await close_all(bot, maker, watcher, admin)
    run(scenario())


def test_admin_halts_trading_and_changes_parameters(tmp_path):
    """Halting refuses orders (every connection hears it), resuming restores them; a parameter
    change takes effect at once."""
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            (a,) = await funded_clients(svc, admin, 1)
            statuses: list[dict] = []
            a.add_listener(lambda m: statuses.append(m) if m["type"] == "status" else None)
            assert await admin.set_trading_halted(True) == {"halted": True}
            with pytest.raises(ExchangeError) as err:
                await a.create_order(SYMBOL, "limit", "buy", "0.01", "29900")
            assert err.value.code == "TRADING_HALTED"
            await admin.set_trading_halted(False)
            assert (await a.create_order(SYMBOL, "limit", "buy", "0.01", "29900")).status == "NEW"
            assert [m["halted"] for m in statuses] == [True, False]
            await admin.set_instrument_param(SYMBOL, "min_notional_cash", 1000 * 10**6)
            with pytest.raises(ExchangeError) as err:
                await a.create_order(SYMBOL, "limit", "buy", "0.01", "29900")
            assert err.value.code == "MIN_NOTIONAL"
            with pytest.raises(ExchangeError) as err:
                await admin.set_instrument_param(SYMBOL, "tick_size", 1)
            assert err.value.code == "INVALID_PARAMETER"
            await close_all(a, admin)
    run(scenario())


def test_isolated_margin_through_the_sdk(tmp_path):
    """Isolated mode, 10x: opening 0.1 BTC at 30,000 puts 300 USDT in the isolated wallet; margin is
    added and removed exactly; watch_positions and watch_orders see the changes."""
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            a, maker = await funded_clients(svc, admin, 2)
            assert await a.set_margin_mode("isolated", SYMBOL) == {"symbol": SYMBOL, "mode": "ISOLATED"}
            assert await a.set_leverage(10, SYMBOL) == {"symbol": SYMBOL, "leverage": 10}
            await maker.create_order(SYMBOL, "limit", "sell", "0.1", "30000")
            positions = asyncio.ensure_future(a.watch_positions())
            orders = asyncio.ensure_future(a.watch_orders())
            await asyncio.sleep(0)
            await a.create_order(SYMBOL, "market", "buy", "0.1")
            (pos,) = [p for p in await positions if p.symbol == SYMBOL]
            assert (pos.size, pos.margin_mode, pos.isolated_wallet) == (Decimal("0.1"), "isolated", Decimal(300))
            assert {m["event"] for m in await orders} <= {"OrderAccepted", "Fill"}
            assert (await a.fetch_balance()).cross_wallet == Decimal("99698.5")  # 300 moved, 1.5 taker fee
            await a.add_margin(SYMBOL, "50")
            await a.reduce_margin(SYMBOL, "20")
            (pos,) = await a.fetch_positions([SYMBOL])
            assert pos.isolated_wallet == Decimal(330)
            assert pos.liquidation_price == Decimal("26807.22892")  # (3,000 - 330) / (0.1 x (1 - 0.004))
            with pytest.raises(ExchangeError) as err:
                await a.reduce_margin(SYMBOL, "100")
            assert err.value.code == "INSUFFICIENT_MARGIN"
            with pytest.raises(ExchangeError) as err:
                await a.set_margin_mode("cross", SYMBOL)
            assert err.value.code == "MARGIN_MODE_LOCKED"
            await a.subscribe("private")
            await admin.set_index(SYMBOL, "26820")  # 13 above the liquidation price: a margin call only
            call = next(m for m in await a.watch_private() if m["event"] == "MarginCall")
            assert (call["symbol"], call["mode"], call["margin_balance"]) == (SYMBOL, "ISOLATED", "12.000000")
            assert call["margin_ratio"] == "0.894000"  # MM 10.728 / margin balance 12
            (pos,) = await a.fetch_positions([SYMBOL])
            assert pos.size == Decimal("0.1") and pos.margin_ratio == Decimal("0.894")
            await close_all(a, maker, admin)
    run(scenario())
