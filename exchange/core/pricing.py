"""Index, mark price and funding: the mark-price tick and the time-driven funding timers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .commands import IndexPrice
from .errors import Reject
from .events import CommandRejected, FundingPaid, FundingRateSettled, InsuranceFundChanged, MarkPriceUpdated
from .instruments import NS_PER_HOUR, NS_PER_SECOND, Instrument
from .market import Market
from .money import E8, PPM, ceil_div, round_half_up_div

if TYPE_CHECKING:  # a mixin of Exchange: the other mixins' attributes are there at run time
    from typing import Any as _Base
else:
    _Base = object

EIGHT_HOURS_NS = 8 * NS_PER_HOUR


def median3(a: int, b: int, c: int) -> int:
    return sorted((a, b, c))[1]


class Pricing(_Base):
    """Mixin of Exchange: mark price (median of three, index, or last) and funding."""

    next_timer_ts: int

    def _index_price(self, cmd: IndexPrice, events: list) -> None:
        inst = self.instruments.get(cmd.symbol)
        if inst is None or type(cmd.price_ticks) is not int or not 0 < cmd.price_ticks <= inst.max_price_ticks:
            code = Reject.UNKNOWN_SYMBOL if inst is None else Reject.INVALID_PRICE
            events.append(CommandRejected(-1, "IndexPrice", code.value, f"bad index price {cmd.price_ticks!r} for {cmd.symbol!r}"))
            return
        m = self.markets[cmd.symbol]
        m.index = cmd.price_ticks
        ts = self.ts_ns
        if not m.next_funding_ts:
            m.next_funding_ts = (ts // inst.funding_interval_ns + 1) * inst.funding_interval_ns
            m.next_sample_ts = (ts // inst.funding_sample_ns + 1) * inst.funding_sample_ns
            self.next_timer_ts = min(self.next_timer_ts, m.next_sample_ts)
        self._sample_basis(inst, m)
        m.mark = self._compute_mark(inst, m)
        events.append(MarkPriceUpdated(cmd.symbol, m.mark, m.index, m.last))
        self._fire_triggers(cmd.symbol, "MARK_PRICE", events)
        self._after_trades(cmd.symbol, events)
        self._check_liquidations(cmd.symbol, events)
        if self.fund.positions[cmd.symbol].size:
            self._fund_unwind(cmd.symbol, events)

    def _sample_basis(self, inst: Instrument, m: Market) -> None:
        """One (bid + ask - 2 x index) sample per second (half-ticks; 0 when the book is one-sided), the
        last `mark_basis_window_s` kept. Seconds without a tick hold the previous sample: each sample
        weighs the time it stood for, so sparse ticks do not shorten the window."""
        ts = self.ts_ns
        if ts < m.next_basis_ts or inst.mark_method != "median":
            return
        window = inst.mark_basis_window_s
        if m.basis_runs:
            missed = (ts - m.next_basis_ts) // NS_PER_SECOND
            if missed:
                m.add_basis(m.basis_runs[-1][0], min(window, missed), window)
        book = self.books[inst.symbol]
        sample = book.best_bid + book.best_ask - 2 * m.index if book.has_bid() and book.has_ask() else 0
        m.add_basis(sample, 1, window)
        m.next_basis_ts = (ts // NS_PER_SECOND + 1) * NS_PER_SECOND

    def _compute_mark(self, inst: Instrument, m: Market) -> int:
        """median(Price1, Price2, last), clamped to index x (1 -/+ mark_clamp); or the index, or the last.

        Price1 = index x (1 + funding rate x time to funding / interval), rounded half up. Price2 = index +
        the basis moving average over the whole window: seconds before the first sample count as 0, so
        a fresh market's first sample weighs 1/window, not all (rounded half up)."""
        index = m.index
        if inst.mark_method == "index":
            return index
        if inst.mark_method == "last":
            return m.last or index
        until = max(0, m.next_funding_ts - self.ts_ns)
        p1 = index + round_half_up_div(index * m.funding_rate * until, E8 * inst.funding_interval_ns)
        p2 = index + round_half_up_div(m.basis_sum, 2 * inst.mark_basis_window_s)
        clamp = inst.mark_clamp_ppm
        lo, hi = ceil_div(index * (PPM - clamp), PPM), index * (PPM + clamp) // PPM
        return max(1, lo, min(hi, median3(p1, p2, m.last or index)))

    # -- funding -------------------------------------------------------------------------------
    def _advance_time(self, ts: int, events: list) -> None:
        """Run the funding timers due at or before ts: premium samples, then settlement, per symbol."""
        for symbol, m in self.markets.items():
            if not m.next_funding_ts:
                continue
            inst = self.instruments[symbol]
            while True:
                horizon = min(ts, m.next_funding_ts)
                if m.next_sample_ts <= horizon:
                    n = (horizon - m.next_sample_ts) // inst.funding_sample_ns + 1
                    self._sample_premium(inst, m, n)
                    m.next_sample_ts += n * inst.funding_sample_ns
                elif m.next_funding_ts <= ts:
                    self._settle_funding(inst, m, events)
                    m.next_funding_ts += inst.funding_interval_ns
                    if m.mark:  # a payment can breach a position: liquidate before the next interval
                        self._check_liquidations(symbol, events)
                else:
                    break
        self._update_next_timer()

    def _update_next_timer(self) -> None:
        """The earliest funding timer of any market: apply() skips _advance_time until then."""
        self.next_timer_ts = min((min(m.next_sample_ts, m.next_funding_ts) for m in self.markets.values()
                                  if m.next_funding_ts), default=self.next_timer_ts)

    def _sample_premium(self, inst: Instrument, m: Market, n: int) -> None:
        """Add n equal samples of the current premium index, weighted 1, 2, 3, ... over the interval."""
        premium = self.premium_index_e8(inst.symbol)
        prev = m.premium_count
        weight = n * prev + n * (n + 1) // 2
        m.premium_weighted += premium * weight
        m.premium_weights += weight
        m.premium_count = prev + n

    def premium_index_e8(self, symbol: str) -> int:
        """[max(0, impact bid - index) - max(0, index - impact ask)] / index, in 1e-8 (toward zero)."""
        m = self.markets[symbol]
        if not m.index:
            return 0
        book = self.books[symbol]
        inst = self.instruments[symbol]
        k = inst.cash_per_tick_lot
        premium = 0
        for side, sign in ((1, 1), (-1, -1)):
            value, lots = self._impact_fill(book.depth(side), inst.impact_notional_cash, k)
            if lots:
                diff = sign * (value - lots * k * m.index)  # bid side: impact bid - index
                if diff > 0:
                    premium += sign * (diff * E8 // (lots * k * m.index))
        return premium

    @staticmethod
    def _impact_fill(levels: list[tuple[int, int]], target_cash: int, k: int) -> tuple[int, int]:
        """(cash value, lots) of filling target_cash of notional from the given levels, best first."""
        value = lots = 0
        for price, qty in levels:
            need = -((value - target_cash) // (price * k))
            take = qty if qty < need else need
            value += take * price * k
            lots += take
            if value >= target_cash:
                break
        return value, lots

    def _settle_funding(self, inst: Instrument, m: Market, events: list) -> None:
        premium = m.premium_weighted // m.premium_weights if m.premium_weights else 0
        rate8 = premium + max(-inst.premium_clamp_e8, min(inst.premium_clamp_e8, inst.interest_e8 - premium))
        rate = rate8 * inst.funding_interval_ns // EIGHT_HOURS_NS
        rate = max(-inst.funding_cap_e8, min(inst.funding_cap_e8, rate))
        m.funding_rate = rate
        m.premium_weighted = m.premium_weights = m.premium_count = 0
        events.append(FundingRateSettled(inst.symbol, rate, m.mark, m.next_funding_ts))
        if not rate or not m.mark:
            return
        k = inst.cash_per_tick_lot
        residue = 0
        for account, pos in list(self.holders[inst.symbol].items()):
            owed = abs(pos.size) * m.mark * k * rate  # x E8; > 0: this position pays when long and rate > 0
            pays = (pos.size > 0) == (rate > 0)
            if pays:
                amount = -((-abs(owed)) // E8)  # payer rounds up
                acct = self.accounts[account]
                wallet = pos.isolated_wallet if pos.isolated else acct.cross_wallet
                paid = min(amount, max(0, wallet))
                residue += paid
                delta = -paid
            else:
                delta = abs(owed) // E8  # receiver rounds down
                residue -= delta
            self._credit_wallet(self.accounts[account], pos, delta)
            events.append(FundingPaid(account, inst.symbol, delta, rate))
        if residue:
            self.insurance_fund += residue
            events.append(InsuranceFundChanged(inst.symbol, residue, self.insurance_fund, "FUNDING_ROUNDING", -1))
