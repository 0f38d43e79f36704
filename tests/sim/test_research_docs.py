"""Every command of docs/research.md runs, in order, and writes what the page says: on the tiny
scenario instead of demo, with two seeds instead of fifty and T = 30 s instead of 480 s."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

from exchange.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "research.md").read_text()
TINY = str(Path(__file__).parent / "scenarios" / "tiny.toml")


def page_commands() -> list[list[str]]:
    block = re.search(r"```sh\n(.*?)```", PAGE, re.S).group(1)
    return [shlex.split(line)[3:] for line in block.splitlines() if line.startswith("python -m exchange ")]


def small(argv: list[str]) -> list[str]:
    subs = {"demo": TINY, "1-50": "1-2", "480": "30"}
    return [subs.get(a, a) for a in argv]


def test_the_pages_commands_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    commands = page_commands()
    assert [c[0] for c in commands] == ["simulate", "forensics", "replay", "replay", "fork", "sweep", "compare-margin"]
    for argv in commands:
        assert main(small(argv)) == 0, argv
    runs = tmp_path / "runs"
    assert {p.name for p in (runs / "demo").iterdir()} >= {"run.json", "journal.msgpack", "events.msgpack",
                                                            "summary.json", "report.html", "forensics.json",
                                                            "forensics.html"}
    assert "equal to summary.json" in capsys.readouterr().out
    fork = json.loads((runs / "demo-mmr2" / "run.json").read_text())["fork"]
    assert fork["at_s"] == 30 and fork["changes"] == {"mmr_scale": 2}
    assert list((runs / "demo-mmr2").glob("snapshot-*.msgpack")) and (runs / "demo-mmr2" / "fork_report.html").exists()
    header = (runs / "sweep-leverage" / "sweep.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["run", "seed", "crowd.leverage"] and "liquidated_share" in header
    assert len((runs / "sweep-leverage" / "sweep.csv").read_text().splitlines()) == 1 + 3 * 2
    assert (runs / "sweep-leverage" / "sweep_report.html").exists()
    assert {"compare.html", "compare_equity.png", "compare_loss_beyond.png", "compare_survival.png"} <= \
        {p.name for p in (runs / "demo-compare").iterdir()}


def test_the_sweep_file_shown_is_the_shipped_one():
    shown = re.search(r"```toml\n(scenario = .*?)```", PAGE, re.S).group(1)
    assert tomllib.loads(shown) == tomllib.loads((ROOT / "configs" / "sweeps" / "leverage.toml").read_text())
