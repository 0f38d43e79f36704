"""Cascade forensics on a hand-built three-step cascade with a known answer.

Mark = last price (so each forced fill moves the next mark), constant index, wide bands, a large
fund. Three isolated longs of 1 BTC at 60,000: A at 50x (liquidation price 59,045.23), B at 25x
(57,839.20), C at 15x (56,231.16). A maker bids 1 BTC at each of 59,500, 59,000, 57,500, 56,000 and
54,000. At t = 10 s a whale sells 2 BTC: last 59,000 breaches A; A's forced sale fills at 57,500,
breaching B; B's at 56,000 breaches C; C's fills at 54,000 and breaches nobody.
"""

from __future__ import annotations

import json

import pytest

from exchange.sim.forensics import analyze
from exchange.sim.forensics_cli import forensics_main
from exchange.sim.runner import run_scenario
from exchange.sim.scenario import parse_scenario

AGENT = "tests.sim.cascade_agents:Scripted"


def scripted(kind: str, orders: list, **params) -> dict:
    return {"agent": AGENT, "kind": kind, "count": 1, "params": {"orders": orders, **params}}


CASCADE = {
    "name": "three_step", "seed": 1, "duration_s": 30, "symbols": ["BTCUSDT"], "insurance_fund_usdt": "1000000",
    "instruments": {"BTCUSDT": {"mark_method": "last", "price_band": "0.2", "market_band": "0.2"}},
    "feed": {"BTCUSDT": {"kind": "gbm", "price": "60000", "interval_s": 1, "volatility": 0.0}},
    "agents": [
        scripted("seller", [[-1, 3, 60000]], deposit_usdt=1_000_000),                       # account 1
        scripted("long_a", [[1, 1, 0]], deposit_usdt=10_000, leverage=50, margin_mode="isolated"),  # 2
        scripted("long_b", [[1, 1, 0]], deposit_usdt=10_000, leverage=25, margin_mode="isolated"),  # 3
        scripted("long_c", [[1, 1, 0]], deposit_usdt=10_000, leverage=15, margin_mode="isolated"),  # 4
        scripted("maker", [[1, 1, p] for p in (59500, 59000, 57500, 56000, 54000)], deposit_usdt=1_000_000),  # 5
        scripted("whale", [[-1, 2, 0]], deposit_usdt=1_000_000, at_s=10),                   # 6
    ],
}


@pytest.fixture(scope="module")
def cascade_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cascade")
    _, summary = run_scenario(parse_scenario(CASCADE), out)
    return out, summary


def test_three_step_cascade_links(cascade_run):
    """Each liquidation is linked to exactly the fills that breached it, and those to their parent."""
    out, summary = cascade_run
    assert summary["liquidations"]["accounts_liquidated"] == 3
    result = analyze(out)
    liqs = result["liquidations"]
    assert [(q["id"], q["account"], q["mode"], q["side"], q["cause"], q["driver"]) for q in liqs] == [
        (0, 2, "ISOLATED", "long", "mark", "last"), (1, 3, "ISOLATED", "long", "mark", "last"),
        (2, 4, "ISOLATED", "long", "mark", "last")]
    a, b, c = liqs
    # A: the whale's two sells, no forced fill: a root
    assert [(f["account"], f["origin"], f["price"], f["qty"]) for f in a["breaching_fills"]] == [
        (6, "order", 59500.0, 1.0), (6, "order", 59000.0, 1.0)]
    assert a["parents"] == {} and a["generation"] == 0
    assert (a["mark_from"], a["mark_to"]) == (60000.0, 59000.0)
    # B: A's forced sale at 57,500 and nothing else; C: B's at 56,000
    assert [(f["account"], f["origin"], f["liquidation"], f["price"]) for f in b["breaching_fills"]] == [
        (2, "liquidation", 0, 57500.0)]
    assert b["parents"] == {"0": 1.0} and b["generation"] == 1 and b["mark_to"] == 57500.0
    assert [(f["account"], f["origin"], f["liquidation"], f["price"]) for f in c["breaching_fills"]] == [
        (3, "liquidation", 1, 56000.0)]
    assert c["parents"] == {"1": 1.0} and c["generation"] == 2 and c["mark_to"] == 56000.0
    # notional at the bankruptcy price: 60,000 - isolated margin (1,200; 2,400; 4,000)
    assert [q["notional_usdt"] for q in liqs] == [58800.0, 57600.0, 56000.0]
    assert [q["forced_fills_usdt"] for q in liqs] == [57500.0, 56000.0, 54000.0]


