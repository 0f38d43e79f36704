"""Sweeps: the product of axes x seeds, rows equal to single runs, resume, local vs Ray byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exchange.sim.cli import sweep_main
from exchange.sim.overrides import apply_overrides, parse_assignment
from exchange.sim.runner import run_scenario
from exchange.sim.scenario import load_scenario_data, parse_scenario
from exchange.sim.sweep import ROWS_NAME, Sweep, parse_seeds, read_rows, run_sweep, summary_row, sweep_from_sets

TINY = str(Path(__file__).parent / "scenarios" / "tiny.toml")


def test_overrides_reach_agent_groups_and_tables():
    data, _ = load_scenario_data(TINY)
    out = apply_overrides(data, dict(parse_assignment(s) for s in (
        "crowd.leverage=20", "crowd.count=7", "feed.BTCUSDT.volatility=0.9", "feed.BTCUSDT.shocks.0.pct=-10",
        "instruments.BTCUSDT.mark_method=index", "insurance_fund_usdt=\"5\"")))
    crowd = next(g for g in out["agents"] if g["kind"] == "crowd")
    assert crowd["params"]["leverage"] == 20 and crowd["count"] == 7
    assert out["feed"]["BTCUSDT"]["volatility"] == 0.9 and out["feed"]["BTCUSDT"]["shocks"][0]["pct"] == -10
    assert out["insurance_fund_usdt"] == "5"
    sc = parse_scenario(out)
    assert sc.config.instruments[0].mark_method == "index"
    assert {a.leverage for a in __import__("exchange.sim.runner", fromlist=["build"]).build(sc).agents
            if a.kind == "crowd"} == {20}
    assert data["agents"][2].get("count") == 20  # the original is untouched
    for bad in ("nobody.x=1", "crowd=1", "feed.BTCUSDT.shocks.5.pct=1", "shocks.0.pct=1", "no_equals"):
        with pytest.raises(ValueError):
            apply_overrides(data, dict([parse_assignment(bad)]))


def test_seeds_and_task_order():
    assert parse_seeds("1-3,7,2") == (1, 2, 3, 7)
    for bad in ("x", "3-1", "1-"):
        with pytest.raises(ValueError):
            parse_seeds(bad)
    tasks = Sweep("tiny", (1, 2), {"a.x": (1, 2), "b.y": ("p", "q")}).tasks()
    assert [(t["params"]["a.x"], t["params"]["b.y"], t["seed"]) for t in tasks] == [
        (1, "p", 1), (1, "p", 2), (1, "q", 1), (1, "q", 2), (2, "p", 1), (2, "p", 2), (2, "q", 1), (2, "q", 2)]
    assert len({t["run"] for t in tasks}) == 8
    for bad in ({"seed": [1, 2]}, {"agents": [[], []]}, {"crowd.leverage": []}):
        with pytest.raises(ValueError):
            sweep_from_sets("tiny", "1", bad)


def test_sweep_rows_match_single_runs_and_resume(tmp_path):
    """Each row is the summary of the same run done alone; a rerun keeps finished rows and runs the rest."""
    sweep = Sweep(TINY, (1, 2), {"crowd.leverage": (10, 50)})
    rows = run_sweep(sweep, tmp_path, workers=2)
    assert [(r["crowd.leverage"], r["seed"]) for r in rows] == [(10, 1), (10, 2), (50, 1), (50, 2)]
    data, base = load_scenario_data(TINY)
    _, alone = run_scenario(parse_scenario(apply_overrides(data, {"crowd.leverage": 50}), base).with_seed(2))
    assert {k: rows[3][k] for k in summary_row(alone)} == summary_row(alone)
    assert rows[2]["accounts_liquidated"] > rows[0]["accounts_liquidated"]  # 50x liquidates more than 10x
    summaries = sorted((tmp_path / "runs").glob("*/summary.json"))
    assert len(summaries) == 4 and not list((tmp_path / "runs").glob("*/journal.msgpack"))
    csv_before = (tmp_path / "sweep.csv").read_bytes()
    lines = (tmp_path / ROWS_NAME).read_text().splitlines()
    (tmp_path / ROWS_NAME).write_text("\n".join(lines[:2]) + "\n" + lines[2][:40])  # two kept, one torn
    seen = []
    run_sweep(sweep, tmp_path, workers=1, progress=lambda done, total, kept: seen.append((done, total, kept)))
    assert seen[0] == (2, 4, 2) and seen[-1] == (4, 4, 2)
    assert (tmp_path / "sweep.csv").read_bytes() == csv_before
    assert len(read_rows(tmp_path / ROWS_NAME)) == 4


def test_sweep_command_with_a_sweep_file_and_report(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(f'scenario = "{TINY}"\nseeds = "1-2"\n[set]\n"crowd.leverage" = [20, 100]\n'
                    f'"duration_s" = 60\n')
    assert sweep_main([str(spec), "--out", str(tmp_path / "out"), "--workers", "2", "--journals"]) == 0
    out = tmp_path / "out"
    assert "4 runs" in capsys.readouterr().out
    assert json.loads((out / "sweep.json").read_text())["fixed"] == {"duration_s": 60}
    assert len(list((out / "runs").glob("*/journal.msgpack"))) == 4  # --journals keeps them (for forensics)
    page = (out / "sweep_report.html").read_text()
    assert "sweep_0.png" in page and (out / "sweep_0.png").read_bytes()[:4] == b"\x89PNG"
    assert sweep_main([TINY, "--set", "nobody.x=[1,2]", "--out", str(tmp_path / "bad")]) == 2


@pytest.mark.ray
def test_ray_backend_gives_the_same_rows(tmp_path):
    """A real local Ray cluster runs the same sweep: sweep.csv byte for byte equal to local processes."""
    sweep = Sweep(TINY, (1, 2), {"crowd.leverage": (10, 50)}, {"duration_s": 60})
    run_sweep(sweep, tmp_path / "local", workers=2)
    run_sweep(sweep, tmp_path / "ray", backend="ray", workers=2)
    assert (tmp_path / "ray" / "sweep.csv").read_bytes() == (tmp_path / "local" / "sweep.csv").read_bytes()
