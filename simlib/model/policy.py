"""A scenario in the form the compiled engine reads: its levers, segments and tariffs as arrays.

:class:`Levers` derives the scalars of one (realised) scenario that the monthly steps use (reliefs
combined, error and resolution rates after training and automation, caps in cents);
:class:`Policy` adds the segment table, the packed tariff schedule and the arrival probability of
every month. Both are NamedTuples, so compiled code reads their fields by name.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from simlib.model.behaviour import combined_relief, notice_relief, saturating_effect
from simlib.model.fees import TariffTable, to_cents
from simlib.model.parameters import ScenarioModel
from simlib.model.population import SegmentTable, joining_probabilities
from simlib.model.schedule import NO_EVENT, FeeSchedule, RuleAction, prospective_bills

NO_MINIMUM_NOTICE = -1
"""In :class:`Levers`: the law sets no minimum notice."""


class Levers(NamedTuple):
    """The scalars of one (realised) scenario that the monthly steps use; money in cents."""

    surprise_relief: float
    clarity_relief: float
    notice_attention: float
    late_payment_factor: float
    error_rate: float
    error_size_share: float
    resolution_rate: float
    escalation_share: float
    capacity_per_1000: float
    refund_share: float
    goodwill_cents: float
    legal_fee_cap_cents: float
    legal_penalty_cap_cents: float
    enforce_caps: bool
    minimum_notice_days: int
    """Days; :data:`NO_MINIMUM_NOTICE` when the law sets none."""
    audit_every: int
    audit_detection_share: float
    itemised_bills: bool
    itemised_error_detection: float
    prepay_uptake: float
    fee_change_notice_days_scale: float
    fee_change_notice_attention: float
    fee_change_notice_attention_months: int
    notice_reference_anticipation: float
    penalty_free_exit_on_rise: bool
    surprise_attention_threshold: float
    surprise_complaint_rate: float
    error_complaint_rate: float
    fee_increase_complaint_rate: float
    penalty_complaint_rate: float
    resolution_relief: float
    exit_fee_deterrence: float
    price_sensitivity: float
    reference_sensitivity: float
    reference_tolerance: float
    loss_aversion: float
    complaint_churn_effect: float
    reference_adaptation_rate: float
    grievance_memory: float

    @classmethod
    def from_model(cls, model: ScenarioModel) -> Levers:
        """Derive the levers: reliefs combine as 1 − Π(1 − r) (docs/model.md §3.8), training and
        automation scale the error rate, training adds to the resolution rate (§3.6, §3.10)."""
        t, billing, education, b = model.transparency, model.billing, model.education, model.behaviour
        education_surprise = saturating_effect(
            education.spend_per_customer_month, education.surprise_reduction_max, education.half_effect_spend
        )
        relief = combined_relief(
            t.itemised_bill_surprise_reduction if t.itemised_bills else 0.0,
            notice_relief(t.pre_deduction_notice_days, t.notice_surprise_reduction, t.notice_lead_days_scale),
            t.portal_surprise_reduction if t.self_service_portal else 0.0,
            education_surprise,
        )
        error_rate = billing.error_rate
        if billing.automated_billing:
            error_rate *= 1.0 - billing.automation_error_reduction
        if billing.staff_training:
            error_rate *= 1.0 - billing.training_error_reduction
        handling = model.complaint_handling
        resolution = handling.resolution_rate
        if billing.staff_training:
            resolution = min(1.0, resolution + billing.training_resolution_gain)
        compliance = model.compliance
        return cls(
            surprise_relief=float(relief),
            clarity_relief=float(t.contract_clarity * t.clarity_complaint_reduction),
            notice_attention=float(t.notice_attention if t.pre_deduction_notice_days > 0 else 0.0),
            late_payment_factor=1.0
            - saturating_effect(
                education.spend_per_customer_month,
                education.late_payment_reduction_max,
                education.half_effect_spend,
            ),
            error_rate=float(error_rate),
            error_size_share=float(billing.error_size_share),
            resolution_rate=float(resolution),
            escalation_share=float(handling.escalation_share),
            capacity_per_1000=float(handling.capacity_per_1000_customers),
            refund_share=float(handling.refund_share),
            goodwill_cents=to_cents(handling.goodwill_credit),
            legal_fee_cap_cents=math.inf if compliance.fee_cap is None else to_cents(compliance.fee_cap),
            legal_penalty_cap_cents=math.inf
            if compliance.penalty_fee_cap is None
            else to_cents(compliance.penalty_fee_cap),
            enforce_caps=compliance.enforcement == "validate",
            minimum_notice_days=NO_MINIMUM_NOTICE
            if compliance.minimum_notice_days is None
            else int(compliance.minimum_notice_days),
            audit_every=int(model.audits.every_months),
            audit_detection_share=float(model.audits.detection_share),
            itemised_bills=bool(t.itemised_bills),
            itemised_error_detection=float(t.itemised_error_detection),
            prepay_uptake=float(model.fees.prepay_uptake),
            fee_change_notice_days_scale=float(b.fee_change_notice_days_scale),
            fee_change_notice_attention=float(b.fee_change_notice_attention),
            fee_change_notice_attention_months=int(b.fee_change_notice_attention_months),
            notice_reference_anticipation=float(b.notice_reference_anticipation),
            penalty_free_exit_on_rise=bool(compliance.penalty_free_exit_on_rise),
            surprise_attention_threshold=float(b.surprise_attention_threshold),
            surprise_complaint_rate=float(b.surprise_complaint_rate),
            error_complaint_rate=float(b.error_complaint_rate),
            fee_increase_complaint_rate=float(b.fee_increase_complaint_rate),
            penalty_complaint_rate=float(b.penalty_complaint_rate),
            resolution_relief=float(b.resolution_relief),
            exit_fee_deterrence=float(b.exit_fee_deterrence),
            price_sensitivity=float(b.price_sensitivity),
            reference_sensitivity=float(b.reference_sensitivity),
            reference_tolerance=float(b.reference_tolerance),
            loss_aversion=float(b.loss_aversion),
            complaint_churn_effect=float(b.complaint_churn_effect),
            reference_adaptation_rate=float(b.reference_adaptation_rate),
            grievance_memory=float(b.grievance_memory),
        )


class Policy(NamedTuple):
    """One (realised) scenario in the form the compiled steps read: levers, segments, tariffs."""

    levers: Levers
    segments: SegmentTable
    tariffs: TariffTable
    tariff_index: np.ndarray
    """(month, join group) → tariff row."""
    group_starts: np.ndarray
    """Months of the grandfathered changes: a customer's join group is how many of them it joined after."""
    event_notice: np.ndarray
    """(month, join group) → notice days of a tariff change reaching the group; :data:`NO_EVENT`: none."""
    tariff_changes: np.ndarray
    """month → whether any group's tariff changes (prices are re-quoted)."""
    newcomer_tariff: np.ndarray
    """month → tariff row offered to newcomers."""
    arrival_probability: np.ndarray
    """(month, segment) → probability that a seat's prospect of the segment joins (docs/model.md §3.1)."""
    arrival_ceiling: np.ndarray
    """month → the largest of the month's arrival probabilities (a seat whose draw is above it
    brings no one, whatever its prospect's segment)."""

    @classmethod
    def from_model(cls, model: ScenarioModel, months: int, actions: tuple[RuleAction, ...] = ()) -> Policy:
        levers = Levers.from_model(model)
        schedule = FeeSchedule(model, months, actions)
        cap = levers.legal_fee_cap_cents / 100.0 if levers.enforce_caps else math.inf
        quoted: dict[int, np.ndarray] = {}
        for month in range(months):
            row = int(schedule.newcomer_index[month])
            if row not in quoted:
                bills = prospective_bills(model, schedule.newcomer_tariff(month), cap)
                quoted[row] = joining_probabilities(model, bills)
        probability = np.asarray([quoted[int(r)] for r in schedule.newcomer_index], dtype=np.float64).reshape(
            months, len(model.population.segments)
        )
        return cls(
            levers=levers,
            segments=SegmentTable.from_model(model),
            tariffs=schedule.table,
            tariff_index=schedule.tariff_index,
            group_starts=schedule.group_starts,
            event_notice=schedule.event_notice,
            tariff_changes=(schedule.event_notice != NO_EVENT).any(axis=1),
            newcomer_tariff=schedule.newcomer_index,
            arrival_probability=probability,
            arrival_ceiling=probability.max(axis=1),
        )
