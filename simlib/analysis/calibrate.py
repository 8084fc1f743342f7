"""Calibration: fitting behavioural parameters to a pricing team's own history.

This module chains the fits of :mod:`simlib.analysis.calibration` (history files, retention,
complaints, fee change, the result) and is where their public names are imported from. Calibration
is the step from history to parameters: reading three kinds of history file, fitting
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

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from simlib.analysis.calibration.complaints import (
    ComplaintFit,
    complaint_exposure_factors,
    fit_complaint_rates,
)
from simlib.analysis.calibration.fee_change import FEE_CHANGE_PARAMETERS, FeeChangeFit, fit_fee_change
from simlib.analysis.calibration.fitting import (
    SETTLED,
    Z_95,
    Estimate,
    point_scenario,
    unit_of,
)
from simlib.analysis.calibration.history import (
    CAUSES,
    MAX_HISTORY_BYTES,
    ComplaintHistory,
    FeeChangeHistory,
    RetentionHistory,
    read_complaints,
    read_fee_change,
    read_retention,
)
from simlib.analysis.calibration.result import Calibration, JointEstimate
from simlib.analysis.calibration.retention import (
    BehaviouralSurvival,
    RetentionFit,
    SBGFit,
    behavioural_survival,
    cohort_scenario,
    fit_retention,
    fit_sbg,
    retention_log_likelihood,
    sbg_churn_probability,
    sbg_log_likelihood,
    sbg_survival,
)
from simlib.errors import InputError
from simlib.model.lifetime import derl
from simlib.model.parameters import Behaviour, Segment
from simlib.scenario.scenario import Scenario

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
    working = point_scenario(base)
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
                    unit_of(Behaviour, name),
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
            if moved @ np.linalg.solve(sbg.log_covariance, moved) < SETTLED**2:
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
                    unit_of(Segment, name),
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
                    unit_of(Behaviour, name),
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


__all__ = [
    "CAUSES",
    "FEE_CHANGE_PARAMETERS",
    "MAX_HISTORY_BYTES",
    "Z_95",
    "BehaviouralSurvival",
    "Calibration",
    "ComplaintFit",
    "ComplaintHistory",
    "Estimate",
    "FeeChangeFit",
    "FeeChangeHistory",
    "JointEstimate",
    "RetentionFit",
    "RetentionHistory",
    "SBGFit",
    "behavioural_survival",
    "calibrate",
    "cohort_scenario",
    "complaint_exposure_factors",
    "derl",
    "fit_complaint_rates",
    "fit_fee_change",
    "fit_retention",
    "fit_sbg",
    "read_complaints",
    "read_fee_change",
    "read_retention",
    "retention_log_likelihood",
    "sbg_churn_probability",
    "sbg_log_likelihood",
    "sbg_survival",
]
