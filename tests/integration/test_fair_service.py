"""Fair service under hostile load: no work before hello, idle and anonymous connections time out,
a connection cap that keeps descriptors in reserve, one budget for unsent output across all
connections, round-robin service so a flood of queries cannot delay an honest order, throttled
failed logins, and no short admin key."""

from __future__ import annotations

import asyncio
import resource
import signal
import socket
import subprocess
import sys
import time

import pytest
from loopback import (
    ADMIN_KEY,
    REPO,
    SYMBOL,
    RawConnection,
    admin_client,
    captured_logs,
    close_all,
    funded_clients,
    run,
    server_config,
    service,
    start_server,
)

from bench.flood import Flood
from clients.sdk import Client
from exchange.runtime import app
from exchange.runtime.server import Limits


async def deep_book(svc, admin) -> None:
    """200 bid and 200 ask levels: a book answer of about 16 KB."""
    bids, asks = await funded_clients(svc, admin, 2, deposit="10000000")
    await asyncio.gather(*(bids.create_order(SYMBOL, "limit", "buy", "0.01", str(29800 - i)) for i in range(200)),
                         *(asks.create_order(SYMBOL, "limit", "sell", "0.01", str(30200 + i)) for i in range(200)))
    await close_all(bids, asks)


def test_nothing_but_hello_is_served_before_hello(tmp_path):
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            raw = await RawConnection.open(svc.port)
            for i, msg in enumerate([{"op": "book", "symbol": SYMBOL}, {"op": "time"}, {"op": "instruments"},
                                     {"op": "ticker", "symbol": SYMBOL}, {"op": "ping"},
                                     {"op": "subscribe", "channel": "trades", "symbol": SYMBOL},
                                     {"op": "login", "api_key": ADMIN_KEY}, {"op": "state_hash"}]):
                reply = await raw.request({**msg, "id": i})
                assert (reply["type"], reply["code"]) == ("error", "HELLO_REQUIRED"), (msg, reply)
            assert (await raw.request({"op": "hello", "id": 99, "version": 1}))["type"] == "result"
            assert (await raw.request({"op": "time", "id": 100}))["type"] == "result"
            raw.close()
            await admin.close()
    run(scenario())


def test_connections_that_never_say_hello_or_log_in_are_closed(tmp_path):
    async def scenario():
        async with service(tmp_path, limits=Limits(hello_timeout_s=0.3, login_timeout_s=0.8)) as svc:
            admin = await admin_client(svc)
            mute = await RawConnection.open(svc.port)
            anonymous = await RawConnection.open(svc.port)
            assert (await anonymous.request({"op": "hello", "id": 1, "version": 1}))["type"] == "result"
            t0 = time.monotonic()
            reply = await mute.recv(timeout=3)
            assert (reply["code"], await mute.recv(timeout=1)) == ("HELLO_TIMEOUT", None)
            assert time.monotonic() - t0 < 2
            reply = await anonymous.recv(timeout=3)
            assert (reply["code"], await anonymous.recv(timeout=1)) == ("LOGIN_TIMEOUT", None)
            assert (await admin.fetch_time())["seq"] >= 0  # a logged-in connection stays
            assert svc.server.disconnects == {"HELLO_TIMEOUT": 1, "LOGIN_TIMEOUT": 1}
            await admin.close()
    run(scenario())


