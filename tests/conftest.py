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
