"""Journal of envelopes and whole-state snapshots on disk; recovery = latest snapshot + journal tail."""

from .journal import JournalWriter, decode_envelope, encode_envelope, read_journal
from .snapshots import latest_snapshot, recover, write_snapshot

__all__ = ["JournalWriter", "decode_envelope", "encode_envelope", "latest_snapshot", "read_journal", "recover",
           "write_snapshot"]
