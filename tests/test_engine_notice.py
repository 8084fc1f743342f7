"""Notice of a fee change: what it tells customers, whom it wakes up, whom it lets go (docs/model.md §3.4,
§3.8, §3.12).

A notice of d days announces the share ν(d) = 1 − e^(−d/D) of a rise Δ: the reference price takes up
A·ν·Δ of it (A = ``behaviour.notice_reference_anticipation``), the rest of the announced part is
expected on the bill (no surprise) but still felt as a loss; the notified customer is attentive for
``behaviour.fee_change_notice_attention_months`` months; a rise lets customers in their minimum term
leave without the early-termination fee in the month it takes effect (``compliance.
penalty_free_exit_on_rise``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from montecarlo import Z
from test_engine import K, column, run

import simlib
from simlib.model.counts import INDEX

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


def flat_price(p: float, notice_days: int, rise_to: float) -> simlib.Scenario:
    """One segment whose bill is exactly the €25 subscription (usage fixed inside the allowance),
    homogeneous baseline churn p, willingness to pay far above any price, only the loss-aversion
    channel on; the fee rises to ``rise_to`` in month 3 with ``notice_days`` of notice."""
    return simlib.from_dict(
        {
            "simulation": {"warm_up_months": 0},
            "population": {
                "segments": [
                    {
                        "name": "all",
                        "usage_median_units": 5.0,
                        "usage_dispersion": 0.0,
                        "usage_monthly_variation": 0.0,
                        "willingness_to_pay_median": 10_000.0,
                        "churn_alpha": p * K,
                        "churn_beta": (1.0 - p) * K,
                        "initial_tenure_max_months": 0,
                    }
                ],
                "arrivals": {"monthly_rate": 0.0},
            },
            "fees": {"monthly_fee": 25.0, "included_units": 10.0},
            "behaviour": {
                "price_sensitivity": 0.0,
                "reference_sensitivity": 0.3,
                "loss_aversion": 2.25,
                "reference_tolerance": 0.02,
                "complaint_churn_effect": 0.0,
                "surprise_attention_threshold": 0.1,
            },
            "fee_changes": [{"month": 3, "notice_days": notice_days, "set": {"monthly_fee": rise_to}}],
        },
        name=f"flat_{notice_days}",
    )


@pytest.mark.parametrize(("notice_days", "anticipation"), [(0, 0.3), (30, 0.3), (30, 0.0), (60, 0.5)])
def test_notice_moves_the_reference_by_a_share_of_the_announced_rise(notice_days: int, anticipation: float):
    """€25 → €30 in month 3. Every customer is attentive that month — notified ones by the notice,
    the others by the 20% bill shock — so price-rise leavers in month 3 are Binomial(N₃, (1 − p)(1 − e^−H))
    with H = s_r·λ·(30 / (25 + A·ν(d)·5) − 1 − τ), ν(d) = 1 − e^(−d/14)."""
    p, customers, reps = 0.02, 20_000, 2
    scenario = flat_price(p, notice_days, 30.0).with_changes(
        {"behaviour.notice_reference_anticipation": anticipation}
    )
    counts = run(scenario, customers=customers, months=5, replications=reps).counts
    assert column(counts, "attentive_customers")[:, 3].sum() == column(counts, "active")[:, 3].sum()
    relief = 1.0 - math.exp(-notice_days / 14.0)
    reference = 25.0 + anticipation * relief * 5.0
    hazard = 0.3 * 2.25 * max(30.0 / reference - 1.0 - 0.02, 0.0)
    probability = (1.0 - p) * -math.expm1(-hazard)
    active = column(counts, "active")[:, 3].sum()
    left = column(counts, "churned_price_rise")[:, 3].sum()
    assert abs(left - active * probability) < Z * math.sqrt(active * probability * (1.0 - probability))
    # The full relief of before (reference moved by ν·Δ: 88% of the rise at 30 days) would be far off.
    if notice_days == 30 and anticipation > 0:
        old = (1.0 - p) * -math.expm1(-0.3 * 2.25 * max(30.0 / (25.0 + relief * 5.0) - 1.02, 0.0))
        assert abs(left - active * old) > 3 * Z * math.sqrt(active * old * (1.0 - old))


def test_notice_still_spares_surprise_and_fee_increase_complaints():
    """The announced part of the rise is expected: fewer surprise and fee-increase complaints with
    30 days' notice than without, from the same customers and draws."""
    settings = {"customers": 20_000, "months": 5, "replications": 2}
    surprised = {}
    for notice_days in (0, 30):
        scenario = flat_price(0.02, notice_days, 30.0).with_changes(
            {"behaviour.surprise_complaint_rate": 0.3}
        )
        counts = run(scenario, **settings).counts
        surprised[notice_days] = (
            column(counts, "complaints_surprise")[:, 3].sum(),
            column(counts, "complaints_fee_increase")[:, 3].sum(),
        )
    assert surprised[30][0] < surprised[0][0] / 5 and surprised[30][1] < surprised[0][1] / 5
    assert surprised[0][0] > 100 and surprised[0][1] > 100


