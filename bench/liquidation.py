"""`python -m bench liquidation [--sizes 1000,10000,100000] [--ticks N] [--seed S]`: cost of a mark-price tick.

For each N: N accounts hold open positions against one deep market maker (a mix of cross and isolated
margin, leverage spread 2x..50x, long and short). Two runs of mark ticks through the whole apply path:
small random moves with nobody breached, then a downward walk paced so that about 0.1% of the accounts
are breached (and liquidated through the book) per tick. Reports microseconds per tick for each.
"""

from __future__ import annotations

import argparse
import gc
import random
import time

from bench.__main__ import emit
from exchange.config import load_config
from exchange.core import Exchange
from exchange.core.commands import (
    BUY, IOC, SELL, CancelAll, CreateAccount, Deposit, Envelope, IndexPrice, PlaceOrder, SetLeverage, SetMarginMode,
)
from exchange.core.events import LiquidationTriggered
from exchange.core.margin import solve_price

MID = 500_000  # 50,000.0 USDT at tick 0.1
MAKER = 0


class Driver:
    def __init__(self, margin_checks: bool = True) -> None:
        cfg = load_config()
        inst = cfg.instruments[0].with_changes(min_notional_cash=0, mark_method="index", max_open_orders=10**6)
        self.inst = inst
        self.ex = Exchange([inst], 10**15, margin_checks)
        self.seq = 0
        self.ts = 0

    def apply(self, cmd) -> list:
        self.seq += 1
        self.ts += 1_000_000  # 1 ms per command: funding timers stay far away
        return self.ex.apply(Envelope(self.seq, self.ts, "bench", cmd))


def populate(n: int, seed: int) -> Driver:
    """N traders with positions opened against the maker's resting orders at MID."""
    rng = random.Random(seed)
    d = Driver()
    sym = d.inst.symbol
    d.apply(CreateAccount(MAKER))
    d.apply(Deposit(MAKER, 10**17))
    d.apply(SetLeverage(MAKER, sym, 1))
    d.apply(IndexPrice(sym, MID))
    for a in range(1, n + 1):
        side = BUY if rng.random() < 0.5 else SELL
        lev = rng.randint(2, 50)
        qty = rng.randint(1, 100)  # 0.001 .. 0.1 BTC
        margin = qty * MID * d.inst.cash_per_tick_lot // lev
        d.apply(CreateAccount(a))
        d.apply(Deposit(a, margin * 11 // 10 + 10**6))
        if rng.random() < 0.5:
            d.apply(SetMarginMode(a, sym, "ISOLATED"))
        d.apply(SetLeverage(a, sym, lev))
        d.apply(PlaceOrder(MAKER, sym, -side, qty, MID))
        d.apply(PlaceOrder(a, sym, side, qty, MID, tif=IOC))
    # deep bids and asks for the liquidation orders to trade against
    d.apply(CancelAll(MAKER, sym))
    for i in range(1, 400):
        d.apply(PlaceOrder(MAKER, sym, BUY, 1_000_000, MID - 250 * i))
        d.apply(PlaceOrder(MAKER, sym, SELL, 1_000_000, MID + 250 * i))
    d.ex.breach_entries()  # index everyone now (lazily done at the first tick otherwise) so ticks time alone
    return d


def long_liquidation_prices(d: Driver) -> list[int]:
    ex = d.ex
    out = []
    for pos in ex.holders[d.inst.symbol].values():
        if pos.size > 0 and pos.account != MAKER:
            other = pos.isolated_wallet if pos.isolated else ex.accounts[pos.account].cross_wallet
            lp = solve_price(d.inst, pos.size, pos.cost, other)
            if lp:
                out.append(lp[0] // lp[1])
    return sorted(out, reverse=True)


def time_ticks(d: Driver, prices: list[int]) -> tuple[float, int]:
    sym = d.inst.symbol
    breached = 0
    gc.disable()
    t0 = time.perf_counter()
    for p in prices:
        for e in d.apply(IndexPrice(sym, p)):
            if type(e) is LiquidationTriggered:
                breached += 1
    dt = time.perf_counter() - t0
    gc.enable()
    return dt, breached


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench liquidation")
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--ticks", type=int, default=2000)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    for n in (int(s) for s in args.sizes.split(",")):
        rng = random.Random(args.seed)
        t0 = time.perf_counter()
        d = populate(n, args.seed)
        setup = time.perf_counter() - t0
        walk, price = [], MID
        for _ in range(args.ticks):
            price = min(MID + 20, max(MID - 20, price + rng.choice((-1, 1))))
            walk.append(price)
        dt, breached = time_ticks(d, walk)
        emit("liquidation", round(dt / len(walk) * 1e6, 2), "us/tick", accounts=n, case="none_breached",
             ticks=len(walk), breached=breached, setup_seconds=round(setup, 1))
        lps = long_liquidation_prices(d)
        per_tick = max(1, n // 1000)
        steps = [lps[i] for i in range(per_tick - 1, len(lps), per_tick)][:200]
        dt, breached = time_ticks(d, steps)
        emit("liquidation", round(dt / len(steps) * 1e6, 2), "us/tick", accounts=n, case="0.1pct_breached",
             ticks=len(steps), breached=breached, breached_per_tick=round(breached / len(steps), 2))
        d.ex.check_invariants()
