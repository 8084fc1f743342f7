"""The monthly simulation of one chunk of customers: state, the order of events, aggregation.

State lives in one place, a :class:`_State` of per-customer arrays; each month the engine calls the
pure functions of :mod:`simlib.fees`, :mod:`simlib.behaviour` and :mod:`simlib.operations` in a fixed
order and counts what happened per segment. A chunk is a range of *seats* (initial customer ids);
customers arriving through those seats belong to the chunk too. Complaint handling is organised in
service pools of :data:`POOL_SIZE` seats, and chunks are whole numbers of pools, so nothing a chunk
computes depends on any other chunk: results are identical for every chunk size and worker count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from . import behaviour, operations
from .behaviour import ChurnCause, ComplaintCause
from .draws import Purpose, customer_keys, stream_key, uniform
from .fees import Tariff, monthly_bill_cents, to_cents
from .metrics import COUNTED, INDEX
from .parameters import ScenarioModel
from .population import (
    ARRIVAL_ID_STRIDE,
    Customers,
    SegmentTable,
    arrival_probability,
    draw_customers,
    monthly_usage,
)
from .schedule import FeeSchedule, RuleAction, headline_price

MAX_WARM_UP = 4096
POOL_SIZE = 4096
"""Seats per complaint-handling pool (and the granularity of chunks)."""


@dataclass(frozen=True)
class RunPlan:
    """Everything needed to simulate any chunk of one replication (picklable)."""

    model: ScenarioModel
    customers: int
    months: int
    seed: int
    replication: int
    actions: tuple[RuleAction, ...] = ()
    warm_up_model: ScenarioModel | None = None
    """The policy in force before month 0 (the baseline's, when comparing); default: ``model``."""


@dataclass
class ChunkResult:
    """Counts per (month, segment, metric), and per-initial-customer charges for winners/losers."""

    counts: np.ndarray
    charged_cents: np.ndarray | None = None
    months_active: np.ndarray | None = None
    initial_segment: np.ndarray | None = None


@dataclass
class _State(Customers):
    """Per-customer state: the traits plus what changes month to month."""

    price: np.ndarray
    reference: np.ndarray
    grievance: np.ndarray
    complaint_open: np.ndarray
    open_errors: np.ndarray
    open_error_cents: np.ndarray

    def keep(self, mask: np.ndarray, newcomers: _State | None) -> _State:
        """The customers where ``mask`` holds, followed by ``newcomers`` (one copy per array)."""
        if newcomers is None:
            return _State(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})
        return _State(
            **{
                f.name: np.concatenate([getattr(self, f.name)[mask], getattr(newcomers, f.name)])
                for f in fields(self)
            }
        )


@dataclass(frozen=True)
class _Levers:
    """Scalars derived once per run from the (realised) scenario."""

    surprise_relief: float
    clarity_relief: float
    notice_attention: float
    late_payment_factor: float
    error_rate: float
    resolution_rate: float
    legal_fee_cap_cents: float
    legal_penalty_cap_cents: float
    enforce_caps: bool
    minimum_notice_days: int | None
    audit_every: int

    @classmethod
    def from_model(cls, model: ScenarioModel) -> _Levers:
        t, billing, education = model.transparency, model.billing, model.education
        education_surprise = behaviour.saturating_effect(
            education.spend_per_customer_month,
            education.surprise_reduction_max,
            education.half_effect_spend,
        )
        relief = behaviour.combined_relief(
            t.itemised_bill_surprise_reduction if t.itemised_bills else 0.0,
            behaviour.notice_relief(
                t.pre_deduction_notice_days, t.notice_surprise_reduction, t.notice_lead_days_scale
            ),
            t.portal_surprise_reduction if t.self_service_portal else 0.0,
            education_surprise,
        )
        error_rate = billing.error_rate
        if billing.automated_billing:
            error_rate *= 1.0 - billing.automation_error_reduction
        if billing.staff_training:
            error_rate *= 1.0 - billing.training_error_reduction
        resolution = model.complaint_handling.resolution_rate
        if billing.staff_training:
            resolution = min(1.0, resolution + billing.training_resolution_gain)
        compliance = model.compliance
        return cls(
            surprise_relief=relief,
            clarity_relief=t.contract_clarity * t.clarity_complaint_reduction,
            notice_attention=t.notice_attention if t.pre_deduction_notice_days > 0 else 0.0,
            late_payment_factor=1.0
            - behaviour.saturating_effect(
                education.spend_per_customer_month,
                education.late_payment_reduction_max,
                education.half_effect_spend,
            ),
            error_rate=error_rate,
            resolution_rate=resolution,
            legal_fee_cap_cents=np.inf if compliance.fee_cap is None else to_cents(compliance.fee_cap),
            legal_penalty_cap_cents=np.inf
            if compliance.penalty_fee_cap is None
            else to_cents(compliance.penalty_fee_cap),
            enforce_caps=compliance.enforcement == "validate",
            minimum_notice_days=compliance.minimum_notice_days,
            audit_every=model.audits.every_months,
        )


