"""The scenario schema: every parameter of the model with its label, unit, default and source.

This module only *declares* parameters (pydantic models, frozen). Loading files, inheritance,
overrides and error messages live in :mod:`simlib.scenario.scenario`. Money is in the scenario's currency
(``simulation.currency``); ``{cur}`` in a unit stands for it. Shares are fractions in [0, 1].

Labels and descriptions may be given per language (``label: {en: ..., zh: ...}``, see
:mod:`simlib.model.texts`). They are held as :class:`~simlib.model.texts.Text`, a ``str`` whose
value is the English text, so ``scenario.label`` stays a string for every reader that expects one;
``scenario.label_in("zh")``, ``description_in`` and ``segment.label_in`` give another language.
"""

from __future__ import annotations

import re
import typing
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field
from pydantic.fields import FieldInfo

from simlib.keypaths import split_key_path
from simlib.model.distributions import Distribution, JointDistribution, StrictNumbers
from simlib.model.texts import LANGUAGES, InLanguages, Text, localized

Share = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
UncertainShare = Share | Distribution
UncertainNonNegative = NonNegative | Distribution
UncertainPositive = Positive | Distribution

SOURCE_JUDGEMENT = "modelling assumption (judgement); to be calibrated to the firm's own history"


def param(
    default: Any,
    label: str,
    unit: str,
    source: str | None = None,
    try_range: tuple[float, float] | None = None,
    try_relative: bool = False,
    **constraints: Any,
):
    """A documented parameter: the label, unit and source travel with the schema.

    ``try_range`` is, for a value set by judgement, the range a user should try in
    ``simlib sensitivity`` (in ``unit``; with ``try_relative``, factors of the scenario's value,
    for values such as a segment's willingness to pay that differ by segment).
    """
    extra: dict[str, Any] = {"unit": unit}
    if source:
        extra["source"] = source
    if try_range is not None:
        extra["try_range"] = list(try_range)
        if try_relative:
            extra["try_relative"] = True
    return Field(default, description=label, json_schema_extra=extra, **constraints)


class _Section(StrictNumbers):
    # StrictNumbers: no booleans as numbers, no infinities, money bounded (docs/model.md §
    # "Scenario files").
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class UsageTier(_Section):
    """One band of a usage tariff."""

    up_to: NonNegative | None = param(
        None, "Upper bound of the band (billable units); empty for the last band", "units/month"
    )
    unit_price: NonNegative = param(0.0, "Price per unit within the band", "{cur}/unit")


class Fees(_Section):
    """The fee standard (扣费标准): every charge a customer can see on a bill."""

    monthly_fee: NonNegative = param(25.0, "Subscription fee", "{cur}/month")
    included_units: NonNegative = param(10.0, "Usage included in the subscription", "units/month")
    usage_tiers: tuple[UsageTier, ...] = param(
        (UsageTier(up_to=None, unit_price=0.5),),
        "Usage price bands above the allowance (ascending)",
        "list",
        min_length=1,  # no band would leave usage unpriced (and the tariff functions without a price)
    )
    tier_mode: Literal["graduated", "volume"] = param(
        "graduated",
        "graduated: each band's price applies to the units in it; volume: the band reached prices all units",
        "choice",
    )
    transaction_fee_percent: Annotated[float, Field(ge=0, le=100)] = param(
        0.0, "Per-transaction fee as a percentage of transaction value", "%"
    )
    transaction_fee_fixed: NonNegative = param(0.0, "Fixed fee per transaction", "{cur}/unit")
    minimum_charge: NonNegative = param(0.0, "Minimum monthly charge", "{cur}/month")
    bill_cap: NonNegative | None = param(
        None, "Commercial cap on the monthly bill (empty: none)", "{cur}/month"
    )
    penalty_fee: NonNegative = param(
        0.0, "Late / failed-deduction penalty fee per failed payment", "{cur}/event"
    )
    setup_fee: NonNegative = param(0.0, "One-off set-up fee charged on joining", "{cur}")
    early_termination_fee: NonNegative = param(
        0.0, "Fee charged when leaving within the minimum term", "{cur}"
    )
    minimum_term_months: Annotated[int, Field(ge=0)] = param(0, "Minimum contract term", "months")
    prepay_discount: Share = param(0.0, "Discount on the subscription for prepaying", "share")
    prepay_uptake: Share = param(0.0, "Share of customers who prepay", "share")


