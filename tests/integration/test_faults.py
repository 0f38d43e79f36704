"""Faults of the machine, for real, on a real server process: descriptors run out (the process's
RLIMIT_NOFILE lowered under it) and the journal cannot be written (RLIMIT_FSIZE, the file-size
limit, lowered to the journal's size: writes fail with EFBIG as on a full disk). The server reports
each fault once, keeps running, retries, and carries on when the fault is gone."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import subprocess
import time

from loopback import ADMIN_KEY, SYMBOL, close_all, run, server_config, start_server

from clients.sdk import Client, ExchangeError


def lowest_free_fd(pid: int) -> int:
    used = {int(fd) for fd in os.listdir(f"/proc/{pid}/fd")}
    return next(n for n in range(len(used) + 1) if n not in used)


def snapshots(run_dir) -> int:
    return len(list(run_dir.glob("snapshot-*.msgpack")))


def stop(proc: subprocess.Popen) -> str:
    """SIGTERM the server; its stderr."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return err


def test_snapshots_failing_for_lack_of_descriptors_are_retried_and_the_server_lives(tmp_path):
    run_dir = tmp_path / "run"
    config = server_config(tmp_path / "server.toml", snapshot_every_s=0.2)
    proc, port = start_server(run_dir, config, stderr=subprocess.PIPE, text=True)
    nofile = resource.prlimit(proc.pid, resource.RLIMIT_NOFILE)

    async def scenario():
        admin = await Client(port=port, api_key=ADMIN_KEY, reconnect=False).connect()
        await admin.set_index(SYMBOL, "30000")
        key = await admin.create_account(deposit="100000")
        trader = await Client(port=port, api_key=key.api_key, reconnect=False).connect()
        resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (lowest_free_fd(proc.pid), nofile[1]))
        await asyncio.sleep(0.5)
        starved = snapshots(run_dir)
        for i in range(5):  # trading goes on: the journal needs no new descriptor
            order = await trader.create_order(SYMBOL, "limit", "buy", "0.01", str(29000 + i))
            assert order.status == "NEW"
            await asyncio.sleep(0.1)
        try:
            await admin.take_snapshot()
            raise AssertionError("a snapshot was written without a free descriptor")
        except ExchangeError as err:
            assert err.code == "SNAPSHOT_FAILED", err
        assert snapshots(run_dir) == starved and proc.poll() is None
        resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, nofile)
        deadline = time.monotonic() + 10
        while snapshots(run_dir) == starved and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert snapshots(run_dir) > starved, "no snapshot after the descriptors came back"
        assert len(await trader.fetch_open_orders()) == 5
        await trader.close()
        await admin.close()

    try:
        run(scenario())
        assert proc.poll() is None, "the server died"
    finally:
        err = stop(proc)
    assert err.count('"snapshot failed"') == 1, err


def test_a_journal_that_cannot_be_written_refuses_commands_until_it_can(tmp_path):
    """The journal's flush fails (EFBIG): the commands of that batch stay unanswered (their answers
    are held, not lost), every new request through the sequencer is refused with
    JOURNAL_UNAVAILABLE, the process lives; when the file can grow again the held answers go out,
    trading resumes, and a restart recovers all of it."""
    run_dir = tmp_path / "run"
    config = server_config(tmp_path / "server.toml")
    proc, port = start_server(run_dir, config, stderr=subprocess.PIPE, text=True)
    fsize = resource.prlimit(proc.pid, resource.RLIMIT_FSIZE)
    journal = run_dir / "journal.msgpack"

    async def scenario() -> int:
        admin = await Client(port=port, api_key=ADMIN_KEY, reconnect=False).connect()
        await admin.set_index(SYMBOL, "30000")
        keys = [await admin.create_account(deposit="100000") for _ in range(2)]
        alice, bob = [await Client(port=port, api_key=k.api_key, reconnect=False, timeout=30).connect() for k in keys]
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (journal.stat().st_size, fsize[1]))
        held = asyncio.ensure_future(alice.create_order(SYMBOL, "limit", "buy", "0.01", "29000"))
        await asyncio.sleep(0.5)
        assert not held.done(), "answered before its journal record was written"
        for attempt in (bob.create_order(SYMBOL, "limit", "buy", "0.01", "29001"), bob.fetch_balance(),
                        bob.create_order(SYMBOL, "limit", "buy", "0.01", "29002")):
            try:
                await attempt
                raise AssertionError("a request was served while the journal could not be written")
            except ExchangeError as err:
                assert err.code == "JOURNAL_UNAVAILABLE", err
        assert (await bob.request("ping"))["time_ns"] > 0 and proc.poll() is None
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, fsize)
        order = await asyncio.wait_for(held, 10)
        assert order.status == "NEW"
        later = await bob.create_order(SYMBOL, "limit", "buy", "0.01", "29003")
        assert later.status == "NEW"
        await close_all(alice, bob, admin)
        return order.id

    try:
        held_id = run(scenario())
        assert proc.poll() is None, "the server died"
    finally:
        err = stop(proc)
    assert err.count('"journal flush failed"') == 1, err
    proc, port = start_server(run_dir, config)

    async def recovered() -> list[int]:
        admin = await Client(port=port, api_key=ADMIN_KEY, reconnect=False).connect()
        ids = [o.id for o in await admin.fetch_open_orders(account=1)]
        await admin.close()
        return ids

    try:
        assert run(recovered()) == [held_id]
    finally:
        stop(proc)

