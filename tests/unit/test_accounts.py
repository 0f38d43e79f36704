"""Accounts: deposits, withdrawals (never more than free), margin mode and leverage rules, isolated
margin add/remove and auto-add. Instrument TST: tick 1, lot 1 (1 USDT per tick-lot), mark = index,
no trading fees, 2021 BTC brackets (0.4% / 125x up to 50,000 notional, then 0.5% / 100x)."""

from __future__ import annotations

from margin_fixtures import BUY, SELL, USDT, Driver, of, rejected, whole_unit_instrument

from exchange.core.commands import (
    AdjustIsolatedMargin,
    CancelAll,
    Deposit,
    SetAutoAddMargin,
    SetLeverage,
    SetMarginMode,
    Withdraw,
)
from exchange.core.events import BalanceChanged, IsolatedMarginChanged


def market(**settings) -> Driver:
    """Account 1 with 1,000 USDT and the given settings; market maker 9; TST index 100."""
    d = Driver([whole_unit_instrument("TST"), whole_unit_instrument("ALT")])
    d.account(1, 1_000, **settings)
    d.account(9, 10_000_000)
    d.index("TST", 100)
    d.index("ALT", 100)
    return d


def codes(events: list) -> list[str]:
    return [e.code for e in rejected(events)]


def test_deposit_and_bad_amounts():
    d = market()
    acct = d.ex.accounts[1]
    assert d.do(Deposit(1, 500 * USDT)) == [BalanceChanged(1, 500 * USDT, 1_500 * USDT, "DEPOSIT")]
    for bad in (0, -5, 1.5, "7", 10**19):
        assert codes(d.do(Deposit(1, bad))) == ["INVALID_AMOUNT"]
    assert codes(d.do(Deposit(77, 1))) == ["UNKNOWN_ACCOUNT"]
    assert acct.cross_wallet == 1_500 * USDT and d.ex.deposits == (1_500 + 10_000_000) * USDT


def test_withdrawal_never_exceeds_the_free_balance():
    d = market(TST=("CROSS", 10))
    acct = d.ex.accounts[1]
    d.trade(1, 9, "TST", 20, 100)  # IM 200
    d.index("TST", 110)  # UPNL +200 is not withdrawable; IM is now 220
    assert d.ex.free_balance(acct) == 780 * USDT and d.ex.available(acct) == 980 * USDT
    assert codes(d.do(Withdraw(1, 780 * USDT + 1))) == ["INSUFFICIENT_BALANCE"]
    assert d.do(Withdraw(1, 780 * USDT)) == [BalanceChanged(1, -780 * USDT, 220 * USDT, "WITHDRAW")]
    assert codes(d.do(Withdraw(1, 1))) == ["INSUFFICIENT_BALANCE"]
    d.index("TST", 100)  # back to even: still nothing free beyond the IM
    assert d.ex.free_balance(acct) == 20 * USDT
    d.limit(1, "TST", BUY, 1, 99)  # a resting order's margin (9.9) is not free either
    assert d.ex.free_balance(acct) == 20 * USDT - 9_900_000
    assert codes(d.do(Withdraw(1, 20 * USDT - 9_900_000 + 1))) == ["INSUFFICIENT_BALANCE"]
    assert not rejected(d.do(Withdraw(1, 20 * USDT - 9_900_000)))
    assert d.ex.withdrawals == 800 * USDT - 9_900_000


def test_isolated_wallet_is_not_withdrawable():
    d = market(TST=("ISOLATED", 10))
    d.trade(1, 9, "TST", 10, 100)
    acct = d.ex.accounts[1]
    assert (acct.cross_wallet, acct.positions["TST"].isolated_wallet) == (900 * USDT, 100 * USDT)
    assert d.ex.free_balance(acct) == 900 * USDT
    assert codes(d.do(Withdraw(1, 900 * USDT + 1))) == ["INSUFFICIENT_BALANCE"]


