"""No request can kill the server: huge numbers, overlong or unknown enum strings and deeply nested
values are refused at the edge before anything is journaled, and an exception inside one request
costs that request only (an error answer, one log line), never the exchange."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from loopback import SYMBOL, RawConnection, admin_client, captured_logs, close_all, funded_clients, run, service

from exchange.core.commands import SetLeverage

HUGE_QTY = "999999999999999999.999"
HUGE_PRICE = "9999999999999999999.9"  # 1e20 ticks
HUGE_CASH = "100000000000000"  # 1e20 cash units: more than a msgpack integer holds


def journal_bytes(svc) -> int:
    svc.sequencer.journal.flush()
    return (svc.run_dir / "journal.msgpack").stat().st_size


async def raw_login(svc, key: str) -> RawConnection:
    raw = await RawConnection.open(svc.port)
    assert (await raw.request({"op": "hello", "id": 1, "version": 1}))["type"] == "result"
    assert (await raw.request({"op": "login", "id": 2, "api_key": key}))["type"] == "result"
    return raw


async def expect_errors(raw: RawConnection, cases: list[tuple[dict, str]]) -> None:
    """Each request gets an error answer with its code (and the connection stays open)."""
    for rid, (msg, code) in enumerate(cases, start=100):
        reply = await raw.request({**msg, "id": rid})
        assert reply is not None, f"the server closed the connection on {msg}"
        assert (reply["type"], reply["code"]) == ("error", code), (msg, reply)


async def honest_trade(buyer, seller) -> None:
    resting = await buyer.create_order(SYMBOL, "limit", "buy", "0.01", "29950")
    taken = await seller.create_order(SYMBOL, "market", "sell", "0.01")
    assert (taken.status, taken.filled) == ("FILLED", Decimal("0.01"))
    assert (await buyer.fetch_order(resting.id)).status == "FILLED"


def test_huge_numbers_are_refused_and_the_server_lives(tmp_path):
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            alice, bob = await funded_clients(svc, admin, 2)
            resting = await alice.create_order(SYMBOL, "limit", "buy", "0.01", "29900")
            raw = await raw_login(svc, (await admin.create_api_key(alice.account)).api_key)
            root = await raw_login(svc, admin.api_key)
            before, journal = await admin.state_hash(), journal_bytes(svc)
            place = {"op": "place", "symbol": SYMBOL, "side": "buy", "qty": "0.01", "price": "29000"}
            await expect_errors(raw, [
                ({**place, "qty": HUGE_QTY}, "INVALID_QTY"),
                ({**place, "qty": "1000.001"}, "INVALID_QTY"),  # one lot past the symbol's max
                ({**place, "price": HUGE_PRICE}, "INVALID_PRICE"),
                ({**place, "type": "stop", "stop_price": HUGE_PRICE}, "INVALID_PRICE"),
                ({"op": "amend", "symbol": SYMBOL, "order_id": resting.id, "qty": HUGE_QTY, "price": "29900"},
                 "INVALID_QTY"),
                ({"op": "amend", "symbol": SYMBOL, "order_id": resting.id, "qty": "0.01", "price": HUGE_PRICE},
                 "INVALID_PRICE"),
                ({"op": "adjust_margin", "symbol": SYMBOL, "amount": HUGE_CASH}, "INVALID_AMOUNT"),
                ({"op": "adjust_margin", "symbol": SYMBOL, "amount": "-" + HUGE_CASH}, "INVALID_AMOUNT"),
                ({"op": "set_leverage", "symbol": SYMBOL, "leverage": 2**64 - 1}, "INVALID_PARAM"),
                ({"op": "cancel", "symbol": SYMBOL, "order_id": 2**64 - 1}, "INVALID_PARAM"),
                ({"op": "book", "symbol": SYMBOL, "depth": 2**63}, "INVALID_PARAM"),
            ])
            await expect_errors(root, [
                ({"op": "deposit", "account": alice.account, "amount": HUGE_CASH}, "INVALID_AMOUNT"),
                ({"op": "withdraw", "account": alice.account, "amount": HUGE_CASH}, "INVALID_AMOUNT"),
                ({"op": "create_account", "deposit": HUGE_CASH}, "INVALID_AMOUNT"),
                ({"op": "create_account", "account": 2**64 - 1}, "INVALID_PARAM"),
                ({"op": "set_index", "symbol": SYMBOL, "price": HUGE_PRICE}, "INVALID_PRICE"),
                ({"op": "set_param", "symbol": SYMBOL, "name": "max_open_orders", "value": 2**64 - 1},
                 "INVALID_PARAM"),
            ])
            assert await admin.state_hash() == before
            assert journal_bytes(svc) == journal
            await honest_trade(alice, bob)
            svc.exchange.check_invariants()
            raw.close()
            root.close()
            await close_all(alice, bob, admin)
    run(scenario())


def test_long_or_unknown_enum_strings_are_refused_before_the_journal(tmp_path):
    """Enum fields are checked against their values at the edge (with the engine's codes), so a
    64 KB `tif` is never written to the journal."""
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            alice, bob = await funded_clients(svc, admin, 2)
            raw = await raw_login(svc, (await admin.create_api_key(alice.account)).api_key)
            root = await raw_login(svc, admin.api_key)
            before, journal = await admin.state_hash(), journal_bytes(svc)
            long = "G" * 60_000
            place = {"op": "place", "symbol": SYMBOL, "side": "buy", "qty": "0.01", "price": "29000"}
            stop = {**place, "type": "stop_market", "stop_price": "31000"}
            await expect_errors(raw, [
                ({**place, "tif": long}, "INVALID_TIF"),
                ({**place, "tif": "GTD"}, "INVALID_TIF"),
                ({**place, "stp": long}, "INVALID_STP"),
                ({**place, "type": long}, "INVALID_ORDER_TYPE"),
                ({**stop, "working_type": long}, "INVALID_TRIGGER"),
                ({**place, "working_type": "LAST_PRICE"}, "INVALID_TRIGGER"),
                ({**place, "side": long}, "INVALID_PARAM"),
                ({**place, "client_order_id": long}, "INVALID_PARAM"),
                ({**place, "symbol": long}, "UNKNOWN_SYMBOL"),
                ({"op": "set_margin_mode", "symbol": SYMBOL, "mode": long}, "INVALID_MARGIN_MODE"),
                ({"op": "set_margin_mode", "symbol": SYMBOL, "mode": "portfolio"}, "INVALID_MARGIN_MODE"),
                ({"op": "subscribe", "channel": long}, "UNKNOWN_CHANNEL"),
            ])
            await expect_errors(root, [
                ({"op": "set_param", "symbol": SYMBOL, "name": long, "value": 1}, "INVALID_PARAMETER"),
            ])
            assert await admin.state_hash() == before
            assert journal_bytes(svc) == journal
            # the values themselves still work, in any case
            o = await alice.create_order(SYMBOL, "limit", "buy", "0.01", "29000", {"tif": "gtc", "stp": "expire_maker"})
            assert (o.status, o.info["tif"]) == ("NEW", "GTC")
            assert (await bob.set_margin_mode("isolated", SYMBOL))["mode"] == "ISOLATED"
            raw.close()
            root.close()
            await close_all(alice, bob, admin)
    run(scenario())


def test_deeply_nested_values_get_an_error_not_a_dead_connection(tmp_path):
    """A request id (or op, or field) nested 1,000 deep has a repr that recurses past Python's limit:
    it is answered with an error and the connection carries on."""
    nested: list = []
    for _ in range(1000):
        nested = [nested]

    async def scenario():
        async with service(tmp_path) as svc:
            raw = await RawConnection.open(svc.port)
            assert (await raw.request({"op": "hello", "id": 1, "version": 1}))["type"] == "result"
            for msg, code in [({"op": "ping", "id": nested}, "BAD_MESSAGE"), ({"op": nested, "id": 3}, "BAD_MESSAGE"),
                              ({"op": "book", "id": 4, "symbol": nested}, "INVALID_PARAM"),
                              ({"op": "book", "id": 5, "symbol": SYMBOL, "depth": nested}, "INVALID_PARAM"),
                              ({"op": "subscribe", "id": 6, "channel": "book", "symbol": nested}, "INVALID_PARAM")]:
                raw.send(msg)
                reply = await raw.recv()
                assert reply is not None, f"connection closed on {str(msg)[:40]}"
                assert (reply["type"], reply["code"]) == ("error", code)
            assert (await raw.request({"op": "ping", "id": 7}))["type"] == "result"
            raw.close()
    run(scenario())


def test_an_exception_in_one_command_answers_it_and_the_exchange_carries_on(tmp_path):
    """A bug in a handler (injected into set_leverage) turns into an error answer for that command;
    commands queued with it and after it run. A bug in the fan-out (injected into publishing one
    command's events) costs stream messages, not the command's answer. Each is logged once, not
    once per repeat."""
    async def scenario():
        async with service(tmp_path) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            alice, bob = await funded_clients(svc, admin, 2)

            def broken(cmd, events):
                raise ZeroDivisionError("injected")
            svc.exchange._handlers[SetLeverage] = broken
            with captured_logs() as logs:
                results = await asyncio.gather(*(alice.set_leverage(10, SYMBOL) for _ in range(20)),
                                               bob.create_order(SYMBOL, "limit", "sell", "0.01", "30050"),
                                               return_exceptions=True)
            assert all(getattr(r, "code", None) for r in results[:20]), results[:20]
            assert results[20].status == "NEW"
            assert len([e for e in logs if e["log_level"] == "error"]) <= 1, logs

            publish = svc.server.hub.publish

            def broken_publish(events, touched, ts_ns):
                if any(type(e).__name__ == "AutoAddMarginSet" for e in events):
                    raise KeyError("injected")
                publish(events, touched, ts_ns)
            svc.server.hub.publish = broken_publish
            with captured_logs() as logs:
                answers = await asyncio.gather(*(bob.set_auto_add_margin(SYMBOL, i % 2 == 0) for i in range(10)))
            assert [a["enabled"] for a in answers] == [i % 2 == 0 for i in range(10)]
            errors = [e for e in logs if e["log_level"] == "error"]
            assert [(e["event"], e["where"]) for e in errors] == [("internal error", "publish")], errors
            await honest_trade(alice, bob)
            await close_all(alice, bob, admin)
    run(scenario())