class _Tally:
    """Adds this month's events to the (month, segment, metric) counts."""

    def __init__(self, months: int, segments: int):
        self.counts = np.zeros((months, segments, len(COUNTED)), dtype=np.float64)
        self.segments = segments
        self.row = self.counts[0]
        self.segment = np.zeros(0, dtype=np.int64)

    def start(self, month: int, segment: np.ndarray) -> None:
        """Count into ``month``; warm-up months (negative) go to a scratch row."""
        self.row = self.counts[month] if month >= 0 else np.zeros_like(self.counts[0])
        self.segment = segment

    def count(self, name: str, mask: np.ndarray) -> None:
        """Number of customers for whom ``mask`` holds, per segment."""
        self.row[:, INDEX[name]] += np.bincount(self.segment[mask], minlength=self.segments)

    def total(self, name: str, values: np.ndarray) -> None:
        """Sum of ``values`` (whole numbers: counts or cents) per segment."""
        self.row[:, INDEX[name]] += np.bincount(self.segment, weights=values, minlength=self.segments)


def chunk_bounds(customers: int, chunk_size: int) -> list[tuple[int, int]]:
    """Seat ranges of the chunks; chunk sizes are rounded up to whole service pools."""
    size = max(POOL_SIZE, -(-chunk_size // POOL_SIZE) * POOL_SIZE)
    return [(start, min(start + size, customers)) for start in range(0, customers, size)]


def _new_state(customers: Customers, price: np.ndarray) -> _State:
    """State of customers entering now; their reference price starts at the price they were quoted."""
    n = len(customers.keys)
    return _State(
        **{f.name: getattr(customers, f.name) for f in fields(Customers)},
        price=price,
        reference=price.copy(),
        grievance=np.zeros(n),
        complaint_open=np.zeros(n, dtype=bool),
        open_errors=np.zeros(n, dtype=np.int64),
        open_error_cents=np.zeros(n),
    )


def _price(state: Customers, context: _Context, month: int) -> np.ndarray:
    """Bill at each customer's usual usage level (cents), within the legal cap where it is enforced."""
    price, _ = _bills(state, state.usage_level, context.schedule, month)
    levers = context.levers
    return np.minimum(price, levers.legal_fee_cap_cents) if levers.enforce_caps else price


def _bills(
    state: Customers, usage: np.ndarray, schedule: FeeSchedule, month: int
) -> tuple[np.ndarray, list[tuple[int, np.ndarray, Tariff]]]:
    """Recurring bill (cents) per customer, and the (group, mask, tariff) triples used."""
    if schedule.groups == 1:
        tariff = schedule.tariff(month, 0)
        bill = monthly_bill_cents(usage, tariff, state.prepay, state.transaction_value)
        return bill, [(0, np.ones(len(usage), dtype=bool), tariff)]
    group = schedule.group_of(state.join_month)
    bill = np.zeros(len(usage))
    parts = []
    for g in range(schedule.groups):
        mask = group == g
        if mask.any():
            tariff = schedule.tariff(month, g)
            bill[mask] = monthly_bill_cents(
                usage[mask], tariff, state.prepay[mask], state.transaction_value[mask]
            )
            parts.append((g, mask, tariff))
    return bill, parts


@dataclass(frozen=True)
class _Context:
    """Everything derived from one (realised) scenario that the monthly loop looks up."""

    model: ScenarioModel
    table: SegmentTable
    schedule: FeeSchedule
    levers: _Levers

    @classmethod
    def build(cls, model: ScenarioModel, months: int, actions: tuple[RuleAction, ...]) -> _Context:
        return cls(
            model,
            SegmentTable.from_model(model),
            FeeSchedule(model, months, actions),
            _Levers.from_model(model),
        )


def simulate_chunk(
    plan: RunPlan,
    seat_start: int,
    seat_stop: int,
    track_charges: bool = False,
    on_month: Callable[[], None] | None = None,
) -> ChunkResult:
    """Simulate seats ``[seat_start, seat_stop)`` of one replication over the whole horizon.

    ``on_month`` is called after every simulated month (warm-up included), for progress bars.
    """
    months = plan.months
    horizon_context = _Context.build(plan.model, months, plan.actions)
    warm_up_context = (
        horizon_context if plan.warm_up_model is None else _Context.build(plan.warm_up_model, months, ())
    )
    warm_up = warm_up_context.model.simulation.warm_up_months
    # The initial customers were shaped by the warm-up policy (the baseline's, when comparing).
    context = warm_up_context
    segments = len(context.table.names)
    stream = stream_key(plan.seed, plan.replication)

    seats = np.arange(seat_start, seat_stop, dtype=np.uint64)
    seat_keys = customer_keys(stream, seats)
    initial = draw_customers(stream, seats, seats, context.table, context.model.fees.prepay_uptake, None)
    initial.join_month -= warm_up
    state = _new_state(initial, np.zeros(len(seats)))
    state.price = _price(state, context, 0)
    state.reference = state.price.copy()

    tally = _Tally(months, segments)
    charged_total = np.zeros(len(seats)) if track_charges else None
    months_active = np.zeros(len(seats), dtype=np.int64) if track_charges else None
    pool_base = seat_start // POOL_SIZE
    pools = -(-(seat_stop - seat_start) // POOL_SIZE) + 1

    staying = np.ones(len(seats), dtype=bool)
    for month in range(-warm_up, months):
        # Before month 0 the world runs under the warm-up policy; the horizon's policy starts at 0.
        context = warm_up_context if month < 0 else horizon_context
        model, table, schedule, levers = context.model, context.table, context.schedule, context.levers
        b, handling, arrivals = model.behaviour, model.complaint_handling, model.population.arrivals
        uptake = model.fees.prepay_uptake
        fee_month = max(month, 0)
        # Arrivals: each seat may bring one new customer, at a rate set by the headline price.
        newcomer_tariff = schedule.newcomer_tariff(fee_month)
        probability = arrival_probability(
            arrivals.monthly_rate,
            headline_price(
                model, newcomer_tariff, levers.legal_fee_cap_cents / 100.0 if levers.enforce_caps else np.inf
            ),
            arrivals.market_reference_price,
            arrivals.price_elasticity,
        )
        arriving = uniform(seat_keys, Purpose.ARRIVAL, month) < probability
        new_count = int(arriving.sum())
        if new_count:
            new_seats = seats[arriving]
            ids = new_seats + np.uint64((month + 1 + MAX_WARM_UP) * ARRIVAL_ID_STRIDE)
            newcomers = draw_customers(stream, ids, new_seats, table, uptake, month)
            quoted = monthly_bill_cents(
                newcomers.usage_level, newcomer_tariff, newcomers.prepay, newcomers.transaction_value
            )
            if levers.enforce_caps:
                quoted = np.minimum(quoted, levers.legal_fee_cap_cents)
            state = state.keep(staying, _new_state(newcomers, quoted))
        elif not staying.all():
            state = state.keep(staying, None)
        if month == 0:
            # The horizon starts with a clean ledger: overcharges of the warm-up are not counted.
            state.open_errors[:] = 0
            state.open_error_cents[:] = 0.0
        is_new = (state.join_month == month) & ~state.original
        n = len(state.keys)
        tally.start(month, state.segment)
        tally.count("active", np.ones(n, dtype=bool))
        tally.count("acquired", is_new)

        # Bills: usage, the tariff each customer is on, legal caps.
        variation = table.usage_monthly_variation[state.segment]
        usage = monthly_usage(state.usage_level, variation, uniform(state.keys, Purpose.USAGE_MONTHLY, month))
        bill, groups = _bills(state, usage, schedule, fee_month)
        # The price a customer judges is the bill at its usual usage, not this month's swings. It
        # changes only when the tariff does: at month 0 (the policy starts) and at fee-change events.
        events = [schedule.event(fee_month, g) for g in range(schedule.groups)] if month > 0 else []
        previous = state.price
        if month == 0 or any(e is not None for e in events):
            state.price = _price(state, context, fee_month)
        price = state.price
        over_cap = bill > levers.legal_fee_cap_cents
        if levers.enforce_caps:
            bill = np.minimum(bill, levers.legal_fee_cap_cents)
        else:
            tally.count("fee_cap_breaches", over_cap)

        # Fee changes reaching customers this month — scheduled, rule-driven, or the policy itself
        # replacing the warm-up policy at month 0: the price before, the notice given, breaches.
        previous_price = np.full(n, np.nan)
        notice_days = np.zeros(n)
        if month == 0 and warm_up_context is not horizon_context:
            moved = (previous != price) & ~is_new
            previous_price[moved] = previous[moved]
            notice_days[moved] = levers.minimum_notice_days or 0
        for group, mask, _ in groups if events else ():
            event = events[group]
            if event is not None:
                affected = mask & ~is_new
                previous_price[affected] = previous[affected]
                notice_days[affected] = event.notice_days
        changed = ~np.isnan(previous_price)
        rise = np.where(changed, price - previous_price, 0.0)
        increase = np.where(changed, np.maximum(rise, 0.0) / np.maximum(previous_price, 100.0), 0.0)
        # Customers told in time expect the new price and adopt it as their reference.
        notice_relief = 1.0 - np.exp(-notice_days / b.fee_change_notice_days_scale)
        state.reference = state.reference + rise * notice_relief
        notified = changed & (notice_days > 0)
        minimum = levers.minimum_notice_days
        if minimum is not None and not levers.enforce_caps:
            tally.count("notice_breaches", changed & (rise > 0) & (notice_days < minimum))
        tally.count("fee_change_notices", notified)
        tally.count("fee_increases_experienced", increase > 0)

        # Failed deductions and penalty fees.
        tariff_penalty = np.zeros(n)
        early_exit_fee = np.zeros(n)
        minimum_term = np.zeros(n)
        for _, mask, tariff in groups:
            tariff_penalty[mask] = to_cents(tariff.penalty_fee)
            early_exit_fee[mask] = to_cents(tariff.early_termination_fee)
            minimum_term[mask] = tariff.minimum_term_months
        failed = (~state.prepay) & (
            uniform(state.keys, Purpose.PAYMENT_FAILURE, month)
            < state.failed_payment * levers.late_payment_factor
        )
        penalty = np.where(failed, tariff_penalty, 0.0)
        if levers.enforce_caps:
            penalty = np.minimum(penalty, levers.legal_penalty_cap_cents)
        else:
            tally.count("penalty_cap_breaches", failed & (penalty > levers.legal_penalty_cap_cents))
        tally.count("failed_payments", failed)

        # Billing errors (overcharges) wait, unknown to the firm, until an audit or a complaint.
        error, overcharge = operations.billing_errors(
            bill,
            uniform(state.keys, Purpose.BILLING_ERROR, month),
            levers.error_rate,
            model.billing.error_size_share,
        )
        state.open_errors += error
        state.open_error_cents += overcharge
        tally.count("billing_errors_made", error)

        charged = bill + overcharge
        setup = np.where(is_new, to_cents(newcomer_tariff.setup_fee), 0.0)
        tally.total("revenue_recurring_cents", bill)
        tally.total("revenue_overcharge_cents", overcharge)
        tally.total("revenue_penalty_cents", penalty)
        tally.total("revenue_setup_cents", setup)

        # Surprise, attention, complaints.
        surprise = behaviour.perceived_surprise(charged, state.reference, levers.surprise_relief)
        attention_draw = uniform(state.keys, Purpose.ATTENTION, month)
        looks = state.attention + (1.0 - state.attention) * levers.notice_attention
        looks = np.where(notified, looks + (1.0 - looks) * b.fee_change_notice_attention, looks)
        attentive = (
            (attention_draw < looks) | (surprise > b.surprise_attention_threshold) | state.complaint_open
        )
        notices_error = np.where(
            model.transparency.itemised_bills,
            model.transparency.itemised_error_detection,
            state.attention,
        )
        propensity = state.complaint_propensity
        unclear = 1.0 - levers.clarity_relief
        cause = behaviour.decide_complaint(
            uniform(state.keys, Purpose.COMPLAINT, month),
            (
                propensity * b.surprise_complaint_rate * surprise * unclear,
                propensity * b.error_complaint_rate * notices_error * error,
                propensity * b.fee_increase_complaint_rate * increase * (1.0 - notice_relief),
                propensity * b.penalty_complaint_rate * penalty / np.maximum(bill, 100.0) * unclear,
            ),
        )
        complained = cause > 0
        attentive |= complained
        tally.total("attentive_customers", attentive)
        tally.count("complaints", complained)
        tally.count("complaints_surprise", cause == ComplaintCause.SURPRISE)
        tally.count("complaints_billing_error", cause == ComplaintCause.BILLING_ERROR)
        tally.count("complaints_fee_increase", cause == ComplaintCause.FEE_INCREASE)
        tally.count("complaints_penalty_fee", cause == ComplaintCause.PENALTY_FEE)
        state.grievance += complained
        state.complaint_open |= complained

        # Complaint handling in service pools with finite capacity.
        pool = state.seat // POOL_SIZE - pool_base
        outcome = operations.handle_complaints(
            state.complaint_open,
            pool,
            pools,
            handling.capacity_per_1000_customers,
            levers.resolution_rate,
            handling.escalation_share,
            uniform(state.keys, Purpose.COMPLAINT_HANDLING, month),
        )
        tally.count("complaints_handled", outcome.handled)
        tally.count("complaints_resolved", outcome.resolved)
        tally.count("complaints_unresolved", outcome.handled & ~outcome.resolved)
        tally.count("complaints_escalated", outcome.escalated)
        state.complaint_open &= ~outcome.handled
        tally.count("complaint_backlog", state.complaint_open)
        state.grievance = np.where(
            outcome.resolved, state.grievance * (1.0 - b.resolution_relief), state.grievance
        )
        refunded_errors = outcome.resolved & (state.open_errors > 0)
        refund = np.where(refunded_errors, state.open_error_cents * handling.refund_share, 0.0)
        tally.total("billing_errors_refunded_on_complaint", np.where(refunded_errors, state.open_errors, 0))
        tally.total("refunds_complaint_cents", np.rint(refund))
        tally.total(
            "goodwill_credit_cents",
            np.where(outcome.resolved, to_cents(handling.goodwill_credit), 0.0),
        )
        state.open_errors = np.where(refunded_errors, 0, state.open_errors)
        state.open_error_cents = np.where(refunded_errors, 0.0, state.open_error_cents)

        # Audits find a share of the outstanding overcharges and refund them in full.
        if month >= 0 and levers.audit_every and (month + 1) % levers.audit_every == 0:
            tally.total("audited_customers", np.ones(n, dtype=bool))
            found = operations.audit(
                state.open_errors,
                uniform(state.keys, Purpose.AUDIT, month),
                model.audits.detection_share,
            )
            tally.total("billing_errors_found_by_audit", np.where(found, state.open_errors, 0))
            tally.total("refunds_audit_cents", np.where(found, state.open_error_cents, 0.0))
            state.open_errors = np.where(found, 0, state.open_errors)
            state.open_error_cents = np.where(found, 0.0, state.open_error_cents)

        # Churn: the personal baseline plus what attentive customers make of the bill.
        wtp_cents = state.willingness_to_pay * 100.0
        tenure = month - state.join_month
        in_term = (tenure < minimum_term) & (early_exit_fee > 0)
        deterrence = np.where(in_term, np.exp(-b.exit_fee_deterrence * early_exit_fee / wtp_cents), 1.0)
        price_hazard, increase_hazard, complaint_hazard = behaviour.churn_hazards(
            price,
            state.reference,
            wtp_cents,
            state.grievance,
            attentive,
            deterrence,
            b.price_sensitivity,
            b.reference_sensitivity,
            b.reference_tolerance,
            b.loss_aversion,
            b.complaint_churn_effect,
        )
        leaving = behaviour.decide_churn(
            uniform(state.keys, Purpose.CHURN, month),
            state.baseline_churn,
            price_hazard,
            increase_hazard,
            complaint_hazard,
        )
        gone = leaving > 0
        exit_fee = np.where(gone & in_term, early_exit_fee, 0.0)
        tally.total("revenue_early_termination_cents", exit_fee)
        tally.total("churned", gone)
        tally.count("churned_baseline", leaving == ChurnCause.BASELINE)
        tally.count("churned_price", leaving == ChurnCause.PRICE)
        tally.count("churned_price_rise", leaving == ChurnCause.PRICE_RISE)
        tally.count("churned_complaint", leaving == ChurnCause.COMPLAINT)
        tally.total("billing_errors_lost_at_churn", np.where(gone, state.open_errors, 0))

        if track_charges and month >= 0:
            first_cohort = state.original
            index = (state.seat[first_cohort] - seat_start).astype(np.int64)
            charged_total[index] += (charged + penalty)[first_cohort]
            months_active[index] += 1

        state.reference = behaviour.update_reference(state.reference, price, b.reference_adaptation_rate)
        state.grievance = state.grievance * b.grievance_memory
        staying = ~gone
        if on_month is not None:
            on_month()
        tally.total("billing_errors_outstanding", np.where(gone, 0.0, state.open_errors))

    return ChunkResult(tally.counts, charged_total, months_active, initial.segment if track_charges else None)
