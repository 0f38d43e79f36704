"""liquidex: a perpetual-futures exchange simulator that liquidates for real."""

from .config import DEFAULT_CONFIG, ExchangeConfig, load_config
from .core import Exchange

__all__ = ["DEFAULT_CONFIG", "Exchange", "ExchangeConfig", "load_config"]
