"""The Exchange: the one mutator of exchange state, `apply(envelope) -> events`.

Stage order of a command: advance time (funding timers due at or before the envelope's ts) ->
dispatch -> [orders: validate (no mutation) -> reserve margin -> match -> settle fills -> rest or
expire -> fire last-price triggers -> trim reduce-only] -> [index price: mark -> mark triggers ->
liquidations] -> re-index the risk of every account whose state changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any, get_type_hints

from .accounts import Account, Position
from .book import Book, Order
from .commands import (
    COMMAND_TYPES, LIMIT, MARGIN_MODES, TRIGGER_TYPES, AdjustIsolatedMargin, AmendOrder, CancelAll, CancelOrder,
    CreateAccount, Deposit, Envelope, Heartbeat, IndexPrice, PlaceOrder, SetAutoAddMargin, SetInstrumentParam, SetLeverage,
    SetMarginMode, SetTradingHalted, Withdraw,
)
from .errors import Reject, Rejection
from .events import (
    AccountCreated, AutoAddMarginSet, BalanceChanged, CommandRejected, InstrumentChanged, IsolatedMarginChanged,
    LeverageSet, MarginModeSet, TradingHalted,
)
from .instruments import PARAM_BOUNDS, Instrument, param_problem
from .liquidation import BreachIndex, Liquidation, LiquidationContext
from .margin import initial_margin
from .market import Market
from .money import ceil_div
from .pricing import Pricing
from .risk import Risk
from .snapshot import Snapshots
from .trading import Trading
from .triggers import TriggerBook, Triggers

MAX_CASH = 10**18
FUND_ACCOUNT = -1  # account id of the insurance fund in events
NEVER = 1 << 62  # bound on any single cash amount in a command
INSTRUMENT_PARAMS = tuple(PARAM_BOUNDS)  # what SetInstrumentParam may change (bounds: instruments.PARAM_BOUNDS)


# Fields used as keys (or as flags) are type-checked for every command before its handler runs; the
# handlers check their value fields themselves, with specific codes. Orders and cancels check all.
KEY_FIELDS = ("account", "symbol", "order_id", "halted")
FIELD_TYPES = {cls: tuple((i, name, t) for i, (name, t) in enumerate(get_type_hints(cls).items()) if name in KEY_FIELDS)
               for cls in COMMAND_TYPES}
SELF_CHECKED = (PlaceOrder, CancelOrder)


def _wrong_field(command: Any) -> str | None:
    """Why a command's key fields do not have their declared types (bool is not an int here), or None."""
    for i, name, expected in FIELD_TYPES[type(command)]:
        if type(command[i]) is not expected:
            return f"{type(command).__name__}.{name} must be {expected.__name__}, not {type(command[i]).__name__}"
    return None


