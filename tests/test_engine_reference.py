"""The compiled engine against a slow plain-Python reference written from docs/model.md.

The reference (``reference_model.py``) draws with its own hash and SciPy's inverse CDFs and follows
the document one customer at a time. Both must agree on every count of every month and segment.
The only source of disagreement is the last bit of a floating-point number: SciPy's ``betaincinv``
and the engine's compiled Beta quantile agree to about 1e-12, so a decision ``u < p`` could in
principle flip where u lies within 1e-12 of p; over a few thousand customer-months that has a
chance of about 1e-8, so any difference fails the test.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from reference_model import simulate as reference
from test_engine import busy

import simlib
from simlib.model.counts import COUNTED

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
SEATS, MONTHS, SEED = 300, 12, 5


def scenarios() -> dict[str, simlib.Scenario]:
    base = simlib.load(BASELINE)
    return {
        "baseline": base,
        "busy": busy(),
        "notice_and_caps": base.with_changes(
            {
                "fees.penalty_fee": 9,
                "compliance.enforcement": "fine",
                "compliance.fee_cap": 26,
                "compliance.minimum_notice_days": 30,
                "transparency.pre_deduction_notice_days": 3,
                "education.spend_per_customer_month": 0.2,
                "billing.staff_training": True,
                "fee_changes": [
                    {"month": 2, "notice_days": 14, "set": {"monthly_fee": 30}},
                    {
                        "month": 5,
                        "notice_days": 60,
                        "set": {"usage_tiers": [{"up_to": 20, "unit_price": 0.4}, {"unit_price": 0.7}]},
                    },
                ],
            }
        ),
    }


@pytest.mark.parametrize("name", ["baseline", "busy", "notice_and_caps"])
def test_engine_agrees_with_the_plain_python_reference_on_every_count(name: str) -> None:
    scenario = scenarios()[name]
    engine = simlib.simulate(
        scenario, customers=SEATS, months=MONTHS, replications=1, seed=SEED, progress=False
    )
    expected = reference(scenario.realise(0, SEED), SEATS, MONTHS, SEED)
    got = engine.counts[0]
    differing = [
        (COUNTED[m], month, segment, got[month, segment, m], expected[month, segment, m])
        for month, segment, m in zip(*np.nonzero(got != expected), strict=True)
    ]
    assert not differing, differing[:10]
    # The comparison is not vacuous: every mechanism the scenario switches on was exercised.
    totals = dict(zip(COUNTED, got.sum(axis=(0, 1)), strict=True))
    assert totals["active"] > SEATS * MONTHS * 0.5
    assert totals["churned"] > 0 and totals["acquired"] > 0 and totals["complaints"] > 0
    if name != "baseline":
        assert totals["failed_payments"] > 0 and totals["fee_increases_experienced"] > 0
    if name == "notice_and_caps":
        assert totals["fee_change_notices"] > 0 and totals["notice_breaches"] > 0
        assert totals["fee_cap_breaches"] > 0


def test_a_paired_comparison_agrees_with_the_reference_over_several_pools() -> None:
    """The reform run of a comparison starts from the baseline's warm-up and replaces it at month 0;
    a reform that changes segment traits (transaction value, usage variation) changes them only
    for customers arriving from month 0 on. Two service pools with tight capacity and many
    arrivals, so that pool-level handling and the growth of a pool's arrays are exercised."""
    base = simlib.load(BASELINE).with_changes(
        {
            "simulation.warm_up_months": 3,
            "fees.transaction_fee_percent": 2.0,
            "population.arrivals.monthly_rate": 0.3,
            "complaint_handling.capacity_per_1000_customers": 2,
            "compliance.minimum_notice_days": 14,
        }
    )
    reform = base.with_changes(
        {
            "fees.monthly_fee": 29,
            "fees.penalty_fee": 7,
            "population.segments.light.average_transaction_value": 3.5,
            "population.segments.heavy.usage_monthly_variation": 0.9,
        }
    )
    seats, months = 4096 + 500, 5
    comparison = simlib.compare(
        base, reform, customers=seats, months=months, replications=1, seed=SEED, progress=False
    )
    base_model, reform_model = base.realise(0, SEED), reform.realise(0, SEED)
    expected_base = reference(base_model, seats, months, SEED)
    expected_reform = reference(reform_model, seats, months, SEED, warm_up_model=base_model)
    np.testing.assert_array_equal(comparison.baseline.counts[0], expected_base)
    np.testing.assert_array_equal(comparison.reform.counts[0], expected_reform)
    totals = dict(zip(COUNTED, comparison.reform.counts[0].sum(axis=(0, 1)), strict=True))
    assert totals["fee_increases_experienced"] > 0 and totals["fee_change_notices"] > 0
    assert totals["complaint_backlog"] > 0


def test_policy_tables_are_the_fee_schedule() -> None:
    """The arrays the compiled steps read say what the plain-Python fee schedule says."""
    from reference_model import arrivals as reference_arrivals

    from simlib.model.policy import Policy
    from simlib.model.schedule import NO_EVENT, FeeSchedule

    model = busy().realise(0, SEED)
    months = 12
    policy = Policy.from_model(model, months)
    schedule = FeeSchedule(model, months)
    table = policy.tariffs
    for month in range(months):
        for group in range(schedule.groups):
            row = policy.tariff_index[month, group]
            tariff = schedule.tariff(month, group)
            assert table.monthly_fee[row] == tariff.monthly_fee
            assert table.penalty_fee_cents[row] == round(tariff.penalty_fee * 100)
            assert table.volume_pricing[row] == tariff.volume_pricing
            np.testing.assert_array_equal(table.tier_price[row, : len(tariff.tier_price)], tariff.tier_price)
            event = schedule.event(month, group)
            assert policy.event_notice[month, group] == (NO_EVENT if event is None else event.notice_days)
        offered = schedule.newcomer_tariff(month)
        assert table.monthly_fee[policy.newcomer_tariff[month]] == offered.monthly_fee
        joining = reference_arrivals(model, offered, math.inf)
        np.testing.assert_allclose(policy.arrival_probability[month], joining, rtol=1e-12)
        assert policy.arrival_ceiling[month] == policy.arrival_probability[month].max()
    assert policy.tariff_changes.any()
