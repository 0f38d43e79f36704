"""`python -m bench liquidation [--sizes 1000,10000,100000] [--ticks N] [--repeats R] [--seed S]`: what a
mark-price tick costs, quiet and liquidating, as the number of accounts grows.

For each N: N accounts hold open positions against one deep market maker (a mix of cross and isolated
margin, leverage spread 2x..50x, long and short). Every tick is an IndexPrice command through the
whole `Exchange.apply` path (mark, breach check, liquidation orders through the book, insurance).
- liquidation.quiet_tick: small random moves, nobody breached; the sizes are interleaved R times and
  liquidation.quiet_tick_growth is the median of (largest N / smallest N) per repetition: flat is 1.0.
- liquidation.per_account: a downward walk paced so that each tick breaches about 0.1% of the
  accounts; microseconds of those ticks per account liquidated, events apply returned per account,
  and the Python calls (and calls into C) per account over COUNTED_TICKS further liquidating ticks.
  Sizes under 10,000 accounts repeat this on up to MAX_POPULATIONS fresh populations, so that about
  --min-liquidated accounts are timed. The issue's target is in microseconds, which drift with the machine's load:
  x_textbook_event states the same cost in textbook-book events (bench/textbook.py), timed in turn
  with the liquidating ticks.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.__main__ import emit
from bench.book import replay_textbook
from bench.profiling import count_calls, per
from bench.textbook import TextbookBook
from bench.workload import Event, generate
from exchange.config import load_config
from exchange.core import Exchange
from exchange.core.commands import (
    BUY, IOC, SELL, CancelAll, CreateAccount, Deposit, Envelope, IndexPrice, PlaceOrder, SetLeverage, SetMarginMode,
)
from exchange.core.events import LiquidationTriggered
from exchange.core.margin import solve_price

MID = 500_000  # 50,000.0 USDT at tick 0.1
MAKER = 0
COUNTED_TICKS = 10  # liquidating ticks after the timed ones, run under the call counter
REFERENCE_EVENTS = 20_000  # the textbook book's stream, the speed reference timed between liquidating ticks
TICK_CHUNK, REFERENCE_CHUNK = 10, 2_000  # liquidating ticks, then textbook events, in turn
MAX_POPULATIONS = 10  # fresh populations per size at most, to time --min-liquidated accounts


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
    d.apply(IndexPrice(sym, MID))  # a tick re-indexes everyone (lazily done at the first one), untimed
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


class Ticks:
    """What a run of mark ticks did and cost."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.accounts: set[int] = set()  # liquidated
        self.triggers = 0
        self.produced = 0  # events apply returned


def time_ticks(d: Driver, prices: list[int], into: Ticks | None = None) -> Ticks:
    """One mark tick per price through apply, timed (the caller turns the garbage collector off)."""
    sym = d.inst.symbol
    t = into or Ticks()
    accounts = t.accounts
    triggers = produced = 0
    t0 = time.perf_counter()
    for p in prices:
        out = d.apply(IndexPrice(sym, p))
        produced += len(out)
        for e in out:
            if type(e) is LiquidationTriggered:
                accounts.add(e.account)
                triggers += 1
    t.seconds += time.perf_counter() - t0
    t.triggers += triggers
    t.produced += produced
    return t


