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
    from .errors import InputError, ScenarioError
    from .results import Comparison, SimulationResult
    from .runner import compare, simulate
    from .scenario import Scenario, diff, from_dict, json_schema, load

# The public API is imported on first use: a batch worker process that only executes a notebook
# (`python -m simlib.execution`) then starts without pandas and pydantic.
_WHERE = {
    "InputError": "errors",
    "ScenarioError": "errors",
    "Comparison": "results",
    "SimulationResult": "results",
    "compare": "runner",
    "simulate": "runner",
    "Scenario": "scenario",
    "diff": "scenario",
    "from_dict": "scenario",
    "json_schema": "scenario",
    "load": "scenario",
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
