"""Admin over HTTP (its key, its bad input) and key management: a key + secret pair per account, the
secret shown once and kept 0600, never in the journal or the logs; the msgpack login with the same key."""

from __future__ import annotations

import os
import stat

import aiohttp

from clients.sdk import Client
from exchange.runtime.credentials import SECRET_FILE

from .conftest import ADMIN_KEY, BTC, Rest, http_service, run


def test_admin_calls_need_the_admin_key_and_check_their_input(tmp_path):
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            seq = svc.exchange.seq
            for key in ("", "wrong", ADMIN_KEY + "x"):
                status, body = await rest.admin("/admin/v1/account", key=key, deposit="100")
                assert (status, body["code"]) == (401, -2015)
            status, body = await rest.call("POST", "/admin/v1/deposit", {"account": "1", "amount": "5"})
            assert (status, body["code"]) == (401, -2015)
            assert svc.exchange.seq == seq
            for path, params, code in [
                ("/admin/v1/account", {"deposit": "abc"}, -1100),
                ("/admin/v1/account", {"deposit": "-5"}, -4055),
                ("/admin/v1/account", {"deposit": "0.0000001"}, -1111),
                ("/admin/v1/account", {"account": "x"}, -1100),
                ("/admin/v1/account", {"account": str(2**63)}, -1130),
                ("/admin/v1/deposit", {"account": "1"}, -1102),
                ("/admin/v1/deposit", {"account": "77", "amount": "5"}, -2015),  # no such account
                ("/admin/v1/withdraw", {"account": "77", "amount": "5"}, -2015),
                ("/admin/v1/apiKey", {"account": "77"}, -2015),
                ("/admin/v1/index", {"symbol": BTC, "price": "0"}, -4001),
                ("/admin/v1/index", {"symbol": BTC, "price": "30000.01"}, -1111),
                ("/admin/v1/index", {"symbol": "NOPE", "price": "1"}, -1121),
                ("/admin/v1/shock", {"symbol": BTC, "pct": "-10"}, -1130),  # no index feed here
                ("/admin/v1/shock", {"symbol": BTC, "pct": "2000"}, -1130),
                ("/admin/v1/param", {"symbol": BTC, "name": "tick_size", "value": "1"}, -1130),
                ("/admin/v1/param", {"symbol": BTC, "name": "min_notional_cash", "value": "-1"}, -1130),
            ]:
                status, body = await rest.admin(path, **params)
                assert (status, body["code"]) == (400 if code != -2015 else 401, code), (path, params, body)
            assert svc.exchange.seq == seq + 2  # only the deposit and withdrawal of a missing account reached the core (rejected)
    run(scenario())


def test_admin_creates_funds_moves_the_index_halts_and_changes_parameters(tmp_path):
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            a = await rest.account("500")
            assert a["deposit"] == "500.000000" and a["account"] == 1
            status, body = await rest.admin("/admin/v1/deposit", account="1", amount="250.5")
            assert body == {"account": 1, "crossWalletBalance": "750.500000"}
            status, body = await rest.admin("/admin/v1/withdraw", account="1", amount="0.5")
            assert body["crossWalletBalance"] == "750.000000"
            status, body = await rest.admin("/admin/v1/index", symbol=BTC, price="30000")
            assert (body["markPrice"], body["indexPrice"]) == ("30000.00", "30000.00")
            order = {"symbol": BTC, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01", "price": "29000"}
            assert (await rest.admin("/admin/v1/halt"))[1] == {"halted": True}
            status, body = await rest.signed("POST", "/fapi/v1/order", a["apiKey"], a["secretKey"], **order)
            assert body["code"] == -4140
            assert (await rest.admin("/admin/v1/resume"))[1] == {"halted": False}
            status, body = await rest.signed("POST", "/fapi/v1/order", a["apiKey"], a["secretKey"], **order)
            assert body["status"] == "NEW"
            status, body = await rest.admin("/admin/v1/param", symbol=BTC, name="min_notional_cash", value="500000000")
            assert body == {"symbol": BTC, "name": "min_notional_cash", "value": 500000000}
            _, info = await rest.public("/fapi/v1/exchangeInfo")
            (btc,) = [s for s in info["symbols"] if s["symbol"] == BTC]
            assert {f["filterType"]: f for f in btc["filters"]}["MIN_NOTIONAL"]["notional"] == "500.000000"
            status, body = await rest.signed("POST", "/fapi/v1/order", a["apiKey"], a["secretKey"], **order)
            assert body["code"] == -4164
            status, pair = await rest.admin("/admin/v1/apiKey", account="1")
            status, bal = await rest.signed("GET", "/fapi/v2/balance", pair["apiKey"], pair["secretKey"])
            assert bal[0]["balance"] == "750.000000"
            status, body = await rest.call("GET", "/admin/v1/insurance", headers={"X-Admin-Key": ADMIN_KEY})
            assert body["balance"] == "1000000.000000"
    run(scenario())


def test_the_secret_is_kept_0600_never_journaled_and_the_key_logs_in_over_msgpack(tmp_path, capfd):
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            a = await rest.account("1234")
            path = tmp_path / SECRET_FILE
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            sdk = await Client(port=svc.port, api_key=a["apiKey"], reconnect=False).connect()
            assert (await sdk.fetch_balance()).cross_wallet == 1234
            await sdk.close()
        return a
    a = run(scenario())
    for f in tmp_path.rglob("*"):
        if f.is_file() and f.name != SECRET_FILE:
            assert a["secretKey"].encode() not in f.read_bytes(), f
    out, err = capfd.readouterr()
    assert a["secretKey"] not in out + err

    async def after_restart():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            status, bal = await rest.signed("GET", "/fapi/v2/balance", a["apiKey"], a["secretKey"])
            assert (status, bal[0]["balance"]) == (200, "1234.000000")
            (tmp_path / SECRET_FILE).chmod(0o644)
        async with http_service(tmp_path):
            assert stat.S_IMODE(os.stat(tmp_path / SECRET_FILE).st_mode) == 0o600  # tightened again on start
    run(after_restart())


def test_a_key_made_over_msgpack_cannot_sign(tmp_path):
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            admin = await Client(port=svc.port, api_key=ADMIN_KEY, reconnect=False).connect()
            made = await admin.create_account(deposit="10")
            await admin.close()
            status, body = await rest.signed("GET", "/fapi/v2/balance", made.api_key, "anything")
            assert (status, body["code"]) == (401, -2015)
            status, key = await rest.call("POST", "/fapi/v1/listenKey", headers={"X-MBX-APIKEY": made.api_key})
            assert status == 200 and len(key["listenKey"]) == 64  # API-key-only endpoints accept it
    run(scenario())


def test_an_answered_account_creation_error_changes_nothing(tmp_path):
    """Creating an account that exists is refused with no deposit credited and no key issued (the id and
    the deposit travel in one atomic command)."""
    async def scenario():
        async with http_service(tmp_path) as svc, aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            first = await rest.account("500")
            keys = len(svc.server.keys.accounts)
            status, body = await rest.admin("/admin/v1/account", account=str(first["account"]), deposit="1000")
            assert (status, body) == (400, {"code": -1130, "msg": "Account exists. (account 1 exists)"}), body
            acct = svc.exchange.accounts[first["account"]]
            assert (acct.cross_wallet, acct.deposited) == (500_000_000, 500_000_000)
            assert svc.exchange.deposits == 500_000_000
            assert len(svc.server.keys.accounts) == keys
    run(scenario())
