"""The compiled engine against a slow plain-Python reference written from docs/model.md.

The reference (``reference_model.py``) draws with its own hash and SciPy's inverse CDFs and follows
the document one customer at a time. Both must agree on every count of every month and segment.
The only source of disagreement is the last bit of a floating-point number: SciPy's ``betaincinv``
and the engine's compiled Beta quantile agree to about 1e-12, so a decision ``u < p`` could in
principle flip where u lies within 1e-12 of p; over a few thousand customer-months that has a
chance of about 1e-8, so any difference fails the test.
"""

from __future__ import annotations

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
