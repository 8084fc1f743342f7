"""A fee change: ``loss_aversion`` (the churn spike after a rise) and ``price_sensitivity`` fitted to a
monthly churn history around one rise, with the engine itself (a quadratic surrogate of simulated
churn, refitted until the estimates settle)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special

from simlib.analysis.calibration.fitting import (
    HESSIAN_STEP,
    MAX_ROUNDS,
    Z_95,
    log_scale_covariance,
    numerical_hessian,
    point_scenario,
    simulated_customers,
)
from simlib.analysis.calibration.history import FeeChangeHistory
from simlib.errors import InputError
from simlib.model.counts import INDEX
from simlib.run.runner import simulate
from simlib.scenario.scenario import Scenario

FEE_CHANGE_PARAMETERS = ("price_sensitivity", "loss_aversion")
"""The ``behaviour`` parameters a fee-change history can identify."""


@dataclass(frozen=True)
class FeeChangeFit:
    """Maximum-likelihood behaviour parameters from a fee-change history.

    Attributes
    ----------
    history : the data.
    parameters : the ``behaviour`` parameters fitted (from :data:`FEE_CHANGE_PARAMETERS`).
    estimate : their estimates, in that order (units as in the schema: price sensitivity in hazard
        per relative excess of price over willingness to pay, loss aversion as a ratio).
    covariance : their covariance, inflated for simulation noise.
    log_likelihood : binomial log-likelihood of the monthly churn counts at the estimate.
    churn : the model's monthly churn rate at the estimate (share/month, one per history month).
    customers : initial customers simulated per evaluation.
    seed : the simulation seed (common random numbers across evaluations).
    rounds : simulation designs used to locate the maximum.
    """

    history: FeeChangeHistory
    parameters: tuple[str, ...]
    estimate: np.ndarray
    covariance: np.ndarray
    log_likelihood: float
    churn: np.ndarray
    customers: int
    seed: int
    rounds: int

    @property
    def values(self) -> dict[str, float]:
        """Estimate per parameter."""
        return dict(zip(self.parameters, map(float, self.estimate), strict=True))

    @property
    def std_errors(self) -> dict[str, float]:
        """Standard error per parameter."""
        return dict(zip(self.parameters, map(float, np.sqrt(np.diag(self.covariance))), strict=True))

    def plot(self, ax: Any) -> Any:
        """Monthly churn around the fee change: observed with 95% binomial bars, and fitted."""
        history = self.history
        observed = history.churned / history.active
        spread = Z_95 * np.sqrt(observed * (1.0 - observed) / history.active)
        ax.errorbar(history.month, observed * 100, yerr=spread * 100, fmt="o", markersize=3, label="observed")
        ax.plot(history.month, self.churn * 100, "k-", label="fitted")
        ax.axvline(history.month[history.change] - 0.5, color="grey", linestyle=":", label="fee change")
        ax.set(
            xlabel="month",
            ylabel="churn (% of active)",
            title=f"Fee {history.old_fee:g} → {history.new_fee:g}, {history.notice_days} days' notice",
        )
        ax.legend(fontsize="small")
        return ax


def _history_scenario(base: Scenario, history: FeeChangeHistory) -> Scenario:
    """The base at the history's old fee, with the history's rise scheduled (other changes dropped)."""
    return point_scenario(base).with_changes(
        {
            "fees.monthly_fee": history.old_fee,
            "fee_changes": [
                {
                    "month": history.change,
                    "notice_days": history.notice_days,
                    "set": {"monthly_fee": history.new_fee},
                }
            ],
        },
        origin="fee-change history",
    )


def _simulated_churn(
    scenario: Scenario, values: dict[str, float], months: int, customers: int, seed: int
) -> tuple[np.ndarray, float]:
    """Monthly churn rate of the whole population with some behaviour parameters changed, and the
    customer-months simulated."""
    changed = scenario.with_changes(
        {f"behaviour.{name}": value for name, value in values.items()}, origin="fee-change fit"
    )
    result = simulate(changed, customers=customers, months=months, replications=1, seed=seed, progress=False)
    counts = result.counts[0].sum(axis=1)
    active = counts[:, INDEX["active"]]
    return counts[:, INDEX["churned"]] / active, float(active.sum())


def _quadratic(z: np.ndarray) -> np.ndarray:
    """Features of a full quadratic in standardised coordinates (one row of ``z`` per point)."""
    pairs = [z[:, i] * z[:, j] for i in range(z.shape[1]) for j in range(i, z.shape[1])]
    return np.column_stack([np.ones(len(z)), z, *pairs])


@dataclass(frozen=True)
class _Surrogate:
    """Each month's simulated churn rate as a quadratic in log θ around ``centre``."""

    centre: np.ndarray
    half: np.ndarray
    coefficients: np.ndarray

    @classmethod
    def simulate(
        cls,
        scenario: Scenario,
        parameters: tuple[str, ...],
        centre: np.ndarray,
        half: np.ndarray,
        months: int,
        customers: int,
        seed: int,
    ) -> tuple[_Surrogate, float]:
        """Fit to a 3^k design (k parameters) of simulations at centre ± half-widths on the log scale;
        also return the mean customer-months per simulation."""
        design = np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=len(parameters))))
        runs = [
            _simulated_churn(
                scenario,
                dict(zip(parameters, np.exp(centre + half * g), strict=True)),
                months,
                customers,
                seed,
            )
            for g in design
        ]
        rates = np.array([rate for rate, _ in runs])
        coefficients = np.linalg.lstsq(_quadratic(design), rates, rcond=None)[0]
        return cls(centre, half, coefficients), float(np.mean([size for _, size in runs]))

    def churn(self, log_theta: np.ndarray) -> np.ndarray:
        z = ((log_theta - self.centre) / self.half)[None, :]
        return np.clip(_quadratic(z)[0] @ self.coefficients, 1e-12, 1.0 - 1e-12)


