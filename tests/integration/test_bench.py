"""Every benchmark runs at a tiny size and prints well-formed result lines; no figure is asserted.

`python -m bench NAME` is run as a process, as a person runs it (the gateway bench starts a real
server and the C load generator). Marked `bench`: a few seconds each; the three that take longer
even at their smallest run with the stress tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

TINY = {
    "book": ["--events", "3000", "--repeats", "1"],
    "liquidation": ["--sizes", "50,200", "--ticks", "20", "--repeats", "2", "--breach-ticks", "5",
                    "--min-liquidated", "10"],
    "gateway": ["--clients", "2", "--warmup", "0.1", "--seconds", "0.2", "--repeats", "1"],
    "simulation": ["--part", "mix", "--agents", "20", "--steps", "60"],
    "journal": ["--records", "2000"],
    "http": ["--clients", "1", "--seconds", "0.3", "--workers", "1"],
    "flood": ["--connections", "2", "--seconds", "0.3", "--window", "10"],
    "sweep": ["--runs", "2"],
    "live": ["--seconds", "0.5", "--rounds", "1", "--warmup", "0.5"],
    "classroom": ["--seconds", "0.5", "--students", "3"],
}
SLOW = {"flood", "sweep", "live", "classroom"}  # 5-15 s even at their smallest: with the stress tests (-m stress)
# (classroom's tiny run is also in the default run, as docs/classroom.md's command: tests/classroom/test_doc.py)


def case(name: str) -> object:
    if name in SLOW:
        return pytest.param(name, marks=pytest.mark.stress)
    return name


def run_bench(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[list[dict], str]:
    out = subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, capture_output=True, text=True,
                         timeout=120, env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    for line in lines:
        assert isinstance(line["bench"], str) and isinstance(line["unit"], str), line
        assert isinstance(line["value"], int | float) and not isinstance(line["value"], bool), line
        assert line["build"] == ("compiled" if os.environ.get("LIQUIDEX_MYPYC") == "1" else "pure"), line
    return lines, out.stderr


@pytest.mark.parametrize("name", [case(n) for n in sorted(TINY)])
def test_each_bench_prints_result_lines(name: str, tmp_path: Path) -> None:
    if name == "gateway" and not (shutil.which("cc") or shutil.which("gcc")):
        pytest.fail("the gateway bench needs a C compiler for its load generator (apt-get install gcc)")
    lines, _ = run_bench(name, *TINY[name], cwd=tmp_path)
    assert lines and all(line["bench"].startswith(name) for line in lines)
    benches = {line["bench"] for line in lines}
    if name == "book":
        assert benches == {"book.textbook", "book.bare", "book.apply", "book.apply_margin"}
        assert all(line.get("same_fills", True) for line in lines)
        # the compiled core's own calls are not Python calls: only the calls into it (C calls) count there
        assert lines[1]["calls_per_order"] + lines[1]["c_calls_per_order"] > 0 and lines[2]["events_per_fill"] > 0
    if name == "liquidation":
        per_account = [line for line in lines if line["bench"] == "liquidation.per_account"]
        assert [line["accounts"] for line in per_account] == [50, 200]
        assert all(line["liquidated"] > 0 and line["calls_per_liquidation"] > 0 for line in per_account)
        assert [line["populations"] for line in per_account] == [2, 2]
        assert "liquidation.quiet_tick_growth" in benches
    if name == "gateway":
        runs = [line for line in lines if line["bench"] != "gateway.generator"]
        assert {(line["clients"], line["bench"]) for line in runs} == {
            (2, "gateway.request_response"), (2, "gateway.pipelined")}
        assert all(line["errors"] == 0 and line["undrained"] == 0 and line["requests_per_s"] > 0 for line in runs)
        assert lines[-1]["bench"] == "gateway.generator"


def test_every_bench_has_a_tiny_run_here() -> None:
    from bench.__main__ import BENCHES
    assert set(BENCHES) == {*TINY, "pymarketsim"}  # pymarketsim needs its checkout: tested without it below


def test_pymarketsim_without_its_checkout_says_how_to_get_it(tmp_path: Path) -> None:
    lines, note = run_bench("pymarketsim", "--steps", "20", cwd=tmp_path, env={"PYMARKETSIM_DIR": str(tmp_path)})
    assert lines == [] and "git clone https://github.com/dipplestix/pymarketsim" in note


def test_profile_writes_a_summary_under_runs(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "bench", "profile", "book", *TINY["book"]], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    (report,) = (tmp_path / "runs").glob("profile-book-*.txt")
    text = report.read_text()
    assert "by tottime" in text and "by cumtime" in text and "replay_apply" in text
    assert text.split("\n")[1].split()[1] == "calls"  # "<n> calls (<m> primitive) in <s> s"


def test_unknown_bench_is_refused(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "bench", "nosuch"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 2 and "choose from" in out.stderr
