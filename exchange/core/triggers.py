"""Conditional orders (STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET) armed on mark or last price.

STOP buy and TAKE_PROFIT sell fire when the price rises to the stop; STOP sell and TAKE_PROFIT buy
when it falls to it. Per symbol and working type, two SortedLists of (stop, priority, oid). When a price
moves, `due` takes the orders it fires out of the lists and returns the commands that place them.
"""

from __future__ import annotations

from sortedcontainers import SortedList

from .book import Order
from .commands import LIMIT, MARKET, STOP_MARKET, TAKE_PROFIT_MARKET, TRIGGER_TYPES, PlaceOrder
from .entry import fires_on_rise
from .state import State

Armed = tuple[int, int, int]  # (stop ticks, priority, order id)


class TriggerBook:
    __slots__ = ("rise", "fall")

    def __init__(self) -> None:
        self.rise: dict[str, SortedList[Armed]] = {}
        self.fall: dict[str, SortedList[Armed]] = {}

    def side(self, rise: bool, working_type: str) -> SortedList[Armed]:
        table = self.rise if rise else self.fall
        lst = table.get(working_type)
        if lst is None:
            lst = table[working_type] = SortedList()
        return lst

    def entries(self) -> list[tuple[bool, str, Armed]]:
        """Every armed entry as (fires on rise, working type, (stop, priority, oid))."""
        return [(rise, wt, e) for rise, table in ((True, self.rise), (False, self.fall))
                for wt, lst in table.items() for e in lst]

    def due(self, working_type: str, price: int) -> list[Armed]:
        """Pop every armed entry that fires at `price`, in (stop, priority) order."""
        out = []
        rise = self.rise.get(working_type)
        while rise and rise[0][0] <= price:
            out.append(rise.pop(0))
        fall = self.fall.get(working_type)
        while fall and fall[-1][0] >= price:
            out.append(fall.pop())
        return sorted(out, key=lambda e: e[1])


def triggered_command(order: Order, working_type: str) -> PlaceOrder:
    """The order a fired conditional order becomes: a market or a limit order of its full quantity."""
    kind = MARKET if order.order_type in (STOP_MARKET, TAKE_PROFIT_MARKET) else LIMIT
    return PlaceOrder(order.account, order.symbol, order.side, order.orig_qty, order.price, kind, order.tif,
                      order.reduce_only, 0, working_type, order.stp, order.client_order_id)


class Triggers:
    """The armed conditional orders of every symbol (`orders`: by id; `books`: by symbol)."""

    __slots__ = ("state", "orders", "books")

    def __init__(self, state: State) -> None:
        self.state = state
        self.orders: dict[int, Order] = {}
        self.books = {s: TriggerBook() for s in state.instruments}

    def arm(self, order: Order) -> None:
        self.orders[order.oid] = order
        self.books[order.symbol].side(fires_on_rise(order.order_type, order.side), order.working_type).add(
            (order.stop_price, order.priority, order.oid))

    def disarm(self, order: Order) -> None:
        del self.orders[order.oid]
        self.books[order.symbol].side(fires_on_rise(order.order_type, order.side), order.working_type).remove(
            (order.stop_price, order.priority, order.oid))

    def due(self, symbol: str, working_type: str, price: int) -> list[Order]:
        """The orders `price` fires, taken out of the trigger book (in stop, then priority order)."""
        return [self.orders.pop(oid) for _, _, oid in self.books[symbol].due(working_type, price)]

    def check_invariants(self) -> None:
        """The trigger lists, `orders` and the accounts' untriggered orders name the same orders, each
        once, with its stop, priority, side and working type."""
        armed = {}
        for symbol, tb in self.books.items():
            for rise, wt, (stop, priority, oid) in tb.entries():
                assert oid not in armed, f"order {oid} armed twice"
                o = self.orders.get(oid)
                assert o is not None, f"armed trigger {oid} is not a trigger order"
                assert (o.symbol, o.stop_price, o.priority, o.working_type, fires_on_rise(o.order_type, o.side)) == \
                    (symbol, stop, priority, wt, rise), f"trigger {oid} armed as {symbol} {stop} {wt} {rise}"
                armed[oid] = o
        assert set(armed) == set(self.orders), "trigger orders not armed"
        accounts = self.state.accounts
        untriggered = {oid: o for a in accounts.values() for oid, o in a.orders.items() if o.order_type in TRIGGER_TYPES}
        assert untriggered.keys() == armed.keys(), "accounts' untriggered orders differ from the trigger book"
        assert all(untriggered[oid] is o and o.account in accounts for oid, o in armed.items())
