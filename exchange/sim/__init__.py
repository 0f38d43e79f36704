"""Virtual-time simulation: scenarios (TOML), the discrete-event kernel, runs, reports, compare-margin."""

from .compare import compare, compare_table
from .runner import Simulation, build, run, run_scenario
from .scenario import Scenario, load_scenario, parse_scenario

__all__ = ["Scenario", "Simulation", "build", "compare", "compare_table", "load_scenario", "parse_scenario", "run",
           "run_scenario"]
