"""The exchange under test, as the benches run it: `python -m exchange serve` as a real process on free
ports, waited for until it writes its server.json."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def serve(config: Path, run_dir: Path, admin_key: str, *extra: str, interpreter_args: tuple[str, ...] = (),
          start_s: float = 60, **popen: Any) -> tuple[subprocess.Popen, dict[str, Any]]:
    """Start the server (`interpreter_args` before `-m exchange`, e.g. a profiler; `extra` after the
    serve arguments) and return it with its server.json: {host, port, http_port, pid}."""
    proc = subprocess.Popen([sys.executable, *interpreter_args, "-m", "exchange", "serve", "--config", str(config),
                             "--run-dir", str(run_dir), "--port", "0", "--admin-key", admin_key, *extra], **popen)
    info = run_dir / "server.json"
    deadline = time.monotonic() + start_s
    while not info.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the exchange did not start")
        time.sleep(0.05)
    return proc, json.loads(info.read_text())
