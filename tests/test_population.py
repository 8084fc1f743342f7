"""Arrivals: newcomers respond, segment by segment, to what they would be charged (docs/model.md §3.1).

Each month a seat's prospect is of segment s with probability share_s and joins with probability
π_s = min(1, r·(B_s / M_s)^(−η)), B_s the bill a newcomer of the segment would pay at its median usage
(after an enforced legal cap) plus the amortised set-up fee, M_s = P_mkt + c·(m_s − m̄) the market
bill for that usage. Arrivals of segment s are therefore Binomial(N, share_s·π_s) each month,
independently of who is active; with paired draws a lower π_s can only remove arrivals of segment s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from montecarlo import Z
from test_engine import column, homogeneous, run

import simlib
from simlib.model.policy import Policy

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def two_segments(unit_price: float, market_unit_price: float) -> simlib.Scenario:
    """Light users inside the allowance and heavy users well above it; churn homogeneous, no effects."""
    segments = [
        {"name": "light", "share": 0.6, "usage_median_units": 5.0, "initial_tenure_max_months": 0},
        {"name": "heavy", "share": 0.4, "usage_median_units": 60.0, "initial_tenure_max_months": 0},
    ]
    for segment in segments:
        segment.update({"churn_alpha": 0.03 * 1e6, "churn_beta": 0.97 * 1e6})
    return homogeneous(0.03).with_changes(
        {
            "population.segments": segments,
            "population.arrivals": {
                "monthly_rate": 0.05,
                "price_elasticity": 1.5,
                "market_reference_price": 35.0,
                "market_unit_price": market_unit_price,
                "setup_fee_amortisation_months": 12.0,
            },
            "fees.monthly_fee": 20.0,
            "fees.included_units": 10.0,
            "fees.usage_tiers": [{"unit_price": unit_price}],
            "fees.setup_fee": 12.0,
        }
    )


SHARE = np.array([0.6, 0.4])


def expected_joining(unit_price: float, market_unit_price: float) -> np.ndarray:
    """π_s written out: B = €20 + price·(m − 10)⁺ + €12/12; m̄ = 0.6·5 + 0.4·60 = 27."""
    usage = np.array([5.0, 60.0])
    bill = 20.0 + unit_price * np.maximum(usage - 10.0, 0.0) + 1.0
    market = 35.0 + market_unit_price * (usage - 27.0)
    return 0.05 * (bill / market) ** -1.5


def test_arrivals_by_segment_follow_the_segment_bills() -> None:
    """Acquired customers of each segment, months 1…, are Binomial(N, share_s·π_s) per month."""
    customers, months, reps = 20_000, 8, 2
    scenario = two_segments(unit_price=0.5, market_unit_price=0.5)
    counts = run(scenario, customers=customers, months=months, replications=reps).counts
    acquired = column(counts, "acquired")[:, 1:, :]  # month 0 also counts the initial cohort
    rates = SHARE * expected_joining(0.5, 0.5)
    draws = acquired.shape[0] * acquired.shape[1]
    for segment, q in enumerate(rates):
        se = np.sqrt(customers * q * (1.0 - q) / draws)
        assert abs(acquired[:, :, segment].mean() - customers * q) < Z * se, segment


def test_the_arrival_mix_shifts_with_the_price_of_usage() -> None:
    """Dearer usage leaves light users' bills (inside the allowance) and so their arrivals alone and
    takes heavy users' away, so the mix of newcomers moves toward light users; with paired draws
    no light newcomer is lost and no heavy one gained."""
    for unit_price, market_unit_price in [(0.5, 0.5), (1.0, 0.5), (0.5, 0.0)]:
        policy = Policy.from_model(two_segments(unit_price, market_unit_price).realise(0), 3)
        expected = expected_joining(unit_price, market_unit_price)
        np.testing.assert_allclose(policy.arrival_probability[0], expected, rtol=1e-12)
    settings = {"customers": 8192, "months": 6, "replications": 1, "seed": 5, "progress": False}
    comparison = simlib.compare(two_segments(0.5, 0.5), two_segments(1.0, 0.5), **settings)
    cheap = column(comparison.baseline.counts, "acquired")[:, 1:]
    dear = column(comparison.reform.counts, "acquired")[:, 1:]
    np.testing.assert_array_equal(dear[..., 0], cheap[..., 0])
    assert (dear[..., 1] <= cheap[..., 1]).all() and dear[..., 1].sum() < cheap[..., 1].sum()
    assert dear[..., 0].sum() / dear.sum() > cheap[..., 0].sum() / cheap.sum()


def test_a_cap_that_lowers_bills_does_not_lower_arrivals() -> None:
    """The €45 cap of ``regulatory_fee_cap`` lowers only heavy users' bills (€55 at median usage):
    heavy prospects arrive more, no one less. With paired draws a seat arrives iff u < π_s, so a higher
    π_s can only add arrivals: the reform's acquired customers are at least the baseline's every month
    and segment.
    (Under the old share-weighted headline price, €32.13 < €45, the cap changed no arrival.)"""
    base = simlib.load(SCENARIOS / "baseline.yaml")
    capped = simlib.load(SCENARIOS / "regulatory_fee_cap.yaml")
    base_policy = Policy.from_model(base.realise(0, 1), 3)
    capped_policy = Policy.from_model(capped.realise(0, 1), 3)
    heavy = -1
    np.testing.assert_array_equal(
        capped_policy.arrival_probability[0, :heavy], base_policy.arrival_probability[0, :heavy]
    )
    assert capped_policy.arrival_probability[0, heavy] > base_policy.arrival_probability[0, heavy]
    comparison = simlib.compare(
        base, capped, customers=8192, months=6, replications=1, seed=3, progress=False
    )
    before = column(comparison.baseline.counts, "acquired")
    after = column(comparison.reform.counts, "acquired")
    assert (after[:, 1:] >= before[:, 1:]).all()  # every month and segment
    assert after[:, 1:].sum() > before[:, 1:].sum()
    heavy_before = column(comparison.baseline.counts, "acquired")[:, 1:, heavy].sum()
    heavy_after = column(comparison.reform.counts, "acquired")[:, 1:, heavy].sum()
    assert heavy_after > heavy_before


def test_grandfathering_does_not_change_arrivals_when_newcomers_get_the_same_tariff() -> None:
    """``fee_increase_grandfathered`` and ``fee_increase_with_notice`` offer newcomers the same €28
    tariff from month 6; only existing customers differ. Arrivals depend on the newcomer tariff alone,
    so every month's and segment's acquired customers and set-up revenue are identical."""
    settings = {"customers": 8192, "months": 10, "replications": 1, "seed": 4, "progress": False}
    kept = simlib.simulate(simlib.load(SCENARIOS / "fee_increase_grandfathered.yaml"), **settings).counts
    raised = simlib.simulate(simlib.load(SCENARIOS / "fee_increase_with_notice.yaml"), **settings).counts
    for name in ("acquired", "revenue_setup_cents"):
        np.testing.assert_array_equal(column(kept, name), column(raised, name))
    # Not vacuous: existing customers fared differently.
    assert not np.array_equal(column(kept, "churned"), column(raised, "churned"))
