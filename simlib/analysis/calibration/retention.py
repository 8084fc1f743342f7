"""Retention: the shifted-beta-geometric (sBG) model of a cohort's survival, its maximum-likelihood
fit, and the fit of a segment's ``churn_alpha``, ``churn_beta`` net of the behavioural churn the base
scenario implies (simulated with the engine)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special

from simlib.analysis.calibration.fitting import (
    HESSIAN_STEP,
    LOG_BOUND,
    MAX_ROUNDS,
    SETTLED,
    log_scale_covariance,
    numerical_hessian,
    point_scenario,
    simulated_customers,
)
from simlib.analysis.calibration.history import RetentionHistory
from simlib.errors import InputError
from simlib.model.counts import INDEX
from simlib.model.lifetime import derl
from simlib.run.runner import simulate
from simlib.scenario.scenario import Scenario


def sbg_survival(t: np.ndarray | float, alpha: float, beta: float) -> np.ndarray:
    """Share of a cohort still active after ``t`` periods: S(t) = B(α, β + t) / B(α, β).

    Shifted-beta-geometric model (Fader & Hardie 2007): each customer churns each period with a
    personal probability θ ~ Beta(α, β). ``t`` in whole periods (≥ 0); returns a share.
    """
    t = np.asarray(t, dtype=float)
    return np.exp(special.betaln(alpha, beta + t) - special.betaln(alpha, beta))


def sbg_churn_probability(t: np.ndarray | float, alpha: float, beta: float) -> np.ndarray:
    """Probability that a new customer churns in period ``t`` ≥ 1.

    P(T = t) = B(α + 1, β + t − 1) / B(α, β); ``t`` in whole periods, returns a probability.
    """
    t = np.asarray(t, dtype=float)
    return np.exp(special.betaln(alpha + 1.0, beta + t - 1.0) - special.betaln(alpha, beta))


def sbg_log_likelihood(alpha: float, beta: float, history: RetentionHistory) -> float:
    """Log-likelihood of a retention history under sBG(α, β), right-censoring included.

    Customers who churned in period t contribute log P(T = t); those still active at their cohort's
    last observed period t contribute log S(t).
    """
    periods, deaths = history.deaths()
    last, survivors = history.censored()
    base = special.betaln(alpha, beta)
    died = deaths @ (special.betaln(alpha + 1.0, beta + periods - 1.0) - base)
    return float(died + survivors @ (special.betaln(alpha, beta + last) - base))


def _sbg_gradient(log_params: np.ndarray, history: RetentionHistory) -> np.ndarray:
    """Gradient of the sBG log-likelihood with respect to (log α, log β)."""
    alpha, beta = np.exp(log_params)
    periods, deaths = history.deaths()
    last, survivors = history.censored()
    psi = special.digamma
    common = psi(alpha + beta)
    d_alpha = deaths @ (psi(alpha + 1.0) - psi(alpha + beta + periods) - psi(alpha) + common)
    d_alpha += survivors @ (common - psi(alpha + beta + last))
    d_beta = deaths @ (psi(beta + periods - 1.0) - psi(alpha + beta + periods) - psi(beta) + common)
    d_beta += survivors @ (psi(beta + last) - psi(alpha + beta + last) - psi(beta) + common)
    return np.array([d_alpha * alpha, d_beta * beta])


@dataclass(frozen=True)
class SBGFit:
    """Maximum-likelihood sBG fit of a retention history.

    Attributes
    ----------
    history : the data.
    alpha, beta : estimates (dimensionless).
    covariance : 2 × 2 covariance of (α, β) from the observed information (delta method from the
        log scale the fit works on).
    log_likelihood : at the estimate.
    """

    history: RetentionHistory
    alpha: float
    beta: float
    covariance: np.ndarray
    log_likelihood: float

    @property
    def std_errors(self) -> tuple[float, float]:
        """Standard errors of α and β."""
        return float(np.sqrt(self.covariance[0, 0])), float(np.sqrt(self.covariance[1, 1]))

    def survival(self, t: np.ndarray | float) -> np.ndarray:
        """Fitted share still active after ``t`` periods."""
        return sbg_survival(t, self.alpha, self.beta)

    def derl(self, discount_rate: float, renewals: np.ndarray | float = 0) -> np.ndarray:
        """:func:`derl` at the estimate."""
        return derl(discount_rate, self.alpha, self.beta, renewals)

    def plot(self, ax: Any) -> Any:
        """Observed share active per cohort (markers) and the fitted sBG survival curve (line)."""
        history = self.history
        for index, label in enumerate(history.cohorts):
            mine = history.cohort == index
            ax.plot(
                history.period[mine],
                history.active[mine] / history.active[mine][0],
                "o",
                markersize=3,
                label=f"cohort {label}",
            )
        t = np.arange(int(history.period.max()) + 1)
        ax.plot(t, self.survival(t), "k-", label=f"sBG fit (α = {self.alpha:.3g}, β = {self.beta:.3g})")
        ax.set(xlabel="periods since start", ylabel="share still active", title="Retention")
        ax.legend(fontsize="small")
        return ax


def fit_sbg(history: RetentionHistory) -> SBGFit:
    """Fit sBG(α, β) to a retention history by maximum likelihood (right-censoring included).

    The search runs on (log α, log β) with L-BFGS-B and the analytic gradient, from α = 1 and β set
    to match the first period's churn; standard errors come from a numerical Hessian of the negative
    log-likelihood at the optimum, carried to (α, β) by the delta method.

    Raises
    ------
    InputError
        When the data do not identify the parameters (e.g. no heterogeneity: α, β → ∞).
    """
    periods, deaths = history.deaths()
    first = deaths[periods == 1].sum() / history.starts.sum()
    start = np.log([1.0, (1.0 - first) / first]) if 0 < first < 1 else np.zeros(2)

    def negative(log_params: np.ndarray) -> float:
        return -sbg_log_likelihood(*np.exp(log_params), history)

    result = optimize.minimize(
        negative,
        np.clip(start, -LOG_BOUND + 1, LOG_BOUND - 1),
        jac=lambda x: -_sbg_gradient(x, history),
        method="L-BFGS-B",
        bounds=[(-LOG_BOUND, LOG_BOUND)] * 2,
    )
    if np.any(np.abs(result.x) >= LOG_BOUND - 1e-6):
        raise InputError(
            f"{history.source}: the retention curve does not identify α and β (the fit runs off to "
            f"α = {np.exp(result.x[0]):.3g}, β = {np.exp(result.x[1]):.3g}); longer or larger cohorts needed"
        )
    estimate = np.exp(result.x)
    hessian = numerical_hessian(negative, result.x, np.full(2, HESSIAN_STEP))
    covariance = log_scale_covariance(hessian, estimate, history.source)
    return SBGFit(history, float(estimate[0]), float(estimate[1]), covariance, -float(result.fun))


def cohort_scenario(base: Scenario, segment: str, periods: int) -> Scenario:
    """One cohort of new customers of ``segment`` under the base's policy, as the engine runs it.

    The base at its medians (:func:`point_scenario`) with the tariff of month 0 kept for good (scheduled fee
    changes and adjustment rules dropped), the segment alone (share 1), every customer of tenure 0,
    no arrivals and no warm-up, over ``periods`` months: the situation of a retention history.
    """
    point = point_scenario(base)
    segments = point.as_dict()["population"]["segments"]
    chosen = next(s for s in segments if s["name"] == segment)
    chosen.update(share=1.0, initial_tenure_max_months=0)
    return point.with_changes(
        {
            "population.segments": [chosen],
            "population.arrivals.monthly_rate": 0.0,
            "simulation.warm_up_months": 0,
            "simulation.months": max(int(periods), 1),
            "fee_changes": [],
            "adjustment_rules": [],
        },
        origin="retention history",
    )


@dataclass(frozen=True)
class BehaviouralSurvival:
    """The share of a cohort the scenario's behavioural hazards alone would keep, simulated.

    Attributes
    ----------
    survival : S_B(t) for t = 0 … T periods (S_B(0) = 1), dimensionless.
    log_variance : Greenwood covariance of log S_B(t), t = 1 … T (T × T).
    customers, seed : the simulated cohort's size and seed.
    alpha, beta : the baseline churn the cohort was simulated with.
    """

    survival: np.ndarray
    log_variance: np.ndarray
    customers: int
    seed: int
    alpha: float
    beta: float


def behavioural_survival(
    cohort: Scenario, segment: str, alpha: float, beta: float, customers: int, seed: int
) -> BehaviouralSurvival:
    """Simulate ``cohort`` (from :func:`cohort_scenario`) with baseline churn Beta(α, β) and
    estimate the survival against the behavioural causes alone, treating baseline exits as censoring.

    Per month m, of the n_m customers not leaving for the baseline cause, d_m leave for a
    behavioural one (price, price rise, complaints); S_B(t) = Π_{m<t} (1 − d_m / n_m) (Kaplan–Meier)
    and Var log S_B(t) = Σ_{m<t} d_m / (n_m (n_m − d_m)) (Greenwood). This is unbiased for the
    behavioural survival because the engine's baseline probability p_i is drawn apart from every
    other trait and draw: a customer stays in a month with probability (1 − p_i)·exp(−H_it).
    """
    changed = cohort.with_changes(
        {
            f"population.segments[{segment}].churn_alpha": alpha,
            f"population.segments[{segment}].churn_beta": beta,
        },
        origin="retention fit",
    )
    months = changed.simulation.months
    result = simulate(changed, customers=customers, months=months, replications=1, seed=seed, progress=False)
    counts = result.counts[0].sum(axis=1)
    active = counts[:, INDEX["active"]]
    at_risk = active - counts[:, INDEX["churned_baseline"]]
    behavioural = counts[:, INDEX["churned"]] - counts[:, INDEX["churned_baseline"]]
    safe = np.maximum(at_risk, 1.0)
    kept = np.where(at_risk > 0, 1.0 - behavioural / safe, 1.0)
    survival = np.r_[1.0, np.cumprod(kept)]
    terms = np.where(
        at_risk > behavioural, behavioural / (safe * np.maximum(at_risk - behavioural, 1.0)), 0.0
    )
    cumulative = np.cumsum(terms)
    log_variance = cumulative[np.minimum.outer(np.arange(months), np.arange(months))]
    return BehaviouralSurvival(survival, log_variance, int(customers), int(seed), float(alpha), float(beta))


def retention_log_likelihood(
    alpha: float, beta: float, history: RetentionHistory, behavioural: np.ndarray | None = None
) -> float:
    """Log-likelihood of a retention history when each customer's survival is sBG(α, β) times the
    behavioural survival S_B(t) (``behavioural``, t = 0 … T; None: 1, the plain sBG likelihood).

    S(t) = S_sBG(t) · S_B(t); churn in period t has probability S(t − 1) − S(t)
    = S(t − 1) · (1 − r(t) · S_B(t) / S_B(t − 1)) with r(t) = (β + t − 1)/(α + β + t − 1), the sBG
    retention rate (written so to keep its digits when churn is small).
    """
    if behavioural is None:
        return sbg_log_likelihood(alpha, beta, history)
    periods, deaths = history.deaths()
    last, survivors = history.censored()
    periods, last = periods.astype(int), last.astype(int)
    t = np.arange(len(behavioural), dtype=float)
    log_survival = special.betaln(alpha, beta + t) - special.betaln(alpha, beta) + np.log(behavioural)
    kept = (
        (beta + periods - 1.0)
        / (alpha + beta + periods - 1.0)
        * (behavioural[periods] / behavioural[periods - 1])
    )
    died = deaths @ (log_survival[periods - 1] + np.log1p(-kept))
    return float(died + survivors @ log_survival[last])


@dataclass(frozen=True)
class RetentionFit:
    """sBG baseline churn fitted to a retention history net of the scenario's behavioural churn.

    Attributes
    ----------
    history : the data.
    segment : the segment the history describes.
    alpha, beta : estimates of the segment's ``churn_alpha``, ``churn_beta`` (dimensionless).
    covariance : 2 × 2 covariance of (α, β) (delta method from the log scale, including the
        simulation noise of the behavioural survival); :attr:`log_covariance` is that of (ln α, ln β).
    log_likelihood : at the estimate.
    behavioural : the behavioural survival used (None: no behavioural churn, the plain sBG fit).
    rounds : simulations of the cohort until the estimate settled.
    """

    history: RetentionHistory
    segment: str
    alpha: float
    beta: float
    covariance: np.ndarray
    log_likelihood: float
    behavioural: BehaviouralSurvival | None
    rounds: int

    @property
    def std_errors(self) -> tuple[float, float]:
        """Standard errors of α and β."""
        return float(np.sqrt(self.covariance[0, 0])), float(np.sqrt(self.covariance[1, 1]))

    @property
    def log_covariance(self) -> np.ndarray:
        """Covariance of (ln α, ln β)."""
        return self.covariance / np.outer([self.alpha, self.beta], [self.alpha, self.beta])

    def survival(self, t: np.ndarray | float) -> np.ndarray:
        """Fitted share of a cohort still active after ``t`` whole periods (t ≤ the history's last):
        the sBG baseline times the behavioural survival."""
        t = np.asarray(t)
        factor = 1.0 if self.behavioural is None else self.behavioural.survival[t.astype(int)]
        return sbg_survival(t, self.alpha, self.beta) * factor

    def derl(self, discount_rate: float, renewals: np.ndarray | float = 0) -> np.ndarray:
        """:func:`derl` of the baseline churn alone at the estimate (behavioural churn would shorten it)."""
        return derl(discount_rate, self.alpha, self.beta, renewals)

    def plot(self, ax: Any) -> Any:
        """Observed share active per cohort (markers), the baseline churn's part of the fit (dotted)
        and the fitted survival (solid, drawn last)."""
        history = self.history
        for index, label in enumerate(history.cohorts):
            mine = history.cohort == index
            share = history.active[mine] / history.active[mine][0]
            ax.plot(history.period[mine], share, "o", markersize=3, label=f"cohort {label}")
        t = np.arange(int(history.period.max()) + 1)
        name = f"α = {self.alpha:.3g}, β = {self.beta:.3g}"
        if self.behavioural is not None:
            ax.plot(t, sbg_survival(t, self.alpha, self.beta), "k:", label=f"baseline churn alone ({name})")
        ax.plot(
            t, self.survival(t), "k-", label="fit" if self.behavioural is not None else f"sBG fit ({name})"
        )
        ax.set(xlabel="periods since start", ylabel="share still active", title="Retention")
        ax.legend(fontsize="small")
        return ax


def fit_retention(
    history: RetentionHistory,
    base: Scenario,
    segment: str,
    *,
    seed: int = 0,
    customers: int | None = None,
) -> RetentionFit:
    """Fit a segment's baseline churn Beta(α, β) to a retention history net of the behavioural churn
    (price, price rise, complaints) that the base scenario already implies.

    The engine keeps a customer in a month with probability (1 − p_i)·exp(−H_it), p_i ~ Beta(α, β)
    the baseline churn and H_it the behavioural hazards, drawn independently of p_i; so a cohort's
    survival factorises, S(t) = S_sBG(t | α, β) · S_B(t), where S_B is the survival against the
    behavioural hazards alone. S_B is estimated by simulating a cohort of the segment under the
    base (:func:`cohort_scenario`, :func:`behavioural_survival`), and α, β maximise
    :func:`retention_log_likelihood` with it. The simulation is repeated at the new estimate (same
    seed: common random numbers) until the estimate moves less than a tenth of a standard error.
    With no behavioural churn in the base, S_B = 1 and the fit is :func:`fit_sbg` exactly.

    Standard errors: the observed information of (ln α, ln β) given S_B, plus the simulation noise
    of S_B carried through the estimate (two-step estimator): Cov = H⁻¹ + J V Jᵀ, with J = H⁻¹ ∂²ℓ/∂φ∂g
    the estimate's derivative with respect to g = ln S_B(1 … T) (implicit function theorem, numerical
    second differences) and V the Greenwood covariance of g; carried to (α, β) by the delta method.

    Parameters
    ----------
    history : from :func:`read_retention`.
    base : the policy in force during the history.
    segment : the base's segment the history describes.
    seed : simulation seed.
    customers : simulated cohort size; default four times the customers who started, within
        20,000–200,000.

    Raises
    ------
    InputError
        When the history does not identify α and β, or the estimate does not settle.
    """
    plain = fit_sbg(history)
    periods = int(history.period.max())
    if customers is None:
        customers = simulated_customers(history.starts.sum())
    cohort = cohort_scenario(base, segment, periods)
    estimate = np.array([plain.alpha, plain.beta])
    for rounds in range(1, MAX_ROUNDS + 1):
        simulated = behavioural_survival(cohort, segment, *estimate, customers, seed)
        if np.all(simulated.survival == 1.0):  # nobody left for a behavioural cause: the plain fit
            return RetentionFit(
                history,
                segment,
                plain.alpha,
                plain.beta,
                plain.covariance,
                plain.log_likelihood,
                None,
                rounds,
            )
        survival = simulated.survival

        def negative(log_params: np.ndarray, survival: np.ndarray = survival) -> float:
            return -retention_log_likelihood(*np.exp(log_params), history, survival)

        result = optimize.minimize(
            negative,
            np.log(estimate),
            method="L-BFGS-B",
            bounds=[(-LOG_BOUND, LOG_BOUND)] * 2,
        )
        if np.any(np.abs(result.x) >= LOG_BOUND - 1e-6):
            raise InputError(
                f"{history.source}: net of the behavioural churn, the retention curve does not identify "
                f"α and β (the fit runs off to α = {np.exp(result.x[0]):.3g}, β = {np.exp(result.x[1]):.3g})"
            )
        fitted = np.exp(result.x)
        hessian = numerical_hessian(negative, result.x, np.full(2, HESSIAN_STEP))
        log_covariance = log_scale_covariance(hessian, fitted, history.source) / np.outer(fitted, fitted)
        log_covariance = log_covariance + _behavioural_noise(history, result.x, simulated, hessian)
        moved = np.log(fitted) - np.log(estimate)
        estimate = fitted
        if moved @ np.linalg.solve(log_covariance, moved) < SETTLED**2:
            return RetentionFit(
                history,
                segment,
                float(fitted[0]),
                float(fitted[1]),
                log_covariance * np.outer(fitted, fitted),
                -float(result.fun),
                simulated,
                rounds,
            )
    raise InputError(
        f"{history.source}: the retention fit net of behavioural churn did not settle after {MAX_ROUNDS} "
        f"simulations (last estimate: α = {estimate[0]:.3g}, β = {estimate[1]:.3g})"
    )


def _behavioural_noise(
    history: RetentionHistory, log_params: np.ndarray, simulated: BehaviouralSurvival, hessian: np.ndarray
) -> np.ndarray:
    """J V Jᵀ: the covariance that the simulation noise of ln S_B adds to (ln α, ln β)."""
    log_survival = np.log(simulated.survival)
    step = HESSIAN_STEP

    def likelihood(phi: np.ndarray, g: np.ndarray) -> float:
        return retention_log_likelihood(*np.exp(phi), history, np.exp(np.r_[0.0, g]))

    g = log_survival[1:]
    cross = np.zeros((2, len(g)))
    basis = np.eye(2) * step
    for t in range(len(g)):
        shift = np.zeros(len(g))
        shift[t] = step
        for i in range(2):
            cross[i, t] = (
                likelihood(log_params + basis[i], g + shift)
                - likelihood(log_params + basis[i], g - shift)
                - likelihood(log_params - basis[i], g + shift)
                + likelihood(log_params - basis[i], g - shift)
            ) / (4 * step * step)
    jacobian = np.linalg.solve(hessian, cross)
    return jacobian @ simulated.log_variance @ jacobian.T
