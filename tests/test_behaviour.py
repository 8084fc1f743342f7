"""Unit tests of the pure behavioural functions (:mod:`simlib.model.behaviour`).

Exact properties are checked per draw; distributional ones on n independent uniforms with a
tolerance of Z = 4 binomial standard errors. Seeds are fixed.
"""

from __future__ import annotations

import numpy as np
import pytest
from montecarlo import Z, binomial_close
from numba import njit, vectorize

from simlib.model import behaviour
from simlib.model.behaviour import ChurnCause, ComplaintCause

N = 400_000

# The model's functions decide for one customer; these apply them to arrays of customers.
decide_churn = vectorize(["int64(float64, float64, float64, float64, float64)"])(
    lambda draw, p, price, rise, complaint: behaviour.decide_churn(draw, p, price, rise, complaint)
)
_decide_complaint = vectorize(["int64(float64, float64, float64, float64, float64)"])(
    lambda draw, p1, p2, p3, p4: behaviour.decide_complaint(draw, p1, p2, p3, p4)
)
perceived_surprise = vectorize(["float64(float64, float64, float64)"])(
    lambda charged, expected, relief: behaviour.perceived_surprise(charged, expected, relief)
)
update_reference = vectorize(["float64(float64, float64, float64)"])(
    lambda reference, price, rate: behaviour.update_reference(reference, price, rate)
)


def decide_complaint(draw: np.ndarray, probabilities: tuple) -> np.ndarray:
    """One complaint decision per draw; causes not given have probability 0."""
    return _decide_complaint(draw, *probabilities, *([0.0] * (4 - len(probabilities))))


@njit
def _churn_hazards(bill, reference, wtp, grievance, attentive, deterrence, s_p, s_r, tau, lam, c):
    out = np.empty((3, len(bill)))
    for i in range(len(bill)):
        out[:, i] = behaviour.churn_hazards(
            bill[i], reference[i], wtp[i], grievance[i], attentive[i], deterrence, s_p, s_r, tau, lam, c
        )
    return out


# --------------------------------------------------------------------------- decide_churn


def test_churn_without_behavioural_hazard_is_bernoulli_per_draw(rng) -> None:
    draw = rng.random(N)
    p = rng.beta(0.9, 28.0, N)
    zero = np.zeros(N)
    cause = decide_churn(draw, p, zero, zero, zero)
    # Exactly: leaves (for baseline reasons) if and only if the draw is below p.
    np.testing.assert_array_equal(cause == ChurnCause.BASELINE, draw < p)
    np.testing.assert_array_equal(cause > 0, draw < p)
    # Boundary draws: exactly p stays (the interval is half-open).
    edge = decide_churn(np.array([0.25, 0.2499999]), np.array([0.25, 0.25]), *[np.zeros(2)] * 3)
    assert edge.tolist() == [0, ChurnCause.BASELINE]
    # And in distribution, for a homogeneous p.
    flat = decide_churn(draw, np.full(N, 0.03), zero, zero, zero)
    assert binomial_close((flat > 0).sum(), N, 0.03)


def test_churn_probability_with_hazards(rng) -> None:
    draw = rng.random(N)
    p, price, rise, complaint = 0.02, 0.05, 0.1, 0.15
    total = price + rise + complaint
    cause = decide_churn(draw, np.full(N, p), np.full(N, price), np.full(N, rise), np.full(N, complaint))
    leave = p + (1 - p) * (1 - np.exp(-total))
    assert binomial_close((cause > 0).sum(), N, leave)
    # Per draw: leaves iff draw < p + (1 − p)(1 − e^−H) (away from rounding at the boundary).
    clear = np.abs(draw - leave) > 1e-12
    np.testing.assert_array_equal((cause > 0)[clear], (draw < leave)[clear])
    # Cause shares: baseline p, the rest split in proportion to the hazards.
    behavioural = (1 - p) * (1 - np.exp(-total))
    for kind, share in (
        (ChurnCause.BASELINE, p),
        (ChurnCause.PRICE, behavioural * price / total),
        (ChurnCause.PRICE_RISE, behavioural * rise / total),
        (ChurnCause.COMPLAINT, behavioural * complaint / total),
    ):
        assert binomial_close((cause == kind).sum(), N, share), kind


