"""The sequencer's fan-out (exchange/runtime/hub.py) on events the core emits for the insurance fund."""

from __future__ import annotations

from margin_fixtures import BUY, Driver, of, whole_unit_instrument

from exchange.core.commands import IndexPrice, PlaceOrder
from exchange.persistence import JournalWriter
from exchange.runtime.clock import WallClock
from exchange.runtime.hub import Hub
from exchange.runtime.logcfg import get_logger
from exchange.runtime.sequencer import Sequencer


def test_the_writer_survives_the_fund_unwinding_a_taken_over_position(tmp_path):
    """The fund takes over a long the empty book could not absorb, then sells it into new bids: its
    PositionChanged events carry account -1, which has no Account entry. The fan-out publishes them
    (it used to raise KeyError in the reduce-only scan, which ended the sequencer task)."""
    d = Driver([whole_unit_instrument("TST", fund_unwind_share="1")])
    d.account(1, 1_000, TST=("ISOLATED", 10))
    d.account(9, 10_000_000)
    d.index("TST", 1_000)
    d.trade(1, 9, "TST", 10, 1_000)
    assert of(d.index("TST", 903), "TakenOverByFund")
    ex = d.ex
    seq = Sequencer(ex, JournalWriter(tmp_path / "journal.msgpack"), WallClock(start_ns=d.ts), Hub(ex), get_logger("test"),
                    log_commands=False)
    out: list = []
    seq.submit([PlaceOrder(9, "TST", BUY, 10, 905), IndexPrice("TST", 910)], "test", out.extend)
    seq.drain()
    assert sorted(e.account for e in of(out, "PositionChanged")) == [-1, 9]
    assert ex.fund.positions["TST"].size == 0