class FeeChange(_Section):
    """A scheduled change of the fee standard."""

    month: Annotated[int, Field(ge=1)] = param(1, "Month the new fees take effect", "month")
    notice_days: Annotated[int, Field(ge=0)] = param(
        0, "Days of advance notice given to affected customers", "days"
    )
    grandfather_existing: bool = param(False, "Existing customers keep their old fees", "yes/no")
    set: dict[str, Any] = param({}, "Fee parameters that change (keys of `fees`)", "mapping")


class Segment(_Section):
    """A customer segment: its share and the distributions its customers are drawn from."""

    name: str = param(
        "all", "Segment name (an identifier, the same in every language)", "text", min_length=1, max_length=40
    )
    label: Annotated[Text, InLanguages(max_length=60)] = param(
        "", "Segment name for tables and charts, per language (empty: the name)", "text"
    )
    share: Share = param(1.0, "Share of customers (initial and arriving)", "share")
    usage_median_units: UncertainPositive = param(
        20.0, "Median personal usage level", "units/month", "modelling assumption"
    )
    usage_dispersion: UncertainNonNegative = param(
        0.6,
        "Spread of personal usage levels (sd of log)",
        "log units",
        SOURCE_JUDGEMENT,
        try_range=(0.3, 1.0),
    )
    usage_monthly_variation: UncertainNonNegative = param(
        0.25,
        "Month-to-month variation around the personal level (sd of log)",
        "log units",
        SOURCE_JUDGEMENT,
        try_range=(0.1, 0.5),
    )
    average_transaction_value: NonNegative = param(
        0.0, "Average value of one usage unit (for percentage transaction fees)", "{cur}/unit"
    )
    willingness_to_pay_median: UncertainPositive = param(
        45.0,
        "Median willingness to pay for the service",
        "{cur}/month",
        SOURCE_JUDGEMENT,
        try_range=(0.7, 1.4),
        try_relative=True,
    )
    willingness_to_pay_usage_elasticity: UncertainNonNegative = param(
        0.6,
        "How willingness to pay scales with personal usage: WTP ∝ (usage level / median)^this",
        "dimensionless",
        "heavier users value the service more: " + SOURCE_JUDGEMENT,
        try_range=(0.2, 1.0),
    )
    willingness_to_pay_dispersion: UncertainNonNegative = param(
        0.35,
        "Spread of willingness to pay (sd of log)",
        "log units",
        SOURCE_JUDGEMENT,
        try_range=(0.2, 0.6),
    )
    churn_alpha: UncertainPositive = param(
        0.9,
        "Beta(α, β) of the personal baseline churn probability: α",
        "dimensionless",
        "Fader & Hardie (2007), 'How to project customer retention' (sBG model); α, β chosen "
        "for a mean monthly churn near 3%, typical of consumer subscriptions",
    )
    churn_beta: UncertainPositive = param(
        28.0,
        "Beta(α, β) of the personal baseline churn probability: β",
        "dimensionless",
        "Fader & Hardie (2007); see churn_alpha",
    )
    attention_alpha: UncertainPositive = param(
        1.0,
        "Beta(α, β) of the monthly probability of looking at a bill: α",
        "dimensionless",
        "inertia in subscription markets (most customers rarely check bills): modelling assumption",
    )
    attention_beta: UncertainPositive = param(
        3.0,
        "Beta(α, β) of the monthly probability of looking at a bill: β",
        "dimensionless",
        "see attention_alpha",
    )
    complaint_propensity_dispersion: UncertainNonNegative = param(
        1.0,
        "Spread of the personal complaint propensity (sd of log; median 1)",
        "log units",
        "TARP / Goodman (1999): only a minority of dissatisfied customers ever complain",
    )
    late_payment_scale: UncertainShare = param(
        0.01,
        "Scale of the personal monthly probability of a failed payment",
        "probability",
        SOURCE_JUDGEMENT,
        try_range=(0.003, 0.03),
    )
    late_payment_tail_index: UncertainPositive = param(
        1.5,
        "Pareto tail index of the failed-payment propensity (lower: a few customers incur most penalty fees)",
        "dimensionless",
        SOURCE_JUDGEMENT,
        try_range=(1.1, 3.0),
    )
    initial_tenure_max_months: Annotated[int, Field(ge=0)] = param(
        36, "Tenure of the initial customers is uniform between 0 and this", "months"
    )

    def label_in(self, language: str) -> str:
        """The segment's label in ``language``, else in English, else its name (an identifier)."""
        if self.label.translations:
            return localized({LANGUAGES[0]: self.name, **self.label.translations}, language)
        return self.label or self.name


