"""A seeded generator of bad requests against a live server: every op x every field x a set of bad
values of that field's kind (huge, negative, wrong type, nested 1,000 deep, long strings, NaN and
Infinity strings, bools for ints...), then random requests with several bad fields at once. Each
request is otherwise valid, so each must be refused at the edge: every answer is an error, nothing
reaches the journal, the state hash does not move, and an honest client still trades after it."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal

from loopback import SYMBOL, RawConnection, admin_client, close_all, funded_clients, run, service

from exchange.runtime.server import Limits

SEED = 20240607
NESTED: list = []
for _ in range(1000):
    NESTED = [NESTED]
LONG = "9" * 10_000
JUNK = [NESTED, {"a": NESTED}, [], {}, 1.5, float("nan"), float("inf"), b"\x00\xff", LONG]
BAD = {  # field kind -> values no field of that kind accepts (besides JUNK)
    "decimal+": ["999999999999999999.999", "-1", "0", "NaN", "Infinity", "-Infinity", "1e999", "1e-999", "",
                 " 1", "0x10", "1_000", "1e18", "0.0000001", "9" * 41, 1, -1, True, 2**63],
    "asset+": ["999999999999999999.999", "-1", "0", "NaN", "Infinity", "1e999", "1e-999", "", " 1", "0x10", "1_000",
               "1e11", "0.000000001", "9" * 41, 1, -1, True, 2**63],  # BTC: 8 decimals, at most 10^18 units
    "brackets": [[], "x", 5, True, [{}], [[0, 1, 2, 3]], [{"floor": "0", "cap": "1e999", "max_leverage": 1, "mmr": "0.1"}],
                 [{"floor": "0", "cap": "100", "max_leverage": 1, "mmr": "0.1"}] * 40, [NESTED], [{"cum": NESTED}]],
    "decimal": ["999999999999999999999.9", "NaN", "Infinity", "-Infinity", "1e999", "", "0x10", "0.0000001",
                "9" * 41, "100000000000000", "-100000000000000", 1, True],
    "int+": [-1, 0, 2**63, 2**64 - 1, -(2**63), True, False, "1", 1.0],
    "int": [-1, 2**63, 2**64 - 1, -(2**63), True, "1", 1.0],
    "enum": ["x" * 10_000, "", "GTD", "LIMIT\x00", "buy ", 5, True],
    "bool": [1, 0, "true", "false"],
    "str": ["x" * 10_000, 5, True],
    "symbol": ["X" * 10_000, "", "btcusdt", "BTCUSDT ", 5, True],
}


def templates(order_id: int, account: int) -> tuple[dict, dict]:
    """(account ops, admin ops): op -> (valid request, {field: kind})."""
    sym = {"symbol": "symbol"}
    limit = {"symbol": SYMBOL, "side": "buy", "qty": "0.01", "price": "29000", "type": "limit", "tif": "GTC",
             "post_only": False, "reduce_only": False, "working_type": "MARK_PRICE", "stp": "NONE",
             "client_order_id": "c1"}
    trader = {
        "place": (limit, {**sym, "side": "enum", "qty": "decimal+", "price": "decimal+", "type": "enum", "tif": "enum",
                          "post_only": "bool", "reduce_only": "bool", "working_type": "enum", "stp": "enum",
                          "client_order_id": "str"}),
        "place ": ({**limit, "type": "stop_market", "stop_price": "31000"}, {"stop_price": "decimal+"}),
        "cancel": ({"symbol": SYMBOL, "order_id": order_id}, {**sym, "order_id": "int+"}),
        "cancel_all": ({"symbol": SYMBOL}, sym),
        "amend": ({"symbol": SYMBOL, "order_id": order_id, "qty": "0.02", "price": "29000"},
                  {**sym, "order_id": "int+", "qty": "decimal+", "price": "decimal+"}),
        "set_leverage": ({"symbol": SYMBOL, "leverage": 10}, {**sym, "leverage": "int+"}),
        "set_margin_mode": ({"symbol": SYMBOL, "mode": "cross"}, {**sym, "mode": "enum"}),
        "adjust_margin": ({"symbol": SYMBOL, "amount": "1"}, {**sym, "amount": "decimal"}),
        "set_auto_add_margin": ({"symbol": SYMBOL, "enabled": True}, {**sym, "enabled": "bool"}),
        "positions": ({"symbol": SYMBOL}, sym),
        "open_orders": ({"symbol": SYMBOL}, sym),
        "order": ({"order_id": order_id}, {"order_id": "int+"}),
        "book": ({"symbol": SYMBOL, "depth": 5}, {**sym, "depth": "int+"}),
        "ticker": ({"symbol": SYMBOL}, sym),
        "funding": ({"symbol": SYMBOL}, sym),
        "hello": ({"version": 1}, {"version": "int+"}),
        "login": ({"api_key": "lk_x"}, {"api_key": "str"}),
        "subscribe": ({"channel": "book", "symbol": SYMBOL}, {"channel": "enum", **sym}),
        "unsubscribe": ({"channel": "book", "symbol": SYMBOL}, {"channel": "enum", **sym}),
    }
    admin = {
        "create_account": ({"account": 10_000, "deposit": "100"}, {"account": "int", "deposit": "decimal+"}),
        "create_api_key": ({"account": account}, {"account": "int"}),
        "deposit": ({"account": account, "amount": "1"}, {"account": "int", "amount": "decimal+"}),
        "withdraw": ({"account": account, "amount": "1"}, {"account": "int", "amount": "decimal+"}),
        "set_halted": ({"halted": False}, {"halted": "bool"}),
        "set_index": ({"symbol": SYMBOL, "price": "30000"}, {**sym, "price": "decimal+"}),
        "shock_index": ({"symbol": SYMBOL, "pct": "-5", "seconds": "1"}, {**sym, "pct": "decimal", "seconds": "decimal"}),
        "set_param": ({"symbol": SYMBOL, "name": "max_open_orders", "value": 100},
                      {**sym, "name": "enum", "value": "int"}),
        "set_brackets": ({"symbol": SYMBOL, "brackets": [{"floor": "0", "cap": "50000", "max_leverage": 125,
                                                           "mmr": "0.004"}]}, {**sym, "brackets": "brackets"}),
        "deposit_asset": ({"account": account, "asset": "BTC", "amount": "0.1"},
                          {"account": "int", "asset": "str", "amount": "asset+"}),
        "withdraw_asset": ({"account": account, "asset": "BTC", "amount": "0.1"},
                           {"account": "int", "asset": "str", "amount": "asset+"}),
        "account": ({"account": account}, {"account": "int"}),
        "open_orders": ({"account": account, "symbol": SYMBOL}, {"account": "int", **sym}),
        "order": ({"account": account, "order_id": order_id}, {"account": "int", "order_id": "int+"}),
    }
    return trader, admin


def brief(msg: dict) -> str:
    """A request for an assertion message (its own repr may recurse past Python's limit)."""
    return str({k: repr(v)[:40] if isinstance(v, (str, int, float, bytes)) else type(v).__name__ for k, v in msg.items()})


def bad_requests(ops: dict, rng: random.Random, extra: int) -> list[dict]:
    """Every (op, field, bad value), then `extra` random requests with 2-3 bad fields; plus bad ids and ops."""
    out = []
    for op, (valid, fields) in ops.items():
        for field, kind in fields.items():
            for value in BAD[kind] + JUNK:
                out.append({**valid, "op": op.strip(), field: value})
    pairs = [(op, f) for op, (_, fields) in ops.items() for f in fields]
    for _ in range(extra):
        op = rng.choice(list(ops))
        valid, fields = ops[op]
        msg = {**valid, "op": op.strip()}
        for field in rng.sample(list(fields), min(len(fields), rng.randint(2, 3))):
            msg[field] = rng.choice(BAD[fields[field]] + JUNK)
        out.append(msg)
    for value in [-1, 2**63, "7", 1.5, True, None, NESTED, LONG]:
        op, _ = rng.choice(pairs)
        out.append({**ops[op][0], "op": op.strip(), "id": value})
    for value in ["nope", "", "PLACE", LONG, 5, True, NESTED, None]:
        out.append({"op": value})
    return out


def test_bad_requests_of_every_op_and_field_are_refused_before_the_journal(tmp_path):
    async def scenario() -> int:
        async with service(tmp_path, limits=Limits(rate=1e9, burst=1e9),
                           collateral={"BTC": {"decimals": 8, "value_ratio": "0.95", "index": SYMBOL}}) as svc:
            admin = await admin_client(svc)
            await admin.set_index(SYMBOL, "30000")
            alice, bob = await funded_clients(svc, admin, 2)
            resting = await alice.create_order(SYMBOL, "limit", "buy", "0.01", "29000")
            key = (await admin.create_api_key(alice.account)).api_key
            trader_ops, admin_ops = templates(resting.id, alice.account)
            rng = random.Random(SEED)
            before = await admin.state_hash()
            svc.sequencer.journal.flush()
            journal = (svc.run_dir / "journal.msgpack").stat().st_size
            tried = 0
            for ops, api_key in ((trader_ops, key), (admin_ops, admin.api_key)):
                raw = await RawConnection.open(svc.port)
                assert (await raw.request({"op": "hello", "id": 0, "version": 1}))["type"] == "result"
                assert (await raw.request({"op": "login", "id": 1, "api_key": api_key}))["type"] == "result"
                requests = bad_requests(ops, rng, 1000)
                ids = itertools.count(10)
                for batch in range(0, len(requests), 200):
                    sent = []
                    for msg in requests[batch:batch + 200]:
                        msg = {"id": next(ids), **msg}
                        sent.append(msg)
                        raw.send(msg)
                    replies = {}
                    for _ in sent:  # queries answer in the sequencer's order, the rest at once: match by id
                        reply = await raw.recv()
                        assert reply is not None, "the server closed the connection"
                        replies.setdefault(reply["id"], []).append(reply)
                    for msg in sent:
                        rid = msg["id"] if type(msg["id"]) is int else None
                        assert replies.get(rid), f"no answer to {brief(msg)}"
                        reply = replies[rid].pop()
                        assert reply["type"] == "error" and reply["code"], (brief(msg), reply)
                tried += len(requests)
                assert (await raw.request({"op": "ping", "id": 1})).get("type") == "result"
                raw.close()
            assert await admin.state_hash() == before
            svc.sequencer.journal.flush()
            assert (svc.run_dir / "journal.msgpack").stat().st_size == journal
            taken = await bob.create_order(SYMBOL, "market", "sell", "0.01")
            assert (taken.status, taken.filled) == ("FILLED", Decimal("0.01"))
            svc.exchange.check_invariants()
            await close_all(alice, bob, admin)
            return tried
    tried = run(scenario())
    assert tried > 3000
    print(f"bad requests tried: {tried}")
