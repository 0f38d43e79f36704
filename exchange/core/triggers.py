"""Conditional orders (STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET) armed on mark or last price.

STOP buy and TAKE_PROFIT sell fire when the price rises to the stop; STOP sell and TAKE_PROFIT buy
when it falls to it. Per symbol and working type, two SortedLists of (stop, priority, oid).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sortedcontainers import SortedList

from .accounts import Account, Position
from .book import Order
from .commands import BUY, MARK_PRICE, MARKET, STOP, STOP_MARKET, TRIGGER_TYPES, PlaceOrder
from .errors import Reject, Rejection
from .events import OrderCancelled, OrderRejected, OrderTriggered

if TYPE_CHECKING:  # a mixin of Exchange: the other mixins' attributes are there at run time
    from typing import Any as _Base
else:
    _Base = object


def fires_on_rise(order_type: str, side: int) -> bool:
    return (order_type in (STOP, STOP_MARKET)) == (side == BUY)


class TriggerBook:
    __slots__ = ("rise", "fall")

    def __init__(self) -> None:
        self.rise: dict[str, SortedList] = {}
        self.fall: dict[str, SortedList] = {}

    def side(self, rise: bool, working_type: str) -> SortedList:
        table = self.rise if rise else self.fall
        lst = table.get(working_type)
        if lst is None:
            lst = table[working_type] = SortedList()
        return lst

    def entries(self) -> list[tuple[bool, str, tuple[int, int, int]]]:
        """Every armed entry as (fires on rise, working type, (stop, priority, oid))."""
        return [(rise, wt, e) for rise, table in ((True, self.rise), (False, self.fall))
                for wt, lst in table.items() for e in lst]

    def due(self, working_type: str, price: int) -> list[tuple[int, int, int]]:
        """Pop every armed entry that fires at `price`, in (stop, priority) order."""
        out = []
        rise = self.rise.get(working_type)
        while rise and rise[0][0] <= price:
            out.append(rise.pop(0))
        fall = self.fall.get(working_type)
        while fall and fall[-1][0] >= price:
            out.append(fall.pop())
        return sorted(out, key=lambda e: e[1])


class Triggers(_Base):
    """Mixin of Exchange: arming and firing conditional orders."""

    def _reference_price(self, symbol: str, working_type: str) -> int:
        m = self.markets[symbol]
        return m.mark if working_type == MARK_PRICE else m.last

    def _check_trigger(self, inst, cmd: PlaceOrder) -> None:
        ref = self._reference_price(inst.symbol, cmd.working_type)
        if not ref:
            return
        rise = fires_on_rise(cmd.order_type, cmd.side)
        if (rise and ref >= cmd.stop_price_ticks) or (not rise and ref <= cmd.stop_price_ticks):
            raise Rejection(Reject.WOULD_TRIGGER_IMMEDIATELY,
                            f"{cmd.order_type} with stop {cmd.stop_price_ticks} ticks would trigger at once "
                            f"({cmd.working_type} is {ref})")

    def _arm_trigger(self, order: Order, acct: Account, pos: Position) -> None:
        self._track_order(acct, pos, order)
        self.trigger_orders[order.oid] = order
        self.triggers[order.symbol].side(fires_on_rise(order.order_type, order.side), order.working_type).add(
            (order.stop_price, order.priority, order.oid))

    def _disarm_trigger(self, order: Order) -> None:
        del self.trigger_orders[order.oid]
        self.triggers[order.symbol].side(fires_on_rise(order.order_type, order.side), order.working_type).remove(
            (order.stop_price, order.priority, order.oid))

    def check_trigger_book(self) -> None:
        """The trigger lists, `trigger_orders` and the accounts' untriggered orders name the same orders,
        each once, with its stop, priority, side and working type."""
        armed = {}
        for symbol, tb in self.triggers.items():
            for rise, wt, (stop, priority, oid) in tb.entries():
                assert oid not in armed, f"order {oid} armed twice"
                o = self.trigger_orders.get(oid)
                assert o is not None, f"armed trigger {oid} is not a trigger order"
                assert (o.symbol, o.stop_price, o.priority, o.working_type, fires_on_rise(o.order_type, o.side)) == \
                    (symbol, stop, priority, wt, rise), f"trigger {oid} armed as {symbol} {stop} {wt} {rise}"
                armed[oid] = o
        assert set(armed) == set(self.trigger_orders), "trigger orders not armed"
        untriggered = {oid: o for a in self.accounts.values() for oid, o in a.orders.items()
                       if o.order_type in TRIGGER_TYPES}
        assert untriggered.keys() == armed.keys(), "accounts' untriggered orders differ from the trigger book"
        assert all(untriggered[oid] is o and o.account in self.accounts for oid, o in armed.items())

    def _fire_triggers(self, symbol: str, working_type: str, events: list) -> None:
        price = self._reference_price(symbol, working_type)
        if not price:
            return
        # every fired order leaves the trigger list and its account before any of them trades, so the
        # fills of one (reduce-only trimming, say) never try to cancel another that is already popped
        fired = [self.trigger_orders.pop(oid) for _, _, oid in self.triggers[symbol].due(working_type, price)]
        for order in fired:
            acct = self.accounts[order.account]
            self._untrack_order(acct, acct.positions[symbol], order)
        for order in fired:
            oid = order.oid
            events.append(OrderTriggered(order.account, symbol, oid, price))
            kind = MARKET if order.order_type in (STOP_MARKET, "TAKE_PROFIT_MARKET") else "LIMIT"
            cmd = PlaceOrder(order.account, symbol, order.side, order.orig_qty, order.price, kind, order.tif,
                             order.reduce_only, 0, working_type, order.stp, order.client_order_id)
            before = len(events)
            self._place(cmd, events, oid)
            rejected = events[before] if len(events) > before else None
            if isinstance(rejected, OrderRejected):
                events.append(OrderCancelled(order.account, symbol, oid, order.side, order.price, order.orig_qty,
                                             f"TRIGGER_REJECTED:{rejected.code}"))
