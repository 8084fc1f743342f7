"""Every shipped scenario runs against the baseline and moves the metric it exists to move."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import simlib

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
SIZE = {"customers": 4096, "months": 12, "replications": 2, "progress": False}

# For each policy: a metric of the per-replication totals and the sign its paired difference
# (reform − baseline) must have in every replication.
EXPECTED_DIRECTION = {
    "fee_increase_with_notice": ("gross_revenue", +1),
    "fee_increase_without_notice": ("complaints_fee_increase", +1),
    "fee_increase_grandfathered": ("complaints_fee_increase", 0),
    "tiered_usage": ("gross_revenue", -1),
    "penalty_fee": ("complaints_penalty_fee", +1),
    "adaptive_penalty_review": ("complaints_penalty_fee", +1),
    "full_transparency": ("complaints_surprise", -1),
    "quarterly_audits": ("billing_errors_found_by_audit", +1),
    "better_complaint_handling": ("complaints_resolved", +1),
    "customer_education": ("complaints_surprise", -1),
    "automated_billing": ("billing_errors_made", -1),
    "regulatory_fee_cap": ("gross_revenue", -1),
    "late_notice_breach": ("fines", +1),
}


def test_every_shipped_policy_has_an_expectation() -> None:
    shipped = {p.stem for p in SCENARIOS.glob("*.yaml")} - {"baseline"}
    assert shipped == set(EXPECTED_DIRECTION)


@pytest.fixture(scope="module")
def baseline() -> simlib.Scenario:
    return simlib.load(SCENARIOS / "baseline.yaml")


@pytest.mark.parametrize("name", sorted(EXPECTED_DIRECTION))
def test_shipped_policy_runs_and_moves_its_metric(baseline: simlib.Scenario, name: str) -> None:
    comparison = simlib.compare(baseline, simlib.load(SCENARIOS / f"{name}.yaml"), **SIZE)
    differences = comparison.differences()
    assert np.isfinite(differences.to_numpy(dtype=float)).all()
    metric, sign = EXPECTED_DIRECTION[name]
    if sign == 0:
        assert (differences[metric] == 0).all(), differences[metric].tolist()
    else:
        assert (np.sign(differences[metric]) == sign).all(), differences[metric].tolist()
