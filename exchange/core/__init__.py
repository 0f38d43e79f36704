"""The deterministic, I/O-free exchange core. `Exchange.apply(envelope) -> events` is the only mutator."""

from . import commands, events
from .engine import Exchange
from .errors import Reject
from .instruments import Bracket, Instrument

__all__ = ["Bracket", "Exchange", "Instrument", "Reject", "commands", "events"]