class Reference:
    """The machine's speed, measured in turns: the textbook book replaying a fixed stream."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.book, self.at = TextbookBook(), 0
        self.seconds, self.count = 0.0, 0

    def turn(self) -> None:
        if self.at + REFERENCE_CHUNK > len(self.events):
            self.book, self.at = TextbookBook(), 0
        part = self.events[self.at:self.at + REFERENCE_CHUNK]
        self.at += REFERENCE_CHUNK
        t0 = time.perf_counter()
        replay_textbook(self.book, part, [])
        self.seconds += time.perf_counter() - t0
        self.count += len(part)

    def us_per_event(self) -> float:
        return self.seconds / self.count * 1e6


def liquidating(d: Driver, prices: list[int], reference: Reference) -> Ticks:
    """The ticks TICK_CHUNK at a time, each chunk followed by a turn of the reference."""
    t = Ticks()
    with gc_off():
        for i in range(0, len(prices), TICK_CHUNK):
            time_ticks(d, prices[i:i + TICK_CHUNK], t)
            reference.turn()
    return t


@contextmanager
def gc_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def quiet_walk(ticks: int, seed: int) -> list[int]:
    """A random walk of +-1 tick within +-20 ticks of MID: nobody is breached."""
    rng = random.Random(seed)
    walk, price = [], MID
    for _ in range(ticks):
        price = min(MID + 20, max(MID - 20, price + rng.choice((-1, 1))))
        walk.append(price)
    return walk


def breach_steps(d: Driver, n: int, count: int) -> list[int]:
    """Mark prices stepping down so that each tick breaches about 0.1% of the accounts."""
    lps = long_liquidation_prices(d)
    per_tick = max(1, n // 1000)
    return [lps[i] for i in range(per_tick - 1, len(lps), per_tick)][:count]


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench liquidation")
    p.add_argument("--sizes", default="1000,10000,100000", help="comma-separated account counts")
    p.add_argument("--ticks", type=int, default=10_000, help="quiet ticks per repetition")
    p.add_argument("--repeats", type=int, default=5, help="interleaved repetitions of the quiet ticks")
    p.add_argument("--breach-ticks", type=int, default=200, help="timed ticks that liquidate")
    p.add_argument("--min-liquidated", type=int, default=2_000, help="accounts to time liquidating per size")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    drivers, setup = {}, {}
    for n in sizes:
        t0 = time.perf_counter()
        drivers[n] = populate(n, args.seed)
        setup[n] = time.perf_counter() - t0
    walk = quiet_walk(args.ticks, args.seed)
    reference_events = generate(REFERENCE_EVENTS, args.seed)
    quiet: dict[int, list[float]] = {n: [] for n in sizes}
    examined = {n: drivers[n].ex.liquidation.examined for n in sizes}
    for _ in range(args.repeats):  # interleaved: a drift of the machine's speed hits every size alike
        for n in sizes:
            with gc_off():
                t = time_ticks(drivers[n], walk)
            assert not t.accounts, "a quiet tick liquidated someone"
            quiet[n].append(t.seconds / len(walk) * 1e6)
    for n in sizes:
        emit("liquidation.quiet_tick", round(statistics.median(quiet[n]), 2), "us/tick", accounts=n,
             ticks=len(walk), repeats=args.repeats, setup_seconds=round(setup[n], 1),
             examined_per_tick=round((drivers[n].ex.liquidation.examined - examined[n]) / (len(walk) * args.repeats), 3))
    if len(sizes) > 1:
        lo, hi = min(sizes), max(sizes)
        ratios = [b / a for a, b in zip(quiet[lo], quiet[hi])]
        emit("liquidation.quiet_tick_growth", round(statistics.median(ratios), 2), f"x ({hi} vs {lo} accounts)",
             ratio_min=round(min(ratios), 2), ratio_max=round(max(ratios), 2), note="flat in N is 1.0")
    for n in sizes:
        # enough populations that about --min-liquidated accounts are liquidated: a short timing is noise
        rounds = max(1, min(MAX_POPULATIONS, args.min_liquidated // (max(1, n // 1000) * args.breach_ticks)))
        reference = Reference(reference_events)
        seconds, liquidated, triggers, produced = 0.0, 0, 0, 0
        for r in range(rounds):
            d = drivers[n] if r == 0 else populate(n, args.seed + r)
            steps = breach_steps(d, n, args.breach_ticks + COUNTED_TICKS)
            timed = steps[:args.breach_ticks]
            t = liquidating(d, timed, reference)
            seconds, liquidated = seconds + t.seconds, liquidated + len(t.accounts)
            triggers, produced = triggers + t.triggers, produced + t.produced
        counted_ticks, py, c = count_calls(time_ticks, d, steps[args.breach_ticks:])
        us = seconds / max(1, liquidated) * 1e6
        ticks = rounds * len(timed)
        emit("liquidation.per_account", round(us, 2), "us/liquidated account", accounts=n,
             x_textbook_event=round(us / reference.us_per_event(), 1),
             textbook_us_per_event=round(reference.us_per_event(), 3), populations=rounds,
             ticks=ticks, liquidated=liquidated, triggers=triggers,
             liquidated_per_tick=round(liquidated / ticks, 2), us_per_tick=round(seconds / ticks * 1e6, 1),
             events_per_liquidation=round(produced / max(1, liquidated), 1),
             calls_per_liquidation=per(py, len(counted_ticks.accounts), 0),
             c_calls_per_liquidation=per(c, len(counted_ticks.accounts), 0),
             calls_counted_over=len(counted_ticks.accounts))
        d.ex.check_invariants()