def contact_scenarios(notice_days: int = 30) -> tuple[simlib.Scenario, simlib.Scenario]:
    """The baseline without arrivals (so month 6's customers are one cohort in both runs), and the same
    with a contact in month 6: a fee change that keeps the fee (rise 0) but is announced."""
    base = simlib.load(BASELINE).with_changes({"population.arrivals.monthly_rate": 0.0})
    contact = base.with_changes(
        {"fee_changes": [{"month": 6, "notice_days": notice_days, "set": {"monthly_fee": 25.0}}]}
    )
    return base, contact


def three_month_churn(counts: np.ndarray) -> tuple[float, float]:
    """Leavers in months 6–8 over the customers active in month 6 (all replications), and that count."""
    active = counts[:, 6, :, INDEX["active"]].sum()
    return counts[:, 6:9, :, INDEX["churned"]].sum() / active, active


def test_contacting_inert_customers_raises_churn_as_ascarza_et_al_found():
    """Ascarza, Iyengar & Schleicher (2016, JMR 53(1)): contacting customers about their plan raised
    three-month churn from 6.4% to 10.0% (ratio 1.56). Here a notice that changes no price reaches
    every customer in month 6; it makes them attentive for three months, so those whose price exceeds
    their willingness to pay act on it. Same seed: both runs have the same customers up to month 6.

    Band for the ratio, 1.2 to 3: the model gives about 1.4 (docs/model.md §11). Its Monte Carlo
    error is small — 3-month churn ≈ 5.6% of ≈ 30,700 customer-replications, a binomial se of
    0.13 points on each rate, about 0.03 on the ratio, and the runs are paired — so the band tests
    the order of magnitude, not noise: 1.2 is the ratio's lower end where the effect would be a
    third of the paper's excess (0.2 vs 0.56), 3 is about twice the paper's excess above its ratio.
    """
    base, contact = contact_scenarios()
    settings = {"customers": 20_000, "months": 10, "replications": 2, "seed": 11}
    before = run(base, **settings).counts
    after = run(contact, **settings).counts
    # Nothing differs before the contact.
    np.testing.assert_array_equal(before[:, :6], after[:, :6])
    rate_before, active = three_month_churn(before)
    rate_after, same = three_month_churn(after)
    assert active == same
    se = math.sqrt(rate_before * (1 - rate_before) / active) / rate_before
    assert 1.2 < rate_after / rate_before < 3.0
    assert rate_after / rate_before - 1.0 > Z * se * math.sqrt(2)
    # Through willingness to pay (attention), not through a rise: there is none.
    rise = column(after, "churned_price_rise")[:, 6:9].sum()
    assert rise == 0 and column(after, "fee_increases_experienced").sum() == 0
    assert column(after, "churned_price")[:, 6:9].sum() > 2 * column(before, "churned_price")[:, 6:9].sum()
    # Without the lasting attention (one month only) the effect is smaller.
    short = run(contact.with_changes({"behaviour.fee_change_notice_attention_months": 1}), **settings).counts
    assert three_month_churn(short)[0] < rate_after


def term_scenario(waive: bool) -> simlib.Scenario:
    """Everyone in a 24-month minimum term with a €60 exit fee; €25 → €32 in month 3, 30 days' notice."""
    return simlib.load(BASELINE).with_changes(
        {
            "simulation.warm_up_months": 0,
            "population.arrivals.monthly_rate": 0.0,
            "population.segments.light.initial_tenure_max_months": 0,
            "population.segments.standard.initial_tenure_max_months": 0,
            "population.segments.heavy.initial_tenure_max_months": 0,
            "fees.early_termination_fee": 60.0,
            "fees.minimum_term_months": 24,
            "compliance.penalty_free_exit_on_rise": waive,
            "fee_changes": [{"month": 3, "notice_days": 30, "set": {"monthly_fee": 32.0}}],
        }
    )


def test_a_rise_opens_a_penalty_free_exit_in_its_month():
    """With the exit window, no one leaving in month 3 pays the exit fee and the fee no longer holds
    anyone back, so (same draws, weakly higher hazards) at least as many leave as without it; before
    month 3 the runs are identical, and the fee is charged again from month 4."""
    settings = {"customers": 8192, "months": 6, "replications": 1, "seed": 7}
    on = run(term_scenario(True), **settings).counts
    off = run(term_scenario(False), **settings).counts
    np.testing.assert_array_equal(on[:, :3], off[:, :3])
    fee = column(on, "revenue_early_termination_cents").sum(axis=2)
    assert fee[:, 3].sum() == 0 and fee[:, 4].sum() > 0
    assert column(off, "revenue_early_termination_cents")[:, 3].sum() > 0
    left_on = column(on, "churned").sum(axis=2)[:, 3]
    left_off = column(off, "churned").sum(axis=2)[:, 3]
    assert (left_on >= left_off).all() and left_on.sum() > left_off.sum()
