"""Commands with wrong field types or absurd values are rejected as events; nothing raises, nothing moves."""

import random

from exchange.config import load_config
from exchange.core import Exchange
from exchange.core.commands import (
    COMMAND_TYPES, CreateAccount, Deposit, Envelope, IndexPrice,
)
from exchange.core.events import CommandRejected, OrderRejected

JUNK = [None, [1], {"a": 1}, "x", 1.5, -1, 10**30, True, (1,), b"x", float("nan"), 0, 2**63]
PLAUSIBLE = [1, "BTCUSDT", 600_000, 10, "ETHUSDT", "LIMIT", "GTC", "CROSS", "ISOLATED", False, "MARKET", "STOP"]


def state_without_clock(ex: Exchange) -> dict:
    snap = ex.snapshot()
    del snap["seq"], snap["ts_ns"]
    return snap


def test_wrong_field_types_are_rejected_with_the_field_named():
    """Key fields (account, symbol, order id) of every command are type-checked before its handler runs."""
    ex = Exchange(load_config().instruments)
    events = ex.apply(Envelope(1, 1, "t", Deposit([1], 7)))
    assert events == [CommandRejected(-1, "Deposit", "INVALID_PARAMETER", "Deposit.account must be int, not list")]
    events = ex.apply(Envelope(2, 1, "t", IndexPrice({"BTC": 1}, 600_000)))
    assert events[0].message == "IndexPrice.symbol must be str, not dict"


def test_seeded_junk_never_raises_and_rejections_change_nothing():
    rng = random.Random(5)
    ex = Exchange(load_config().instruments, 10**12)
    seq = 0

    def apply(cmd: object) -> list:
        nonlocal seq
        seq += 1
        return ex.apply(Envelope(seq, 1_000_000_000, "fuzz", cmd))

    for cmd in (CreateAccount(1), Deposit(1, 10**12), IndexPrice("BTCUSDT", 600_000), IndexPrice("ETHUSDT", 300_000)):
        apply(cmd)
    rejected = 0
    for cls in COMMAND_TYPES:
        for _ in range(150):
            cmd = cls(*(rng.choice(JUNK + PLAUSIBLE + PLAUSIBLE) for _ in cls._fields))
            before = state_without_clock(ex)
            events = apply(cmd)
            if events and all(type(e) in (CommandRejected, OrderRejected) for e in events):
                rejected += 1
                assert state_without_clock(ex) == before, cmd
            ex.check_invariants()
    assert rejected > 1_000
