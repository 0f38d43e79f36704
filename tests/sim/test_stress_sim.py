"""Long runs (`python -m pytest -m stress tests/sim`): full-size scenarios and a 1,000-agent swarm."""

from __future__ import annotations


import pytest

from clients.swarm import run_swarm
from .server_process import server_process
from exchange.sim.runner import run_scenario
from exchange.sim.scenario import load_scenario


@pytest.mark.stress
def test_cascade_1k_is_deterministic_and_conserves_cash(tmp_path):
    scenario = load_scenario("cascade_1k")
    sim, a = run_scenario(scenario, tmp_path / "a")
    sim.exchange.check_invariants()
    _, b = run_scenario(scenario, tmp_path / "b")
    assert a == b
    assert a["liquidations"]["accounts_liquidated"] > 100
    print("cascade_1k seed", scenario.seed, "journal", a["journal_sha256"])


@pytest.mark.stress
def test_thousand_agents_over_sockets(tmp_path):
    with server_process(tmp_path, "stress-admin") as port:
        result = run_swarm("classroom", 1000, "127.0.0.1", port, "stress-admin", workers=2, duration_s=30.0)
    assert result["failed"] == 0, result["failures"]
    assert sum(c.get("connected", 0) for c in result["by_kind"].values()) == 1000
    assert sum(c.get("fills", 0) for c in result["by_kind"].values()) > 100


@pytest.mark.stress
def test_the_workbench_on_the_demo(tmp_path):
    """The demo at full size: forensics finds a chained wave, a fork at minute 8 with doubled maintenance
    rates liquidates more, a fork with no change reproduces the run, the journal replays to its hash."""
    from exchange.sim.forensics import analyze
    from exchange.sim.fork import fork
    from exchange.sim.replay import replay

    _, summary = run_scenario(load_scenario("demo"), tmp_path / "demo")
    ex, _ = replay(tmp_path / "demo")
    assert ex.state_hash() == summary["state_hash"]
    wave = max(analyze(tmp_path / "demo")["waves"], key=lambda w: w["notional_usdt"])
    assert wave["liquidations"] > 50 and wave["depth"] >= 2 and wave["amplification"] > 1
    assert fork(tmp_path / "demo", 480, {}, None, tmp_path / "same")["state_hash"] == summary["state_hash"]
    doubled = fork(tmp_path / "demo", 480, {"mmr_scale": 2}, None, tmp_path / "mmr2")
    assert doubled["liquidations"]["accounts_liquidated"] > summary["liquidations"]["accounts_liquidated"]
    print("demo largest wave", wave["liquidations"], "depth", wave["depth"], "amplification", wave["amplification"])
