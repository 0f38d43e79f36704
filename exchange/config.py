"""Load exchange configuration from TOML files (decimal strings at the edge, integers inside).

Files layer: a file with `base = "other.toml"` starts from that file (relative to its own directory)
and its tables are merged over it, key by key (`layer`): an `[instruments.X]` table adds instrument
X or changes only the fields it names, and every other instrument stays.

A file with `venue = "bybit"` puts that venue profile (configs/venues/bybit.toml: its `[venue_rules]` and
its instruments' tiers, fees and funding) between its base and itself (docs/venues.md).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .core.collateral import Asset, asset_from_config
from .core.instruments import Instrument, instrument_from_config
from .core.money import cash_from_str
from .core.rules import BINANCE, Venue
from .core.venues import build_venue

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "default.toml"
VENUE_DIR = CONFIG_DIR / "venues"
MAX_BASE_DEPTH = 8


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    instruments: tuple[Instrument, ...]
    initial_insurance_fund_cash: int
    raw: dict[str, Any]
    venue: Venue = BINANCE
    assets: tuple[Asset, ...] = ()  # collateral besides the settlement cash ([collateral.NAME] tables)


def venue_names() -> list[str]:
    return sorted(p.stem for p in VENUE_DIR.glob("*.toml"))


def venue_profile(name: str) -> dict[str, Any]:
    """The tables of configs/venues/NAME.toml (a `[venue_rules]` table, instrument tables)."""
    if not isinstance(name, str) or name not in venue_names():
        raise ValueError(f"unknown venue {name!r}: one of {venue_names()}")
    with open(VENUE_DIR / f"{name}.toml", "rb") as fh:
        data = tomllib.load(fh)
    if "venue_rules" not in data:
        raise ValueError(f"venue profile {name}.toml has no [venue_rules] table")
    return data


def with_venue(base: dict[str, Any], name: str) -> dict[str, Any]:
    """`base` with the venue profile `name` layered over it (and named in `venue`)."""
    profile = venue_profile(name)
    return {**layer(base, profile), "venue": name, "venue_rules": profile["venue_rules"]}


def layer(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` merged into a copy of `base`: tables merge key by key, any other value replaces."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        out[key] = layer(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def parse_config(data: dict[str, Any]) -> ExchangeConfig:
    instruments = tuple(instrument_from_config(sym, cfg) for sym, cfg in data.get("instruments", {}).items())
    if not instruments:
        raise ValueError("configuration defines no instruments")
    ex = data.get("exchange", {})
    rules = data.get("venue_rules")
    venue = build_venue(rules, instruments, data.get("instruments", {})) if rules else BINANCE
    symbols = [i.symbol for i in instruments]
    assets = tuple(asset_from_config(name, cfg, symbols) for name, cfg in data.get("collateral", {}).items())
    return ExchangeConfig(instruments, cash_from_str(ex.get("initial_insurance_fund", "0")), data, venue, assets)


def load_config_data(path: str | Path) -> dict[str, Any]:
    """A config file's tables with its `base` chain layered underneath (the `base` key removed)."""
    path = Path(path)
    chain: list[dict[str, Any]] = []
    for _ in range(MAX_BASE_DEPTH):
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        base = data.pop("base", None)
        chain.append(data)
        if base is None:
            break
        path = path.parent / str(base)
    else:
        raise ValueError(f"config base chain deeper than {MAX_BASE_DEPTH} files (a loop?)")
    merged: dict[str, Any] = {}
    for data in reversed(chain):
        if "venue" in data:
            merged = with_venue(merged, data["venue"])
        merged = layer(merged, data)
    return merged


def load_config(path: str | Path = DEFAULT_CONFIG) -> ExchangeConfig:
    return parse_config(load_config_data(path))
