"""Whole-state snapshots as plain data (ints, strs, bools, lists, tuples, dicts) and restore."""

from __future__ import annotations

from dataclasses import astuple
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .accounts import Account, Position
from .book import Book, Order
from .instruments import Bracket, Instrument
from .market import Market

if TYPE_CHECKING:  # a mixin of Exchange: the other mixins' attributes are there at run time
    from typing import Any as _Base

    from .engine import Exchange
else:
    _Base = object

SNAPSHOT_VERSION = 2  # 2: instruments carry the mark window and clamp


def instrument_state(inst: Instrument) -> list:
    values = []
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


def instrument_from_state(values: list) -> Instrument:
    names = [n for n in Instrument.__dataclass_fields__ if n != "bracket_floors"]
    kw = dict(zip(names, values))
    kw["tick_size"], kw["lot_step"] = Decimal(kw["tick_size"]), Decimal(kw["lot_step"])
    kw["brackets"] = tuple(Bracket(*b) for b in kw["brackets"])
    return Instrument(**kw)


def book_state(book: Book) -> list:
    return [[(p, [o.oid for o in book.bids[p].orders if o.qty]) for p in book.bid_prices],
            [(p, [o.oid for o in book.asks[p].orders if o.qty]) for p in book.ask_prices]]


class Snapshots(_Base):
    """Mixin of Exchange."""

    def snapshot(self) -> dict[str, Any]:
        self._flush_dirty()
        return {
            "version": SNAPSHOT_VERSION,
            "seq": self.seq, "ts_ns": self.ts_ns,
            "counters": [self.next_order_id, self.next_trade_id],
            "cash": [self.insurance_fund, self.insurance_seed, self.fees_collected, self.deposits, self.withdrawals],
            "halted": self.halted, "margin_checks": self.margin_checks,
            "instruments": [instrument_state(i) for i in self.instruments.values()],
            "markets": [list(m.state()) for m in self.markets.values()],
            "accounts": [[a.id, a.cross_wallet, a.order_margin, a.deposited, a.withdrawn,
                          [list(p.state()) for p in a.positions.values()]] for a in self.accounts.values()],
            # in each account's order: cancel-all and reduce-only trimming iterate it
            "orders": [list(o.state()) for a in self.accounts.values() for o in a.orders.values()],
            "books": [book_state(self.books[s]) for s in self.instruments],
            "holders": [list(h) for h in self.holders.values()],
            "fund_positions": [list(p.state()) for p in self.fund.positions.values()],
            "breach_index": [[list(k), list(v)] for k, v in self.breach_index.state()],
        }

    @classmethod
    def from_snapshot(cls, snap: dict[str, Any]) -> Exchange:
        """Restore; ValueError for a snapshot of another version (replay the journal instead)."""
        if snap.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"snapshot version {snap.get('version')!r} is not {SNAPSHOT_VERSION}")
        instruments = [instrument_from_state(v) for v in snap["instruments"]]
        ex = cls(instruments, snap["cash"][0], snap["margin_checks"])
        ex.seq, ex.ts_ns = snap["seq"], snap["ts_ns"]
        ex.next_order_id, ex.next_trade_id = snap["counters"]
        ex.insurance_fund, ex.insurance_seed, ex.fees_collected, ex.deposits, ex.withdrawals = snap["cash"]
        ex.halted = snap["halted"]
        for m in snap["markets"]:
            ex.markets[m[0]] = Market.from_state(tuple(m))
        ex._update_next_timer()
        for aid, wallet, order_margin, deposited, withdrawn, positions in snap["accounts"]:
            acct = ex.accounts[aid] = Account(aid)
            acct.cross_wallet, acct.order_margin, acct.deposited, acct.withdrawn = wallet, order_margin, deposited, withdrawn
            for ps in positions:
                pos = Position.from_state(aid, tuple(ps))
                acct.positions[pos.symbol] = pos
        by_id = {}
        for s in snap["orders"]:
            o = Order.from_state(tuple(s))
            by_id[o.oid] = o
            ex.accounts[o.account].orders[o.oid] = o
            if o.order_type not in ("LIMIT", "MARKET"):
                ex.trigger_orders[o.oid] = o
                ex.triggers[o.symbol].side(_rise(o), o.working_type).add((o.stop_price, o.priority, o.oid))
        for symbol, (bids, asks) in zip(ex.instruments, snap["books"]):
            book = ex.books[symbol]
            for levels in (bids, asks):
                for _, oids in levels:
                    for oid in oids:
                        book.add(by_id[oid])
        for ps in snap["fund_positions"]:
            pos = Position.from_state(ex.fund.id, tuple(ps))
            ex.fund.positions[pos.symbol] = pos
        for symbol, accounts in zip(ex.instruments, snap["holders"]):
            ex.holders[symbol] = {a: ex.accounts[a].positions[symbol] for a in accounts}
        for (account, symbol, iso), (is_long, threshold) in snap["breach_index"]:
            ex.breach_index.put(account, symbol, iso, is_long, threshold)
        return ex


def _rise(o: Order) -> bool:
    from .triggers import fires_on_rise
    return fires_on_rise(o.order_type, o.side)
