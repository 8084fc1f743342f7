"""Calibration: fitting behavioural parameters to a pricing team's own history.

This module owns the step from history to parameters: reading three kinds of history file, fitting
the parameters each one identifies by maximum likelihood with standard errors from the observed
information, and writing the estimates as a scenario fragment (``extends:`` the base) in which every
fitted value is drawn from its estimation uncertainty — parameters fitted together as one
``joint_uncertainty`` block (a multivariate log-normal with the fit's covariance of their logarithms,
so their correlation is kept), the others as single distributions — so that the estimation
uncertainty flows into every simulation run on the fragment (see :meth:`Calibration.to_yaml`).

History files (plain CSV, a header row, one record per row; extra columns are ignored)
------------------------------------------------------------------------------------------
``retention`` — ``cohort,period,active``
    ``cohort``: any label; ``period``: whole periods (months) since the cohort started, 0, 1, 2, …
    without gaps; ``active``: customers of the cohort still active after that many periods (period
    0: everyone who started). Non-increasing within a cohort. Cohorts may stop at different periods
    (the survivors at a cohort's last period are right-censored).
    Fits the target segment's ``churn_alpha`` and ``churn_beta`` (dimensionless), net of the
    behavioural churn the base implies (:func:`fit_retention`).
``complaints`` — ``month,cause,complaints,exposed,intensity[,notice_days]``
    One row per month and cause. ``cause``: ``surprise``, ``billing_error``, ``fee_increase`` or
    ``penalty_fee``; ``complaints``: complaints about that cause that month; ``exposed``: customers
    exposed to it that month (billed more than their usual bill; overcharged; given a fee rise;
    charged a penalty fee); ``intensity``: the mean relative size of the trigger among them (excess
    of the bill over the usual bill as a share of it; 1 for billing errors; the rise as a share of
    the old price; the penalty fee as a share of the monthly bill); optional ``notice_days``: days
    of notice given for a fee rise (``fee_increase`` rows only; empty or absent: none).
    Fits ``behaviour.surprise_complaint_rate``, ``error_complaint_rate``,
    ``fee_increase_complaint_rate``, ``penalty_complaint_rate`` (those with rows).
``fee_change`` — ``month,active,churned,monthly_fee[,notice_days]``
    One row per month; ``month``: consecutive whole numbers (any start); ``active``: customers
    billed that month (joiners included); ``churned``: those who left during it; ``monthly_fee``:
    the subscription in force (currency/month), which rises exactly once, with at least one month
    before; optional ``notice_days``: the notice given for the rise, on the row of the first month
    at the new fee (other rows empty or 0).
    Fits ``behaviour.loss_aversion`` (the spike after the rise) and ``behaviour.price_sensitivity``
    (weakly, and jointly with loss aversion: see :func:`fit_fee_change`) with the engine itself.

Bad files raise :class:`~simlib.errors.InputError` with one line naming the file, the row as a
spreadsheet shows it (header = row 1) and the column.

The base scenario is the policy in force during the history. Its parameters given as distributions
are held at their medians wherever a fit needs a value; each fit holds every parameter it does not
estimate fixed, and its standard errors are conditional on those values. :func:`calibrate` chains
the fits: the retention and fee-change fits use the complaint rates fitted from the same call, and
each other's estimates (alternately, until α and β settle). The correlation between estimates of
one fit (about +0.99 for α and β, strongly negative for price sensitivity and loss aversion) is kept
in the fragment; estimates of different fits are drawn independently.
"""

from __future__ import annotations

import csv
import itertools
import json
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from simlib.errors import InputError, os_problem
from simlib.files import write_atomic
from simlib.model.counts import INDEX
from simlib.model.distributions import SCALAR_DISTRIBUTIONS
from simlib.model.lifetime import derl
from simlib.model.parameters import Behaviour, Segment
from simlib.model.policy import Levers
from simlib.run.runner import simulate
from simlib.scenario.scenario import Scenario
from simlib.scenario.uncertainty import block_medians, resolve

Z_95 = 1.959963984540054
"""Standard normal quantile of 97.5%: 95% intervals are estimate · exp(±Z_95 · SE / estimate)."""

CAUSES: dict[str, str] = {
    "surprise": "surprise_complaint_rate",
    "billing_error": "error_complaint_rate",
    "fee_increase": "fee_increase_complaint_rate",
    "penalty_fee": "penalty_complaint_rate",
}
"""Complaint cause in a history file → the ``behaviour`` parameter it identifies."""

_LOG_BOUND = 12.0
"""The sBG fit searches log α, log β in [−12, 12]; an estimate on that edge is not identified."""
_HESSIAN_STEP = 1e-3
_FLAT = 1e-8
"""A Hessian eigenvalue below this share of the largest counts as a flat likelihood (not identified)."""
FEE_CHANGE_PARAMETERS = ("price_sensitivity", "loss_aversion")
"""The ``behaviour`` parameters a fee-change history can identify."""
_MAX_ROUNDS = 5
MAX_HISTORY_BYTES = 64 * 2**20
"""The largest history CSV file read (64 MiB: millions of rows)."""
_CUSTOMERS_PER_OBSERVED = 4
_MIN_CUSTOMERS, _MAX_CUSTOMERS = 20_000, 200_000


# --------------------------------------------------------------------------- reading CSV files


