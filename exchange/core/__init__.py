"""The deterministic, I/O-free exchange core. `Exchange.apply(envelope) -> events` is the only mutator.

The public surface: the Exchange and what builds it (instruments, venue rules), the commands it takes,
the events it returns, the rejection codes, and the read-only views (`views`) the shells answer
queries from. The components behind it (docs/architecture.md, "The core") are its own business.
"""

from . import commands, events, views
from .commands import Command, Envelope
from .engine import INSTRUMENT_PARAMS, MAX_CASH, Exchange
from .errors import Reject
from .events import Event
from .instruments import Bracket, Instrument
from .rules import BINANCE, Venue

__all__ = ["BINANCE", "INSTRUMENT_PARAMS", "MAX_CASH", "Bracket", "Command", "Envelope", "Event", "Exchange",
           "Instrument", "Reject", "Venue", "commands", "events", "views"]