class Arrivals(_Section):
    """New customers: how many arrive, and how that responds to price."""

    monthly_rate: UncertainNonNegative = param(
        0.022,
        "New customers per month, as a share of the initial base",
        "share/month",
        "chosen so that arrivals roughly balance the baseline's churn (about 2%/month)",
    )
    price_elasticity: UncertainNonNegative = param(
        1.2,
        "Elasticity of arrivals to price relative to the market reference price",
        "dimensionless",
        "acquisition price elasticities of 1–2 are common for subscription services: modelling assumption",
    )
    market_reference_price: Positive = param(
        40.0, "Typical monthly bill of a comparable competitor offer", "{cur}/month"
    )
    setup_fee_amortisation_months: Positive = param(
        12.0, "Months over which prospects spread a set-up fee when comparing prices", "months"
    )
    market_unit_price: NonNegative = param(
        0.5,
        "How much more a comparable competitor offer costs per unit of a segment's median usage above "
        "the population's (share-weighted) median usage: the market bill a segment compares with",
        "{cur}/unit",
        "judgement (range 0–1): competitors price usage about as the baseline tariff does "
        "(€0.50/unit), so heavy users compare with a higher market bill than light users",
        try_range=(0.0, 1.0),
    )


class Population(_Section):
    """Who the customers are."""

    segments: tuple[Segment, ...] = param(
        (Segment(),), "Customer segments (shares sum to 1)", "list", min_length=1
    )
    arrivals: Arrivals = Field(default_factory=Arrivals)


