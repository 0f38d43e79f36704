"""Per-symbol market state: index, mark and last price, basis samples and funding accumulators."""

from __future__ import annotations

from collections import deque


class Market:
    __slots__ = ("symbol", "index", "mark", "last", "basis_samples", "basis_sum", "next_basis_ts",
                 "premium_weighted", "premium_weights", "premium_count", "next_sample_ts", "funding_rate",
                 "next_funding_ts")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.index = 0  # 0 = not yet known
        self.mark = 0
        self.last = 0
        self.basis_samples: deque[int] = deque()  # (bid + ask - 2 * index): half-ticks
        self.basis_sum = 0
        self.next_basis_ts = 0
        self.premium_weighted = 0  # sum of weight * premium_e8
        self.premium_weights = 0
        self.premium_count = 0
        self.next_sample_ts = 0
        self.funding_rate = 0  # last settled rate, e8
        self.next_funding_ts = 0

    def state(self) -> tuple:
        return (self.symbol, self.index, self.mark, self.last, list(self.basis_samples), self.basis_sum,
                self.next_basis_ts, self.premium_weighted, self.premium_weights, self.premium_count,
                self.next_sample_ts, self.funding_rate, self.next_funding_ts)

    @classmethod
    def from_state(cls, s: tuple) -> Market:
        m = cls(s[0])
        (m.index, m.mark, m.last, samples, m.basis_sum, m.next_basis_ts, m.premium_weighted,
         m.premium_weights, m.premium_count, m.next_sample_ts, m.funding_rate, m.next_funding_ts) = s[1:]
        m.basis_samples = deque(samples)
        return m
