"""A plain python-binance futures bot, pointed at the exchange by its base URLs and keys only: it opens
a leveraged long at market against the live agents, prints its position as positionRisk reports it,
and waits until the exchange liquidates it (or the time runs out).

    python docs/examples/python_binance_bot.py --url http://127.0.0.1:8080 --key API_KEY --secret SECRET \
        --mode ISOLATED --leverage 20

Each line it prints is a JSON object: {"event": "opened", ...}, then {"event": "liquidated", ...}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from binance.client import Client

SYMBOL = "BTCUSDT"


def connect(url: str, key: str, secret: str) -> Client:
    """python-binance's client with its spot and futures base URLs set to ours."""
    local = type("Local", (Client,), {"API_URL": f"{url}/api", "FUTURES_URL": f"{url}/fapi"})
    return local(key, secret)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--key", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--mode", choices=("ISOLATED", "CROSSED"), default="ISOLATED")
    p.add_argument("--leverage", type=int, default=20)
    p.add_argument("--qty", default="0.050", help="BTC to buy at market")
    p.add_argument("--wait", type=float, default=120, help="seconds to wait for the liquidation")
    args = p.parse_args(argv)
    client = connect(args.url, args.key, args.secret)
    client.futures_change_margin_type(symbol=SYMBOL, marginType=args.mode)
    client.futures_change_leverage(symbol=SYMBOL, leverage=args.leverage)
    order = client.futures_create_order(symbol=SYMBOL, side="BUY", type="MARKET", quantity=args.qty,
                                        newOrderRespType="RESULT")
    (pos,) = [p for p in client.futures_position_information(symbol=SYMBOL) if float(p["positionAmt"])]
    print(json.dumps({"event": "opened", "status": order["status"], "avgPrice": order["avgPrice"],
                      "entryPrice": pos["entryPrice"], "liquidationPrice": pos["liquidationPrice"],
                      "marginType": pos["marginType"], "leverage": pos["leverage"]}), flush=True)
    deadline = time.time() + args.wait
    while time.time() < deadline:
        if not any(float(p["positionAmt"]) for p in client.futures_position_information(symbol=SYMBOL)):
            forced = client.futures_liquidation_orders(symbol=SYMBOL)
            print(json.dumps({"event": "liquidated", "forceOrders": forced}), flush=True)
            return 0
        time.sleep(0.25)
    print(json.dumps({"event": "still open"}), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
