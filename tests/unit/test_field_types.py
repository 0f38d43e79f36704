"""Every field of every command, one at a time, replaced by a value of a wrong type: the command is
refused (never with INTERNAL_ERROR) and changes nothing. In the mypyc build (README, "A compiled core"),
where reading a field as its declared type checks that type, this is what shows that no field is read
so before its check."""

from __future__ import annotations

import pytest

from exchange.config import load_config
from exchange.core import Exchange
from exchange.core.collateral import Asset
from exchange.core.commands import (
    BUY, SELL, AdjustIsolatedMargin, AmendOrder, CancelAll, CancelOrder, CreateAccount, Deposit, DepositAsset,
    Envelope, Heartbeat, IndexPrice, PlaceOrder, SetAutoAddMargin, SetBrackets, SetInstrumentParam, SetLeverage,
    SetMarginMode, SetTradingHalted, Withdraw, WithdrawAsset,
)
from exchange.core.events import CommandRejected, OrderRejected

WRONG = [None, 1.5, "7", b"x", [1], (1,), {"a": 1}, True, 1]
PLAIN = (int, str, bool, type(None))


def plain(value: object) -> bool:
    if isinstance(value, (list, tuple)):
        return all(plain(v) for v in value)
    if isinstance(value, dict):
        return all(plain(k) and plain(v) for k, v in value.items())
    return type(value) in PLAIN


def good_commands() -> list[tuple]:
    return [
        PlaceOrder(1, "BTCUSDT", BUY, 10, 599_000), PlaceOrder(1, "BTCUSDT", SELL, 10, order_type="MARKET"),
        PlaceOrder(1, "BTCUSDT", SELL, 10, 0, "STOP_MARKET", stop_price_ticks=590_000),
        PlaceOrder(1, "BTCUSDT", BUY, 10, 601_000, "STOP", stop_price_ticks=605_000, working_type="CONTRACT_PRICE"),
        CancelOrder(1, "BTCUSDT", 1), CancelAll(1, "BTCUSDT"), AmendOrder(1, "BTCUSDT", 1, 5, 598_000),
        CreateAccount(9, 10), Deposit(1, 10), Withdraw(1, 10), SetLeverage(1, "ETHUSDT", 5),
        SetMarginMode(1, "ETHUSDT", "ISOLATED"), AdjustIsolatedMargin(3, "BTCUSDT", 10),
        SetAutoAddMargin(3, "BTCUSDT", True), IndexPrice("BTCUSDT", 600_100), SetTradingHalted(False),
        SetInstrumentParam("BTCUSDT", "maker_fee_ppm", 100), SetBrackets("BTCUSDT", [[0, 10**15, 100, 5_000]]),
        DepositAsset(1, "BTC", 10), WithdrawAsset(1, "BTC", 10), Heartbeat(),
    ]


def market() -> Exchange:
    ex = Exchange(load_config().instruments, 10**12, assets=[Asset("BTC", 8, 950_000, "BTCUSDT")])
    for cmd in (CreateAccount(1, 10**12), CreateAccount(2, 10**12), CreateAccount(3, 10**12), DepositAsset(1, "BTC", 10**8),
                IndexPrice("BTCUSDT", 600_000), IndexPrice("ETHUSDT", 300_000),
                PlaceOrder(1, "BTCUSDT", BUY, 10, 599_000), PlaceOrder(2, "BTCUSDT", SELL, 10, 601_000),
                SetMarginMode(3, "BTCUSDT", "ISOLATED"), PlaceOrder(3, "BTCUSDT", BUY, 1, 601_000)):
        ex.apply(Envelope(ex.seq + 1, ex.ts_ns + 1, "t", cmd))
    return ex


def state_without_clock(ex: Exchange) -> dict:
    snap = ex.snapshot()
    del snap["seq"], snap["ts_ns"]
    return snap


CASES = [(cmd, i) for cmd in good_commands() for i in range(len(cmd))]


@pytest.mark.parametrize(("cmd", "field"), CASES, ids=[f"{type(c).__name__}.{c._fields[i]}" for c, i in CASES])
def test_a_field_of_a_wrong_type_is_refused(cmd: tuple, field: int) -> None:
    ex = market()
    for wrong in WRONG:
        if type(wrong) is type(cmd[field]):
            continue
        bad = type(cmd)(*cmd[:field], wrong, *cmd[field + 1:])
        before = state_without_clock(ex)
        events = ex.apply(Envelope(ex.seq + 1, ex.ts_ns + 1, "t", bad))
        assert events and all(type(e) in (CommandRejected, OrderRejected) for e in events), (bad, events)
        assert all(e.code != "INTERNAL_ERROR" for e in events), (bad, events)
        assert state_without_clock(ex) == before and plain(before), bad
        ex.check_invariants()
