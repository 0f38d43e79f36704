"""Per-symbol market state: index, mark and last price, basis samples and funding accumulators."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence


# symbol, index, mark, last, basis runs, basis sum, next basis ts, premium weighted, premium weights,
# premium count, next sample ts, funding rate, next funding ts; a basis run is (sample, seconds), a list once
# the snapshot has been through a file
MarketState = tuple[str, int, int, int, list[Sequence[int]], int, int, int, int, int, int, int, int]


class Market:
    __slots__ = ("symbol", "index", "mark", "last", "basis_runs", "basis_count", "basis_sum", "next_basis_ts",
                 "premium_weighted", "premium_weights", "premium_count", "next_sample_ts", "funding_rate",
                 "next_funding_ts")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.index = 0  # 0 = not yet known
        self.mark = 0
        self.last = 0
        self.basis_runs: deque[list[int]] = deque()  # [sample, seconds] runs; samples: bid + ask - 2 * index
        self.basis_count = 0  # seconds in the runs
        self.basis_sum = 0  # sum of the samples, in half-ticks
        self.next_basis_ts = 0
        self.premium_weighted = 0  # sum of weight * premium_e8
        self.premium_weights = 0
        self.premium_count = 0
        self.next_sample_ts = 0
        self.funding_rate = 0  # last settled rate, e8
        self.next_funding_ts = 0

    def state(self) -> MarketState:
        return (self.symbol, self.index, self.mark, self.last, [(r[0], r[1]) for r in self.basis_runs], self.basis_sum,
                self.next_basis_ts, self.premium_weighted, self.premium_weights, self.premium_count,
                self.next_sample_ts, self.funding_rate, self.next_funding_ts)

    @classmethod
    def from_state(cls, s: MarketState) -> Market:
        m = cls(s[0])
        (m.index, m.mark, m.last, runs, m.basis_sum, m.next_basis_ts, m.premium_weighted,
         m.premium_weights, m.premium_count, m.next_sample_ts, m.funding_rate, m.next_funding_ts) = s[1:]
        m.basis_runs = deque([value, n] for value, n in runs)
        m.basis_count = sum(n for _, n in runs)
        return m

    def add_basis(self, sample: int, seconds: int, window: int) -> None:
        """Append `seconds` one-second samples of `sample`, keeping the last `window`. O(1) amortized."""
        runs = self.basis_runs
        if runs and runs[-1][0] == sample:
            runs[-1][1] += seconds
        else:
            runs.append([sample, seconds])
        self.basis_count += seconds
        self.basis_sum += sample * seconds
        while self.basis_count > window:
            first = runs[0]
            drop = min(first[1], self.basis_count - window)
            first[1] -= drop
            self.basis_count -= drop
            self.basis_sum -= first[0] * drop
            if not first[1]:
                runs.popleft()
