"""simlib — what a fee standard does to revenue, churn and complaints, with honest uncertainty.

>>> import simlib
>>> base = simlib.load("scenarios/baseline.yaml")
>>> reform = simlib.load("scenarios/full_transparency.yaml")
>>> comparison = simlib.compare(base, reform, customers=20_000, replications=20)
>>> comparison.summary()
"""

__version__ = "0.1.0"

from .errors import InputError, ScenarioError
from .results import Comparison, SimulationResult
from .runner import compare, simulate
from .scenario import Scenario, diff, from_dict, json_schema, load

__all__ = [
    "Comparison",
    "InputError",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "__version__",
    "compare",
    "diff",
    "from_dict",
    "json_schema",
    "load",
    "simulate",
]