class Behaviour(_Section):
    """How customers react to bills: reference prices, surprise, complaints, churn."""

    reference_adaptation_rate: UncertainShare = param(
        0.3,
        "Share of the gap between the price (bill at usual usage) and the reference price closed each month",
        "share/month",
        "adaptive reference price models; Kalyanaram & Winer (1995) review smoothing weights of this order",
    )
    loss_aversion: UncertainPositive = param(
        2.25,
        "How much more a rise hurts than an equal fall pleases",
        "ratio",
        "Tversky & Kahneman (1992), λ ≈ 2.25",
    )
    price_sensitivity: UncertainNonNegative = param(
        0.5,
        "Churn hazard per unit of relative excess of the price (bill at usual usage) over willingness to pay",
        "hazard/relative excess",
        SOURCE_JUDGEMENT,
        try_range=(0.2, 1.5),
    )
    reference_sensitivity: UncertainNonNegative = param(
        0.3,
        "Churn hazard per unit of relative loss against the reference price (before loss aversion)",
        "hazard/relative change",
        SOURCE_JUDGEMENT,
        try_range=(0.1, 1.0),
    )
    reference_tolerance: UncertainNonNegative = param(
        0.02,
        "Relative change against the reference price that customers do not react to",
        "relative change",
        "latitude of price acceptance: Kalyanaram & Little (1994)",
    )
    complaint_churn_effect: UncertainNonNegative = param(
        0.12,
        "Churn hazard per unit of grievance (one fresh unresolved complaint = 1)",
        "hazard/grievance",
        "complainants whose problem is not fixed churn several times more often "
        "(TARP / Goodman 1999): modelling assumption",
    )
    resolution_relief: UncertainShare = param(
        0.6,
        "Share of the customer's grievance removed when a complaint is resolved",
        "share",
        "service-recovery literature: resolution restores much, not all, loyalty",
    )
    grievance_memory: UncertainShare = param(
        0.7,
        "Share of grievance carried over to the next month",
        "share/month",
        SOURCE_JUDGEMENT,
        try_range=(0.5, 0.9),
    )
    surprise_complaint_rate: UncertainNonNegative = param(
        0.04,
        "Complaint probability per unit of perceived relative surprise (propensity 1)",
        "probability/relative surprise",
        SOURCE_JUDGEMENT,
        try_range=(0.01, 0.1),
    )
    error_complaint_rate: UncertainShare = param(
        0.3,
        "Probability of complaining about a noticed overcharge (propensity 1)",
        "probability",
        "TARP / Goodman (1999): money problems are complained about far more often than other problems",
    )
    fee_increase_complaint_rate: UncertainNonNegative = param(
        0.06,
        "Complaint probability per unit of relative fee increase, without notice (propensity 1)",
        "probability/relative increase",
        SOURCE_JUDGEMENT,
        try_range=(0.02, 0.15),
    )
    penalty_complaint_rate: UncertainNonNegative = param(
        0.25,
        "Complaint probability per unit of penalty fee relative to the monthly bill (propensity 1)",
        "probability/relative fee",
        SOURCE_JUDGEMENT,
        try_range=(0.1, 0.5),
    )
    surprise_attention_threshold: UncertainNonNegative = param(
        0.1,
        "Perceived relative surprise that makes an inert customer look at the bill",
        "relative surprise",
        SOURCE_JUDGEMENT,
        try_range=(0.05, 0.3),
    )
    fee_change_notice_attention: UncertainShare = param(
        1.0,
        "Probability that a fee-change notice makes an inert customer attentive in the month the "
        "change takes effect",
        "probability",
        "a notice breaks inertia: Ascarza, Iyengar & Schleicher (2016, JMR 53(1)) — contacting "
        "customers about their plan raised three-month churn from 6.4% to 10.0%",
    )
    fee_change_notice_attention_months: Annotated[int, Field(ge=1, le=24)] = param(
        3,
        "Months, from the one the change takes effect, in which a fee-change notice keeps raising "
        "the customer's attention",
        "months",
        "judgement (range 1–6): Ascarza, Iyengar & Schleicher (2016) find the contact's effect on "
        "churn spread over the three months they follow",
        try_range=(1, 6),
    )
    fee_change_notice_days_scale: UncertainPositive = param(
        14.0,
        "Notice period at which a fee-change notice has 63% of its effect: that share of the rise "
        "is expected (no surprise) and fee-increase complaints fall by that share",
        "days",
        SOURCE_JUDGEMENT,
        try_range=(7.0, 30.0),
    )
    notice_reference_anticipation: UncertainShare = param(
        0.3,
        "Share of an announced rise that the reference price takes up ahead of the new price "
        "(times the notice's effect); the rest is felt as a loss when the new price applies",
        "share",
        "judgement (range 0–0.5): an announcement is one sight of the new price, so it moves the "
        "reference about as one month of adaptation does (reference_adaptation_rate 0.3)",
        try_range=(0.0, 0.5),
    )
    exit_fee_deterrence: UncertainNonNegative = param(
        0.5,
        "How strongly an early-termination fee (relative to willingness to pay) holds back "
        "price-driven churn",
        "1/relative fee",
        SOURCE_JUDGEMENT,
        try_range=(0.2, 1.5),
    )


