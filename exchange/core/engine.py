"""The Exchange: the one mutator of exchange state, `apply(envelope) -> events`, composed of components
that each own their part of the state (docs/architecture.md has the map).

A command goes: advance time (funding timers due at or before the envelope's ts; a settlement is
followed by liquidations) -> dispatch. An order (`Trading.place`): validate (`OrderEntry`, no mutation)
-> reserve (`Risk`) -> match (`Book` via `Matching`) -> settle each fill (`Settlement`) -> rest or
expire -> last-price triggers, reduce-only trimming, unbacked reservations. An index price
(`_index_price`): mark (`Pricing`) -> mark triggers -> liquidations (`Liquidation`: the waterfall down
to `InsuranceFund` and `Deleverager`) -> the fund's unwind. Accounts whose state changed are re-indexed
in the breach index (`BreachWatch`) lazily, before it is next read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import TypeVar, cast, get_type_hints

from .accounts import Account, Position
from .adl import Deleverager
from .admin import MAX_CASH, Admin
from .book import Book, Order
from .breach import BreachIndex, BreachWatch
from .collateral import Asset, Collateral
from .commands import (
    COMMAND_TYPES, MARK_PRICE, Command, AdjustIsolatedMargin, AmendOrder, CancelAll, CancelOrder, CreateAccount, Deposit,
    Envelope, Heartbeat, IndexPrice, PlaceOrder, SetAutoAddMargin, SetInstrumentParam, SetLeverage, SetMarginMode,
    SetBrackets, SetTradingHalted, Withdraw, DepositAsset, WithdrawAsset,
)
from .entry import OrderEntry
from .errors import Reject
from .events import CommandRejected, Event
from .funding import Funding
from .insurance import InsuranceFund
from .instruments import PARAM_BOUNDS, Instrument
from .ledger import Ledger
from .liquidation import Liquidation
from .matching import Matching
from .pricing import Pricing
from .risk import Risk
from .rules import BINANCE, Venue
from .settlement import Settlement
from .snapshot import Snapshot, capture, instruments_of, restore
from .state import State
from .trading import Trading
from .triggers import TriggerBook, Triggers

__all__ = ["INSTRUMENT_PARAMS", "MAX_CASH", "Exchange"]

INSTRUMENT_PARAMS = tuple(PARAM_BOUNDS)  # what SetInstrumentParam may change (bounds: instruments.PARAM_BOUNDS)

# Fields used as keys (or as flags) are type-checked for every command before its handler runs; the
# handlers check their value fields themselves, with specific codes. Orders and cancels check all.
KEY_FIELDS = ("account", "symbol", "order_id", "halted")
FIELD_TYPES = {cls: tuple((i, name, t) for i, (name, t) in enumerate(get_type_hints(cls).items()) if name in KEY_FIELDS)
               for cls in COMMAND_TYPES}
SELF_CHECKED = (PlaceOrder, CancelOrder)

C = TypeVar("C")
Handler = Callable[[Command, list[Event]], None]  # each takes the commands of the type it is registered for


def _account_of(command: object) -> int:
    """The account a command names in its first field (-1 when none): whom its rejection goes to."""
    return command[0] if isinstance(command, tuple) and command and type(command[0]) is int else -1


def _wrong_field(command: tuple[object, ...]) -> str | None:
    """Why a command's key fields do not have their declared types (bool is not an int here), or None."""
    for i, name, expected in FIELD_TYPES[type(command)]:
        if type(command[i]) is not expected:
            return f"{type(command).__name__}.{name} must be {expected.__name__}, not {type(command[i]).__name__}"
    return None


def _handler(cls: type[C], fn: Callable[[C, list[Event]], None]) -> tuple[type, Handler]:
    return cls, cast(Handler, fn)


