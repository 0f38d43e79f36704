"""The state every stage reads: instruments, accounts and their positions, the insurance fund's own
account, who holds each symbol, the counters, the clock of the current envelope, and the marks of what
changed that later stages act on (re-index, trim reduce-only orders, re-check reservations)."""

from __future__ import annotations

from typing import Final

from .accounts import Account, Position
from .commands import TRIGGER_TYPES
from .instruments import Instrument

FUND_ACCOUNT: Final = -1  # account id of the insurance fund in events


class State:
    """Accounts, positions and counters; `changed`, `trim` and `recheck` are read and emptied by the
    breach index, the order path and the reservation rule."""

    __slots__ = ("instruments", "accounts", "fund", "holders", "halted", "margin_checks", "seq", "ts_ns",
                 "next_order_id", "next_trade_id", "changed", "trim", "recheck")

    def __init__(self, instruments: dict[str, Instrument], margin_checks: bool) -> None:
        self.instruments = instruments
        self.accounts: dict[int, Account] = {}
        self.fund = Account(FUND_ACCOUNT, instruments)  # the insurance fund: its cash and the positions it took over
        self.holders: dict[str, dict[int, Position]] = {s: {} for s in instruments}
        self.halted = False
        self.margin_checks = margin_checks
        self.seq = 0
        self.ts_ns = 0
        self.next_order_id = 1
        self.next_trade_id = 1
        self.changed: dict[int, None] = {}  # accounts to re-index in the breach index
        self.trim: dict[tuple[int, str], None] = {}  # (account, symbol) whose reduce-only orders may be too big
        self.recheck: dict[int, None] = {}  # accounts whose cross wallet may no longer back their reservations

    def new_order_id(self) -> int:
        oid = self.next_order_id
        self.next_order_id = oid + 1
        return oid

    def position_changed(self, acct: Account, pos: Position) -> None:
        """Bookkeeping after a position's size or cost moved: its holders entry and what to look at next."""
        if acct is self.fund:  # the fund is neither a holder for ADL and funding nor in the breach index
            return
        holders = self.holders[pos.symbol]
        if pos.size:
            holders[acct.id] = pos
        else:
            holders.pop(acct.id, None)
        self.changed[acct.id] = None
        if pos.reduce_only_orders:
            self.trim[(acct.id, pos.symbol)] = None
        if acct.order_margin:
            self.recheck[acct.id] = None

    def check_invariants(self) -> None:
        """Each account's order counts and reservations add up, flat positions hold no cost or margin,
        and the positions of each symbol net to zero with `holders` naming exactly the non-zero ones."""
        for acct in self.accounts.values():
            assert acct.order_margin == sum(o.reserve for o in acct.orders.values()), f"account {acct.id} order margin"
            for pos in acct.positions.values():
                assert pos.size or pos.cost == 0, f"flat position of {acct.id} in {pos.symbol} keeps cost {pos.cost}"
                if pos.isolated:
                    assert pos.isolated_wallet >= 0, f"negative isolated wallet {acct.id} {pos.symbol}"
                    assert pos.size or pos.isolated_wallet == 0, f"flat isolated position of {acct.id} keeps margin"
                else:
                    assert pos.isolated_wallet == 0
                n = sum(1 for o in acct.orders.values() if o.symbol == pos.symbol)
                assert pos.open_orders == n, f"account {acct.id} {pos.symbol}: {pos.open_orders} != {n} open orders"
            for oid, order in acct.orders.items():
                assert order.account == acct.id and order.oid == oid
        for pos in self.fund.positions.values():
            assert pos.size or pos.cost == 0, f"flat fund position in {pos.symbol} keeps cost {pos.cost}"
        for symbol, holders in self.holders.items():
            total = sum(a.positions[symbol].size for a in self.accounts.values()) + self.fund.positions[symbol].size
            assert total == 0, f"positions in {symbol} net to {total}, not 0"
            nonzero = {a.id: a.positions[symbol] for a in self.accounts.values() if a.positions[symbol].size}
            assert holders.keys() == nonzero.keys(), f"holders of {symbol} differ from the non-zero positions"
            assert all(holders[a] is p for a, p in nonzero.items()), f"holders of {symbol} hold stale positions"

    def resting_orders(self) -> int:
        """How many open orders of all accounts rest in a book (the others wait for their trigger)."""
        return sum(1 for a in self.accounts.values() for o in a.orders.values() if o.order_type not in TRIGGER_TYPES)