class _Table:
    """The data rows of a CSV file as text, each with its row number as a spreadsheet shows it."""

    def __init__(self, path: Path, required: Sequence[str], optional: Sequence[str] = ()):
        self.path = path
        try:
            # A device (/dev/zero), a pipe or a huge file is refused before reading: it would never
            # end, or fill the memory.
            info = path.stat()
            if stat.S_ISREG(info.st_mode) and info.st_size > MAX_HISTORY_BYTES:
                raise InputError(
                    f"{path}: is {info.st_size / 2**20:.3g} MiB; a history file may be at most "
                    f"{MAX_HISTORY_BYTES / 2**20:.0f} MiB"
                )
            if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
                raise InputError(
                    f"{path}: not a regular file (a device, pipe or socket cannot be a CSV file)"
                )
            with path.open(encoding="utf-8-sig", newline="") as handle:
                records = list(csv.reader(handle))
        except FileNotFoundError:
            raise InputError(f"{path}: file not found") from None
        except IsADirectoryError:
            raise InputError(f"{path}: is a folder, not a CSV file") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: not a UTF-8 text file") from None
        except csv.Error as exc:
            raise InputError(f"{path}: not a readable CSV file ({exc})") from None
        except (OSError, RuntimeError, MemoryError) as exc:
            raise InputError(f"{path}: cannot be read: {os_problem(exc)}") from None
        if not records or not any(cell.strip() for cell in records[0]):
            raise InputError(
                f"{path}: row 1, column {required[0]!r}: missing (the file is empty; expected the header "
                f"{','.join(required)})"
            )
        header = [cell.strip() for cell in records[0]]
        for name in required:
            if name not in header:
                raise InputError(
                    f"{path}: row 1, column {name!r}: missing (the header has {', '.join(header)})"
                )
        positions = {name: header.index(name) for name in (*required, *optional) if name in header}
        self.rows: list[tuple[int, dict[str, str]]] = []
        for number, record in enumerate(records[1:], start=2):
            if any(cell.strip() for cell in record):
                cells = {name: record[i].strip() if i < len(record) else "" for name, i in positions.items()}
                self.rows.append((number, cells))
        if not self.rows:
            raise InputError(f"{path}: row 2: no data rows below the header")

    def error(self, row: int, column: str, message: str) -> InputError:
        """The one-line error for a cell."""
        return InputError(f"{self.path}: row {row}, column {column!r}: {message}")

    def texts(self, column: str) -> list[str]:
        """The column as non-empty text."""
        out = []
        for row, cells in self.rows:
            if not cells[column]:
                raise self.error(row, column, "empty")
            out.append(cells[column])
        return out

    def numbers(self, column: str, whole: bool = False, blank: float | None = None) -> np.ndarray:
        """The column as numbers; ``blank`` stands for an empty cell (``None``: empty is an error)."""
        out = np.empty(len(self.rows))
        for index, (row, cells) in enumerate(self.rows):
            text = cells.get(column, "")
            if not text and blank is not None:
                out[index] = blank
                continue
            if not text:
                raise self.error(row, column, "empty")
            try:
                value = float(text)
            except ValueError:
                raise self.error(row, column, f"not a number (got {text!r})") from None
            if not np.isfinite(value):
                raise self.error(row, column, f"not a finite number (got {text!r})")
            if whole and not value.is_integer():
                raise self.error(row, column, f"must be a whole number (got {text})")
            out[index] = value
        return out

    def counts(self, column: str, blank: float | None = None) -> np.ndarray:
        """A column of non-negative whole numbers."""
        values = self.numbers(column, whole=True, blank=blank)
        self.require(values >= 0, column, "must not be negative (got {value:g})", values)
        return values

    def require(self, holds: np.ndarray, column: str, message: str, values: np.ndarray) -> None:
        """Raise for the first row where ``holds`` is false; ``{value}`` in the message is its value."""
        bad = np.flatnonzero(~np.asarray(holds, dtype=bool))
        if bad.size:
            index = int(bad[0])
            raise self.error(self.rows[index][0], column, message.format(value=values[index]))

    def row(self, index: int) -> int:
        """The spreadsheet row number of data row ``index``."""
        return self.rows[index][0]


# --------------------------------------------------------------------------- fit results


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


def _unit(model: type, name: str) -> str:
    return str(model.model_fields[name].json_schema_extra["unit"])


def _hessian(function: Callable[[np.ndarray], float], x: np.ndarray, step: np.ndarray) -> np.ndarray:
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


def _log_scale_covariance(hessian: np.ndarray, estimate: np.ndarray, what: str) -> np.ndarray:
    """Covariance of parameters fitted on the log scale, by the delta method: J H⁻¹ J, J = diag(θ)."""
    eigenvalues = np.linalg.eigvalsh(hessian)
    if not eigenvalues.min() > _FLAT * abs(eigenvalues).max():
        raise InputError(
            f"{what}: the likelihood is flat in some direction at the estimate; the history does not "
            "identify the parameters"
        )
    return np.linalg.inv(hessian) * np.outer(estimate, estimate)


# --------------------------------------------------------------------------- retention (sBG)


@dataclass(frozen=True)
class RetentionHistory:
    """Cohort retention counts, sorted by cohort and period.

    Attributes
    ----------
    source : the file read.
    cohorts : cohort labels in file order.
    cohort, period, active : one entry per (cohort, period): the cohort's index in ``cohorts``,
        periods since its start, customers still active.
    """

    source: str
    cohorts: tuple[str, ...]
    cohort: np.ndarray
    period: np.ndarray
    active: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        """Customers who started, per cohort."""
        return self.active[self.period == 0]

    def deaths(self) -> tuple[np.ndarray, np.ndarray]:
        """(period t ≥ 1, customers who churned in period t), over all cohorts."""
        later = self.period > 0
        return self.period[later], self.active[np.flatnonzero(later) - 1] - self.active[later]

    def censored(self) -> tuple[np.ndarray, np.ndarray]:
        """(last observed period, customers still active then), per cohort."""
        last = np.r_[self.cohort[1:] != self.cohort[:-1], True]
        return self.period[last], self.active[last]


