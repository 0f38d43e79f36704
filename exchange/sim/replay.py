"""Replay: re-apply a run's journal to its starting state and prove the state hash.

The starting state of a run is a fresh exchange built from its run.json, or, for a fork, the snapshot
in its directory (the original's state at the fork time with the fork's changes). Replaying the
whole journal must give the state hash stored in summary.json; `--until T` stops after the last
command at or before T seconds of virtual time and prints the state hash there.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack

from ..core import events as core_events
from ..core.commands import Envelope
from ..core.engine import Exchange
from ..persistence import JOURNAL_NAME, load_snapshot, read_journal, recover, snapshot_paths
from .recorder import EVENTS_NAME
from .runner import read_run_meta, scenario_of

NS = 1_000_000_000


def initial_state(run_dir: str | Path) -> Exchange:
    """The exchange a run's journal starts from: a fork's snapshot (verified), else a fresh one."""
    snapshots = snapshot_paths(run_dir)
    scenario = scenario_of(read_run_meta(run_dir))
    if snapshots:  # the oldest: a fork's journal starts right after it
        return load_snapshot(snapshots[-1][1], scenario.config.venue, scenario.config.assets)
    return Exchange(scenario.config.instruments, scenario.insurance_fund_cash, venue=scenario.config.venue,
                    assets=scenario.config.assets)


def recover_run(run_dir: str | Path) -> Exchange:
    """The state after the whole journal, by the same recovery a server starts with."""
    scenario = scenario_of(read_run_meta(run_dir))
    return recover(run_dir, scenario.config.instruments, scenario.insurance_fund_cash, venue=scenario.config.venue,
                   assets=scenario.config.assets)


def envelopes(run_dir: str | Path, after_seq: int = 0) -> Iterator[Envelope]:
    path = Path(run_dir) / JOURNAL_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: a sweep keeps journals only with --journals")
    for env in read_journal(path):
        if env.seq > after_seq:
            yield env


def replay(run_dir: str | Path, until_s: float | None = None,
           on_events: Callable[[Exchange, Envelope, list], None] | None = None) -> tuple[Exchange, int]:
    """The exchange after every journaled command (up to until_s) and how many were applied.
    on_events(exchange, envelope, events) is called after each one."""
    ex = initial_state(run_dir)
    until_ns = None if until_s is None else int(until_s * NS)
    n = 0
    for env in envelopes(run_dir, ex.seq):
        if until_ns is not None and env.ts_ns > until_ns:
            break
        events = ex.apply(env)
        n += 1
        if on_events is not None:
            on_events(ex, env, events)
    return ex, n


def replay_main(argv: list[str]) -> int:
    """python -m exchange replay RUN_DIR [--until T]"""
    p = argparse.ArgumentParser(prog="python -m exchange replay",
                                description="Re-apply a run's journal; prove the final state hash.")
    p.add_argument("run_dir")
    p.add_argument("--until", type=float, default=None, metavar="T", help="stop at T seconds of virtual time")
    args = p.parse_args(argv)
    run_dir = Path(args.run_dir)
    try:
        ex, n = replay(run_dir, args.until)
        if args.until is None:
            recovered = recover_run(run_dir)  # the server's start-up path must agree
            if recovered.state_hash() != ex.state_hash():
                print("MISMATCH: recovery and replay disagree", file=sys.stderr)
                return 1
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ex.check_invariants()
    digest = ex.state_hash()
    print(f"replayed {n:,} commands of {run_dir} up to seq {ex.seq:,}, t={ex.ts_ns / NS:,.3f} s")
    print(f"state hash {digest}")
    if args.until is not None:
        return 0
    summary_path = run_dir / "summary.json"
    expected: Any = json.loads(summary_path.read_text()).get("state_hash") if summary_path.exists() else None
    if expected is None:
        print("no summary.json state hash to compare with")
        return 0
    if expected != digest:
        print(f"MISMATCH: summary.json says {expected}", file=sys.stderr)
        return 1
    print("equal to summary.json's state hash: the journal reproduces the run")
    return 0


def run_events(run_dir: str | Path) -> Iterator[tuple[int, Any]]:
    """(ts_ns, event) of every event of a run: from events.msgpack when the run wrote it, else by
    replaying the journal (the events are a function of it)."""
    path = Path(run_dir) / EVENTS_NAME
    if path.exists():
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                unpacker.feed(chunk)
                for ts, name, fields in unpacker:
                    yield ts, getattr(core_events, name)(*fields)
        return
    out: list[tuple[int, Any]] = []

    def keep(_ex: Exchange, env: Envelope, events: list) -> None:
        out.extend((env.ts_ns, ev) for ev in events)

    replay(run_dir, on_events=keep)
    yield from out
