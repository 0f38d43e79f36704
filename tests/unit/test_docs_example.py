"""The worked example in docs/margin-and-liquidation.md, run and checked number by number."""

import runpy
from pathlib import Path

from exchange.core.money import CASH_SCALE

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "cross_vs_isolated.py"


def test_cross_survives_longer_isolated_keeps_the_rest() -> None:
    """Isolated is liquidated at 45,100 keeping 4,975; cross at 40,100 losing all 10,000."""
    rows = runpy.run_path(str(EXAMPLE))["run"]()
    by_mark = {r["mark"]: r for r in rows}
    assert [r["mark"] for r in rows if r["liquidated"]] == ["45100", "40100"]
    assert by_mark["45100"]["liquidated"] == [2] and by_mark["40100"]["liquidated"] == [1]
    usdt = CASH_SCALE
    assert by_mark["50000"][1]["equity"] == 9_975 * usdt
    assert by_mark["50000"][2]["isolated_wallet"] == 5_000 * usdt
    assert by_mark["46000"][1]["equity"] == 5_975 * usdt and by_mark["46000"][2]["size"] == 1000
    iso = by_mark["45100"][2]
    assert (iso["size"], iso["isolated_wallet"], iso["cross_wallet"]) == (0, 0, 4_975 * usdt)
    assert by_mark["45100"]["insurance_fund_delta"] == 50 * usdt  # sold at 45,050, settled at BP 45,000
    assert by_mark["45100"][1]["equity"] == 5_075 * usdt and by_mark["45100"][1]["size"] == 1000
    assert by_mark["40500"][1]["equity"] == 475 * usdt
    cross = by_mark["40100"][1]
    assert (cross["size"], cross["cross_wallet"]) == (0, 0)
    assert by_mark["40100"]["insurance_fund_delta"] == 25 * usdt  # sold at 40,050, settled at BP 40,025
    assert by_mark["40100"][2]["cross_wallet"] == 4_975 * usdt
