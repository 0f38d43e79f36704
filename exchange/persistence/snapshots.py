"""Snapshots of the whole core state, format version 2, written atomically, several kept.

    snapshot-<seq, 12 digits>.msgpack = HEADER + body
    HEADER = b"LQXS" + u32 version (2) + u64 body length + u32 crc32(body)   20 bytes, little-endian
    body   = msgpack {"state_hash": sha256 hex of the state, "state": Exchange.snapshot()}

The CRC32 catches a torn or damaged file before it is decoded; the stored state hash is the strong
check after restore: the restored exchange must hash the same, and pass its invariants.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

import msgpack

from ..core.engine import Exchange
from ..core.collateral import Asset
from ..core.rules import BINANCE, Venue

MAGIC = b"LQXS"
VERSION = 2
HEADER = struct.Struct("<4sIQI")  # magic, version, body length, crc32 of the body
SNAPSHOTS_KEPT = 3
_NAME = re.compile(r"snapshot-(\d{12})\.msgpack")


class SnapshotError(Exception):
    """A snapshot that cannot be trusted; the message says why."""


def snapshot_path(run_dir: Path, seq: int) -> Path:
    return run_dir / f"snapshot-{seq:012d}.msgpack"


def snapshot_paths(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(seq from the file name, path) of every snapshot in run_dir, newest first."""
    found = [(int(m.group(1)), p) for p in Path(run_dir).glob("snapshot-*.msgpack") if (m := _NAME.fullmatch(p.name))]
    return sorted(found, reverse=True)


def encode_snapshot(exchange: Exchange) -> bytes:
    body = msgpack.packb({"state_hash": exchange.state_hash(), "state": exchange.snapshot()})
    return HEADER.pack(MAGIC, VERSION, len(body), zlib.crc32(body)) + body


def write_snapshot(run_dir: str | Path, exchange: Exchange, keep: int = SNAPSHOTS_KEPT) -> Path:
    """Write the state to run_dir (temp file, fsync, rename, fsync the directory), then delete all but
    the newest `keep` snapshots; a failed write removes its temp file and raises."""
    if keep < 1:
        raise ValueError(f"keep {keep}: at least one snapshot must be kept")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = snapshot_path(run_dir, exchange.seq)
    tmp = path.with_suffix(".tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(encode_snapshot(exchange))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not also keep half a snapshot on it
        raise
    fd = os.open(run_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    for _, old in snapshot_paths(run_dir)[keep:]:
        old.unlink(missing_ok=True)
    return path


def load_snapshot(path: Path, venue: Venue = BINANCE, assets: tuple[Asset, ...] = ()) -> Exchange:
    """The exchange a snapshot holds, verified (checksum, decoding, file-name seq, stored state hash,
    invariants); SnapshotError says what is wrong."""
    data = path.read_bytes()
    if len(data) < HEADER.size:
        raise SnapshotError(f"truncated ({len(data)} bytes, no header)")
    magic, version, size, crc = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SnapshotError("no snapshot header (format version 1 or not a snapshot)")
    if version != VERSION:
        raise SnapshotError(f"format version {version}; this build reads version {VERSION}")
    body = memoryview(data)[HEADER.size:]
    if len(body) != size:
        raise SnapshotError(f"truncated ({len(body)} of {size} body bytes)")
    if zlib.crc32(body) != crc:
        raise SnapshotError("bad checksum")
    try:
        doc = msgpack.unpackb(body, raw=False, strict_map_key=False, use_list=True)
        exchange = Exchange.from_snapshot(doc["state"], venue, assets)
    except Exception as exc:  # a decoder or restore error on bytes that passed the checksum
        raise SnapshotError(f"undecodable ({type(exc).__name__}: {exc})") from None
    m = _NAME.fullmatch(path.name)
    if m and int(m.group(1)) != exchange.seq:
        raise SnapshotError(f"holds seq {exchange.seq}, not the seq of its name")
    if exchange.state_hash() != doc.get("state_hash"):
        raise SnapshotError("restored state hash differs from the stored one")
    try:
        exchange.check_invariants()
    except Exception as exc:  # AssertionError, or whatever a broken state makes the checks raise
        raise SnapshotError(f"restored state fails invariants ({exc})") from None
    return exchange


def set_aside(path: Path) -> Path:
    """Rename a snapshot that must not be used again out of the way (kept for inspection)."""
    target = path.with_name(path.name + ".discarded")
    os.replace(path, target)
    return target
