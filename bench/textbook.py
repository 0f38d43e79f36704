"""The reference order book the core's book is measured against: the textbook one.

A SortedDict of price -> deque of order objects per side, price-time priority, an index of live
orders by id; cancel removes the order from its level's deque. It is the obvious implementation a
competent engineer writes in an hour, with no tuning beyond `__slots__`. It also generates the
workload (bench/workload.py), so the events a benchmark replays never depend on the code under test.
"""

from __future__ import annotations

from collections import deque

from sortedcontainers import SortedDict

BUY, SELL = 1, -1
Fill = tuple[int, int, int, int]  # taker oid, maker oid, price, qty


class TextbookOrder:
    __slots__ = ("oid", "side", "price", "qty")

    def __init__(self, oid: int, side: int, price: int, qty: int) -> None:
        self.oid = oid
        self.side = side
        self.price = price
        self.qty = qty


class TextbookBook:
    """Bids and asks as SortedDict[price, deque[TextbookOrder]]; `orders` maps oid -> resting order."""

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.orders: dict[int, TextbookOrder] = {}

    def best_bid(self) -> int | None:
        return self.bids.peekitem(-1)[0] if self.bids else None

    def best_ask(self) -> int | None:
        return self.asks.peekitem(0)[0] if self.asks else None

    def limit(self, oid: int, side: int, price: int, qty: int, fills: list[Fill]) -> None:
        """A GTC limit order: match what crosses, rest the remainder."""
        qty = self._match(oid, side, price, qty, fills)
        if qty:
            order = TextbookOrder(oid, side, price, qty)
            levels = self.bids if side == BUY else self.asks
            level = levels.get(price)
            if level is None:
                level = levels[price] = deque()
            level.append(order)
            self.orders[oid] = order

    def market(self, oid: int, side: int, qty: int, fills: list[Fill]) -> None:
        """A market order: match at any price, drop what is left."""
        self._match(oid, side, None, qty, fills)

    def cancel(self, oid: int) -> bool:
        order = self.orders.pop(oid, None)
        if order is None:
            return False
        levels = self.bids if order.side == BUY else self.asks
        level = levels[order.price]
        level.remove(order)
        if not level:
            del levels[order.price]
        return True

    def _match(self, oid: int, side: int, limit: int | None, qty: int, fills: list[Fill]) -> int:
        """Take liquidity up to `limit` (None: any price); returns the quantity left."""
        if side == BUY:
            levels, index = self.asks, 0
        else:
            levels, index = self.bids, -1
        while qty and levels:
            price, level = levels.peekitem(index)
            if limit is not None and (price > limit if side == BUY else price < limit):
                break
            while qty and level:
                maker = level[0]
                traded = min(qty, maker.qty)
                fills.append((oid, maker.oid, price, traded))
                qty -= traded
                maker.qty -= traded
                if not maker.qty:
                    level.popleft()
                    del self.orders[maker.oid]
            if not level:
                del levels[price]
        return qty
