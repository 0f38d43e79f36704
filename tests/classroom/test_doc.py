"""docs/classroom.md is true: its commands run (the game command on the shipped game file, its curl
calls against that server, the export, the bench), what the game command prints is what the guide
shows, and its tables name every route, every [game] key and every CSV column."""

from __future__ import annotations

import json
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from exchange.runtime.classroom import routes
from exchange.runtime.classroom.config import GAME_KEYS
from exchange.runtime.classroom.report import CSV_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "classroom.md").read_text()
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", DOC, re.S)
COMMANDS = [line for kind, text in BLOCKS if kind == "sh" for line in text.strip().splitlines()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_tables_name_every_route_game_key_and_csv_column():
    for route in routes.routes:
        path = route.path  # type: ignore[attr-defined]
        if "{action}" in path:
            names = routes.STUDENT_ACTIONS if "/api/" in path else routes.TEACHER_ACTIONS
            for name in names:
                assert path.replace("{action}", name) in DOC or f"`{name}`" in DOC, path.replace("{action}", name)
        elif path != "/game":
            path = path.replace("{name}", "<file>")
            folder, name = path.rsplit("/", 1)
            assert path in DOC or (f"{folder}/" in DOC and f"`{name}`" in DOC) or f"/game/{name}`" in DOC, path
    for key in GAME_KEYS:
        assert f"`{key}`" in DOC or f"[game.{key}]" in DOC, key
    for column in CSV_COLUMNS:
        assert f"`{column}`" in DOC, column


def test_the_guides_commands_run_and_print_what_it_shows(tmp_path):
    game_cmd, *curls = [c for c in COMMANDS if "--export" not in c]
    export_cmd = next(c for c in COMMANDS if "--export" in c)
    port = free_port()
    args = shlex.split(game_cmd)
    assert args[:3] == ["python", "-m", "exchange"]
    server = subprocess.Popen([sys.executable, *args[1:], "--run-dir", str(tmp_path / "run"), "--host", "127.0.0.1",
                               "--port", "0", "--http-port", str(port), "--log-level", "error"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        printed = [server.stdout.readline().rstrip("\n") for _ in range(8)]
        shown = next(text for kind, text in BLOCKS if kind == "" and "students:" in text).splitlines()
        expected = [line.replace("0.0.0.0:8080", f"127.0.0.1:{port}") for line in shown[:6]]
        assert printed[:6] == expected
        assert re.fullmatch(r"  Student 01  Bulls +[a-z0-9]{4}-[a-z0-9]{4}", printed[6]), printed[6]
        for curl in curls:
            assert curl.startswith("curl ")
            out = subprocess.run(curl.replace("127.0.0.1:8080", f"127.0.0.1:{port}"), shell=True, check=True,
                                 capture_output=True, text=True, timeout=30).stdout
            assert "error" not in json.loads(out), out
        state = json.loads(subprocess.run(["curl", "-s", "-H", "X-Admin-Key: my-classroom-admin-key",
                                           f"http://127.0.0.1:{port}/game/admin/state"], capture_output=True,
                                          text=True, check=True).stdout)
        assert state["status"]["state"] == "running" and state["status"]["news"][-1]["text"] == "Crash!"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    args = shlex.split(export_cmd)
    out = tmp_path / "results"
    done = subprocess.run([sys.executable, *args[1:-1], str(out), "--run-dir", str(tmp_path / "run")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "results.csv").read_text().splitlines()[0] == ",".join(("rank", "name", "team", *CSV_COLUMNS[3:]))
    assert len((out / "results.csv").read_text().splitlines()) == 31
    assert "The lesson: cross or isolated margin" in (out / "report.html").read_text()


def test_the_bench_it_quotes_runs(tmp_path):
    bench = next(text for kind, text in BLOCKS if kind == "" and text.startswith("python -m bench")).split()
    started = time.monotonic()
    done = subprocess.run([sys.executable, *bench[1:], "--seconds", "0.5", "--students", "3"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = {r["bench"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert results["classroom_cpu_idle_pages"]["pages"] == 4 and results["classroom_cpu_idle_pages"]["page_msgs_per_s"] > 0
    assert time.monotonic() - started < 120
