"""Load exchange configuration from TOML files (decimal strings at the edge, integers inside).

Files layer: a file with `base = "other.toml"` starts from that file (relative to its own directory)
and its tables are merged over it, key by key (`layer`): an `[instruments.X]` table adds instrument
X or changes only the fields it names, and every other instrument stays.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .core.instruments import Instrument, instrument_from_config
from .core.money import cash_from_str

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "default.toml"
MAX_BASE_DEPTH = 8


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    instruments: tuple[Instrument, ...]
    initial_insurance_fund_cash: int
    raw: dict[str, Any]


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
    return ExchangeConfig(instruments, cash_from_str(ex.get("initial_insurance_fund", "0")), data)


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
        merged = layer(merged, data)
    return merged


def load_config(path: str | Path = DEFAULT_CONFIG) -> ExchangeConfig:
    return parse_config(load_config_data(path))
