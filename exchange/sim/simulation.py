"""A built simulation: the scenario, the exchange, the kernel and its agents, and where it writes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.engine import Exchange
from ..persistence import JournalWriter
from .agent import Agent
from .kernel import Kernel
from .recorder import Recorder
from .scenario import Scenario


@dataclass
class Simulation:
    scenario: Scenario
    exchange: Exchange
    kernel: Kernel
    agents: list[Agent]
    recorder: Recorder
    journal: JournalWriter | None
    out_dir: Path | None
