"""Scenarios as TOML files: instruments, index feeds (with their scripted shocks), agents, duration, seed.

A scenario names an exchange config (`config`, default configs/default.toml) and may layer
`[instruments.SYMBOL]` tables over it (merged field by field: see exchange/config.py). An agent group
names a library kind (`kind = "crowd"`) or a class by import path (`agent = "mypkg.bots:MyBot"`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import CONFIG_DIR, DEFAULT_CONFIG, ExchangeConfig, layer, load_config_data, parse_config, with_venue
from .feed import FeedSpec, Shock, parse_feed

SCENARIO_DIR = CONFIG_DIR / "scenarios"


@dataclass(frozen=True)
class AgentSpec:
    """One `[[agents]]` entry: `count` agents of `kind` (or of the class at import path `agent`),
    each built with `params`."""

    kind: str
    count: int
    params: dict[str, Any] = field(default_factory=dict)
    symbol: str = ""
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    agent: str = ""  # "package.module:Class"; empty: the library class of `kind`


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    duration_s: float
    config: ExchangeConfig
    feeds: tuple[FeedSpec, ...]
    agents: tuple[AgentSpec, ...]
    description: str = ""
    insurance_fund_cash: int = 0
    data: dict[str, Any] = field(default_factory=dict, compare=False)  # the TOML tables it was parsed from
    base: Path = SCENARIO_DIR  # the directory its relative paths start from

    def with_seed(self, seed: int) -> Scenario:
        return replace(self, seed=seed)

    def with_venue(self, venue: str) -> Scenario:
        """The same scenario under another venue profile (configs/venues/VENUE.toml)."""
        data = {**self.data, "venue": venue}
        return replace(self, config=parse_scenario(data, self.base).config, data=data)

    def with_crowd_mode(self, mode: str) -> Scenario:
        """The same scenario with every crowd agent forced to one margin mode."""
        agents = tuple(replace(a, params={**a.params, "margin_mode": mode}) if a.kind == "crowd" else a
                       for a in self.agents)
        return replace(self, agents=agents)

    @property
    def shocks(self) -> list[tuple[str, Shock]]:
        """(symbol, shock) of every feed's scripted shocks, in time order."""
        return sorted(((f.symbol, s) for f in self.feeds for s in f.shocks), key=lambda x: x[1].at_s)

    @property
    def agent_count(self) -> int:
        return sum(a.count for a in self.agents)


def resolve(name_or_path: str) -> Path:
    """A scenario name (configs/scenarios/NAME.toml) or a path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return path
    candidate = SCENARIO_DIR / f"{name_or_path}.toml"
    if candidate.exists():
        return candidate
    known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))
    raise FileNotFoundError(f"no scenario {name_or_path!r}: give a .toml path or one of: {known}")


def load_scenario_data(name_or_path: str) -> tuple[dict[str, Any], Path]:
    """A scenario file's tables (its name defaulting to the file's stem) and its directory."""
    path = resolve(name_or_path)
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return {"name": path.stem, **data}, path.parent.resolve()


def load_scenario(name_or_path: str) -> Scenario:
    data, base = load_scenario_data(name_or_path)
    return parse_scenario(data, base)


def parse_scenario(data: dict[str, Any], base: Path = SCENARIO_DIR, default_name: str = "scenario") -> Scenario:
    config_path = Path(data.get("config", DEFAULT_CONFIG))
    if not config_path.is_absolute():
        config_path = (base / config_path) if (base / config_path).exists() else CONFIG_DIR / config_path
    merged = load_config_data(config_path)
    if "venue" in data:
        merged = with_venue(merged, data["venue"])
    config = parse_config(layer(merged, {"instruments": data.get("instruments", {})}))
    symbols = data.get("symbols")
    if symbols:
        unknown = set(symbols) - {i.symbol for i in config.instruments}
        if unknown:
            raise ValueError(f"scenario symbols {sorted(unknown)} are not in {config_path}")
        config = replace(config, instruments=tuple(i for i in config.instruments if i.symbol in symbols))
    if "shocks" in data:
        raise ValueError("scripted shocks belong to their feed: [[shocks]] {symbol, at_s, change, over_s} is now "
                         "[feed.SYMBOL] shocks = [{at_s, pct, over_s}] (change -0.07 is pct -7)")
    feeds = tuple(parse_feed(sym, spec, base) for sym, spec in data.get("feed", {}).items())
    if {f.symbol for f in feeds} != {i.symbol for i in config.instruments}:
        raise ValueError("the scenario needs one [feed.SYMBOL] table per instrument")
    if any(f.kind == "static" and f.price is None for f in feeds):
        raise ValueError("a static scenario feed needs a price")
    agents = tuple(AgentSpec(**{"kind": "", **a}) for a in data.get("agents", []))
    insurance = config.initial_insurance_fund_cash
    if "insurance_fund_usdt" in data:
        insurance = int(float(data["insurance_fund_usdt"]) * 1_000_000)
    return Scenario(name=str(data.get("name", default_name)), seed=int(data.get("seed", 1)),
                    duration_s=float(data.get("duration_s", 600)), config=config, feeds=feeds,
                    agents=agents, description=str(data.get("description", "")), insurance_fund_cash=insurance,
                    data=data, base=Path(base))
