"""The game's pure parts: the [game] table's checks, the plain words of every core rejection, the
scoreboard's numbers on a worked example, and the ranking."""

from __future__ import annotations

import pytest

from exchange.core.commands import BUY, ISOLATED, SELL, CreateAccount, Deposit, PlaceOrder, SetLeverage, SetMarginMode
from exchange.core.errors import Reject
from exchange.core.money import CASH_SCALE
from exchange.runtime.classroom.config import parse_game
from exchange.runtime.classroom.scoreboard import Curve, Scoreboard, ranked
from exchange.runtime.classroom.words import SENTENCES, sentence

BTC = "BTCUSDT"

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
CAPS = {"BTCUSDT": 125, "ETHUSDT": 100}


def test_every_core_rejection_has_a_plain_sentence():
    assert set(SENTENCES) == set(Reject)
    assert all(s.endswith(".") and "_" not in s for s in SENTENCES.values())
    assert sentence("INSUFFICIENT_MARGIN", "SetLeverage") == "Not enough free cash to lower the leverage of your position."
    assert sentence("NOT_A_CODE") == "The exchange refused the request."


def test_a_game_table_is_read_with_its_defaults_and_generated_roster():
    cfg = parse_game({"roster": {"count": 12, "teams": ["A", "B"], "students": [{"name": "Ada"}]},
                      "events": [{"at_min": 5, "news": "x"}, {"at_min": 1, "shock_pct": -3}]}, SYMBOLS, CAPS)
    assert (cfg.symbols, cfg.duration_min, cfg.starting_cash, cfg.max_leverage, cfg.scoring) == \
        (("BTCUSDT",), 45.0, 10_000 * CASH_SCALE, 20, "return")
    assert [e.name for e in cfg.students][:3] == ["Ada", "Student 01", "Student 02"]
    assert [e.team for e in cfg.students][1:4] == ["A", "B", "A"]
    assert [e.at_min for e in cfg.events] == [1, 5]  # in time order
    assert cfg.join_code == "" and cfg.roster_open is False


@pytest.mark.parametrize("table,words", [
    ({"nope": 1}, "unknown keys ['nope']"),
    ({"symbols": ["XRPUSDT"]}, "must be distinct instruments"),
    ({"symbols": ["BTCUSDT", "BTCUSDT"]}, "must be distinct"),
    ({"duration_min": 0}, "duration_min must be a number from 1"),
    ({"duration_min": True}, "duration_min must be a number"),
    ({"starting_cash": "0.0000001"}, "starting_cash must be an amount"),
    ({"starting_cash": "lots"}, "starting_cash must be an amount"),
    ({"max_leverage": 126}, "max_leverage must be a number from 1 to 125"),
    ({"symbols": ["BTCUSDT", "ETHUSDT"], "max_leverage": 101}, "from 1 to 100"),
    ({"margin_modes": ["HEDGE"]}, "margin_modes must list ISOLATED and/or CROSS"),
    ({"scoring": "luck"}, "scoring must be one of"),
    ({"join_code": "a b"}, "join_code must be 4 to 24"),
    ({"roster": {"count": 501}}, "count must be a whole number from 0 to 500"),
    ({"roster": {"students": [{"name": "Ada"}, {"name": "ADA"}]}}, "two students have the same name"),
    ({"roster": {"students": [{"name": "<b>"}]}}, "a student's name must be 1 to 24"),
    ({"roster": {"students": [{"name": "Ada", "age": 12}]}}, "a student is {name, team}"),
    ({"events": [{"at_min": 50, "news": "late"}]}, "fall after the end"),
    ({"events": [{"at_min": 5}]}, "needs news text, an index shock, or both"),
    ({"events": [{"at_min": 5, "news": "x", "symbol": "ETHUSDT"}]}, "is not one of the game's symbols"),
    ({"events": [{"at_min": 5, "shock_pct": -95}]}, "shock_pct must be a number from -90"),
    ({"events": [{"at_min": 5, "news": "x" * 281}]}, "at most 280 characters"),
])
def test_a_bad_game_table_is_refused_with_the_key_named(table, words):
    with pytest.raises(ValueError, match=None) as err:
        parse_game(table, SYMBOLS, CAPS)
    assert words in str(err.value)


