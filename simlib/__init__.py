"""simlib — what a fee standard does to revenue, churn and complaints, with honest uncertainty.

>>> import simlib
>>> base = simlib.load("scenarios/baseline.yaml")
>>> reform = simlib.load("scenarios/full_transparency.yaml")
>>> comparison = simlib.compare(base, reform, customers=20_000, replications=20)
>>> comparison.summary()
"""

__version__ = "0.1.0"

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simlib.errors import InputError, ScenarioError
    from simlib.run.results import Comparison, SimulationResult
    from simlib.run.runner import compare, simulate
    from simlib.scenario.describe import diff
    from simlib.scenario.scenario import Scenario, from_dict, json_schema, load

# The public API is imported on first use: a batch worker process that only executes a notebook
# (`python -m simlib.jupyter.execution`) then starts without pandas and pydantic.
_WHERE = {
    "InputError": "errors",
    "ScenarioError": "errors",
    "Comparison": "run.results",
    "SimulationResult": "run.results",
    "compare": "run.runner",
    "simulate": "run.runner",
    "Scenario": "scenario.scenario",
    "diff": "scenario.describe",
    "from_dict": "scenario.scenario",
    "json_schema": "scenario.scenario",
    "load": "scenario.scenario",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'simlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


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
