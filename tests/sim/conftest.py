"""A small scenario: a leveraged long crowd, makers and noise, an 8% drop at t=100 s; runs in ~1 s."""

from __future__ import annotations

from typing import Any

import pytest

from exchange.sim.scenario import Scenario, parse_scenario

SMALL: dict[str, Any] = {
    "name": "small",
    "seed": 5,
    "duration_s": 240,
    "symbols": ["BTCUSDT"],
    "insurance_fund_usdt": "100000",
    "feed": {"BTCUSDT": {"kind": "gbm", "price": "60000", "interval_s": 1, "volatility": 0.3,
                         "shocks": [{"at_s": 100, "over_s": 60, "pct": -8}]}},
    "agents": [
        {"kind": "market_maker", "count": 2, "params": {"deposit_usdt": 1000000, "size_usdt": 40000,
                                                        "stress_bps": 50, "withdraw_s": 10}},
        {"kind": "noise", "count": 8, "latency_ms": 20, "jitter_ms": 10, "params": {"mean_interval_s": 10}},
        {"kind": "crowd", "count": 40, "params": {"leverages": [20, 50, 100], "long_bias": 0.9,
                                                  "entry_window_s": 60, "hold_mean_s": 3600,
                                                  "stop_fraction": 0.2}},
        {"kind": "whale", "count": 1, "params": {"at_s": 120, "sweep_usdt": 500000, "sweeps": 2}},
    ],
}


@pytest.fixture
def small() -> Scenario:
    return parse_scenario(SMALL)
