"""What start-up recovery does with each kind of damage to a run directory of real files: the state it
recovers equals an independent replay of the good prefix of the journal, or it refuses with a one-line
reason that names the file, the offset and the seq. The table in docs/operations.md ("Recovery")."""

from __future__ import annotations

import pytest
from conftest import Driver
from test_persistence import random_flow, setup_commands

from exchange.core import Exchange
from exchange.core.commands import Envelope, Heartbeat
from exchange.persistence import (
    JOURNAL_NAME, OVERRIDE_FLAG, JournalWriter, RecoveryRefused, load_snapshot, read_journal, recover, snapshot_paths,
)
from exchange.persistence.journal import HEADER, encode_envelope
from exchange.persistence.snapshots import encode_snapshot

SNAPSHOT_AT = (120, 240)  # flow steps after which a snapshot is written
FLOW = 360


class Log:
    """Collects what recovery logs: (level, event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict]] = []

    def info(self, event: str, **fields) -> None:
        self.lines.append(("info", event, fields))

    def warning(self, event: str, **fields) -> None:
        self.lines.append(("warning", event, fields))

    def events(self) -> list[str]:
        return [event for _, event, _ in self.lines]

    def one(self, event: str) -> dict:
        found = [fields for _, e, fields in self.lines if e == event]
        assert len(found) == 1, (event, self.lines)
        return found[0]


@pytest.fixture(scope="module")
def history(config) -> tuple[list[Envelope], dict[int, bytes]]:
    """A busy run's envelopes and the snapshot files written along it (seq -> bytes)."""
    ex = Exchange(config.instruments, config.initial_insurance_fund_cash)
    drive = Driver(ex, 20 * 10**9)
    drive.run(setup_commands())
    snapshots = {}
    for i, cmd in enumerate(random_flow(11, FLOW, ex)):
        drive(cmd)
        if i + 1 in SNAPSHOT_AT:
            snapshots[ex.seq] = encode_snapshot(ex)
    return drive.journal, snapshots


@pytest.fixture
def run_dir(tmp_path, history):
    """A run directory: the whole journal and two snapshots."""
    envs, snapshots = history
    writer = JournalWriter(tmp_path / JOURNAL_NAME)
    for env in envs:
        writer.append(env)
    writer.close()
    for seq, data in snapshots.items():
        (tmp_path / f"snapshot-{seq:012d}.msgpack").write_bytes(data)
    return tmp_path


def offsets(envs: list[Envelope]) -> list[int]:
    """Where each record starts in the journal file."""
    out, at = [], len(HEADER)
    for env in envs:
        out.append(at)
        at += len(encode_envelope(env))
    return out


def replay_hash(config, envs: list[Envelope]) -> str:
    """The state hash of an independent replay of these envelopes on a fresh exchange."""
    ex = Exchange(config.instruments, config.initial_insurance_fund_cash)
    for env in envs:
        ex.apply(env)
    return ex.state_hash()


def recovered(config, run_dir, allow_cut: bool = False) -> tuple[Exchange, Log]:
    log = Log()
    ex = recover(run_dir, config.instruments, config.initial_insurance_fund_cash, truncate_at_damage=allow_cut,
                 log=log)
    return ex, log