class Transparency(_Section):
    """Transparent deduction (透明的扣费机制): what customers are told, and its costs."""

    itemised_bills: bool = param(False, "Send itemised bills", "yes/no")
    itemised_bill_surprise_reduction: UncertainShare = param(
        0.3,
        "Share of bill surprise removed by itemised bills",
        "share",
        SOURCE_JUDGEMENT,
        try_range=(0.1, 0.5),
    )
    itemised_error_detection: UncertainShare = param(
        0.8,
        "Probability that a customer with itemised bills notices an overcharge",
        "probability",
        SOURCE_JUDGEMENT,
        try_range=(0.5, 0.95),
    )
    itemised_bill_cost: NonNegative = param(0.05, "Cost of an itemised bill", "{cur}/bill")
    pre_deduction_notice_days: Annotated[int, Field(ge=0)] = param(
        0, "Days before each deduction that the amount is announced (0: no notice)", "days"
    )
    notice_surprise_reduction: UncertainShare = param(
        0.5,
        "Share of surprise removed by a pre-deduction notice of ample lead time",
        "share",
        SOURCE_JUDGEMENT,
        try_range=(0.3, 0.8),
    )
    notice_lead_days_scale: UncertainPositive = param(
        3.0,
        "Lead time at which a notice has 63% of its full effect",
        "days",
        SOURCE_JUDGEMENT,
        try_range=(1.0, 7.0),
    )
    notice_attention: UncertainShare = param(
        0.3,
        "Probability that a monthly pre-deduction notice makes an inert customer look",
        "probability",
        SOURCE_JUDGEMENT,
        try_range=(0.1, 0.6),
    )
    notice_cost: NonNegative = param(0.02, "Cost of one pre-deduction notice", "{cur}/notice")
    self_service_portal: bool = param(False, "Offer a self-service query portal", "yes/no")
    portal_surprise_reduction: UncertainShare = param(
        0.15,
        "Share of surprise removed by the portal",
        "share",
        SOURCE_JUDGEMENT,
        try_range=(0.05, 0.3),
    )
    portal_cost: NonNegative = param(0.03, "Running cost of the portal", "{cur}/customer/month")
    contract_clarity: Share = param(
        0.5, "Clarity of contract terms (0: opaque, 1: plain and complete)", "score"
    )
    clarity_complaint_reduction: UncertainShare = param(
        0.4,
        "Share of surprise and penalty complaints avoided by fully clear terms",
        "share",
        SOURCE_JUDGEMENT,
        try_range=(0.2, 0.6),
    )
    clarity_cost: NonNegative = param(
        0.02,
        "Cost of contract clarity at score 1 (scales with the score)",
        "{cur}/customer/month",
    )


class Billing(_Section):
    """The billing system (扣费管理系统) and staff (培训与监督): error rates and processing costs."""

    error_rate: UncertainShare = param(
        0.02,
        "Share of bills with an overcharge, before automation and training",
        "share of bills",
        "order of magnitude of billing-accuracy findings in telecoms audits: modelling assumption",
    )
    error_size_share: UncertainNonNegative = param(
        0.15,
        "Size of an overcharge as a share of the bill",
        "share of bill",
        SOURCE_JUDGEMENT,
        try_range=(0.05, 0.3),
    )
    processing_cost: NonNegative = param(0.25, "Cost of producing one bill", "{cur}/bill")
    automated_billing: bool = param(False, "Use an automated billing system", "yes/no")
    automation_error_reduction: UncertainShare = param(
        0.7,
        "Share of billing errors avoided by automation",
        "share",
        SOURCE_JUDGEMENT,
        try_range=(0.5, 0.9),
    )
    automation_processing_saving: NonNegative = param(
        0.15, "Processing cost saved per bill by automation", "{cur}/bill"
    )
    automation_cost: NonNegative = param(0.12, "Running cost of the automated system", "{cur}/customer/month")
    staff_training: bool = param(False, "Train billing and complaint staff", "yes/no")
    training_error_reduction: UncertainShare = param(
        0.3,
        "Share of billing errors avoided by training",
        "share",
        SOURCE_JUDGEMENT,
        try_range=(0.1, 0.5),
    )
    training_resolution_gain: UncertainShare = param(
        0.1,
        "Increase in the complaint resolution rate from training",
        "share",
        SOURCE_JUDGEMENT,
        try_range=(0.05, 0.2),
    )
    training_cost: NonNegative = param(0.03, "Cost of training", "{cur}/customer/month")