def test_three_step_cascade_wave(cascade_run):
    """One wave, depth 3, amplification 172,400 / 58,800; the whale most responsible; C most harmed."""
    out, _ = cascade_run
    (wave,) = analyze(out)["waves"]
    assert (wave["liquidations"], wave["depth"], wave["roots"], wave["chain"]) == (3, 3, 1, [0, 1, 2])
    assert wave["notional_usdt"] == 172400.0 and wave["root_notional_usdt"] == 58800.0
    assert wave["amplification"] == round(172400 / 58800, 3)
    assert wave["breaching_by_origin_usdt"] == {"liquidation": 113500.0, "order": 118500.0}
    assert wave["most_responsible"] == [
        {"account": 6, "kind": "whale", "notional_usdt": 118500.0, "forced_usdt": 0.0},
        {"account": 2, "kind": "long_a", "notional_usdt": 57500.0, "forced_usdt": 57500.0},
        {"account": 3, "kind": "long_b", "notional_usdt": 56000.0, "forced_usdt": 56000.0}]
    # each long loses exactly its isolated margin (the fund pays the fills below bankruptcy)
    assert wave["most_harmed"] == [{"account": 4, "kind": "long_c", "equity_lost_usdt": 4000.0},
                                   {"account": 3, "kind": "long_b", "equity_lost_usdt": 2400.0},
                                   {"account": 2, "kind": "long_a", "equity_lost_usdt": 1200.0}]


def test_forensics_command_writes_the_report(cascade_run, tmp_path, capsys):
    out, _ = cascade_run
    assert forensics_main([str(out), "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "depth 3" in text and "#1 " in text and "parents #0 (100%)" in text
    assert json.loads((tmp_path / "forensics.json").read_text())["waves"][0]["depth"] == 3
    assert (tmp_path / "forensics_wave_0.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "forensics_wave_0.png" in (tmp_path / "forensics.html").read_text()
    assert forensics_main([str(tmp_path / "nowhere")]) == 2


def test_summary_counts_closed_notional_only(cascade_run):
    """Each long's first liquidation order is a partial one (down one bracket) that finds no bid at its
    bankruptcy price and fills nothing; the liquidated notional counts what was closed: 172,400."""
    _, summary = cascade_run
    by_mode = summary["liquidations"]["by_mode"]
    assert summary["liquidations"]["orders"] == 6
    assert by_mode["ISOLATED"] == {"count": 6, "notional_usdt": 172400.0}
    assert sum(w["notional_usdt"] for w in summary["cascade_waves"]) == 172400.0


def test_a_mark_at_the_bare_index_links_no_fill(tmp_path):
    """The same accounts with the mark at the index and the index itself falling 8%: every liquidation
    is a root with no breaching fill, however much the whale and the forced orders sold."""
    data = {**CASCADE, "instruments": {"BTCUSDT": {**CASCADE["instruments"]["BTCUSDT"], "mark_method": "index"}},
            "feed": {"BTCUSDT": {**CASCADE["feed"]["BTCUSDT"], "shocks": [{"at_s": 10, "over_s": 5, "pct": -8}]}}}
    run_scenario(parse_scenario(data), tmp_path)
    result = analyze(tmp_path)
    assert len(result["liquidations"]) == 3
    assert all(q["driver"] == "index" and not q["breaching_fills"] and not q["parents"] for q in result["liquidations"])
    assert [(w["depth"], w["amplification"]) for w in result["waves"]] == [(1, 1.0)]
