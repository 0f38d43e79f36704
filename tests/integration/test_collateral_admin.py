"""The admin's collateral and bracket operations over the msgpack gateway (deposit_asset,
withdraw_asset, set_brackets) against a real server: 0.1 BTC at 60,000 with a 95% haircut counts
5,700 USDT of margin and shows in the account; brackets round-trip with cum derived; every bad
request is refused before the journal."""

from __future__ import annotations

from decimal import Decimal

from loopback import SYMBOL, admin_client, close_all, run, service

from clients.sdk import Client, ExchangeError

BTC_COLLATERAL = {"BTC": {"decimals": 8, "value_ratio": "0.95", "index": SYMBOL}}


async def refused(call, code: str) -> None:
    try:
        await call
    except ExchangeError as exc:
        assert exc.code == code, (exc.code, exc)
    else:
        raise AssertionError(f"accepted; expected {code}")


def journal_size(svc) -> int:
    svc.sequencer.journal.flush()
    return (svc.run_dir / "journal.msgpack").stat().st_size


def test_collateral_is_deposited_shown_and_withdrawn_within_the_free_balance(tmp_path):
    async def scenario() -> None:
        async with service(tmp_path, collateral=BTC_COLLATERAL) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "60000")
            key = await admin.create_account()
            trader = await Client(port=svc.port, api_key=key.api_key, reconnect=False).connect()
            assert await admin.deposit_asset(key.account, "BTC", "0.1") == \
                {"account": key.account, "asset": "BTC", "balance": "0.10000000", "value": "5700.000000"}
            balance = await trader.fetch_balance()
            assert (balance.collateral, balance.margin_balance, balance.available) == \
                ({"BTC": Decimal("0.1")}, Decimal("5700"), Decimal("5700"))
            assert balance.info["collateral"][0]["withdrawable"] == "0.10000000"

            size = journal_size(svc)
            for args, code in [(("ETH", "1"), "INVALID_PARAM"), (("BTC", "0.000000001"), "INVALID_PARAM"),
                               (("BTC", "0"), "INVALID_AMOUNT"), (("BTC", "-1"), "INVALID_AMOUNT"),
                               (("BTC", "1" + "0" * 12), "INVALID_AMOUNT"), (("BTC", "NaN"), "INVALID_PARAM"),
                               (("B" * 100, "1"), "INVALID_PARAM")]:
                await refused(admin.deposit_asset(key.account, *args), code)
            await refused(trader.request("deposit_asset", account=key.account, asset="BTC", amount="1"), "FORBIDDEN")
            assert journal_size(svc) == size

            await refused(admin.withdraw_asset(key.account, "BTC", "0.2"), "INSUFFICIENT_BALANCE")
            assert (await admin.withdraw_asset(key.account, "BTC", "0.04"))["balance"] == "0.06000000"
            assert (await trader.fetch_balance()).margin_balance == Decimal("3420")
            svc.exchange.check_invariants()
            await close_all(admin, trader)

    run(scenario())


def test_brackets_round_trip_and_bad_ones_are_refused_before_the_journal(tmp_path):
    async def scenario() -> None:
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            rows = [{"floor": "0", "cap": "50000", "max_leverage": 125, "mmr": "0.01"},
                    {"floor": "50000", "cap": "1000000", "max_leverage": 50, "mmr": "0.02"}]
            answer = await admin.set_brackets(SYMBOL, rows)
            assert [(b["floor"], b["cap"], b["max_leverage"], b["mmr"], b["cum"]) for b in answer] == \
                [("0.000000", "50000.000000", 125, "0.010000", "0.000000"),
                 ("50000.000000", "1000000.000000", 50, "0.020000", "500.000000")]
            assert await admin.set_brackets(SYMBOL, answer) == answer  # what it answers, it takes back
            assert svc.exchange.instruments[SYMBOL].brackets[1].cum_cash == 500_000_000

            size = journal_size(svc)
            bad = [[], [rows[1]], [{**rows[0], "cap": "0"}], [{**rows[0], "mmr": "1.5"}],
                   [{**rows[0], "mmr": "0.0000001"}], [{**rows[0], "max_leverage": 0}], [{**rows[0], "colour": "red"}],
                   [rows[0], {**rows[1], "floor": "40000"}], [rows[0]] * 33, ["x"], [{**rows[0], "cap": 5}]]
            for brackets in bad:
                await refused(admin.request("set_brackets", symbol=SYMBOL, brackets=brackets), "INVALID_PARAM")
            await refused(admin.request("set_brackets", symbol=SYMBOL, brackets="[]"), "INVALID_PARAM")
            await refused(admin.request("set_brackets", symbol="NOPE", brackets=rows), "UNKNOWN_SYMBOL")
            assert journal_size(svc) == size
            await close_all(admin)

    run(scenario())
