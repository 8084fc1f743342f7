"""The metric catalogue: what the engine counts, what is derived from the counts, and their units.

The engine only counts (customers, events, and money in whole cents), so that totals are exact
integers whatever the chunking. Everything a user reads — revenue, costs, rates — is derived here
from those counts by pure functions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlib.model.counts import COUNTED
from simlib.model.parameters import ScenarioModel

#: The headline metrics a comparison is judged on, in the order tables show them.
KEY_METRICS = (
    "net_revenue",
    "npv_net_revenue",
    "monthly_churn_rate",
    "complaints_per_1000",
    "refunds",
    "overcharges_owed",
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
    Overcharges are not revenue: ``overcharges_owed`` is what was collected and not refunded (in a
    monthly row, the change of the amount owed that month; summed over the horizon, the amount
    owed at its end), and net revenue counts only the expected fines beyond repaying it.
    """
    # New columns are gathered and joined once: inserting ~35 columns one by one into a frame costs
    # more than the arithmetic (every result a tool or a batch notebook shows passes through here).
    cents = [c for c in COUNTED if c.endswith("_cents")]
    col: dict[str, pd.Series] = {c: counts[c] for c in counts.columns if c not in cents}
    active = col["active"].astype(float)
    for name in cents:
        col[name[: -len("_cents")]] = counts[name] / 100.0
    # Overcharges are the customers' money, not revenue (docs/model.md §5): gross and net revenue
    # leave them out, and what is collected and not refunded is reported as owed.
    col["gross_revenue"] = (
        col["revenue_recurring"]
        + col["revenue_penalty"]
        + col["revenue_setup"]
        + col["revenue_early_termination"]
    )
    col["refunds"] = col["refunds_audit"] + col["refunds_complaint"] + col["goodwill_credit"]
    col["overcharges_collected"] = col["revenue_overcharge"]
    col["overcharges_refunded"] = col["refunds_audit"] + col["refunds_complaint"]
    col["overcharges_owed"] = col["overcharges_collected"] - col["overcharges_refunded"]
    payout = model.compliance.overcharge_payout_share
    col["overcharges_expected_payout"] = payout * col["overcharges_owed"]
    # Repaying what is owed costs net revenue nothing (it was never counted); only what is expected
    # to be paid beyond it (fines) is a cost. A payout share below 1 earns nothing: money kept from
    # overcharges nobody claims is not revenue either.
    col["overcharge_expected_fines"] = max(payout - 1.0, 0.0) * col["overcharges_owed"]
    billing, transparency = model.billing, model.transparency
    per_bill = billing.processing_cost - (
        billing.automation_processing_saving if billing.automated_billing else 0.0
    )
    col["cost_bill_processing"] = active * max(per_bill, 0.0)
    col["cost_itemised_bills"] = active * (
        transparency.itemised_bill_cost if transparency.itemised_bills else 0.0
    )
    col["cost_notices"] = active * (
        transparency.notice_cost if transparency.pre_deduction_notice_days > 0 else 0.0
    )
    col["cost_portal"] = active * (transparency.portal_cost if transparency.self_service_portal else 0.0)
    col["cost_contract_clarity"] = active * transparency.clarity_cost * transparency.contract_clarity
    col["cost_automation"] = active * (billing.automation_cost if billing.automated_billing else 0.0)
    col["cost_training"] = active * (billing.training_cost if billing.staff_training else 0.0)
    col["cost_education"] = active * model.education.spend_per_customer_month
    col["cost_audits"] = col["audited_customers"] * model.audits.cost_per_customer
    handling = model.complaint_handling
    col["cost_complaint_handling"] = (
        col["complaints_handled"] * handling.cost_per_complaint
        + active * handling.capacity_per_1000_customers / 1000.0 * handling.capacity_cost
    )
    col["cost_regulator_cases"] = col["complaints_escalated"] * handling.regulator_case_fee
    # Added cost by cost, left to right: the same sums as a row-wise sum, without building a frame.
    total_cost = col[COSTS[0]]
    for cost in COSTS[1:]:
        total_cost = total_cost + col[cost]
    col["total_cost"] = total_cost
    col["compliance_breaches"] = (
        col["fee_cap_breaches"] + col["penalty_cap_breaches"] + col["notice_breaches"]
    )
    col["fines"] = col["compliance_breaches"] * model.compliance.fine_per_breach
    col["net_revenue"] = (
        col["gross_revenue"]
        - col["goodwill_credit"]
        - col["total_cost"]
        - col["fines"]
        - col["overcharge_expected_fines"]
    )
    safe_active = active.where(active > 0, np.nan)
    col["complaints_per_1000"] = col["complaints"] / safe_active * 1000.0
    col["churn_rate"] = col["churned"] / safe_active
    col["escalations_per_100000"] = col["complaints_escalated"] / safe_active * 100_000.0
    return pd.DataFrame(col, index=counts.index)


#: Monthly columns in money (currency units), besides the costs (``cost_*``) and the counted
#: ``*_cents`` amounts :func:`derive` turns into currency units.
MONEY: tuple[str, ...] = (
    "gross_revenue",
    "refunds",
    "overcharges_collected",
    "overcharges_refunded",
    "overcharges_owed",
    "overcharges_expected_payout",
    "overcharge_expected_fines",
    "total_cost",
    "fines",
    "net_revenue",
)
#: The rates :func:`derive` computes per active customer-month.
RATES: dict[str, str] = {
    "complaints_per_1000": "per 1,000 customers/month",
    "churn_rate": "share/month",
    "escalations_per_100000": "per 100,000 customers/month",
}
#: The columns that say where a monthly row belongs.
KEYS: dict[str, str] = {"replication": "index", "month": "month (0 = first)", "segment": "name"}


def monthly_units(columns: list[str] | tuple[str, ...], currency: str) -> dict[str, str]:
    """Unit of each column of a monthly frame (:func:`derive`'s output).

    Parameters
    ----------
    columns : the frame's column names.
    currency : the scenario's currency code (``simulation.currency``), the unit of money.

    Returns
    -------
    dict
        Column → unit: the currency for money, ``share/month`` or ``per 1,000 customers/month``
        for rates, ``count`` for customers, events and cases counted in the month.
    """
    money = set(MONEY) | {c[: -len("_cents")] for c in COUNTED if c.endswith("_cents")}
    units = {}
    for column in columns:
        if column in KEYS:
            units[column] = KEYS[column]
        elif column in RATES:
            units[column] = RATES[column]
        elif column in money or column.startswith("cost_"):
            units[column] = currency
        else:
            units[column] = "count"
    return units
