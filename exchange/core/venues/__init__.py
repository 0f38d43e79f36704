"""Venue profiles: the rules of Bybit, OKX, Hyperliquid and dYdX v4 as choices of the seams in `rules.py`
(Binance's are the defaults), built from a profile's `[venue]` table (configs/venues/, docs/venues.md)."""

from .profile import SWITCHES, build_venue

__all__ = ["SWITCHES", "build_venue"]
