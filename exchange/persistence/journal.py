"""Append-only journal: one msgpack array per envelope, [seq, ts_ns, origin, command name, fields]."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import msgpack

from ..core.commands import COMMANDS_BY_NAME, Envelope


def encode_envelope(env: Envelope) -> bytes:
    cmd = env.command
    return msgpack.packb([env.seq, env.ts_ns, env.origin, type(cmd).__name__, list(cmd)])


def decode_envelope(record: list) -> Envelope:
    seq, ts_ns, origin, name, fields = record
    cls = COMMANDS_BY_NAME.get(name)
    if cls is None:
        raise ValueError(f"journal record {seq}: unknown command {name!r}")
    return Envelope(seq, ts_ns, origin, cls(*fields))


class JournalWriter:
    """Appends envelopes to a file. `flush()` hands them to the OS; `sync()` also fsyncs."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        truncate_torn_tail(self.path)  # a torn last record must not prefix the next one
        self._fh = open(self.path, "ab", buffering=1 << 16)

    def append(self, env: Envelope) -> None:
        self._fh.write(encode_envelope(env))

    def flush(self) -> None:
        self._fh.flush()

    def sync(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self.sync()
            self._fh.close()


def complete_length(path: Path) -> int:
    """Bytes of the file taken by complete records (a torn last record is past this offset)."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    end = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            unpacker.feed(chunk)
            for _ in unpacker:
                end = unpacker.tell()  # tell() after a partial record would count its bytes too
    return end


def read_journal(path: str | Path) -> Iterator[Envelope]:
    """Every complete record in order; a torn last record (crash mid-write) is ignored."""
    path = Path(path)
    if not path.exists():
        return
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            unpacker.feed(chunk)
            for record in unpacker:
                yield decode_envelope(record)


def truncate_torn_tail(path: Path) -> int:
    """Cut a record torn by a crash mid-write off the end of the journal; returns the bytes cut."""
    if not path.exists():
        return 0
    good, size = complete_length(path), path.stat().st_size
    if good < size:
        with open(path, "r+b") as fh:
            fh.truncate(good)
    return size - good
