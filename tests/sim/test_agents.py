"""Agents: exact commands from synthetic views and events; every kind's commands valid in a real run."""

from __future__ import annotations

import random

from exchange.sim.agent import NS, AgentContext, MarketView
from exchange.sim.agents import AGENT_KINDS, MarketMaker, RetailCrowd, Whale
from exchange.config import load_config
from exchange.core.commands import (
    BUY,
    COMMAND_TYPES,
    GTX,
    SELL,
    CancelAll,
    PlaceOrder,
    SetLeverage,
    SetMarginMode,
)
from exchange.core.events import LiquidationTriggered, OrderAccepted, PositionChanged
from exchange.sim.runner import build, run

INSTRUMENTS = {i.symbol: i for i in load_config().instruments}
BTC = "BTCUSDT"


def ctx(seed: int = 1, mark: int = 600_000) -> AgentContext:
    view = MarketView(BTC)
    view.mark = view.index = mark
    return AgentContext(account=7, instruments=INSTRUMENTS, rng=random.Random(seed), market={BTC: view})


def test_start_sets_mode_and_leverage():
    agent = MarketMaker(ctx(), margin_mode="isolated", leverage=8)
    cmds = agent.start()
    assert cmds[:2] == [SetMarginMode(7, BTC, "ISOLATED"), SetLeverage(7, BTC, 8)]
    assert 0 < agent.ctx.wake_at_ns <= NS


def test_market_maker_ladder_and_skew():
    """Flat: symmetric post-only ladder around the mark. Long inventory: quotes shift down."""
    mm = MarketMaker(ctx(), half_spread_bps=5, levels=2, level_step_bps=5, size_usdt=6000, skew_bps=20,
                     max_inventory_usdt=120_000)
    orders = mm.on_timer()
    assert orders == [PlaceOrder(7, BTC, BUY, 100, 599_700, tif=GTX), PlaceOrder(7, BTC, SELL, 100, 600_300, tif=GTX),
                      PlaceOrder(7, BTC, BUY, 100, 599_400, tif=GTX), PlaceOrder(7, BTC, SELL, 100, 600_600, tif=GTX)]
    mm.on_event(OrderAccepted(7, BTC, 11, BUY, "LIMIT", 599_700, 100, GTX, False, 0, ""))
    mm.on_event(PositionChanged(7, BTC, 1000, 1000 * 600_000 * 100, 0, 0))  # 1 BTC long = 60,000 USDT: half the limit
    skewed = mm.on_timer()
    assert skewed[0] == CancelAll(7, BTC)
    bid, ask = skewed[1], skewed[2]
    assert (bid.side, ask.side) == (BUY, SELL)
    assert (bid.price_ticks, ask.price_ticks) == (599_100, 599_700)  # centre 10 bps lower: 59,940


def test_market_maker_withdraws_under_stress():
    mm = MarketMaker(ctx(), stress_bps=50, stress_window=3, withdraw_s=30)
    view = mm.view
    assert mm.on_timer()  # quotes at 60,000
    view.mark = 590_000  # -1.7% within the window
    mm.ctx.now_ns = 2 * NS
    assert mm.on_timer() == []  # no open orders known to cancel, and no new quotes
    assert mm.withdrawals == 1
    mm.ctx.now_ns = 40 * NS
    view.mark = 590_100
    mm.mids.clear()
    assert mm.on_timer()  # back after withdraw_s


def test_crowd_enters_at_a_round_price_and_sets_a_stop():
    agent = RetailCrowd(ctx(seed=3, mark=600_200), leverages=[20], long_bias=1.0, round_step_usdt=50,
                        cluster_bps=40, stop_fraction=1.0, stop_distance=0.5, equity_sigma=0, equity_usdt=1000,
                        utilization_min=1.0, utilization_max=1.0)
    (order,) = agent.on_timer()
    assert order.side == BUY and order.order_type == "LIMIT" and order.price_ticks == 600_000  # 60,000: round
    assert order.qty_lots == 1000 * 20 * 1_000_000 // (600_200 * 100)
    agent.on_event(PositionChanged(7, BTC, 333, 333 * 600_000 * 100, 0, 0))
    agent.ctx.now_ns = NS
    (stop,) = agent.on_timer()
    assert stop.order_type == "STOP_MARKET" and stop.reduce_only and stop.side == SELL and stop.qty_lots == 333
    assert stop.stop_price_ticks == int(600_000 * (1 - 0.5 / 20))
    agent.on_event(LiquidationTriggered(7, "", "CROSS", 0, 1))
    assert agent.on_timer() == [] and agent.liquidated == 1


def test_whale_sweeps_on_schedule():
    whale = Whale(ctx(), at_s=100, sweeps=2, every_s=5, sweep_usdt=600_000, close_after_s=0)
    whale.start()
    assert whale.ctx.wake_at_ns == 100 * NS
    whale.ctx.now_ns = 100 * NS
    (sweep,) = whale.on_timer()
    assert sweep == PlaceOrder(7, BTC, SELL, 10_000, 0, "MARKET", "IOC", False)
    assert whale.ctx.wake_at_ns == 105 * NS


MARKET_STATE = {"NO_LIQUIDITY", "POST_ONLY_WOULD_TAKE", "INSUFFICIENT_MARGIN"}  # refusals no agent can foresee


def test_every_kind_sends_valid_commands(small):
    """In a real run every command is well formed: the core refuses some only for the market's state."""
    sim = build(small)
    sent: list = []
    codes: set[str] = set()

    class Spy:
        """The kernel's exchange, with every applied command seen on the way (the Exchange itself may be a
        compiled class, whose methods cannot be replaced)."""

        def __getattr__(self, name):
            return getattr(sim.exchange, name)

        def apply(self, env):
            sent.append(env.command)
            events = sim.exchange.apply(env)
            codes.update(e.code for e in events if type(e).__name__ in ("OrderRejected", "CommandRejected"))
            return events

    sim.kernel.ex = Spy()
    run(sim)
    assert sent
    assert all(type(c) in COMMAND_TYPES for c in sent)
    for c in sent:
        assert all(type(v) in (int, str, bool) for v in c), c
    kinds = {a.kind for a in sim.agents}
    assert kinds == {"market_maker", "noise", "crowd", "whale"}
    assert codes <= MARKET_STATE, codes
    assert sum(a.rejections for a in sim.agents) < len(sent) // 20
    assert set(AGENT_KINDS) == {"market_maker", "noise", "momentum", "crowd", "arbitrageur", "hunter", "whale"}


def test_open_orders_follow_fills_as_maker_and_as_taker():
    from exchange.core.events import OrderCancelled, Trade

    agent = MarketMaker(ctx())
    agent.on_event(OrderAccepted(7, BTC, 1, BUY, "LIMIT", 599_000, 10, "GTC", False, 0, ""))
    agent.on_event(OrderAccepted(7, BTC, 2, SELL, "LIMIT", 599_500, 10, "GTC", False, 0, ""))
    agent.on_event(Trade(BTC, 1, 599_000, 4, SELL, 8, 50, 7, 1, 0, 0, False))  # our bid partly hit
    agent.on_event(Trade(BTC, 2, 599_500, 10, SELL, 7, 2, 9, 60, 0, 0, False))  # our sell took all it asked
    assert agent.open_orders == {1: (BUY, 599_000, 6)}
    agent.on_event(OrderCancelled(7, BTC, 1, BUY, 599_000, 6, "USER"))
    assert agent.open_orders == {}