def read_retention(path: str | Path) -> RetentionHistory:
    """Read a ``cohort,period,active`` retention file (see the module docstring).

    Raises
    ------
    InputError
        One line naming the file, the row and the column of the first problem.
    """
    path = Path(path)
    table = _Table(path, ("cohort", "period", "active"))
    labels = table.texts("cohort")
    period = table.counts("period")
    active = table.counts("active")
    cohorts = tuple(dict.fromkeys(labels))
    cohort = np.asarray([cohorts.index(label) for label in labels])
    order = np.lexsort((period, cohort))
    cohort, period, active = cohort[order], period[order], active[order]
    rows = np.asarray([table.row(i) for i in order])
    same = np.r_[False, cohort[1:] == cohort[:-1]]
    for index in range(len(order)):
        where = (rows[index], "period")
        if same[index] and period[index] == period[index - 1]:
            raise table.error(
                *where,
                f"period {period[index]:g} of cohort {cohorts[cohort[index]]!r} "
                f"is also on row {rows[index - 1]}",
            )
        expected = period[index - 1] + 1 if same[index] else 0
        if period[index] != expected:
            raise table.error(
                *where,
                f"cohort {cohorts[cohort[index]]!r} has no period {expected:g}: periods must run "
                "0, 1, 2, … without gaps",
            )
        if same[index] and active[index] > active[index - 1]:
            raise table.error(
                rows[index],
                "active",
                f"{active[index]:g} customers active after period {period[index]:g} of cohort "
                f"{cohorts[cohort[index]]!r}, more than {active[index - 1]:g} after period "
                f"{period[index - 1]:g} (row {rows[index - 1]}); active must not increase",
            )
        if not same[index] and active[index] == 0:
            raise table.error(
                rows[index], "active", f"cohort {cohorts[cohort[index]]!r} starts with 0 customers"
            )
    if not np.any(period > 0):
        raise InputError(f"{path}: no cohort is observed beyond period 0: nothing to fit")
    return RetentionHistory(str(path), cohorts, cohort, period, active)


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
        np.clip(start, -_LOG_BOUND + 1, _LOG_BOUND - 1),
        jac=lambda x: -_sbg_gradient(x, history),
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 2,
    )
    if np.any(np.abs(result.x) >= _LOG_BOUND - 1e-6):
        raise InputError(
            f"{history.source}: the retention curve does not identify α and β (the fit runs off to "
            f"α = {np.exp(result.x[0]):.3g}, β = {np.exp(result.x[1]):.3g}); longer or larger cohorts needed"
        )
    estimate = np.exp(result.x)
    hessian = _hessian(negative, result.x, np.full(2, _HESSIAN_STEP))
    covariance = _log_scale_covariance(hessian, estimate, history.source)
    return SBGFit(history, float(estimate[0]), float(estimate[1]), covariance, -float(result.fun))


# --------------------------------------------------------------------------- retention net of behaviour


def cohort_scenario(base: Scenario, segment: str, periods: int) -> Scenario:
    """One cohort of new customers of ``segment`` under the base's policy, as the engine runs it.

    The base at its medians (:func:`_point`) with the tariff of month 0 kept for good (scheduled fee
    changes and adjustment rules dropped), the segment alone (share 1), every customer of tenure 0,
    no arrivals and no warm-up, over ``periods`` months: the situation of a retention history.
    """
    point = _point(base)
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


_SETTLED = 0.1
"""The net retention fit stops when an estimate moves less than this many standard errors."""


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
        customers = int(
            np.clip(_CUSTOMERS_PER_OBSERVED * history.starts.sum(), _MIN_CUSTOMERS, _MAX_CUSTOMERS)
        )
    cohort = cohort_scenario(base, segment, periods)
    estimate = np.array([plain.alpha, plain.beta])
    for rounds in range(1, _MAX_ROUNDS + 1):
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
            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 2,
        )
        if np.any(np.abs(result.x) >= _LOG_BOUND - 1e-6):
            raise InputError(
                f"{history.source}: net of the behavioural churn, the retention curve does not identify "
                f"α and β (the fit runs off to α = {np.exp(result.x[0]):.3g}, β = {np.exp(result.x[1]):.3g})"
            )
        fitted = np.exp(result.x)
        hessian = _hessian(negative, result.x, np.full(2, _HESSIAN_STEP))
        log_covariance = _log_scale_covariance(hessian, fitted, history.source) / np.outer(fitted, fitted)
        log_covariance = log_covariance + _behavioural_noise(history, result.x, simulated, hessian)
        moved = np.log(fitted) - np.log(estimate)
        estimate = fitted
        if moved @ np.linalg.solve(log_covariance, moved) < _SETTLED**2:
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
        f"{history.source}: the retention fit net of behavioural churn did not settle after {_MAX_ROUNDS} "
        f"simulations (last estimate: α = {estimate[0]:.3g}, β = {estimate[1]:.3g})"
    )


def _behavioural_noise(
    history: RetentionHistory, log_params: np.ndarray, simulated: BehaviouralSurvival, hessian: np.ndarray
) -> np.ndarray:
    """J V Jᵀ: the covariance that the simulation noise of ln S_B adds to (ln α, ln β)."""
    log_survival = np.log(simulated.survival)
    step = _HESSIAN_STEP

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


# --------------------------------------------------------------------------- complaints