def test_an_isolated_liquidation_costs_exactly_the_positions_margin(market):
    """Account 10 (10,000 USDT) buys 0.1 BTC at 60,000 at 20x isolated from account 1's ask: margin
    300 USDT, taker fee 3 USDT. The index falls to 56,000: the mark follows (median of index-based
    prices), the position is liquidated, and the account loses its 300 USDT margin and nothing more."""
    ex = market.ex
    board = Scoreboard(ex)
    market(CreateAccount(10))
    market(Deposit(10, 10_000 * CASH_SCALE))
    board.track(10, 10_000 * CASH_SCALE, "Red")
    inst = ex.instruments[BTC]
    for cmd in (SetMarginMode(10, BTC, ISOLATED), SetLeverage(10, BTC, 20),
                PlaceOrder(1, BTC, SELL, 100, inst.price_to_ticks("60000")),
                PlaceOrder(10, BTC, BUY, 100, order_type="MARKET"),
                PlaceOrder(2, BTC, BUY, 1000, inst.price_to_ticks("55000"))):
        board.observe(market(cmd), market.ts_ns)
    track = board.tracks[10]
    assert (track.trade_count, track.fees_cash, track.wallet) == (1, 3 * CASH_SCALE, 9_997 * CASH_SCALE)
    for price in ("58000", "57000", "56000", "55500"):
        board.observe(market.index(BTC, price), market.ts_ns)
        if track.liquidation_count:
            break
    assert track.liquidation_count == 1
    liq = track.liquidations[0]
    assert (liq.mode, liq.side, liq.qty_lots, liq.leverage) == (ISOLATED, 1, 100, 20)
    assert (liq.wallet_before_cash, liq.wallet_after_cash) == (9_997 * CASH_SCALE, 9_697 * CASH_SCALE)
    assert liq.cost_cash == 300 * CASH_SCALE and liq.cost_ppm == 30_009  # 300 / 9,997, floored
    assert track.fills[-1].liquidation and track.fills[-1].price_ticks == inst.price_to_ticks("55000")
    row = board.row(10)
    assert (row["equity_cash"], row["pnl_cash"], row["return_ppm"], row["liquidations"]) == \
        (9_697 * CASH_SCALE, -303 * CASH_SCALE, -30_300, 1)
    assert board.team_row("Red")["equity_cash"] == 9_697 * CASH_SCALE
    assert board.take_liquidations() == [(10, liq)] and board.take_liquidations() == []


def test_the_drawdown_is_the_largest_fall_from_a_peak():
    curve = Curve(100, 100)
    for equity in (120, 90, 110, 130, 104, 125):
        curve.sample(equity)
    assert (curve.equity, curve.peak, curve.max_drawdown_ppm) == (125, 130, 250_000)  # 120 -> 90


def test_ranking_by_each_rule_with_shared_ranks():
    rows = [{"name": "b", "pnl_cash": 5, "return_ppm": 10, "max_drawdown_ppm": 30},
            {"name": "a", "pnl_cash": 5, "return_ppm": 10, "max_drawdown_ppm": 0},
            {"name": "c", "pnl_cash": 9, "return_ppm": 2, "max_drawdown_ppm": 0}]
    assert [(r["name"], r["rank"]) for r in ranked(rows, "return", "name")] == [("a", 1), ("b", 1), ("c", 3)]
    assert [r["name"] for r in ranked(rows, "pnl", "name")] == ["c", "a", "b"]
    assert [(r["name"], r["score"]) for r in ranked(rows, "risk_adjusted", "name")] == [("a", 10), ("c", 2), ("b", -20)]
