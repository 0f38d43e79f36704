"""The real server process (`python -m exchange serve`) restarted on a damaged run directory: a page of
zeros after the last record (a power loss) is cut and every acknowledged deposit is back; a flipped byte
in a middle record refuses to start with one log line and exit code 2, and the documented override
command starts it with the journal cut at the damage."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from loopback import ADMIN_KEY, run

from clients.sdk import Client
from exchange.config import CONFIG_DIR, load_config
from exchange.core import Exchange
from exchange.core.money import CASH_SCALE
from exchange.persistence import read_journal

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"


def documented(prefix: str) -> list[str]:
    """The lines of the Recovery section of docs/operations.md that start with prefix."""
    section = OPERATIONS.read_text().split("\n## Recovery\n", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.strip().startswith(prefix)]


def documented_commands() -> list[str]:
    return documented("python -m exchange serve")


def serve(command: str, run_dir: Path, config: Path) -> subprocess.Popen:
    """Start a documented command on run_dir and config, on a free port, logging warnings and errors."""
    argv = command.replace("runs/server", str(run_dir)).replace("configs/server.toml", str(config)).split()
    assert argv[:4] == ["python", "-m", "exchange", "serve"], command
    (run_dir / "server.json").unlink(missing_ok=True)
    return subprocess.Popen([sys.executable, *argv[1:], "--port", "0", "--admin-key", ADMIN_KEY, "--quiet",
                             "--log-level", "warning"], cwd=REPO, stderr=subprocess.PIPE, text=True)


def listening_port(proc: subprocess.Popen, run_dir: Path) -> int:
    info = run_dir / "server.json"
    deadline = time.monotonic() + 20
    while not info.exists():
        assert proc.poll() is None, f"server exited {proc.returncode}: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    return json.loads(info.read_text())["port"]


async def fund_accounts(port: int, deposits: list[str]) -> list[int]:
    admin = await Client(port=port, api_key=ADMIN_KEY, reconnect=False).connect()
    accounts = [(await admin.create_account(deposit=d)).account for d in deposits]
    await admin.close()
    return accounts


async def wallets_and_hash(port: int, accounts: list[int]) -> tuple[list, str]:
    admin = await Client(port=port, api_key=ADMIN_KEY, reconnect=False).connect()
    wallets = []
    for a in accounts:
        try:
            wallets.append((await admin.fetch_balance(account=a)).cross_wallet)
        except Exception as exc:  # an account that recovery did not bring back
            wallets.append(type(exc).__name__)
    digest = await admin.state_hash()
    await admin.close()
    return wallets, digest


def killed_run(tmp_path: Path, deposits: list[str]) -> tuple[Path, Path, list[int]]:
    """A run directory left by a server that funded accounts and was then SIGKILLed (no final snapshot)."""
    run_dir, config = tmp_path / "run", tmp_path / "server.toml"
    run_dir.mkdir()
    config.write_text(f'base = "{CONFIG_DIR / "default.toml"}"\n[server]\nheartbeat_s = 3600\n'
                      'snapshot_every_s = 3600\n')
    proc = serve(documented_commands()[0], run_dir, config)
    try:
        accounts = run(fund_accounts(listening_port(proc, run_dir), deposits))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    return run_dir, config, accounts


def test_a_page_of_zeros_after_the_journal_is_cut_and_every_deposit_is_back(tmp_path):
    run_dir, config, accounts = killed_run(tmp_path, ["1000", "2000", "3000"])
    with open(run_dir / "journal.msgpack", "ab") as fh:
        fh.write(bytes(4096))
    proc = serve(documented_commands()[0], run_dir, config)
    try:
        wallets, _ = run(wallets_and_hash(listening_port(proc, run_dir), accounts))
        assert wallets == [1000, 2000, 3000]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        cut = json.loads(proc.stderr.readline())
        assert (cut["event"], cut["reason"], cut["bytes_cut"]) == ("journal tail cut", "bad length 0", 4096)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_flipped_byte_mid_journal_refuses_and_the_override_cuts_there(tmp_path):
    run_dir, config, accounts = killed_run(tmp_path, ["1000", "1234567", "3000"])
    journal = run_dir / "journal.msgpack"
    data = bytearray(journal.read_bytes())
    amount = b"\xcf" + (1234567 * CASH_SCALE).to_bytes(8, "big")  # the second deposit, as msgpack writes it
    at = data.index(amount) + len(amount) - 1
    data[at] ^= 0x01  # one atomic unit off: still a valid command
    journal.write_bytes(bytes(data))
    plain, override = documented_commands()
    proc = serve(plain, run_dir, config)
    assert proc.wait(20) == 2
    lines = proc.stderr.read().splitlines()
    assert len(lines) == 1, lines
    refusal = json.loads(lines[0])
    assert refusal["event"] == "refusing to start" and refusal["level"] == "error"
    (example,) = documented('{"reason"')  # the refusal shown in the docs is this one (but for its offset)
    shown = re.escape(json.loads(example)["reason"].replace("runs/server", str(run_dir))).replace("54", r"\d+")
    assert re.fullmatch(shown, refusal["reason"]), refusal["reason"]
    assert journal.read_bytes() == bytes(data), "a refusal changes nothing"

    proc = serve(override, run_dir, config)
    try:
        wallets, digest = run(wallets_and_hash(listening_port(proc, run_dir), accounts))
        # create_account is one record (CreateAccount with its deposit): the damaged one and all after are cut
        assert wallets == [1000, "ExchangeError", "ExchangeError"], "the damaged account and everything after it are cut"
        cut_at = refusal["reason"].split(" offset ")[1].split()[0]
        assert journal.read_bytes() == bytes(data[:int(cut_at)]), "the journal is the original bytes up to the damage"
        prefix = list(read_journal(journal))
        assert [type(e.command).__name__ for e in prefix] == ["CreateAccount"]
        cfg = load_config()
        replayed = Exchange(cfg.instruments, cfg.initial_insurance_fund_cash)
        for env in prefix:
            replayed.apply(env)
        assert digest == replayed.state_hash()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    cut = json.loads(proc.stderr.readline())
    assert cut["event"] == "journal cut at damage" and cut["records_lost"] >= 2