class Audits(_Section):
    """Periodic audits (定期审核): finding past overcharges and refunding them."""

    every_months: Annotated[int, Field(ge=0)] = param(0, "Months between audits (0: no audits)", "months")
    detection_share: UncertainShare = param(
        0.7,
        "Probability that an audit finds a customer's outstanding overcharges",
        "probability",
        SOURCE_JUDGEMENT,
        try_range=(0.5, 0.9),
    )
    cost_per_customer: NonNegative = param(0.05, "Cost of one audit", "{cur}/customer")


class ComplaintHandling(_Section):
    """Complaint handling (客户沟通与反馈): capacity, resolution, refunds, escalation."""

    capacity_per_1000_customers: NonNegative = param(
        8.0,
        "Complaints the team can handle per month per 1,000 active customers",
        "complaints/1000 customers/month",
    )
    resolution_rate: UncertainShare = param(
        0.7,
        "Share of handled complaints resolved to the customer's satisfaction",
        "share",
        SOURCE_JUDGEMENT,
        try_range=(0.5, 0.9),
    )
    refund_share: Share = param(
        1.0, "Share of a disputed overcharge refunded when a complaint is resolved", "share"
    )
    goodwill_credit: NonNegative = param(0.0, "Credit given with each resolved complaint", "{cur}/complaint")
    escalation_share: UncertainShare = param(
        0.01,
        "Share of unresolved complaints the customer takes to the regulator or ombudsman",
        "share",
        "chosen so that fee-related regulator cases are a few per 100,000 customers per quarter: "
        "Ofcom's published telecoms figures are 1–25 for all causes, of which billing and "
        "pricing are about 14–23%",
    )
    cost_per_complaint: NonNegative = param(6.0, "Handling cost per complaint", "{cur}/complaint")
    capacity_cost: NonNegative = param(
        2.0, "Standing cost of one unit of monthly capacity", "{cur}/complaint slot/month"
    )
    regulator_case_fee: NonNegative = param(
        400.0,
        "Fee per case escalated to the ombudsman",
        "{cur}/case",
        "UK ombudsman case fees are several hundred pounds per case",
    )


class Education(_Section):
    """Customer education (客户教育与宣传)."""

    spend_per_customer_month: NonNegative = param(0.0, "Education spend", "{cur}/customer/month")
    surprise_reduction_max: UncertainShare = param(
        0.3,
        "Share of surprise removed at saturating spend",
        "share",
        SOURCE_JUDGEMENT,
        try_range=(0.1, 0.5),
    )
    late_payment_reduction_max: UncertainShare = param(
        0.2,
        "Share of failed payments avoided at saturating spend",
        "share",
        SOURCE_JUDGEMENT,
        try_range=(0.1, 0.4),
    )
    half_effect_spend: UncertainPositive = param(
        0.2,
        "Spend at which education has half its maximal effect",
        "{cur}/customer/month",
        SOURCE_JUDGEMENT,
        try_range=(0.1, 0.5),
    )