def test_churn_cause_shares_follow_hazards_per_customer(rng) -> None:
    """Heterogeneous hazards: conditional on leaving for behavioural reasons, the chance that the
    cause is k is h_k / H for each customer; summed over customers the expected count of cause k is
    Σ (1 − p)(1 − e^−H) h_k / H, a sum of independent Bernoulli trials."""
    draw = rng.random(N)
    p = rng.beta(0.9, 28.0, N)
    hazards = [rng.exponential(0.05, N) * (rng.random(N) < 0.5) for _ in range(3)]
    total = sum(hazards)
    cause = decide_churn(draw, p, *hazards)
    behavioural = (1 - p) * -np.expm1(-total)
    safe = np.where(total > 0, total, 1.0)
    for kind, h in zip((ChurnCause.PRICE, ChurnCause.PRICE_RISE, ChurnCause.COMPLAINT), hazards, strict=True):
        q = behavioural * h / safe
        expected, var = q.sum(), (q * (1 - q)).sum()
        assert abs((cause == kind).sum() - expected) <= Z * np.sqrt(var), kind
    # No behavioural cause without a behavioural hazard.
    assert np.all(cause[total == 0] <= ChurnCause.BASELINE)


def test_raising_a_hazard_never_removes_a_churn(rng) -> None:
    n = 100_000
    draw = rng.random(n)
    p = rng.beta(0.9, 28.0, n)
    hazards = [rng.exponential(0.1, n) for _ in range(3)]
    before = decide_churn(draw, p, *hazards) > 0
    for index in range(3):
        raised = list(hazards)
        raised[index] = hazards[index] + rng.exponential(0.2, n)
        after = decide_churn(draw, p, *raised) > 0
        assert np.all(after >= before), index
        assert after.sum() > before.sum()
    # Raising the baseline probability never removes a churn either.
    after = decide_churn(draw, np.minimum(p + 0.05, 1.0), *hazards) > 0
    assert np.all(after >= before)
    # Baseline churn is never relabelled by a behavioural hazard.
    baseline_only = decide_churn(draw, p, *[np.zeros(n)] * 3) == ChurnCause.BASELINE
    with_hazards = decide_churn(draw, p, *hazards) == ChurnCause.BASELINE
    np.testing.assert_array_equal(baseline_only, with_hazards)


# --------------------------------------------------------------------------- decide_complaint


def test_complaint_single_cause_is_bernoulli_per_draw(rng) -> None:
    draw = rng.random(N)
    p = rng.random(N) * 0.2
    zero = np.zeros(N)
    cause = decide_complaint(draw, (zero, p, zero, zero))
    np.testing.assert_array_equal(cause > 0, draw < p)
    assert np.all(cause[cause > 0] == ComplaintCause.BILLING_ERROR)
    assert np.all(decide_complaint(draw, (zero, zero, zero, zero)) == 0)


def test_complaint_probability_and_cause_shares(rng) -> None:
    draw = rng.random(N)
    probabilities = (0.03, 0.1, 0.02, 0.05)
    arrays = tuple(np.full(N, q) for q in probabilities)
    cause = decide_complaint(draw, arrays)
    complain = 1 - np.prod([1 - q for q in probabilities])
    assert binomial_close((cause > 0).sum(), N, complain)
    for kind, q in enumerate(probabilities, start=1):
        assert binomial_close((cause == kind).sum(), N, complain * q / sum(probabilities)), kind
    # Probabilities outside [0, 1] are clipped: certain complaint, impossible cause.
    certain = decide_complaint(draw[:1000], (np.full(1000, 1.7), np.full(1000, -0.3)))
    assert np.all(certain == ComplaintCause.SURPRISE)


def test_raising_a_complaint_probability_never_removes_a_complaint(rng) -> None:
    n = 100_000
    draw = rng.random(n)
    probabilities = [rng.random(n) * 0.1 for _ in range(4)]
    before = decide_complaint(draw, tuple(probabilities)) > 0
    for index in range(4):
        raised = list(probabilities)
        raised[index] = probabilities[index] + rng.random(n) * 0.2
        after = decide_complaint(draw, tuple(raised)) > 0
        assert np.all(after >= before), index
        assert after.sum() > before.sum()


# --------------------------------------------------------------------------- churn_hazards


def _hazards(bill, reference, wtp=4000.0, attentive=True, deterrence=1.0, grievance=0.0, **kwargs):
    parameters = {
        "price_sensitivity": 0.5,
        "reference_sensitivity": 0.3,
        "reference_tolerance": 0.1,
        "loss_aversion": 2.25,
        "complaint_churn_effect": 0.12,
    }
    parameters.update(kwargs)
    bill = np.atleast_1d(np.asarray(bill, dtype=float))
    price, rise, complaint = _churn_hazards(
        bill,
        np.broadcast_to(np.asarray(reference, dtype=float), bill.shape).copy(),
        np.broadcast_to(np.asarray(wtp, dtype=float), bill.shape).copy(),
        np.broadcast_to(np.asarray(grievance, dtype=float), bill.shape).copy(),
        np.broadcast_to(np.asarray(attentive, dtype=bool), bill.shape).copy(),
        float(deterrence),
        *parameters.values(),
    )
    return price, rise, complaint


