"""The agent library: each kind parameterized by its scenario entry and seeded by the shell."""

from __future__ import annotations

from importlib import import_module

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


def agent_class(kind: str, path: str = "") -> type[Agent]:
    """The class of an agent group: the one at import path `path` ("package.module:Class"), else the
    library's class of `kind`. ValueError says what is wrong."""
    if not path:
        cls = AGENT_KINDS.get(kind)
        if cls is None:
            raise ValueError(f"unknown agent kind {kind!r}; known: {', '.join(sorted(AGENT_KINDS))}, or give "
                             f"agent = \"package.module:Class\"")
        return cls
    module_name, _, name = path.partition(":")
    if not module_name or not name:
        raise ValueError(f"agent {path!r} is not of the form \"package.module:Class\"")
    try:
        module = import_module(module_name)
    except ImportError as e:
        raise ValueError(f"agent {path!r}: cannot import {module_name!r} ({e}); is it on PYTHONPATH?") from None
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise ValueError(f"agent {path!r}: {module_name} has no Agent subclass named {name!r}")
    return cls


__all__ = ["AGENT_KINDS", "BasisArbitrageur", "LiquidationHunter", "MarketMaker", "MomentumTrader", "NoiseTaker",
           "RetailCrowd", "Whale", "agent_class"]