class Compliance(_Section):
    """Legal compliance (法律法规与合规管理): caps, notice periods, breaches, fines."""

    fee_cap: NonNegative | None = param(
        None, "Legal cap on the monthly bill, penalty fees excluded (empty: none)", "{cur}/month"
    )
    penalty_fee_cap: NonNegative | None = param(
        None, "Legal cap on a penalty fee (empty: none)", "{cur}/event"
    )
    minimum_notice_days: Annotated[int, Field(ge=0)] | None = param(
        None, "Legal minimum notice before a fee change (empty: none)", "days"
    )
    enforcement: Literal["validate", "fine"] = param(
        "validate",
        "validate: a scenario that breaks a rule is rejected and bills are kept under caps; "
        "fine: breaches are simulated, counted and fined",
        "choice",
    )
    fine_per_breach: NonNegative = param(50.0, "Fine per breach", "{cur}/breach")
    penalty_free_exit_on_rise: bool = param(
        True,
        "A price rise lets the customers it reaches leave without the early-termination fee, "
        "in the month it takes effect",
        "yes/no",
        "Ofcom (2014), guidance on General Condition 9.6: customers must get at least 30 days' "
        "notice of a price rise and may leave their contract penalty-free",
    )
    overcharge_payout_share: Annotated[float, Field(ge=0, le=10)] = param(
        1.0,
        "Expected payout per unit of overcharge still owed to customers: the share reclaimed by "
        "customers or a regulator, plus any fine (above 1 when fines add to repayment)",
        "share of amount owed",
        "judgement: regulators require overcharges to be refunded, so 1 (all repaid) by default; "
        "try 0.3 (most never claimed) to 2 (repayment plus a fine of the same size)",
        try_range=(0.3, 2.0),
    )


class AdjustmentRule(_Section):
    """A periodic-review rule evaluated inside the run (定期审核与调整)."""

    name: str = param("rule", "Rule name", "text", min_length=1, max_length=60)
    metric: Literal["complaints_per_1000", "monthly_churn_percent", "escalations_per_100000"] = param(
        "complaints_per_1000",
        "Monitored population metric, per month: complaints per 1,000 customers, churn in percent, "
        "or regulator escalations per 100,000 customers",
        "choice",
    )
    above: float = param(10.0, "Threshold the metric must exceed", "metric units")
    for_months: Annotated[int, Field(ge=1)] = param(
        3, "Consecutive months above the threshold before the rule acts", "months"
    )
    parameter: Literal[
        "fees.monthly_fee",
        "fees.penalty_fee",
        "fees.setup_fee",
        "fees.early_termination_fee",
        "fees.minimum_charge",
        "fees.transaction_fee_fixed",
        "fees.transaction_fee_percent",
        "fees.usage_prices",
    ] = param("fees.penalty_fee", "Fee the rule adjusts (usage_prices: every band)", "choice")
    change_percent: Annotated[float, Field(ge=-100, le=1000)] = param(
        -50.0, "Relative change applied when the rule acts", "%"
    )
    max_times: Annotated[int, Field(ge=1)] = param(1, "How many times the rule may act in one run", "count")


class Simulation(_Section):
    """Run settings: size, horizon, replications, seed, discounting."""

    customers: Annotated[int, Field(ge=1, le=1_000_000_000)] = param(
        20_000, "Initial customers simulated", "customers"
    )
    months: Annotated[int, Field(ge=1, le=600)] = param(24, "Horizon", "months")
    replications: Annotated[int, Field(ge=1, le=100_000)] = param(20, "Monte Carlo replications", "count")
    seed: Annotated[int, Field(ge=0)] = param(20261127, "Random seed", "integer")
    warm_up_months: Annotated[int, Field(ge=0, le=120)] = param(
        6,
        "Months simulated before the horizon starts, so that the initial base settles (not "
        "reported); they run under the scenario's month-0 fees, or the baseline's in a comparison",
        "months",
    )
    discount_rate_annual: Annotated[float, Field(ge=0, le=1)] = param(
        0.08, "Annual discount rate for NPV and lifetime value", "share/year"
    )
    currency: str = param("EUR", "Currency of all money amounts", "code", max_length=8)


