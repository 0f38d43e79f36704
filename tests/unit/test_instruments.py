"""Instrument configuration: decimal strings become integers, bracket cum is derived, bad configs fail clearly."""

from __future__ import annotations

import copy
import tomllib
from decimal import Decimal

import pytest

from exchange.config import DEFAULT_CONFIG, load_config, parse_config
from exchange.core.instruments import NS_PER_HOUR
from exchange.core.margin import maint_margin_ppm
from exchange.core.money import CASH_SCALE, PPM

USDT = CASH_SCALE


@pytest.fixture(scope="module")
def raw() -> dict:
    with open(DEFAULT_CONFIG, "rb") as fh:
        return tomllib.load(fh)


def instruments(config) -> dict:
    return {i.symbol: i for i in config.instruments}


def test_btcusdt_filters_fees_and_funding_are_integers(config):
    btc = instruments(config)["BTCUSDT"]
    assert (btc.tick_size, btc.lot_step, btc.cash_per_tick_lot) == (Decimal("0.10"), Decimal("0.001"), 100)
    assert (btc.min_qty_lots, btc.max_qty_lots) == (1, 1_000_000)
    assert (btc.market_min_qty_lots, btc.market_max_qty_lots) == (1, 120_000)
    assert btc.min_notional_cash == 100 * USDT
    assert (btc.min_price_ticks, btc.max_price_ticks) == (5_568, 45_297_640)
    assert (btc.price_band_ppm, btc.market_band_ppm) == (50_000, 50_000)
    assert btc.max_open_orders == 200
    assert (btc.maker_fee_ppm, btc.taker_fee_ppm, btc.liquidation_fee_ppm) == (200, 500, 12_500)
    assert btc.funding_interval_ns == 8 * NS_PER_HOUR
    assert (btc.interest_e8, btc.premium_clamp_e8, btc.funding_cap_e8) == (10_000, 50_000, 375_000)
    assert btc.max_leverage == 125
    assert btc.impact_notional_cash == 25_000 * USDT
    assert config.initial_insurance_fund_cash == 1_000_000 * USDT


def test_ethusdt_units(config):
    eth = instruments(config)["ETHUSDT"]
    assert eth.cash_per_tick_lot == 10  # 0.01 USDT x 0.001 ETH = 10 cash units
    assert eth.min_notional_cash == 20 * USDT
    assert (eth.min_price_ticks, eth.max_price_ticks) == (3_986, 30_617_700)


BTC_CUM = [0, 50, 950, 11_450, 131_450, 481_450, 2_981_450, 14_481_450, 26_481_450, 41_481_450, 121_481_450,
           421_481_450]
ETH_CUM = [0, 15, 365, 5_365, 35_365, 135_365, 260_365, 510_365, 2_510_365]


@pytest.mark.parametrize("symbol, cums", [("BTCUSDT", BTC_CUM), ("ETHUSDT", ETH_CUM)])
def test_bracket_cum_matches_the_mechanics_table(config, symbol, cums):
    brackets = instruments(config)[symbol].brackets
    assert [b.cum_cash for b in brackets] == [c * USDT for c in cums]


def test_cum_is_derived_when_the_config_omits_it(raw):
    data = copy.deepcopy(raw)
    for row in data["instruments"]["BTCUSDT"]["brackets"]:
        row.pop("cum", None)
    btc = instruments(parse_config(data))["BTCUSDT"]
    assert [b.cum_cash for b in btc.brackets] == [c * USDT for c in BTC_CUM]


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_maintenance_margin_is_continuous_at_every_bracket_floor(config, symbol):
    inst = instruments(config)[symbol]
    for lower, upper in zip(inst.brackets, inst.brackets[1:]):
        floor = upper.floor_cash
        assert floor * lower.mmr_ppm - lower.cum_cash * PPM == floor * upper.mmr_ppm - upper.cum_cash * PPM


