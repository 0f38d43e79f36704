"""Price-time priority limit order book for one symbol, integer prices (ticks) and sizes (lots).

Each price level is a FIFO deque; cancellation is lazy (the order's qty drops to 0 and it is skipped
when reached), so cancel is O(1) and a level is compacted when dead entries outnumber live ones.
Price levels are kept in a SortedList per side. Complexity: add O(log L) when it opens a level,
else O(1); cancel O(1) (+ O(log L) when the level empties); match O(makers reached + emptied levels * log L).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from sortedcontainers import SortedList

from .commands import BUY, STP_NONE


# oid, account, symbol, side, price, qty, orig qty, filled, type, tif, reduce-only, stp, client order id,
# priority, reserve, stop price, working type, origin: the order's slots in order
OrderState = tuple[int, int, str, int, int, int, int, int, str, str, bool, str, str, int, int, int, str, str]


class Order:
    """A live order. `qty` is the remaining quantity; `priority` orders time within a level."""

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
        self.origin = origin  # user, liquidation

    def state(self) -> OrderState:
        return (self.oid, self.account, self.symbol, self.side, self.price, self.qty, self.orig_qty,
                self.filled, self.order_type, self.tif, self.reduce_only, self.stp, self.client_order_id,
                self.priority, self.reserve, self.stop_price, self.working_type, self.origin)

    @classmethod
    def from_state(cls, s: OrderState) -> Order:
        o = cls.__new__(cls)
        for name, value in zip(cls.__slots__, s):
            setattr(o, name, value)
        return o


class Level:
    __slots__ = ("total", "orders", "live")

    def __init__(self) -> None:
        self.total = 0
        self.orders: deque[Order] = deque()
        self.live = 0


NO_BID = 0
NO_ASK = 1 << 62
MAKER_OUT = 1  # fill() result flag: the maker's remainder leaves the book
TAKER_OUT = 2  # fill() result flag: the match ends here
FillFn = Callable[["Order", int, int], tuple[int, int]]


class Book:
    """One symbol's resting orders. Knows nothing of accounts or margin: `match` asks its caller to settle
    each fill, and the caller decides (margin, reduce-only, self-trade prevention) how much may trade."""

    __slots__ = ("symbol", "bids", "asks", "bid_prices", "ask_prices", "best_bid", "best_ask", "orders")

    def __init__(self, symbol: str = "") -> None:
        self.symbol = symbol
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_prices: SortedList[int] = SortedList()
        self.ask_prices: SortedList[int] = SortedList()
        self.best_bid = NO_BID
        self.best_ask = NO_ASK
        self.orders: dict[int, Order] = {}

    # -- queries -------------------------------------------------------------------------------
    def crosses(self, side: int, price: int) -> bool:
        """Would a limit order at `price` on `side` take liquidity?"""
        return price >= self.best_ask if side == BUY else price <= self.best_bid

    def fillable(self, side: int, limit: int, qty: int) -> bool:
        """Is there at least `qty` resting at prices acceptable to a taker with this limit?"""
        if side == BUY:
            levels, prices = self.asks, self.ask_prices.irange(maximum=limit)
        else:
            levels, prices = self.bids, self.bid_prices.irange(minimum=limit, reverse=True)
        for p in prices:
            qty -= levels[p].total
            if qty <= 0:
                return True
        return False

    def depth(self, side: int, n: int | None = None) -> list[tuple[int, int]]:
        """[(price, qty)] best first, at most n levels."""
        if side == BUY:
            count = len(self.bid_prices)
            start = 0 if n is None else max(0, count - n)
            return [(p, self.bids[p].total) for p in self.bid_prices.islice(start, count, reverse=True)]
        return [(p, self.asks[p].total) for p in self.ask_prices.islice(0, n)]

    def level_qty(self, side: int, price: int) -> int:
        level = (self.bids if side == BUY else self.asks).get(price)
        return level.total if level else 0

    def has_bid(self) -> bool:
        return self.best_bid != NO_BID

    def has_ask(self) -> bool:
        return self.best_ask != NO_ASK

    # -- mutation ------------------------------------------------------------------------------
    def add(self, order: Order) -> None:
        """Rest an order that does not cross (the caller has matched it first)."""
        price = order.price
        if order.side == BUY:
            level = self.bids.get(price)
            if level is None:
                level = self.bids[price] = Level()
                self.bid_prices.add(price)
                if price > self.best_bid:
                    self.best_bid = price
        else:
            level = self.asks.get(price)
            if level is None:
                level = self.asks[price] = Level()
                self.ask_prices.add(price)
                if price < self.best_ask:
                    self.best_ask = price
        level.orders.append(order)
        level.total += order.qty
        level.live += 1
        self.orders[order.oid] = order

    def cancel(self, oid: int) -> Order | None:
        """Remove a resting order (its qty becomes 0; remaining = orig_qty - filled), or None if unknown."""
        order = self.orders.pop(oid, None)
        if order is None:
            return None
        level = (self.bids if order.side == BUY else self.asks)[order.price]
        level.total -= order.qty
        level.live -= 1
        order.qty = 0
        if level.live == 0:
            self._drop_level(order.side, order.price)
        elif len(level.orders) > 2 * level.live + 16:
            level.orders = deque(o for o in level.orders if o.qty)
        return order

    def reduce(self, oid: int, new_qty: int) -> None:
        """Lower a resting order's remaining qty (0 < new_qty < qty) in place, keeping its priority."""
        order = self.orders[oid]
        level = (self.bids if order.side == BUY else self.asks)[order.price]
        level.total -= order.qty - new_qty
        order.orig_qty -= order.qty - new_qty
        order.qty = new_qty

    def _drop_level(self, side: int, price: int) -> None:
        if side == BUY:
            del self.bids[price]
            self.bid_prices.remove(price)
            if price == self.best_bid:
                self.best_bid = self.bid_prices[-1] if self.bid_prices else NO_BID
        else:
            del self.asks[price]
            self.ask_prices.remove(price)
            if price == self.best_ask:
                self.best_ask = self.ask_prices[0] if self.ask_prices else NO_ASK

    def match(self, taker: Order, limit: int, fill: FillFn) -> bool:
        """Match `taker` against the opposite side up to price `limit` (>= 1), in price-time priority.

        For each maker reached, `fill(maker, qty, price)` (qty: the smaller of the two remainders, the
        quantities not yet reduced) settles n <= qty lots and returns (n, out). Both orders then lose n
        lots; `out & MAKER_OUT` takes the maker's remainder off the book (the caller has cancelled it)
        and `out & TAKER_OUT` ends the match. A return of n < qty must set one of the two. Returns
        whether the match was ended by TAKER_OUT. O(makers reached + emptied levels x log L).
        """
        orders = self.orders
        buy = taker.side == BUY
        if buy:
            levels, prices, best = self.asks, self.ask_prices, self.best_ask
        else:
            levels, prices, best = self.bids, self.bid_prices, self.best_bid
        stopped = False
        while taker.qty and (best <= limit if buy else best >= limit):
            level = levels[best]
            queue = level.orders
            while taker.qty and queue:
                maker = queue[0]
                mqty = maker.qty
                if not mqty:
                    queue.popleft()
                    continue
                n, out = fill(maker, taker.qty if taker.qty < mqty else mqty, best)
                if n:
                    taker.qty -= n
                    taker.filled += n
                    maker.filled += n
                    maker.qty = mqty = mqty - n
                    level.total -= n
                if not mqty or out & MAKER_OUT:
                    queue.popleft()
                    level.total -= mqty
                    level.live -= 1
                    maker.qty = 0
                    del orders[maker.oid]
                if out & TAKER_OUT:
                    stopped = True
                    break
            if not level.live:
                del levels[best]
                prices.remove(best)
                if buy:
                    best = self.best_ask = prices[0] if prices else NO_ASK
                else:
                    best = self.best_bid = prices[-1] if prices else NO_BID
            if stopped:
                break
        return stopped

    # -- invariants ----------------------------------------------------------------------------
    def check_invariants(self) -> None:
        assert self.best_bid < self.best_ask, f"book crossed: bid {self.best_bid} >= ask {self.best_ask}"
        for side, levels, prices in ((BUY, self.bids, self.bid_prices), (-1, self.asks, self.ask_prices)):
            assert list(prices) == sorted(levels), "price index out of sync with levels"
            for price, level in levels.items():
                live = [o for o in level.orders if o.qty]
                assert live, f"empty level {price} kept"
                assert level.live == len(live), f"level {price} live count {level.live} != {len(live)}"
                assert level.total == sum(o.qty for o in live), f"level {price} total out of sync"
                pri = [o.priority for o in live]
                assert pri == sorted(pri), f"level {price} not FIFO"
                for o in live:
                    assert o.side == side and o.price == price and self.orders.get(o.oid) is o
        assert self.best_bid == (self.bid_prices[-1] if self.bid_prices else NO_BID)
        assert self.best_ask == (self.ask_prices[0] if self.ask_prices else NO_ASK)
        n_live = sum(lv.live for lv in self.bids.values()) + sum(lv.live for lv in self.asks.values())
        assert n_live == len(self.orders), "order index out of sync"
