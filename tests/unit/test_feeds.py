"""Index feeds (exchange/sim/feed.py, one model for scenarios and `serve`): seeded GBM, geometric
shock ramps, CSV replay, admin overrides, and the table parser's refusals."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from exchange.config import load_config
from exchange.runtime.clock import WallClock
from exchange.sim.feed import (
    CSVSource,
    GBMJumpSource,
    IndexFeed,
    Shock,
    StaticSource,
    build_feed,
    parse_feed,
)

BTC = load_config().instruments[0]  # tick 0.10, prices 556.80 .. 4529764


def test_gbm_is_reproducible_from_its_seed_and_jumps_move_it():
    def path(seed: int, jumps: float) -> list[int | None]:
        d = IndexFeed(BTC, GBMJumpSource(300_000.0, seed, 0.8, 0.0, jumps, 0.0, 0.05), 1.0)
        return [d.step() for _ in range(500)]
    assert path(3, 0.0) == path(3, 0.0)
    assert path(3, 0.0) != path(4, 0.0)
    calm, jumpy = path(3, 0.0), path(3, 3600.0)  # ~one jump per step
    assert max(abs(b - a) for a, b in itertools.pairwise(calm)) < 300  # 0.1% at 0.8 annual vol per second
    assert max(abs(b - a) for a, b in itertools.pairwise(jumpy)) > 3000


def test_scripted_shock_ramps_geometrically_then_holds():
    """-10% over 4 s from t=2: 30000 x 0.9^(k/4) at t = 2 + k, then held."""
    d = IndexFeed(BTC, StaticSource(300_000.0), 1.0, (Shock(at_s=2, pct=-10, over_s=4),))
    assert [d.step() for _ in range(8)] == [300000, 300000, 292201, 284605, 277206, 270000, 270000, 270000]


def test_shocks_compound_and_an_instant_shock_applies_at_once():
    d = IndexFeed(BTC, StaticSource(300_000.0), 1.0, (Shock(0, 100), Shock(1, -50, 0)))
    assert [d.at(0), d.at(0.5), d.at(1), d.at(1.5)] == [300000, 600000, 600000, 300000]


def test_admin_set_and_shock_continue_from_the_new_level():
    d = IndexFeed(BTC, StaticSource(None), 1.0)
    assert d.step() is None
    d.set_price(310000)
    assert d.step() == 310000
    d.shock(-50, 0)
    assert d.step() == 155000


def test_the_index_stays_in_the_instruments_price_range():
    d = IndexFeed(BTC, StaticSource(6000.0), 1.0, (Shock(1, -99),))
    assert [d.at(0), d.at(2)] == [6000, BTC.min_price_ticks]


def test_csv_replay_holds_the_last_price(tmp_path: Path):
    (tmp_path / "p.csv").write_text("t_seconds,price\n# a comment\n0,30000\n2,33000.5\n3.5,27000\n")
    src = CSVSource(tmp_path / "p.csv", BTC.tick_size)
    assert [src.price(t) for t in (0, 1, 2, 3, 4, 99)] == [300000, 300000, 330005, 330005, 270000, 270000]
    d = build_feed(parse_feed("BTCUSDT", {"kind": "csv", "path": "p.csv", "interval_s": 2,
                                          "shocks": [{"at_s": 0, "pct": 100, "over_s": 0}]}, tmp_path), BTC)
    assert [d.step(), d.step()] == [660010, 540000]


@pytest.mark.parametrize("text, error", [
    ("t,price\n", "no price rows"),
    ("0,30000\nsoon,31000\n", "bad row"),
    ("0,30000\n1,-5\n", "price > 0"),
    ("0,30000\n1\n", "bad row"),
])
def test_csv_refuses_bad_files(tmp_path: Path, text: str, error: str):
    (tmp_path / "p.csv").write_text(text)
    with pytest.raises(ValueError, match=error):
        CSVSource(tmp_path / "p.csv", BTC.tick_size)


def test_gbm_table_seeds_and_defaults():
    """A gbm table without a seed takes the shell's default; with one, it is the same path everywhere."""
    table = {"kind": "gbm", "price": "30000", "volatility": 0.9, "jumps_per_hour": 5}
    spec = parse_feed("BTCUSDT", table, Path("."))
    assert (spec.kind, spec.price, spec.volatility, spec.drift, spec.jump_std, spec.seed) == \
        ("gbm", "30000", 0.9, 0.0, 0.01, None)
    def path(spec, default_seed):
        feed = build_feed(spec, BTC, default_seed)
        return [feed.step() for _ in range(50)]
    assert path(spec, 1) != path(spec, 2)
    seeded = parse_feed("BTCUSDT", {**table, "seed": 5}, Path("."))
    assert path(seeded, 1) == path(seeded, 2) == path(spec, 5)


@pytest.mark.parametrize("table, error", [
    ({"kind": "walk"}, "kind 'walk' is not one of static, gbm, csv"),
    ({"kind": "gbm", "price": "1", "vol_annual": 0.5}, "'vol_annual' is now called 'volatility'"),
    ({"kind": "gbm", "initial": "60000"}, "'initial' is now called 'price'"),
    ({"kind": "static", "price": "1", "volatility": 0.5}, "'volatility' is a parameter of kind 'gbm'"),
    ({"kind": "csv", "path": "x.csv", "price": "1"}, "'price' is a parameter of kind 'static'"),
    ({"kind": "static", "colour": "red"}, "unknown parameter 'colour'"),
    ({"kind": "gbm"}, "needs a start price"),
    ({"kind": "csv"}, "needs a path"),
    ({"price": "-3"}, "must be positive"),
    ({"price": "abc"}, "not a decimal"),
    ({"interval_s": 0}, "interval_s = 0 is outside"),
    ({"interval_s": "1"}, "interval_s must be a number"),
    ({"kind": "gbm", "price": "1", "seed": 1.5}, "seed must be an integer"),
    ({"kind": "gbm", "price": "1", "volatility": -1}, "volatility = -1 is outside"),
    ({"shocks": {"at_s": 1}}, "shocks must be a list"),
    ({"shocks": [{"at_s": 1}]}, "a shock is"),
    ({"shocks": [{"at_s": 1, "pct": -5, "when": 3}]}, "a shock is"),
    ({"shocks": [{"at_s": 1, "pct": -100}]}, "shock pct = -100 is outside"),
])
def test_feed_tables_are_validated(table: dict, error: str):
    with pytest.raises(ValueError, match=error):
        parse_feed("BTCUSDT", table, Path("."))


def test_wall_clock_speed_factor():
    clock = WallClock(speed=1000.0, start_ns=0)
    t0 = clock.now_ns()
    time.sleep(0.01)
    assert clock.now_ns() - t0 >= 1000 * 10_000_000  # at least 10 clock seconds for 10 ms of sleep
    assert clock.wall_seconds(5.0) == 0.005
