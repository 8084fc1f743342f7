"""The metric catalogue: what the engine counts, what is derived from the counts, and their units.

The engine only counts (customers, events, and money in whole cents), so that totals are exact
integers whatever the chunking. Everything a user reads — revenue, costs, rates — is derived here
from those counts by pure functions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .parameters import ScenarioModel

#: The headline metrics a comparison is judged on, in the order tables show them.
KEY_METRICS = (
    "net_revenue",
    "npv_net_revenue",
    "monthly_churn_rate",
    "complaints_per_1000",
    "refunds",
    "compliance_breaches",
)
#: Customers lost and complaints, by cause (columns of the totals).
CHURN_CAUSES = ("churned_baseline", "churned_price", "churned_price_rise", "churned_complaint")
COMPLAINT_CAUSES = (
    "complaints_surprise",
    "complaints_billing_error",
    "complaints_fee_increase",
    "complaints_penalty_fee",
)

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
INDEX = {name: i for i, name in enumerate(COUNTED)}

COSTS: tuple[str, ...] = (
    "cost_bill_processing",
    "cost_itemised_bills",
    "cost_notices",
    "cost_portal",
    "cost_contract_clarity",
    "cost_automation",
    "cost_training",
    "cost_education",
    "cost_audits",
    "cost_complaint_handling",
    "cost_regulator_cases",
)


def derive(counts: pd.DataFrame, model: ScenarioModel) -> pd.DataFrame:
    """Add money (currency units), costs, rates and totals to a frame of counted metrics.

    Works on any frame with the counted columns (tidy monthly rows or aggregated totals). Costs are
    unit costs times counts; per-customer running costs are charged per active customer-month.
    """
    out = counts.copy()
    active = out["active"].astype(float)
    for name in COUNTED:
        if name.endswith("_cents"):
            out[name[: -len("_cents")]] = out[name] / 100.0
    out = out.drop(columns=[c for c in COUNTED if c.endswith("_cents")])
    out["gross_revenue"] = (
        out["revenue_recurring"]
        + out["revenue_overcharge"]
        + out["revenue_penalty"]
        + out["revenue_setup"]
        + out["revenue_early_termination"]
    )
    out["refunds"] = out["refunds_audit"] + out["refunds_complaint"] + out["goodwill_credit"]
    billing, transparency = model.billing, model.transparency
    per_bill = billing.processing_cost - (
        billing.automation_processing_saving if billing.automated_billing else 0.0
    )
    out["cost_bill_processing"] = active * max(per_bill, 0.0)
    out["cost_itemised_bills"] = active * (
        transparency.itemised_bill_cost if transparency.itemised_bills else 0.0
    )
    out["cost_notices"] = active * (
        transparency.notice_cost if transparency.pre_deduction_notice_days > 0 else 0.0
    )
    out["cost_portal"] = active * (transparency.portal_cost if transparency.self_service_portal else 0.0)
    out["cost_contract_clarity"] = active * transparency.clarity_cost * transparency.contract_clarity
    out["cost_automation"] = active * (billing.automation_cost if billing.automated_billing else 0.0)
    out["cost_training"] = active * (billing.training_cost if billing.staff_training else 0.0)
    out["cost_education"] = active * model.education.spend_per_customer_month
    out["cost_audits"] = out["audited_customers"] * model.audits.cost_per_customer
    handling = model.complaint_handling
    out["cost_complaint_handling"] = (
        out["complaints_handled"] * handling.cost_per_complaint
        + active * handling.capacity_per_1000_customers / 1000.0 * handling.capacity_cost
    )
    out["cost_regulator_cases"] = out["complaints_escalated"] * handling.regulator_case_fee
    out["total_cost"] = out[list(COSTS)].sum(axis=1)
    out["compliance_breaches"] = (
        out["fee_cap_breaches"] + out["penalty_cap_breaches"] + out["notice_breaches"]
    )
    out["fines"] = out["compliance_breaches"] * model.compliance.fine_per_breach
    out["net_revenue"] = out["gross_revenue"] - out["refunds"] - out["total_cost"] - out["fines"]
    safe_active = active.where(active > 0, np.nan)
    out["complaints_per_1000"] = out["complaints"] / safe_active * 1000.0
    out["churn_rate"] = out["churned"] / safe_active
    out["escalations_per_100000"] = out["complaints_escalated"] / safe_active * 100_000.0
    return out
