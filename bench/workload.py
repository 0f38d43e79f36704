"""Seeded order-flow workloads for the book benchmarks, and the CSV format they can be read from.

The stream is generated against the textbook book (bench/textbook.py), never the core's, so changing
the code under test cannot change the events it is measured on."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator

from bench.textbook import BUY, SELL, TextbookBook

# kind 0 = GTC limit, 1 = cancel of order oid, 2 = market; side 0 = buy, 1 = sell
LIMIT, CANCEL, MARKET = 0, 1, 2
Event = tuple[int, int, int, int, int]  # kind, oid, side, price, qty


def generate(n: int = 1_000_000, seed: int = 1, target_orders: int = 5_000, mid: int = 100_000) -> list[Event]:
    """About 60% limit adds within +-50 ticks of mid (mostly passive, ~10% marketable), 30% cancels of
    live orders, 10% market orders; market size adapts so the book stays near `target_orders`."""
    rng = random.Random(seed)
    book = TextbookBook()
    live: list[int] = []
    where: dict[int, int] = {}
    out: list[Event] = []
    oid = 0

    def forget(o: int) -> None:
        i = where.pop(o)
        last = live.pop()
        if last != o:
            live[i] = last
            where[last] = i

    while len(out) < n:
        r = rng.random()
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            mid = (bid + ask) // 2
        if len(out) < target_orders or r < 0.6:
            oid += 1
            side = rng.randrange(2)
            sign = 1 if side == 0 else -1
            if rng.random() < 0.1:
                price = mid + sign * rng.randint(0, 5)
            else:
                price = mid - sign * rng.randint(1, 50)
            qty = rng.randint(1, 10)
            event: Event = (LIMIT, oid, side, price, qty)
        elif r < 0.9 and live:
            event = (CANCEL, live[rng.randrange(len(live))], 0, 0, 0)
        else:
            oid += 1
            big = len(book.orders) > target_orders
            event = (MARKET, oid, rng.randrange(2), 0, rng.randint(20, 60) if big else rng.randint(1, 25))
        out.append(event)
        for maker_oid in apply_to_book(book, event):
            forget(maker_oid)
        if event[0] == LIMIT and event[1] in book.orders:
            where[event[1]] = len(live)
            live.append(event[1])
        elif event[0] == CANCEL:
            forget(event[1])
    return out


def apply_to_book(book: TextbookBook, event: Event) -> list[int]:
    """Apply one workload event to a textbook book; returns the oids of makers that left the book."""
    kind, oid, side, price, qty = event
    if kind == CANCEL:
        book.cancel(oid)
        return []
    matched: list = []
    if kind == LIMIT:
        book.limit(oid, BUY if side == 0 else SELL, price, qty, matched)
    else:
        book.market(oid, BUY if side == 0 else SELL, qty, matched)
    return [maker for _, maker, _, _ in matched if maker not in book.orders]


def write_csv(path: str, events: list[Event]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["kind", "oid", "side", "price", "qty"])
        w.writerows(events)


def read_csv(path: str) -> list[Event]:
    with open(path, newline="") as fh:
        rows: Iterator[list[str]] = csv.reader(fh)
        header = next(rows)
        if header != ["kind", "oid", "side", "price", "qty"]:
            raise ValueError(f"{path}: header must be kind,oid,side,price,qty, not {','.join(header)}")
        return [(int(a), int(b), int(c), int(d), int(e)) for a, b, c, d, e in rows]
