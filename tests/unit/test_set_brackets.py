"""SetBrackets: an instrument's maintenance rates changed live (the classroom's teacher console uses it).
Every holder is re-indexed, so the next mark tick liquidates whoever the new rates breach, and no one else.

Long 10 TST @ 1,000 isolated 10x (a box of 1,000; notional 10,000 in the 2021 table's first bracket, MMR
0.4%): LP = 9,000 / (10 x 0.996) = 903.61. With the rate at 5% instead: LP = 9,000 / 9.5 = 947.37, so a
mark of 940 liquidates it after the change and not before.
"""

from __future__ import annotations

import pytest
from margin_fixtures import BUY, Driver, of, rejected, whole_unit_instrument

from exchange.core.commands import Envelope, SetBrackets
from exchange.core.instruments import brackets_from_rows
from exchange.persistence.journal import JournalWriter, read_journal

USDT = 10**6
HIGH = [[0, 50_000 * USDT, 20, 50_000], [50_000 * USDT, 10**15, 10, 100_000]]


def long_10() -> Driver:
    d = Driver([whole_unit_instrument("TST")])
    d.account(1, 10_000, TST=("ISOLATED", 10))
    d.account(2, 10_000)  # cross long 1 @ 1,000 with 10,000 behind it: safe under any rate here
    d.account(9, 10_000_000)
    d.index("TST", 1_000)
    d.trade(1, 9, "TST", 10, 1_000)
    d.trade(2, 9, "TST", 1, 1_000)
    d.limit(9, "TST", BUY, 20, 800)
    return d


def test_higher_maintenance_rates_liquidate_at_the_next_mark_tick():
    d = long_10()
    assert d.ex.breach_entries()[(1, "TST", 1)] == (True, 903)
    assert not of(d.index("TST", 940), "LiquidationTriggered")
    (changed,) = of(d.do(SetBrackets("TST", HIGH)), "BracketsChanged")
    assert changed.rows == [[0, 50_000 * USDT, 20, 50_000, 0], [50_000 * USDT, 10**15, 10, 100_000, 2_500 * USDT]]
    assert d.ex.breach_entries()[(1, "TST", 1)] == (True, 947)  # re-indexed before the tick
    (triggered,) = of(d.index("TST", 940), "LiquidationTriggered")
    assert triggered.account == 1
    assert d.ex.accounts[1].positions["TST"].size == 0 and d.ex.accounts[2].positions["TST"].size == 1


def test_lower_rates_spare_whom_the_old_ones_would_liquidate():
    d = long_10()
    d.do(SetBrackets("TST", [[0, 10**15, 100, 0]]))
    assert d.ex.breach_entries()[(1, "TST", 1)] == (True, 900)  # MM 0: at the bankruptcy price
    assert not of(d.index("TST", 901), "LiquidationTriggered")


@pytest.mark.parametrize("rows, why", [
    ([], "1 to 32 rows"), ([[1, 10, 1, 0]], "must be 0"), ([[0, 10, 1, 0], [11, 20, 1, 0]], "must be 10"),
    ([[0, 0, 1, 0]], "cap must exceed"), ([[0, 10, 0, 0]], "max_leverage"), ([[0, 10, 1, 1_000_001]], "mmr_ppm"),
    ([[0, 10, 1, True]], "of ints"), ([[0, 10, 1]], "of ints"), ("rows", "1 to 32"), ([[0, 10, 1, 0]] * 33, "1 to 32"),
])
def test_bad_brackets_are_refused_and_change_nothing(rows, why):
    d = long_10()
    before = d.ex.instruments["TST"]
    (rej,) = rejected(d.do(SetBrackets("TST", rows)))
    assert rej.code == "INVALID_PARAMETER" and why in rej.message
    assert d.ex.instruments["TST"] is before
    assert rejected(d.do(SetBrackets("NOPE", HIGH)))[0].code == "UNKNOWN_SYMBOL"


def test_the_command_survives_the_journal_and_replays_the_same(tmp_path):
    env = Envelope(7, 1, "admin", SetBrackets("TST", HIGH))
    writer = JournalWriter(tmp_path / "journal.msgpack")
    writer.append(env)
    writer.close()
    (back,) = read_journal(tmp_path / "journal.msgpack")
    assert back == env and brackets_from_rows(back.command.rows) == brackets_from_rows(HIGH)
    a, b = long_10(), long_10()
    a.do(env.command)
    b.do(back.command)
    assert a.ex.state_hash() == b.ex.state_hash()