@dataclass(frozen=True)
class ComplaintHistory:
    """Monthly complaint counts by cause; one entry per row of the file (see the module docstring)."""

    source: str
    month: np.ndarray
    cause: np.ndarray
    complaints: np.ndarray
    exposed: np.ndarray
    intensity: np.ndarray
    notice_days: np.ndarray


def read_complaints(path: str | Path) -> ComplaintHistory:
    """Read a ``month,cause,complaints,exposed,intensity[,notice_days]`` file (see the module docstring).

    Raises
    ------
    InputError
        One line naming the file, the row and the column of the first problem.
    """
    path = Path(path)
    table = _Table(path, ("month", "cause", "complaints", "exposed", "intensity"), ("notice_days",))
    month = table.numbers("month", whole=True)
    cause = np.asarray(table.texts("cause"))
    for index, name in enumerate(cause):
        if name not in CAUSES:
            raise table.error(
                table.row(index), "cause", f"unknown cause {name!r}; expected one of {', '.join(CAUSES)}"
            )
    complaints = table.counts("complaints")
    exposed = table.counts("exposed")
    table.require(
        complaints <= exposed, "complaints", "more complaints than customers exposed ({value:g})", complaints
    )
    intensity = table.numbers("intensity")
    table.require(intensity > 0, "intensity", "must be positive (got {value:g})", intensity)
    table.require(
        (cause != "billing_error") | (intensity == 1),
        "intensity",
        "must be 1 for billing_error (a noticed overcharge is one trigger; got {value:g})",
        intensity,
    )
    notice = table.counts("notice_days", blank=0.0)
    table.require(
        (cause == "fee_increase") | (notice == 0),
        "notice_days",
        "applies to fee_increase rows only (got {value:g})",
        notice,
    )
    seen: dict[tuple[float, str], int] = {}
    for index, key in enumerate(zip(month, cause, strict=True)):
        if key in seen:
            raise table.error(
                table.row(index), "cause", f"month {key[0]:g}, cause {key[1]!r} is also on row {seen[key]}"
            )
        seen[key] = table.row(index)
    return ComplaintHistory(str(path), month, cause, complaints, exposed, intensity, notice)


def _point(base: Scenario) -> Scenario:
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


def _segment_mean(base: Scenario, value: Callable[[Segment], float]) -> float:
    """Share-weighted mean over segments of a per-segment quantity."""
    segments = base.population.segments
    return float(sum(s.share * value(s) for s in segments) / sum(s.share for s in segments))


def complaint_exposure_factors(history: ComplaintHistory, base: Scenario) -> np.ndarray:
    """Expected complaints per unit of the cause's rate, per row of ``history``, under ``base``.

    factor = exposed · intensity · E[propensity] · policy, where E[propensity] = exp(σ²/2) is the
    mean of the lognormal personal propensity (median 1), share-weighted over segments, and the
    policy term is what the engine multiplies the rate by besides the trigger:

    - surprise: (1 − transparency relief) · (1 − contract-clarity relief);
    - billing_error: the probability of noticing an overcharge (itemised-bill detection, or the
      mean attention α/(α + β) of the attention trait, share-weighted);
    - fee_increase: exp(−notice_days / fee_change_notice_days_scale), the share not relieved by notice;
    - penalty_fee: (1 − contract-clarity relief).
    """
    point = _point(base)
    levers = Levers.from_model(point.model)
    behaviour, transparency = point.behaviour, point.transparency
    propensity = _segment_mean(point, lambda s: np.exp(float(s.complaint_propensity_dispersion) ** 2 / 2))
    noticing = (
        transparency.itemised_error_detection
        if transparency.itemised_bills
        else _segment_mean(point, lambda s: s.attention_alpha / (s.attention_alpha + s.attention_beta))
    )
    unclear = 1.0 - levers.clarity_relief
    policy = np.select(
        [history.cause == "surprise", history.cause == "billing_error", history.cause == "fee_increase"],
        [
            (1.0 - levers.surprise_relief) * unclear,
            noticing,
            np.exp(-history.notice_days / behaviour.fee_change_notice_days_scale),
        ],
        unclear,
    )
    return history.exposed * history.intensity * propensity * policy


@dataclass(frozen=True)
class ComplaintFit:
    """Poisson maximum-likelihood complaint rates, one per cause present in the history.

    Attributes
    ----------
    history : the data.
    rates, std_errors, log_likelihoods : per cause (keys of :data:`CAUSES`), in the unit of the
        cause's ``behaviour`` parameter.
    factors : expected complaints per unit rate, per row (:func:`complaint_exposure_factors`).
    """

    history: ComplaintHistory
    rates: dict[str, float]
    std_errors: dict[str, float]
    log_likelihoods: dict[str, float]
    factors: np.ndarray

    @property
    def fitted(self) -> np.ndarray:
        """Expected complaints per row at the estimates."""
        return np.asarray([self.rates[c] for c in self.history.cause]) * self.factors

    def plot(self, ax: Any) -> Any:
        """Complaints per month and cause: observed (markers) against fitted (lines)."""
        history = self.history
        for cause in self.rates:
            mine = history.cause == cause
            order = np.argsort(history.month[mine])
            line = ax.plot(
                history.month[mine][order],
                self.fitted[mine][order],
                "-x",
                markersize=4,
                label=f"{cause} fitted",
            )
            ax.plot(
                history.month[mine][order],
                history.complaints[mine][order],
                "o",
                markersize=3,
                color=line[0].get_color(),
                label=f"{cause} observed",
            )
        ax.set(xlabel="month", ylabel="complaints", title="Complaints by cause")
        ax.legend(fontsize="small")
        return ax