class ScenarioModel(_Section):
    """A complete, resolved scenario. Immutable: a reform is a new scenario."""

    name: str = param("scenario", "Scenario name", "text", min_length=1, max_length=80)
    label: Annotated[Text, InLanguages(max_length=200)] = param(
        "", "One-line title for tables and reports, per language", "text"
    )
    description: Annotated[Text, InLanguages(multiline=True)] = param(
        "", "What the scenario changes and why, per language", "text"
    )
    simulation: Simulation = Field(default_factory=Simulation)
    population: Population = Field(default_factory=Population)
    fees: Fees = Field(default_factory=Fees)
    fee_changes: tuple[FeeChange, ...] = param((), "Scheduled fee changes", "list")
    behaviour: Behaviour = Field(default_factory=Behaviour)
    transparency: Transparency = Field(default_factory=Transparency)
    billing: Billing = Field(default_factory=Billing)
    audits: Audits = Field(default_factory=Audits)
    complaint_handling: ComplaintHandling = Field(default_factory=ComplaintHandling)
    education: Education = Field(default_factory=Education)
    compliance: Compliance = Field(default_factory=Compliance)
    adjustment_rules: tuple[AdjustmentRule, ...] = param(
        (), "Periodic-review rules evaluated inside the run", "list"
    )
    joint_uncertainty: tuple[JointDistribution, ...] = param(
        (),
        "Parameters drawn together once per replication: a multivariate (log)normal or a table of "
        "joint draws (docs/model.md §9)",
        "list",
    )

    def label_in(self, language: str) -> str:
        """The label in ``language`` (falling back to English, then any; ``label`` is the English)."""
        return localized(self.label, language)

    def description_in(self, language: str) -> str:
        """The description in ``language`` (falling back to English, then any)."""
        return localized(self.description, language)


def fee_schedule_after(fees: Fees, change_set: typing.Mapping[str, Any]) -> Fees:
    """The fee standard after applying one change's ``set`` mapping (validated like ``fees``)."""
    return Fees.model_validate({**fees.model_dump(), **dict(change_set)})


def _section_of(annotation: Any) -> tuple[type[_Section] | None, bool]:
    """The section a field holds (or the item section of a list of them), and whether it is a list."""
    nested = [annotation, *typing.get_args(annotation)]
    sections = [a for a in nested if isinstance(a, type) and issubclass(a, _Section)]
    return (sections[0] if sections else None), typing.get_origin(annotation) is tuple


def parameter_fields(model: type[_Section] = ScenarioModel, prefix: str = "") -> dict[str, FieldInfo]:
    """Every documented parameter of the schema by key path, in schema order.

    The rows of docs/model.md's table: nested sections are walked (and are no parameter); a list of
    sections is a parameter, and so is each field of its items, with ``[]`` in the path
    (``population.segments[].churn_alpha``).
    """
    fields: dict[str, FieldInfo] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        section, is_list = _section_of(field.annotation)
        if section is None or is_list:
            fields[path] = field
        if section is not None:
            fields.update(parameter_fields(section, f"{path}[]" if is_list else path))
    return fields


def schema_extra(key_path: str) -> dict[str, Any]:
    """The documented extras (unit, source, try_range, …) of the parameter at ``key_path``.

    List indices and segment names in brackets are skipped (``population.segments[premium].
    willingness_to_pay_median`` is the segment field); an unknown path gives ``{}``.
    """
    model: Any = ScenarioModel
    field = None
    for part in split_key_path(re.sub(r"\[[^\]]*\]", "", key_path)):
        if field is not None:
            # The section a field holds: the field's model, or the item model of a list of them.
            nested = [field.annotation, *typing.get_args(field.annotation)]
            sections = [a for a in nested if isinstance(a, type) and issubclass(a, _Section)]
            if not sections:
                return {}
            model = sections[0]
        if part not in model.model_fields:
            return {}
        field = model.model_fields[part]
    extra = field.json_schema_extra if field is not None else None
    return dict(extra) if isinstance(extra, dict) else {}
