"""Journal of envelopes and whole-state snapshots on disk, both checksummed; recovery decides at start-up
what can be trusted (docs/operations.md, "Recovery")."""

from .journal import JOURNAL_NAME, JournalError, JournalWriter, decode_envelope, encode_envelope, read_journal
from .recovery import OVERRIDE_FLAG, RecoveryRefused, recover
from .snapshots import SNAPSHOTS_KEPT, SnapshotError, load_snapshot, snapshot_paths, write_snapshot

__all__ = ["JOURNAL_NAME", "OVERRIDE_FLAG", "SNAPSHOTS_KEPT", "JournalError", "JournalWriter", "RecoveryRefused",
           "SnapshotError", "decode_envelope", "encode_envelope", "load_snapshot", "read_journal", "recover",
           "snapshot_paths", "write_snapshot"]
