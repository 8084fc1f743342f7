"""How customers react to bills: reference prices, surprise, attention, complaints and churn.

Pure, vectorised functions: arrays in, arrays out. Money is in cents. This is where churn is decided
(:func:`decide_churn`) and where complaints are raised (:func:`decide_complaint`); the engine only
calls them in order, month by month.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


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


def combined_relief(*reliefs: float) -> float:
    """Share of an effect removed by several independent measures: 1 − Π(1 − r)."""
    remaining = 1.0
    for relief in reliefs:
        remaining *= 1.0 - relief
    return 1.0 - remaining


def notice_relief(notice_days: float, full_relief: float, days_scale: float) -> float:
    """Share of surprise removed by advance notice; saturates as lead time grows."""
    if notice_days <= 0:
        return 0.0
    return full_relief * (1.0 - np.exp(-notice_days / days_scale))


def saturating_effect(spend: float, maximum: float, half_effect_spend: float) -> float:
    """Effect of a spend with diminishing returns: maximum · spend / (spend + half-effect spend)."""
    return maximum * spend / (spend + half_effect_spend) if spend > 0 else 0.0


def perceived_surprise(charged_cents: np.ndarray, expected_cents: np.ndarray, relief: float) -> np.ndarray:
    """Relative amount by which a bill exceeds what the customer expected, after transparency.

    surprise = max(0, charged − expected) / expected · (1 − relief)
    """
    excess = np.maximum(charged_cents - expected_cents, 0.0)
    return excess / np.maximum(expected_cents, 100.0) * (1.0 - relief)


def update_reference(
    reference_cents: np.ndarray, charged_cents: np.ndarray, adaptation_rate: float
) -> np.ndarray:
    """Adaptive reference price: move a share of the way toward the current price."""
    return reference_cents + adaptation_rate * (charged_cents - reference_cents)


def decide_complaint(draw: np.ndarray, probabilities: tuple[np.ndarray, ...]) -> np.ndarray:
    """At most one complaint per customer and month, with its cause.

    Each cause k would on its own lead to a complaint with probability p_k; the customer complains
    with probability 1 − Π(1 − p_k) and the cause is chosen in proportion to p_k, from the same
    uniform draw (so raising any p_k never removes a complaint that would otherwise occur).

    Returns the :class:`ComplaintCause` per customer (0 = none).
    """
    clipped = [np.clip(p, 0.0, 1.0) for p in probabilities]
    stay_quiet = np.ones_like(draw)
    total = np.zeros_like(draw)
    for p in clipped:
        stay_quiet *= 1.0 - p
        total += p
    complain = 1.0 - stay_quiet
    cause = np.zeros(draw.shape, dtype=np.int64)
    scale = np.divide(complain, total, out=np.zeros_like(total), where=total > 0)
    upper = np.zeros_like(draw)
    for index, p in enumerate(clipped, start=1):
        lower = upper
        upper = lower + p * scale
        cause[(draw >= lower) & (draw < upper)] = index
    return cause


def churn_hazards(
    price_cents: np.ndarray,
    reference_cents: np.ndarray,
    willingness_to_pay_cents: np.ndarray,
    grievance: np.ndarray,
    attentive: np.ndarray,
    deterrence: np.ndarray | float,
    price_sensitivity: float,
    reference_sensitivity: float,
    reference_tolerance: float,
    loss_aversion: float,
    complaint_churn_effect: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Monthly churn hazards (cumulative-hazard units) from price, fee increases and complaints.

    price:        s_p · max(0, price / WTP − 1)
    fee increase: s_r · λ · max(0, r − τ), with r = price / reference − 1
    gains:        s_r · max(0, −r − τ) offsets the two price terms (never below zero)
    complaints:   c · grievance
    The price terms act only on attentive customers; an inert customer does not compare prices.
    ``deterrence`` (≤ 1) scales the price terms for customers an exit fee holds back.
    """
    over_wtp = price_sensitivity * np.maximum(price_cents / willingness_to_pay_cents - 1.0, 0.0)
    change = price_cents / np.maximum(reference_cents, 100.0) - 1.0
    loss = reference_sensitivity * loss_aversion * np.maximum(change - reference_tolerance, 0.0)
    gain = reference_sensitivity * np.maximum(-change - reference_tolerance, 0.0)
    gross = over_wtp + loss
    net = np.maximum(gross - gain, 0.0) * attentive * deterrence
    share_over_wtp = np.divide(over_wtp, gross, out=np.zeros_like(gross), where=gross > 0)
    return net * share_over_wtp, net * (1.0 - share_over_wtp), complaint_churn_effect * grievance


def decide_churn(
    draw: np.ndarray,
    baseline_probability: np.ndarray,
    price_hazard: np.ndarray,
    fee_increase_hazard: np.ndarray,
    complaint_hazard: np.ndarray,
) -> np.ndarray:
    """Who leaves this month, and why (:class:`ChurnCause`, 0 = stays).

    P(leave) = p + (1 − p) · (1 − exp(−H)), H = sum of the behavioural hazards. With every
    behavioural hazard at zero this is a Bernoulli(p) with the personal baseline p, so survival
    follows the shifted-beta-geometric curve. The behavioural part is split between causes in
    proportion to their hazards, using the same draw (competing risks).
    """
    total = price_hazard + fee_increase_hazard + complaint_hazard
    behavioural = (1.0 - baseline_probability) * -np.expm1(-total)
    cause = np.zeros(draw.shape, dtype=np.int64)
    cause[draw < baseline_probability] = ChurnCause.BASELINE
    offset = draw - baseline_probability
    within = (offset >= 0) & (offset < behavioural)
    if within.any():
        position = np.divide(offset, behavioural, out=np.zeros_like(offset), where=within)
        cut_price = np.divide(price_hazard, total, out=np.zeros_like(total), where=total > 0)
        cut_increase = cut_price + np.divide(
            fee_increase_hazard, total, out=np.zeros_like(total), where=total > 0
        )
        cause[within & (position < cut_price)] = ChurnCause.PRICE
        cause[within & (position >= cut_price) & (position < cut_increase)] = ChurnCause.PRICE_RISE
        cause[within & (position >= cut_increase)] = ChurnCause.COMPLAINT
    return cause
