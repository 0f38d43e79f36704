"""`python -m bench book [--events N] [--repeats R] [--seed S] [--workload FILE]`: the book and the apply path
as ratios against the textbook book (bench/textbook.py), all replaying the same event stream.

Four paths replay the whole stream, each on fresh state, interleaved CHUNK events at a time (textbook,
bare Book, Exchange.apply, Exchange.apply with margin checks, then the next chunk), with the garbage
collector off; the whole replay is repeated R times:
- book.textbook: the reference, events/s;
- book.bare: the core's Book driven through its public methods (crosses, take, add, cancel);
- book.apply: whole `Exchange.apply` commands (PlaceOrder, CancelOrder) with margin checks off;
- book.apply_margin: the same with margin checks (pre-trade margin, reservations, risk re-indexing).
Each ratio is the median over the repetitions of (textbook seconds / path seconds), both summed over
the chunks of one replay, so a drift of the machine's speed hits both alike; above 1 means faster.
fills_sha256 = sha256 of "taker_oid,maker_oid,price,qty\\n" per fill in match order: it must be equal on
every path (the run stops otherwise). calls_per_order counts Python function calls (c_calls_per_order
the calls into C functions) per workload event, each an order placement or a cancel, on a slice of
the stream after a warm-up (on the compiled core, whose functions are C, only the calls into it are
counted, as C calls); events_per_fill is what apply returned per fill over the whole stream.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from bench.__main__ import emit
from bench.profiling import count_calls, per
from bench.textbook import TextbookBook
from bench.workload import CANCEL, LIMIT, Event, generate, read_csv
from exchange.config import load_config
from exchange.core import Exchange
from exchange.core.book import NO_ASK, Book
from exchange.core.commands import BUY, MARKET, SELL, CancelOrder, CreateAccount, Deposit, Envelope, IndexPrice, PlaceOrder
from exchange.core.events import Trade

ACCOUNTS = 100
MID = 100_000
PATHS = ("textbook", "bare", "apply", "apply_margin")
WARMUP, SLICE = 10_000, 10_000  # events before the call-counted slice, and its length
CHUNK = 2_000  # events each path replays in its turn


def fills_digest(fills: list[tuple[int, int, int, int]]) -> str:
    h = hashlib.sha256()
    for f in fills:
        h.update(f"{f[0]},{f[1]},{f[2]},{f[3]}\n".encode())
    return h.hexdigest()


# -- the replays: each takes the state it runs on, the events, and the list the fills go to --------
def replay_textbook(book: TextbookBook, events: list[Event], fills: list) -> int:
    limit, market, cancel = book.limit, book.market, book.cancel
    for kind, oid, side, price, qty in events:
        if kind == CANCEL:
            cancel(oid)
        elif kind == LIMIT:
            limit(oid, BUY if side == 0 else SELL, price, qty, fills)
        else:
            market(oid, BUY if side == 0 else SELL, qty, fills)
    return 0


def replay_bare(book: Book, events: list[Event], fills: list) -> int:
    """The core's Book through its public methods; every fill accepted (`Book.take`)."""
    record = fills.append
    add, cancel, take, crosses = book.add, book.cancel, book.take, book.crosses
    matched: list[tuple[int, int, int]] = []
    for kind, oid, side, price, qty in events:
        if kind == CANCEL:
            cancel(oid)
            continue
        s = BUY if side == 0 else SELL
        if kind == LIMIT:
            if crosses(s, price):
                qty = take(s, qty, price, matched)
            if qty:
                add(oid, s, price, qty)
        else:
            take(s, qty, NO_ASK - 1 if s == BUY else 1, matched)
        if matched:
            for maker, p, q in matched:
                record((oid, maker, p, q))
            matched.clear()
    return 0


def replay_apply(apply: Callable[[Envelope], list], envelopes: list[Envelope], fills: list) -> int:
    """Returns the number of events apply produced."""
    record = fills.append
    produced = 0
    for env in envelopes:
        out = apply(env)
        produced += len(out)
        for e in out:
            if type(e) is Trade:
                record((e.taker_order_id, e.maker_order_id, e.price_ticks, e.qty_lots))
    return produced


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
        cmd: CancelOrder | PlaceOrder
        if kind == CANCEL:
            cmd = CancelOrder(oid % ACCOUNTS, symbol, oid)
        else:
            s = BUY if side == 0 else SELL
            cmd = PlaceOrder(oid % ACCOUNTS, symbol, s, qty, price) if kind == LIMIT else \
                PlaceOrder(oid % ACCOUNTS, symbol, s, qty, 0, MARKET)
        out.append(Envelope(first_seq + i, 1, "bench", cmd))
    return out


