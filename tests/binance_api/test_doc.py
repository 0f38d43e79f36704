"""docs/binance-api.md, run as a reader would: its serve command starts a real server (on free ports),
its curl call creates an account, and each of its Python snippets runs in its own interpreter against
that server with the key pair substituted. Its error table and endpoint list match the code."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import sys
from pathlib import Path

from exchange.core.errors import Reject
from exchange.runtime.http.binance.errors import REJECT_TABLE
from exchange.runtime.http.server import ROUTE_TABLES

from .conftest import run

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "binance-api.md").read_text()


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC, re.S)


async def _run(*cmd: str, stdin: bytes | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode == 0, (cmd[-1][:200], err.decode()[-2000:])
    return out.decode()


def test_the_docs_snippets_run_against_a_live_server(tmp_path):
    serve, curl = [b.strip() for b in blocks("sh")]
    snippets = blocks("python")
    assert len(snippets) == 3

    async def scenario():
        argv = shlex.split(serve)
        assert argv[:3] == ["python", "-m", "exchange"]
        server = await asyncio.create_subprocess_exec(
            sys.executable, *argv[1:], "--run-dir", str(tmp_path), "--port", "0", "--http-port", "0", "--quiet",
            cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            info = tmp_path / "server.json"
            for _ in range(300):
                if info.exists() and json.loads(info.read_text() or "{}").get("http_port"):
                    break
                await asyncio.sleep(0.05)
            port = json.loads(info.read_text())["http_port"]
            created = json.loads(await _run("bash", "-c", curl.replace("8080", str(port))))
            assert created["deposit"] == "10000.000000"
            await asyncio.sleep(1.5)  # the index feed has given BTCUSDT a mark price
            codes = [c.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace("YOUR_API_KEY", created["apiKey"])
                     .replace("YOUR_API_SECRET", created["secretKey"]) for c in snippets]
            outputs = await asyncio.gather(*[_run(sys.executable, "-c", c) for c in codes])
            assert "'total': 10000.0" in outputs[0] and "NEW" in outputs[2]
        finally:
            server.terminate()
            await server.wait()
    run(scenario(), timeout=120)


def test_the_error_table_is_the_code_s():
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| (-\d+) \|", DOC, re.M))
    assert set(rows) == {r.value for r in Reject}
    assert {code: int(binance) for code, binance in rows.items()} == {r.value: REJECT_TABLE[r][0] for r in Reject}


def test_every_route_is_listed():
    for table in ROUTE_TABLES:
        for route in table:
            path = route.path  # type: ignore[attr-defined]
            if "/ws" in path or path.endswith("/stream"):
                continue
            if path.startswith("/game"):  # the classroom's: docs/classroom.md lists them (tests/classroom/test_doc.py)
                continue
            name = path.rsplit("/", 1)[-1] if not path.endswith("/dual") else "positionSide/dual"
            assert name in DOC, path
