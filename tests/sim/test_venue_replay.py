"""A run under another venue replays to the same state hash from its journal (run.json names the venue),
and its snapshots restore under that venue only."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from exchange.core.engine import Exchange
from exchange.sim.replay import replay
from exchange.sim.runner import build, run
from exchange.sim.scenario import load_scenario


@pytest.mark.parametrize("venue", ["hyperliquid", "dydx"])
def test_a_venue_run_replays_to_its_state_hash(venue, tmp_path):
    sc = load_scenario("venue_crash")
    sc = replace(sc, duration_s=420.0, agents=tuple(replace(a, count=40) if a.kind == "crowd" else a for a in sc.agents))
    sim = build(sc.with_venue(venue), tmp_path)
    summary = run(sim)
    assert summary["liquidations"]["triggered"] > 0 and sim.exchange.venue.name == venue
    assert json.loads((tmp_path / "run.json").read_text())["scenario"]["venue"] == venue
    ex, _ = replay(tmp_path)
    assert ex.state_hash() == summary["state_hash"]
    snap = sim.exchange.snapshot()
    assert snap["venue"] == venue
    assert Exchange.from_snapshot(snap, sim.exchange.venue).state_hash() == summary["state_hash"]
    with pytest.raises(ValueError, match="venue"):
        Exchange.from_snapshot(snap)