class Subject:
    """One path under test: fresh state for each replay, and the stream in the form it consumes."""

    def __init__(self, name: str, stream: list[Any]) -> None:
        self.name = name
        self.stream = stream

    def fresh(self) -> tuple[Callable[[Any, list, list], int], Any, Exchange | None]:
        """(replay function, the state it replays on, the exchange if any)."""
        if self.name == "textbook":
            return replay_textbook, TextbookBook(), None
        if self.name == "bare":
            return replay_bare, Book(), None
        ex = bench_exchange(self.name == "apply_margin")
        return replay_apply, ex.apply, ex

    def calls(self) -> tuple[float | None, float | None]:
        """(Python calls, C calls) per event on the slice after the warm-up."""
        replay, state, _ = self.fresh()
        warm = min(WARMUP, len(self.stream) // 2)
        part = self.stream[warm:warm + SLICE]
        replay(state, self.stream[:warm], [])
        _, py, c = count_calls(partial(replay, state, part, []))
        return per(py, len(part)), per(c, len(part))


class Replay:
    """One subject's replay of the whole stream: seconds, fills, events produced."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.fills: list = []
        self.produced = 0


def interleaved(subjects: list[Subject]) -> dict[str, Replay]:
    """Every subject replays the whole stream on fresh state, CHUNK events at a time in turn, so each
    one's total time is spread over the same stretch of the machine's speed."""
    prepared = {s.name: s.fresh() for s in subjects}
    out = {s.name: Replay() for s in subjects}
    n = len(subjects[0].stream)
    clock = time.perf_counter
    gc.collect()
    gc.disable()
    try:
        for start in range(0, n, CHUNK):
            for s in subjects:
                replay, state, _ = prepared[s.name]
                r = out[s.name]
                part = s.stream[start:start + CHUNK]
                t0 = clock()
                r.produced += replay(state, part, r.fills)
                r.seconds += clock() - t0
    finally:
        gc.enable()
    for s in subjects:
        ex = prepared[s.name][2]
        if ex is not None:
            ex.check_invariants()
    return out


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench book")
    p.add_argument("--events", type=int, default=200_000, help="seeded stream length (the issue's figures: 1000000)")
    p.add_argument("--repeats", type=int, default=3, help="whole interleaved replays, each on fresh state")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workload", help="CSV with header kind,oid,side,price,qty (instead of the seeded stream)")
    args = p.parse_args(argv)
    events = read_csv(args.workload) if args.workload else generate(args.events, args.seed, mid=MID)
    n = len(events)
    source = args.workload or f"seeded(n={n}, seed={args.seed})"
    envelopes = to_envelopes(events, load_config().instruments[0].symbol, 2 * ACCOUNTS + 2)  # after the set-up
    subjects = [Subject(name, envelopes if name.startswith("apply") else events) for name in PATHS]
    calls = {s.name: s.calls() for s in subjects}  # also warms every path up before timing
    seconds: dict[str, list[float]] = {name: [] for name in PATHS}
    digests: dict[str, str] = {}
    produced: dict[str, int] = {}
    fill_count = 0
    for rep in range(args.repeats):
        for name, r in interleaved(subjects).items():
            seconds[name].append(r.seconds)
            if not rep:
                digests[name], produced[name], fill_count = fills_digest(r.fills), r.produced, len(r.fills)
    reference = digests["textbook"]
    for name, digest in digests.items():
        if digest != reference:
            raise AssertionError(f"{name} made different fills from the textbook book ({digest} != {reference}): "
                                 "its figure would not compare like with like")
    base = seconds["textbook"]
    emit("book.textbook", round(n / statistics.median(base)), "events/s", workload=source, events=n,
         fills=fill_count, fills_sha256=reference, calls_per_order=calls["textbook"][0],
         c_calls_per_order=calls["textbook"][1], repeats=args.repeats,
         seconds=[round(s, 3) for s in base])
    for name in PATHS[1:]:
        ratios = [b / s for b, s in zip(base, seconds[name])]
        py, c = calls[name]
        extra: dict[str, Any] = {}
        if name.startswith("apply"):
            extra["events_per_fill"] = round(produced[name] / fill_count, 2) if fill_count else None
        emit(f"book.{name}", round(statistics.median(ratios), 3), "x textbook",
             events_per_s=round(n / statistics.median(seconds[name])), ratio_min=round(min(ratios), 3),
             ratio_max=round(max(ratios), 3), calls_per_order=py, c_calls_per_order=c,
             **extra, same_fills=True, workload=source, events=n, repeats=args.repeats,
             seconds=[round(s, 3) for s in seconds[name]])
