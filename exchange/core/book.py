"""Price-time priority limit order book for one symbol, integer prices (ticks) and sizes (lots).

The book holds no order objects: each price level is a dict of order id -> remaining lots, in arrival
order (a dict keeps insertion order, so it is the level's FIFO), with the level's total beside it; and
`orders` maps each resting id to its signed price (+ bid, - ask). The prices of each side are a plain
sorted list, touched only where a level opens or empties; the best price is its last element (asks are
kept negated so that both sides pop their best level off the end). Complexity: add O(1), + O(L) when it
opens a level (L levels on the side); cancel O(1), + O(L) when it empties one; match O(makers reached).

Two ways to match: `take` when every fill is accepted (fills appended as (maker id, price, lots)), and
`match` when the caller decides each fill as it happens (margin, self-trade prevention).
"""

from __future__ import annotations

from typing import Final

from bisect import insort
from collections.abc import Callable

from .commands import BUY, STP_NONE

NO_BID: Final = 0
NO_ASK: Final = 1 << 62
MAKER_OUT: Final = 1  # fill() result flag: the maker's remainder leaves the book
TAKER_OUT: Final = 2  # fill() result flag: the match ends here
FillFn = Callable[[int, int, int], tuple[int, int]]  # (maker id, lots offered, price) -> (lots settled, flags)
Fill = tuple[int, int, int]  # (maker id, price ticks, lots)

# oid, account, symbol, side, price, qty, orig qty, filled, type, tif, reduce-only, stp, client order id,
# priority, reserve, stop price, working type, origin: the order's slots in order
OrderState = tuple[int, int, str, int, int, int, int, int, str, str, bool, str, str, int, int, int, str, str]


class Order:
    """An open order as its account sees it. `qty` is the remaining quantity (the book's copy of it is
    kept equal while the order rests); `priority` orders time (triggers, amend)."""

    __slots__ = (
        "oid", "account", "symbol", "side", "price", "qty", "orig_qty", "filled", "order_type", "tif",
        "reduce_only", "stp", "client_order_id", "priority", "reserve", "stop_price", "working_type",
        "origin",
    )

    def __init__(self, oid: int, account: int, side: int, price: int, qty: int, priority: int = 0,
                 symbol: str = "", order_type: str = "LIMIT", tif: str = "GTC", reduce_only: bool = False,
                 stp: str = STP_NONE, client_order_id: str = "", stop_price: int = 0, working_type: str = "",
                 origin: str = "user") -> None:
        self.oid = oid
        self.account = account
        self.symbol = symbol
        self.side = side
        self.price = price
        self.qty = qty
        self.orig_qty = qty
        self.filled = 0
        self.order_type = order_type
        self.tif = tif
        self.reduce_only = reduce_only
        self.stp = stp
        self.client_order_id = client_order_id
        self.priority = priority
        self.reserve = 0  # cash held against this order's initial margin
        self.stop_price = stop_price
        self.working_type = working_type
        self.origin = origin  # user, liquidation, fund

    def state(self) -> OrderState:
        return (self.oid, self.account, self.symbol, self.side, self.price, self.qty, self.orig_qty,
                self.filled, self.order_type, self.tif, self.reduce_only, self.stp, self.client_order_id,
                self.priority, self.reserve, self.stop_price, self.working_type, self.origin)

    @classmethod
    def from_state(cls, s: OrderState) -> Order:
        (oid, account, symbol, side, price, qty, orig_qty, filled, order_type, tif, reduce_only, stp, client_order_id,
         priority, reserve, stop_price, working_type, origin) = s
        o = cls(oid, account, side, price, qty, priority, symbol, order_type, tif, reduce_only, stp, client_order_id,
                stop_price, working_type, origin)
        o.orig_qty, o.filled, o.reserve = orig_qty, filled, reserve
        return o


class Level:
    """The orders resting at one price, first in first out, and their total."""

    __slots__ = ("total", "queue")

    def __init__(self) -> None:
        self.total = 0
        self.queue: dict[int, int] = {}  # order id -> remaining lots, in arrival order


