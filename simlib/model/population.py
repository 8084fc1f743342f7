"""Customers: who they are when they enter the population, and how many new ones arrive.

Every trait is drawn by inverse CDF from a uniform that depends only on the customer's key, so a
customer is the same person in every run that shares the seed and replication, whatever chunk
or worker simulates it. :func:`draw_traits` is compiled and draws one customer into the engine's
state arrays (:class:`simlib.model.state.Customers`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from simlib.model.draws import Purpose, uniform_at
from simlib.model.parameters import ScenarioModel
from simlib.model.special import beta_quantile, ndtri

MAX_FAILED_PAYMENT_PROBABILITY = 0.95
ARRIVAL_ID_STRIDE = 2**40
"""Customer ids: initial customers are their seat number; a customer arriving in month m (warm-up
months are negative) through seat s has id s + (m + 1 + 4096)·2^40, so ids never depend on how the
population is chunked."""

_SEGMENT, _USAGE_LEVEL, _WTP, _BASELINE_CHURN = (
    int(Purpose.SEGMENT),
    int(Purpose.USAGE_LEVEL),
    int(Purpose.WILLINGNESS_TO_PAY),
    int(Purpose.BASELINE_CHURN),
)
_ATTENTION_TRAIT, _COMPLAINT_PROPENSITY, _LATE_PAYMENT_TRAIT, _TENURE, _PREPAY = (
    int(Purpose.ATTENTION_TRAIT),
    int(Purpose.COMPLAINT_PROPENSITY),
    int(Purpose.LATE_PAYMENT_TRAIT),
    int(Purpose.TENURE),
    int(Purpose.PREPAY),
)


class SegmentTable(NamedTuple):
    """Per-segment parameters as arrays, indexed by segment number (a NamedTuple, so the compiled
    engine reads it by field name)."""

    cumulative_share: np.ndarray
    usage_median: np.ndarray
    usage_dispersion: np.ndarray
    usage_monthly_variation: np.ndarray
    transaction_value: np.ndarray
    wtp_median: np.ndarray
    wtp_usage_elasticity: np.ndarray
    wtp_dispersion: np.ndarray
    churn_alpha: np.ndarray
    churn_beta: np.ndarray
    attention_alpha: np.ndarray
    attention_beta: np.ndarray
    complaint_dispersion: np.ndarray
    late_scale: np.ndarray
    late_tail: np.ndarray
    tenure_max: np.ndarray

    @classmethod
    def from_model(cls, model: ScenarioModel) -> SegmentTable:
        segments = model.population.segments

        def column(name: str) -> np.ndarray:
            return np.asarray([float(getattr(s, name)) for s in segments], dtype=np.float64)

        shares = np.cumsum(column("share"))
        shares[-1] = 1.0
        return cls(
            cumulative_share=shares,
            usage_median=column("usage_median_units"),
            usage_dispersion=column("usage_dispersion"),
            usage_monthly_variation=column("usage_monthly_variation"),
            transaction_value=column("average_transaction_value"),
            wtp_median=column("willingness_to_pay_median"),
            wtp_usage_elasticity=column("willingness_to_pay_usage_elasticity"),
            wtp_dispersion=column("willingness_to_pay_dispersion"),
            churn_alpha=column("churn_alpha"),
            churn_beta=column("churn_beta"),
            attention_alpha=column("attention_alpha"),
            attention_beta=column("attention_beta"),
            complaint_dispersion=column("complaint_propensity_dispersion"),
            late_scale=column("late_payment_scale"),
            late_tail=column("late_payment_tail_index"),
            tenure_max=column("initial_tenure_max_months"),
        )


@njit(error_model="numpy", inline="always")
def segment_of(draw: float, cumulative_share: np.ndarray) -> int:
    """The segment a customer belongs to: the first whose cumulative share exceeds the draw."""
    last = len(cumulative_share) - 1
    for segment in range(last):
        if draw < cumulative_share[segment]:
            return segment
    return last


@njit(error_model="numpy", inline="always")
def draw_traits(
    customers,
    i: int,
    key: np.uint64,
    seat: int,
    join_month: int,
    initial: bool,
    segments: SegmentTable,
    prepay_uptake: float,
    trait_offsets: np.ndarray,
) -> None:
    """Draw customer ``i``'s traits from its key into the state arrays.

    - segment by share (for newcomers, the segment of the seat's prospect, docs/model.md §3.1);
    - usage level ℓ = m_s·exp(σ_s·Φ⁻¹(u)), with the segment's month-to-month
      usage variation σᵐ_s and transaction value v_s; willingness to pay
      W = w_s·(ℓ/m_s)^ε_s·exp(σʷ_s·Φ⁻¹(u'));
    - baseline churn probability p ~ Beta(α_s, β_s + τ), where τ is the tenure: 0 for a newcomer,
      uniform on 0…``initial_tenure_max_months`` for an initial customer, who joins at month −τ
      (relative to the start of the run). A customer who has already stayed τ months under the
      shifted-beta-geometric model has a churn probability distributed Beta(α, β + τ), so the
      initial base is consistent with the churn model that then runs on it;
    - attention ~ Beta(αᵃ_s, βᵃ_s); complaint propensity exp(σᶜ_s·Φ⁻¹(u)) (median 1); failed-payment
      probability min(scale_s · u^(−1/tail_s), 0.95) (Pareto); prepays iff u < prepay uptake.
    """
    s = segment_of(uniform_at(key, trait_offsets[_SEGMENT]), segments.cumulative_share)
    tenure = 0.0
    if initial:
        tenure = math.floor(uniform_at(key, trait_offsets[_TENURE]) * (segments.tenure_max[s] + 1.0))
        join_month = join_month - int(tenure)
    median = segments.usage_median[s]
    usage = median * math.exp(
        segments.usage_dispersion[s] * ndtri(uniform_at(key, trait_offsets[_USAGE_LEVEL]))
    )
    wtp = (
        segments.wtp_median[s]
        * (usage / median) ** segments.wtp_usage_elasticity[s]
        * math.exp(segments.wtp_dispersion[s] * ndtri(uniform_at(key, trait_offsets[_WTP])))
    )
    customers.key[i] = key
    customers.seat[i] = seat
    customers.segment[i] = s
    customers.join_month[i] = join_month
    customers.usage_level[i] = usage
    customers.usage_variation[i] = segments.usage_monthly_variation[s]
    customers.transaction_value[i] = segments.transaction_value[s]
    customers.willingness_to_pay[i] = wtp
    customers.baseline_churn[i] = beta_quantile(
        uniform_at(key, trait_offsets[_BASELINE_CHURN]),
        segments.churn_alpha[s],
        segments.churn_beta[s] + tenure,
    )
    customers.attention[i] = beta_quantile(
        uniform_at(key, trait_offsets[_ATTENTION_TRAIT]),
        segments.attention_alpha[s],
        segments.attention_beta[s],
    )
    customers.complaint_propensity[i] = math.exp(
        segments.complaint_dispersion[s] * ndtri(uniform_at(key, trait_offsets[_COMPLAINT_PROPENSITY]))
    )
    pareto = uniform_at(key, trait_offsets[_LATE_PAYMENT_TRAIT]) ** (-1.0 / segments.late_tail[s])
    customers.failed_payment[i] = min(segments.late_scale[s] * pareto, MAX_FAILED_PAYMENT_PROBABILITY)
    customers.prepay[i] = uniform_at(key, trait_offsets[_PREPAY]) < prepay_uptake
    customers.original[i] = initial


MARKET_BILL_FLOOR = 0.1
"""A segment's market bill is at least this share of the market reference price (a guard against a
steep ``market_unit_price`` making the light users' market bill zero or negative)."""


def market_bills(model: ScenarioModel) -> np.ndarray:
    """The bill of a comparable competitor offer for each segment's median usage (currency/month):
    P_mkt + c·(m_s − m̄), m̄ the share-weighted median usage, at least 10% of P_mkt."""
    arrivals, segments = model.population.arrivals, model.population.segments
    usage = np.asarray([float(s.usage_median_units) for s in segments])
    share = np.asarray([float(s.share) for s in segments])
    mean_usage = float(share @ usage) / float(share.sum())
    market = arrivals.market_reference_price + arrivals.market_unit_price * (usage - mean_usage)
    return np.maximum(market, MARKET_BILL_FLOOR * arrivals.market_reference_price)


def joining_probabilities(model: ScenarioModel, prospective_bills: np.ndarray) -> np.ndarray:
    """Probability that a seat's prospect of each segment becomes a customer this month.

    π_s = min(1, r·(B_s / M_s)^(−η)): B_s what the prospect would be charged
    (:func:`simlib.model.schedule.prospective_bills`), M_s the market bill for the segment's usage
    (:func:`market_bills`). A seat's prospect is of segment s with probability share_s, so
    newcomers of segment s arrive at the rate share_s·π_s per seat and the mix of newcomers shifts
    with the segments' bills.
    """
    arrivals = model.population.arrivals
    ratio = np.maximum(prospective_bills, 1e-9) / market_bills(model)
    return np.minimum(1.0, arrivals.monthly_rate * ratio ** (-arrivals.price_elasticity))
