"""`python -m bench book [--events N] [--seed S] [--workload FILE]`: order-book throughput.

Three figures on the same event stream: the bare Book, the whole Exchange.apply path without margin
checks, and Exchange.apply with margin checks (pre-trade margin, reservations, risk re-indexing).
fills_sha256 = sha256 of "taker_oid,maker_oid,price,qty\\n" per fill in match order (equal on all three).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import time

from bench.__main__ import emit
from bench.workload import CANCEL, LIMIT, Event, generate, read_csv
from exchange.config import load_config
from exchange.core import Exchange
from exchange.core.book import NO_ASK, Book, Order
from exchange.core.commands import BUY, MARKET, SELL, CancelOrder, CreateAccount, Deposit, Envelope, IndexPrice, PlaceOrder
from exchange.core.events import Trade

ACCOUNTS = 100
MID = 100_000


def fills_digest(fills: list[tuple[int, int, int, int]]) -> str:
    h = hashlib.sha256()
    for f in fills:
        h.update(f"{f[0]},{f[1]},{f[2]},{f[3]}\n".encode())
    return h.hexdigest()


def run_book(events: list[Event]) -> tuple[float, list]:
    """The bare book: match, rest, cancel. Returns (seconds, fills)."""
    book = Book()
    fills: list = []
    record = fills.append
    add, cancel, match, crosses = book.add, book.cancel, book.match, book.crosses
    gc.disable()
    t0 = time.perf_counter()
    taker = 0

    def fill(maker: Order, q: int, p: int) -> tuple[int, int]:
        record((taker, maker.oid, p, q))
        return q, 0

    for kind, oid, side, price, qty in events:
        if kind == CANCEL:
            cancel(oid)
            continue
        s = BUY if side == 0 else SELL
        taker = oid
        if kind == LIMIT:
            order = Order(oid, oid % ACCOUNTS, s, price, qty, oid)
            if crosses(s, price):
                match(order, price, fill)
                if order.qty:
                    add(order)
            else:
                add(order)
        else:
            order = Order(oid, oid % ACCOUNTS, s, 0, qty, oid)
            match(order, NO_ASK - 1 if s == BUY else 1, fill)
    dt = time.perf_counter() - t0
    gc.enable()
    return dt, fills


def bench_exchange(margin_checks: bool) -> Exchange:
    cfg = load_config()
    inst = cfg.instruments[0].with_changes(min_notional_cash=0)
    ex = Exchange([inst], 0, margin_checks)
    seq = 0
    for a in range(ACCOUNTS):
        for cmd in (CreateAccount(a), Deposit(a, 10**15)):
            seq += 1
            ex.apply(Envelope(seq, 0, "bench", cmd))
    ex.apply(Envelope(seq + 1, 0, "bench", IndexPrice(inst.symbol, MID)))
    return ex


def to_envelopes(events: list[Event], symbol: str, first_seq: int) -> list[Envelope]:
    out = []
    for i, (kind, oid, side, price, qty) in enumerate(events):
        if kind == CANCEL:
            cmd = CancelOrder(oid % ACCOUNTS, symbol, oid)
        else:
            s = BUY if side == 0 else SELL
            cmd = PlaceOrder(oid % ACCOUNTS, symbol, s, qty, price) if kind == LIMIT else \
                PlaceOrder(oid % ACCOUNTS, symbol, s, qty, 0, MARKET)
        out.append(Envelope(first_seq + i, 1, "bench", cmd))
    return out


def run_apply(events: list[Event], margin_checks: bool) -> tuple[float, list, Exchange]:
    ex = bench_exchange(margin_checks)
    envelopes = to_envelopes(events, next(iter(ex.instruments)), ex.seq + 1)
    apply = ex.apply
    fills = []
    gc.disable()
    t0 = time.perf_counter()
    for env in envelopes:
        for e in apply(env):
            if type(e) is Trade:
                fills.append((e.taker_order_id, e.maker_order_id, e.price_ticks, e.qty_lots))
    dt = time.perf_counter() - t0
    gc.enable()
    return dt, fills, ex


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench book")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workload", help="CSV with header kind,oid,side,price,qty")
    args = p.parse_args(argv)
    events = read_csv(args.workload) if args.workload else generate(args.events, args.seed, mid=MID)
    n = len(events)
    source = args.workload or f"seeded(n={n}, seed={args.seed})"
    dt, fills = run_book(events)
    digest = fills_digest(fills)
    emit("book", round(n / dt), "events/s", path="book", workload=source, events=n, fills=len(fills),
         fills_sha256=digest, seconds=round(dt, 3))
    for margin_checks in (False, True):
        dt, afills, ex = run_apply(events, margin_checks)
        emit("book", round(n / dt), "events/s", path="apply+margin" if margin_checks else "apply", workload=source,
             events=n, fills=len(afills), fills_sha256=fills_digest(afills), same_fills=fills_digest(afills) == digest,
             seconds=round(dt, 3))
        ex.check_invariants()
