"""A real exchange server process on 127.0.0.1 for the swarm tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def server_process(run_dir: Path, admin_key: str) -> Iterator[int]:
    """Start `python -m exchange serve` on a free port; yields the port; terminates it after."""
    server = subprocess.Popen([sys.executable, "-m", "exchange", "serve", "--run-dir", str(run_dir), "--port", "0",
                               "--admin-key", admin_key, "--quiet", "--log-level", "error"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        info = run_dir / "server.json"
        deadline = time.monotonic() + 20
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield json.loads(info.read_text())["port"]
    finally:
        server.terminate()
        server.wait(30)
