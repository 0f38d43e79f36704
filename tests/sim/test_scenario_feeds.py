"""Scenario feeds are the server's feeds: CSV replay in virtual time, one table giving one path in both
shells, and old-style scenario files refused with the new names."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.config import load_config
from exchange.core.commands import IndexPrice
from exchange.persistence import read_journal
from exchange.sim.feed import build_feed, parse_feed
from exchange.sim.runner import run_scenario
from exchange.sim.scenario import parse_scenario

AGENTS = [
    {"kind": "market_maker", "count": 2, "params": {"deposit_usdt": 1000000, "size_usdt": 20000,
                                                    "stress_action": "widen"}},
    {"kind": "noise", "count": 4, "params": {"mean_interval_s": 2, "size_usdt": 2000}},
]


def scenario(feed: dict, base: Path, duration_s: float = 40):
    return parse_scenario({"name": "feeds", "seed": 3, "duration_s": duration_s, "symbols": ["BTCUSDT"],
                           "feed": {"BTCUSDT": feed}, "agents": AGENTS}, base)


def index_path(run_dir: Path) -> list[tuple[float, int]]:
    return [(env.ts_ns / 1e9, env.command.price_ticks) for env in read_journal(run_dir / "journal.msgpack")
            if type(env.command) is IndexPrice]


def test_csv_replay_drives_the_index_of_a_simulation(tmp_path):
    """Rows at 0, 10 and 20 s are held until the next; a -10% shock at 25 s lands on top; the book
    follows the index down."""
    (tmp_path / "btc.csv").write_text("t_seconds,price\n0,60000\n10,59000\n20,61000.5\n")
    feed = {"kind": "csv", "path": "btc.csv", "interval_s": 1, "shocks": [{"at_s": 25, "pct": -10}]}
    sim, summary = run_scenario(scenario(feed, tmp_path), tmp_path / "run")
    path = index_path(tmp_path / "run")
    assert [t for t, _ in path] == [float(t) for t in range(41)]
    expected = [600000] * 10 + [590000] * 10 + [610005] * 6 + [549004] * 15  # 610005 x 0.9, rounded
    assert [p for _, p in path] == expected
    assert summary["price"]["index_start"] == 60000.0
    ex = sim.exchange
    m = ex.markets["BTCUSDT"]
    assert m.index == 549004 and abs(m.mark - m.index) < m.index // 100
    book = ex.books["BTCUSDT"]
    assert 0 < book.best_bid < book.best_ask < 549004 * 101 // 100
    ex.check_invariants()


def test_one_table_gives_the_same_index_path_in_a_scenario_and_in_serve(tmp_path):
    """The virtual-time kernel and the server build the feed from the same table with the same code:
    a seeded gbm feed with a shock yields the same ticks at the same clock seconds."""
    table = {"kind": "gbm", "price": "60000", "seed": 11, "volatility": 2.0, "jumps_per_hour": 600,
             "jump_std": 0.01, "interval_s": 0.5, "shocks": [{"at_s": 5, "pct": -20, "over_s": 4}]}
    run_scenario(scenario(table, tmp_path, duration_s=12), tmp_path / "run")
    served = build_feed(parse_feed("BTCUSDT", table, tmp_path), load_config().instruments[0])  # as serve does
    expected = [(0.0, served.at(0.0))] + [(0.5 * k, served.step()) for k in range(1, 25)]
    assert index_path(tmp_path / "run") == expected
    assert expected[-1][1] < expected[9][1] * 0.85  # the shock is in it


@pytest.mark.parametrize("data, error", [
    ({"feed": {"BTCUSDT": {"initial": "60000", "vol_annual": 0.5}}}, "'initial' is now called 'price'"),
    ({"feed": {"BTCUSDT": {"kind": "gbm", "price": "60000"}},
      "shocks": [{"symbol": "BTCUSDT", "at_s": 1, "change": -0.1}]}, "change -0.07 is pct -7"),
    ({"feed": {"BTCUSDT": {"kind": "static"}}}, "a static scenario feed needs a price"),
    ({"feed": {}}, "one \\[feed.SYMBOL\\] table per instrument"),
])
def test_scenario_feed_tables_are_checked(data, error):
    with pytest.raises(ValueError, match=error):
        parse_scenario({"symbols": ["BTCUSDT"], **data})
