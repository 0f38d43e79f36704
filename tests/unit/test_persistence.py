"""Journal and snapshots on real files: the formats byte by byte, checksums that catch every flipped byte,
a torn tail is ignored, snapshot retention, the one-shot migration of version-1 journals, recovery from
snapshot + journal tail reproduces the state hash, and a replay in another process gives the same events.
What recovery does with each kind of damage is in test_recovery.py."""

from __future__ import annotations

import hashlib
import os
import random
import resource
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import msgpack
import pytest
from conftest import BTC, ETH, Driver

from exchange.core import Exchange
from exchange.core.commands import (
    BUY, CONTRACT_PRICE, IOC, MARKET, SELL, STOP_MARKET, TAKE_PROFIT_MARKET, AmendOrder, CancelAll, CancelOrder,
    CreateAccount, Deposit, Envelope, Heartbeat, IndexPrice, PlaceOrder, SetLeverage,
)
from exchange.persistence import (
    JOURNAL_NAME, JournalError, JournalWriter, RecoveryRefused, load_snapshot, read_journal, recover, snapshot_paths,
    write_snapshot,
)
from exchange.persistence.journal import HEADER, encode_envelope, scan_journal
from exchange.persistence.snapshots import encode_snapshot

ROOT = Path(__file__).resolve().parents[2]
MIDS = {BTC: 600_000, ETH: 300_000}
SCALE = {BTC: 10, ETH: 1}  # lots: ETH orders are 10x larger to clear its 20 USDT min notional


def random_flow(seed: int, n: int, ex: Exchange):
    """A seeded stream of n commands: quotes, takers, cancels, amends, stops, index moves.

    Cancels and amends pick among the orders open in `ex` when the command is drawn."""
    rng = random.Random(seed)
    mids = dict(MIDS)
    for _ in range(n):
        symbol = rng.choice((BTC, ETH))
        account = rng.randint(1, 6)
        mid = mids[symbol]
        qty = rng.randint(2, 40) * SCALE[symbol]
        side = rng.choice((BUY, SELL))
        live = [o for a in ex.accounts.values() for o in a.orders.values()]
        r = rng.random()
        if r < 0.45:
            price = mid - side * rng.randint(-3, 30) * 10
            yield PlaceOrder(account, symbol, side, qty, price, tif=rng.choice(("GTC", "GTC", IOC, "GTX")),
                             stp=rng.choice(("NONE", "NONE", "EXPIRE_MAKER", "EXPIRE_BOTH")))
        elif r < 0.55:
            yield PlaceOrder(account, symbol, side, qty, 0, MARKET)
        elif r < 0.70 and live:
            o = rng.choice(live)
            yield CancelOrder(o.account, o.symbol, o.oid)
        elif r < 0.77 and live:
            o = rng.choice(live)
            yield AmendOrder(o.account, o.symbol, o.oid, rng.randint(1, 40) * SCALE[o.symbol],
                             mids[o.symbol] - o.side * rng.randint(0, 20) * 10)
        elif r < 0.84:
            kind = rng.choice((STOP_MARKET, TAKE_PROFIT_MARKET))
            offset = rng.randint(5, 40) * 10 * (1 if (kind == STOP_MARKET) == (side == BUY) else -1)
            yield PlaceOrder(account, symbol, side, qty, 0, kind, stop_price_ticks=mid + offset,
                             working_type=rng.choice(("MARK_PRICE", CONTRACT_PRICE)), reduce_only=rng.random() < 0.3)
        elif r < 0.96:
            mids[symbol] = mid + rng.randint(-25, 25) * 10
            yield IndexPrice(symbol, mids[symbol])
        elif r < 0.98:
            yield CancelAll(account, symbol)
        else:
            yield SetLeverage(account, symbol, rng.choice((5, 10, 20, 50)))


def setup_commands():
    cmds = []
    for a in range(1, 7):
        cmds += [CreateAccount(a), Deposit(a, 200_000 * 10**6)]
    return cmds + [IndexPrice(BTC, MIDS[BTC]), IndexPrice(ETH, MIDS[ETH])]