class Exchange:
    """Deterministic exchange state machine. Reads no clock, draws no random number, does no I/O."""

    def __init__(self, instruments: Iterable[Instrument], insurance_fund_cash: int = 0,
                 margin_checks: bool = True, venue: Venue = BINANCE, assets: Iterable[Asset] = ()) -> None:
        self.venue = venue
        self.state = state = State({i.symbol: i for i in instruments}, margin_checks)
        self.books: dict[str, Book] = {s: Book(s) for s in state.instruments}
        self.ledger = ledger = Ledger(state, insurance_fund_cash)
        self.collateral = collateral = Collateral(state, ledger, assets)
        self.pricing = pricing = Pricing(state, self.books)
        self.funding = Funding(state, pricing, ledger, venue.funding)
        markets = pricing.markets
        self.risk = risk = Risk(state, markets, venue, collateral)
        self.watch = BreachWatch(state, risk)
        self.entry = entry = OrderEntry(state, self.books, markets, risk)
        self.settlement = settlement = Settlement(state, ledger, risk)
        self.matching = matching = Matching(state, self.books, markets, risk, settlement)
        self.trigger_book = Triggers(state)
        self.trading = trading = Trading(state, self.books, markets, risk, entry, matching, self.trigger_book, settlement)
        self.adl = adl = Deleverager(state, markets, risk, settlement, ledger, trading, venue.adl)
        self.insurance = InsuranceFund(state, self.books, markets, risk, settlement, ledger, matching, trading, adl)
        self.liquidation = Liquidation(state, self.books, markets, risk, self.watch, settlement, ledger, matching,
                                       trading, self.insurance, adl, venue)
        self.admin = admin = Admin(state, ledger, risk, entry, collateral)
        # the surface outer layers read (views, the gateway, the simulation): the components' own objects
        self.instruments = state.instruments
        self.accounts = state.accounts
        self.holders = state.holders
        self.fund = state.fund
        self.markets = markets
        self._handlers: dict[type, Handler] = dict((  # type -> handler(command, events)
            _handler(PlaceOrder, trading.place), _handler(CancelOrder, trading.cancel),
            _handler(CancelAll, trading.cancel_all), _handler(AmendOrder, trading.amend),
            _handler(CreateAccount, admin.create_account), _handler(Deposit, admin.deposit),
            _handler(Withdraw, admin.withdraw), _handler(SetLeverage, admin.set_leverage),
            _handler(SetMarginMode, admin.set_margin_mode), _handler(AdjustIsolatedMargin, admin.adjust_isolated),
            _handler(SetAutoAddMargin, admin.set_auto_add), _handler(IndexPrice, self._index_price),
            _handler(Heartbeat, self._heartbeat), _handler(SetTradingHalted, admin.set_halted),
            _handler(SetInstrumentParam, admin.set_instrument_param), _handler(SetBrackets, admin.set_brackets),
            _handler(DepositAsset, admin.deposit_asset), _handler(WithdrawAsset, admin.withdraw_asset),
        ))

    # -- the pipeline --------------------------------------------------------------------------
    def apply(self, envelope: Envelope) -> list[Event]:
        """Apply one sequenced command; returns the events it caused, in order.

        Handlers validate before they mutate, so a bad command is a rejection event. Should a handler
        raise all the same (a bug), the events so far stand, the command is answered with CommandRejected
        INTERNAL_ERROR and the exchange carries on: the same journal raises the same way on replay, so
        events and state hash stay reproducible.
        """
        seq, ts, _, command = envelope
        events: list[Event] = []
        state = self.state
        state.seq = seq
        try:
            if ts > state.ts_ns:
                state.ts_ns = ts
                if ts >= self.pricing.next_timer_ts:
                    for symbol in self.funding.run_timers(ts, events):
                        self.liquidation.run(symbol, events)  # a payment can breach a position
            cls = type(command)
            handler = self._handlers.get(cls)
            if handler is None:
                name = cls.__name__
                events.append(CommandRejected(-1, name, Reject.INVALID_COMMAND.value, f"unknown command {name}"))
            elif cls in SELF_CHECKED or (wrong := _wrong_field(command)) is None:
                handler(command, events)
            else:
                events.append(CommandRejected(_account_of(command), cls.__name__, Reject.INVALID_PARAMETER.value, wrong))
            if state.recheck:
                self.trading.release_unbacked(events)
        except Exception as exc:
            self.trading.settling.clear()
            name = type(command).__name__
            events.append(CommandRejected(_account_of(command), name, Reject.INTERNAL_ERROR.value,
                                          f"internal error in {name}: {type(exc).__name__}"))
        return events

    def _index_price(self, cmd: IndexPrice, events: list[Event]) -> None:
        """The mark-price tick: mark -> mark-price triggers -> what they traded set off -> liquidations ->
        the fund's unwind of what it holds."""
        if not self.pricing.set_index(cmd, events):
            return
        symbol = cmd.symbol
        self.trading.fire_triggers(symbol, MARK_PRICE, events)
        self.trading.after_trades(symbol, events)
        self.liquidation.run(symbol, events)
        if self.collateral.priced_by and self.collateral.on_index(self.instruments[symbol], cmd.price_ticks):
            for other in self.instruments:  # the collateral's price moved its holders' margin in every symbol
                self.liquidation.run(other, events)
        if self.fund.positions[symbol].size:
            self.insurance.unwind(symbol, events)

    def _heartbeat(self, cmd: Heartbeat, events: list[Event]) -> None:
        """Time already advanced in apply(); a heartbeat only makes it happen on an idle market."""

    # -- the state, read ----------------------------------------------------------------------
    @property
    def seq(self) -> int:
        return self.state.seq

    @property
    def ts_ns(self) -> int:
        return self.state.ts_ns

    @property
    def halted(self) -> bool:
        return self.state.halted

    @property
    def margin_checks(self) -> bool:
        return self.state.margin_checks

    @property
    def insurance_fund(self) -> int:
        """The insurance fund's cash balance."""
        return self.fund.cross_wallet

    @insurance_fund.setter
    def insurance_fund(self, value: int) -> None:
        self.fund.cross_wallet = value

    @property
    def insurance_seed(self) -> int:
        return self.ledger.insurance_seed

    @insurance_seed.setter
    def insurance_seed(self, value: int) -> None:
        self.ledger.insurance_seed = value

    @property
    def deposits(self) -> int:
        return self.ledger.deposits

    @deposits.setter
    def deposits(self, value: int) -> None:
        self.ledger.deposits = value

    @property
    def withdrawals(self) -> int:
        return self.ledger.withdrawals

    @property
    def fees_collected(self) -> int:
        return self.ledger.fees_collected

    @property
    def dirty(self) -> dict[int, None]:
        """Accounts to re-index before the breach index is next read (mark one to force it)."""
        return self.state.changed

    @property
    def trigger_orders(self) -> dict[int, Order]:
        return self.trigger_book.orders

    @property
    def triggers(self) -> dict[str, TriggerBook]:
        return self.trigger_book.books

    @property
    def breach_index(self) -> BreachIndex:
        return self.watch.index

    def breach_entries(self) -> dict[tuple[int, str, int], tuple[bool, int]]:
        """The breach index, (account, symbol, isolated) -> (is_long, threshold ticks), brought up to date."""
        return self.watch.entries()

    def available(self, acct: Account) -> int:
        return self.risk.available(acct)

    def free_balance(self, acct: Account) -> int:
        return self.risk.free_balance(acct)

    def cross_totals(self, acct: Account) -> tuple[int, int, int, int]:
        return self.risk.cross_totals(acct)

    def cross_breached(self, acct: Account) -> tuple[bool, int, int]:
        return self.risk.cross_breached(acct)

    def isolated_breached(self, pos: Position) -> tuple[bool, int, int]:
        return self.risk.isolated_breached(pos)

    def _upnl(self, pos: Position) -> int:
        return self.risk.upnl(pos)

    def _notional(self, pos: Position) -> int:
        return self.risk.notional(pos)

    def _mm_ppm(self, pos: Position) -> int:
        return self.risk.mm_ppm(pos)

    def premium_index_e8(self, symbol: str) -> int:
        return self.pricing.premium_index_e8(symbol)

    def adl_ranking(self, symbol: str, sign: int, price: int, exclude: int = -1) -> list[Position]:
        return self.adl.ranking(symbol, sign, price, exclude)

    def adl_quantile(self, account: int, symbol: str) -> int:
        return self.adl.quantile(account, symbol)

    def fund_equity(self, exclude: Position | None = None) -> int:
        return self.insurance.equity(exclude)

    # -- integrity -----------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The whole state as plain data (`snapshot.capture`); another venue than Binance is named in it,
        with its liquidations' cooldowns (a Binance snapshot is as it always was)."""
        snap = capture(self.state, self.ledger, self.markets, self.books, self.watch)
        if self.venue.name != BINANCE.name:
            snap["venue"] = self.venue.name
            snap["liquidation_cooldowns"] = sorted([a, s, t] for (a, s), t in self.liquidation.cooldowns.items())
        if self.collateral.assets:
            snap["collateral"] = self.collateral.state_data()
        return snap

    @classmethod
    def from_snapshot(cls, snap: Snapshot, venue: Venue = BINANCE, assets: tuple[Asset, ...] = ()) -> Exchange:
        """Restore; ValueError for a snapshot of another version (replay the journal instead) or of
        another venue than `venue`."""
        if snap.get("venue", BINANCE.name) != venue.name:
            raise ValueError(f"snapshot of venue {snap.get('venue', BINANCE.name)!r}, not {venue.name!r}")
        ex = cls(instruments_of(snap), snap["cash"][0], snap["margin_checks"], venue, assets)
        if bool(assets) != ("collateral" in snap):
            raise ValueError("snapshot and exchange differ in their collateral assets")
        restore(snap, ex.state, ex.ledger, ex.pricing, ex.matching, ex.trigger_book, ex.watch)
        ex.liquidation.cooldowns = {(a, s): t for a, s, t in snap.get("liquidation_cooldowns", ())}
        if assets:
            ex.collateral.restore(snap["collateral"])
        return ex

    def state_hash(self) -> str:
        """sha256 over a canonical encoding of the whole state."""
        return hashlib.sha256(repr(self.snapshot()).encode()).hexdigest()

    def check_invariants(self) -> None:
        """Raise AssertionError if any invariant of the exchange is broken: books sound, accounts and
        positions consistent (netting to zero with their holders), reservations backed by cash, every
        open order in its book or trigger list, the breach index (brought up to date first) consistent
        with the positions, cash conserved."""
        for book in self.books.values():
            book.check_invariants()
        self.state.check_invariants()
        self.pricing.check_invariants()
        self.risk.check_invariants()
        self.trading.check_invariants()
        self.trigger_book.check_invariants()
        self.watch.check_invariants()
        self.ledger.check_invariants()
        self.collateral.check_invariants()


