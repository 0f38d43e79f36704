"""`python -m bench journal [--records N]`: journal throughput with checksums, against bare msgpack.

Three figures, records per second on the same envelopes (mostly orders, as a busy server writes):
append (encode + write + fsync at the end), read (`read_journal`: checksum, decode) and scan (the
start-up check of every record and the search past damage). Each carries `vs_bare`: its time over the
time of the same work on bare msgpack arrays without checksums (the version-1 format), timed in the
same run, so the ratio is the cost of the framing and the checksums.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import msgpack

from bench.__main__ import emit
from exchange.core.commands import BUY, SELL, CancelOrder, Envelope, IndexPrice, PlaceOrder
from exchange.persistence import JournalWriter, decode_envelope, read_journal
from exchange.persistence.journal import scan_journal


def envelopes(n: int) -> list[Envelope]:
    out = []
    for i in range(1, n + 1):
        if i % 10 == 0:
            cmd = IndexPrice("BTCUSDT", 300_000 + i % 500)
        elif i % 3 == 0:
            cmd = CancelOrder(i % 100, "BTCUSDT", i - 2)
        else:
            cmd = PlaceOrder(i % 100, "BTCUSDT", BUY if i % 2 else SELL, 10 + i % 7, 299_000 + i % 2000,
                             client_order_id=f"c{i}")
        out.append(Envelope(i, 1_700_000_000_000_000_000 + i * 1000, f"session:{i % 100}", cmd))
    return out


def bare_write(path: Path, envs: list[Envelope]) -> None:
    with open(path, "wb", buffering=1 << 16) as fh:
        for e in envs:
            fh.write(msgpack.packb([e.seq, e.ts_ns, e.origin, type(e.command).__name__, list(e.command)]))
        fh.flush()
        os.fsync(fh.fileno())


def bare_read(path: Path) -> int:
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    n = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            unpacker.feed(chunk)
            for record in unpacker:
                decode_envelope(record)
                n += 1
    return n


def checked_write(path: Path, envs: list[Envelope]) -> None:
    writer = JournalWriter(path)
    for e in envs:
        writer.append(e)
    writer.close()


def best_pair(a, b, rounds: int = 5) -> tuple[float, float]:
    """Fastest of `rounds` timings of a and of b, taken alternately so drifting machine speed hits both."""
    ta = tb = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        a()
        t1 = time.perf_counter()
        b()
        ta, tb = min(ta, t1 - t0), min(tb, time.perf_counter() - t1)
    return ta, tb


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m bench journal")
    p.add_argument("--records", type=int, default=100_000)
    args = p.parse_args(argv)
    envs = envelopes(args.records)
    with tempfile.TemporaryDirectory() as d:
        bare, checked = Path(d) / "bare.msgpack", Path(d) / "journal.msgpack"

        def write_checked() -> None:
            checked.unlink(missing_ok=True)
            checked_write(checked, envs)

        t_bare_write, t_write = best_pair(lambda: bare_write(bare, envs), write_checked)
        t_bare_read, t_read = best_pair(lambda: bare_read(bare), lambda: sum(1 for _ in read_journal(checked)))
        t_bare_scan, t_scan = best_pair(lambda: bare_read(bare), lambda: scan_journal(checked))
        size, bare_size = checked.stat().st_size, bare.stat().st_size
    n = len(envs)
    emit("journal_append", round(n / t_write), "records/s", vs_bare=round(t_write / t_bare_write, 2),
         bytes_per_record=round(size / n, 1), bare_bytes_per_record=round(bare_size / n, 1))
    emit("journal_read", round(n / t_read), "records/s", vs_bare=round(t_read / t_bare_read, 2))
    emit("journal_scan", round(n / t_scan), "records/s", vs_bare=round(t_scan / t_bare_scan, 2))