class Book:
    """One symbol's resting orders. Knows nothing of accounts or margin: `match` asks its caller to settle
    each fill, and the caller decides (margin, reduce-only, self-trade prevention) how much may trade."""

    __slots__ = ("symbol", "bids", "asks", "bid_keys", "ask_keys", "best_bid", "best_ask", "orders")

    def __init__(self, symbol: str = "") -> None:
        self.symbol = symbol
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_keys: list[int] = []  # bid prices, ascending: the best is the last
        self.ask_keys: list[int] = []  # ask prices negated, ascending: the best is the last
        self.best_bid = NO_BID
        self.best_ask = NO_ASK
        self.orders: dict[int, int] = {}  # resting order id -> signed price (+ bid, - ask)

    # -- queries -------------------------------------------------------------------------------
    def crosses(self, side: int, price: int) -> bool:
        """Would a limit order at `price` on `side` take liquidity?"""
        return price >= self.best_ask if side == BUY else price <= self.best_bid

    def fillable(self, side: int, limit: int, qty: int) -> bool:
        """Is there at least `qty` resting at prices acceptable to a taker with this limit?"""
        if side == BUY:
            levels, keys, sign = self.asks, self.ask_keys, -1
        else:
            levels, keys, sign = self.bids, self.bid_keys, 1
        for key in reversed(keys):
            price = sign * key
            if (price > limit) if side == BUY else (price < limit):
                return False
            qty -= levels[price].total
            if qty <= 0:
                return True
        return False

    def depth(self, side: int, n: int | None = None) -> list[tuple[int, int]]:
        """[(price, qty)] of the `side` levels, best first, at most n levels."""
        if side == BUY:
            levels, keys, sign = self.bids, self.bid_keys, 1
        else:
            levels, keys, sign = self.asks, self.ask_keys, -1
        best_first = reversed(keys) if n is None else reversed(keys[-n:] if n > 0 else [])
        return [(sign * k, levels[sign * k].total) for k in best_first]

    def level_qty(self, side: int, price: int) -> int:
        level = (self.bids if side == BUY else self.asks).get(price)
        return level.total if level else 0

    def queue(self, side: int, price: int) -> list[tuple[int, int]]:
        """[(order id, lots)] resting at one price, first in line first."""
        level = (self.bids if side == BUY else self.asks).get(price)
        return list(level.queue.items()) if level else []

    def resting(self, side: int) -> list[tuple[int, list[int]]]:
        """[(price, [order ids, first in line first])] of the `side` levels, in ascending price."""
        if side == BUY:
            return [(p, list(self.bids[p].queue)) for p in self.bid_keys]
        return [(-k, list(self.asks[-k].queue)) for k in reversed(self.ask_keys)]

    def has_bid(self) -> bool:
        return self.best_bid != NO_BID

    def has_ask(self) -> bool:
        return self.best_ask != NO_ASK

    # -- mutation ------------------------------------------------------------------------------
    def add(self, oid: int, side: int, price: int, qty: int) -> None:
        """Rest an order that does not cross (the caller has matched it first)."""
        if side == BUY:
            level = self.bids.get(price)
            if level is None:
                level = self.bids[price] = Level()
                insort(self.bid_keys, price)
                if price > self.best_bid:
                    self.best_bid = price
            self.orders[oid] = price
        else:
            level = self.asks.get(price)
            if level is None:
                level = self.asks[price] = Level()
                insort(self.ask_keys, -price)
                if price < self.best_ask:
                    self.best_ask = price
            self.orders[oid] = -price
        level.queue[oid] = qty
        level.total += qty

    def cancel(self, oid: int) -> int | None:
        """Remove a resting order; returns its remaining lots, or None if it is not in the book."""
        signed = self.orders.pop(oid, None)
        if signed is None:
            return None
        if signed > 0:
            level = self.bids[signed]
            qty = level.queue.pop(oid)
            level.total -= qty
            if not level.queue:
                del self.bids[signed]
                keys = self.bid_keys
                keys.remove(signed)
                self.best_bid = keys[-1] if keys else NO_BID
        else:
            level = self.asks[-signed]
            qty = level.queue.pop(oid)
            level.total -= qty
            if not level.queue:
                del self.asks[-signed]
                keys = self.ask_keys
                keys.remove(signed)
                self.best_ask = -keys[-1] if keys else NO_ASK
        return qty

    def reduce(self, oid: int, new_qty: int) -> None:
        """Lower a resting order's remaining lots (0 < new_qty < lots) in place, keeping its priority."""
        signed = self.orders[oid]
        level = self.bids[signed] if signed > 0 else self.asks[-signed]
        level.total -= level.queue[oid] - new_qty
        level.queue[oid] = new_qty

    def take(self, side: int, qty: int, limit: int, fills: list[Fill]) -> int:
        """Match a taker of `qty` lots on `side` up to price `limit`, every fill accepted: each is appended
        to `fills` as (maker id, price, lots), filled makers leave the book. Returns the lots left.
        O(makers reached)."""
        orders = self.orders
        if side == BUY:
            levels, keys, sign = self.asks, self.ask_keys, -1
        else:
            levels, keys, sign = self.bids, self.bid_keys, 1
        while qty and keys:
            price = sign * keys[-1]
            if (price > limit) if side == BUY else (price < limit):
                break
            level = levels[price]
            queue = level.queue
            done = []
            taken = 0
            for oid, mqty in queue.items():
                if mqty > qty:
                    queue[oid] = mqty - qty
                    fills.append((oid, price, qty))
                    taken += qty
                    qty = 0
                    break
                fills.append((oid, price, mqty))
                done.append(oid)
                taken += mqty
                qty -= mqty
                if not qty:
                    break
            for oid in done:
                del queue[oid]
                del orders[oid]
            level.total -= taken
            if not queue:
                del levels[price]
                keys.pop()
        if side == BUY:
            self.best_ask = -keys[-1] if keys else NO_ASK
        else:
            self.best_bid = keys[-1] if keys else NO_BID
        return qty

    def match(self, side: int, qty: int, limit: int, fill: FillFn) -> tuple[int, bool]:
        """Match a taker of `qty` lots on `side` up to price `limit`, in price-time priority, the caller
        deciding each fill: for each maker reached, `fill(maker id, lots, price)` (lots: the smaller of
        the two remainders) settles n <= lots and returns (n, flags). Both lose n lots; `flags &
        MAKER_OUT` takes the maker's remainder off the book (the caller has cancelled it) and `flags &
        TAKER_OUT` ends the match. A return of n < lots must set one of the two. Returns (lots left,
        whether TAKER_OUT ended it). The callback must not change the book. O(makers reached)."""
        orders = self.orders
        if side == BUY:
            levels, keys, sign = self.asks, self.ask_keys, -1
        else:
            levels, keys, sign = self.bids, self.bid_keys, 1
        stopped = False
        while qty and keys:
            price = sign * keys[-1]
            if (price > limit) if side == BUY else (price < limit):
                break
            level = levels[price]
            queue = level.queue
            done = []
            for oid, mqty in queue.items():
                n, out = fill(oid, qty if qty < mqty else mqty, price)
                qty -= n
                level.total -= n
                if n == mqty or out & MAKER_OUT:
                    level.total -= mqty - n
                    done.append(oid)
                else:
                    queue[oid] = mqty - n
                if out & TAKER_OUT:
                    stopped = True
                    break
                if not qty:
                    break
            for oid in done:
                del queue[oid]
                del orders[oid]
            if not queue:
                del levels[price]
                keys.pop()
            if stopped:
                break
        if side == BUY:
            self.best_ask = -keys[-1] if keys else NO_ASK
        else:
            self.best_bid = keys[-1] if keys else NO_BID
        return qty, stopped

    # -- invariants ----------------------------------------------------------------------------
    def check_invariants(self) -> None:
        """Not crossed; each side's sorted prices are exactly its non-empty levels; every level's total is
        the sum of its queue; `orders` names every queued order once, at its level."""
        assert self.best_bid < self.best_ask, f"book crossed: bid {self.best_bid} >= ask {self.best_ask}"
        assert self.bid_keys == sorted(self.bids), "bid prices out of sync with the levels"
        assert self.ask_keys == sorted(-p for p in self.asks), "ask prices out of sync with the levels"
        queued = 0
        for sign, levels in ((1, self.bids), (-1, self.asks)):
            for price, level in levels.items():
                assert level.queue, f"empty level {price} kept"
                assert all(q > 0 for q in level.queue.values()), f"level {price} holds an order with no lots"
                assert level.total == sum(level.queue.values()), f"level {price} total out of sync"
                assert all(self.orders.get(oid) == sign * price for oid in level.queue), f"level {price} index"
                queued += len(level.queue)
        assert queued == len(self.orders), "order index out of sync"
        assert self.best_bid == (self.bid_keys[-1] if self.bid_keys else NO_BID)
        assert self.best_ask == (-self.ask_keys[-1] if self.ask_keys else NO_ASK)
