"""The wire layer with bytes alone: framing limits, decimal conversion, request validation."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import msgpack
import pytest

from exchange.config import load_config
from exchange.core.commands import AmendOrder, PlaceOrder
from exchange.wire.codec import BadFrame, Decoder, FrameTooLarge, encode
from exchange.wire.schema import WireError, parse_request, price_str, to_command, to_wire

INSTRUMENTS = {i.symbol: i for i in load_config().instruments}


def test_decoder_reassembles_frames_split_anywhere():
    data = b"".join(encode({"op": "ping", "id": i}) for i in range(50))
    decoder = Decoder(1024)
    out = [m for b in data for m in decoder.feed(bytes([b]))]
    assert out == [{"op": "ping", "id": i} for i in range(50)]


def test_frame_limit_is_exact_and_bad_bytes_are_refused():
    frame = encode({"pad": "x" * 990})
    assert len(frame) == 998
    assert Decoder(998).feed(frame) == [{"pad": "x" * 990}]
    with pytest.raises(FrameTooLarge):
        Decoder(997).feed(frame)
    with pytest.raises(FrameTooLarge):  # an unfinished frame already past the limit
        Decoder(995).feed(msgpack.packb({"pad": "x" * 5000})[:2000])
    with pytest.raises(BadFrame):
        Decoder(1024).feed(b"\xc1")
    with pytest.raises(BadFrame):  # map keys must be strings
        Decoder(1024).feed(msgpack.packb({1: 2}))


def test_place_converts_decimal_strings_with_tick_and_lot():
    msg = {"op": "place", "id": 1, "symbol": "BTCUSDT", "side": "sell", "qty": "0.015", "price": "30000.5",
           "tif": "ioc", "client_order_id": "c1"}
    assert parse_request(msg) == ("place", 1)
    assert to_command("place", msg, 7, INSTRUMENTS) == PlaceOrder(7, "BTCUSDT", -1, 15, 300005, "LIMIT", "IOC",
                                                                  False, 0, "MARK_PRICE", "NONE", "c1")
    amend = {"symbol": "BTCUSDT", "order_id": 3, "qty": "2", "price": "100"}
    assert to_command("amend", amend, 7, INSTRUMENTS) == AmendOrder(7, "BTCUSDT", 3, 2000, 1000)


@pytest.mark.parametrize("qty, price, code, message", [
    ("0.0015", "30000", "INVALID_PARAM", "qty 0.0015 is not a multiple of lot step 0.001"),
    ("0.001", "30000.05", "INVALID_PARAM", "price 30000.05 is not a multiple of tick size 0.10"),
    ("0", "30000", "INVALID_PARAM", "qty 0 must be positive"),
    ("1e30", "30000", "INVALID_PARAM", "qty 1e30 is out of range"),
    ("abc", "30000", "INVALID_PARAM", "qty 'abc' is not a decimal number"),
    (0.5, "30000", "INVALID_PARAM", "qty must be str, not float"),
    ("1", None, "MISSING_PARAM", "missing parameter 'price'"),
])
def test_bad_numbers_give_clear_errors(qty, price, code, message):
    msg = {"symbol": "BTCUSDT", "side": "buy", "qty": qty, "price": price}
    with pytest.raises(WireError) as err:
        to_command("place", msg, 1, INSTRUMENTS)
    assert (err.value.code, err.value.message) == (code, message)


@pytest.mark.parametrize("msg, code", [
    ([1], "BAD_MESSAGE"), ({"op": "ping"}, "BAD_MESSAGE"), ({"op": "ping", "id": True}, "BAD_MESSAGE"),
    ({"op": "launch", "id": 1}, "UNKNOWN_OP"), ({"op": None, "id": 1}, "BAD_MESSAGE"),
])
def test_malformed_requests(msg, code):
    with pytest.raises(WireError) as err:
        parse_request(msg)
    assert err.value.code == code


def test_core_units_become_decimal_strings():
    inst = INSTRUMENTS["BTCUSDT"]
    view = {"size_lots": -1500, "entry_price_ticks": Fraction(600001, 2), "wallet_cash": 1_500_000,
            "funding_rate_e8": -12_345, "margin_ratio_ppm": 250_000, "side": -1, "liquidation_price_ticks": None,
            "leverage": 20, "tick_size": Decimal("0.10")}
    assert to_wire(view, inst) == {"size": "-1.500", "entry_price": "30000.05000", "wallet": "1.500000",
                                   "funding_rate": "-0.00012345", "margin_ratio": "0.250000", "side": "sell",
                                   "liquidation_price": None, "leverage": 20, "tick_size": "0.10"}
    assert price_str(300005, inst) == "30000.5"
