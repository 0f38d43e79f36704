"""Differential test: the fast Book against a deliberately simple reference book (a list, linear scans).

Both see the same stream of limit adds (matched first, the rest rests), cancels, market orders and
in-place reductions, with one deterministic caller deciding each fill as the engine would (fill all,
part, none; take the maker out; stop the taker) through `Book.match`, or every fill accepted through
`Book.take`: fills, makers taken out, stops and the depth of both sides must agree after every step.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.core.book import MAKER_OUT, NO_ASK, TAKER_OUT, Book
from exchange.core.commands import BUY, SELL

POLICIES = (0, 1, 2)  # how often the caller refuses: never, sometimes, often


def decide(policy: int, taker: int, maker: int, qty: int) -> tuple[int, int]:
    """The caller's answer for one fill, a pure function of the ids: (lots settled, out flags)."""
    if not policy:
        return qty, 0
    h = (taker * 7919 + maker * 104_729) % (12 if policy == 1 else 5)
    return {0: (0, MAKER_OUT), 1: (qty // 2, MAKER_OUT), 2: (qty // 2, TAKER_OUT),
            3: (0, MAKER_OUT | TAKER_OUT)}.get(h, (qty, 0))


class ReferenceBook:
    """Orders in one list in arrival order; every query is a scan."""

    def __init__(self) -> None:
        self.orders: list[dict] = []

    def add(self, oid, account, side, price, qty) -> None:
        self.orders.append(dict(oid=oid, account=account, side=side, price=price, qty=qty))

    def find(self, oid):
        return next((o for o in self.orders if o["oid"] == oid), None)

    def cancel(self, oid) -> bool:
        o = self.find(oid)
        if o is not None:
            self.orders.remove(o)
        return o is not None

    def reduce(self, oid, qty) -> None:
        self.find(oid)["qty"] = qty

    def best(self, side):
        """The first order to trade against a taker on `side`: best price, then earliest."""
        makers = [o for o in self.orders if o["side"] == -side]
        if not makers:
            return None
        price = min(o["price"] for o in makers) if side == BUY else max(o["price"] for o in makers)
        return next(o for o in makers if o["price"] == price)

    def match(self, taker, side, qty, limit, policy):
        fills, out_makers, stopped = [], [], False
        while qty:
            maker = self.best(side)
            if maker is None or (maker["price"] > limit if side == BUY else maker["price"] < limit):
                break
            n, out = decide(policy, taker, maker["oid"], min(qty, maker["qty"]))
            if n:
                fills.append((maker["oid"], n, maker["price"]))
            qty -= n
            maker["qty"] -= n
            if not maker["qty"] or out & MAKER_OUT:
                self.orders.remove(maker)
                if maker["qty"]:
                    out_makers.append(maker["oid"])
            if out & TAKER_OUT:
                stopped = True
                break
        return fills, out_makers, stopped, qty

    def depth(self, side):
        levels: dict[int, int] = {}
        for o in self.orders:
            if o["side"] == side:
                levels[o["price"]] = levels.get(o["price"], 0) + o["qty"]
        return sorted(levels.items(), reverse=(side == BUY))


class Pair:
    """Drives the fast book and the reference with the same operations and compares them."""

    def __init__(self) -> None:
        self.fast = Book("X")
        self.ref = ReferenceBook()
        self.next_id = 1
        self.live: list[int] = []

    def _taker(self, account, side, qty, limit, policy, rest):
        oid = self.next_id
        self.next_id += 1
        fills, out_makers = [], []

        def fill(maker: int, n: int, price: int) -> tuple[int, int]:
            left = dict(self.fast.queue(-side, price))[maker]  # the maker's lots before this fill
            n, out = decide(policy, oid, maker, n)
            if n:
                fills.append((maker, n, price))
            if out & MAKER_OUT and left > n:
                out_makers.append(maker)
            return n, out

        if not policy and self.fast.crosses(side, limit):  # every fill accepted: the fast path
            taken: list[tuple[int, int, int]] = []
            left = self.fast.take(side, qty, limit, taken)
            fills = [(m, n, p) for m, p, n in taken]
            stopped = False
        elif self.fast.crosses(side, limit):
            left, stopped = self.fast.match(side, qty, limit, fill)
        else:
            left, stopped = qty, False
        got = (fills, out_makers, stopped, left)
        want = self.ref.match(oid, side, qty, limit, policy)
        assert got == want, f"taker {oid}: fast {got} != reference {want}"
        self.live = [o for o in self.live if o in self.fast.orders]
        if rest and left and not stopped:
            self.fast.add(oid, side, limit, left)
            self.ref.add(oid, account, side, limit, left)
            self.live.append(oid)

    def limit(self, account, side, price, qty, policy=0):
        self._taker(account, side, qty, price, policy, rest=True)

    def market(self, account, side, qty, policy=0):
        self._taker(account, side, qty, NO_ASK - 1 if side == BUY else 1, policy, rest=False)

    def cancel(self, pick: int):
        oid = self.live.pop(pick % len(self.live)) if self.live and pick >= 0 else self.next_id + 1000
        fast = self.fast.cancel(oid)
        assert (fast is not None) == self.ref.cancel(oid)

    def reduce(self, pick: int, fraction: float):
        if not self.live:
            return
        oid = self.live[pick % len(self.live)]
        signed = self.fast.orders[oid]
        qty = dict(self.fast.queue(1 if signed > 0 else -1, abs(signed)))[oid]
        if qty < 2:
            return
        new = max(1, min(qty - 1, int(qty * fraction)))
        self.fast.reduce(oid, new)
        self.ref.reduce(oid, new)

    def check(self):
        self.fast.check_invariants()
        for side in (BUY, SELL):
            assert self.fast.depth(side) == self.ref.depth(side)
        assert len(self.fast.orders) == len(self.ref.orders)


def random_stream(pair: Pair, rng: random.Random, steps: int, mid: int = 1_000) -> None:
    for _ in range(steps):
        r = rng.random()
        account = rng.randint(1, 3)
        side = rng.choice((BUY, SELL))
        policy = rng.choice(POLICIES) if rng.random() < 0.3 else 0
        if r < 0.55:
            # mostly passive, some marketable: within +-20 ticks of mid, skewed away from the touch
            pair.limit(account, side, mid - side * rng.randint(-5, 20), rng.randint(1, 20), policy)
        elif r < 0.85:
            pair.cancel(rng.randrange(1 << 30) if rng.random() < 0.95 else -1)
        elif r < 0.95:
            pair.market(account, side, rng.randint(1, 60), policy)
        else:
            pair.reduce(rng.randrange(1 << 30), rng.random())
        if rng.random() < 0.01:
            mid += rng.randint(-5, 5)
        pair.check()


@pytest.mark.parametrize("seed", range(6))
def test_fast_book_matches_reference_on_seeded_streams(seed):
    pair = Pair()
    random_stream(pair, random.Random(seed), 2_000)
    assert pair.next_id > 1_000  # the stream really ran


@pytest.mark.stress
@pytest.mark.parametrize("seed", range(100, 110))
def test_fast_book_matches_reference_long_runs(seed):
    print(f"seed {seed}")
    pair = Pair()
    random_stream(pair, random.Random(seed), 50_000)


op = st.one_of(
    st.tuples(st.just("limit"), st.integers(1, 3), st.sampled_from((BUY, SELL)), st.integers(990, 1010),
              st.integers(1, 12), st.sampled_from(POLICIES)),
    st.tuples(st.just("market"), st.integers(1, 3), st.sampled_from((BUY, SELL)), st.integers(1, 40),
              st.sampled_from(POLICIES)),
    st.tuples(st.just("cancel"), st.integers(-1, 1000)),
    st.tuples(st.just("reduce"), st.integers(0, 1000), st.floats(0, 1)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(op, max_size=80))
def test_fast_book_matches_reference_on_hypothesis_streams(ops):
    pair = Pair()
    for name, *args in ops:
        getattr(pair, name)(*args)
        pair.check()


def test_reference_book_itself_follows_price_time_priority():
    """A self-check of the oracle: two levels, FIFO within a level, limit respected."""
    ref = ReferenceBook()
    ref.add(1, 1, SELL, 101, 2)
    ref.add(2, 1, SELL, 100, 1)
    ref.add(3, 2, SELL, 101, 5)
    assert ref.match(9, BUY, 6, 101, 0) == ([(2, 1, 100), (1, 2, 101), (3, 3, 101)], [], False, 0)
    assert ref.match(9, BUY, 6, 100, 0) == ([], [], False, 6)
    assert ref.depth(SELL) == [(101, 2)]
