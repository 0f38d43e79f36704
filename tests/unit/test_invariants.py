"""check_invariants() catches each kind of broken state it claims to cover (a check that cannot fail is
no check): holders both ways, the trigger book, reservations backed by cash, the breach index."""

from __future__ import annotations

import pytest
from margin_fixtures import BUY, SELL, Driver, whole_unit_instrument

from exchange.core.commands import PlaceOrder


def busy() -> Driver:
    """Account 1 long 10 TST @ 100 at 10x (cross) with a resting buy and a stop; account 9 the other side."""
    d = Driver([whole_unit_instrument("TST")])
    d.account(1, 1_000, TST=("CROSS", 10))
    d.account(9, 1_000_000)
    d.index("TST", 100)
    d.trade(1, 9, "TST", 10, 100)
    d.limit(1, "TST", BUY, 5, 95)
    d.do(PlaceOrder(1, "TST", SELL, 10, 0, "STOP_MARKET", stop_price_ticks=90, reduce_only=True))
    d.ex.check_invariants()
    return d


def breaks(corrupt, match: str) -> None:
    d = busy()
    corrupt(d.ex)
    with pytest.raises(AssertionError, match=match):
        d.ex.check_invariants()


def test_a_holder_missing_or_flat_is_caught():
    breaks(lambda ex: ex.holders["TST"].pop(1), "holders of TST")
    breaks(lambda ex: ex.holders["TST"].__setitem__(5, ex.accounts[9].positions["TST"]), "holders of TST")


def test_a_trigger_book_out_of_step_is_caught():
    def disarm(ex):  # the stop sell (fires on a fall of the mark) leaves its list, not trigger_orders
        armed = ex.triggers["TST"].side(False, "MARK_PRICE")
        armed.remove(armed[0])
    breaks(disarm, "trigger orders not armed")
    breaks(lambda ex: ex.trigger_orders.clear(), "is not a trigger order")


def test_a_reservation_without_cash_is_caught():
    def spend(ex):
        acct = ex.accounts[1]
        ex.deposits -= acct.cross_wallet
        acct.deposited -= acct.cross_wallet
        acct.cross_wallet = 0
    breaks(spend, "reserves")


def test_a_stale_breach_threshold_is_caught():
    def move(ex):
        ex.breach_entries()
        ex.breach_index.put(1, "TST", 0, True, 1)
    breaks(move, "breach threshold of 1 TST")
