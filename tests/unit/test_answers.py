"""The gateway's answers to trading commands (exchange/runtime/answers.py): the cheap answer built from
an OrderAccepted event alone is the answer the general path builds from the order itself, and so is
its encoding, which reuses the encoded fields of orders of the same shape."""

from __future__ import annotations

import random

import msgpack

from exchange.config import load_config
from exchange.core.commands import (
    BUY,
    GTC,
    GTX,
    LIMIT,
    SELL,
    STOP,
    STOP_MARKET,
    TAKE_PROFIT,
    TAKE_PROFIT_MARKET,
    CreateAccount,
    Envelope,
    IndexPrice,
    PlaceOrder,
)
from exchange.core.engine import Exchange
from exchange.core.events import OrderAccepted
from exchange.runtime import answers


def test_a_resting_order_is_answered_from_its_event_as_from_the_order():
    cfg = load_config()
    ex = Exchange(cfg.instruments, cfg.initial_insurance_fund_cash)
    seq = 0

    def apply(cmd) -> list:
        nonlocal seq
        seq += 1
        return ex.apply(Envelope(seq, 1_000_000 + seq, "test", cmd))

    apply(IndexPrice("BTCUSDT", 300_000))  # 30,000.0 in ticks of 0.1
    apply(CreateAccount(1, 10**13))
    rng = random.Random(7)
    checked = set()
    for i in range(400):
        side = rng.choice((BUY, SELL))
        kind = rng.choice((LIMIT, LIMIT, STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET))
        away = rng.randrange(1, 3000)
        price = 300_000 - side * away if kind in (LIMIT, STOP, TAKE_PROFIT) else 0
        stop = 300_000 + rng.choice((-1, 1)) * away if kind != LIMIT else 0
        cmd = PlaceOrder(1, "BTCUSDT", side, rng.randrange(1, 500), price, kind, rng.choice((GTC, GTX)),
                         stop_price_ticks=stop, client_order_id=rng.choice(("", f"c{i}")))
        events = apply(cmd)
        if len(events) != 1 or type(events[0]) is not OrderAccepted:
            continue  # rejected, or it traded: answered by the general path only
        ev = events[0]
        inst = ex.instruments[ev.symbol]
        assert answers.resting(ev, inst) == answers.order_result(ex, 1, ev.order_id, events), cmd
        assert msgpack.unpackb(answers.place(ex, cmd, events)) == answers.resting(ev, inst)
        again = apply(cmd._replace(client_order_id=f"again{i}"))[0]  # the same shape: its encoded fields reused
        assert msgpack.unpackb(answers.place(ex, cmd, [again])) == answers.resting(again, inst)
        assert (again.order_id, again.client_order_id) != (ev.order_id, ev.client_order_id)
        checked.add(kind)
    assert checked == {LIMIT, STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET}
