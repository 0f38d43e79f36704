"""The I/O-free Binance translation (exchange/runtime/http/binance) and the history it reads:
parameters -> commands, rejections -> codes, signing, shapes, stream names, order records."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from exchange.core.commands import AmendOrder, CancelOrder, PlaceOrder
from exchange.core.errors import Reject
from exchange.runtime.http import history as history_mod
from exchange.runtime.http.binance import errors, shapes, signing
from exchange.runtime.http.binance.errors import BinanceError, reject_error
from exchange.runtime.http.binance.params import Params, amend_command, order_command, parse_pairs
from exchange.runtime.http.binance.streams import StreamKey, parse_stream
from exchange.runtime.http.history import History, merge_candles

BTC = "BTCUSDT"


def code_of(fn, *args, **kwargs) -> int:
    with pytest.raises(BinanceError) as err:
        fn(*args, **kwargs)
    return err.value.code


def test_every_core_rejection_has_a_binance_code():
    assert set(errors.REJECT_TABLE) == set(Reject)
    assert reject_error("PlaceOrder", Reject.INSUFFICIENT_MARGIN, "x").code == -2019
    assert reject_error("SetLeverage", Reject.INSUFFICIENT_MARGIN, "x").code == -2028
    assert reject_error("PlaceOrder", Reject.PRICE_BAND, "buy price 1 ticks is above 2").code == -4016
    assert reject_error("PlaceOrder", Reject.PRICE_BAND, "sell price 1 ticks is below 2").code == -4024
    assert reject_error("SetMarginMode", Reject.MARGIN_MODE_LOCKED, "cannot change with position 0 and 1 open orders").code == -4047
    assert reject_error("SetMarginMode", Reject.MARGIN_MODE_LOCKED, "cannot change with position 5 and 0 open orders").code == -4048
    err = reject_error("PlaceOrder", Reject.MIN_NOTIONAL, "notional 29 is below 100")
    assert (err.code, err.status) == (-4164, 400) and err.msg.endswith("(notional 29 is below 100)")
    assert [errors.http_status(c) for c in (-2015, -2014, -1003, -1008, -1000, -2019)] == [401, 401, 429, 503, 500, 400]


def test_params_are_bounded_and_typed():
    assert code_of(Params, [("a", "1"), ("a", "2")]) == -1101
    assert code_of(parse_pairs, "&".join(f"p{i}=1" for i in range(41))) == -1101
    assert code_of(Params, [("a", "x" * 65)]) == -1100
    p = Params.of(n="12", b="TRUE", e="gtc", d="0.0100", neg="-1", big="99999999999999999999")
    assert (p.integer("n", 0, 20), p.boolean("b"), p.enum("e", ("GTC",)), p.decimal("d")) == (12, True, "GTC", Decimal("0.0100"))
    assert code_of(p.integer, "n", 0, 10) == -1130
    assert code_of(p.integer, "big", 0, 10) == -1100
    assert code_of(p.integer, "missing", 0, 10) == -1102
    assert code_of(Params.of(b="yes").boolean, "b") == -1130
    assert code_of(Params.of(d="1e5").decimal, "d") == -1100
    assert p.units("d", Decimal("0.001"), (-1111, -4023)) == 10  # trailing zeros are not extra precision
    assert code_of(Params.of(d="0.0015").units, "d", Decimal("0.001"), (-1111, -4023)) == -1111
    assert code_of(Params.of(d="0.3").units, "d", Decimal("0.2"), (-1111, -4023)) == -4023


def test_orders_become_exact_core_commands(config):
    instruments = {i.symbol: i for i in config.instruments}
    limit = Params.of(symbol="btcusdt", side="SELL", type="LIMIT", timeInForce="GTX", quantity="0.250",
                      price="30000.10", reduceOnly="true", newClientOrderId="bot-1")
    assert order_command(limit, 7, instruments, "gen") == PlaceOrder(
        7, BTC, -1, 250, 300001, "LIMIT", "GTX", True, 0, "CONTRACT_PRICE", "NONE", "bot-1")
    market = Params.of(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="1")
    assert order_command(market, 7, instruments, "gen") == PlaceOrder(7, BTC, 1, 1000, 0, "MARKET", "GTC", False, 0,
                                                                     "CONTRACT_PRICE", "NONE", "gen")
    algo = Params.of(algoType="CONDITIONAL", symbol="BTCUSDT", side="SELL", type="STOP_MARKET", quantity="0.1",
                     triggerPrice="29000", workingType="MARK_PRICE", clientAlgoId="stop-1")
    assert order_command(algo, 7, instruments, "gen", algo=True) == PlaceOrder(
        7, BTC, -1, 100, 0, "STOP_MARKET", "GTC", False, 290000, "MARK_PRICE", "NONE", "stop-1")
    assert code_of(order_command, Params.of(algoType="CONDITIONAL", symbol="BTCUSDT", side="BUY", type="LIMIT",
                                            quantity="1", price="1000", timeInForce="GTC"), 7, instruments, "g", True) == -1116
    assert code_of(order_command, Params.of(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="121"), 7, instruments,
                   "g") == -4005  # MARKET_LOT_SIZE, not LOT_SIZE
    amend = Params.of(symbol="BTCUSDT", side="BUY", quantity="0.5", price="29000")
    assert amend_command(amend, 7, instruments[BTC], 42, 1, 200) == AmendOrder(7, BTC, 42, 300, 290000)
    assert code_of(amend_command, amend, 7, instruments[BTC], 42, -1, 0) == -1130  # the side must be the order's
    assert code_of(amend_command, amend, 7, instruments[BTC], 42, 1, 500) == -4004  # nothing left to rest


def test_signing_matches_binance_published_example():
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    sig = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    assert signing.sign(secret, query) == sig
    now = 1499827319559 + 100
    assert signing.verify(f"{query}&signature={sig}", "", secret, now).raw("symbol") == "LTCBTC"
    head, tail = query[:37], query[38:]  # split after "timeInForce=GTC": query ends, body begins
    mixed = signing.sign(secret, head + tail)
    assert signing.verify(head, f"{tail}&signature={mixed}", secret, now).raw("price") == "0.1"
    assert code_of(signing.verify, f"{query}&signature={sig}", "", secret, now + 5000) == -1021
    assert code_of(signing.verify, f"{query}&signature={sig}", "", secret, 1499827319559 - 1000) == -1021
    assert code_of(signing.verify, f"{query}&signature={sig.upper()[:-1]}", "", secret, now) == -1022
    assert code_of(signing.verify, query, "", secret, now) == -1102


def test_shapes_of_prices_and_the_liquidation_tick(config):
    inst = {i.symbol: i for i in config.instruments}[BTC]
    assert (shapes.px(300001, inst), shapes.qty(1500, inst), shapes.cash(-1_500_000)) == ("30000.10", "1.500", "-1.500000")
    assert shapes.px_fraction(Fraction(2861440, 100), inst) == "2861.44000000"
    assert shapes.liquidation_tick(Fraction(2861441, 10), 5) == 286144  # a long goes at floor(LP)
    assert shapes.liquidation_tick(Fraction(2861441, 10), -5) == 286145  # a short at ceil(LP)
    assert shapes.liquidation_tick(None, 5) == 0
    filters = {f["filterType"]: f for f in shapes.symbol_info(inst)["filters"]}
    assert filters["LOT_SIZE"] == {"filterType": "LOT_SIZE", "stepSize": "0.001", "minQty": "0.001", "maxQty": "1000.000"}
    assert shapes.leverage_bracket(inst)["brackets"][1] == {"bracket": 2, "initialLeverage": 100, "notionalCap": 600000,
                                                           "notionalFloor": 50000, "maintMarginRatio": 0.005, "cum": 50.0}


def test_stream_names(config):
    instruments = {i.symbol: i for i in config.instruments}
    assert parse_stream("btcusdt@depth", instruments) == StreamKey("depth", BTC, 250)
    assert parse_stream("btcusdt@depth@100ms", instruments) == StreamKey("depth", BTC, 100)
    assert parse_stream("btcusdt@depth20@500ms", instruments) == StreamKey("partial", BTC, 20_500)
    assert parse_stream("btcusdt@kline_15m", instruments) == StreamKey("kline", BTC, 900_000)
    assert parse_stream("btcusdt@markPrice@1s", instruments) == StreamKey("markPrice", BTC, 1000)
    assert parse_stream("!forceOrder@arr", instruments) == StreamKey("forceOrder", "", 0)
    for bad in ("BTCUSDT@trade", "dogeusdt@trade", "btcusdt@depth7", "btcusdt@kline_7m", "btcusdt@depth@50ms", "", "x" * 80):
        assert parse_stream(bad, instruments) is None, bad


def test_history_records_orders_fills_income_and_candles(market):
    ex = market.ex
    h = History(ex)
    ev = market(PlaceOrder(1, BTC, -1, 500, 600000, client_order_id="m"))
    h.record(ev, 61_000_000_000)
    ev = market(PlaceOrder(2, BTC, 1, 200, 0, "MARKET", client_order_id="t"))
    updates = h.record(ev, 62_000_000_000)
    maker, taker = h.order(1, client_id="m"), h.order(2, client_id="t")
    assert (maker.status, maker.filled, taker.status, taker.filled) == ("PARTIALLY_FILLED", 200, "FILLED", 200)
    assert [(u.record.client_id, u.execution, u.status) for u in updates] == [("t", "NEW", "NEW"), ("m", "TRADE", "PARTIALLY_FILLED"),
                                                                            ("t", "TRADE", "FILLED")]
    (fill,) = h.account_fills(2)
    assert (fill.price, fill.qty, fill.fee, fill.maker) == (600000, 200, 6_000_000, False)  # 0.05% of 12,000
    assert [(i.kind, i.amount_cash) for i in h.account_income(2)] == [("COMMISSION", -6_000_000)]
    ev = market(CancelOrder(1, BTC, maker.order_id))
    h.record(ev, 63_000_000_000)
    assert (maker.status, maker.closed) == ("CANCELED", True)
    candle = h.candles[BTC][-1]
    assert candle[:8] == [60_000, 600000, 600000, 600000, 600000, 200, 200 * 600000, 1]
    assert merge_candles([[0, 1, 5, 1, 2, 1, 1, 1, 0, 0, 1, 1], [60_000, 2, 3, 0, 3, 1, 3, 1, 1, 3, 2, 2]], 300_000) == \
        [[0, 1, 5, 0, 3, 2, 4, 2, 1, 3, 1, 2]]


def test_history_rings_are_bounded(market, monkeypatch):
    monkeypatch.setattr(history_mod, "ORDERS_PER_ACCOUNT", 5)
    monkeypatch.setattr(history_mod, "CLOSED_ORDERS_KEPT", 8)
    h = History(market.ex)
    for i in range(20):
        ev = market(PlaceOrder(1, BTC, 1, 10, 590000 + i, client_order_id=f"o{i}"))
        h.record(ev, (i + 1) * 1_000_000_000)
        h.record(market(CancelOrder(1, BTC, ev[0].order_id)), (i + 1) * 1_000_000_000)
    assert [r.client_id for r in h.account_orders(1)] == [f"o{i}" for i in range(15, 20)]
    assert len(h.orders) <= 8 and len(h.closed) <= 8
