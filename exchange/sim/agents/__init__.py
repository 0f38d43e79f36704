"""The agent library: each kind parameterized by its scenario entry and seeded by the shell."""

from __future__ import annotations

from ..agent import Agent
from .arbitrageur import BasisArbitrageur
from .crowd import RetailCrowd
from .hunter import LiquidationHunter
from .market_maker import MarketMaker
from .momentum import MomentumTrader
from .noise import NoiseTaker
from .whale import Whale

AGENT_KINDS: dict[str, type[Agent]] = {
    cls.kind: cls
    for cls in (MarketMaker, NoiseTaker, MomentumTrader, RetailCrowd, BasisArbitrageur, LiquidationHunter, Whale)
}

__all__ = ["AGENT_KINDS", "BasisArbitrageur", "LiquidationHunter", "MarketMaker", "MomentumTrader", "NoiseTaker",
           "RetailCrowd", "Whale"]