def test_loss_aversion_a_rise_hurts_lambda_times_an_equal_fall() -> None:
    """With the bill fixed above willingness to pay (so the price hazard can absorb relief), a
    relative change x beyond the tolerance τ against the reference adds s_r·λ·(x − τ) when it is a
    rise and removes s_r·(x − τ) when it is a fall."""
    bill, wtp, s_r, tau, lam = 6000.0, 4000.0, 0.3, 0.1, 2.25
    neutral = sum(h[0] for h in _hazards(bill, bill, wtp)[:2])
    assert neutral == pytest.approx(0.5 * (bill / wtp - 1.0))
    for x in (0.15, 0.2, 0.3):
        rise = sum(h[0] for h in _hazards(bill, bill / (1 + x), wtp)[:2]) - neutral
        fall = neutral - sum(h[0] for h in _hazards(bill, bill / (1 - x), wtp)[:2])
        assert rise == pytest.approx(s_r * lam * (x - tau), rel=1e-12)
        assert fall == pytest.approx(s_r * (x - tau), rel=1e-12)
        assert rise / fall == pytest.approx(lam, rel=1e-12)


def test_changes_within_the_tolerance_band_do_not_matter() -> None:
    bill = 3000.0
    neutral = _hazards(bill, bill)
    assert all(h[0] == 0 for h in neutral)  # below WTP, no change, no grievance
    for x in (-0.1, -0.05, 0.0, 0.05, 0.0999):
        price, rise, _ = _hazards(bill, bill / (1 + x))
        assert price[0] == 0 and rise[0] == 0, x
    price, rise, _ = _hazards(bill, bill / 1.2)
    assert price[0] == 0
    assert rise[0] == pytest.approx(0.3 * 2.25 * (0.2 - 0.1))


def test_gains_never_make_hazards_negative_and_split_is_proportional() -> None:
    bill = np.linspace(1000.0, 9000.0, 81)
    for reference in (500.0, 3000.0, 20000.0):
        price, rise, complaint = _hazards(bill, reference)
        assert np.all(price >= 0) and np.all(rise >= 0) and np.all(complaint == 0)
    # Price over WTP and a rise together: the net hazard is split in proportion to the gross terms.
    price, rise, _ = _hazards(6000.0, 4000.0)
    over_wtp, loss = 0.5 * (6000 / 4000 - 1), 0.3 * 2.25 * (6000 / 4000 - 1 - 0.1)
    assert price[0] == pytest.approx(over_wtp)
    assert rise[0] == pytest.approx(loss)


def test_inattentive_and_deterred_customers() -> None:
    price, rise, complaint = _hazards(6000.0, 4000.0, attentive=False, grievance=2.0)
    assert price[0] == 0 and rise[0] == 0
    # Complaints drive churn whether or not the customer looks at the bill.
    assert complaint[0] == pytest.approx(0.12 * 2.0)
    full_price, full_rise, _ = _hazards(6000.0, 4000.0)
    held_price, held_rise, _ = _hazards(6000.0, 4000.0, deterrence=0.4)
    assert held_price[0] == pytest.approx(0.4 * full_price[0])
    assert held_rise[0] == pytest.approx(0.4 * full_rise[0])


def test_hazards_are_monotone_in_the_bill() -> None:
    bill = np.linspace(1000.0, 12000.0, 200)
    price, rise, _ = _hazards(bill, 3000.0)
    total = price + rise
    assert np.all(np.diff(total) >= -1e-15)


# --------------------------------------------------------------------------- small pieces


def test_surprise_relief_and_reference() -> None:
    charged = np.array([2000.0, 3000.0, 4000.0, 50.0])
    expected = np.array([3000.0, 3000.0, 3000.0, 0.0])
    surprise = perceived_surprise(charged, expected, 0.0)
    np.testing.assert_allclose(surprise, [0.0, 0.0, 1 / 3, 0.5])
    np.testing.assert_allclose(perceived_surprise(charged, expected, 0.25), 0.75 * surprise)
    updated = update_reference(expected, charged, 0.3)
    np.testing.assert_allclose(updated, expected + 0.3 * (charged - expected))
    assert behaviour.combined_relief(0.3, 0.5) == pytest.approx(1 - 0.7 * 0.5)
    assert behaviour.combined_relief() == 0.0
    assert behaviour.notice_relief(0, 0.5, 3.0) == 0.0
    assert behaviour.notice_relief(3, 0.5, 3.0) == pytest.approx(0.5 * (1 - np.exp(-1)))
    assert behaviour.notice_relief(1e6, 0.5, 3.0) == pytest.approx(0.5)
    assert behaviour.saturating_effect(0.2, 0.3, 0.2) == pytest.approx(0.15)
    assert behaviour.saturating_effect(0.0, 0.3, 0.2) == 0.0
