"""Fork: a run restored at time T, with changed rules, continued by the same agents; and the comparison.

The agents' state at T is rebuilt by re-running the run deterministically to T (same scenario, same
seeds); the exchange's state at T is then checked against the original's journal replayed to T (the
same state hash, or the fork stops). The changes are applied to that state outside the journal,
because the core has no command for most of them (brackets, mark method): the fork's directory
starts from a snapshot of the changed state at T and holds its own journal from there, and its
run.json records the original, T, the changes and the seed. So a fork replays from its own files,
and a fork of a fork rebuilds through its parents.

Changes (`--set PATH=VALUE`):
- `instruments.SYMBOL.FIELD=V` (or `FIELD=V` for every instrument): any instrument field of the config
  (`mark_method`, `liquidation_fee`, `price_band`, `brackets`, ...), and `mmr_scale=2` to multiply
  every bracket's maintenance rate (cum re-derived so margin stays continuous);
- `insurance_fund_usdt=V`: the fund's cash becomes V (the difference is counted as paid in);
- `shock.pct=-5` (and `shock.over_s`, `shock.at_s` (default T), `shock.symbol`): a scripted
  index move added after T, as a feed's `shocks` entries are.
With `--seed N` the agents, latencies and index feed draw from seed N after T.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..config import layer
from ..core.engine import Exchange
from ..core.instruments import Instrument, instrument_from_config
from ..persistence import write_snapshot
from .overrides import parse_assignment
from .replay import replay
from .runner import (
    NS, agent_rng, feed_seed, finish, open_outputs, read_run_meta, scenario_of, start, build, write_run_meta,
)
from .feed import Shock
from .simulation import Simulation

FIXED_FIELDS = ("symbol", "tick_size", "lot_step", "cash_per_tick_lot")  # positions are counted in these


def parse_changes(changes: dict[str, Any], symbols: list[str]) -> tuple[dict[str, dict[str, Any]], int | None, dict]:
    """(instrument config changes by symbol, new fund cash or None, shock fields)."""
    inst: dict[str, dict[str, Any]] = {}
    fund = None
    shock: dict[str, Any] = {}
    for path, value in changes.items():
        keys = path.split(".")
        if keys[0] == "insurance_fund_usdt" and len(keys) == 1:
            fund = int(Decimal(str(value)) * 1_000_000)
            if not 0 <= fund <= 10**18:
                raise ValueError(f"insurance_fund_usdt {value!r} is out of range")
        elif keys[0] == "shock" and len(keys) == 2 and keys[1] in ("pct", "over_s", "at_s", "symbol"):
            shock[keys[1]] = value
        elif keys[0] == "instruments" and len(keys) == 3:
            if keys[1] not in symbols:
                raise ValueError(f"fork change {path!r}: no instrument {keys[1]!r} (have {', '.join(symbols)})")
            inst.setdefault(keys[1], {})[keys[2]] = value
        elif len(keys) == 1:
            for s in symbols:
                inst.setdefault(s, {})[keys[0]] = value
        else:
            raise ValueError(f"fork change {path!r}: give instruments.SYMBOL.FIELD, FIELD, insurance_fund_usdt "
                             f"or shock.pct/over_s/at_s/symbol")
    if shock and "pct" not in shock:
        raise ValueError("a fork shock needs shock.pct (e.g. -5)")
    return inst, fund, shock


def changed_instrument(current: Instrument, raw: dict[str, Any], change: dict[str, Any]) -> Instrument:
    """The current instrument with the fields the config change alters (others keep their value at T,
    including any set by SetInstrumentParam during the run)."""
    change = dict(change)
    scale = change.pop("mmr_scale", None)
    if scale is not None:
        rows = change.get("brackets", raw["brackets"])
        change["brackets"] = [{k: v for k, v in row.items() if k != "cum"} | {"mmr": str(Decimal(str(row["mmr"]))
                                                                                        * Decimal(str(scale)))}
                              for row in rows]
    before = instrument_from_config(current.symbol, raw)
    after = instrument_from_config(current.symbol, layer(raw, change))
    altered = {f.name: getattr(after, f.name) for f in fields(Instrument)
               if f.name != "bracket_floors" and getattr(after, f.name) != getattr(before, f.name)}
    fixed = sorted(set(altered) & set(FIXED_FIELDS))
    if fixed:
        raise ValueError(f"a fork cannot change {', '.join(fixed)}: positions and orders are counted in them")
    if not altered:
        raise ValueError(f"fork change {change} alters nothing of {current.symbol}")
    return current.with_changes(**altered)


def apply_changes(sim: Simulation, changes: dict[str, Any], at_s: float, seed: int | None) -> None:
    """Change the rules of a simulation stopped at at_s (see the module's docstring)."""
    ex = sim.exchange
    inst_changes, fund, shock = parse_changes(changes, list(ex.instruments))
    raw = sim.scenario.config.raw["instruments"]
    new = Exchange.from_snapshot(ex.snapshot(), ex.venue, tuple(ex.collateral.assets.values()))
    for symbol, change in inst_changes.items():
        new.instruments[symbol] = changed_instrument(new.instruments[symbol], raw[symbol], change)
    if fund is not None:
        delta = fund - new.insurance_fund
        new.insurance_fund += delta
        new.insurance_seed += delta
    for account in new.accounts:  # thresholds depend on the rules: every account is re-indexed
        new.dirty[account] = None
    new.breach_entries()
    sim.exchange = sim.kernel.ex = sim.recorder.ex = new
    if shock:
        symbol = shock.get("symbol", sim.kernel.feeds[0].inst.symbol)
        feed = next((f for f in sim.kernel.feeds if f.inst.symbol == symbol), None)
        if feed is None:
            raise ValueError(f"fork shock: no index feed for {symbol!r}")
        feed.shocks.append(Shock(float(shock.get("at_s", at_s)), float(shock["pct"]), float(shock.get("over_s", 60.0))))
    if seed is not None:
        for i, agent in enumerate(sim.agents):
            agent.ctx.rng.setstate(agent_rng(seed, i).getstate())
            lat = sim.kernel.latencies[i]
            if lat is not None:
                lat.rng.setstate(agent_rng(seed, i, 1).getstate())
        for i, feed in enumerate(sim.kernel.feeds):
            feed.reseed(feed_seed(seed, i))


def rebuild(meta: dict[str, Any], until_s: float, progress: Callable[[int], None] | None = None) -> Simulation:
    """The simulation of a run's run.json, run to until_s (through its parents for a fork)."""
    fork = meta.get("fork")
    if fork is None:
        sim = build(scenario_of(meta))
        start(sim)
    else:
        if until_s < fork["at_s"]:
            raise ValueError(f"this run is a fork at {fork['at_s']} s: fork it at or after that")
        sim = rebuild(fork["parent"], fork["at_s"], progress)
        apply_changes(sim, fork["changes"], fork["at_s"], fork["seed"])
    sim.kernel.run(int(until_s * NS), progress)
    return sim


def fork(run_dir: str | Path, at_s: float, changes: dict[str, Any], seed: int | None, out_dir: str | Path,
         progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Fork run_dir at at_s into out_dir; returns the fork's summary."""
    run_dir, out = Path(run_dir), Path(out_dir)
    if out.resolve() == run_dir.resolve():
        raise ValueError("the fork needs its own directory")
    meta = read_run_meta(run_dir)
    duration = float(meta["scenario"].get("duration_s", 600))
    if not 0 < at_s < duration:
        raise ValueError(f"--at {at_s}: the run lasts {duration} s")
    sim = rebuild(meta, at_s, progress)
    original, _ = replay(run_dir, until_s=at_s)
    if original.state_hash() != sim.exchange.state_hash():
        raise ValueError(f"re-running {run_dir} to {at_s} s does not reproduce its journal there (has the code or "
                         f"the config changed since it ran?)")
    apply_changes(sim, changes, at_s, seed)
    open_outputs(sim, out)
    write_snapshot(out, sim.exchange)
    write_run_meta(out, sim.scenario, fork={"of": str(run_dir), "at_s": at_s, "changes": changes, "seed": seed,
                                           "state_hash_at_fork": sim.exchange.state_hash(), "parent": meta})
    sim.kernel.run(int(sim.scenario.duration_s * NS), progress)
    return finish(sim)


def fork_main(argv: list[str]) -> int:
    """python -m exchange fork RUN_DIR --at T [--set PATH=VALUE ...] [--seed N] [--out DIR]"""
    from .cli import progress_bar
    from .fork_report import compare_runs, write_fork_report

    p = argparse.ArgumentParser(prog="python -m exchange fork",
                                description="Restore a run at T, change rules, continue; compare after T.")
    p.add_argument("run_dir")
    p.add_argument("--at", type=float, required=True, metavar="T", help="seconds of virtual time")
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", help="a rule change (repeatable)")
    p.add_argument("--seed", type=int, default=None, help="draw randomness from this seed after T")
    p.add_argument("--out", default=None, help="the fork's run directory (default RUN_DIR-fork-T)")
    args = p.parse_args(argv)
    out = Path(args.out or f"{args.run_dir.rstrip('/')}-fork-{args.at:g}")
    try:
        changes = dict(parse_assignment(s) for s in args.set)
        meta = read_run_meta(args.run_dir)
        total = int(float(meta["scenario"].get("duration_s", 600)) * NS)
        bar = progress_bar(total, f"fork at {args.at:g} s")
        fork(args.run_dir, args.at, changes, args.seed, out, bar)
        bar(total)
        result = compare_runs(args.run_dir, out, args.at)
    except (FileNotFoundError, ValueError) as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 2
    page = write_fork_report(result, out)
    print(result["table"])
    print(f"\nfork: {out}  report: {page}  comparison: {out / 'fork_report.json'}")
    return 0
