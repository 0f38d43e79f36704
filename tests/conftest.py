"""Shared fixtures: an Exchange built from configs/default.toml and a driver that applies commands to it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from exchange.config import load_config
from exchange.core import Exchange
from exchange.core.commands import CreateAccount, Deposit, Envelope, IndexPrice
from exchange.core.money import CASH_SCALE

BTC = "BTCUSDT"
ETH = "ETHUSDT"
NS = 1_000_000_000


class Driver:
    """Applies commands to an Exchange with increasing seq and ts (1 s apart unless a ts is given).

    Every envelope it applied is kept in `journal`, so a test can replay the same run elsewhere.
    """

    def __init__(self, ex: Exchange, step_ns: int = NS) -> None:
        self.ex = ex
        self.seq = ex.seq
        self.ts_ns = ex.ts_ns
        self.step_ns = step_ns
        self.journal: list[Envelope] = []

    def __call__(self, command: Any, ts_ns: int | None = None) -> list:
        """Apply one command; returns its events."""
        self.seq += 1
        self.ts_ns = self.ts_ns + self.step_ns if ts_ns is None else ts_ns
        env = Envelope(self.seq, self.ts_ns, "test", command)
        self.journal.append(env)
        return self.ex.apply(env)

    def run(self, commands: Iterable[Any]) -> list:
        """Apply commands in order; returns all their events."""
        events: list = []
        for command in commands:
            events += self(command)
        return events

    def fund(self, *accounts: int, usdt: int = 1_000_000) -> None:
        """Create the accounts and deposit `usdt` whole USDT into each."""
        for account in accounts:
            self(CreateAccount(account))
            self(Deposit(account, usdt * CASH_SCALE))

    def index(self, symbol: str, price: str) -> list:
        """Set the index (and so the mark) of a symbol to a decimal price."""
        return self(IndexPrice(symbol, self.ex.instruments[symbol].price_to_ticks(price)))


class Ledger:
    """Every wallet rebuilt from the events alone, to compare with the exchange: each account's cross
    wallet and isolated boxes, the insurance fund and the fees collected.

    The rules (docs/margin-and-liquidation.md, "Every movement of cash is an event"): BalanceChanged
    moves the cross wallet; IsolatedMarginChanged moves cash from the cross wallet into a box (or back,
    negative); PositionChanged's realized PnL, a Trade's fees and FundingPaid land in the wallet the
    position lives in (its box when isolated); InsuranceFundChanged moves the fund, and for BAD_DEBT
    (paid to the box of its symbol, or to the cross wallet when the symbol is "") and
    PARTIAL_LIQUIDATION_FEE (paid from the position's wallet) the account's wallet too. Every other fund
    reason is the difference between a liquidation's fill and its bankruptcy price, or rounding.
    """

    def __init__(self, ex: Exchange) -> None:
        assert not ex.accounts, "a ledger starts with the exchange"
        self.ex = ex
        self.cross: dict[int, int] = {}
        self.boxes: dict[tuple[int, str], int] = {}
        self.isolated: set[tuple[int, str]] = set()
        self.fund = ex.insurance_fund
        self.fees = 0

    def _wallet(self, account: int, symbol: str, delta: int) -> None:
        if (account, symbol) in self.isolated:
            self.boxes[account, symbol] = self.boxes.get((account, symbol), 0) + delta
        else:
            self.cross[account] = self.cross.get(account, 0) + delta

    def apply(self, events: Iterable[Any]) -> None:
        for e in events:
            name = type(e).__name__
            if name == "BalanceChanged":
                self.cross[e.account] = self.cross.get(e.account, 0) + e.delta_cash
            elif name == "MarginModeSet":
                (self.isolated.add if e.mode == "ISOLATED" else self.isolated.discard)((e.account, e.symbol))
            elif name == "IsolatedMarginChanged":
                self.cross[e.account] = self.cross.get(e.account, 0) - e.delta_cash
                self.boxes[e.account, e.symbol] = self.boxes.get((e.account, e.symbol), 0) + e.delta_cash
            elif name == "PositionChanged" and e.account >= 0:
                self._wallet(e.account, e.symbol, e.realized_pnl_cash)
            elif name == "Trade":
                self.fees += e.taker_fee_cash + e.maker_fee_cash
                self._wallet(e.taker_account, e.symbol, -e.taker_fee_cash)
                self._wallet(e.maker_account, e.symbol, -e.maker_fee_cash)
            elif name == "FundingPaid":
                self._wallet(e.account, e.symbol, e.amount_cash)
            elif name == "InsuranceFundChanged":
                self.fund += e.delta_cash
                if e.reason == "BAD_DEBT":
                    if e.symbol:
                        self.boxes[e.account, e.symbol] = self.boxes.get((e.account, e.symbol), 0) - e.delta_cash
                    else:
                        self.cross[e.account] = self.cross.get(e.account, 0) - e.delta_cash
                elif e.reason == "PARTIAL_LIQUIDATION_FEE":
                    self._wallet(e.account, e.symbol, -e.delta_cash)

    def check(self) -> None:
        """The rebuilt wallets equal the exchange's, to the cash unit."""
        ex = self.ex
        assert (self.fund, self.fees) == (ex.insurance_fund, ex.fees_collected), "fund or fees differ"
        for acct in ex.accounts.values():
            assert self.cross.get(acct.id, 0) == acct.cross_wallet, f"cross wallet of {acct.id}"
            for symbol, pos in acct.positions.items():
                box = self.boxes.get((acct.id, symbol), 0)
                assert box == pos.isolated_wallet, f"box of {acct.id} {symbol}: events {box}, state {pos.isolated_wallet}"


def of_type(events: Iterable[Any], cls: type) -> list:
    """The events of one type, in order."""
    return [e for e in events if type(e) is cls]


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture
def ex(config) -> Exchange:
    """A fresh exchange with the default instruments and insurance fund."""
    return Exchange(config.instruments, config.initial_insurance_fund_cash)


@pytest.fixture
def drive(ex) -> Driver:
    return Driver(ex)


@pytest.fixture
def market(drive) -> Driver:
    """Accounts 1-4 with 1,000,000 USDT each; BTCUSDT index (and mark) at 60,000 and ETHUSDT at 3,000."""
    drive.fund(1, 2, 3, 4)
    drive.index(BTC, "60000")
    drive.index(ETH, "3000")
    return drive