def run(ex: Exchange, seed: int, n: int, step_ns: int = 20 * 10**9) -> tuple[Driver, list]:
    drive = Driver(ex, step_ns)
    events = drive.run(setup_commands())
    events += drive.run(random_flow(seed, n, ex))
    return drive, events


def events_digest(events: list) -> str:
    return hashlib.sha256("\n".join(repr(tuple(e)) + type(e).__name__ for e in events).encode()).hexdigest()


def write_journal(path: Path, envelopes) -> None:
    writer = JournalWriter(path)
    for env in envelopes:
        writer.append(env)
    writer.close()


def test_flow_is_busy_and_keeps_invariants(config):
    """The workload used below really trades, triggers, cancels and rejects."""
    ex = Exchange(config.instruments, config.initial_insurance_fund_cash)
    _, events = run(ex, seed=1, n=1500)
    kinds = {type(e).__name__ for e in events}
    assert {"Trade", "OrderCancelled", "OrderAmended", "OrderTriggered", "OrderRejected", "FundingRateSettled"} <= kinds
    assert sum(type(e).__name__ == "Trade" for e in events) > 200
    ex.check_invariants()


def test_journal_round_trip(tmp_path, config):
    ex = Exchange(config.instruments)
    drive, _ = run(ex, seed=2, n=300)
    path = tmp_path / JOURNAL_NAME
    write_journal(path, drive.journal)
    assert list(read_journal(path)) == drive.journal
    assert list(read_journal(tmp_path / "missing.msgpack")) == []


def test_torn_last_record_is_ignored(tmp_path):
    envs = [Envelope(i, i * 10, "t", Heartbeat()) for i in range(1, 4)]
    torn = encode_envelope(Envelope(4, 40, "t", PlaceOrder(1, BTC, BUY, 5, 600_000, client_order_id="x")))
    path = tmp_path / JOURNAL_NAME
    write_journal(path, envs)
    for cut in range(1, len(torn)):
        with open(path, "r+b") as fh:
            fh.truncate(len(HEADER) + sum(len(encode_envelope(e)) for e in envs))
            fh.seek(0, os.SEEK_END)
            fh.write(torn[:cut])
        assert list(read_journal(path)) == envs, cut


def test_snapshot_round_trip_in_memory_and_on_disk(tmp_path, config):
    ex = Exchange(config.instruments, config.initial_insurance_fund_cash)
    run(ex, seed=3, n=800)
    copy = Exchange.from_snapshot(ex.snapshot())
    assert copy.state_hash() == ex.state_hash()
    copy.check_invariants()
    write_snapshot(tmp_path, ex)
    disk = load_snapshot(snapshot_paths(tmp_path)[0][1])
    assert disk.state_hash() == ex.state_hash()
    # the restored exchange behaves exactly like the original from here on
    a, b = Driver(ex, 20 * 10**9), Driver(disk, 20 * 10**9)
    for cmd in random_flow(99, 500, ex):
        assert a(cmd) == b(cmd)
    assert disk.state_hash() == ex.state_hash()


def test_recovery_from_snapshot_and_journal_tail_equals_the_original(tmp_path, config):
    ex = Exchange(config.instruments, config.initial_insurance_fund_cash)
    drive = Driver(ex, 20 * 10**9)
    writer = JournalWriter(tmp_path / JOURNAL_NAME)
    drive.run(setup_commands())
    for env in drive.journal:
        writer.append(env)
    for i, cmd in enumerate(random_flow(4, 1200, ex)):
        drive(cmd)
        writer.append(drive.journal[-1])
        if i in (400, 900):
            write_snapshot(tmp_path, ex)
    writer.close()
    assert len(list(tmp_path.glob("snapshot-*.msgpack"))) == 2
    recovered = recover(tmp_path, config.instruments, config.initial_insurance_fund_cash)
    assert recovered.seq == ex.seq and recovered.state_hash() == ex.state_hash()
    for snap in tmp_path.glob("snapshot-*.msgpack"):
        snap.unlink()
    replayed = recover(tmp_path, config.instruments, config.initial_insurance_fund_cash)
    assert replayed.state_hash() == ex.state_hash()


