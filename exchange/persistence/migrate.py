"""One-shot migration of a version-1 journal (bare msgpack arrays, no header, no checksums) to version 2.

Version 1 has no checksums, so only what does not decode can be found: a torn last record and a
tail of zeros are dropped, anything else undecodable stops the migration. The original is kept
beside the new journal as `journal.msgpack.v1`.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgpack

from .journal import HEADER, JournalError, decode_envelope, encode_envelope

LEGACY_SUFFIX = ".v1"


def migrate_legacy_journal(path: Path) -> tuple[int, int]:
    """Rewrite a version-1 journal as version 2 (temp file, fsync, rename); returns (records, bytes
    dropped from its tail)."""
    backup = path.with_name(path.name + LEGACY_SUFFIX)
    if backup.exists():
        raise JournalError(f"{backup} exists already: move it away before migrating {path} again")
    data = path.read_bytes()
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    tmp = path.with_name(path.name + ".migrating")
    records, good_end = 0, 0
    with open(tmp, "wb") as out:
        out.write(HEADER)
        while True:
            try:
                record = unpacker.unpack()
                env = decode_envelope(record)
            except msgpack.OutOfData:
                break  # a torn last record
            except Exception as exc:  # junk: acceptable only as a tail of zeros
                if data[good_end:].strip(b"\0"):
                    out.close()
                    tmp.unlink()
                    raise JournalError(f"version-1 journal {path} does not decode at offset {good_end} "
                                       f"({type(exc).__name__}); not migrated") from None
                break
            out.write(encode_envelope(env))
            records, good_end = records + 1, unpacker.tell()
        out.flush()
        os.fsync(out.fileno())
    os.link(path, backup)  # the original stays whole under both names until the new one replaces it
    os.replace(tmp, path)
    return records, len(data) - good_end
