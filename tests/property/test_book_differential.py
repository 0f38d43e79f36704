"""Differential test: the fast Book against a deliberately simple reference book (a list, linear scans).

Both see the same stream of limit adds (matched first, the rest rests), cancels, market orders and
in-place reductions; fills, self-trade expiries and the depth of both sides must agree after every step.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.core.book import NO_ASK, Book, Order
from exchange.core.commands import BUY, SELL, STP_MODES, STP_NONE


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

    def match(self, account, side, qty, limit, stp):
        fills, expired, taker_expired = [], [], False
        while qty:
            maker = self.best(side)
            if maker is None or (maker["price"] > limit if side == BUY else maker["price"] < limit):
                break
            if stp != STP_NONE and maker["account"] == account:
                if stp in ("EXPIRE_MAKER", "EXPIRE_BOTH"):
                    self.orders.remove(maker)
                    expired.append(maker["oid"])
                if stp in ("EXPIRE_TAKER", "EXPIRE_BOTH"):
                    taker_expired = True
                    break
                continue
            take = min(qty, maker["qty"])
            fills.append((maker["oid"], take, maker["price"]))
            qty -= take
            maker["qty"] -= take
            if not maker["qty"]:
                self.orders.remove(maker)
        return fills, expired, taker_expired, qty

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

    def _taker(self, account, side, qty, limit, stp, rest):
        oid = self.next_id
        self.next_id += 1
        taker = Order(oid, account, side, limit, qty, oid)
        taker.stp = stp
        fast = self.fast.match(taker, limit) if self.fast.crosses(side, limit) else ([], [], False)
        got = ([(m.oid, q, p) for m, q, p in fast[0]], [m.oid for m in fast[1]], fast[2], taker.qty)
        want = self.ref.match(account, side, qty, limit, stp)
        assert got == want, f"taker {oid}: fast {got} != reference {want}"
        gone = {m.oid for m, _, _ in fast[0] if not m.qty} | set(got[1])
        self.live = [o for o in self.live if o not in gone]
        if rest and taker.qty and not taker_expired(fast):
            self.fast.add(taker)
            self.ref.add(oid, account, side, limit, taker.qty)
            self.live.append(oid)

    def limit(self, account, side, price, qty, stp=STP_NONE):
        self._taker(account, side, qty, price, stp, rest=True)

    def market(self, account, side, qty, stp=STP_NONE):
        self._taker(account, side, qty, NO_ASK - 1 if side == BUY else 1, stp, rest=False)

    def cancel(self, pick: int):
        oid = self.live.pop(pick % len(self.live)) if self.live and pick >= 0 else self.next_id + 1000
        fast = self.fast.cancel(oid)
        assert (fast is not None) == self.ref.cancel(oid)

    def reduce(self, pick: int, fraction: float):
        if not self.live:
            return
        oid = self.live[pick % len(self.live)]
        qty = self.fast.orders[oid].qty
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


def taker_expired(result) -> bool:
    return result[2]


def random_stream(pair: Pair, rng: random.Random, steps: int, mid: int = 1_000) -> None:
    for _ in range(steps):
        r = rng.random()
        account = rng.randint(1, 3)
        side = rng.choice((BUY, SELL))
        stp = rng.choice(STP_MODES) if rng.random() < 0.3 else STP_NONE
        if r < 0.55:
            # mostly passive, some marketable: within +-20 ticks of mid, skewed away from the touch
            pair.limit(account, side, mid - side * rng.randint(-5, 20), rng.randint(1, 20), stp)
        elif r < 0.85:
            pair.cancel(rng.randrange(1 << 30) if rng.random() < 0.95 else -1)
        elif r < 0.95:
            pair.market(account, side, rng.randint(1, 60), stp)
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
              st.integers(1, 12), st.sampled_from(STP_MODES)),
    st.tuples(st.just("market"), st.integers(1, 3), st.sampled_from((BUY, SELL)), st.integers(1, 40),
              st.sampled_from(STP_MODES)),
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
    assert ref.match(9, BUY, 6, 101, STP_NONE) == ([(2, 1, 100), (1, 2, 101), (3, 3, 101)], [], False, 0)
    assert ref.match(9, BUY, 6, 100, STP_NONE) == ([], [], False, 6)
    assert ref.depth(SELL) == [(101, 2)]
