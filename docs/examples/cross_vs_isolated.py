"""Worked example of docs/margin-and-liquidation.md: the same long, cross vs isolated, through the same drop.

Run: python docs/examples/cross_vs_isolated.py
"""

from __future__ import annotations

from exchange.config import load_config
from exchange.core import Exchange
from exchange.core.commands import (
    BUY, SELL, CancelAll, CreateAccount, Deposit, Envelope, IndexPrice, PlaceOrder, SetLeverage, SetMarginMode,
)
from exchange.core.events import InsuranceFundChanged, LiquidationTriggered
from exchange.core.money import CASH_SCALE

CROSS_TRADER, ISOLATED_TRADER, MAKER = 1, 2, 3
PATH = ["50000", "48000", "46000", "45100", "44000", "42000", "40500", "40100"]


def usdt(cash: int) -> str:
    return f"{cash / CASH_SCALE:,.2f}"


def run() -> list[dict]:
    cfg = load_config()
    inst = cfg.instruments[0].with_changes(mark_method="index")  # BTCUSDT, mark = index for clarity
    ex = Exchange([inst], 0)
    px, lots = inst.price_to_ticks, inst.qty_to_lots
    seq = 0

    def apply(cmd: object) -> list:
        nonlocal seq
        seq += 1
        return ex.apply(Envelope(seq, seq * 1_000_000_000, "example", cmd))

    def requote(mark: str) -> None:
        apply(CancelAll(MAKER, "BTCUSDT"))
        apply(PlaceOrder(MAKER, "BTCUSDT", BUY, lots("5"), px(mark) - px("50")))
        apply(PlaceOrder(MAKER, "BTCUSDT", SELL, lots("5"), px(mark) + px("50")))

    for account, amount in ((CROSS_TRADER, "10000"), (ISOLATED_TRADER, "10000"), (MAKER, "10000000")):
        apply(CreateAccount(account))
        apply(Deposit(account, int(amount) * CASH_SCALE))
    apply(SetMarginMode(ISOLATED_TRADER, "BTCUSDT", "ISOLATED"))
    for account in (CROSS_TRADER, ISOLATED_TRADER):
        apply(SetLeverage(account, "BTCUSDT", 10))
    apply(IndexPrice("BTCUSDT", px("50000")))
    for account in (CROSS_TRADER, ISOLATED_TRADER):
        apply(PlaceOrder(MAKER, "BTCUSDT", SELL, lots("1"), px("50000")))
        apply(PlaceOrder(account, "BTCUSDT", BUY, lots("1"), px("50000")))
    rows = []
    for price in PATH:
        requote(price)
        events = apply(IndexPrice("BTCUSDT", px(price)))
        liquidated = [e.account for e in events if isinstance(e, LiquidationTriggered)]
        fund = sum(e.delta_cash for e in events if isinstance(e, InsuranceFundChanged))
        row = {"mark": price, "liquidated": liquidated, "insurance_fund_delta": fund}
        for account in (CROSS_TRADER, ISOLATED_TRADER):
            acct = ex.accounts[account]
            pos = acct.positions["BTCUSDT"]
            upnl = ex._upnl(pos)
            row[account] = {"size": pos.size, "cross_wallet": acct.cross_wallet, "isolated_wallet": pos.isolated_wallet,
                            "equity": acct.cross_wallet + pos.isolated_wallet + upnl}
        rows.append(row)
        ex.check_invariants()
    return rows


def main() -> None:
    print(f"{'mark':>8} | {'cross: equity':>14} {'pos':>5} | {'isolated: cross wallet':>22} {'iso wallet':>10} {'pos':>5} | liquidated")
    for r in run():
        c, i = r[CROSS_TRADER], r[ISOLATED_TRADER]
        print(f"{r['mark']:>8} | {usdt(c['equity']):>14} {c['size']:>5} | {usdt(i['cross_wallet']):>22} "
              f"{usdt(i['isolated_wallet']):>10} {i['size']:>5} | {r['liquidated'] or ''}")


if __name__ == "__main__":
    main()
