"""compare-margin: the same scenario with the crowd on cross, then on isolated."""

from __future__ import annotations

import json

from exchange.sim.compare import compare, compare_table


def test_compare_margin_is_consistent(small, tmp_path):
    """Each side's numbers agree with its own summary; the runs agree until they diverge."""
    result = compare(small, tmp_path)
    assert json.loads((tmp_path / "compare.json").read_text()) == {k: v for k, v in result.items() if k != "paths"}
    for mode in ("CROSS", "ISOLATED"):
        s = json.loads((tmp_path / mode.lower() / "summary.json").read_text())
        crowd = [r for r in s["per_agent"] if r["kind"] == "crowd"]
        assert {r["mode"] for r in crowd} == {mode}
        m = result[mode]
        liquidated = [r for r in crowd if r["liquidated"]]
        assert m["crowd_accounts"] == 40
        assert m["accounts_liquidated"] == len(liquidated) > 0
        assert m["first_liquidation_s"] == min(r["first_liquidation_s"] for r in liquidated)
        assert m["crowd_capital_lost_usdt"] == round(sum(max(0.0, -r["pnl_usdt"]) for r in crowd), 2)
        # a liquidated account loses at least what it lost beyond its position's margin
        for r in liquidated:
            assert -r["pnl_usdt"] >= r["loss_beyond_position_usdt"] >= 0
        assert m["adl_events"] == s["adl"]["count"]
    d = result["divergence"]
    assert d["identical_commands"] > 100 and d["at_s"] is not None
    assert 0 < d["at_s"] <= small.duration_s  # the runs differ once margin modes make a difference
    # the seed document's question: isolated boxes the loss in, cross spends the whole account
    assert result["ISOLATED"]["loss_beyond_position_per_liquidated_usdt"] < \
        result["CROSS"]["loss_beyond_position_per_liquidated_usdt"]
    table = compare_table(result)
    assert "accounts liquidated" in table and "cross" in table and "isolated" in table


def test_crowd_mode_override_keeps_the_same_agents(small):
    """Forcing a mode changes only the mode: same leverages and deposits for every crowd agent."""
    from exchange.sim.runner import build

    cross = build(small.with_crowd_mode("CROSS")).agents
    iso = build(small.with_crowd_mode("ISOLATED")).agents
    assert [(a.kind, a.leverage, a.deposit_cash) for a in cross] == [(a.kind, a.leverage, a.deposit_cash) for a in iso]
    assert {a.margin_mode for a in iso if a.kind == "crowd"} == {"ISOLATED"}


def test_compare_states_what_is_held_equal_and_plots(small, tmp_path):
    """The held-equal checks hold; the report has its three plots beside the table."""
    from exchange.sim.compare_report import write_compare_report

    result = compare(small, tmp_path)
    h = result["held_equal"]
    assert h["agents"] and h["accounts"] == small.agent_count
    assert h["identical_commands"] == result["divergence"]["identical_commands"] > 100
    assert h["positions_before_divergence"] > 0 and h["same_margin_posted"] == h["positions_before_divergence"]
    page = write_compare_report(result, tmp_path)
    for name in ("compare_equity.png", "compare_loss_beyond.png", "compare_survival.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG" and name in page.read_text()
    assert "held equal" in compare_table(result)


def test_whole_wallet_variant_puts_the_wallet_behind_each_isolated_position(small, tmp_path):
    """Like for like: every isolated crowd position gets the account's whole free balance, so its
    margin posted is (almost) the wallet and far fewer isolated accounts are liquidated."""
    base = compare(small, tmp_path / "base")
    like = compare(small, tmp_path / "like", whole_wallet=True)
    assert like["variant"] == "whole-wallet" and like["held_equal"]["isolated_margin"] == "the whole wallet"
    iso = [r for r in like["paths"]["rows"]["ISOLATED"] if r["kind"] == "crowd" and r["peak_notional_usdt"]]
    assert iso and all(r["margin_posted_usdt"] > 0.9 * r["wallet_at_peak_usdt"] for r in iso)
    assert like["ISOLATED"]["accounts_liquidated"] < base["ISOLATED"]["accounts_liquidated"]
    assert like["CROSS"] == base["CROSS"]  # the cross side is the same run
