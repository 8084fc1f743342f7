"""What the engine counts: one column per event, customer state or amount of money (whole cents).

The engine only counts, so that totals are exact integers whatever the chunking; everything a user
reads (revenue, costs, rates) is derived from these counts in :mod:`simlib.run.metrics`.
"""

from __future__ import annotations

COUNTED: tuple[str, ...] = (
    "active",
    "acquired",
    "churned",
    "churned_baseline",
    "churned_price",
    "churned_price_rise",
    "churned_complaint",
    "complaints",
    "complaints_surprise",
    "complaints_billing_error",
    "complaints_fee_increase",
    "complaints_penalty_fee",
    "complaints_handled",
    "complaints_resolved",
    "complaints_unresolved",
    "complaints_escalated",
    "complaint_backlog",
    "billing_errors_made",
    "billing_errors_found_by_audit",
    "billing_errors_refunded_on_complaint",
    "billing_errors_lost_at_churn",
    "billing_errors_outstanding",
    "failed_payments",
    "attentive_customers",
    "fee_change_notices",
    "fee_increases_experienced",
    "fee_cap_breaches",
    "penalty_cap_breaches",
    "notice_breaches",
    "audited_customers",
    "revenue_recurring_cents",
    "revenue_overcharge_cents",
    "revenue_penalty_cents",
    "revenue_setup_cents",
    "revenue_early_termination_cents",
    "refunds_audit_cents",
    "refunds_complaint_cents",
    "goodwill_credit_cents",
)
"""The counted metrics, in the order of the last axis of every counts array."""
INDEX = {name: i for i, name in enumerate(COUNTED)}
"""Column of each counted metric."""
