"""Index-price feeds: one model for scenarios (`[feed.SYMBOL]`) and for `serve` (`[feeds.SYMBOL]`).

A feed table has a `kind`, an update interval, scripted shocks and the parameters of its kind:

    kind = "static"   price (in `serve` optional: the index is then unknown until an admin set_index)
    kind = "gbm"      price, seed, volatility (annualised), drift (annualised), jumps_per_hour,
                      jump_mean and jump_std (of the log jump size)
    kind = "csv"      path: rows `t_seconds,price` (header and `#` comments allowed), relative to the
                      file that names it; replayed by time, holding the last price
    any kind          interval_s (clock seconds between index updates, default 1),
                      shocks = [{ at_s = 120, pct = -8, over_s = 10 }]

A shock moves the index by `pct` % from `at_s`, spread geometrically (evenly in log terms) over
`over_s` seconds (0: at once), then holds; shocks compound. An `IndexFeed` gives the index at clock
second t as the source's base price x the shocks x the factor of the last admin `set_price`, in
integer ticks within the instrument's price range. The feed produces numbers only: the shell (the
virtual-time kernel or the server) turns them into `IndexPrice` commands.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

from ..core.instruments import Instrument

SECONDS_PER_YEAR = 365 * 24 * 3600
GBM_PARAMS = ("price", "seed", "volatility", "drift", "jumps_per_hour", "jump_mean", "jump_std")
KIND_PARAMS: dict[str, tuple[str, ...]] = {"static": ("price",), "gbm": GBM_PARAMS, "csv": ("path",)}
COMMON_PARAMS = ("kind", "interval_s", "shocks")
RENAMED = {"initial": "price", "vol_annual": "volatility", "jump_rate_per_hour": "jumps_per_hour",
           "jump_sigma": "jump_std"}  # the scenario feed's former names
MAX_CSV_ROWS = 10_000_000


@dataclass(frozen=True, slots=True)
class Shock:
    """Move the index by pct % from at_s over over_s clock seconds (geometric ramp), then hold."""

    at_s: float
    pct: float
    over_s: float = 0.0

    def factor(self, t: float) -> float:
        if t <= self.at_s:
            return 1.0
        done = 1.0 if self.over_s <= 0 else min(1.0, (t - self.at_s) / self.over_s)
        return math.exp(math.log1p(self.pct / 100) * done)


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One parsed feed table (see the module docstring); `path` is resolved, `seed` None = the shell's."""

    symbol: str
    kind: str = "static"
    price: str | None = None
    interval_s: float = 1.0
    seed: int | None = None
    volatility: float = 0.6
    drift: float = 0.0
    jumps_per_hour: float = 0.0
    jump_mean: float = 0.0
    jump_std: float = 0.01
    path: Path | None = None
    shocks: tuple[Shock, ...] = ()