def test_margin_mode_changes_only_with_no_order_and_no_position():
    d = market()
    assert codes(d.do(SetMarginMode(1, "TST", "HEDGE"))) == ["INVALID_MARGIN_MODE"]
    assert codes(d.do(SetMarginMode(1, "NOPE", "ISOLATED"))) == ["UNKNOWN_SYMBOL"]
    d.limit(1, "TST", BUY, 1, 95)
    assert codes(d.do(SetMarginMode(1, "TST", "ISOLATED"))) == ["MARGIN_MODE_LOCKED"]
    assert not rejected(d.do(SetMarginMode(1, "ALT", "ISOLATED")))  # another symbol is free
    d.do(CancelAll(1, "TST"))
    d.trade(1, 9, "TST", 1, 100)
    assert codes(d.do(SetMarginMode(1, "TST", "ISOLATED"))) == ["MARGIN_MODE_LOCKED"]
    d.trade(9, 1, "TST", 1, 100)  # closed
    assert not rejected(d.do(SetMarginMode(1, "TST", "ISOLATED")))
    assert d.ex.accounts[1].positions["TST"].mode == "ISOLATED"


def test_leverage_from_1_to_the_bracket_maximum_for_the_notional():
    d = market()
    d.do(Deposit(1, 99_000 * USDT))
    for bad in (0, 126, -1, 2.0):
        assert codes(d.do(SetLeverage(1, "TST", bad))) == ["INVALID_LEVERAGE"]
    assert not rejected(d.do(SetLeverage(1, "TST", 125)))
    # at 125x a position may not grow past 50,000 of notional (the next bracket allows 100x)
    assert codes(d.limit(1, "TST", BUY, 501, 100, tif="IOC")) == ["INVALID_LEVERAGE"]
    assert not rejected(d.do(SetLeverage(1, "TST", 100)))
    d.trade(1, 9, "TST", 600, 100)  # notional 60,000
    assert codes(d.do(SetLeverage(1, "TST", 101))) == ["INVALID_LEVERAGE"]
    assert not rejected(d.do(SetLeverage(1, "TST", 50)))


def test_lowering_leverage_needs_the_extra_margin():
    d = market(TST=("CROSS", 10))
    d.trade(1, 9, "TST", 50, 100)  # notional 5,000: IM 500, available 500
    assert codes(d.do(SetLeverage(1, "TST", 4))) == ["INSUFFICIENT_MARGIN"]  # IM 1,250: 750 more
    assert not rejected(d.do(SetLeverage(1, "TST", 5)))  # IM 1,000: exactly the 500 available
    assert d.ex.available(d.ex.accounts[1]) == 0


def test_isolated_margin_add_and_remove():
    d = market(TST=("ISOLATED", 10))
    assert codes(d.do(AdjustIsolatedMargin(1, "TST", 10 * USDT))) == ["NO_POSITION"]
    assert codes(d.do(AdjustIsolatedMargin(1, "ALT", 10 * USDT))) == ["NOT_ISOLATED"]
    d.trade(1, 9, "TST", 10, 100)  # isolated wallet 100 (IM), cross wallet 900
    ex, acct = d.ex, d.ex.accounts[1]
    pos = acct.positions["TST"]
    assert ex.breach_entries()[(1, "TST", 1)] == (True, 90)  # (100 - 1,000) / (0.04 - 10) = 90.36
    assert codes(d.do(AdjustIsolatedMargin(1, "TST", 0))) == ["INVALID_AMOUNT"]
    assert codes(d.do(AdjustIsolatedMargin(1, "TST", 900 * USDT + 1))) == ["INSUFFICIENT_BALANCE"]
    events = d.do(AdjustIsolatedMargin(1, "TST", 200 * USDT))
    assert events == [IsolatedMarginChanged(1, "TST", 200 * USDT, 300 * USDT, "USER")]
    assert (acct.cross_wallet, pos.isolated_wallet) == (700 * USDT, 300 * USDT)
    assert ex.breach_entries()[(1, "TST", 1)] == (True, 70)  # (300 - 1,000) / -9.96 = 70.28: re-indexed
    # removable = wallet + min(0, UPNL) - IM at mark
    d.index("TST", 95)  # UPNL -50, IM 95: 155 removable
    assert codes(d.do(AdjustIsolatedMargin(1, "TST", -155 * USDT - 1))) == ["INSUFFICIENT_MARGIN"]
    assert not rejected(d.do(AdjustIsolatedMargin(1, "TST", -155 * USDT)))
    assert (acct.cross_wallet, pos.isolated_wallet) == (855 * USDT, 145 * USDT)
    d.index("TST", 105)  # UPNL +50 is not removable: 145 - 105 = 40
    assert codes(d.do(AdjustIsolatedMargin(1, "TST", -40 * USDT - 1))) == ["INSUFFICIENT_MARGIN"]
    assert not rejected(d.do(AdjustIsolatedMargin(1, "TST", -40 * USDT)))
    assert pos.isolated_wallet == 105 * USDT


