"""Example bot for docs/protocol.md: open a leveraged long over the socket API, report the position
every second, and stop when the exchange liquidates it (after an admin shocks the index).

    python -m exchange serve --config configs/server.toml --run-dir runs/demo --admin-key classroom-demo-key
    python docs/examples/liquidation_bot.py --admin-key classroom-demo-key          # in a second terminal
    python docs/examples/liquidation_bot.py --admin-key classroom-demo-key --shock -10   # in a third: -10% over 5 s

The admin key is used once, to create and fund the bot's account and a liquidity account that
offers the bot its coins and bids under the market (where its liquidation will be filled).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from decimal import Decimal

from clients.sdk import Client

SYMBOL = "BTCUSDT"
TICK = Decimal("0.1")


async def shock(port: int, admin_key: str, pct: str, seconds: str) -> None:
    async with Client(port=port, api_key=admin_key) as admin:
        print(await admin.shock_index(SYMBOL, pct, seconds))


async def trade(port: int, admin_key: str, leverage: int, timeout: float) -> bool:
    """Returns True once the bot's position has been liquidated."""
    async with Client(port=port, api_key=admin_key) as admin:
        bot_key = await admin.create_account(deposit="1100")
        maker_key = await admin.create_account(deposit="1000000")
        index = (await admin.fetch_ticker(SYMBOL)).index
    async with Client(port=port, api_key=maker_key.api_key) as maker, \
            Client(port=port, api_key=bot_key.api_key) as bot:
        await maker.create_order(SYMBOL, "limit", "sell", "0.5", index.quantize(TICK))
        for pct in (1, 2, 3, 4):
            await maker.create_order(SYMBOL, "limit", "buy", "0.5", (index * (100 - pct) / 100).quantize(TICK))
        await bot.set_leverage(leverage, SYMBOL)
        await bot.subscribe("private")
        order = await bot.create_order(SYMBOL, "market", "buy", "0.5")
        print(f"account {bot.account}: bought {order.filled} {SYMBOL} at {order.average} with {leverage}x leverage")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            (pos,) = await bot.fetch_positions([SYMBOL])
            print(f"size {pos.size} entry {pos.entry_price} mark {pos.mark_price} upnl {pos.unrealized_pnl} "
                  f"liquidation price {pos.liquidation_price} margin ratio {pos.margin_ratio}", flush=True)
            try:
                events = await asyncio.wait_for(bot.watch_private(), 1.0)
            except TimeoutError:
                continue
            for event in events:
                if event["event"] in ("MarginCall", "LiquidationTriggered", "LiquidationOrderPlaced"):
                    print(event, flush=True)
            if any(e["event"] == "LiquidationTriggered" for e in events):
                (pos,) = await bot.fetch_positions([SYMBOL])
                balance = await bot.fetch_balance()
                print(f"LIQUIDATED: position {pos.size}, wallet {balance.wallet} USDT", flush=True)
                return True
    return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=7777)
    p.add_argument("--admin-key", required=True)
    p.add_argument("--leverage", type=int, default=15)
    p.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    p.add_argument("--shock", metavar="PCT", help="instead of trading: move the index by PCT %% (e.g. -10)")
    p.add_argument("--over", default="5", help="seconds over which the shock unfolds")
    args = p.parse_args(argv)
    if args.shock is not None:
        asyncio.run(shock(args.port, args.admin_key, args.shock, args.over))
        return 0
    return 0 if asyncio.run(trade(args.port, args.admin_key, args.leverage, args.timeout)) else 1


if __name__ == "__main__":
    sys.exit(main())