REPLAY = textwrap.dedent("""
    import hashlib, sys
    from exchange.config import load_config
    from exchange.core import Exchange
    from exchange.persistence import read_journal
    cfg = load_config()
    ex = Exchange(cfg.instruments, cfg.initial_insurance_fund_cash)
    events = []
    for env in read_journal(sys.argv[1]):
        events += ex.apply(env)
    digest = hashlib.sha256("\\n".join(repr(tuple(e)) + type(e).__name__ for e in events).encode()).hexdigest()
    print(digest, ex.state_hash(), len(events))
""")


def test_same_journal_same_events_and_hash_in_another_process(tmp_path, config):
    ex = Exchange(config.instruments, config.initial_insurance_fund_cash)
    drive, events = run(ex, seed=5, n=1000)
    path = tmp_path / JOURNAL_NAME
    write_journal(path, drive.journal)
    outputs = set()
    for hashseed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hashseed, PYTHONPATH=str(ROOT))
        out = subprocess.run([sys.executable, "-c", REPLAY, str(path)], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=120, check=True)
        outputs.add(out.stdout.strip())
    assert outputs == {f"{events_digest(events)} {ex.state_hash()} {len(events)}"}


def test_restored_exchange_cancels_in_the_same_order_after_an_amend(market):
    """An amended order moves to the back of its account's order list; a snapshot must keep that order."""
    ex = market.ex
    first = ex.apply(Envelope(100, market.ts_ns, "t", PlaceOrder(1, BTC, BUY, 5, 599_000)))[0].order_id
    ex.apply(Envelope(101, market.ts_ns, "t", PlaceOrder(1, BTC, BUY, 5, 598_000)))
    ex.apply(Envelope(102, market.ts_ns, "t", AmendOrder(1, BTC, first, 5, 597_000)))
    copy = Exchange.from_snapshot(ex.snapshot())
    cancel = Envelope(103, market.ts_ns, "t", CancelAll(1, BTC))
    assert copy.apply(cancel) == ex.apply(cancel)


def test_journal_layout_header_then_crc32_length_payload(tmp_path):
    env = Envelope(7, 70, "t", Deposit(1, 5_000_000))
    payload = msgpack.packb([7, 70, "t", "Deposit", [1, 5_000_000]])
    size = struct.pack("<I", len(payload))
    record = struct.pack("<I", zlib.crc32(size + payload)) + size + payload
    assert encode_envelope(env) == record
    write_journal(tmp_path / JOURNAL_NAME, [env])
    assert (tmp_path / JOURNAL_NAME).read_bytes() == b"LQXJ\x02\x00\x00\x00" + record


def test_every_flipped_byte_of_a_record_is_found(tmp_path):
    """CRC32 over length + payload catches any single damaged byte, whichever bit pattern it has."""
    envs = [Envelope(1, 10, "t", CreateAccount(1)), Envelope(2, 20, "t", Deposit(1, 123_456_789)),
            Envelope(3, 30, "t", Heartbeat())]
    path = tmp_path / JOURNAL_NAME
    write_journal(path, envs)
    good = path.read_bytes()
    start, end = len(HEADER) + len(encode_envelope(envs[0])), len(good) - len(encode_envelope(envs[2]))
    for at in range(start, end):
        for mask in (0x01, 0x80, 0xFF):
            data = bytearray(good)
            data[at] ^= mask
            path.write_bytes(bytes(data))
            scan = scan_journal(path)
            assert (scan.records, scan.damage.offset, scan.damage.after_seq, scan.damage.records_after) == \
                (1, start, 1, 1), (at, mask)
            with pytest.raises(JournalError, match=f"damaged at offset {start} after seq 1, and valid records follow"):
                list(read_journal(path))


def test_the_writer_appends_only_to_a_version_2_journal(tmp_path):
    path = tmp_path / JOURNAL_NAME
    path.write_bytes(msgpack.packb([1, 10, "t", "Heartbeat", []]))
    with pytest.raises(JournalError, match="does not start with a version-2 journal header"):
        JournalWriter(path)