def flip(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def refusal(config, run_dir) -> str:
    with pytest.raises(RecoveryRefused) as info:
        recovered(config, run_dir)
    reason = str(info.value)
    assert "\n" not in reason
    return reason


def test_an_undamaged_run_dir_recovers_from_the_newest_snapshot(config, run_dir, history):
    envs, snapshots = history
    ex, log = recovered(config, run_dir)
    assert ex.state_hash() == replay_hash(config, envs)
    assert log.one("snapshot used")["seq"] == max(snapshots)
    assert log.one("recovered")["replayed"] == envs[-1].seq - max(snapshots)
    assert log.events() == ["snapshot used", "recovered"]


def test_a_torn_tail_is_cut_and_logged_and_the_journal_takes_appends_again(config, run_dir, history):
    envs, _ = history
    journal = run_dir / JOURNAL_NAME
    last = offsets(envs)[-1]
    with open(journal, "r+b") as fh:
        fh.truncate(last + 11)
    ex, log = recovered(config, run_dir)
    assert ex.state_hash() == replay_hash(config, envs[:-1])
    cut = log.one("journal tail cut")
    assert (cut["offset"], cut["reason"], cut["after_seq"], cut["bytes_cut"]) == (last, "torn record", envs[-2].seq, 11)
    assert journal.stat().st_size == last
    writer = JournalWriter(journal)
    writer.append(Envelope(envs[-1].seq, envs[-1].ts_ns, "t", Heartbeat()))
    writer.close()
    assert list(read_journal(journal))[-2:] == [envs[-2], Envelope(envs[-1].seq, envs[-1].ts_ns, "t", Heartbeat())]


def test_4kib_of_zeros_after_the_last_record_is_cut(config, run_dir, history):
    """A power loss leaves a page of zeros past the last record; nothing is lost."""
    envs, _ = history
    journal = run_dir / JOURNAL_NAME
    size = journal.stat().st_size
    with open(journal, "ab") as fh:
        fh.write(bytes(4096))
    ex, log = recovered(config, run_dir)
    assert ex.state_hash() == replay_hash(config, envs)
    cut = log.one("journal tail cut")
    assert (cut["offset"], cut["reason"], cut["bytes_cut"]) == (size, "bad length 0", 4096)


def test_a_flipped_byte_in_the_last_record_cuts_that_record(config, run_dir, history):
    envs, _ = history
    flip(run_dir / JOURNAL_NAME, offsets(envs)[-1] + 12)
    ex, log = recovered(config, run_dir)
    assert ex.state_hash() == replay_hash(config, envs[:-1])
    assert log.one("journal tail cut")["reason"] == "bad checksum"


def test_a_flipped_byte_in_a_middle_record_refuses_naming_file_offset_and_seq(config, run_dir, history):
    envs, _ = history
    journal = run_dir / JOURNAL_NAME
    k = len(envs) // 2
    at = offsets(envs)[k]
    flip(journal, at + 10)
    before = journal.read_bytes()
    reason = refusal(config, run_dir)
    assert reason == (f"journal {journal} is damaged at offset {at} (bad checksum) after seq {envs[k - 1].seq}, "
                      f"and {len(envs) - k - 1} valid records follow up to seq {envs[-1].seq}: refusing to start; "
                      f"{OVERRIDE_FLAG} cuts there and loses the damaged record and the {len(envs) - k - 1} "
                      f"valid records after it (seq {envs[k].seq}..{envs[-1].seq})")
    assert journal.read_bytes() == before, "a refusal changes nothing"


def test_the_override_cuts_at_the_damage_and_sets_newer_snapshots_aside(config, run_dir, history):
    envs, snapshots = history
    journal = run_dir / JOURNAL_NAME
    older, newer = sorted(snapshots)
    k = next(i for i, e in enumerate(envs) if e.seq > older + 20)  # between the two snapshots
    at = offsets(envs)[k]
    flip(journal, at + 10)
    tail = journal.read_bytes()[at:]
    ex, log = recovered(config, run_dir, allow_cut=True)
    assert ex.state_hash() == replay_hash(config, envs[:k])
    cut = log.one("journal cut at damage")
    assert (cut["offset"], cut["records_lost"], cut["lost_seqs"]) == (at, len(envs) - k, f"{envs[k].seq}..{envs[-1].seq}")
    assert (run_dir / f"{JOURNAL_NAME}.cut-at-{at}").read_bytes() == tail, "the cut bytes are kept"
    aside = log.one("snapshot set aside")
    assert aside["seq"] == newer and aside["path"].endswith(".discarded")
    assert [seq for seq, _ in snapshot_paths(run_dir)] == [older]
    assert log.one("snapshot used")["seq"] == older
    again, log = recovered(config, run_dir)  # the next start needs no override
    assert again.state_hash() == ex.state_hash() and log.events() == ["snapshot used", "recovered"]


def test_a_truncated_latest_snapshot_falls_back_to_the_older_one(config, run_dir, history):
    envs, snapshots = history
    older, newer = sorted(snapshots)
    path = run_dir / f"snapshot-{newer:012d}.msgpack"
    path.write_bytes(path.read_bytes()[:-100])
    ex, log = recovered(config, run_dir)
    assert ex.state_hash() == replay_hash(config, envs)
    assert log.one("snapshot rejected")["reason"].startswith("truncated")
    assert log.one("snapshot used")["seq"] == older


def test_a_flipped_byte_in_the_latest_snapshot_falls_back_to_the_older_one(config, run_dir, history):
    envs, snapshots = history
    older, newer = sorted(snapshots)
    path = run_dir / f"snapshot-{newer:012d}.msgpack"
    flip(path, path.stat().st_size // 2)
    ex, log = recovered(config, run_dir)
    assert ex.state_hash() == replay_hash(config, envs)
    assert log.one("snapshot rejected") == {"path": str(path), "seq": newer, "reason": "bad checksum"}
    assert log.one("snapshot used")["seq"] == older


def test_all_snapshots_damaged_means_a_full_replay(config, run_dir, history):
    envs, snapshots = history
    for seq in snapshots:
        flip(run_dir / f"snapshot-{seq:012d}.msgpack", 30)
    ex, log = recovered(config, run_dir)
    assert ex.state_hash() == replay_hash(config, envs)
    assert log.events() == ["snapshot rejected", "snapshot rejected", "no sound snapshot: full replay", "recovered"]
    assert log.one("recovered")["replayed"] == len(envs)


def test_a_sound_checksum_over_a_state_that_breaks_invariants_is_rejected(config, run_dir, history):
    """Checksum and stored hash agree with the bytes, but the state creates cash: not used."""
    envs, snapshots = history
    older, newer = sorted(snapshots)
    path = run_dir / f"snapshot-{newer:012d}.msgpack"
    state = load_snapshot(path).snapshot()
    state["accounts"][0][1] += 1  # one atomic unit more in a cross wallet
    path.write_bytes(encode_snapshot(Exchange.from_snapshot(state)))
    ex, log = recovered(config, run_dir)
    assert ex.state_hash() == replay_hash(config, envs)
    assert log.one("snapshot rejected")["reason"].startswith("restored state fails invariants (cash not conserved")
    assert log.one("snapshot used")["seq"] == older


def test_a_missing_journal_with_a_snapshot_refuses(config, run_dir, history):
    _, snapshots = history
    (run_dir / JOURNAL_NAME).unlink()
    reason = refusal(config, run_dir)
    assert reason == (f"journal {run_dir / JOURNAL_NAME} is missing but snapshots exist (newest seq {max(snapshots)}): "
                      "refusing to start; restore the journal, or move the snapshots away to start empty")


def test_a_snapshot_newer_than_the_journal_end_refuses_unless_overridden(config, run_dir, history):
    envs, snapshots = history
    older, newer = sorted(snapshots)
    journal = run_dir / JOURNAL_NAME
    k = next(i for i, e in enumerate(envs) if e.seq > newer - 5)  # the journal lost the records from here
    with open(journal, "r+b") as fh:
        fh.truncate(offsets(envs)[k])
    reason = refusal(config, run_dir)
    assert reason == (f"snapshot {run_dir / f'snapshot-{newer:012d}.msgpack'} is at seq {newer} but journal {journal} "
                      f"ends at seq {envs[k - 1].seq}: the journal lost acknowledged records; refusing to start; "
                      f"{OVERRIDE_FLAG} sets the newer snapshots aside and loses records seq {envs[k].seq}..{newer}")
    ex, log = recovered(config, run_dir, allow_cut=True)
    assert ex.state_hash() == replay_hash(config, envs[:k])
    assert log.one("snapshot set aside")["seq"] == newer
    assert log.one("snapshot used")["seq"] == older


def test_an_empty_or_torn_header_journal_starts_empty(config, tmp_path):
    assert recover(tmp_path, config.instruments).seq == 0  # no journal at all: a new exchange
    journal = tmp_path / JOURNAL_NAME
    journal.write_bytes(HEADER[:3])
    ex, log = recovered(config, tmp_path)
    assert ex.seq == 0 and log.one("journal tail cut")["reason"] == "torn header"
    assert journal.stat().st_size == 0


@pytest.mark.parametrize("head, why", [
    (b"LQXJ\x03\x00\x00\x00", "is format version 3; this build reads version 2"),
    (b"#!/bin/sh\n", "is not a liquidex journal (no header)"),
])
def test_a_journal_of_another_format_refuses(config, tmp_path, head, why):
    (tmp_path / JOURNAL_NAME).write_bytes(head + bytes(20))
    assert why in refusal(config, tmp_path)

