"""Account and admin commands: create, deposit, withdraw, leverage, margin mode, isolated margin,
auto-add, trading halt, instrument parameters. Each validates everything before it changes anything."""

from __future__ import annotations

from typing import Final

from .accounts import Account, Position
from .commands import (
    LIMIT, MARGIN_MODES, AdjustIsolatedMargin, CreateAccount, Deposit, DepositAsset, SetAutoAddMargin, SetBrackets,
    SetInstrumentParam, SetLeverage, SetMarginMode, SetTradingHalted, Withdraw, WithdrawAsset, as_sent,
)
from .collateral import Collateral
from .entry import OrderEntry
from .errors import Reject, Rejection
from .events import (
    AccountCreated, AutoAddMarginSet, BracketsChanged, CommandRejected, Event, InstrumentChanged, LeverageSet, MarginModeSet,
    TradingHalted,
)
from .instruments import Instrument, brackets_from_rows, param_problem
from .ledger import Ledger
from .margin import initial_margin
from .money import ceil_div
from .risk import Risk
from .state import State

MAX_CASH: Final = 10**18  # bound on any single cash amount in a command

AccountCommand = (CreateAccount | Deposit | Withdraw | SetLeverage | SetMarginMode | AdjustIsolatedMargin | SetAutoAddMargin
                  | DepositAsset | WithdrawAsset)


def reject(events: list[Event], cmd: AccountCommand | SetInstrumentParam | SetBrackets, code: Reject, message: str) -> None:
    events.append(CommandRejected(getattr(cmd, "account", -1), type(cmd).__name__, code.value, message))


