"""Index feeds: seeded, scripted shocks ramp exactly, CSV replay holds the last price, admin override."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from exchange.config import load_config
from exchange.runtime.clock import WallClock
from exchange.runtime.feeds import (
    CSVSource,
    GBMJumpSource,
    IndexDriver,
    Shock,
    StaticSource,
    driver_from_config,
)

BTC = load_config().instruments[0]  # tick 0.10


def test_gbm_is_reproducible_from_its_seed_and_jumps_move_it():
    def path(seed: int, jumps: float) -> list[int]:
        d = IndexDriver(BTC, GBMJumpSource(30000.0, seed, 0.8, 0.0, jumps, 0.0, 0.05), 1.0)
        return [d.step() for _ in range(500)]
    assert path(3, 0.0) == path(3, 0.0)
    assert path(3, 0.0) != path(4, 0.0)
    calm, jumpy = path(3, 0.0), path(3, 3600.0)  # ~one jump per step
    assert max(abs(b - a) for a, b in itertools.pairwise(calm)) < 300  # 0.1% at 0.8 annual vol per second
    assert max(abs(b - a) for a, b in itertools.pairwise(jumpy)) > 3000


def test_scripted_shock_ramps_linearly_then_holds():
    d = IndexDriver(BTC, StaticSource(30000.0), 1.0, (Shock(at_s=2, pct=-10, over_s=4),))
    assert [d.step() for _ in range(8)] == [300000, 300000, 292500, 285000, 277500, 270000, 270000, 270000]


def test_admin_set_and_shock_continue_from_the_new_level():
    d = IndexDriver(BTC, StaticSource(None), 1.0)
    assert d.step() is None
    d.set_price(310000)
    assert d.step() == 310000
    d.shock(-50, 0)
    assert d.step() == 155000


def test_csv_replay_and_config(tmp_path: Path):
    (tmp_path / "p.csv").write_text("t_seconds,price\n0,100\n2,110\n3.5,90\n")
    src = CSVSource(tmp_path / "p.csv")
    assert [src.price(t) for t in (0, 1, 2, 3, 4, 99)] == [100, 100, 110, 110, 90, 90]
    d = driver_from_config(BTC, {"kind": "csv", "path": "p.csv", "interval_s": 2,
                                 "shocks": [{"at_s": 0, "pct": 100, "over_s": 0}]}, tmp_path)
    assert [d.step(), d.step()] == [2200, 1800]
    with pytest.raises(ValueError, match="kind 'walk'"):
        driver_from_config(BTC, {"kind": "walk"}, tmp_path)


def test_wall_clock_speed_factor():
    clock = WallClock(speed=1000.0, start_ns=0)
    t0 = clock.now_ns()
    time.sleep(0.01)
    assert clock.now_ns() - t0 >= 1000 * 10_000_000  # at least 10 clock seconds for 10 ms of sleep
    assert clock.wall_seconds(5.0) == 0.005
