"""Admin create_account over a real server on 127.0.0.1: one atomic core command (CreateAccount with its
deposit), so an answered error changes nothing: no credit to an existing account, no account left
behind without a key."""

from __future__ import annotations

from decimal import Decimal

import pytest
from loopback import admin_client, close_all, run, service

from clients.sdk import Client, ExchangeError

USDT = 1_000_000


def test_create_account_is_all_or_nothing(tmp_path):
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            accounts = svc.server.ex.accounts
            key = await admin.create_account(account=7, deposit="100")
            assert accounts[7].cross_wallet == 100 * USDT
            # the id exists: the answer is ACCOUNT_EXISTS, and the deposit is not credited either
            with pytest.raises(ExchangeError) as err:
                await admin.create_account(account=7, deposit="500")
            assert err.value.code == "ACCOUNT_EXISTS"
            assert accounts[7].cross_wallet == 100 * USDT
            # an amount the core cannot hold (10^12 USDT is past its bound): an error, and no account 8
            with pytest.raises(ExchangeError) as err:
                await admin.create_account(account=8, deposit="2000000000000")
            assert err.value.code in ("INVALID_AMOUNT", "INVALID_PARAM")
            assert 8 not in accounts
            # so the id is still free, and a valid request gets it, funded, with a key that works
            key8 = await admin.create_account(account=8, deposit="25.5")
            assert accounts[8].cross_wallet == 25_500_000
            client = await Client(port=svc.port, api_key=key8.api_key, reconnect=False).connect()
            assert (await client.fetch_balance()).free == Decimal("25.5")
            assert key.account == 7 and key8.account == 8
            await close_all(client, admin)
    run(scenario())