class Admin:
    """The commands that change accounts and rules, not orders."""

    __slots__ = ("state", "ledger", "risk", "entry", "collateral")

    def __init__(self, state: State, ledger: Ledger, risk: Risk, entry: OrderEntry, collateral: Collateral) -> None:
        self.state = state
        self.ledger = ledger
        self.risk = risk
        self.entry = entry
        self.collateral = collateral

    def _account_for(self, cmd: AccountCommand) -> Account:
        acct = self.state.accounts.get(cmd.account)
        if acct is None:
            raise Rejection(Reject.UNKNOWN_ACCOUNT, f"unknown account {cmd.account!r}")
        return acct

    def _position_for(self, cmd: SetLeverage | SetMarginMode | AdjustIsolatedMargin | SetAutoAddMargin
                      ) -> tuple[Account, Position, Instrument]:
        acct = self._account_for(cmd)
        inst = self.state.instruments.get(cmd.symbol)
        if inst is None:
            raise Rejection(Reject.UNKNOWN_SYMBOL, f"unknown symbol {cmd.symbol!r}")
        return acct, acct.positions[cmd.symbol], inst

    @staticmethod
    def _amount(cmd: Deposit | Withdraw) -> int:
        _, amount = as_sent(cmd)
        if type(amount) is not int or amount <= 0 or amount > MAX_CASH:
            raise Rejection(Reject.INVALID_AMOUNT, f"amount {amount!r} must be an int in [1, {MAX_CASH}] cash units")
        return amount

    def create_account(self, cmd: CreateAccount, events: list[Event]) -> None:
        """Validate the id and the deposit first: a rejected creation creates and credits nothing."""
        accounts = self.state.accounts
        if type(cmd.account) is not int or cmd.account < 0:
            return reject(events, cmd, Reject.INVALID_PARAMETER, f"account id {cmd.account!r} must be an int >= 0")
        if cmd.account in accounts:
            return reject(events, cmd, Reject.ACCOUNT_EXISTS, f"account {cmd.account} exists")
        _, deposit = as_sent(cmd)
        if type(deposit) is not int or not 0 <= deposit <= MAX_CASH:
            return reject(events, cmd, Reject.INVALID_AMOUNT,
                          f"deposit {deposit!r} must be an int in [0, {MAX_CASH}] cash units")
        acct = accounts[cmd.account] = Account(cmd.account, self.state.instruments)
        events.append(AccountCreated(cmd.account))
        if deposit:
            self.ledger.deposit(acct, deposit, events)

    def deposit(self, cmd: Deposit, events: list[Event]) -> None:
        try:
            acct, amount = self._account_for(cmd), self._amount(cmd)
        except Rejection as r:
            return reject(events, cmd, r.code, r.message)
        self.ledger.deposit(acct, amount, events)

    def withdraw(self, cmd: Withdraw, events: list[Event]) -> None:
        try:
            acct, amount = self._account_for(cmd), self._amount(cmd)
            free = min(self.risk.free_balance(acct), acct.cross_wallet - acct.order_margin)  # cash, not collateral
            if amount > free:
                raise Rejection(Reject.INSUFFICIENT_BALANCE, f"withdrawal of {amount} exceeds the free balance {free}")
        except Rejection as r:
            return reject(events, cmd, r.code, r.message)
        self.ledger.withdraw(acct, amount, events)

    def _asset_units(self, cmd: DepositAsset | WithdrawAsset) -> tuple[Account, str, int]:
        acct = self.state.accounts.get(cmd.account)
        if acct is None:
            raise Rejection(Reject.UNKNOWN_ACCOUNT, f"unknown account {cmd.account!r}")
        _, asset, units = as_sent(cmd)
        if type(asset) is not str or asset not in self.collateral.assets:
            raise Rejection(Reject.INVALID_PARAMETER, f"asset {asset!r:.40} is not a collateral asset: "
                            f"{sorted(self.collateral.assets)}")
        if type(units) is not int or not 0 < units <= MAX_CASH:
            raise Rejection(Reject.INVALID_AMOUNT, f"units {units!r} must be an int in [1, {MAX_CASH}]")
        return acct, asset, units

    def deposit_asset(self, cmd: DepositAsset, events: list[Event]) -> None:
        try:
            acct, asset, units = self._asset_units(cmd)
            held = self.collateral.holdings.get(acct.id, {}).get(asset, 0)
            if held + units > MAX_CASH:
                raise Rejection(Reject.INVALID_AMOUNT, f"a holding of {asset} may not exceed {MAX_CASH} units")
        except Rejection as r:
            return reject(events, cmd, r.code, r.message)
        self.collateral.move(acct, asset, units, "DEPOSIT", events)

    def withdraw_asset(self, cmd: WithdrawAsset, events: list[Event]) -> None:
        """Collateral may leave while the free balance covers its haircut value."""
        try:
            acct, asset, units = self._asset_units(cmd)
            held = self.collateral.holdings.get(acct.id, {}).get(asset, 0)
            if units > held:
                raise Rejection(Reject.INSUFFICIENT_BALANCE, f"withdrawing {units} units of {asset}; {held} held")
            value = self.collateral.released_value(acct.id, asset, units)
            free = self.risk.free_balance(acct)
            if value > free:
                raise Rejection(Reject.INSUFFICIENT_BALANCE, f"{units} units of {asset} count {value} cash units of "
                                f"margin; the free balance is {free}")
        except Rejection as r:
            return reject(events, cmd, r.code, r.message)
        self.collateral.move(acct, asset, -units, "WITHDRAW", events)

    def set_leverage(self, cmd: SetLeverage, events: list[Event]) -> None:
        """A new leverage must fit the position's tier and, when lower, leave margin for the position and
        for the open orders' reservations, which are re-reserved at it (scaled up)."""
        risk = self.risk
        try:
            acct, pos, inst = self._position_for(cmd)
            lev = as_sent(cmd)[2]
            if type(lev) is not int or lev < 1 or lev > inst.max_leverage:
                raise Rejection(Reject.INVALID_LEVERAGE, f"leverage {lev!r} is outside [1, {inst.max_leverage}]")
            notional_cash = risk.notional(pos)
            tier = risk.tier(pos, notional_cash)
            if lev > tier.max_leverage:
                raise Rejection(Reject.INVALID_LEVERAGE, f"leverage {lev} exceeds {tier.max_leverage}, the maximum "
                                f"for a position of notional {notional_cash}")
            need = 0
            if pos.size and lev < pos.leverage:
                need = initial_margin(notional_cash, lev) - initial_margin(notional_cash, pos.leverage)
                have = (pos.isolated_wallet + risk.upnl(pos) - risk.im(pos)) if pos.isolated else risk.available(acct)
                if need > have:
                    raise Rejection(Reject.INSUFFICIENT_MARGIN, f"leverage {lev} needs {need} more margin; {have} available")
            lower = lev < pos.leverage
            orders = [o for o in acct.orders.values() if lower and o.symbol == cmd.symbol and o.reserve]
            extra = sum(ceil_div(o.reserve * pos.leverage, lev) - o.reserve for o in orders)
            avail = risk.free_balance(acct) if pos.isolated else risk.available(acct) - need
            if extra > avail:
                raise Rejection(Reject.INSUFFICIENT_MARGIN, f"leverage {lev} needs {extra} more margin for the open "
                                f"orders; {avail} available")
        except Rejection as r:
            return reject(events, cmd, r.code, r.message)
        for o in orders:
            reserve = ceil_div(o.reserve * pos.leverage, lev)
            acct.order_margin += reserve - o.reserve
            o.reserve = reserve
        pos.leverage = lev
        self.state.changed[acct.id] = None
        events.append(LeverageSet(acct.id, cmd.symbol, lev))

    def set_margin_mode(self, cmd: SetMarginMode, events: list[Event]) -> None:
        try:
            acct, pos, _ = self._position_for(cmd)
            mode = as_sent(cmd)[2]
            if mode not in MARGIN_MODES:
                raise Rejection(Reject.INVALID_MARGIN_MODE, f"margin mode {mode!r} is not one of {MARGIN_MODES}")
            if pos.size or pos.open_orders:
                raise Rejection(Reject.MARGIN_MODE_LOCKED, f"margin mode of {cmd.symbol} cannot change with "
                                f"position {pos.size} and {pos.open_orders} open orders")
        except Rejection as r:
            return reject(events, cmd, r.code, r.message)
        pos.mode = cmd.mode
        events.append(MarginModeSet(acct.id, cmd.symbol, cmd.mode))

    def adjust_isolated(self, cmd: AdjustIsolatedMargin, events: list[Event]) -> None:
        """Add margin from the free balance, or remove what leaves the position at its initial margin and
        no resting close beyond its new bankruptcy price."""
        risk = self.risk
        try:
            acct, pos, inst = self._position_for(cmd)
            amount = as_sent(cmd)[2]
            if type(amount) is not int or amount == 0 or abs(amount) > MAX_CASH:
                raise Rejection(Reject.INVALID_AMOUNT, f"amount {amount!r} must be a non-zero int within {MAX_CASH}")
            if not pos.isolated:
                raise Rejection(Reject.NOT_ISOLATED, f"{cmd.symbol} is not in isolated margin mode")
            if not pos.size:
                raise Rejection(Reject.NO_POSITION, f"no isolated position in {cmd.symbol}")
            if amount > 0 and amount > risk.free_balance(acct):
                raise Rejection(Reject.INSUFFICIENT_BALANCE, f"adding {amount} exceeds the free balance {risk.free_balance(acct)}")
            removable = pos.isolated_wallet + min(0, risk.upnl(pos)) - risk.im(pos)
            if amount < 0 and -amount > removable:
                raise Rejection(Reject.INSUFFICIENT_MARGIN, f"removing {-amount} would leave the position below its "
                                f"initial margin: at most {max(0, removable)} can be removed")
            for order in acct.orders.values() if amount < 0 else ():
                if order.symbol == cmd.symbol and order.order_type == LIMIT:
                    self.entry.closing_limit(acct, pos, inst, order.side, order.price, False, pos.isolated_wallet + amount)
        except Rejection as r:
            return reject(events, cmd, r.code, r.message)
        self.ledger.to_box(acct, pos, amount, "USER", events)
        self.state.changed[acct.id] = None

    def set_auto_add(self, cmd: SetAutoAddMargin, events: list[Event]) -> None:
        try:
            acct, pos, _ = self._position_for(cmd)
            enabled = as_sent(cmd)[2]
            if type(enabled) is not bool:
                raise Rejection(Reject.INVALID_PARAMETER, f"enabled must be a bool, not {enabled!r}")
        except Rejection as r:
            return reject(events, cmd, r.code, r.message)
        pos.auto_add = cmd.enabled
        self.state.changed[acct.id] = None
        events.append(AutoAddMarginSet(acct.id, cmd.symbol, cmd.enabled))

    def set_halted(self, cmd: SetTradingHalted, events: list[Event]) -> None:
        self.state.halted = bool(cmd.halted)
        events.append(TradingHalted(self.state.halted))

    def set_instrument_param(self, cmd: SetInstrumentParam, events: list[Event]) -> None:
        instruments = self.state.instruments
        inst = instruments.get(cmd.symbol)
        if inst is None:
            return reject(events, cmd, Reject.UNKNOWN_SYMBOL, f"unknown symbol {cmd.symbol!r}")
        _, name, value = as_sent(cmd)
        problem = param_problem(name, value) if type(name) is str else f"name {name!r} is not a str"
        if problem:
            return reject(events, cmd, Reject.INVALID_PARAMETER, problem)
        instruments[cmd.symbol] = inst.with_changes(**{cmd.name: cmd.value})
        events.append(InstrumentChanged(cmd.symbol, cmd.name, cmd.value))

    def set_brackets(self, cmd: SetBrackets, events: list[Event]) -> None:
        """New maintenance rates for an instrument: every holder is re-indexed, so the next mark tick (or
        funding settlement) liquidates whoever the new rates breach."""
        inst = self.state.instruments.get(cmd.symbol)
        if inst is None:
            return reject(events, cmd, Reject.UNKNOWN_SYMBOL, f"unknown symbol {cmd.symbol!r}")
        try:
            brackets = brackets_from_rows(as_sent(cmd)[1])
        except ValueError as e:
            return reject(events, cmd, Reject.INVALID_PARAMETER, str(e))
        self.state.instruments[cmd.symbol] = inst.with_changes(brackets=brackets)
        for account in self.state.holders[cmd.symbol]:
            self.state.changed[account] = None
        events.append(BracketsChanged(cmd.symbol, [[b.floor_cash, b.cap_cash, b.max_leverage, b.mmr_ppm, b.cum_cash]
                                                   for b in brackets]))
