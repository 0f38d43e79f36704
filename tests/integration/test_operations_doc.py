"""docs/operations.md: its commands run as shown, and it, configs/server.toml and the code agree on
every limit."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
import tomllib

from loopback import REPO, run

from clients.sdk import Client
from exchange.runtime.limits import CONFIG_KEYS, Limits, limits_from_config

DOC = REPO / "docs" / "operations.md"


def code_blocks() -> list[list[str]]:
    return [block.strip().splitlines() for block in re.findall(r"```\n(.*?)```", DOC.read_text(), re.S)]


def command(line: str) -> list[str]:
    argv = shlex.split(line)
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def test_the_serve_command_starts_a_server_that_answers(tmp_path):
    (tmp_path / "configs").symlink_to(REPO / "configs")
    (serve,) = code_blocks()[0]
    argv = command(serve)
    admin_key = argv[argv.index("--admin-key") + 1]
    proc = subprocess.Popen(argv, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        info = tmp_path / "runs" / "ops" / "server.json"
        deadline = time.monotonic() + 20
        while not info.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)

        async def ask() -> str:
            async with Client(port=json.loads(info.read_text())["port"], api_key=admin_key, reconnect=False) as admin:
                return await admin.state_hash()
        assert len(run(ask())) == 64
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    listening = next(e for e in events if e["event"] == "listening")
    assert listening["max_connections"] > 0 and {"host", "port", "run_dir", "seq"} <= set(listening)
    assert events[-1]["event"] == "stopped"


def test_a_short_admin_key_is_refused_as_shown(tmp_path):
    cmd, expected = code_blocks()[1]
    proc = subprocess.run(command(cmd), cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stderr.strip()) == (2, expected)


def test_every_limit_is_documented_and_shipped_with_its_default():
    doc = DOC.read_text()
    with open(REPO / "configs" / "server.toml", "rb") as fh:
        shipped = tomllib.load(fh)["server"]
    for key in CONFIG_KEYS:
        assert f"`{key}`" in doc, f"{key} is not in docs/operations.md"
        assert key in shipped, f"{key} is not in configs/server.toml"
    assert limits_from_config(shipped) == Limits()
