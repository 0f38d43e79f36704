"""docs/venues.md says what the code does: its rules table is the shipped profiles', its command runs and
prints the comparison table the page shows, its collateral example parses, its worked example is the
one the unit tests prove."""

from __future__ import annotations

import re
import shlex
import tomllib
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from exchange.__main__ import main
from exchange.config import DEFAULT_CONFIG, VENUE_DIR, load_config_data, parse_config, with_venue
from exchange.core.accounts import Position
from exchange.core.collateral import asset_from_config
from exchange.core.venues import SWITCHES

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "venues.md").read_text()


def test_the_rules_table_is_the_profiles():
    rows = re.findall(r"^\| `(\w+)` \|(.*)\|$", PAGE, re.M)
    header = re.search(r"^\| switch \|(.*)\|$", PAGE, re.M).group(1)
    venues = [v.strip() for v in header.split("|")]
    table = {switch: dict(zip(venues, (c.strip() for c in cells.split("|")), strict=True)) for switch, cells in rows}
    assert set(table) == set(SWITCHES)
    for venue in venues:
        rules = tomllib.loads((VENUE_DIR / f"{venue}.toml").read_text())["venue_rules"]
        for switch, choices in SWITCHES.items():
            assert table[switch][venue] == rules.get(switch, choices[0]), (venue, switch)


def test_the_pages_command_prints_the_pages_table(tmp_path, monkeypatch, capsys):
    block = re.search(r"```sh\n(.*?)```", PAGE, re.S).group(1)
    (line,) = [ln for ln in block.splitlines() if ln.startswith("python -m exchange ")]
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(line)[3:]) == 0
    out = capsys.readouterr().out
    shown = re.search(r"```\n(compare-venues .*?)```", PAGE, re.S).group(1).rstrip()
    assert out.startswith(shown + "\n")
    assert (tmp_path / "runs" / "venue_crash-seed5-venues" / "compare_venues.html").exists()


def test_the_collateral_example_parses():
    block = re.search(r"```toml\n(\[collateral.BTC\].*?)```", PAGE, re.S).group(1)
    tables = tomllib.loads(block)["collateral"]
    btc, usdc = (asset_from_config(n, t, ["BTCUSDT"]) for n, t in tables.items())
    assert (btc.decimals, btc.value_ratio_ppm, btc.index_symbol) == (8, 950_000, "BTCUSDT")
    assert (usdc.price_cash, usdc.value_ratio_ppm) == (1_000_000, 1_000_000)


def test_the_worked_examples_are_the_profiles_numbers():
    """Each row's long and short LP (1 BTC at 60,000, 10x isolated) is what the profile computes."""
    for venue in ("binance", "bybit", "okx", "hyperliquid", "dydx"):
        cfg = parse_config(with_venue(load_config_data(DEFAULT_CONFIG), venue))
        inst = next(i for i in cfg.instruments if i.symbol == "BTCUSDT")
        computed = []
        for side in (1, -1):
            pos = Position(0, "BTCUSDT")
            pos.mode, pos.leverage, pos.size = "ISOLATED", 10, side * 1000
            pos.cost = pos.size * 600_000 * inst.cash_per_tick_lot
            pos.isolated_wallet = abs(pos.cost) // 10
            num, den = cfg.venue.position_price(inst, pos, pos.isolated_wallet)
            computed.append(f"{(Decimal(num) / den * inst.tick_size).quantize(Decimal('0.01'), ROUND_HALF_UP):,}")
        row = next(r for r in PAGE.splitlines() if r.lower().startswith(f"| {venue} |"))
        assert re.findall(r"\*\*([\d,.]+)\*\*", row) == computed, venue