def test_auto_add_margin_saves_an_isolated_position_that_would_be_liquidated():
    """Two identical isolated longs of 10 @ 1,000 at 10x (wallet 1,000, liquidated at 903). With
    auto-add, at margin ratio >= 80% (mark <= 904: margin balance 40 <= 1.25 x MM 36.16) the wallet
    is topped up to the initial margin at the mark, 904, from the free balance: +864."""
    d = Driver([whole_unit_instrument("TST")])
    for aid in (1, 2):
        d.account(aid, 2_000, TST=("ISOLATED", 10))
    d.account(9, 10_000_000)
    d.index("TST", 1_000)
    d.trade(1, 9, "TST", 10, 1_000)
    d.trade(2, 9, "TST", 10, 1_000)
    assert not rejected(d.do(SetAutoAddMargin(1, "TST", True)))
    assert d.ex.breach_entries()[(1, "TST", 1)] == (True, 904)
    assert of(d.index("TST", 905), "IsolatedMarginChanged") == []
    events = d.index("TST", 904)
    assert of(events, "IsolatedMarginChanged") == [IsolatedMarginChanged(1, "TST", 864 * USDT, 1_864 * USDT, "AUTO_ADD")]
    assert d.ex.accounts[1].cross_wallet == 136 * USDT
    events = d.index("TST", 903)
    assert [e.account for e in of(events, "LiquidationTriggered")] == [2]
    assert d.ex.accounts[1].positions["TST"].size == 10
    assert d.ex.accounts[2].positions["TST"].size == 0 and d.ex.accounts[2].cross_wallet == 1_000 * USDT
    assert not d.ex.isolated_breached(d.ex.accounts[1].positions["TST"])[0]


def test_margin_removal_may_not_strand_a_resting_close_beyond_bankruptcy():
    """Long 10 @ 1,000 at 50x: isolated wallet 200 + 300 added = 500 (bankruptcy 950). A resting sell at
    955 closes at a loss of 450: removing more than 50 would put it beyond the bankruptcy price, and
    its fill would hand the loss to the insurance fund."""
    d = Driver([whole_unit_instrument("TST")], insurance_usdt=100)
    d.account(1, 2_000, TST=("ISOLATED", 50))
    d.account(9, 100_000)
    d.index("TST", 1_000)
    d.trade(1, 9, "TST", 10, 1_000)
    assert not rejected(d.do(AdjustIsolatedMargin(1, "TST", 300 * USDT)))
    assert not rejected(d.limit(1, "TST", SELL, 10, 955))
    assert codes(d.do(AdjustIsolatedMargin(1, "TST", -50 * USDT - 1))) == ["INSUFFICIENT_MARGIN"]
    assert not rejected(d.do(AdjustIsolatedMargin(1, "TST", -50 * USDT)))
    events = d.limit(9, "TST", BUY, 10, 1_000, tif="IOC")
    assert [(t.price_ticks, t.qty_lots) for t in of(events, "Trade")] == [(955, 10)]
    assert of(events, "InsuranceFundChanged") == [] and d.ex.insurance_fund == 100 * USDT
    assert d.ex.accounts[1].cross_wallet == 2_000 * USDT - 450 * USDT


