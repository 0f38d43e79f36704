"""A plain ccxt `binanceusdm` bot, pointed at the exchange by its base URL and keys only: it opens a
leveraged long at market against the live agents, prints its position as positionRisk reports it
(entry, liquidation price), and waits until the exchange liquidates it (or the time runs out).

    python docs/examples/ccxt_bot.py --url http://127.0.0.1:8080 --key API_KEY --secret SECRET \
        --mode isolated --leverage 20

Each line it prints is a JSON object: {"event": "opened", ...}, then {"event": "liquidated", ...}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import ccxt

SYMBOL = "BTC/USDT:USDT"


def connect(url: str, key: str, secret: str) -> ccxt.binanceusdm:
    """Binance's client with every REST host replaced by ours (the paths stay)."""
    exchange = ccxt.binanceusdm({"apiKey": key, "secret": secret})
    for name, api_url in exchange.urls["api"].items():
        if isinstance(api_url, str):
            exchange.urls["api"][name] = url + api_url[api_url.index("/", 8):]
    return exchange


def open_position(exchange: ccxt.binanceusdm) -> dict:
    """The bot's one position in SYMBOL, as fetch_positions (positionRisk) reports it."""
    return next(p for p in exchange.fetch_positions([SYMBOL]) if p["contracts"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--key", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--mode", choices=("isolated", "cross"), default="isolated")
    p.add_argument("--leverage", type=int, default=20)
    p.add_argument("--qty", type=float, default=0.05, help="BTC to buy at market")
    p.add_argument("--wait", type=float, default=120, help="seconds to wait for the liquidation")
    args = p.parse_args(argv)
    exchange = connect(args.url, args.key, args.secret)
    exchange.load_markets()
    exchange.set_margin_mode(args.mode, SYMBOL)
    exchange.set_leverage(args.leverage, SYMBOL)
    order = exchange.create_order(SYMBOL, "market", "buy", args.qty)
    pos = open_position(exchange)
    print(json.dumps({"event": "opened", "filled": order["filled"], "average": order["average"],
                      "entryPrice": pos["entryPrice"], "liquidationPrice": pos["liquidationPrice"],
                      "marginMode": pos["marginMode"], "leverage": pos["leverage"]}), flush=True)
    deadline = time.time() + args.wait
    while time.time() < deadline:
        if not any(p["contracts"] for p in exchange.fetch_positions([SYMBOL])):
            forced = exchange.fapiPrivateGetForceOrders({"symbol": "BTCUSDT"})
            print(json.dumps({"event": "liquidated", "forceOrders": forced,
                              "balance": exchange.fetch_balance()["USDT"]["total"]}), flush=True)
            return 0
        time.sleep(0.25)
    print(json.dumps({"event": "still open"}), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