def test_the_connection_cap_keeps_descriptors_in_reserve(tmp_path):
    """With 128 descriptors, a flood of 150 connections is capped below the limit: the excess get
    TOO_MANY_CONNECTIONS, and the server still has descriptors to write a snapshot."""
    def low_fd_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    proc, port = start_server(tmp_path / "run", server_config(tmp_path / "server.toml"), preexec_fn=low_fd_limit)

    async def scenario():
        admin = await Client(port=port, api_key=ADMIN_KEY, reconnect=False).connect()
        accepted, refused = [], 0
        for i in range(150):
            raw = await RawConnection.open(port)
            raw.send({"op": "hello", "id": i, "version": 1})
            try:
                reply = await raw.recv(timeout=2)
            except TimeoutError:
                pytest.fail(f"connection {i} was neither served nor refused (descriptors exhausted?)")
            except ConnectionResetError:  # refused before its hello was read
                reply = None
            if reply is not None and reply["type"] == "result":
                accepted.append(raw)
            else:
                assert reply is None or reply["code"] == "TOO_MANY_CONNECTIONS", reply
                refused += 1
                raw.close()
        assert 16 <= len(accepted) < 128 - 16 and refused == 150 - len(accepted)
        snap = await admin.take_snapshot()
        assert snap["seq"] >= 0
        for raw in accepted:
            raw.close()
        await asyncio.sleep(0.2)
        late = await RawConnection.open(port)
        assert (await late.request({"op": "hello", "id": 1, "version": 1}))["type"] == "result"
        late.close()
        await admin.close()

    try:
        run(scenario())
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def test_unread_output_is_bounded_across_all_connections(tmp_path):
    """12 connections ask for ~7 KB book answers and never read. Past what the kernel buffers
    (about 4 MiB a socket here), each may hold 2 MiB, but all of them together never more than
    the 8 MiB global budget: the largest backlogs are dropped first."""
    budget = 8 << 20

    async def scenario():
        async with service(tmp_path, limits=Limits(max_outbox=2 << 20, max_outbox_total=budget)) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            await deep_book(svc, admin)
            (honest,) = await funded_clients(svc, admin, 1)
            hogs = []
            for _ in range(12):
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect(("127.0.0.1", svc.port))
                reader, writer = await asyncio.open_connection(sock=sock)
                hog = RawConnection(reader, writer)
                assert (await hog.request({"op": "hello", "id": 0, "version": 1}))["type"] == "result"
                hogs.append(hog)
            worst = 0
            for batch in range(12):  # batches of 100 answers: under 2 MiB per connection at a time
                for hog in hogs:
                    for i in range(100):
                        hog.send({"op": "book", "id": 1 + batch * 100 + i, "symbol": SYMBOL})
                for _ in range(5):
                    await asyncio.sleep(0.01)
                    worst = max(worst, sum(s.out_bytes + s.transport.get_write_buffer_size()
                                           for s in svc.server.hub.sessions if not s.closed))
            assert worst <= budget + (64 << 10), f"{worst} bytes unsent across connections"
            assert svc.server.disconnects.get("SLOW_CONSUMER", 0) >= 6
            assert len((await honest.fetch_order_book(SYMBOL)).bids) == 200
            for hog in hogs:
                hog.close()
            await close_all(honest, admin)
    run(scenario())


def test_an_honest_order_is_answered_promptly_while_others_flood(tmp_path):
    """40 connections each keep 200 queries of a 400-level book in flight (from another process): an
    honest client's orders are still answered within a second (one drain of the old single queue
    took 15 s here)."""
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            await deep_book(svc, admin)
            (honest,) = await funded_clients(svc, admin, 1)
            loop = asyncio.get_running_loop()
            with Flood(svc.port, "book", 40, 3.0, window=200) as flood:
                assert flood.connections == 40
                worst, n = 0.0, 0
                deadline = time.monotonic() + 2.0
                while time.monotonic() < deadline:
                    t0 = time.monotonic()
                    order = await honest.create_order(SYMBOL, "limit", "buy", "0.01", "29000")
                    await honest.cancel_order(order.id, SYMBOL)
                    worst, n = max(worst, time.monotonic() - t0), n + 1
                await loop.run_in_executor(None, flood.proc.join)
            assert worst < 1.0, f"an honest place + cancel took {worst:.3f} s under the flood ({n} done)"
            assert flood.answers > 2000, "the flood was not served"
            await close_all(honest, admin)
    run(scenario())


def test_failed_logins_are_throttled_per_peer_and_logged_once(tmp_path):
    async def scenario():
        limits = Limits(login_failure_burst=5, login_failure_rate=4.0)
        async with service(tmp_path, limits=limits) as svc:
            with captured_logs() as logs:
                raw = await RawConnection.open(svc.port)
                assert (await raw.request({"op": "hello", "id": 0, "version": 1}))["type"] == "result"
                codes = [(await raw.request({"op": "login", "id": i, "api_key": f"lk_guess{i}"}))["code"]
                         for i in range(1, 11)]
                assert codes == ["AUTH_FAILED"] * 5 + ["LOGIN_THROTTLED"] * 5
                other = await RawConnection.open(svc.port)  # same peer, right key: still throttled
                assert (await other.request({"op": "hello", "id": 0, "version": 1}))["type"] == "result"
                assert (await other.request({"op": "login", "id": 1, "api_key": ADMIN_KEY}))["code"] == "LOGIN_THROTTLED"
                await asyncio.sleep(0.3)
                assert (await other.request({"op": "login", "id": 2, "api_key": ADMIN_KEY}))["type"] == "result"
            events = [e["event"] for e in logs]
            assert events.count("login failed") == 1 and events.count("login throttled") == 1, logs
            raw.close()
            other.close()
    run(scenario())


def test_an_admin_key_shorter_than_16_characters_is_refused(tmp_path):
    config, raw = app.load_server_config(REPO / "configs" / "server.toml")
    svc = app.ExchangeService(config, {**raw, "feeds": {}}, tmp_path / "a", app.ServeOptions(port=0, admin_key="secret"))
    with pytest.raises(app.ServeError, match="16"):
        run(svc.start())
    proc = subprocess.run([sys.executable, "-m", "exchange", "serve", "--run-dir", str(tmp_path / "b"), "--port", "0",
                           "--admin-key", "0123456789abcde"], cwd=REPO, capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "at least 16 characters" in proc.stderr, proc.stderr