def test_bracket_for_takes_the_lower_bracket_at_a_shared_boundary(config):
    btc = instruments(config)["BTCUSDT"]
    assert btc.bracket_for(0).mmr_ppm == 4_000
    assert btc.bracket_for(50_000 * USDT).mmr_ppm == 4_000
    assert btc.bracket_for(50_000 * USDT + 1).mmr_ppm == 5_000
    assert btc.bracket_for(10**20).mmr_ppm == 500_000
    # MM of 100,000 USDT: 0.5% - 50 = 450 USDT
    assert maint_margin_ppm(btc, 100_000 * USDT) == 450 * USDT * PPM


def test_decimal_edges_convert_exactly(config):
    btc = instruments(config)["BTCUSDT"]
    assert btc.price_to_ticks("60000.1") == 600_001
    assert btc.qty_to_lots("1.5") == 1_500
    assert btc.ticks_to_str(600_001) == "60000.10"
    assert btc.lots_to_str(1_500) == "1.500"
    with pytest.raises(ValueError, match=r"price 60000.05 is not a multiple of 0.10"):
        btc.price_to_ticks("60000.05")
    with pytest.raises(ValueError, match=r"qty 0.0015 is not a multiple of 0.001"):
        btc.qty_to_lots("0.0015")


def test_load_config_reads_a_toml_file(tmp_path):
    text = DEFAULT_CONFIG.read_text().replace('maker_fee = "0.0002"', 'maker_fee = "0.0001"', 1)
    path = tmp_path / "x.toml"
    path.write_text(text)
    assert instruments(load_config(path))["BTCUSDT"].maker_fee_ppm == 100


def broken(raw: dict, change) -> dict:
    data = copy.deepcopy(raw)
    change(data["instruments"]["BTCUSDT"])
    return data


def _set(key, value):
    return lambda cfg: cfg.__setitem__(key, value)


def _bracket(i, key, value):
    return lambda cfg: cfg["brackets"][i].__setitem__(key, value)


@pytest.mark.parametrize("change, message", [
    (_bracket(2, "cum", "951"), r"BTCUSDT: bracket at floor 600000: cum 951 does not match the derived 950.000000"),
    (_bracket(0, "floor", "10"), r"first bracket must start at notional 0"),
    (_bracket(3, "floor", "500000"), r"BTCUSDT: bracket floor 500000 is not the previous cap 3000000"),
    (_bracket(1, "cap", "40000"), r"floor 50000: cap 40000 must exceed the floor"),
    (_bracket(1, "max_leverage", 0), r"max_leverage 0"),
    (_set("brackets", []), r"BTCUSDT: at least one bracket is required"),
    (_set("tick_size", "0.15"), r"BTCUSDT: max_price 4529764 is not a multiple of 0.15"),
    (_set("tick_size", "0.0000001"), r"tick_size x lot_step must be a whole number of cash units"),
    (_set("tick_size", "-0.1"), r"tick_size x lot_step must be a whole number"),
    (_set("min_qty", "0.0015"), r"min_qty 0.0015 is not a multiple of 0.001"),
    (_set("min_qty", "0"), r"min_qty must be at least one lot step"),
    (_set("max_qty", "0.0005"), r"max_qty 0.0005 is not a multiple"),
    (_set("market_max_qty", "0"), r"market_max_qty"),
    (_set("min_price", "5000000"), r"min_price .* above max_price"),
    (_set("min_notional", "ten"), r"BTCUSDT: .*"),
    (_set("maker_fee", "0.0000001"), r"rate 0.0000001 is not a multiple of 0.000001"),
    (_set("mark_method", "vwap"), r"mark_method 'vwap' is not one of"),
    (lambda cfg: cfg.pop("tick_size"), r"BTCUSDT: missing 'tick_size'"),
    (lambda cfg: cfg.pop("brackets"), r"BTCUSDT: missing 'brackets'"),
])
def test_bad_instrument_configs_fail_with_a_clear_error(raw, change, message):
    with pytest.raises(ValueError, match=message):
        parse_config(broken(raw, change))


def test_a_config_without_instruments_is_rejected():
    with pytest.raises(ValueError, match="defines no instruments"):
        parse_config({"exchange": {}})
