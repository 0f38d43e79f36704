"""Append-only journal of envelopes, format version 2: a header, then checksummed records.

    file   = HEADER record*
    HEADER = b"LQXJ" + u32 version (2)                                    8 bytes, little-endian
    record = u32 crc32 + u32 length + payload                            8 + length bytes
    payload = msgpack [seq, ts_ns, origin, command name, [fields]]
    crc32  = zlib.crc32 over the length's 4 bytes, then the payload

CRC32 (zlib, in C) detects every error burst up to 32 bits long, so any flipped byte, and misses
random damage with odds 2^-32, for 4 bytes and well under a microsecond per record. It guards
against disks and crashes, not against someone who can write the file.

A record that is torn, fails its checksum, does not decode, or does not advance the seq is damage.
`scan_journal` finds the first one and says whether valid records follow it (corruption in the
middle) or not (a torn tail, a page of zeros): recovery decides what to do with that.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from ..core.commands import COMMANDS_BY_NAME, Envelope

JOURNAL_NAME = "journal.msgpack"
MAGIC = b"LQXJ"
VERSION = 2
HEADER = MAGIC + struct.pack("<I", VERSION)
FRAME = struct.Struct("<II")  # crc32, payload length
MAX_RECORD_BYTES = 1 << 20  # a longer length field is damage (the writer refuses such a record)
LEGACY_FIRST_BYTE = 0x95  # a version-1 journal (bare msgpack arrays) starts with a 5-element array


class JournalError(Exception):
    """The file is not a journal this build can read (no header, unknown version, damaged)."""


_U32 = struct.Struct("<I").pack


def encode_envelope(env: Envelope, pack: Callable[[Any], bytes] = msgpack.packb) -> bytes:
    """One record as it is stored: crc32, length, msgpack payload."""
    cmd = env.command
    payload = pack([env.seq, env.ts_ns, env.origin, type(cmd).__name__, list(cmd)])
    if len(payload) > MAX_RECORD_BYTES:
        raise ValueError(f"journal record {env.seq} is {len(payload)} bytes (at most {MAX_RECORD_BYTES})")
    size = _U32(len(payload))
    return _U32(zlib.crc32(payload, zlib.crc32(size))) + size + payload


def decode_envelope(record: list) -> Envelope:
    seq, ts_ns, origin, name, fields = record
    cls = COMMANDS_BY_NAME.get(name)
    if cls is None:
        raise ValueError(f"journal record {seq}: unknown command {name!r}")
    return Envelope(seq, ts_ns, origin, cls(*fields))


class JournalWriter:
    """Appends envelopes to a version-2 journal (created with its header when missing or empty).

    It does not repair: start-up runs recovery (`recover`), which cuts a damaged tail, first.
    `flush()` hands records to the OS; `sync()` also fsyncs."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab", buffering=1 << 16)
        self._pack = msgpack.Packer().pack  # its own packer: a third faster than packb, never shared
        if self._fh.tell() == 0:
            self._fh.write(HEADER)
        else:
            with open(self.path, "rb") as fh:
                head = fh.read(len(HEADER))
            if head != HEADER:
                self._fh.close()
                raise JournalError(f"{self.path} does not start with a version-{VERSION} journal header")

    def append(self, env: Envelope) -> None:
        self._fh.write(encode_envelope(env, self._pack))

    def flush(self) -> None:
        self._fh.flush()

    def sync(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self.sync()
            self._fh.close()


@dataclass(frozen=True, slots=True)
class Damage:
    """The first bad record of a journal and what follows it."""
    offset: int  # where the bad record starts
    reason: str
    after_seq: int  # seq of the last good record before it (0: none)
    records_after: int  # valid records found after it: 0 means a damaged tail
    last_seq: int  # the highest seq among those (0: none)


@dataclass(frozen=True, slots=True)
class JournalScan:
    records: int  # good records before any damage
    last_seq: int  # seq of the last good record (0: none)
    end: int  # offset just past the last good record
    damage: Damage | None


def _record_at(buf, pos: int, after_seq: int) -> tuple[Envelope, int] | str:
    """The record at pos and the offset just past it, or why there is none."""
    if len(buf) - pos < FRAME.size:
        return "torn record"
    crc, size = FRAME.unpack_from(buf, pos)
    if not 0 < size <= MAX_RECORD_BYTES:
        return f"bad length {size}"
    end = pos + FRAME.size + size
    if end > len(buf):
        return "torn record"
    payload = buf[pos + FRAME.size:end]
    if zlib.crc32(payload, zlib.crc32(buf[pos + 4:pos + 8])) != crc:
        return "bad checksum"
    try:
        env = decode_envelope(msgpack.unpackb(payload, raw=False, strict_map_key=False))
    except Exception as exc:  # anything a decoder can raise on bytes that passed the checksum
        return f"undecodable ({type(exc).__name__})"
    if type(env.seq) is not int or env.seq <= after_seq:
        return f"seq {env.seq!r} does not follow seq {after_seq}"
    return env, end


def _records(buf, pos: int, after_seq: int) -> Iterator[tuple[Envelope, int]]:
    """Each good record from pos with the offset past it; stops at the end or at the first bad one."""
    while pos < len(buf):
        got = _record_at(buf, pos, after_seq)
        if isinstance(got, str):
            return
        yield got
        pos, after_seq = got[1], got[0].seq


def _first_bad(buf, pos: int, after_seq: int) -> tuple[int, str, int, int]:
    """(offset, reason, good records before it, their last seq) of the first bad record from pos;
    offset -1 when there is none."""
    n = 0
    while pos < len(buf):
        got = _record_at(buf, pos, after_seq)
        if isinstance(got, str):
            return pos, got, n, after_seq
        pos, after_seq = got[1], got[0].seq
        n += 1
    return -1, "", n, after_seq


def _valid_after(buf, pos: int) -> tuple[int, int]:
    """(count, highest seq) of the valid records anywhere after the bad record at pos, resynchronizing
    byte by byte past damage (a random frame passes its checksum with odds 2^-32)."""
    count = last = 0
    pos += 1
    while pos + FRAME.size < len(buf):
        if isinstance(_record_at(buf, pos, 0), str):
            pos += 1
            continue
        bad, _, n, last_seq = _first_bad(buf, pos, 0)
        count, last = count + n, max(last, last_seq)
        if bad < 0:
            break
        pos = bad + 1
    return count, last


class _Mapped:
    """A file's bytes, memory-mapped read-only (b"" for an empty file)."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "rb")
        size = os.fstat(self._fh.fileno()).st_size
        self.buf = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""

    def __enter__(self):
        return self.buf

    def __exit__(self, *exc) -> None:
        if isinstance(self.buf, mmap.mmap):
            self.buf.close()
        self._fh.close()


def journal_format(path: Path) -> int:
    """VERSION for a journal with our header, 1 for a legacy (headerless) one, 0 when it holds no records
    (missing, empty, a torn header, only zeros); JournalError for anything else."""
    if not path.exists():
        return 0
    with open(path, "rb") as fh:
        head = fh.read(len(HEADER))
        if head == HEADER:
            return VERSION
        if len(head) < len(HEADER) and HEADER.startswith(head.rstrip(b"\0")):
            return 0
        if not head.strip(b"\0") and all(not chunk.strip(b"\0") for chunk in iter(lambda: fh.read(1 << 20), b"")):
            return 0
    if head.startswith(MAGIC):
        raise JournalError(f"journal {path} is format version {struct.unpack('<I', head[4:])[0]}; "
                           f"this build reads version {VERSION}")
    if head[0] == LEGACY_FIRST_BYTE:
        return 1
    raise JournalError(f"{path} is not a liquidex journal (no header)")


def _version_2(path: Path) -> bool:
    """True for a version-2 journal, False when it holds no records; JournalError otherwise."""
    fmt = journal_format(path)
    if fmt == 1:
        raise JournalError(f"journal {path} is format version 1 (no checksums): migrate it first "
                           "(the server does at start-up)")
    return fmt == VERSION


def scan_journal(path: str | Path) -> JournalScan:
    """Check every record of a journal (checksum, decoding, increasing seq) and find the first damage."""
    path = Path(path)
    if not _version_2(path):
        torn = path.exists() and path.stat().st_size > 0
        return JournalScan(0, 0, 0, Damage(0, "torn header", 0, 0, 0) if torn else None)
    with _Mapped(path) as buf:
        bad, reason, n, last = _first_bad(buf, len(HEADER), 0)
        if bad < 0:
            return JournalScan(n, last, len(buf), None)
        count, last_after = _valid_after(buf, bad)
        return JournalScan(n, last, bad, Damage(bad, reason, last, count, last_after))


def read_journal(path: str | Path) -> Iterator[Envelope]:
    """Every good record in order. A damaged tail (torn, zeros) ends the journal; damage followed by
    valid records raises JournalError (recovery decides what to do with it)."""
    path = Path(path)
    if not _version_2(path):
        return
    with _Mapped(path) as buf:
        end, last = len(HEADER), 0
        for env, past in _records(buf, end, 0):
            end, last = past, env.seq
            yield env
        if end < len(buf) and _valid_after(buf, end)[0]:
            raise JournalError(f"journal {path} is damaged at offset {end} after seq {last}, and valid "
                               "records follow")


def cut_journal(path: Path, offset: int) -> int:
    """Truncate the journal at offset (fsynced); returns the bytes cut."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(offset)
        os.fsync(fh.fileno())
    return size - offset