def fit_complaint_rates(history: ComplaintHistory, base: Scenario) -> ComplaintFit:
    """Fit each cause's complaint rate by Poisson maximum likelihood with exposure.

    Complaints of a cause in a row are taken as Poisson with mean rate · factor (see
    :func:`complaint_exposure_factors`), so the estimate is Σ complaints / Σ factor and its standard
    error, from the Fisher information, is √(Σ complaints) / Σ factor. The fitted value is on the
    scale of the scenario parameter (propensity 1, before the policy's reliefs).

    Approximations: the engine's per-customer probability is rate · propensity · trigger · policy
    capped at 1, and a customer makes at most one complaint a month whatever the causes; both are
    ignored. That is exact while probabilities are small; with the lognormal propensity's long tail
    (σ = 1) the cap binds for a few customers, so the cause with the largest probabilities
    (billing errors) comes out a few per cent low. The engine measures surprise against each
    customer's reference price, the file against the usual bill (the same under a stable tariff).
    The exposed customers are taken to be spread over segments in proportion to their shares (the
    propensity mean and attention are averaged so), and the propensity independent of the
    trigger's size. Parameters given as distributions in the base are held at their medians.

    Raises
    ------
    InputError
        When a cause has exposure but no complaints (the rate would be 0 with no standard error).
    """
    factors = complaint_exposure_factors(history, base)
    rates, errors, likelihoods = {}, {}, {}
    for cause in CAUSES:
        mine = history.cause == cause
        if not mine.any():
            continue
        total, exposure = history.complaints[mine].sum(), factors[mine].sum()
        if total == 0 or exposure == 0:
            raise InputError(
                f"{history.source}: cause {cause!r} has no complaints or no exposure: its rate cannot be "
                "estimated (leave its rows out to keep the base's value)"
            )
        rates[cause] = float(total / exposure)
        errors[cause] = float(np.sqrt(total) / exposure)
        mean = rates[cause] * factors[mine]
        counts = history.complaints[mine]
        likelihoods[cause] = float(np.sum(special.xlogy(counts, mean) - mean - special.gammaln(counts + 1.0)))
    return ComplaintFit(history, rates, errors, likelihoods, factors)


# --------------------------------------------------------------------------- fee change


@dataclass(frozen=True)
class FeeChangeHistory:
    """Monthly churn around one rise of the subscription fee (see the module docstring).

    Attributes
    ----------
    month, active, churned : per month, in order.
    old_fee, new_fee : the subscription before and from ``change`` on (currency/month).
    change : index (0-based) of the first month at the new fee.
    notice_days : notice given for the rise (days).
    """

    source: str
    month: np.ndarray
    active: np.ndarray
    churned: np.ndarray
    old_fee: float
    new_fee: float
    change: int
    notice_days: int


