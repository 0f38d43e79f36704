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


def fund_holding_a_position() -> tuple[Exchange, list]:
    """BTCUSDT: account 1 long 1 BTC at 20x is liquidated at its bankruptcy price with no bid in the book:
    the insurance fund takes the position over. Returns the exchange and the journal so far."""
    from exchange.core.commands import BUY, SELL, PlaceOrder, SetLeverage

    ex = Exchange(load_config().instruments, 10**12)
    journal = []

    def apply(cmd):
        journal.append(Envelope(len(journal) + 1, (len(journal) + 1) * 10**9, "t", cmd))
        return ex.apply(journal[-1])

    for aid, cash in ((1, 3_100 * 10**6), (2, 10**13)):
        apply(CreateAccount(aid))
        apply(Deposit(aid, cash))
    apply(SetLeverage(1, "BTCUSDT", 20))
    apply(IndexPrice("BTCUSDT", 600_000))
    apply(PlaceOrder(2, "BTCUSDT", SELL, 1_000, 600_000))
    apply(PlaceOrder(1, "BTCUSDT", BUY, 1_000, 600_000, tif="IOC"))
    events = apply(IndexPrice("BTCUSDT", 570_000))
    assert [type(e).__name__ for e in events if type(e).__name__ == "TakenOverByFund"] == ["TakenOverByFund"]
    return ex, journal


def test_a_market_band_of_100_percent_is_refused_so_the_fund_unwind_cannot_crash():
    """It used to be accepted; with the fund holding a position, the next tick swept the book down to a
    limit of -570,000 ticks and raised KeyError out of Exchange.apply: the server died."""
    from exchange.core.commands import SetInstrumentParam

    ex, journal = fund_holding_a_position()
    seq = len(journal)
    events = ex.apply(Envelope(seq + 1, (seq + 1) * 10**9, "admin", SetInstrumentParam("BTCUSDT", "market_band_ppm", 2_000_000)))
    assert [(e.code, e.message) for e in events] == [
        ("INVALID_PARAMETER", "market_band_ppm must be an int in [0, 999999], not 2000000")]
    events = ex.apply(Envelope(seq + 2, (seq + 2) * 10**9, "admin", SetInstrumentParam("BTCUSDT", "market_band_ppm", 999_999)))
    assert [type(e).__name__ for e in events] == ["InstrumentChanged"]
    events = ex.apply(Envelope(seq + 3, (seq + 3) * 10**9, "feed", IndexPrice("BTCUSDT", 570_000)))
    assert [type(e).__name__ for e in events] == ["MarkPriceUpdated"]  # no bid to unwind into, no error
    ex.check_invariants()


def test_a_handler_that_raises_answers_internal_error_and_the_exchange_carries_on():
    """A bug inside a handler is a last resort, turned into CommandRejected INTERNAL_ERROR for that
    command: the exchange goes on, and replaying the same journal gives the same events and state hash.
    Provoked with an instrument whose funding interval is 0 (the config loader refuses one; an Exchange
    built by hand does not): its first index price divides by zero."""
    from exchange.core.commands import PlaceOrder

    good = load_config().instruments
    broken = [good[0], good[1].with_changes(funding_interval_ns=0)]
    commands = [CreateAccount(1), Deposit(1, 10**10), IndexPrice("ETHUSDT", 300_000), IndexPrice("BTCUSDT", 600_000),
                PlaceOrder(1, "BTCUSDT", 1, 10, 599_000)]
    journal = [Envelope(i, i * 10**9, "t", cmd) for i, cmd in enumerate(commands, 1)]
    runs = []
    for _ in range(2):
        ex = Exchange(broken)
        runs.append(([ex.apply(env) for env in journal], ex.state_hash()))
    (events, digest), again = runs
    assert events[2] == [CommandRejected(-1, "IndexPrice", "INTERNAL_ERROR", "internal error in IndexPrice: ZeroDivisionError")]
    assert [type(e).__name__ for e in events[3] + events[4]] == ["MarkPriceUpdated", "OrderAccepted"]
    assert again == (events, digest)
    ex.check_invariants()
