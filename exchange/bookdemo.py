"""A small built-in session: two makers quote, a taker sweeps, then print the book and the trades."""

from __future__ import annotations

from .config import load_config
from .core import Exchange
from .core.commands import BUY, MARKET, SELL, CreateAccount, Deposit, Envelope, IndexPrice, PlaceOrder
from .core.events import Trade
from .core.money import CASH_SCALE


def run() -> tuple[Exchange, list]:
    cfg = load_config()
    ex = Exchange(cfg.instruments, cfg.initial_insurance_fund_cash)
    inst = ex.instruments["BTCUSDT"]
    px = inst.price_to_ticks
    commands = [CreateAccount(1), CreateAccount(2), CreateAccount(3)]
    commands += [Deposit(a, 1_000_000 * CASH_SCALE) for a in (1, 2, 3)]
    commands.append(IndexPrice("BTCUSDT", px("60000")))
    for i, (side, price) in enumerate([(SELL, "60010"), (SELL, "60020"), (SELL, "60030"), (BUY, "59990"), (BUY, "59980")]):
        commands.append(PlaceOrder(1 + i % 2, "BTCUSDT", side, inst.qty_to_lots("0.5"), px(price)))
    commands.append(PlaceOrder(3, "BTCUSDT", BUY, inst.qty_to_lots("1.2"), 0, MARKET))
    events: list = []
    for seq, cmd in enumerate(commands, 1):
        events += ex.apply(Envelope(seq, seq * 1_000_000_000, "demo", cmd))
    return ex, events


def main(argv: list[str] | None = None) -> int:
    ex, events = run()
    inst = ex.instruments["BTCUSDT"]
    book = ex.books["BTCUSDT"]
    print("BTCUSDT book")
    for price, qty in reversed(book.depth(SELL, 5)):
        print(f"  ask {inst.ticks_to_str(price):>10} x {inst.lots_to_str(qty)}")
    for price, qty in book.depth(BUY, 5):
        print(f"  bid {inst.ticks_to_str(price):>10} x {inst.lots_to_str(qty)}")
    print("trades")
    for e in events:
        if isinstance(e, Trade):
            print(f"  #{e.trade_id} {'buy' if e.taker_side == BUY else 'sell'} {inst.lots_to_str(e.qty_lots)} @ "
                  f"{inst.ticks_to_str(e.price_ticks)} (taker {e.taker_account}, maker {e.maker_account})")
    print(f"state hash {ex.state_hash()}")
    return 0