def _binomial_log_likelihood(history: FeeChangeHistory, churn: np.ndarray) -> float:
    """Σ_m log Binomial(churned_m | active_m, churn_m)."""
    active, churned = history.active, history.churned
    combinations = special.gammaln(active + 1.0) - special.gammaln(churned + 1.0)
    combinations -= special.gammaln(active - churned + 1.0)
    return float(
        np.sum(combinations + special.xlogy(churned, churn) + special.xlog1py(active - churned, -churn))
    )


def fit_fee_change(
    history: FeeChangeHistory,
    base: Scenario,
    *,
    parameters: Sequence[str] = FEE_CHANGE_PARAMETERS,
    seed: int = 0,
    customers: int | None = None,
) -> FeeChangeFit:
    """Fit ``behaviour.price_sensitivity`` and/or ``behaviour.loss_aversion`` to churn around a fee rise.

    Each month's churn is binomial, churned ~ Binomial(active, h_m(θ)), where h_m(θ) is the
    population's churn rate in that month as the project's own engine simulates it: the base
    scenario at the history's old fee, with the rise scheduled at the history's month and notice,
    every parameter but θ held fixed (those given as distributions at their medians). The
    simulations share their random numbers (``seed``), so h_m moves with θ only through the
    customers' decisions. For a likelihood smooth in θ, h_m is simulated on a 3^k design on the log
    scale around the current estimate, a quadratic in log θ is fitted to each month's rate by least
    squares, and the binomial likelihood of that surrogate is maximised; the design is re-centred
    on the estimate with half-widths of two standard errors until the estimate lies inside a design
    matched to its uncertainty. Standard errors come from the numerical Hessian at the optimum,
    inflated by √(1 + observed / simulated customer-months) for the simulation noise in h_m (the
    simulated-maximum-likelihood correction).

    Identification. The spike of churn at the rise and its decay over the next months, as reference
    prices adapt, identify reference_sensitivity × loss_aversion (reference_sensitivity is held
    fixed, so: loss aversion), given price sensitivity. Price sensitivity acts through customers
    whose price exceeds their willingness to pay; in the months before the rise they have largely
    left already, so the pre-change level identifies it only weakly (and only given the baseline
    churn α, β, willingness to pay and attention, held fixed); it also raises the spike, since a
    rise makes customers look at their bill and pushes more of them over their willingness to pay.
    From one history the two are therefore identified jointly, with a strong negative correlation
    (roughly price_sensitivity × loss_aversion² is what the spike pins down): fit both only from a
    large history, or fit ``parameters=("loss_aversion",)`` with price sensitivity held at the
    base's value. A rise announced with long notice moves reference prices before it is felt, and a
    rise within reference_tolerance causes no loss at all: neither identifies loss aversion (the fit
    stops with "the likelihood is flat").

    Parameters
    ----------
    history : from :func:`read_fee_change`.
    base : the policy in force (segments, fees apart from the subscription, behaviour).
    parameters : which of :data:`FEE_CHANGE_PARAMETERS` to fit.
    seed : simulation seed.
    customers : initial customers per simulation; default four times the first month's active
        customers, within 20,000–200,000 (simulation noise then adds a quarter to the variance).

    Raises
    ------
    InputError
        When the history does not identify the parameters, or a parameter is not fittable here.
    """
    parameters = tuple(parameters)
    unknown = [p for p in parameters if p not in FEE_CHANGE_PARAMETERS]
    if unknown or not parameters or len(set(parameters)) < len(parameters):
        raise InputError(
            f"a fee-change history fits some of {', '.join(FEE_CHANGE_PARAMETERS)} "
            f"(got {', '.join(parameters) or 'none'})"
        )
    months = len(history.active)
    observed = float(history.active.sum())
    if customers is None:
        customers = simulated_customers(history.active[0])
    scenario = _history_scenario(base, history)
    centre = np.log([float(getattr(scenario.behaviour, name)) for name in parameters])
    half = np.full(len(parameters), 0.5)
    for rounds in range(1, MAX_ROUNDS + 1):
        surrogate, simulated = _Surrogate.simulate(
            scenario, parameters, centre, half, months, customers, seed
        )

        def negative(log_theta: np.ndarray, surrogate: _Surrogate = surrogate) -> float:
            return -_binomial_log_likelihood(history, surrogate.churn(log_theta))

        lower, upper = centre - 2 * half, centre + 2 * half
        result = optimize.minimize(
            negative, centre, method="L-BFGS-B", bounds=list(zip(lower, upper, strict=True))
        )
        if np.any(np.isclose(result.x, lower) | np.isclose(result.x, upper)):
            centre = result.x  # the maximum lies well beyond the design: move the design there
            continue
        estimate = np.exp(result.x)
        inflation = 1.0 + observed / simulated
        covariance = log_scale_covariance(
            numerical_hessian(negative, result.x, half * HESSIAN_STEP) / inflation,
            estimate,
            f"{history.source}: {' and '.join(parameters)}",
        )
        target = np.clip(2 * np.sqrt(np.diag(covariance)) / estimate, 0.02, 0.5)
        inside = np.all(np.abs(result.x - centre) <= half)
        if inside and np.all((half >= target / 2) & (half <= 2 * target)):
            return FeeChangeFit(
                history,
                parameters,
                estimate,
                covariance,
                -float(result.fun),
                surrogate.churn(result.x),
                customers,
                seed,
                rounds,
            )
        centre, half = result.x, target
    last = ", ".join(f"{name} {value:.3g}" for name, value in zip(parameters, np.exp(centre), strict=True))
    raise InputError(
        f"{history.source}: the fee-change fit did not settle after {MAX_ROUNDS} rounds of simulations "
        f"(last estimate: {last})"
    )
