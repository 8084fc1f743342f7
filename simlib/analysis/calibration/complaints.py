"""Complaint rates: the ``behaviour`` complaint rate of each cause, fitted to monthly complaints
among the customers exposed to it, with the base's propensities and notice effect."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from simlib.analysis.calibration.fitting import point_scenario
from simlib.analysis.calibration.history import CAUSES, ComplaintHistory
from simlib.errors import InputError
from simlib.model.parameters import Segment
from simlib.model.policy import Levers
from simlib.scenario.scenario import Scenario


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
    point = point_scenario(base)
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
