"""Live-market benchmark: `python -m bench live [--scenario NAME] [--speed X] [--seconds 10] [--rounds 2]`.

The server runs as shipped (`python -m exchange serve --config configs/server.toml`, logging on, to
/dev/null), alternately without agents (`--no-agents`) and with its population (`--scenario`: another
scenario's agents instead of the config's; `--speed`: a faster clock, so more work per second),
`--rounds` times each. Each time: the server's CPU (user
+ system time of its process over `--seconds` of wall time, in % of one core) while no client is
connected, the commands per second it applies, then one honest msgpack client placing a limit order
and cancelling it as soon as it is acknowledged (one request in flight) for `--seconds`: its
round-trip p50 and p99, and the server's CPU under that load. Reported (means over the rounds): the
figures with agents and their ratios to the same figures without agents, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench.__main__ import emit
from bench.gateway import ADMIN_KEY
from bench.pyload import run_load
from bench.server import serve
from clients.sdk import Client
from exchange.config import CONFIG_DIR

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def config_with(scenario: str, tmp: Path) -> Path:
    """configs/server.toml with another scenario's agents as its population."""
    text = (CONFIG_DIR / "server.toml").read_text()
    text = text.replace('base = "default.toml"', f'base = "{CONFIG_DIR / "default.toml"}"')
    text = text.replace('scenario = "scenarios/live_market.toml"', f'scenario = "{scenario}"')
    path = tmp / "server.toml"
    path.write_text(text)
    return path


def start_server(config: Path, run_dir: Path, agents: bool, speed: float) -> tuple[subprocess.Popen, int]:
    proc, info = serve(config, run_dir, ADMIN_KEY, "--http-port", "0", "--speed", str(speed),
                       *([] if agents else ["--no-agents"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, info["port"]


async def seq_now(port: int) -> int:
    async with Client(port=port, api_key=ADMIN_KEY, timeout=60) as admin:
        return (await admin.fetch_time())["seq"]


async def client_key(port: int) -> str:
    async with Client(port=port, api_key=ADMIN_KEY, timeout=60) as admin:
        return (await admin.create_account(deposit="10000000")).api_key


def measure(config: Path, run_dir: Path, agents: bool, seconds: float, warmup: float, speed: float) -> dict:
    proc, port = start_server(config, run_dir, agents, speed)
    try:
        key = asyncio.run(client_key(port))
        time.sleep(warmup)
        seq0, cpu0, t0 = asyncio.run(seq_now(port)), cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        seq1, cpu1, t1 = asyncio.run(seq_now(port)), cpu_seconds(proc.pid), time.monotonic()
        load = run_load(port, [key], 1, seconds, 1)
        cpu2, t2 = cpu_seconds(proc.pid), time.monotonic()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    return {"idle_cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0), "commands_per_s": (seq1 - seq0 - 1) / (t1 - t0),
            "loaded_cpu_pct": 100 * (cpu2 - cpu1) / (t2 - t1), **load}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench live")
    p.add_argument("--scenario", default=None, help="run this scenario's agents (default: configs/server.toml's)")
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds, idle and loaded")
    p.add_argument("--rounds", type=int, default=2, help="runs without and with agents, alternating")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds after start-up before measuring")
    p.add_argument("--speed", type=float, default=1.0, help="clock speed factor (the agents act this much faster)")
    args = p.parse_args(argv)
    runs: dict[bool, list[dict]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        config = config_with(args.scenario, Path(tmp)) if args.scenario else CONFIG_DIR / "server.toml"
        for r in range(args.rounds):
            for agents in (False, True):
                runs[agents].append(measure(config, Path(tmp) / f"{r}-{agents}", agents, args.seconds, args.warmup,
                                            args.speed))
    off, on = ({k: sum(x[k] for x in runs[a]) / len(runs[a]) for k in runs[a][0]} for a in (False, True))
    common = {"population": args.scenario or "configs/server.toml", "speed": args.speed, "seconds": args.seconds,
              "rounds": args.rounds, "cores": os.cpu_count()}
    emit("live", round(on["idle_cpu_pct"], 1), "% of one core", metric="server_cpu_with_agents",
         without_agents=round(off["idle_cpu_pct"], 1), commands_per_s=round(on["commands_per_s"], 1),
         commands_per_s_without=round(off["commands_per_s"], 1), **common)
    for name in ("p50_ms", "p99_ms"):
        emit("live", round(on[name] / off[name], 3), "ratio", metric=f"client_rtt_{name[:3]}_with_vs_without_agents",
             with_agents_ms=round(on[name], 3), without_agents_ms=round(off[name], 3), **common)
    emit("live", round(on["requests_per_s"] / off["requests_per_s"], 3), "ratio",
         metric="client_requests_per_s_with_vs_without_agents", with_agents=round(on["requests_per_s"]),
         without_agents=round(off["requests_per_s"]), server_cpu_pct_loaded=round(on["loaded_cpu_pct"], 1),
         server_cpu_pct_loaded_without=round(off["loaded_cpu_pct"], 1), **common)
    return 0
