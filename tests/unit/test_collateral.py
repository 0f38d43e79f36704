"""Multi-asset collateral with haircuts (exchange/core/collateral.py): BTC held in a cross account counts
at the index x its collateral value ratio (95%) in the margin balance and the available balance, a
falling BTC price alone can liquidate the account, the liquidation sells the collateral to the fund at
that value, and every asset is conserved exactly (the Driver checks the invariants after each command).

Account 1 holds 0.1 BTC and no cash: at 50,000 it counts 0.1 x 50,000 x 0.95 = 4,750. It goes long 40 TST
@ 1,000 cross at 10x (IM 4,000; MM 40,000 x 0.4% = 160). TST never moves; BTC falls to 1,500: the
collateral counts 142.50 < 160, and the account is liquidated on the BTC tick.
"""

from __future__ import annotations

import pytest
from margin_fixtures import BUY, USDT, Driver, of, rejected, whole_unit_instrument

from exchange.core.collateral import Asset, asset_from_config
from exchange.core.commands import CreateAccount, DepositAsset, SetLeverage, SetMarginMode, Withdraw, WithdrawAsset
from exchange.core.engine import Exchange
from exchange.core.views import account_view

BTC = Asset("BTC", 8, 950_000, index_symbol="CBTC")
USDC = Asset("USDC", 6, 1_000_000, price_cash=USDT)
ONE_BTC = 10**8


