"""Cash movements: every one changes a wallet and says so in an event, and the totals that prove cash
is conserved (docs/margin-and-liquidation.md, "Every movement of cash is an event").

Wallets: each account's cross wallet, the isolated wallet ("box") of each isolated position, the
insurance fund (the cross wallet of the fund's account) and the fees collected. Money enters by deposit
and the fund's seed, leaves by withdrawal; in between it only moves, so deposits - withdrawals + seed
always equals the wallets + fund + fees - the open positions' cost basis.
"""

from __future__ import annotations

from .accounts import Account, Position
from .events import BalanceChanged, Event, InsuranceFundChanged, IsolatedMarginChanged
from .state import State


class Ledger:
    """The cash totals and the movements that are not a fill's own PnL and fee (settlement does those)."""

    __slots__ = ("state", "fund", "deposits", "withdrawals", "fees_collected", "insurance_seed")

    def __init__(self, state: State, insurance_fund_cash: int) -> None:
        self.state = state
        self.fund = state.fund
        self.fund.cross_wallet = insurance_fund_cash
        self.insurance_seed = insurance_fund_cash
        self.deposits = 0
        self.withdrawals = 0
        self.fees_collected = 0

    @property
    def insurance_fund(self) -> int:
        return self.fund.cross_wallet

    def deposit(self, acct: Account, amount: int, events: list[Event]) -> None:
        acct.cross_wallet += amount
        acct.deposited += amount
        self.deposits += amount
        self.state.changed[acct.id] = None
        events.append(BalanceChanged(acct.id, amount, acct.cross_wallet, "DEPOSIT"))

    def withdraw(self, acct: Account, amount: int, events: list[Event]) -> None:
        acct.cross_wallet -= amount
        acct.withdrawn += amount
        self.withdrawals += amount
        self.state.changed[acct.id] = None
        events.append(BalanceChanged(acct.id, -amount, acct.cross_wallet, "WITHDRAW"))

    def to_box(self, acct: Account, pos: Position, amount: int, reason: str, events: list[Event]) -> None:
        """Move cash from the cross wallet into an isolated position's box (negative: back out)."""
        acct.cross_wallet -= amount
        pos.isolated_wallet += amount
        events.append(IsolatedMarginChanged(acct.id, pos.symbol, amount, pos.isolated_wallet, reason))

    def to_fund(self, symbol: str, delta: int, reason: str, account: int, events: list[Event]) -> None:
        """The insurance fund gains `delta` (loses, when negative) for the stated reason."""
        fund = self.fund
        fund.cross_wallet += delta
        events.append(InsuranceFundChanged(symbol, delta, fund.cross_wallet, reason, account))

    def cover_bad_debt(self, acct: Account, symbol: str, amount: int, events: list[Event]) -> None:
        """A wallet went below zero by `amount`: the insurance fund pays it (the caller zeroes the wallet)."""
        self.to_fund(symbol, -amount, "BAD_DEBT", acct.id, events)

    def credit(self, acct: Account, pos: Position, delta: int) -> None:
        """Add cash to the wallet the position lives in (a funding payment; its event is the caller's)."""
        if pos.isolated and pos.size:
            pos.isolated_wallet += delta
        else:
            acct.cross_wallet += delta
            if delta < 0 and acct.order_margin:
                self.state.recheck[acct.id] = None
        self.state.changed[acct.id] = None

    def settle_empty_wallets(self, acct: Account, events: list[Event]) -> None:
        """A wallet never stays negative: with no position left behind it, the fund pays it back to 0;
        the margin left in a flat isolated box returns to the cross wallet."""
        if acct.cross_wallet < 0 and not any(p.size and not p.isolated for p in acct.positions.values()):
            self.cover_bad_debt(acct, "", -acct.cross_wallet, events)
            acct.cross_wallet = 0
        for pos in acct.positions.values():
            if pos.isolated and not pos.size and pos.isolated_wallet:
                if pos.isolated_wallet < 0:
                    self.cover_bad_debt(acct, pos.symbol, -pos.isolated_wallet, events)
                    pos.isolated_wallet = 0
                else:
                    self.to_box(acct, pos, -pos.isolated_wallet, "RELEASE", events)

    def check_invariants(self) -> None:
        """Cash is conserved exactly and the fund is never negative."""
        state = self.state
        wallets = sum(a.wallet_total() for a in state.accounts.values())
        cost = sum(p.cost for a in state.accounts.values() for p in a.positions.values())
        cost += sum(p.cost for p in self.fund.positions.values())
        money_in = self.deposits - self.withdrawals + self.insurance_seed
        held = wallets + self.insurance_fund + self.fees_collected - cost
        assert money_in == held, f"cash not conserved: in {money_in} != held {held} (diff {held - money_in})"
        assert self.insurance_fund >= 0, f"insurance fund negative: {self.insurance_fund}"
