"""Whole-state snapshots as plain data (ints, strs, bools, lists, tuples, dicts) and restore: functions
over the components that hold the state."""

from __future__ import annotations

from dataclasses import astuple
from decimal import Decimal
from typing import Any

from .accounts import Account, Position
from .book import Book, Order
from .breach import BreachWatch
from .commands import BUY, SELL, TRIGGER_TYPES
from .instruments import Bracket, Instrument
from .ledger import Ledger
from .market import Market
from .matching import Matching
from .pricing import Pricing
from .state import State
from .triggers import Triggers

SNAPSHOT_VERSION = 2  # 2: instruments carry the mark window and clamp

# Plain data as written to a file and read back: its shape is checked by restoring it.
Snapshot = dict[str, Any]


def instrument_state(inst: Instrument) -> list[object]:
    values: list[object] = []
    for name in Instrument.__dataclass_fields__:
        if name == "bracket_floors":
            continue
        v = getattr(inst, name)
        if isinstance(v, Decimal):
            v = str(v)
        elif name == "brackets":
            v = [list(astuple(b)) for b in v]
        values.append(v)
    return values


def instrument_from_state(values: list[Any]) -> Instrument:
    names = [n for n in Instrument.__dataclass_fields__ if n != "bracket_floors"]
    kw = dict(zip(names, values))
    kw["tick_size"], kw["lot_step"] = Decimal(kw["tick_size"]), Decimal(kw["lot_step"])
    kw["brackets"] = tuple(Bracket(*b) for b in kw["brackets"])
    return Instrument(**kw)


def book_state(book: Book) -> list[list[tuple[int, list[int]]]]:
    return [book.resting(BUY), book.resting(SELL)]


def capture(state: State, ledger: Ledger, markets: dict[str, Market], books: dict[str, Book],
            watch: BreachWatch) -> Snapshot:
    """The whole state (the breach index brought up to date first)."""
    watch.flush()
    accounts = state.accounts.values()
    return {
        "version": SNAPSHOT_VERSION,
        "seq": state.seq, "ts_ns": state.ts_ns,
        "counters": [state.next_order_id, state.next_trade_id],
        "cash": [ledger.insurance_fund, ledger.insurance_seed, ledger.fees_collected, ledger.deposits, ledger.withdrawals],
        "halted": state.halted, "margin_checks": state.margin_checks,
        "instruments": [instrument_state(i) for i in state.instruments.values()],
        "markets": [list(m.state()) for m in markets.values()],
        "accounts": [[a.id, a.cross_wallet, a.order_margin, a.deposited, a.withdrawn,
                      [list(p.state()) for p in a.positions.values()]] for a in accounts],
        # in each account's order: cancel-all and reduce-only trimming iterate it
        "orders": [list(o.state()) for a in accounts for o in a.orders.values()],
        "books": [book_state(books[s]) for s in state.instruments],
        "holders": [list(h) for h in state.holders.values()],
        "fund_positions": [list(p.state()) for p in state.fund.positions.values()],
        "breach_index": [[list(k), list(v)] for k, v in watch.index.state()],
    }


def instruments_of(snap: Snapshot) -> list[Instrument]:
    """The instruments of a snapshot; ValueError for a snapshot of another version (replay the journal)."""
    if snap.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"snapshot version {snap.get('version')!r} is not {SNAPSHOT_VERSION}")
    return [instrument_from_state(v) for v in snap["instruments"]]


def restore(snap: Snapshot, state: State, ledger: Ledger, pricing: Pricing, matching: Matching,
            triggers: Triggers, watch: BreachWatch) -> None:
    """Fill freshly built components (of the snapshot's instruments) with the snapshot's state."""
    state.seq, state.ts_ns = snap["seq"], snap["ts_ns"]
    state.next_order_id, state.next_trade_id = snap["counters"]
    state.fund.cross_wallet, ledger.insurance_seed, ledger.fees_collected, ledger.deposits, ledger.withdrawals = snap["cash"]
    state.halted = snap["halted"]
    for m in snap["markets"]:
        pricing.markets[m[0]] = Market.from_state(tuple(m))
    pricing.update_next_timer()
    for aid, wallet, order_margin, deposited, withdrawn, positions in snap["accounts"]:
        acct = state.accounts[aid] = Account(aid)
        acct.cross_wallet, acct.order_margin, acct.deposited, acct.withdrawn = wallet, order_margin, deposited, withdrawn
        for ps in positions:
            pos = Position.from_state(aid, tuple(ps))
            acct.positions[pos.symbol] = pos
    by_id = {}
    for s in snap["orders"]:
        o = Order.from_state(tuple(s))
        by_id[o.oid] = o
        state.accounts[o.account].orders[o.oid] = o
        if o.order_type in TRIGGER_TYPES:
            triggers.arm(o)
    for symbol, (bids, asks) in zip(state.instruments, snap["books"]):
        book = matching.books[symbol]
        for levels in (bids, asks):
            for _, oids in levels:
                for oid in oids:
                    o = by_id[oid]
                    book.add(oid, o.side, o.price, o.qty)
                    matching.resting[oid] = o
    for ps in snap["fund_positions"]:
        pos = Position.from_state(state.fund.id, tuple(ps))
        state.fund.positions[pos.symbol] = pos
    for symbol, holders in zip(state.instruments, snap["holders"]):
        state.holders[symbol] = {a: state.accounts[a].positions[symbol] for a in holders}
    for (account, symbol, iso), (is_long, threshold) in snap["breach_index"]:
        watch.index.put(account, symbol, iso, is_long, threshold)