def test_partial_close_of_an_isolated_position_keeps_its_bankruptcy_price():
    """Long 10 @ 1,000 at 10x (wallet 1,000, bankruptcy 900). Closing 5 at 960 realizes -200: the 5
    closed lots' share of the margin (500) less that loss goes back to the cross wallet (300), so the
    5 left keep 500 and their bankruptcy price 900. Closing 2 more at 1,040 (+80) releases 200 + 80."""
    d = market(TST=("ISOLATED", 10))
    d.do(Deposit(1, 9_000 * USDT))
    d.index("TST", 1_000)
    d.trade(1, 9, "TST", 10, 1_000)
    acct = d.ex.accounts[1]
    pos = acct.positions["TST"]
    assert (acct.cross_wallet, pos.isolated_wallet) == (9_000 * USDT, 1_000 * USDT)
    d.trade(9, 1, "TST", 5, 960)
    assert (acct.cross_wallet, pos.isolated_wallet) == (9_300 * USDT, 500 * USDT)
    assert (pos.cost - pos.isolated_wallet) // pos.size == 900 * USDT  # bankruptcy price unchanged
    d.trade(9, 1, "TST", 2, 1_040)
    assert (acct.cross_wallet, pos.isolated_wallet) == (9_580 * USDT, 300 * USDT)
    assert (pos.cost - pos.isolated_wallet) // pos.size == 900 * USDT


def test_an_isolated_order_reserves_its_fee_and_opens_with_its_whole_margin():
    """A buy of 10 @ 100 at 10x isolated needs IM 100 + the 0.02% fee 0.2. With only 100 USDT it is
    rejected (it would open with less than its margin); with 100.2 it rests, and filled as maker the box
    holds exactly its initial margin, 100, with the cross wallet at 0."""
    d = Driver([whole_unit_instrument("TST", maker_fee="0.0002")])
    d.account(1, 100, TST=("ISOLATED", 10))
    d.account(2, 100, 200_000, TST=("ISOLATED", 10))
    d.account(9, 100_000)
    d.index("TST", 100)
    assert codes(d.limit(1, "TST", BUY, 10, 100)) == ["INSUFFICIENT_MARGIN"]
    assert not rejected(d.limit(2, "TST", BUY, 10, 100))
    assert d.ex.accounts[2].order_margin == 100 * USDT + 200_000
    events = d.limit(9, "TST", SELL, 10, 100, tif="IOC")
    acct = d.ex.accounts[2]
    assert (acct.cross_wallet, acct.positions["TST"].isolated_wallet) == (0, 100 * USDT)
    assert of(events, "IsolatedMarginChanged") == [IsolatedMarginChanged(2, "TST", 100 * USDT + 200_000,
                                                                         100 * USDT + 200_000, "OPEN")]


def test_lowering_leverage_re_reserves_the_margin_of_open_orders():
    """A resting isolated buy of 50 @ 100 at 10x reserves 500. At 2x it would need 2,500 (rejected: only
    500 more is available); at 5x, 1,000. Filled, the isolated position draws its 1,000 from a cross
    wallet that really holds it."""
    d = market(TST=("ISOLATED", 10))
    acct = d.ex.accounts[1]
    assert not rejected(d.limit(1, "TST", BUY, 50, 100))
    assert acct.order_margin == 500 * USDT
    assert codes(d.do(SetLeverage(1, "TST", 2))) == ["INSUFFICIENT_MARGIN"]
    assert not rejected(d.do(SetLeverage(1, "TST", 5)))
    assert acct.order_margin == 1_000 * USDT and d.ex.available(acct) == 0
    d.limit(9, "TST", SELL, 50, 100, tif="IOC")
    assert (acct.cross_wallet, acct.positions["TST"].isolated_wallet) == (0, 1_000 * USDT)


