"""Customers: who they are when they enter the population, and how many new ones arrive.

Every trait is drawn by inverse CDF from a uniform that depends only on the customer's key, so a
customer is the same person in every run that shares the seed and replication, whatever chunk
or worker simulates it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .draws import Purpose, customer_keys, uniform
from .parameters import ScenarioModel

MAX_FAILED_PAYMENT_PROBABILITY = 0.95
ARRIVAL_ID_STRIDE = 2**40
"""Customer ids: initial customers are their seat number; a customer arriving in month m (warm-up
months are negative) through seat s has id s + (m + 1 + 4096)·2^40, so ids never depend on how the
population is chunked."""


@dataclass(frozen=True)
class SegmentTable:
    """Per-segment parameters as arrays, indexed by segment number."""

    names: tuple[str, ...]
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
            names=tuple(s.name for s in segments),
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


@dataclass
class Customers:
    """Traits of a set of customers (one entry per customer, fixed once drawn)."""

    keys: np.ndarray
    seat: np.ndarray
    segment: np.ndarray
    join_month: np.ndarray
    usage_level: np.ndarray
    transaction_value: np.ndarray
    willingness_to_pay: np.ndarray
    baseline_churn: np.ndarray
    attention: np.ndarray
    complaint_propensity: np.ndarray
    failed_payment: np.ndarray
    prepay: np.ndarray
    original: np.ndarray


def draw_customers(
    stream: np.uint64,
    customer_ids: np.ndarray,
    seats: np.ndarray,
    table: SegmentTable,
    prepay_uptake: float,
    join_month: int | None,
) -> Customers:
    """Draw the traits of new customers.

    Parameters
    ----------
    stream : replication key from :func:`simlib.draws.stream_key`.
    customer_ids, seats : uint64 ids and the seat each customer came through.
    join_month : the month of arrival, or ``None`` for the initial customers, whose tenure is
        uniform on 0…``initial_tenure_max_months`` and who join at month −tenure.

    Notes
    -----
    A customer who has already stayed ``t`` months under the shifted-beta-geometric model has a
    churn probability distributed Beta(α, β + t); initial customers are drawn from that posterior,
    so the initial base is consistent with the churn model that then runs on it.
    """
    keys = customer_keys(stream, customer_ids)
    segment = np.searchsorted(table.cumulative_share, uniform(keys, Purpose.SEGMENT), side="right")
    segment = np.minimum(segment, len(table.names) - 1)
    if join_month is None:
        tenure = np.floor(uniform(keys, Purpose.TENURE) * (table.tenure_max[segment] + 1.0))
        joined = (-tenure).astype(np.int64)
    else:
        tenure = np.zeros(len(keys))
        joined = np.full(len(keys), join_month, dtype=np.int64)
    usage = table.usage_median[segment] * np.exp(
        table.usage_dispersion[segment] * special.ndtri(uniform(keys, Purpose.USAGE_LEVEL))
    )
    relative_usage = usage / table.usage_median[segment]
    wtp = (
        table.wtp_median[segment]
        * relative_usage ** table.wtp_usage_elasticity[segment]
        * np.exp(table.wtp_dispersion[segment] * special.ndtri(uniform(keys, Purpose.WILLINGNESS_TO_PAY)))
    )
    churn = beta_quantile(
        table.churn_alpha, table.churn_beta, segment, tenure, uniform(keys, Purpose.BASELINE_CHURN)
    )
    attention = beta_quantile(
        table.attention_alpha,
        table.attention_beta,
        segment,
        np.zeros(len(keys)),
        uniform(keys, Purpose.ATTENTION_TRAIT),
    )
    complaint = np.exp(
        table.complaint_dispersion[segment] * special.ndtri(uniform(keys, Purpose.COMPLAINT_PROPENSITY))
    )
    pareto = uniform(keys, Purpose.LATE_PAYMENT_TRAIT) ** (-1.0 / table.late_tail[segment])
    failed = np.minimum(table.late_scale[segment] * pareto, MAX_FAILED_PAYMENT_PROBABILITY)
    prepay = uniform(keys, Purpose.PREPAY) < prepay_uptake
    return Customers(
        keys=keys,
        seat=seats.astype(np.int64),
        segment=segment.astype(np.int64),
        join_month=joined,
        usage_level=usage,
        transaction_value=table.transaction_value[segment],
        willingness_to_pay=wtp,
        baseline_churn=churn,
        attention=attention,
        complaint_propensity=complaint,
        failed_payment=failed,
        prepay=prepay,
        original=np.full(len(keys), join_month is None),
    )


def beta_quantile(
    alpha: np.ndarray, beta: np.ndarray, segment: np.ndarray, beta_shift: np.ndarray, draw: np.ndarray
) -> np.ndarray:
    """Quantiles of Beta(alpha[segment], beta[segment] + beta_shift) at ``draw``.

    Evaluated once per distinct (segment, shift) pair: scipy's inverse incomplete beta is about
    thirty times faster with scalar shape parameters than with an array of them.
    """
    out = np.empty(len(draw))
    groups = segment.astype(np.int64) * 1_000_003 + beta_shift.astype(np.int64)
    for group in np.unique(groups):
        members = groups == group
        index = np.flatnonzero(members)[0]
        seg = segment[index]
        out[members] = special.betaincinv(alpha[seg], beta[seg] + beta_shift[index], draw[members])
    return out


def arrival_probability(
    monthly_rate: float, headline_price: float, market_price: float, elasticity: float
) -> float:
    """Probability that a seat brings a new customer this month.

    Arrivals respond to the headline price relative to the market reference price with a constant
    elasticity: rate · (price / market)^(−elasticity), capped at 1.
    """
    ratio = max(headline_price, 1e-9) / market_price
    return float(min(1.0, monthly_rate * ratio ** (-elasticity)))


def monthly_usage(customers_usage_level: np.ndarray, variation: np.ndarray, draw: np.ndarray):
    """This month's usage: the personal level times log-normal noise (median = personal level)."""
    return customers_usage_level * np.exp(variation * special.ndtri(draw))
