"""The sequencer with a real journal file: a record that cannot be encoded is not applied and its
request gets an error; keys are served in fair order, a lone request before a thousand queued ones."""

from __future__ import annotations

from exchange.config import load_config
from exchange.core.commands import CreateAccount, Deposit
from exchange.core.engine import Exchange
from exchange.persistence import JournalWriter, read_journal
from exchange.runtime.clock import WallClock
from exchange.runtime.hub import Hub
from exchange.runtime.logcfg import get_logger
from exchange.runtime.sequencer import Sequencer


def sequencer(tmp_path) -> Sequencer:
    cfg = load_config()
    ex = Exchange(cfg.instruments, cfg.initial_insurance_fund_cash)
    return Sequencer(ex, JournalWriter(tmp_path / "journal.msgpack"), WallClock(1.0, 0), Hub(ex), get_logger("test"),
                     log_commands=False)


def test_a_command_whose_record_cannot_be_encoded_is_not_applied(tmp_path):
    seq = sequencer(tmp_path)
    answers: list = []
    seq.submit([CreateAccount(1), Deposit(1, 5_000_000)], "admin", answers.append)
    seq.submit(Deposit(1, 2**70), "admin", answers.append)  # msgpack holds no such integer
    seq.submit(Deposit(1, 7), "admin", answers.append)
    seq.drain()
    assert [type(e).__name__ for e in answers[1]] == ["CommandRejected"]
    assert (answers[1][0].account, answers[1][0].code) == (1, "INTERNAL")
    assert seq.ex.accounts[1].cross_wallet == 5_000_007 and seq.ex.seq == 3
    seq.journal.close()
    assert [env.command for env in read_journal(tmp_path / "journal.msgpack")] == [
        CreateAccount(1), Deposit(1, 5_000_000), Deposit(1, 7)]


def test_a_lone_request_is_served_before_a_backlog_of_another_key(tmp_path):
    seq = sequencer(tmp_path)
    seq.submit(CreateAccount(1), "admin")
    seq.drain()
    served: list[str] = []
    for _ in range(1000):
        seq.call(lambda: served.append("flood"), key="flooder")
    seq.turn_items = 50
    seq.turn()  # the flooder is being served...
    seq.call(lambda: served.append("honest"), key="honest")  # ... when a lone request arrives
    seq.turn()
    assert served.index("honest") <= 50 + 16, served.index("honest")
    seq.drain()
    assert served.count("flood") == 1000
