"""Snapshots: the core's plain-data state, msgpack-encoded, written atomically; and recovery."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import msgpack

from ..core.engine import Exchange
from ..core.instruments import Instrument
from .journal import read_journal

JOURNAL_NAME = "journal.msgpack"


def snapshot_path(run_dir: Path, seq: int) -> Path:
    return run_dir / f"snapshot-{seq:012d}.msgpack"


def write_snapshot(run_dir: str | Path, exchange: Exchange) -> Path:
    """Write the exchange state to run_dir (temp file, fsync, rename): a crash leaves the old one."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = snapshot_path(run_dir, exchange.seq)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(msgpack.packb(exchange.snapshot()))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def latest_snapshot(run_dir: str | Path) -> dict | None:
    paths = sorted(Path(run_dir).glob("snapshot-*.msgpack"))
    if not paths:
        return None
    with open(paths[-1], "rb") as fh:
        return msgpack.unpackb(fh.read(), raw=False, strict_map_key=False, use_list=True)


def recover(run_dir: str | Path, instruments: Iterable[Instrument], insurance_fund_cash: int = 0,
            margin_checks: bool = True) -> Exchange:
    """Latest snapshot (or a fresh exchange) + every journal record after it."""
    run_dir = Path(run_dir)
    snap = latest_snapshot(run_dir)
    exchange = Exchange.from_snapshot(snap) if snap else Exchange(instruments, insurance_fund_cash, margin_checks)
    for env in read_journal(run_dir / JOURNAL_NAME):
        if env.seq > exchange.seq:
            exchange.apply(env)
    return exchange