def test_isolated_margin_is_real_cash_not_unrealized_profit():
    """Cross long 10 TST @ 100 at 10x; TST to 200: UPNL +1,000 counts toward available (1,800) but an
    isolated ALT order at 1x draws cash: only the free 800 (1,000 - IM 200)."""
    d = market(TST=("CROSS", 10), ALT=("ISOLATED", 1))
    d.trade(1, 9, "TST", 10, 100)
    d.index("TST", 200)
    acct = d.ex.accounts[1]
    assert (d.ex.available(acct), d.ex.free_balance(acct)) == (1_800 * USDT, 800 * USDT)
    assert codes(d.limit(1, "ALT", BUY, 9, 100)) == ["INSUFFICIENT_MARGIN"]
    assert not rejected(d.limit(1, "ALT", BUY, 8, 100))
    d.limit(9, "ALT", SELL, 8, 100, tif="IOC")
    assert (acct.cross_wallet, acct.positions["ALT"].isolated_wallet) == (200 * USDT, 800 * USDT)


def test_a_sell_filled_above_its_limit_needs_the_margin_of_its_fill_price():
    """Isolated 1x: a sell of 10 @ 96 reserves 960 of margin + 40 of open loss (mark 100), all 1,000 of
    the wallet. It meets the bid at 104, where 10 lots need 1,040 of margin: 9 of them (936) fill, the
    last is cancelled (INSUFFICIENT_MARGIN), and the box holds the whole initial margin of what is open."""
    d = market(ALT=("ISOLATED", 1))
    d.limit(9, "ALT", BUY, 10, 104)
    events = d.limit(1, "ALT", SELL, 10, 96)
    assert not rejected(events)
    assert [(e.remaining_lots, e.reason) for e in of(events, "OrderCancelled")] == [(1, "INSUFFICIENT_MARGIN")]
    acct = d.ex.accounts[1]
    pos = acct.positions["ALT"]
    assert (pos.size, pos.cost) == (-9, -936 * USDT)
    assert (acct.cross_wallet, pos.isolated_wallet) == (64 * USDT, 936 * USDT)


def test_create_account_with_a_deposit_is_all_or_nothing(tmp_path):
    """CreateAccount carries its deposit: an existing id or a bad amount is rejected and changes nothing;
    a journal record written before the deposit field (one field) still decodes, with no deposit."""
    from exchange.core.commands import CreateAccount, Envelope
    from exchange.persistence.journal import JournalWriter, decode_envelope, read_journal

    d = market()
    events = d.do(CreateAccount(5, 250 * USDT))
    assert [type(e).__name__ for e in events] == ["AccountCreated", "BalanceChanged"]
    assert d.ex.accounts[5].cross_wallet == d.ex.accounts[5].deposited == 250 * USDT
    before = d.ex.snapshot()
    for cmd, code in ((CreateAccount(5, 100 * USDT), "ACCOUNT_EXISTS"), (CreateAccount(6, -1), "INVALID_AMOUNT"),
                      (CreateAccount(6, 10**19), "INVALID_AMOUNT"), (CreateAccount(6, 1.5), "INVALID_AMOUNT")):
        assert codes(d.do(cmd)) == [code]
    assert d.ex.snapshot() | {"seq": 0} == before | {"seq": 0}
    old = decode_envelope([9, 1, "admin", "CreateAccount", [6]])
    assert old.command == CreateAccount(6) and old.command.deposit_cash == 0
    env = Envelope(10, 2, "admin", CreateAccount(6, 7))
    writer = JournalWriter(tmp_path / "journal")
    writer.append(env)
    writer.close()
    assert list(read_journal(tmp_path / "journal")) == [env]