def driver() -> Driver:
    d = Driver([whole_unit_instrument("TST"), whole_unit_instrument("CBTC")], assets=(BTC, USDC))
    d.do(CreateAccount(1))
    d.account(9, 10_000_000)
    d.index("CBTC", 50_000)
    d.index("TST", 1_000)
    assert not rejected(d.do(DepositAsset(1, "BTC", ONE_BTC // 10)))
    return d


def test_collateral_counts_at_its_haircut_in_margin_and_available_balance():
    d = driver()
    v = account_view(d.ex, 1)
    assert (v["cross_wallet_cash"], v["collateral_value_cash"]) == (0, 4_750 * USDT)
    assert (v["margin_balance_cash"], v["available_cash"]) == (4_750 * USDT, 4_750 * USDT)
    assert not rejected(d.do(SetLeverage(1, "TST", 10)))
    d.trade(1, 9, "TST", 40, 1_000)  # IM 4,000 backed by the collateral alone
    v = account_view(d.ex, 1)
    assert (v["available_cash"], v["maint_margin_cash"]) == (750 * USDT, 160 * USDT)
    # and no more than that: 10 more would need 1,000
    (rej,) = rejected(d.limit(1, "TST", BUY, 10, 1_000))
    assert rej.code == "INSUFFICIENT_MARGIN"
    # a price of the collateral moves it: BTC at 60,000 counts 5,700
    d.index("CBTC", 60_000)
    assert account_view(d.ex, 1)["available_cash"] == 1_700 * USDT


def test_a_falling_collateral_price_alone_liquidates_and_the_collateral_is_sold():
    d = driver()
    d.do(SetLeverage(1, "TST", 10))
    d.trade(1, 9, "TST", 40, 1_000)
    d.limit(9, "TST", BUY, 40, 999)
    assert not of(d.index("CBTC", 1_700), "LiquidationTriggered")  # counts 161.50 > MM 160
    assert d.ex.breach_entries()[(1, "TST", 0)][1] < 1_000  # re-indexed on the BTC tick
    events = d.index("CBTC", 1_500)  # counts 142.50 < 160: breached on the BTC tick, TST at 1,000
    (trig,) = of(events, "LiquidationTriggered")
    assert (trig.account, trig.symbol, trig.margin_balance_cash) == (1, "", 142_500_000)
    assert d.ex.accounts[1].positions["TST"].size == 0
    # settled at the bankruptcy value: the wallet is 142.50 short, covered by selling all 0.1 BTC to the
    # fund at its haircut value (0.1 x 1,500 x 0.95)
    (sale,) = [e for e in of(events, "CollateralChanged") if e.reason == "LIQUIDATION_SALE"]
    assert (sale.delta_units, sale.units) == (-ONE_BTC // 10, 0)
    (credit,) = [e for e in of(events, "BalanceChanged") if e.reason == "COLLATERAL_SALE"]
    assert (credit.delta_cash, credit.cross_wallet_cash) == (142_500_000, 0)
    assert d.ex.collateral.fund["BTC"] == ONE_BTC // 10 and not d.ex.collateral.holdings
    assert not [e for e in of(events, "InsuranceFundChanged") if e.reason == "BAD_DEBT"]


def test_more_collateral_survives_the_fall_and_covers_the_close_at_bankruptcy():
    """With 2 BTC behind the same position the fall to 1,500 is survived (2,850 > 160); at 80 the 2 BTC
    count 152 < 160. The close at the bankruptcy price leaves the wallet short by exactly what the
    collateral counts, so the sale takes all of it and the wallet ends at 0, no bad debt."""
    d = driver()
    d.do(DepositAsset(1, "BTC", ONE_BTC + ONE_BTC - ONE_BTC // 10))  # 2 BTC in all
    d.do(SetLeverage(1, "TST", 10))
    d.trade(1, 9, "TST", 40, 1_000)
    d.limit(9, "TST", BUY, 40, 999)
    assert not of(d.index("CBTC", 1_500), "LiquidationTriggered")
    events = d.index("CBTC", 80)  # 2 BTC count 152 < 160
    assert of(events, "LiquidationTriggered")
    (sale,) = [e for e in of(events, "CollateralChanged") if e.reason == "LIQUIDATION_SALE"]
    assert -sale.delta_units == 2 * ONE_BTC and d.ex.accounts[1].cross_wallet == 0


def test_withdrawals_keep_the_margin_and_cash_is_not_borrowed():
    d = driver()
    d.do(SetLeverage(1, "TST", 10))
    d.trade(1, 9, "TST", 40, 1_000)  # available 750: 750 / (50,000 x 0.95) = 0.0157 BTC may leave
    (rej,) = rejected(d.do(WithdrawAsset(1, "BTC", 2_000_000)))
    assert rej.code == "INSUFFICIENT_BALANCE" and "free balance" in rej.message
    assert not rejected(d.do(WithdrawAsset(1, "BTC", 1_500_000)))
    assert rejected(d.do(Withdraw(1, 1)))[0].code == "INSUFFICIENT_BALANCE"  # collateral backs margin, not cash out
    assert d.ex.collateral.withdrawn["BTC"] == 1_500_000


def test_isolated_margin_needs_cash():
    d = driver()
    d.do(SetMarginMode(1, "TST", "ISOLATED"))
    (rej,) = rejected(d.limit(1, "TST", BUY, 1, 1_000))
    assert rej.code == "INSUFFICIENT_MARGIN" and "not reserved" in rej.message


@pytest.mark.parametrize("cmd, code", [
    (DepositAsset(1, "DOGE", 1), "INVALID_PARAMETER"), (DepositAsset(1, "BTC", 0), "INVALID_AMOUNT"),
    (DepositAsset(1, "BTC", True), "INVALID_AMOUNT"), (DepositAsset(1, "BTC", -5), "INVALID_AMOUNT"),
    (DepositAsset(1, "BTC", 10**19), "INVALID_AMOUNT"), (DepositAsset(7, "BTC", 1), "UNKNOWN_ACCOUNT"),
    (WithdrawAsset(1, "USDC", 1), "INSUFFICIENT_BALANCE"), (WithdrawAsset(1, "BTC", "1"), "INVALID_AMOUNT"),
])
def test_bad_collateral_commands_are_refused(cmd, code):
    d = driver()
    (rej,) = rejected(d.do(cmd))
    assert rej.code == code
    assert d.ex.collateral.holdings == {1: {"BTC": ONE_BTC // 10}}


def test_collateral_survives_a_snapshot_and_config():
    d = driver()
    d.do(DepositAsset(1, "USDC", 5 * USDT))
    d.trade(1, 9, "TST", 2, 1_000)
    back = Exchange.from_snapshot(d.ex.snapshot(), assets=(BTC, USDC))
    assert back.state_hash() == d.ex.state_hash() and back.collateral.holdings == d.ex.collateral.holdings
    with pytest.raises(ValueError, match="collateral"):
        Exchange.from_snapshot(d.ex.snapshot())
    assert asset_from_config("BTC", {"decimals": 8, "value_ratio": "0.95", "index": "CBTC"}, ["CBTC"]) == BTC
    for bad in ({"decimals": 8}, {"index": "X"}, {"price": "1", "index": "CBTC"}, {"price": "1", "ratio": "1"},
                {"price": "1", "value_ratio": "1.5"}):
        with pytest.raises(ValueError):
            asset_from_config("Z", bad, ["CBTC"])
