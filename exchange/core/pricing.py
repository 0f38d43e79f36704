"""Index, mark price and premium: an index tick updates the index, samples the basis and computes the
mark (median of three, the index, or the last price); the premium index is read from the book."""

from __future__ import annotations

from .book import Book
from .commands import BUY, SELL, IndexPrice, as_sent
from .errors import Reject
from .events import CommandRejected, Event, MarkPriceUpdated
from .instruments import NS_PER_SECOND, Instrument
from .market import Market
from .margin import band_limit
from .money import E8, round_half_up_div
from .state import State


def median3(a: int, b: int, c: int) -> int:
    return sorted((a, b, c))[1]


def impact_fill(levels: list[tuple[int, int]], target_cash: int, k: int) -> tuple[int, int]:
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


class Pricing:
    """The markets (index, mark, last, basis window, funding accumulators) of every symbol."""

    __slots__ = ("state", "books", "markets", "next_timer_ts")

    def __init__(self, state: State, books: dict[str, Book]) -> None:
        self.state = state
        self.books = books
        self.markets = {s: Market(s) for s in state.instruments}
        self.next_timer_ts = 1 << 62  # earliest funding timer of any market (derived from the markets)

    def set_index(self, cmd: IndexPrice, events: list[Event]) -> bool:
        """A new index price: sample the basis and compute the mark (MarkPriceUpdated). The first index of
        a symbol starts its funding timers. False (and CommandRejected) for a bad symbol or price."""
        inst = self.state.instruments.get(cmd.symbol)
        price = as_sent(cmd)[1]
        if inst is None or type(price) is not int or not 0 < price <= inst.max_price_ticks:
            code = Reject.UNKNOWN_SYMBOL if inst is None else Reject.INVALID_PRICE
            events.append(CommandRejected(-1, "IndexPrice", code.value, f"bad index price {price!r} for {cmd.symbol!r}"))
            return False
        m = self.markets[cmd.symbol]
        m.index = price
        ts = self.state.ts_ns
        if not m.next_funding_ts:
            m.next_funding_ts = (ts // inst.funding_interval_ns + 1) * inst.funding_interval_ns
            m.next_sample_ts = (ts // inst.funding_sample_ns + 1) * inst.funding_sample_ns
            self.next_timer_ts = min(self.next_timer_ts, m.next_sample_ts)
        self._sample_basis(inst, m)
        m.mark = self._mark(inst, m)
        events.append(MarkPriceUpdated(cmd.symbol, m.mark, m.index, m.last))
        return True

    def update_next_timer(self) -> None:
        """The earliest funding timer of any market: apply() skips the timers until then."""
        self.next_timer_ts = min((min(m.next_sample_ts, m.next_funding_ts) for m in self.markets.values()
                                  if m.next_funding_ts), default=self.next_timer_ts)

    def _sample_basis(self, inst: Instrument, m: Market) -> None:
        """One (bid + ask - 2 x index) sample per second (half-ticks; 0 when the book is one-sided), the
        last `mark_basis_window_s` kept. Seconds without a tick hold the previous sample: each sample
        weighs the time it stood for, so sparse ticks do not shorten the window."""
        ts = self.state.ts_ns
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

    def _mark(self, inst: Instrument, m: Market) -> int:
        """median(Price1, Price2, last), clamped to index x (1 -/+ mark_clamp); or the index, or the last.

        Price1 = index x (1 + funding rate x time to funding / interval), rounded half up. Price2 = index +
        the basis moving average over the whole window: seconds before the first sample count as 0, so
        a fresh market's first sample weighs 1/window, not all (rounded half up)."""
        index = m.index
        if inst.mark_method == "index":
            return index
        if inst.mark_method == "last":
            return m.last or index
        until = max(0, m.next_funding_ts - self.state.ts_ns)
        p1 = index + round_half_up_div(index * m.funding_rate * until, E8 * inst.funding_interval_ns)
        p2 = index + round_half_up_div(m.basis_sum, 2 * inst.mark_basis_window_s)
        clamp = inst.mark_clamp_ppm
        lo, hi = band_limit(index, clamp, SELL), band_limit(index, clamp, BUY)
        return max(lo, min(hi, median3(p1, p2, m.last or index)))

    def check_invariants(self) -> None:
        """Each basis window counts the seconds and the sum of its runs; no funding timer is due before
        `next_timer_ts`."""
        for symbol, m in self.markets.items():
            assert m.basis_count == sum(n for _, n in m.basis_runs), f"basis window of {symbol} miscounted"
            assert m.basis_sum == sum(v * n for v, n in m.basis_runs), f"basis sum of {symbol} out of sync"
            if m.next_funding_ts:
                assert self.next_timer_ts <= min(m.next_sample_ts, m.next_funding_ts), f"a timer of {symbol} is missed"

    def premium_index_e8(self, symbol: str) -> int:
        """[max(0, impact bid - index) - max(0, index - impact ask)] / index, in 1e-8 (toward zero)."""
        m = self.markets[symbol]
        if not m.index:
            return 0
        book = self.books[symbol]
        k = self.state.instruments[symbol].cash_per_tick_lot
        target = self.state.instruments[symbol].impact_notional_cash
        premium = 0
        for side, sign in ((1, 1), (-1, -1)):
            value, lots = impact_fill(book.depth(side), target, k)
            if lots:
                diff = sign * (value - lots * k * m.index)  # bid side: impact bid - index
                if diff > 0:
                    premium += sign * (diff * E8 // (lots * k * m.index))
        return premium
