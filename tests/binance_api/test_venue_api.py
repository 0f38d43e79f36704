"""The compatible API follows the venue profile where it reports rules: leverageBracket lists the
profile's tiers, exchangeInfo the filters of its instruments, and positionRisk (read by ccxt) the
liquidation price of the venue's rules: the same 1 BTC 10x isolated long at 60,000 is at 54,221.11 on
Binance, 54,198.00 on Bybit, 54,244.10 on OKX, 54,683.54 on Hyperliquid and 55,670.10 on dYdX
(rounded to the 0.10 tick on the account's side: a long's down)."""

from __future__ import annotations

from decimal import Decimal

import aiohttp

from exchange.config import CONFIG_DIR, load_config_data, venue_profile
from exchange.runtime.app import load_server_config

from .conftest import BTC, Rest, http_service, run
from .test_ccxt import SYM, _ccxt

LP = {"binance": "54221.10", "bybit": "54198.00", "okx": "54244.00", "hyperliquid": "54683.50", "dydx": "55670.10"}


def test_a_server_config_names_its_venue(tmp_path):
    """`venue = "okx"` in a server config layers the profile between its base and itself."""
    path = tmp_path / "okx.toml"
    path.write_text(f'base = "{CONFIG_DIR / "server.toml"}"\nvenue = "okx"\n[instruments.BTCUSDT]\nmax_open_orders = 50\n')
    config, raw = load_server_config(path)
    btc = next(i for i in config.instruments if i.symbol == BTC)
    assert config.venue.name == "okx" and raw["venue"] == "okx"
    assert (btc.brackets[0].mmr_ppm, btc.liquidation_fee_ppm, btc.max_open_orders) == (4_000, 500, 50)
    assert load_config_data(CONFIG_DIR / "server.toml").get("venue") is None


def test_leverage_brackets_and_position_risk_follow_the_profile(tmp_path):
    async def scenario(venue: str) -> None:
        async with http_service(tmp_path / venue, instruments={BTC: {"mark_method": "index"}}, venue=venue) as svc, \
                aiohttp.ClientSession() as session:
            rest = Rest(svc, session)
            await rest.index(BTC, "60000")
            maker, trader = await rest.account("10000000"), await rest.account("100000")
            status, rows = await rest.signed("GET", "/fapi/v1/leverageBracket", trader["apiKey"], trader["secretKey"],
                                             symbol=BTC)
            want = venue_profile(venue).get("instruments", {}).get(BTC, {}).get("brackets")
            if want:
                assert status == 200 and [(b["maintMarginRatio"], b["initialLeverage"]) for b in rows[0]["brackets"]] \
                    == [(float(r["mmr"]), r["max_leverage"]) for r in want]
            status, info = await rest.public("/fapi/v1/exchangeInfo")
            (sym,) = [s for s in info["symbols"] if s["symbol"] == BTC]
            assert Decimal(sym["maintMarginPercent"]) == Decimal(str(svc.exchange.instruments[BTC].brackets[0].mmr_ppm)) / 10_000
            mk, bot = _ccxt(svc, maker), _ccxt(svc, trader)
            try:
                await mk.load_markets()
                await mk.create_order(SYM, "limit", "sell", 1, 60000)
                await bot.set_margin_mode("isolated", SYM)
                await bot.set_leverage(10, SYM)
                await bot.create_order(SYM, "market", "buy", 1)
                (pos,) = [p for p in await bot.fetch_positions([SYM]) if p["contracts"]]
                assert pos["info"]["liquidationPrice"] == LP[venue], (venue, pos["info"])
            finally:
                await mk.close()
                await bot.close()

    for venue in LP:
        run(scenario(venue))
