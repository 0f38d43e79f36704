"""The simulated index feed: seeded geometric Brownian motion with Poisson jumps and scripted shocks."""

from __future__ import annotations

import math
import random

from ..core.instruments import Instrument
from .scenario import FeedSpec, ShockSpec

SECONDS_PER_YEAR = 365 * 24 * 3600


class IndexFeed:
    """Next index price (integer ticks) of one symbol every `interval_s` of virtual time."""

    def __init__(self, spec: FeedSpec, inst: Instrument, shocks: list[ShockSpec], rng: random.Random) -> None:
        self.spec = spec
        self.inst = inst
        self.rng = rng
        self.price = float(inst.price_to_ticks(spec.initial))
        self.interval_ns = int(spec.interval_s * 1e9)
        self.shocks = shocks
        dt = spec.interval_s / SECONDS_PER_YEAR
        self.sigma = spec.vol_annual * math.sqrt(dt)
        self.jump_p = spec.jump_rate_per_hour * spec.interval_s / 3600

    def step(self, now_ns: int) -> int:
        """Advance one interval ending at now_ns and return the index in ticks."""
        rng = self.rng
        log_ret = self.sigma * rng.gauss(0.0, 1.0) - self.sigma * self.sigma / 2
        if self.jump_p and rng.random() < self.jump_p:
            log_ret += rng.gauss(0.0, self.spec.jump_sigma)
        t = now_ns / 1e9
        for s in self.shocks:
            if s.at_s < t <= s.at_s + s.over_s:
                steps = max(1.0, s.over_s / self.spec.interval_s)
                log_ret += math.log1p(s.change) / steps
        self.price *= math.exp(log_ret)
        lo, hi = self.inst.min_price_ticks, self.inst.max_price_ticks
        return min(hi, max(lo, round(self.price)))