class Exchange(Trading, Risk, Triggers, Pricing, Liquidation, Snapshots):
    """Deterministic exchange state machine. Reads no clock, draws no random number, does no I/O."""

    def __init__(self, instruments: Iterable[Instrument], insurance_fund_cash: int = 0,
                 margin_checks: bool = True) -> None:
        self.instruments: dict[str, Instrument] = {i.symbol: i for i in instruments}
        symbols = list(self.instruments)
        self.books = {s: Book(s) for s in symbols}
        self.markets = {s: Market(s) for s in symbols}
        self.triggers = {s: TriggerBook() for s in symbols}
        self.holders: dict[str, dict[int, Position]] = {s: {} for s in symbols}
        self.trigger_orders: dict[int, Order] = {}
        self.accounts: dict[int, Account] = {}
        self.breach_index = BreachIndex(symbols)
        self.margin_checks = margin_checks
        self.fund = Account(FUND_ACCOUNT, symbols)  # the insurance fund: its cash and the positions it took over
        self.insurance_fund = insurance_fund_cash
        self.insurance_seed = insurance_fund_cash
        self.fees_collected = 0
        self.deposits = 0
        self.withdrawals = 0
        self.halted = False
        self.next_order_id = 1
        self.next_trade_id = 1
        self.seq = 0
        self.ts_ns = 0
        self.next_timer_ts = NEVER  # earliest funding timer of any market (derived, not state)
        self.dirty: dict[int, None] = {}
        self.trim_pending: dict[tuple[int, str], None] = {}
        self.backing_pending: dict[int, None] = {}  # accounts whose cross wallet may have lost cash
        self.liquidation: LiquidationContext | None = None
        self._events: list = []
        self._settling: set[str] = set()
        self._handlers: dict[type, Callable[[Any, list], None]] = {
            PlaceOrder: self._place, CancelOrder: self._cancel, CancelAll: self._cancel_all, AmendOrder: self._amend,
            CreateAccount: self._create_account, Deposit: self._deposit, Withdraw: self._withdraw,
            SetLeverage: self._set_leverage, SetMarginMode: self._set_margin_mode,
            AdjustIsolatedMargin: self._adjust_isolated, SetAutoAddMargin: self._set_auto_add,
            IndexPrice: self._index_price, Heartbeat: self._heartbeat, SetTradingHalted: self._set_halted,
            SetInstrumentParam: self._set_instrument_param,
        }

    @property
    def insurance_fund(self) -> int:
        """The insurance fund's cash balance."""
        return self.fund.cross_wallet

    @insurance_fund.setter
    def insurance_fund(self, value: int) -> None:
        self.fund.cross_wallet = value

    def apply(self, envelope: Envelope) -> list:
        """Apply one sequenced command; returns the events it caused, in order.

        Handlers validate before they mutate, so a bad command is a rejection event. Should a handler
        raise all the same (a bug), the events so far stand, the command is answered with CommandRejected
        INTERNAL_ERROR and the exchange carries on: the same journal raises the same way on replay, so
        events and state hash stay reproducible.
        """
        seq, ts, _, command = envelope
        events: list = []
        self._events = events
        self.seq = seq
        name = type(command).__name__
        try:
            if ts > self.ts_ns:
                self.ts_ns = ts
                if ts >= self.next_timer_ts:
                    self._advance_time(ts, events)
            handler = self._handlers.get(type(command))
            if handler is None:
                events.append(CommandRejected(-1, name, Reject.INVALID_COMMAND.value, f"unknown command {name}"))
            else:
                wrong = None if type(command) in SELF_CHECKED else _wrong_field(command)
                if wrong is None:
                    handler(command, events)
                else:
                    account = command[0] if type(command[0]) is int else -1
                    events.append(CommandRejected(account, name, Reject.INVALID_PARAMETER.value, wrong))
            if self.backing_pending:
                self._release_unbacked(events)
        except Exception as exc:
            self._settling.clear()
            self.liquidation = None
            account = command[0] if isinstance(command, tuple) and command and type(command[0]) is int else -1
            events.append(CommandRejected(account, name, Reject.INTERNAL_ERROR.value,
                                          f"internal error in {name}: {type(exc).__name__}"))
        return events

    def _after_trades(self, symbol: str, events: list) -> None:
        """Fire last-price triggers, trim reduce-only orders and cancel orders whose reservation lost its
        cash, until nothing more happens."""
        if symbol in self._settling or not (self.trigger_orders or self.trim_pending or self.backing_pending):
            return
        self._settling.add(symbol)
        while True:
            before = len(events)
            if self.trigger_orders:
                self._fire_triggers(symbol, "CONTRACT_PRICE", events)
            if self.trim_pending:
                self._trim_reduce_only(events)
            if self.backing_pending:
                self._release_unbacked(events)
            if len(events) == before:
                break
        self._settling.discard(symbol)

    # -- account and admin commands ------------------------------------------------------------
    def _reject(self, events: list, cmd: Any, code: Reject, message: str) -> None:
        events.append(CommandRejected(getattr(cmd, "account", -1), type(cmd).__name__, code.value, message))

    def _account_for(self, cmd: Any) -> Account:
        acct = self.accounts.get(cmd.account)
        if acct is None:
            raise Rejection(Reject.UNKNOWN_ACCOUNT, f"unknown account {cmd.account!r}")
        return acct

    def _position_for(self, cmd: Any) -> tuple[Account, Position, Instrument]:
        acct = self._account_for(cmd)
        inst = self.instruments.get(cmd.symbol)
        if inst is None:
            raise Rejection(Reject.UNKNOWN_SYMBOL, f"unknown symbol {cmd.symbol!r}")
        return acct, acct.positions[cmd.symbol], inst

    def _create_account(self, cmd: CreateAccount, events: list) -> None:
        """Validate the id and the deposit first: a rejected creation creates and credits nothing."""
        if type(cmd.account) is not int or cmd.account < 0:
            return self._reject(events, cmd, Reject.INVALID_PARAMETER, f"account id {cmd.account!r} must be an int >= 0")
        if cmd.account in self.accounts:
            return self._reject(events, cmd, Reject.ACCOUNT_EXISTS, f"account {cmd.account} exists")
        deposit = cmd.deposit_cash
        if type(deposit) is not int or not 0 <= deposit <= MAX_CASH:
            return self._reject(events, cmd, Reject.INVALID_AMOUNT,
                                f"deposit {deposit!r} must be an int in [0, {MAX_CASH}] cash units")
        acct = self.accounts[cmd.account] = Account(cmd.account, self.instruments)
        events.append(AccountCreated(cmd.account))
        if deposit:
            self._credit_deposit(acct, deposit, events)

    def _amount(self, cmd: Any) -> int:
        amount = cmd.amount_cash
        if type(amount) is not int or amount <= 0 or amount > MAX_CASH:
            raise Rejection(Reject.INVALID_AMOUNT, f"amount {amount!r} must be an int in [1, {MAX_CASH}] cash units")
        return amount

    def _deposit(self, cmd: Deposit, events: list) -> None:
        try:
            acct, amount = self._account_for(cmd), self._amount(cmd)
        except Rejection as r:
            return self._reject(events, cmd, r.code, r.message)
        self._credit_deposit(acct, amount, events)

    def _credit_deposit(self, acct: Account, amount: int, events: list) -> None:
        acct.cross_wallet += amount
        acct.deposited += amount
        self.deposits += amount
        self.dirty[acct.id] = None
        events.append(BalanceChanged(acct.id, amount, acct.cross_wallet, "DEPOSIT"))

    def _withdraw(self, cmd: Withdraw, events: list) -> None:
        try:
            acct, amount = self._account_for(cmd), self._amount(cmd)
            free = self.free_balance(acct)
            if amount > free:
                raise Rejection(Reject.INSUFFICIENT_BALANCE, f"withdrawal of {amount} exceeds the free balance {free}")
        except Rejection as r:
            return self._reject(events, cmd, r.code, r.message)
        acct.cross_wallet -= amount
        acct.withdrawn += amount
        self.withdrawals += amount
        self.dirty[acct.id] = None
        events.append(BalanceChanged(acct.id, -amount, acct.cross_wallet, "WITHDRAW"))

    def _set_leverage(self, cmd: SetLeverage, events: list) -> None:
        try:
            acct, pos, inst = self._position_for(cmd)
            lev = cmd.leverage
            if type(lev) is not int or lev < 1 or lev > inst.max_leverage:
                raise Rejection(Reject.INVALID_LEVERAGE, f"leverage {lev!r} is outside [1, {inst.max_leverage}]")
            bracket = inst.bracket_for(self._notional(pos))
            if lev > bracket.max_leverage:
                raise Rejection(Reject.INVALID_LEVERAGE, f"leverage {lev} exceeds {bracket.max_leverage}, the maximum "
                                f"for a position of notional {self._notional(pos)}")
            if pos.size and lev < pos.leverage:
                need = initial_margin(self._notional(pos), lev) - initial_margin(self._notional(pos), pos.leverage)
                have = (pos.isolated_wallet + self._upnl(pos) - self._im(pos)) if pos.isolated else self.available(acct)
                if need > have:
                    raise Rejection(Reject.INSUFFICIENT_MARGIN, f"leverage {lev} needs {need} more margin; {have} available")
            # open orders reserved their margin at the old leverage: a lower one re-reserves them, scaled up
            lower = lev < pos.leverage
            orders = [o for o in acct.orders.values() if lower and o.symbol == cmd.symbol and o.reserve]
            extra = sum(ceil_div(o.reserve * pos.leverage, lev) - o.reserve for o in orders)
            if pos.isolated:
                avail = self.free_balance(acct)
            else:
                avail = self.available(acct) - (need if lower and pos.size else 0)
            if extra > avail:
                raise Rejection(Reject.INSUFFICIENT_MARGIN, f"leverage {lev} needs {extra} more margin for the open "
                                f"orders; {avail} available")
        except Rejection as r:
            return self._reject(events, cmd, r.code, r.message)
        for o in orders:
            reserve = ceil_div(o.reserve * pos.leverage, lev)
            acct.order_margin += reserve - o.reserve
            o.reserve = reserve
        pos.leverage = lev
        self.dirty[acct.id] = None
        events.append(LeverageSet(acct.id, cmd.symbol, lev))

    def _set_margin_mode(self, cmd: SetMarginMode, events: list) -> None:
        try:
            acct, pos, _ = self._position_for(cmd)
            if cmd.mode not in MARGIN_MODES:
                raise Rejection(Reject.INVALID_MARGIN_MODE, f"margin mode {cmd.mode!r} is not one of {MARGIN_MODES}")
            if pos.size or pos.open_orders:
                raise Rejection(Reject.MARGIN_MODE_LOCKED, f"margin mode of {cmd.symbol} cannot change with "
                                f"position {pos.size} and {pos.open_orders} open orders")
        except Rejection as r:
            return self._reject(events, cmd, r.code, r.message)
        pos.mode = cmd.mode
        events.append(MarginModeSet(acct.id, cmd.symbol, cmd.mode))

    def _adjust_isolated(self, cmd: AdjustIsolatedMargin, events: list) -> None:
        try:
            acct, pos, inst = self._position_for(cmd)
            amount = cmd.amount_cash
            if type(amount) is not int or amount == 0 or abs(amount) > MAX_CASH:
                raise Rejection(Reject.INVALID_AMOUNT, f"amount {amount!r} must be a non-zero int within {MAX_CASH}")
            if not pos.isolated:
                raise Rejection(Reject.NOT_ISOLATED, f"{cmd.symbol} is not in isolated margin mode")
            if not pos.size:
                raise Rejection(Reject.NO_POSITION, f"no isolated position in {cmd.symbol}")
            if amount > 0 and amount > self.free_balance(acct):
                raise Rejection(Reject.INSUFFICIENT_BALANCE, f"adding {amount} exceeds the free balance {self.free_balance(acct)}")
            removable = pos.isolated_wallet + min(0, self._upnl(pos)) - self._im(pos)
            if amount < 0 and -amount > removable:
                raise Rejection(Reject.INSUFFICIENT_MARGIN, f"removing {-amount} would leave the position below its "
                                f"initial margin: at most {max(0, removable)} can be removed")
            for order in acct.orders.values() if amount < 0 else ():  # no resting close beyond bankruptcy
                if order.symbol == cmd.symbol and order.order_type == LIMIT:
                    self._closing_limit(acct, pos, inst, order.side, order.price, False, pos.isolated_wallet + amount)
        except Rejection as r:
            return self._reject(events, cmd, r.code, r.message)
        acct.cross_wallet -= amount
        pos.isolated_wallet += amount
        self.dirty[acct.id] = None
        events.append(IsolatedMarginChanged(acct.id, cmd.symbol, amount, pos.isolated_wallet, "USER"))

    def _set_auto_add(self, cmd: SetAutoAddMargin, events: list) -> None:
        try:
            acct, pos, _ = self._position_for(cmd)
            if type(cmd.enabled) is not bool:
                raise Rejection(Reject.INVALID_PARAMETER, f"enabled must be a bool, not {cmd.enabled!r}")
        except Rejection as r:
            return self._reject(events, cmd, r.code, r.message)
        pos.auto_add = cmd.enabled
        self.dirty[acct.id] = None
        events.append(AutoAddMarginSet(acct.id, cmd.symbol, cmd.enabled))

    def _heartbeat(self, cmd: Heartbeat, events: list) -> None:
        """Time already advanced in apply(); a heartbeat only makes it happen on an idle market."""

    def _set_halted(self, cmd: SetTradingHalted, events: list) -> None:
        self.halted = bool(cmd.halted)
        events.append(TradingHalted(self.halted))

    def _set_instrument_param(self, cmd: SetInstrumentParam, events: list) -> None:
        inst = self.instruments.get(cmd.symbol)
        if inst is None:
            return self._reject(events, cmd, Reject.UNKNOWN_SYMBOL, f"unknown symbol {cmd.symbol!r}")
        problem = param_problem(cmd.name, cmd.value) if type(cmd.name) is str else f"name {cmd.name!r} is not a str"
        if problem:
            return self._reject(events, cmd, Reject.INVALID_PARAMETER, problem)
        self.instruments[cmd.symbol] = inst.with_changes(**{cmd.name: cmd.value})
        events.append(InstrumentChanged(cmd.symbol, cmd.name, cmd.value))

    # -- integrity -----------------------------------------------------------------------------
    def state_hash(self) -> str:
        """sha256 over a canonical encoding of the whole state."""
        return hashlib.sha256(repr(self.snapshot()).encode()).hexdigest()

    def check_invariants(self) -> None:
        """Raise AssertionError if any invariant of the exchange is broken: books sound, cash conserved,
        reservations backed (`backed`), positions netting to zero with their holders, the trigger book and
        the breach index (brought up to date first) consistent with the orders and positions."""
        for book in self.books.values():
            book.check_invariants()
        wallets = cost = 0
        for acct in self.accounts.values():
            wallets += acct.wallet_total()
            assert acct.order_margin == sum(o.reserve for o in acct.orders.values()), f"account {acct.id} order margin"
            for pos in acct.positions.values():
                cost += pos.cost
                assert pos.size or pos.cost == 0, f"flat position of {acct.id} in {pos.symbol} keeps cost {pos.cost}"
                if pos.isolated:
                    assert pos.isolated_wallet >= 0, f"negative isolated wallet {acct.id} {pos.symbol}"
                    assert pos.size or pos.isolated_wallet == 0, f"flat isolated position of {acct.id} keeps margin"
                else:
                    assert pos.isolated_wallet == 0
                n = sum(1 for o in acct.orders.values() if o.symbol == pos.symbol)
                assert pos.open_orders == n, f"account {acct.id} {pos.symbol}: {pos.open_orders} != {n} open orders"
            assert self.backed(acct), f"account {acct.id} reserves {acct.order_margin} on a cross wallet of {acct.cross_wallet}"
            for oid, order in acct.orders.items():
                assert order.account == acct.id and order.oid == oid
                if order.order_type not in TRIGGER_TYPES:
                    assert self.books[order.symbol].orders.get(oid) is order, f"open order {oid} is not in its book"
        for pos in self.fund.positions.values():
            cost += pos.cost
            assert pos.size or pos.cost == 0, f"flat fund position in {pos.symbol} keeps cost {pos.cost}"
        resting = sum(len(b.orders) for b in self.books.values())
        assert resting == sum(1 for a in self.accounts.values() for o in a.orders.values()
                              if o.order_type not in TRIGGER_TYPES), "the books hold orders no account has"
        self.check_trigger_book()
        for symbol, holders in self.holders.items():
            total = sum(a.positions[symbol].size for a in self.accounts.values()) + self.fund.positions[symbol].size
            assert total == 0, f"positions in {symbol} net to {total}, not 0"
            nonzero = {a.id: a.positions[symbol] for a in self.accounts.values() if a.positions[symbol].size}
            assert holders.keys() == nonzero.keys(), f"holders of {symbol} differ from the non-zero positions"
            assert all(holders[a] is p for a, p in nonzero.items()), f"holders of {symbol} hold stale positions"
        self.check_breach_index()
        money_in = self.deposits - self.withdrawals + self.insurance_seed
        held = wallets + self.insurance_fund + self.fees_collected - cost
        assert money_in == held, f"cash not conserved: in {money_in} != held {held} (diff {held - money_in})"
        assert self.insurance_fund >= 0, f"insurance fund negative: {self.insurance_fund}"