def read_fee_change(path: str | Path) -> FeeChangeHistory:
    """Read a ``month,active,churned,monthly_fee[,notice_days]`` file (see the module docstring).

    Raises
    ------
    InputError
        One line naming the file, the row and the column of the first problem.
    """
    path = Path(path)
    table = _Table(path, ("month", "active", "churned", "monthly_fee"), ("notice_days",))
    month = table.numbers("month", whole=True)
    steps = np.r_[1.0, np.diff(month)]
    table.require(steps == 1, "month", "months must be consecutive, one row each (got {value:g})", month)
    active = table.counts("active")
    table.require(active > 0, "active", "must be positive (got {value:g})", active)
    churned = table.counts("churned")
    table.require(
        churned <= active, "churned", "more customers churned than were active ({value:g})", churned
    )
    fee = table.numbers("monthly_fee")
    table.require(fee >= 0, "monthly_fee", "must not be negative (got {value:g})", fee)
    changes = np.flatnonzero(np.diff(fee) != 0) + 1
    if changes.size == 0:
        raise table.error(
            table.row(0), "monthly_fee", "the fee never changes: nothing identifies the response"
        )
    if changes.size > 1:
        raise table.error(
            table.row(int(changes[1])),
            "monthly_fee",
            "the fee changes a second time; give one change per file",
        )
    change = int(changes[0])
    if fee[change] <= fee[0]:
        raise table.error(
            table.row(change),
            "monthly_fee",
            f"the fee falls ({fee[0]:g} → {fee[change]:g}); a rise is needed",
        )
    notice = table.counts("notice_days", blank=0.0)
    away = np.arange(len(notice)) != change
    table.require(
        ~away | (notice == 0),
        "notice_days",
        f"belongs on the row of the first month at the new fee (row {table.row(change)}); got {{value:g}}",
        notice,
    )
    return FeeChangeHistory(
        str(path), month, active, churned, float(fee[0]), float(fee[change]), change, int(notice[change])
    )


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
    return _point(base).with_changes(
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
        customers = int(np.clip(_CUSTOMERS_PER_OBSERVED * history.active[0], _MIN_CUSTOMERS, _MAX_CUSTOMERS))
    scenario = _history_scenario(base, history)
    centre = np.log([float(getattr(scenario.behaviour, name)) for name in parameters])
    half = np.full(len(parameters), 0.5)
    for rounds in range(1, _MAX_ROUNDS + 1):
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
        covariance = _log_scale_covariance(
            _hessian(negative, result.x, half * _HESSIAN_STEP) / inflation,
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
        f"{history.source}: the fee-change fit did not settle after {_MAX_ROUNDS} rounds of simulations "
        f"(last estimate: {last})"
    )


# --------------------------------------------------------------------------- all together


@dataclass(frozen=True)
class JointEstimate:
    """Parameters estimated together by one fit, written as one ``joint_uncertainty`` block.

    Attributes
    ----------
    name : the block's name in the fragment.
    parameters : key paths (segments by name).
    estimate : the estimates, in that order (each in its parameter's unit).
    log_covariance : the covariance of their natural logarithms (every fit here works on the log
        scale, where the observed information is computed).
    """

    name: str
    parameters: tuple[str, ...]
    estimate: np.ndarray
    log_covariance: np.ndarray


class Calibration:
    """Behavioural parameters fitted to a pricing team's history, ready to become a scenario.

    Attributes
    ----------
    base : the scenario the history was observed under; the fragment ``extends`` its file.
    segment : the segment whose churn heterogeneity the retention history describes.
    retention, complaints, fee_change : the fits made (``None`` where no file was given).
    estimates : every fitted parameter, in the order of :attr:`summary`.
    joint : the parameters fitted together (α and β; price sensitivity and loss aversion), with the
        covariance of their logarithms.
    passes : rounds of the retention and fee-change fits, each given the other's latest estimates.
    """

    def __init__(
        self,
        base: Scenario,
        segment: str,
        retention: RetentionFit | None,
        complaints: ComplaintFit | None,
        fee_change: FeeChangeFit | None,
        estimates: Sequence[Estimate],
        joint: Sequence[JointEstimate] = (),
        passes: int = 1,
    ):
        self.base = base
        self.segment = segment
        self.retention = retention
        self.complaints = complaints
        self.fee_change = fee_change
        self.estimates = tuple(estimates)
        self.joint = tuple(joint)
        self.passes = passes

    def __repr__(self) -> str:
        fitted = ", ".join(f"{e.parameter}={e.estimate:.4g}±{e.std_error:.2g}" for e in self.estimates)
        return f"Calibration({fitted})"

    @property
    def summary(self) -> pd.DataFrame:
        """One row per fitted parameter: key path, estimate, standard error, 95% interval (log scale),
        unit, n (see :class:`Estimate`), the fit's log-likelihood, the file and what was fitted."""
        return pd.DataFrame(
            [
                {
                    "parameter": e.parameter,
                    "estimate": e.estimate,
                    "std_error": e.std_error,
                    "ci_95_low": e.interval[0],
                    "ci_95_high": e.interval[1],
                    "unit": e.unit,
                    "n": e.n,
                    "log_likelihood": e.log_likelihood,
                    "source": e.source,
                    "method": e.method,
                }
                for e in self.estimates
            ]
        )

    def plot(self, ax: Any = None) -> list[Any]:
        """Fitted against observed, one panel per history: retention curves with the fit,
        complaints by cause, churn around the fee change.

        ``ax``: one Axes per fitted history (a single Axes when there is one); default a new figure.
        Returns the Axes used.
        """
        fits = [f for f in (self.retention, self.complaints, self.fee_change) if f is not None]
        if ax is None:
            import matplotlib.pyplot as plt

            _, created = plt.subplots(1, len(fits), figsize=(5.5 * len(fits), 4.2), squeeze=False)
            ax = list(created[0])
        axes = list(ax) if isinstance(ax, Sequence | np.ndarray) else [ax]
        if len(axes) != len(fits):
            raise InputError(f"plot needs {len(fits)} Axes, one per fitted history (got {len(axes)})")
        for fit, axis in zip(fits, axes, strict=True):
            fit.plot(axis)
        return axes

    def to_yaml(self) -> str:
        """A scenario fragment that ``extends`` the base's file.

        Parameters fitted together (α and β of the segment; price sensitivity and loss aversion)
        are one ``joint_uncertainty`` block each, a multivariate log-normal: medians = estimates,
        ``log_covariance`` = the covariance of the logarithms from the fit, so draws keep the
        estimates' correlation; each is also stated as its estimate (a number: a parameter is drawn
        either alone or in a joint block). A parameter fitted alone on the log scale (loss aversion
        without price sensitivity) is a ``lognormal`` (median = estimate, sd_log = SE / estimate);
        the complaint rates, fitted independently on their own scale, are normals (mean = estimate,
        sd = standard error, truncated to the valid range). Comments state estimate ± SE and the file
        each came from. Segments are named, so ``extends`` merges them into the base's by name.
        """
        if self.base.path is None:
            raise InputError(
                "the base scenario was not loaded from a file: nothing for the fragment to extend"
            )
        sources = ", ".join(dict.fromkeys(Path(e.source).name for e in self.estimates))
        label = f"{self.base.name} with behavioural parameters fitted to {sources}"
        blocks = [j for j in self.joint if len(j.parameters) > 1]
        alone = {j.parameters[0]: j for j in self.joint if len(j.parameters) == 1}
        jointly = {p for j in blocks for p in j.parameters}
        lines = [
            "# Behavioural parameters fitted by simlib calibrate to the firm's own history. Each is drawn",
            "# once per replication from its estimation uncertainty, so that uncertainty flows into every",
            "# interval. Parameters fitted together are drawn together (joint_uncertainty below: a",
            "# multivariate log-normal with the fit's covariance of their logarithms), which keeps the",
            "# correlation between their estimates; the others are independent.",
            f"extends: {json.dumps(self.base.path.name, ensure_ascii=False)}",
            f"name: {json.dumps(self.base.name + '_calibrated', ensure_ascii=False)}",
            f"label: {json.dumps(label[:200], ensure_ascii=False)}",
        ]

        def entries(chosen: list[Estimate], indent: str) -> list[str]:
            out = []
            for e in chosen:
                if e.parameter in jointly:
                    out += _fixed_entry(e, indent)
                elif e.parameter in alone:
                    out += _lognormal_entry(e, indent)
                else:
                    out += _yaml_entry(e, indent)
            return out

        segment = [e for e in self.estimates if e.parameter.startswith("population.")]
        if segment:
            lines += [
                "population:",
                "  segments:",
                f"    - name: {json.dumps(self.segment, ensure_ascii=False)}",
            ]
            lines += entries(segment, "      ")
        behaviour = [e for e in self.estimates if e.parameter.startswith("behaviour.")]
        if behaviour:
            lines += ["behaviour:", *entries(behaviour, "  ")]
        lines += self._joint_lines(blocks)
        return "\n".join(lines) + "\n"

    def _joint_lines(self, blocks: list[JointEstimate]) -> list[str]:
        """The ``joint_uncertainty`` list: the base's own blocks that share no fitted parameter, then
        one block per joint fit (``!replace``, since the base's list is restated whole)."""
        model = self.base.model
        fitted = {_canonical(model, e.parameter) for e in self.estimates}
        kept = [
            b for b in model.joint_uncertainty if not {_canonical(model, k) for k in b.parameters} & fitted
        ]
        if not blocks and len(kept) == len(model.joint_uncertainty):
            return []
        lines = [f"joint_uncertainty:{' !replace' if model.joint_uncertainty else ''}"]
        for block in kept:
            data = block.model_dump(mode="json", exclude_none=True)
            lines.append(f"  - {json.dumps(data, ensure_ascii=False)}")
        dropped = len(model.joint_uncertainty) - len(kept)
        if dropped:
            lines.append(
                f"  # {dropped} block(s) of the base drew a parameter fitted here and are left out: their "
                "other parameters keep the numbers the base states"
            )
        for block in blocks:
            errors = np.sqrt(np.diag(block.log_covariance))
            correlation = block.log_covariance / np.outer(errors, errors)
            pairs = ", ".join(
                f"{block.parameters[i].rsplit('.', 1)[-1]}–{block.parameters[j].rsplit('.', 1)[-1]} "
                f"{correlation[i, j]:+.2f}"
                for i in range(len(errors))
                for j in range(i + 1, len(errors))
            )
            lines += [
                f"  - name: {json.dumps(block.name, ensure_ascii=False)}",
                f"    parameters: {json.dumps(list(block.parameters), ensure_ascii=False)}",
                "    distribution: multivariate_lognormal",
                "    # medians = the estimates; log_covariance = covariance of their natural logarithms",
                f"    # (correlation {pairs})",
                f"    median: [{', '.join(_number(v, 10) for v in block.estimate)}]",
                "    log_covariance: ["
                + ", ".join(
                    "[" + ", ".join(_number(v, 10) for v in row) + "]" for row in block.log_covariance
                )
                + "]",
            ]
        return lines

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_yaml` to ``path`` atomically; never replaces an existing file.

        Place it next to the base scenario: its ``extends`` names the base's file.
        """
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} already exists; choose another name")
        text = self.to_yaml()
        write_atomic(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))
        return path


def _canonical(model: Any, key: str) -> str:
    found = resolve(model, key)
    return key if isinstance(found, str) else found.path


def _number(value: float, digits: int = 6) -> str:
    """A float for YAML: ``digits`` significant digits, never in exponent form (YAML 1.1 reads 1e-05
    as text)."""
    return np.format_float_positional(value, precision=digits, unique=False, fractional=False, trim="-")


def _comment(estimate: Estimate, indent: str, note: str = "") -> str:
    return (
        f"{indent}# {estimate.estimate:.4g} ± {estimate.std_error:.4g} {estimate.unit} "
        f"({Path(estimate.source).name}; {estimate.method}){note}"
    )


def _yaml_entry(estimate: Estimate, indent: str) -> list[str]:
    """One fitted parameter as a normal (mean = estimate, sd = SE) truncated to its valid range."""
    key = estimate.parameter.rsplit(".", 1)[-1]
    fields = {"mean": estimate.estimate, "sd": estimate.std_error, "low": estimate.low, "high": estimate.high}
    text = ", ".join(
        f"{name}: {'null' if value is None else _number(value)}" for name, value in fields.items()
    )
    return [_comment(estimate, indent), f"{indent}{key}: {{distribution: normal, {text}}}"]


def _lognormal_entry(estimate: Estimate, indent: str) -> list[str]:
    """A parameter fitted alone on the log scale: lognormal, median = estimate, sd_log = SE / estimate."""
    key = estimate.parameter.rsplit(".", 1)[-1]
    spread = estimate.std_error / estimate.estimate
    return [
        _comment(estimate, indent),
        f"{indent}{key}: {{distribution: lognormal, median: {_number(estimate.estimate)}, "
        f"sd_log: {_number(spread)}}}",
    ]


def _fixed_entry(estimate: Estimate, indent: str) -> list[str]:
    """A parameter drawn in a joint block: stated as its estimate."""
    key = estimate.parameter.rsplit(".", 1)[-1]
    return [
        _comment(estimate, indent, "; drawn jointly, see joint_uncertainty"),
        f"{indent}{key}: {_number(estimate.estimate, 10)}",
    ]


_MAX_PASSES = 3
"""Rounds of the retention and fee-change fits, each given the other's latest estimates."""


def calibrate(
    base: Scenario,
    *,
    retention: str | Path | None = None,
    complaints: str | Path | None = None,
    fee_change: str | Path | None = None,
    segment: str | None = None,
    seed: int = 0,
    fee_change_parameters: Sequence[str] = FEE_CHANGE_PARAMETERS,
) -> Calibration:
    """Fit the behavioural parameters that a pricing team's history identifies.

    The complaint rates are fitted first (they need nothing else). The retention history is fitted
    net of the behavioural churn the base implies (:func:`fit_retention`), with the complaint rates
    just fitted; the fee-change history with the churn and complaint parameters just fitted. When
    both are given, each depends on the other's estimates: the retention fit is repeated with the
    fee-change estimates, and the fee-change fit with the new α, β, until α and β move less than a
    tenth of a standard error (at most three rounds).

    Parameters
    ----------
    base : the scenario in force during the history (the calibrated fragment extends its file).
    retention : ``cohort,period,active`` file → the segment's ``churn_alpha``, ``churn_beta``.
    complaints : ``month,cause,complaints,exposed,intensity[,notice_days]`` file → the complaint
        rates of the causes it holds.
    fee_change : ``month,active,churned,monthly_fee[,notice_days]`` file → ``price_sensitivity``,
        ``loss_aversion``.
    segment : the segment the retention history describes; default the base's middle segment.
    seed : simulation seed of the retention and fee-change fits.
    fee_change_parameters : what the fee-change history fits; ``("loss_aversion",)`` holds price
        sensitivity at the base's value when the history is too small to separate the two (see
        :func:`fit_fee_change`).

    Raises
    ------
    InputError
        No history given, an unknown segment, a bad file (one line: file, row, column), or a
        history that does not identify its parameters.
    """
    if retention is None and complaints is None and fee_change is None:
        raise InputError("calibrate needs at least one history: retention, complaints or fee_change")
    names = [s.name for s in base.population.segments]
    segment = names[len(names) // 2] if segment is None else segment
    if segment not in names:
        raise InputError(f"unknown segment {segment!r}; the base has {', '.join(names)}")
    estimates: list[Estimate] = []
    joint: list[JointEstimate] = []
    sbg = complaint_fit = fee_fit = None
    working = _point(base)
    if complaints is not None:
        complaint_fit = fit_complaint_rates(read_complaints(complaints), base)
        history = complaint_fit.history
        for cause, rate in complaint_fit.rates.items():
            name = CAUSES[cause]
            estimates.append(
                Estimate(
                    f"behaviour.{name}",
                    rate,
                    complaint_fit.std_errors[cause],
                    _unit(Behaviour, name),
                    int(history.exposed[history.cause == cause].sum()),
                    complaint_fit.log_likelihoods[cause],
                    history.source,
                    "Poisson maximum likelihood with exposure",
                    high=1.0 if name == "error_complaint_rate" else None,
                )
            )
        working = working.with_changes({e.parameter: e.estimate for e in estimates}, origin="calibration")
    churn_keys = (f"population.segments[{segment}].churn_alpha", f"population.segments[{segment}].churn_beta")
    retention_history = read_retention(retention) if retention is not None else None
    fee_history = read_fee_change(fee_change) if fee_change is not None else None
    passes = 1
    if retention_history is not None:
        sbg = fit_retention(retention_history, working, segment, seed=seed)
    if fee_history is not None:
        given = (
            working
            if sbg is None
            else working.with_changes(dict(zip(churn_keys, (sbg.alpha, sbg.beta), strict=True)))
        )
        fee_fit = fit_fee_change(fee_history, given, parameters=fee_change_parameters, seed=seed)
        while retention_history is not None and sbg is not None and passes < _MAX_PASSES:
            passes += 1
            behaviour = {f"behaviour.{name}": value for name, value in fee_fit.values.items()}
            previous, sbg = (
                sbg,
                fit_retention(retention_history, working.with_changes(behaviour), segment, seed=seed),
            )
            moved = np.log([sbg.alpha, sbg.beta]) - np.log([previous.alpha, previous.beta])
            if moved @ np.linalg.solve(sbg.log_covariance, moved) < _SETTLED**2:
                break
            given = working.with_changes(dict(zip(churn_keys, (sbg.alpha, sbg.beta), strict=True)))
            fee_fit = fit_fee_change(fee_history, given, parameters=fee_change_parameters, seed=seed)
    complaint_estimates, estimates = estimates, []
    if sbg is not None:
        n = int(sbg.history.starts.sum())
        method = (
            "sBG maximum likelihood, right-censored"
            if sbg.behavioural is None
            else "sBG maximum likelihood net of the simulated behavioural churn, right-censored"
        )
        for name, value, error in zip(
            ("churn_alpha", "churn_beta"), (sbg.alpha, sbg.beta), sbg.std_errors, strict=True
        ):
            estimates.append(
                Estimate(
                    f"population.segments[{segment}].{name}",
                    value,
                    error,
                    _unit(Segment, name),
                    n,
                    sbg.log_likelihood,
                    sbg.history.source,
                    method,
                )
            )
        joint.append(
            JointEstimate(
                f"churn of {segment} ({Path(sbg.history.source).name})",
                churn_keys,
                np.array([sbg.alpha, sbg.beta]),
                sbg.log_covariance,
            )
        )
    estimates += complaint_estimates  # in the summary: retention, complaints, fee change
    if fee_fit is not None:
        method = "binomial maximum likelihood of monthly churn, simulated"
        for name, value in fee_fit.values.items():
            estimates.append(
                Estimate(
                    f"behaviour.{name}",
                    value,
                    fee_fit.std_errors[name],
                    _unit(Behaviour, name),
                    int(fee_fit.history.active.sum()),
                    fee_fit.log_likelihood,
                    fee_fit.history.source,
                    method,
                )
            )
        joint.append(
            JointEstimate(
                f"fee-change response ({Path(fee_fit.history.source).name})",
                tuple(f"behaviour.{name}" for name in fee_fit.parameters),
                fee_fit.estimate,
                fee_fit.covariance / np.outer(fee_fit.estimate, fee_fit.estimate),
            )
        )
    return Calibration(base, segment, sbg, complaint_fit, fee_fit, estimates, joint, passes)
