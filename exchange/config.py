"""Load exchange configuration from TOML files (decimal strings at the edge, integers inside)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .core.instruments import Instrument, instrument_from_config
from .core.money import cash_from_str

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "default.toml"


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    instruments: tuple[Instrument, ...]
    initial_insurance_fund_cash: int
    raw: dict[str, Any]


def parse_config(data: dict[str, Any]) -> ExchangeConfig:
    instruments = tuple(instrument_from_config(sym, cfg) for sym, cfg in data.get("instruments", {}).items())
    if not instruments:
        raise ValueError("configuration defines no instruments")
    ex = data.get("exchange", {})
    return ExchangeConfig(instruments, cash_from_str(ex.get("initial_insurance_fund", "0")), data)


def load_config(path: str | Path = DEFAULT_CONFIG) -> ExchangeConfig:
    with open(path, "rb") as fh:
        return parse_config(tomllib.load(fh))
