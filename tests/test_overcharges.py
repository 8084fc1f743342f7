"""Overcharges are owed, not earned: a policy that only finds and refunds them does not lower the
objective a policy is ranked on, and what is still owed is reported as a liability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import simlib
from simlib.analysis.recommend import Candidate, Constraints, recommend

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
SIZE = {"customers": 3000, "months": 12, "replications": 4, "seed": 5, "progress": False}


@pytest.fixture(scope="module")
def base() -> simlib.Scenario:
    # Overcharges often enough that every replication has some to find.
    return simlib.load(SCENARIOS / "baseline.yaml").with_changes({"billing.error_rate": 0.05})


def free_audits(base: simlib.Scenario) -> simlib.Scenario:
    """Monthly audits that cost nothing: they only find overcharges and refund them."""
    return base.with_changes({"audits.every_months": 1, "audits.cost_per_customer": 0.0}).with_changes(
        {"name": "free_audits"}
    )


def test_finding_and_refunding_overcharges_does_not_lower_the_objective(base: simlib.Scenario) -> None:
    comparison = simlib.compare(base, free_audits(base), **SIZE)
    difference = comparison.differences()
    # The audits found and refunded money in every replication …
    assert (difference["overcharges_refunded"] > 0).all()
    assert (difference["overcharges_owed"] < 0).all()
    # … which the old accounting (overcharges as revenue, their refunds as a cost) booked as a loss:
    old_net = (
        difference["net_revenue"] + difference["overcharges_collected"] - difference["overcharges_refunded"]
    )
    assert (old_net < 0).all()
    # Refunds change nothing else here (no behaviour depends on them), so the ranking objectives
    # are unchanged, replication by replication, exactly.
    for objective in ("net_revenue", "npv_net_revenue"):
        np.testing.assert_array_equal(difference[objective].to_numpy(), 0.0)
    np.testing.assert_array_equal(difference["overcharges_collected"].to_numpy(), 0.0)


def test_expected_fines_beyond_repayment_make_finding_errors_pay(base: simlib.Scenario) -> None:
    # Repayment plus a fine of half the amount: what stays owed costs 0.5 of itself in net revenue.
    fined = base.with_changes({"compliance.overcharge_payout_share": 1.5})
    comparison = simlib.compare(fined, free_audits(fined), **SIZE)
    difference = comparison.differences()
    assert (difference["npv_net_revenue"] > 0).all()
    np.testing.assert_allclose(
        difference["net_revenue"], -0.5 * difference["overcharges_owed"], rtol=1e-9, atol=1e-6
    )
    # The recommendation, ranking on the paired NPV, picks the audits over the baseline.
    summary = comparison.summary()

    def candidate(name: str, objective: np.ndarray, prefix: str, is_baseline: bool = False) -> Candidate:
        return Candidate(
            name,
            objective,
            summary.loc["complaints_per_1000", f"{prefix}_mean"],
            summary.loc["complaints_per_1000", f"{prefix}_high"],
            summary.loc["monthly_churn_rate", f"{prefix}_mean"],
            summary.loc["monthly_churn_rate", f"{prefix}_high"],
            summary.loc["compliance_breaches", f"{prefix}_mean"],
            is_baseline,
        )

    chosen = recommend(
        [
            candidate("baseline", np.zeros(SIZE["replications"]), "baseline", True),
            candidate("free_audits", difference["npv_net_revenue"].to_numpy(), "reform"),
        ],
        Constraints(),
    )
    assert chosen.chosen == "free_audits"


def test_the_liability_adds_up(base: simlib.Scenario) -> None:
    result = simlib.simulate(base.with_changes({"compliance.overcharge_payout_share": 0.4}), **SIZE)
    totals = result.totals()
    np.testing.assert_allclose(
        totals["overcharges_owed"],
        totals["overcharges_collected"] - totals["overcharges_refunded"],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        totals["overcharges_expected_payout"], 0.4 * totals["overcharges_owed"], rtol=1e-12
    )
    # A payout share below 1 earns nothing: money kept from unclaimed overcharges is not revenue.
    assert (totals["overcharge_expected_fines"] == 0).all()
    monthly = result.by_month()
    np.testing.assert_allclose(
        monthly["net_revenue"],
        monthly["gross_revenue"] - monthly["goodwill_credit"] - monthly["total_cost"] - monthly["fines"],
        rtol=1e-12,
    )
    # Overcharges of customers who left are still owed: nothing is written off at churn.
    assert (totals["billing_errors_never_found"] > 0).all()
    assert (totals["overcharges_owed"] > 0).all()