def _number(symbol: str, name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"feed {symbol}: {name} must be a number, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"feed {symbol}: {name} = {value} is outside [{lo}, {hi}]")
    return float(value)


def parse_shock(symbol: str, entry: Any) -> Shock:
    if not isinstance(entry, dict) or set(entry) - {"at_s", "pct", "over_s"} or not {"at_s", "pct"} <= set(entry):
        raise ValueError(f"feed {symbol}: a shock is {{at_s, pct, over_s}}, not {entry!r}")
    return Shock(_number(symbol, "shock at_s", entry["at_s"], 0, 1e9),
                 _number(symbol, "shock pct", entry["pct"], -99.999, 1000),
                 _number(symbol, "shock over_s", entry.get("over_s", 0), 0, 1e9))


def parse_feed(symbol: str, table: dict[str, Any], base_dir: Path) -> FeedSpec:
    """Validate one feed table: known kind, only its own parameters, numbers in range."""
    kind = table.get("kind", "static")
    if kind not in KIND_PARAMS:
        raise ValueError(f"feed {symbol}: kind {kind!r} is not one of {', '.join(KIND_PARAMS)}")
    allowed = set(COMMON_PARAMS) | set(KIND_PARAMS[kind])
    for key in table:
        if key in allowed:
            continue
        if key in RENAMED:
            raise ValueError(f"feed {symbol}: {key!r} is now called {RENAMED[key]!r}")
        owner = next((k for k, params in KIND_PARAMS.items() if key in params), None)
        if owner is not None:
            raise ValueError(f"feed {symbol}: {key!r} is a parameter of kind {owner!r}, not {kind!r}")
        raise ValueError(f"feed {symbol}: unknown parameter {key!r} (a {kind} feed takes {', '.join(sorted(allowed))})")
    values: dict[str, Any] = {"symbol": symbol, "kind": kind,
                              "interval_s": _number(symbol, "interval_s", table.get("interval_s", 1.0), 1e-3, 86400)}
    if "price" in table:
        try:
            price = Decimal(str(table["price"]))
        except InvalidOperation:
            raise ValueError(f"feed {symbol}: price {table['price']!r} is not a decimal") from None
        if not price > 0:
            raise ValueError(f"feed {symbol}: price {price} must be positive")
        values["price"] = str(price)
    if kind == "gbm":
        if "price" not in values:
            raise ValueError(f"feed {symbol}: a gbm feed needs a start price")
        if "seed" in table:
            seed = table["seed"]
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise ValueError(f"feed {symbol}: seed must be an integer, not {seed!r}")
            values["seed"] = seed
        for name, lo, hi in (("volatility", 0, 10), ("drift", -10, 10), ("jumps_per_hour", 0, 3600),
                             ("jump_mean", -1, 1), ("jump_std", 0, 1)):
            if name in table:
                values[name] = _number(symbol, name, table[name], lo, hi)
    if kind == "csv":
        if not isinstance(table.get("path"), str):
            raise ValueError(f"feed {symbol}: a csv feed needs a path (t_seconds,price rows)")
        values["path"] = base_dir / table["path"]
    shocks = table.get("shocks", [])
    if not isinstance(shocks, list):
        raise ValueError(f"feed {symbol}: shocks must be a list of {{at_s, pct, over_s}}")
    values["shocks"] = tuple(parse_shock(symbol, s) for s in shocks)
    return FeedSpec(**values)


# -- sources: the base price in (float) ticks at clock second t ------------------------------------
class FeedSource(Protocol):
    def price(self, t: float) -> float | None:
        """The base index in ticks at clock second t (t never decreases), None while unknown."""


class StaticSource:
    def __init__(self, level: float | None = None) -> None:
        self.level = level

    def price(self, t: float) -> float | None:
        return self.level


class GBMJumpSource:
    """dS/S = mu dt + sigma dW, with Poisson(jumps_per_hour) jumps of exp(J), J ~ N(jump_mean, jump_std);
    one draw per step, whatever its length."""

    def __init__(self, start: float, seed: int = 1, volatility: float = 0.6, drift: float = 0.0,
                 jumps_per_hour: float = 0.0, jump_mean: float = 0.0, jump_std: float = 0.01) -> None:
        self.level = start
        self.rng = random.Random(seed)
        self.volatility = volatility
        self.drift = drift
        self.jumps_per_hour = jumps_per_hour
        self.jump_mean = jump_mean
        self.jump_std = jump_std
        self.t = 0.0

    def price(self, t: float) -> float:
        dt_s = t - self.t
        if dt_s > 0:
            self.t = t
            dt = dt_s / SECONDS_PER_YEAR
            rng = self.rng
            s = self.volatility * math.sqrt(dt)
            x = s * rng.gauss(0.0, 1.0) - s * s / 2 + self.drift * dt
            p_jump = self.jumps_per_hour * dt_s / 3600
            if p_jump and rng.random() < p_jump:
                x += rng.gauss(self.jump_mean, self.jump_std)
            self.level *= math.exp(x)
        return self.level


class CSVSource:
    """Rows `t_seconds,price` (a header line and `#` comments allowed), replayed by time; before the
    first row the first price, after the last the last."""

    def __init__(self, path: Path, tick_size: Decimal) -> None:
        rows: list[tuple[float, float]] = []
        with open(path, newline="") as fh:
            for n, row in enumerate(csv.reader(fh), 1):
                if not row or not row[0].strip() or row[0].strip().startswith("#"):
                    continue
                try:
                    t, price = float(row[0]), Decimal(row[1].strip())
                except (ValueError, IndexError, InvalidOperation):
                    if rows:  # only a header may not parse
                        raise ValueError(f"{path}:{n}: bad row {row!r}") from None
                    continue
                if not (math.isfinite(t) and t >= 0 and price.is_finite() and price > 0):
                    raise ValueError(f"{path}:{n}: need t_seconds >= 0 and price > 0, got {row!r}")
                rows.append((t, float(price / tick_size)))
                if len(rows) > MAX_CSV_ROWS:
                    raise ValueError(f"{path}: more than {MAX_CSV_ROWS} rows")
        if not rows:
            raise ValueError(f"{path}: no price rows")
        self.rows = sorted(rows)
        self.i = 0

    def price(self, t: float) -> float:
        rows = self.rows
        while self.i + 1 < len(rows) and rows[self.i + 1][0] <= t:
            self.i += 1
        return rows[self.i][1]


# -- the feed ---------------------------------------------------------------------------------------
class IndexFeed:
    """Base source x shocks x admin factor, in ticks of one instrument, at clock seconds since the start.

    `frozen` (set by a shell, e.g. a paused classroom game) holds the feed where it is: the shell does
    not step it, so its clock, random walk and shock ramps resume from the same point when it thaws."""

    def __init__(self, inst: Instrument, source: FeedSource, interval_s: float = 1.0,
                 shocks: tuple[Shock, ...] = ()) -> None:
        if not interval_s > 0:
            raise ValueError(f"{inst.symbol}: feed interval {interval_s} must be positive")
        self.inst = inst
        self.source = source
        self.interval_s = interval_s
        self.interval_ns = int(interval_s * 1e9)
        self.shocks = list(shocks)
        self.factor = 1.0
        self.t = 0.0
        self.base: float | None = None
        self.frozen = False

    def at(self, t: float) -> int | None:
        """The index in ticks at clock second t (never earlier than the last call), None while unknown."""
        self.t = t
        self.base = self.source.price(t)
        if self.base is None:
            return None
        price = self.base * self.factor
        for shock in self.shocks:
            price *= shock.factor(t)
        return min(self.inst.max_price_ticks, max(self.inst.min_price_ticks, round(price)))

    def step(self, dt: float | None = None) -> int | None:
        """Advance dt clock seconds (default: one interval) and return the index."""
        return self.at(self.t + (self.interval_s if dt is None else dt))

    def set_price(self, ticks: int) -> None:
        """Make the current index `ticks` (an admin override); the source's moves apply from there."""
        if self.base is None:
            self.source = StaticSource(float(ticks))
            self.base = float(ticks)
        shocked = self.base
        for shock in self.shocks:
            shocked *= shock.factor(self.t)
        self.factor = ticks / shocked

    def resume_from(self, ticks: int) -> None:
        """Carry on from a recovered index (a restart): a static or gbm feed continues from that level;
        a csv replay starts over."""
        if not isinstance(self.source, CSVSource):
            self.at(self.t)
            self.set_price(ticks)

    def reseed(self, seed: int) -> None:
        """Draw from `seed` from now on (a gbm feed; the other kinds draw nothing)."""
        if isinstance(self.source, GBMJumpSource):
            self.source.rng.seed(seed)

    def shock(self, pct: float, over_s: float) -> None:
        """Move the index by pct % over the next over_s clock seconds."""
        self.shocks.append(Shock(self.t, pct, over_s))


def build_feed(spec: FeedSpec, inst: Instrument, default_seed: int = 1) -> IndexFeed:
    """The feed of a parsed table; `default_seed` seeds a gbm feed that names no seed."""
    start = float(inst.price_to_ticks(spec.price)) if spec.price is not None else None
    if spec.kind == "gbm":
        assert start is not None  # parse_feed requires it
        source: FeedSource = GBMJumpSource(start, default_seed if spec.seed is None else spec.seed, spec.volatility,
                                           spec.drift, spec.jumps_per_hour, spec.jump_mean, spec.jump_std)
    elif spec.kind == "csv":
        assert spec.path is not None
        source = CSVSource(spec.path, inst.tick_size)
    else:
        source = StaticSource(start)
    return IndexFeed(inst, source, spec.interval_s, spec.shocks)
