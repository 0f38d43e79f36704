"""Index-price feeds: plug-ins that produce IndexPrice commands; they never touch the core.

A source gives the base price after each step of `interval_s` clock seconds: `StaticSource` (a level
an admin may set), `GBMJumpSource` (seeded geometric Brownian motion with Poisson jumps) or
`CSVSource` (replay of `t_seconds,price` rows, holding the last). An `IndexDriver` multiplies the
base by scripted shocks ("at t move by x% over d seconds", linear ramp, then held) and by the
factor of the last admin `set_index`, and rounds to the instrument's tick.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from ..core.instruments import Instrument

SECONDS_PER_YEAR = 365 * 24 * 3600


class FeedSource(Protocol):
    def price(self, t: float) -> float | None:
        """The base index price at clock second t (t grows by one interval per call), None if unknown."""


class StaticSource:
    def __init__(self, price: float | None = None) -> None:
        self.level = price

    def price(self, t: float) -> float | None:
        return self.level


class GBMJumpSource:
    """dS/S = mu dt + sigma dW, times exp(J) at Poisson(jump_rate) jump times, J ~ N(jump_mean, jump_std)."""

    def __init__(self, start: float, seed: int = 1, volatility: float = 0.8, drift: float = 0.0,
                 jumps_per_hour: float = 0.0, jump_mean: float = 0.0, jump_std: float = 0.02) -> None:
        self.level = start
        self.rng = random.Random(seed)
        self.sigma = volatility
        self.mu = drift
        self.jump_rate = jumps_per_hour / 3600.0
        self.jump_mean = jump_mean
        self.jump_std = jump_std
        self.t = 0.0

    def price(self, t: float) -> float:
        dt_s = t - self.t
        if dt_s > 0:
            self.t = t
            dt = dt_s / SECONDS_PER_YEAR
            rng = self.rng
            x = (self.mu - self.sigma ** 2 / 2) * dt + self.sigma * math.sqrt(dt) * rng.gauss(0.0, 1.0)
            if self.jump_rate and rng.random() < 1 - math.exp(-self.jump_rate * dt_s):
                x += rng.gauss(self.jump_mean, self.jump_std)
            self.level *= math.exp(x)
        return self.level


class CSVSource:
    """Rows `t_seconds,price` (header optional), replayed by time; holds the last price."""

    def __init__(self, path: str | Path) -> None:
        rows: list[tuple[float, float]] = []
        with open(path, newline="") as fh:
            for row in csv.reader(fh):
                if not row or not row[0].strip() or row[0].strip().startswith("#"):
                    continue
                try:
                    rows.append((float(row[0]), float(row[1])))
                except ValueError:
                    if rows:
                        raise ValueError(f"{path}: bad row {row!r}") from None  # only a header may not parse
        if not rows:
            raise ValueError(f"{path}: no price rows")
        self.rows = sorted(rows)
        self.i = 0

    def price(self, t: float) -> float:
        rows = self.rows
        while self.i + 1 < len(rows) and rows[self.i + 1][0] <= t:
            self.i += 1
        return rows[self.i][1]


@dataclass(frozen=True, slots=True)
class Shock:
    at_s: float
    pct: float
    over_s: float

    def factor(self, t: float) -> float:
        if t <= self.at_s:
            return 1.0
        done = 1.0 if self.over_s <= 0 else min(1.0, (t - self.at_s) / self.over_s)
        return 1.0 + self.pct / 100.0 * done


class IndexDriver:
    """Base source x shocks x admin factor, in ticks of one instrument."""

    def __init__(self, inst: Instrument, source: FeedSource, interval_s: float = 1.0,
                 shocks: tuple[Shock, ...] = ()) -> None:
        if not interval_s > 0:
            raise ValueError(f"{inst.symbol}: feed interval {interval_s} must be positive")
        self.inst = inst
        self.source = source
        self.interval_s = interval_s
        self.shocks = list(shocks)
        self.factor = 1.0
        self.t = 0.0
        self.base: float | None = None

    def step(self, dt: float | None = None) -> int | None:
        """Advance dt clock seconds (default: one interval); the index in ticks (>= 1), or None while
        the price is unknown."""
        self.t += self.interval_s if dt is None else dt
        return self.ticks_at(self.t)

    def ticks_at(self, t: float) -> int | None:
        self.base = self.source.price(t)
        if self.base is None:
            return None
        price = self.base * self.factor
        for shock in self.shocks:
            price *= shock.factor(t)
        return max(1, round(price / float(self.inst.tick_size)))

    def set_price(self, ticks: int) -> None:
        """Make the current index `ticks` (an admin override); the source's moves apply from there."""
        price = ticks * float(self.inst.tick_size)
        if self.base is None:
            self.source = StaticSource(price)
            self.base = price
        shocked = self.base
        for shock in self.shocks:
            shocked *= shock.factor(self.t)
        self.factor = price / shocked

    def shock(self, pct: float, over_s: float) -> None:
        """Move the index by pct % over the next over_s clock seconds."""
        self.shocks.append(Shock(self.t, pct, over_s))


def driver_from_config(inst: Instrument, cfg: dict[str, Any], base_dir: Path) -> IndexDriver:
    """[feeds.SYMBOL]: kind = static | gbm | csv, price, interval_s, seed, volatility, drift,
    jumps_per_hour, jump_mean, jump_std, path, shocks = [{at_s, pct, over_s}]."""
    kind = cfg.get("kind", "static")
    start = float(Decimal(str(cfg["price"]))) if "price" in cfg else None
    if kind == "static":
        source: FeedSource = StaticSource(start)
    elif kind == "gbm":
        if start is None:
            raise ValueError(f"feed {inst.symbol}: a gbm feed needs a start price")
        source = GBMJumpSource(start, int(cfg.get("seed", 1)), float(cfg.get("volatility", 0.8)),
                               float(cfg.get("drift", 0.0)), float(cfg.get("jumps_per_hour", 0.0)),
                               float(cfg.get("jump_mean", 0.0)), float(cfg.get("jump_std", 0.02)))
    elif kind == "csv":
        source = CSVSource(base_dir / cfg["path"])
    else:
        raise ValueError(f"feed {inst.symbol}: kind {kind!r} is not static, gbm or csv")
    shocks = tuple(Shock(float(s["at_s"]), float(s["pct"]), float(s.get("over_s", 0))) for s in cfg.get("shocks", ()))
    return IndexDriver(inst, source, float(cfg.get("interval_s", 1.0)), shocks)
