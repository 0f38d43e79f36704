"""Config layering: a file over its `base` merges table by table, so adding one instrument keeps the
others and changing one field of an instrument keeps its other fields."""

from __future__ import annotations

from exchange.config import CONFIG_DIR, layer, load_config
from exchange.runtime.app import load_server_config
from exchange.sim.scenario import parse_scenario

SOL = ('[instruments.SOLUSDT]\ntick_size = "0.01"\nlot_step = "0.1"\nmin_qty = "0.1"\nmax_qty = "10000"\n'
       'brackets = [{ floor = "0", cap = "1000000", max_leverage = 50, mmr = "0.01" }]\n')


def test_layer_merges_tables_and_replaces_values():
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "b": [1, 2]}
    assert layer(base, {"a": {"y": {"q": 3}, "z": 0}, "b": [3]}) == {"a": {"x": 1, "y": {"p": 1, "q": 3}, "z": 0},
                                                                      "b": [3]}
    assert base == {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "b": [1, 2]}  # the base is not changed


def test_server_config_adding_an_instrument_keeps_the_others(tmp_path):
    (tmp_path / "default.toml").write_text((CONFIG_DIR / "default.toml").read_text())
    path = tmp_path / "server.toml"
    path.write_text('base = "default.toml"\n[server]\nport = 1\n' + SOL +
                    '[instruments.BTCUSDT]\nliquidation_fee = "0.02"\n')
    config, raw = load_server_config(path)
    by_symbol = {i.symbol: i for i in config.instruments}
    assert sorted(by_symbol) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    btc, default_btc = by_symbol["BTCUSDT"], load_config().instruments[0]
    assert btc.liquidation_fee_ppm == 20_000 and btc.brackets == default_btc.brackets
    assert raw["server"] == {"port": 1} and "base" not in raw


def test_a_scenario_layers_instruments_over_its_config():
    sc = parse_scenario({"feed": {"BTCUSDT": {"kind": "gbm", "price": "60000"}, "ETHUSDT": {"kind": "gbm", "price": "3000"},
                                  "SOLUSDT": {"kind": "gbm", "price": "150"}},
                         "instruments": {"SOLUSDT": {**__import__("tomllib").loads(SOL)["instruments"]["SOLUSDT"]},
                                         "ETHUSDT": {"mark_method": "index"}}})
    by_symbol = {i.symbol: i for i in sc.config.instruments}
    assert sorted(by_symbol) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert by_symbol["ETHUSDT"].mark_method == "index" and by_symbol["ETHUSDT"].taker_fee_ppm == 500