def test_snapshot_layout_and_retention(tmp_path, config):
    ex = Exchange(config.instruments, config.initial_insurance_fund_cash)
    drive = Driver(ex)
    for _ in range(5):
        drive(Heartbeat())
        write_snapshot(tmp_path, ex, keep=3)
    assert [seq for seq, _ in snapshot_paths(tmp_path)] == [5, 4, 3]
    data = snapshot_paths(tmp_path)[0][1].read_bytes()
    magic, version, size, crc = struct.unpack_from("<4sIQI", data)
    body = data[20:]
    assert (magic, version, size, crc) == (b"LQXS", 2, len(body), zlib.crc32(body))
    assert msgpack.unpackb(body, strict_map_key=False) == {"state_hash": ex.state_hash(), "state": ex.snapshot()}


def test_a_snapshot_the_disk_cannot_hold_leaves_no_partial_file(tmp_path, config):
    """A full disk (the file-size limit, as tests/integration/test_faults.py gives the server) fails the
    write with OSError and leaves the directory as it was: the older snapshot, no temp file."""
    ex = Exchange(config.instruments, config.initial_insurance_fund_cash)
    Driver(ex)(Heartbeat())
    kept = write_snapshot(tmp_path, ex)
    Driver(ex)(Heartbeat())
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(encode_snapshot(ex)) // 2, limit[1]))
    try:
        with pytest.raises(OSError):
            write_snapshot(tmp_path, ex)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, previous)
    assert sorted(tmp_path.iterdir()) == [kept]


def legacy_journal(envelopes) -> bytes:
    """A version-1 journal, as the previous build wrote it: bare msgpack arrays."""
    return b"".join(msgpack.packb([e.seq, e.ts_ns, e.origin, type(e.command).__name__, list(e.command)])
                    for e in envelopes)


@pytest.mark.parametrize("tail", [b"", b"\x95\x01", bytes(4096)], ids=["whole", "torn", "zeros"])
def test_a_version_1_journal_is_migrated_once_at_recovery(tmp_path, config, tail):
    ex = Exchange(config.instruments, config.initial_insurance_fund_cash)
    drive, _ = run(ex, seed=6, n=200)
    path = tmp_path / JOURNAL_NAME
    old = legacy_journal(drive.journal) + tail
    path.write_bytes(old)
    recovered = recover(tmp_path, config.instruments, config.initial_insurance_fund_cash)
    assert recovered.state_hash() == ex.state_hash()
    assert (tmp_path / f"{JOURNAL_NAME}.v1").read_bytes() == old, "the original is kept"
    assert path.read_bytes().startswith(HEADER) and list(read_journal(path)) == drive.journal
    again = recover(tmp_path, config.instruments, config.initial_insurance_fund_cash)
    assert again.state_hash() == ex.state_hash()


def test_a_version_1_journal_with_junk_inside_is_not_migrated(tmp_path, config):
    envs = [Envelope(1, 10, "t", CreateAccount(1)), Envelope(2, 20, "t", Deposit(1, 5))]
    path = tmp_path / JOURNAL_NAME
    first = legacy_journal(envs[:1])
    path.write_bytes(first + b"\x01" + legacy_journal(envs[1:]))
    with pytest.raises(RecoveryRefused, match=f"does not decode at offset {len(first)} .*; not migrated"):
        recover(tmp_path, config.instruments)
    assert path.read_bytes() == first + b"\x01" + legacy_journal(envs[1:])
    assert not (tmp_path / f"{JOURNAL_NAME}.v1").exists()


def test_a_record_that_cannot_be_encoded_leaves_the_journal_sound(tmp_path):
    """Nothing of a failed append reaches the file, and the writer's packer carries no residue."""
    path = tmp_path / JOURNAL_NAME
    writer = JournalWriter(path)
    writer.append(Envelope(1, 10, "t", Deposit(1, 5)))
    with pytest.raises(OverflowError):
        writer.append(Envelope(2, 20, "t", Deposit(1, 10**30)))
    writer.append(Envelope(2, 30, "t", Deposit(1, 7)))
    writer.close()
    assert list(read_journal(path)) == [Envelope(1, 10, "t", Deposit(1, 5)), Envelope(2, 30, "t", Deposit(1, 7))]
    assert scan_journal(path).damage is None
