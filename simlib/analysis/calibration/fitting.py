"""What every fit of the calibration shares: an estimate with its 95% interval, standard errors from
the observed information (a numerical Hessian), the base scenario held at its medians, and how many
customers a fit simulates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from simlib.errors import InputError
from simlib.model.distributions import SCALAR_DISTRIBUTIONS
from simlib.scenario.scenario import Scenario
from simlib.scenario.uncertainty import block_medians

Z_95 = 1.959963984540054
"""Standard normal quantile of 97.5%: 95% intervals are estimate · exp(±Z_95 · SE / estimate)."""

LOG_BOUND = 12.0
"""The sBG fit searches log α, log β in [−12, 12]; an estimate on that edge is not identified."""
HESSIAN_STEP = 1e-3
_FLAT = 1e-8
"""A Hessian eigenvalue below this share of the largest counts as a flat likelihood (not identified)."""
MAX_ROUNDS = 5
"""Rounds of simulation a fit net of behaviour may take to settle."""
SETTLED = 0.1
"""A fit has settled when its estimates move less than this many standard errors (Mahalanobis)."""
_CUSTOMERS_PER_OBSERVED = 4
_MIN_CUSTOMERS, _MAX_CUSTOMERS = 20_000, 200_000


def simulated_customers(observed: float) -> int:
    """Customers a fit simulates for a history of ``observed`` customers: four per observed one, so
    simulation noise stays well below the history's own, within 20,000–200,000."""
    return int(np.clip(_CUSTOMERS_PER_OBSERVED * observed, _MIN_CUSTOMERS, _MAX_CUSTOMERS))


@dataclass(frozen=True)
class Estimate:
    """One fitted scenario parameter.

    Attributes
    ----------
    parameter : key path in the scenario (segments by name, as ``with_changes`` accepts it).
    estimate, std_error : maximum-likelihood estimate and its standard error, in ``unit``.
    unit : the parameter's unit from the schema.
    n : what the fit counted: customers (retention), exposed customer-months (complaints),
        customer-months (fee change).
    log_likelihood : of the fit the estimate came from (shared by the parameters fitted together).
    source : the history file.
    method : what was fitted.
    low, high : the parameter's valid range, used to truncate its normal distribution.
    """

    parameter: str
    estimate: float
    std_error: float
    unit: str
    n: int
    log_likelihood: float
    source: str
    method: str
    low: float = 0.0
    high: float | None = None

    @property
    def interval(self) -> tuple[float, float]:
        """95% interval, symmetric on the log scale (all fitted parameters are positive)."""
        spread = np.exp(Z_95 * self.std_error / self.estimate)
        return self.estimate / spread, self.estimate * spread


def unit_of(model: type, name: str) -> str:
    """The unit of field ``name`` of ``model``, as the schema states it."""
    return str(model.model_fields[name].json_schema_extra["unit"])


def numerical_hessian(function: Callable[[np.ndarray], float], x: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Central second differences of ``function`` at ``x`` with per-coordinate ``step``."""
    size = len(x)
    out = np.empty((size, size))
    centre = function(x)
    basis = np.eye(size) * step
    for i in range(size):
        for j in range(i, size):
            if i == j:
                out[i, i] = (function(x + basis[i]) - 2 * centre + function(x - basis[i])) / step[i] ** 2
            else:
                out[i, j] = out[j, i] = (
                    function(x + basis[i] + basis[j])
                    - function(x + basis[i] - basis[j])
                    - function(x - basis[i] + basis[j])
                    + function(x - basis[i] - basis[j])
                ) / (4 * step[i] * step[j])
    return out


def log_scale_covariance(hessian: np.ndarray, estimate: np.ndarray, what: str) -> np.ndarray:
    """Covariance of parameters fitted on the log scale, by the delta method: J H⁻¹ J, J = diag(θ)."""
    eigenvalues = np.linalg.eigvalsh(hessian)
    if not eigenvalues.min() > _FLAT * abs(eigenvalues).max():
        raise InputError(
            f"{what}: the likelihood is flat in some direction at the estimate; the history does not "
            "identify the parameters"
        )
    return np.linalg.inv(hessian) * np.outer(estimate, estimate)


def point_scenario(base: Scenario) -> Scenario:
    """The base with every parameter given as a distribution held at the distribution's median,
    and every jointly uncertain parameter at its marginal median (the joint blocks removed)."""
    medians: dict[str, Any] = {}
    if base.model.joint_uncertainty:
        medians = {**block_medians(base.model), "joint_uncertainty": []}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, SCALAR_DISTRIBUTIONS):
            medians[path] = float(value.quantile(0.5))
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")
        elif hasattr(type(value), "model_fields"):
            for name in type(value).model_fields:
                walk(getattr(value, name), f"{path}.{name}" if path else name)

    walk(base.model, "")
    return base.with_changes(medians, origin="calibration (median)") if medians else base
