"""The whole engine under random traffic: several accounts on cross and isolated margin, random
orders and leverage, index moves with large shocks (liquidations, partial liquidations, ADL,
cascades), funding over time jumps. And what found the money-losing order paths: isolated orders
resting while the cross bucket is liquidated, many closing orders resting behind one position and
swept at once, a premium that makes funding drain wallets, an insurance fund that starts empty so that
ADL runs. After every command: ex.check_invariants() (exact cash conservation, reservations backed by
cash, positions net to zero with their holders, trigger book and breach index consistent, book not
crossed), every wallet rebuilt from the events alone (Ledger) equals the exchange's, no negative
wallet is left behind; after every index tick, once the cascade has settled, no account is left
breached (the breach index missed nobody)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from conftest import Ledger
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from exchange.core.commands import (
    BUY,
    SELL,
    AdjustIsolatedMargin,
    CancelAll,
    CreateAccount,
    Deposit,
    Envelope,
    Heartbeat,
    IndexPrice,
    PlaceOrder,
    SetAutoAddMargin,
    SetLeverage,
    SetMarginMode,
    Withdraw,
)
from exchange.core.engine import Exchange
from exchange.core.instruments import NS_PER_SECOND, instrument_from_config
from exchange.core.money import CASH_SCALE as USDT
from exchange.core.money import PPM

SYMBOLS = ("AAA", "BBB")
TRADERS = tuple(range(1, 9))
MAKER = 100
BRACKETS = [
    {"floor": "0", "cap": "5000", "max_leverage": 100, "mmr": "0.005"},
    {"floor": "5000", "cap": "25000", "max_leverage": 50, "mmr": "0.01"},
    {"floor": "25000", "cap": "100000", "max_leverage": 20, "mmr": "0.025"},
    {"floor": "100000", "cap": "1000000", "max_leverage": 10, "mmr": "0.05"},
]
LEVERAGES = (1, 2, 5, 10, 20, 50, 100)


def instruments():
    common = {"tick_size": "1", "lot_step": "1", "min_qty": "1", "max_qty": "100000", "market_max_qty": "100000",
              "max_price": "100000000", "min_notional": "0", "brackets": BRACKETS}
    return [instrument_from_config("AAA", {**common, "mark_method": "median", "funding_interval_hours": "1",
                                           "funding_cap": "0.02", "mark_clamp": "0.05"}),
            instrument_from_config("BBB", {**common, "mark_method": "index", "maker_fee": "0.0001",
                                           "taker_fee": "0.0007", "liquidation_fee": "0.015"})]


class Harness:
    """Builds the exchange, applies commands, checks the invariants after each one."""

    def __init__(self, insurance_usdt: int) -> None:
        self.ex = Exchange(instruments(), insurance_usdt * USDT)
        self.ledger = Ledger(self.ex)
        self.seq = 0
        self.ts = NS_PER_SECOND
        self.stats: Counter[str] = Counter()

    def apply(self, command, dt_ns: int = NS_PER_SECOND) -> list:
        self.seq += 1
        self.ts += dt_ns
        events = self.ex.apply(Envelope(self.seq, self.ts, "prop", command))
        self.ledger.apply(events)
        for e in events:
            self.stats[type(e).__name__] += 1
            if type(e).__name__ == "PublicLiquidation" and e.filled_lots:
                self.stats["liquidation fills"] += 1
            if type(e).__name__ == "LiquidationOrderPlaced" and e.partial:
                self.stats["partial liquidations"] += 1
            if type(e).__name__ == "OrderCancelled":
                self.stats[f"cancelled {e.reason}"] += 1
            if type(e).__name__ == "CommandRejected" and e.code == "INTERNAL_ERROR":
                raise AssertionError(f"{command}: {e.message}")
        self.check()
        return events

    def check(self) -> None:
        ex = self.ex
        ex.check_invariants()
        self.ledger.check()
        for acct in ex.accounts.values():
            if not any(p.size and not p.isolated for p in acct.positions.values()):
                assert acct.cross_wallet >= 0, f"account {acct.id} keeps a negative cross wallet {acct.cross_wallet}"

    def setup(self, deposits: list[int], modes: list[tuple[str, str]], leverages: list[tuple[int, int]]) -> None:
        for aid, usdt, mode, lev in zip(TRADERS, deposits, modes, leverages):
            self.apply(CreateAccount(aid))
            self.apply(Deposit(aid, usdt * USDT))
            for symbol, m, lv in zip(SYMBOLS, mode, lev):
                self.apply(SetMarginMode(aid, symbol, m))
                self.apply(SetLeverage(aid, symbol, lv))
        self.apply(CreateAccount(MAKER))
        self.apply(Deposit(MAKER, 50_000_000 * USDT))
        for symbol in SYMBOLS:
            self.apply(SetLeverage(MAKER, symbol, 5))
        for symbol in SYMBOLS:
            self.apply(IndexPrice(symbol, 1_000))

    # -- actions ---------------------------------------------------------------------------------
    def mark(self, symbol: str) -> int:
        return self.ex.markets[symbol].mark

    def order(self, aid: int, symbol: str, side: int, qty: int, offset_ppm: int, kind: str) -> None:
        mark = self.mark(symbol)
        price = max(1, mark + side * mark * offset_ppm // PPM)
        if kind == "MARKET":
            self.apply(PlaceOrder(aid, symbol, side, qty, 0, "MARKET"))
        elif kind == "REDUCE":
            size = self.ex.accounts[aid].positions[symbol].size
            if size:
                self.apply(PlaceOrder(aid, symbol, -1 if size > 0 else 1, min(qty, abs(size)), 0, "MARKET",
                                      reduce_only=True))
        else:
            self.apply(PlaceOrder(aid, symbol, side, qty, price, "LIMIT", kind))

    def quote(self, symbol: str, spread_ppm: int, qty: int) -> None:
        """The maker rests a bid and an ask around the mark."""
        mark = self.mark(symbol)
        self.apply(PlaceOrder(MAKER, symbol, BUY, qty, max(1, mark - mark * spread_ppm // PPM)))
        self.apply(PlaceOrder(MAKER, symbol, SELL, qty, mark + mark * spread_ppm // PPM + 1))

    def open_position(self, aid: int, symbol: str, side: int, qty: int) -> None:
        """The maker offers qty at the mark; the trader takes it (if its margin allows)."""
        mark = self.mark(symbol)
        self.apply(PlaceOrder(MAKER, symbol, -side, qty, mark))
        self.apply(PlaceOrder(aid, symbol, side, qty, mark, "LIMIT", "IOC"))
        self.apply(CancelAll(MAKER, symbol))

    def closing_orders(self, aid: int, symbol: str, n: int, reduce_only: bool) -> None:
        """Rest n orders behind the trader's position, each of its whole size, on the closing side."""
        size = self.ex.accounts[aid].positions[symbol].size
        mark = self.mark(symbol)
        for i in range(n if size else 0):
            side = SELL if size > 0 else BUY
            self.apply(PlaceOrder(aid, symbol, side, abs(size), max(1, mark - side * (1 + i)), reduce_only=reduce_only))

    def rest_isolated(self, aid: int, side: int, qty: int) -> None:
        """Rest an order on a symbol the trader holds in isolated mode, off the touch."""
        acct = self.ex.accounts[aid]
        for symbol, pos in acct.positions.items():
            if pos.isolated:
                mark = self.mark(symbol)
                self.apply(PlaceOrder(aid, symbol, side, qty, max(1, mark - side * mark // 50)))
                return

    def premium(self, symbol: str, ppm: int, qty: int) -> None:
        """The maker bids (ppm > 0) or offers (ppm < 0) above / below the index: a premium funding pays."""
        index = self.ex.markets[symbol].index
        price = max(1, index + index * ppm // PPM)
        self.apply(PlaceOrder(MAKER, symbol, BUY if ppm > 0 else SELL, qty, price))

    def index_move(self, symbol: str, move_ppm: int) -> None:
        m = self.ex.markets[symbol]
        self.apply(IndexPrice(symbol, max(10, m.index + m.index * move_ppm // PPM)))
        self.settle_cascade()

    def settle_cascade(self) -> None:
        """Re-send the indexes until no tick liquidates anyone; then nobody may be left breached."""
        ex = self.ex
        for _ in range(50):
            triggered = 0
            for symbol in SYMBOLS:
                events = self.apply(IndexPrice(symbol, ex.markets[symbol].index), dt_ns=0)
                triggered += sum(1 for e in events if type(e).__name__ == "LiquidationTriggered")
            if not triggered:
                break
        else:
            raise AssertionError("liquidations did not settle within 50 rounds of ticks")
        for acct in ex.accounts.values():
            assert not ex.cross_breached(acct)[0], f"cross account {acct.id} left breached"
            for pos in acct.positions.values():
                if pos.isolated and pos.size:
                    assert not ex.isolated_breached(pos)[0], f"isolated {acct.id} {pos.symbol} left breached"

    def time_jump(self, seconds: int) -> None:
        self.apply(Heartbeat(), dt_ns=seconds * NS_PER_SECOND)


# -- a seeded random run ---------------------------------------------------------------------------
def random_run(seed: int, steps: int) -> Harness:
    rng = random.Random(seed)
    h = Harness(insurance_usdt=rng.choice([0, 0, 500, 5_000]))
    h.setup([rng.choice([300, 1_000, 5_000, 30_000]) for _ in TRADERS],
            [(rng.choice(["CROSS", "ISOLATED"]), rng.choice(["CROSS", "ISOLATED"])) for _ in TRADERS],
            [(rng.choice(LEVERAGES), rng.choice(LEVERAGES)) for _ in TRADERS])
    for _ in range(steps):
        r = rng.random()
        symbol = rng.choice(SYMBOLS)
        aid = rng.choice(TRADERS)
        if r < 0.40:
            kind = rng.choice(["GTC", "GTC", "IOC", "MARKET", "REDUCE"])
            h.order(aid, symbol, rng.choice([BUY, SELL]), rng.randint(1, 60), rng.randint(-30_000, 40_000), kind)
        elif r < 0.52:
            h.quote(symbol, rng.randint(1_000, 40_000), rng.randint(1, 40))
        elif r < 0.70:
            move = rng.randint(-300_000, 300_000) if rng.random() < 0.15 else rng.randint(-15_000, 15_000)
            h.index_move(symbol, move)
        elif r < 0.75:
            h.apply(CancelAll(aid, symbol))
        elif r < 0.80:
            h.apply(SetLeverage(aid, symbol, rng.choice(LEVERAGES)))
        elif r < 0.85:
            h.apply(AdjustIsolatedMargin(aid, symbol, rng.randint(-500, 500) * USDT or 1))
        elif r < 0.88:
            h.apply(SetAutoAddMargin(aid, symbol, rng.random() < 0.5))
        elif r < 0.92:
            h.apply(Deposit(aid, rng.randint(1, 2_000) * USDT))
        elif r < 0.94:
            h.apply(Withdraw(aid, rng.randint(1, 2_000) * USDT))
        elif r < 0.95:
            h.apply(SetMarginMode(aid, symbol, rng.choice(["CROSS", "ISOLATED"])))
        elif r < 0.96:
            h.closing_orders(aid, symbol, rng.randint(2, 12), rng.random() < 0.5)
        elif r < 0.97:
            h.rest_isolated(aid, rng.choice([BUY, SELL]), rng.randint(1, 40))
        elif r < 0.98:
            h.premium(symbol, rng.choice([-1, 1]) * rng.randint(5_000, 30_000), rng.randint(50, 400))
        else:
            h.time_jump(rng.randint(1, 4 * 3600))
    return h


def test_seeded_run_liquidates_deleverages_and_conserves_cash():
    """Invariants and the ledger after every step of a run in which every stage of the waterfall happens,
    and fills are cut for margin and reduce-only in the middle of sweeps."""
    h = random_run(seed=3, steps=3_000)
    s = h.stats
    assert s["LiquidationTriggered"] >= 20, s
    assert s["partial liquidations"] >= 10, s
    assert s["liquidation fills"] >= 10, s
    assert s["TakenOverByFund"] >= 1, s
    assert s["Deleveraged"] >= 10, s
    assert s["FundingPaid"] >= 100, s
    assert s["Trade"] >= 500, s
    assert s["cancelled INSUFFICIENT_MARGIN"] >= 5 and s["cancelled REDUCE_ONLY"] >= 20, s


@pytest.mark.stress
@pytest.mark.parametrize("seed, steps", [pytest.param(s, 20_000, id=f"long-{s}") for s in range(1, 9)]
                         + [pytest.param(s, 4_000, id=f"short-{s}") for s in (11, 12)])
def test_long_seeded_runs_with_cascades(seed, steps):
    """The `short-` cases are the slice .ci/run runs."""
    print(f"seed {seed}, {steps} steps")
    h = random_run(seed=seed, steps=steps)
    assert h.stats["LiquidationTriggered"] > 0 and h.stats["liquidation fills"] > 0, h.stats


# -- hypothesis state machine ---------------------------------------------------------------------
class EngineMachine(RuleBasedStateMachine):
    # sampled_from shrinks toward its first element: rich accounts at high leverage
    @initialize(deposits=st.lists(st.sampled_from([30_000, 5_000, 1_000, 300]), min_size=8, max_size=8),
                modes=st.lists(st.tuples(*[st.sampled_from(["CROSS", "ISOLATED"])] * 2), min_size=8, max_size=8),
                leverages=st.lists(st.tuples(*[st.sampled_from(LEVERAGES[::-1])] * 2), min_size=8, max_size=8),
                insurance=st.sampled_from([0, 0, 200, 10_000]))
    def setup(self, deposits, modes, leverages, insurance):
        self.h = Harness(insurance)
        self.h.setup(deposits, modes, leverages)

    @rule(aid=st.sampled_from(TRADERS), symbol=st.sampled_from(SYMBOLS), side=st.sampled_from([BUY, SELL]),
          qty=st.integers(1, 60), offset=st.integers(-30_000, 40_000),
          kind=st.sampled_from(["GTC", "IOC", "MARKET", "REDUCE"]))
    def order(self, aid, symbol, side, qty, offset, kind):
        self.h.order(aid, symbol, side, qty, offset, kind)

    @rule(aid=st.sampled_from(TRADERS), symbol=st.sampled_from(SYMBOLS), side=st.sampled_from([BUY, SELL]),
          qty=st.integers(1, 20))
    def open_position(self, aid, symbol, side, qty):
        self.h.open_position(aid, symbol, side, qty)

    @rule(symbol=st.sampled_from(SYMBOLS), spread=st.integers(1_000, 40_000), qty=st.integers(1, 40))
    def quote(self, symbol, spread, qty):
        self.h.quote(symbol, spread, qty)

    @rule(symbol=st.sampled_from(SYMBOLS), move=st.integers(-15_000, 15_000))
    def index_move(self, symbol, move):
        self.h.index_move(symbol, move)

    @rule(symbol=st.sampled_from(SYMBOLS), up=st.booleans(), size=st.integers(50_000, 400_000))
    def shock(self, symbol, up, size):
        self.h.index_move(symbol, size if up else -size)

    @rule(aid=st.sampled_from(TRADERS), symbol=st.sampled_from(SYMBOLS), lev=st.sampled_from(LEVERAGES))
    def leverage(self, aid, symbol, lev):
        self.h.apply(SetLeverage(aid, symbol, lev))

    @rule(aid=st.sampled_from(TRADERS), symbol=st.sampled_from(SYMBOLS),
          amount=st.integers(-500, 500).filter(bool))
    def adjust_isolated(self, aid, symbol, amount):
        self.h.apply(AdjustIsolatedMargin(aid, symbol, amount * USDT))

    @rule(aid=st.sampled_from(TRADERS), symbol=st.sampled_from(SYMBOLS), on=st.booleans())
    def auto_add(self, aid, symbol, on):
        self.h.apply(SetAutoAddMargin(aid, symbol, on))

    @rule(aid=st.sampled_from(TRADERS), symbol=st.sampled_from(SYMBOLS))
    def cancel_all(self, aid, symbol):
        self.h.apply(CancelAll(aid, symbol))

    @rule(aid=st.sampled_from(TRADERS), usdt=st.integers(1, 3_000), out=st.booleans())
    def move_cash(self, aid, usdt, out):
        self.h.apply((Withdraw if out else Deposit)(aid, usdt * USDT))

    @rule(seconds=st.integers(1, 9 * 3600))
    def time_jump(self, seconds):
        self.h.time_jump(seconds)

    @rule(aid=st.sampled_from(TRADERS), symbol=st.sampled_from(SYMBOLS), n=st.integers(2, 12),
          reduce_only=st.booleans())
    def closing_orders(self, aid, symbol, n, reduce_only):
        self.h.closing_orders(aid, symbol, n, reduce_only)

    @rule(aid=st.sampled_from(TRADERS), side=st.sampled_from([BUY, SELL]), qty=st.integers(1, 40))
    def rest_isolated(self, aid, side, qty):
        self.h.rest_isolated(aid, side, qty)

    @rule(symbol=st.sampled_from(SYMBOLS), ppm=st.integers(-30_000, 30_000).filter(bool), qty=st.integers(50, 400))
    def premium(self, symbol, ppm, qty):
        self.h.premium(symbol, ppm, qty)

    @invariant()
    def consistent(self):
        if hasattr(self, "h"):
            self.h.check()


EngineMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=60, deadline=None,
                                           derandomize=True, suppress_health_check=[HealthCheck.too_slow])
test_engine_state_machine = EngineMachine.TestCase
