"""How customers react to bills: reference prices, surprise, attention, complaints and churn.

Pure functions of one customer's numbers, compiled with Numba and called per customer by the
engine's monthly steps (:mod:`simlib.model.engine`). Money is in cents. This is where churn is
decided (:func:`decide_churn`) and where complaints are raised (:func:`decide_complaint`); the engine
only calls them in order, month by month. The scalar helpers that combine scenario levers
(:func:`combined_relief`, :func:`notice_relief`, :func:`saturating_effect`) run once per run in
plain Python.
"""

from __future__ import annotations

import math
from enum import IntEnum

from numba import njit


class ChurnCause(IntEnum):
    """Why a customer left (0 = stayed)."""

    BASELINE = 1
    PRICE = 2
    PRICE_RISE = 3
    COMPLAINT = 4


class ComplaintCause(IntEnum):
    """What a complaint is about (0 = no complaint)."""

    SURPRISE = 1
    BILLING_ERROR = 2
    FEE_INCREASE = 3
    PENALTY_FEE = 4


# Numba freezes module globals as constants: plain ints read best in the compiled functions.
STAYED, LEFT_BASELINE, LEFT_PRICE, LEFT_PRICE_RISE, LEFT_COMPLAINT = 0, 1, 2, 3, 4
NO_COMPLAINT, SURPRISE, BILLING_ERROR, FEE_INCREASE, PENALTY_FEE = 0, 1, 2, 3, 4


def combined_relief(*reliefs: float) -> float:
    """Share of an effect removed by several independent measures: 1 − Π(1 − r)."""
    remaining = 1.0
    for relief in reliefs:
        remaining *= 1.0 - relief
    return 1.0 - remaining


def notice_relief(notice_days: float, full_relief: float, days_scale: float) -> float:
    """Share of surprise removed by advance notice; saturates as lead time grows:
    full_relief · (1 − exp(−notice_days / days_scale)), 0 without notice."""
    if notice_days <= 0:
        return 0.0
    return full_relief * (1.0 - math.exp(-notice_days / days_scale))


def saturating_effect(spend: float, maximum: float, half_effect_spend: float) -> float:
    """Effect of a spend with diminishing returns: maximum · spend / (spend + half-effect spend)."""
    return maximum * spend / (spend + half_effect_spend) if spend > 0 else 0.0


@njit(error_model="numpy")
def perceived_surprise(charged_cents: float, expected_cents: float, relief: float) -> float:
    """Relative amount by which a bill exceeds what the customer expected, after transparency.

    surprise = max(0, charged − expected) / max(expected, 100) · (1 − relief)
    """
    excess = max(charged_cents - expected_cents, 0.0)
    return excess / max(expected_cents, 100.0) * (1.0 - relief)


@njit(error_model="numpy")
def update_reference(reference_cents: float, price_cents: float, adaptation_rate: float) -> float:
    """Adaptive reference price: R ← R + a · (P − R), a share of the way toward the current price."""
    return reference_cents + adaptation_rate * (price_cents - reference_cents)


@njit(error_model="numpy")
def decide_complaint(
    draw: float, surprise: float, billing_error: float, fee_increase: float, penalty_fee: float
) -> int:
    """At most one complaint per customer and month, with its cause (:class:`ComplaintCause`, 0 = none).

    Each cause k would on its own lead to a complaint with probability p_k (clipped to [0, 1]);
    the customer complains with probability 1 − Π(1 − p_k) and the cause is chosen in proportion
    to p_k, from the same uniform draw: cause k iff the draw falls in the k-th of consecutive
    intervals of widths p_k · (1 − Π(1 − p_j)) / Σ p_j. Raising any p_k never removes a complaint
    that would otherwise occur.
    """
    p1 = min(max(surprise, 0.0), 1.0)
    p2 = min(max(billing_error, 0.0), 1.0)
    p3 = min(max(fee_increase, 0.0), 1.0)
    p4 = min(max(penalty_fee, 0.0), 1.0)
    total = p1 + p2 + p3 + p4
    if total <= 0.0:
        return NO_COMPLAINT
    complain = 1.0 - (1.0 - p1) * (1.0 - p2) * (1.0 - p3) * (1.0 - p4)
    scale = complain / total
    upper = p1 * scale
    if draw < upper:
        return SURPRISE
    upper = upper + p2 * scale
    if draw < upper:
        return BILLING_ERROR
    upper = upper + p3 * scale
    if draw < upper:
        return FEE_INCREASE
    upper = upper + p4 * scale
    if draw < upper:
        return PENALTY_FEE
    return NO_COMPLAINT


@njit(error_model="numpy")
def churn_hazards(
    price_cents: float,
    reference_cents: float,
    willingness_to_pay_cents: float,
    grievance: float,
    attentive: bool,
    deterrence: float,
    price_sensitivity: float,
    reference_sensitivity: float,
    reference_tolerance: float,
    loss_aversion: float,
    complaint_churn_effect: float,
) -> tuple[float, float, float]:
    """Monthly churn hazards (cumulative-hazard units) from price, fee increases and complaints.

    price:        s_p · max(0, price / WTP − 1)
    fee increase: s_r · λ · max(0, r − τ), with r = price / max(reference, 100) − 1
    gains:        s_r · max(0, −r − τ) offsets the two price terms (never below zero)
    complaints:   c · grievance
    The price terms act only on attentive customers; an inert customer does not compare prices.
    ``deterrence`` (≤ 1) scales the price terms for customers an exit fee holds back. Returns
    (price hazard, fee-increase hazard, complaint hazard).
    """
    over_wtp = price_sensitivity * max(price_cents / willingness_to_pay_cents - 1.0, 0.0)
    change = price_cents / max(reference_cents, 100.0) - 1.0
    loss = reference_sensitivity * loss_aversion * max(change - reference_tolerance, 0.0)
    gain = reference_sensitivity * max(-change - reference_tolerance, 0.0)
    gross = over_wtp + loss
    net = max(gross - gain, 0.0) * (1.0 if attentive else 0.0) * deterrence
    share_over_wtp = over_wtp / gross if gross > 0.0 else 0.0
    return net * share_over_wtp, net * (1.0 - share_over_wtp), complaint_churn_effect * grievance


@njit(error_model="numpy")
def decide_churn(
    draw: float,
    baseline_probability: float,
    price_hazard: float,
    fee_increase_hazard: float,
    complaint_hazard: float,
) -> int:
    """Whether the customer leaves this month, and why (:class:`ChurnCause`, 0 = stays).

    P(leave) = p + (1 − p) · (1 − exp(−H)), H = sum of the behavioural hazards. With every
    behavioural hazard at zero this is a Bernoulli(p) with the personal baseline p, so survival
    follows the shifted-beta-geometric curve. The behavioural part is split between causes in
    proportion to their hazards, using the same draw (competing risks): the customer leaves for
    baseline reasons iff draw < p, for behavioural ones iff p ≤ draw < p + (1 − p)(1 − e^−H).
    """
    if draw < baseline_probability:
        return LEFT_BASELINE
    total = price_hazard + fee_increase_hazard + complaint_hazard
    behavioural = (1.0 - baseline_probability) * -math.expm1(-total)
    offset = draw - baseline_probability
    if not (offset < behavioural):
        return STAYED
    position = offset / behavioural
    cut_price = price_hazard / total if total > 0.0 else 0.0
    cut_increase = cut_price + (fee_increase_hazard / total if total > 0.0 else 0.0)
    if position < cut_price:
        return LEFT_PRICE
    if position < cut_increase:
        return LEFT_PRICE_RISE
    return LEFT_COMPLAINT
