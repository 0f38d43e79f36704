"""replay proves a run's state hash; fork restores a run at T, changes rules, continues, compares."""

from __future__ import annotations

import json

import pytest

from exchange.sim.fork import fork, fork_main
from exchange.sim.fork_report import compare_runs
from exchange.sim.replay import replay, replay_main
from exchange.sim.runner import run_scenario

AT = 90.0  # before the small scenario's 8% drop at t = 100 s


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    from tests.sim.conftest import SMALL
    from exchange.sim.scenario import parse_scenario

    out = tmp_path_factory.mktemp("original")
    _, summary = run_scenario(parse_scenario(SMALL), out)
    return out, summary


def test_replay_proves_the_state_hash(original, tmp_path, capsys):
    out, summary = original
    assert replay_main([str(out)]) == 0
    text = capsys.readouterr().out
    assert summary["state_hash"] in text and "equal to summary.json" in text
    ex, n = replay(out, until_s=AT)
    assert ex.ts_ns <= AT * 1e9 and 0 < n < summary["commands"]
    assert replay_main([str(out), "--until", str(AT)]) == 0
    assert ex.state_hash() in capsys.readouterr().out
    bad = tmp_path / "bad"  # a copy whose summary claims another hash
    bad.mkdir()
    for name in ("journal.msgpack", "run.json"):
        (bad / name).write_bytes((out / name).read_bytes())
    (bad / "summary.json").write_text(json.dumps({"state_hash": "0" * 64}))
    assert replay_main([str(bad)]) == 1
    assert replay_main([str(tmp_path / "missing")]) == 2


def test_fork_without_change_reproduces_the_original(original, tmp_path):
    out, summary = original
    forked = fork(out, AT, {}, None, tmp_path / "same")
    assert forked["state_hash"] == summary["state_hash"]
    assert forked["per_agent"] == summary["per_agent"]
    result = compare_runs(out, tmp_path / "same", AT)
    assert result["identical_after_fork"] and not result["liquidated_only_in_fork"]
    meta = json.loads((tmp_path / "same" / "run.json").read_text())["fork"]
    assert meta["at_s"] == AT and meta["changes"] == {}
    assert list((tmp_path / "same").glob("snapshot-*.msgpack"))  # the fork starts from its own snapshot


def test_fork_with_higher_maintenance_rate_liquidates_more(original, tmp_path, capsys):
    """Tripling every bracket's maintenance rate at t = 90 s: more accounts are liquidated after T, each
    one the original liquidated too or one it did not; the fork replays from its own files."""
    out, summary = original
    assert fork_main([str(out), "--at", str(AT), "--set", "mmr_scale=3", "--out", str(tmp_path / "mmr")]) == 0
    table = capsys.readouterr().out
    assert "mmr_scale=3" in table and "liquidated only in the fork" in table
    report = json.loads((tmp_path / "mmr" / "fork_report.json").read_text())
    figures = report["figures"]["accounts_liquidated"]
    assert figures["fork"] > figures["original"]
    assert report["liquidated_only_in_fork"] and not report["identical_after_fork"]
    assert replay_main([str(tmp_path / "mmr")]) == 0  # its snapshot + journal give its own final state
    assert (tmp_path / "mmr" / "fork.png").read_bytes()[:4] == b"\x89PNG"
    # the changed rules are in the fork's state, not in the original's
    ex, _ = replay(tmp_path / "mmr", until_s=AT + 1)
    assert ex.instruments["BTCUSDT"].brackets[0].mmr_ppm == 3 * 4_000


def test_fork_changes_fund_mark_method_and_seed(original, tmp_path):
    out, summary = original
    forked = fork(out, AT, {"insurance_fund_usdt": 0, "mark_method": "index", "shock.pct": -5,
                            "shock.over_s": 5}, 9, tmp_path / "many")
    ex, _ = replay(tmp_path / "many", until_s=AT)
    assert ex.insurance_fund == 0 and ex.instruments["BTCUSDT"].mark_method == "index"
    ex.check_invariants()  # the fund's cash changed with its seed: cash is still conserved
    assert forked["state_hash"] != summary["state_hash"]
    assert forked["price"]["mark_min"] < summary["price"]["mark_min"]  # the extra 5% drop
    again = fork(tmp_path / "many", AT + 20, {}, None, tmp_path / "fork_of_fork")  # rebuilt through its parent
    assert again["state_hash"] == forked["state_hash"]
    for bad in ({"tick_size": "1"}, {"nothing.here.at.all": 1}, {"shock.over_s": 3}, {"mark_method": "median"}):
        with pytest.raises(ValueError):
            fork(out, AT, bad, None, tmp_path / "bad")
    with pytest.raises(ValueError):
        fork(out, 10_000, {}, None, tmp_path / "late")
