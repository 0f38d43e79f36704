"""Start-up recovery: repair or refuse the run directory, then the newest sound snapshot + the journal after it.

The journal is the truth; snapshots only shorten the replay. In order:
1. a version-1 journal is migrated to version 2 (once);
2. damage in the journal with nothing valid after it (a torn tail, zeros) is cut; damage followed by
   valid records refuses, unless the operator allows cutting there (`truncate_at_damage`);
3. a snapshot newer than the journal's end refuses (the journal lost records), unless allowed: then
   it is set aside;
4. the newest snapshot that verifies (see `load_snapshot`) is used, older ones next, else a full
   replay from an empty exchange;
5. the records after it are applied and the result must pass `check_invariants()`.
A refusal is a `RecoveryRefused` with a one-line reason; what was repaired or skipped is logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.engine import Exchange
from ..core.instruments import Instrument
from ..core.collateral import Asset
from ..core.rules import BINANCE, Venue
from .journal import JOURNAL_NAME, Damage, JournalError, cut_journal, journal_format, read_journal, scan_journal
from .migrate import LEGACY_SUFFIX, migrate_legacy_journal
from .snapshots import SnapshotError, load_snapshot, set_aside, snapshot_paths

OVERRIDE_FLAG = "--truncate-journal-at-damage"


class RecoveryRefused(Exception):
    """The run directory cannot be trusted; str() is a one-line reason for the operator."""


class _Silent:
    def info(self, *_: Any, **__: Any) -> None: ...

    warning = info


def _one_line(text: str) -> str:
    return " ".join(text.split())


def recover(run_dir: str | Path, instruments: Iterable[Instrument], insurance_fund_cash: int = 0,
            margin_checks: bool = True, *, truncate_at_damage: bool = False, log: Any = None,
            venue: Venue = BINANCE, assets: tuple[Asset, ...] = ()) -> Exchange:
    """The exchange recovered from run_dir (a fresh one for an empty directory), repairing the journal
    as described above; `log` (a structlog-style logger) hears what was done."""
    run_dir, log = Path(run_dir), log or _Silent()
    try:
        return _recover(run_dir, instruments, insurance_fund_cash, margin_checks, truncate_at_damage, log, venue, assets)
    except (OSError, JournalError) as exc:
        raise RecoveryRefused(_one_line(str(exc))) from None


def _recover(run_dir: Path, instruments: Iterable[Instrument], insurance_fund_cash: int, margin_checks: bool,
             allow_cut: bool, log: Any, venue: Venue, assets: tuple[Asset, ...]) -> Exchange:
    journal = run_dir / JOURNAL_NAME
    snapshots = snapshot_paths(run_dir)
    if not journal.exists() and snapshots:
        raise RecoveryRefused(f"journal {journal} is missing but snapshots exist (newest seq {snapshots[0][0]}): "
                              "refusing to start; restore the journal, or move the snapshots away to start empty")
    if journal_format(journal) == 1:
        records, dropped = migrate_legacy_journal(journal)
        log.warning("journal migrated", path=str(journal), from_version=1, records=records,
                    tail_bytes_dropped=dropped, original=str(journal) + LEGACY_SUFFIX)
    scan = scan_journal(journal)
    if scan.damage is not None:
        _repair(journal, scan.damage, allow_cut, log)
    newer = [(seq, path) for seq, path in snapshots if seq > scan.last_seq]
    if newer:
        lost = f"seq {scan.last_seq + 1}..{newer[0][0]}"
        if not allow_cut:
            raise RecoveryRefused(f"snapshot {newer[0][1]} is at seq {newer[0][0]} but journal {journal} ends at seq "
                                  f"{scan.last_seq}: the journal lost acknowledged records; refusing to start; "
                                  f"{OVERRIDE_FLAG} sets the newer snapshots aside and loses records {lost}")
        for seq, path in newer:
            log.warning("snapshot set aside", path=str(set_aside(path)), seq=seq, journal_end_seq=scan.last_seq,
                        records_lost=lost)
    exchange = _newest_sound_snapshot(snapshots[len(newer):], log, venue, assets)
    source = f"snapshot seq {exchange.seq}" if exchange is not None else "empty exchange"
    if exchange is None:
        exchange = Exchange(instruments, insurance_fund_cash, margin_checks, venue, assets)
    replayed = 0
    for env in read_journal(journal):
        if env.seq > exchange.seq:
            try:
                exchange.apply(env)
            except Exception as exc:  # a record that passed its checksum but breaks the core: do not serve
                raise RecoveryRefused(f"journal {journal} record seq {env.seq} cannot be applied "
                                      f"({type(exc).__name__}: {_one_line(str(exc))}): refusing to start") from None
            replayed += 1
    try:
        exchange.check_invariants()
    except Exception as exc:
        raise RecoveryRefused(f"state recovered from {run_dir} at seq {exchange.seq} fails invariants "
                              f"({_one_line(str(exc))}): refusing to start") from None
    log.info("recovered", run_dir=str(run_dir), source=source, replayed=replayed, seq=exchange.seq,
             state_hash=exchange.state_hash())
    return exchange


def _repair(journal: Path, damage: Damage, allow_cut: bool, log: Any) -> None:
    where = dict(path=str(journal), offset=damage.offset, reason=damage.reason, after_seq=damage.after_seq)
    if damage.records_after == 0:
        log.warning("journal tail cut", **where, bytes_cut=cut_journal(journal, damage.offset))
        return
    lost = (f"the damaged record and the {damage.records_after} valid records after it "
            f"(seq {damage.after_seq + 1}..{damage.last_seq})")
    if not allow_cut:
        raise RecoveryRefused(f"journal {journal} is damaged at offset {damage.offset} ({damage.reason}) after seq "
                              f"{damage.after_seq}, and {damage.records_after} valid records follow up to seq "
                              f"{damage.last_seq}: refusing to start; {OVERRIDE_FLAG} cuts there and loses {lost}")
    saved = journal.with_name(f"{journal.name}.cut-at-{damage.offset}")
    with open(journal, "rb") as src:
        src.seek(damage.offset)
        saved.write_bytes(src.read())
    log.warning("journal cut at damage", **where, bytes_cut=cut_journal(journal, damage.offset),
                records_lost=damage.records_after + 1, lost_seqs=f"{damage.after_seq + 1}..{damage.last_seq}",
                saved=str(saved))


def _newest_sound_snapshot(snapshots: list[tuple[int, Path]], log: Any, venue: Venue,
                           assets: tuple[Asset, ...]) -> Exchange | None:
    for seq, path in snapshots:
        try:
            exchange = load_snapshot(path, venue, assets)
        except SnapshotError as exc:
            log.warning("snapshot rejected", path=str(path), seq=seq, reason=_one_line(str(exc)))
            continue
        log.info("snapshot used", path=str(path), seq=seq)
        return exchange
    if snapshots:
        log.warning("no sound snapshot: full replay", rejected=len(snapshots))
    return None
