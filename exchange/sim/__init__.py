"""Virtual-time simulation: scenarios (TOML), the discrete-event kernel, runs, reports, compare-margin,
sweeps, cascade forensics, replay and fork."""

from .compare import compare, compare_table
from .forensics import analyze as forensics
from .fork import fork
from .replay import replay
from .runner import Simulation, build, run, run_scenario
from .scenario import Scenario, load_scenario, parse_scenario
from .sweep import Sweep, run_sweep

__all__ = ["Scenario", "Simulation", "Sweep", "build", "compare", "compare_table", "forensics", "fork",
           "load_scenario", "parse_scenario", "replay", "run", "run_scenario", "run_sweep"]
