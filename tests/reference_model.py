"""A slow reference of the model in plain Python: one customer at a time, as docs/model.md states it.

It shares nothing with the compiled engine but the scenario's derived inputs (the tariff schedule and
the levers), which are plain Python themselves: the hash behind the random draws, the arrival rates
and segment mix, the traits, bills, notices, complaints, handling, audits and churn are written
again from the document, with SciPy's ``ndtri`` and ``betaincinv`` for the inverse CDFs. Used only by
``tests/test_engine_reference.py`` on a few hundred customers.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from simlib.model.counts import COUNTED
from simlib.model.keys import Purpose
from simlib.model.parameters import ScenarioModel
from simlib.model.policy import Policy

MASK = 2**64 - 1
PHI = 0x9E3779B97F4A7C15
PSI = 0xD6E8FEB86659FD93
POOL = 4096


def mix(x: int) -> int:
    """MurmurHash3's 64-bit finaliser (docs/model.md §8.1)."""
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK
    x ^= x >> 33
    return x


def stream(seed: int, replication: int) -> int:
    digest = hashlib.blake2b(f"simlib/{seed}/{replication}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def key(stream_key: int, customer_id: int) -> int:
    return mix(mix((customer_id * PHI + stream_key) & MASK) ^ stream_key)


def uniform(customer_key: int, purpose: Purpose, month: int = -1) -> float:
    offset = ((month + 2) * PHI + int(purpose) * PSI) % 2**64
    return ((mix((customer_key + offset) & MASK) >> 12) + 0.5) * 2.0**-52


def bill(tariff, usage: float, prepay: bool, value: float) -> float:
    """docs/model.md §3.3: round(100 · clip(F(1 − δ·prepay) + U + X, M, C))."""
    billable = max(usage - tariff.included_units, 0.0)
    upper = [float(u) for u in tariff.tier_upper]
    price = [float(p) for p in tariff.tier_price]
    if tariff.volume_pricing:
        band = next((k for k, u in enumerate(upper) if billable <= u), len(upper) - 1)
        charge = price[min(band, len(price) - 1)] * billable
    else:
        charge, lower = 0.0, 0.0
        for u, p in zip(upper, price, strict=True):
            if p:
                charge += p * min(max(billable - lower, 0.0), u - lower)
            lower = u
    total = tariff.monthly_fee * (1.0 - tariff.prepay_discount * (1.0 if prepay else 0.0)) + charge
    if tariff.transaction_fee_fixed or tariff.transaction_fee_percent:
        total += usage * (tariff.transaction_fee_fixed + tariff.transaction_fee_percent / 100.0 * value)
    return float(np.rint(min(max(total, tariff.minimum_charge), tariff.bill_cap) * 100.0))


@dataclass
class Customer:
    key: int
    seat: int
    segment: int
    join_month: int
    usage_level: float
    variation: float
    value: float
    wtp: float
    churn: float
    attention: float
    propensity: float
    failed_payment: float
    prepay: bool
    original: bool
    price: float = 0.0
    reference: float = 0.0
    grievance: float = 0.0
    complaint_open: bool = False
    open_errors: int = 0
    open_error_cents: float = 0.0
    alert_until: int = -(2**62)
    """Last month a fee-change notice keeps the customer attentive (docs/model.md §3.8)."""


def arrivals(model: ScenarioModel, tariff, cap_cents: float) -> list[float]:
    """docs/model.md §3.1: the probability that a seat's prospect of each segment joins.

    Segment s: B_s = min(bill at median usage m_s, cap) + set-up fee / A; market bill
    M_s = max(P_mkt + c·(m_s − Σ share·m), P_mkt / 10); π_s = min(1, r·(B_s / M_s)^(−η)).
    """
    a, segments = model.population.arrivals, model.population.segments
    mean_usage = sum(s.share * s.usage_median_units for s in segments) / sum(s.share for s in segments)
    joining = []
    for s in segments:
        own = min(bill(tariff, s.usage_median_units, False, s.average_transaction_value), cap_cents) / 100.0
        own += tariff.setup_fee / a.setup_fee_amortisation_months
        market = max(
            a.market_reference_price + a.market_unit_price * (s.usage_median_units - mean_usage),
            a.market_reference_price / 10.0,
        )
        joining.append(min(1.0, a.monthly_rate * (own / market) ** (-a.price_elasticity)))
    return joining


def segment(customer_key: int, model: ScenarioModel) -> int:
    """docs/model.md §2.2: the first segment whose cumulative share exceeds the segment draw."""
    cumulative = np.cumsum([s.share for s in model.population.segments])
    cumulative[-1] = 1.0
    u = uniform(customer_key, Purpose.SEGMENT)
    return next(i for i, c in enumerate(cumulative) if u < c)


def draw(
    stream_key: int,
    cid: int,
    seat: int,
    join_month: int,
    initial: bool,
    model: ScenarioModel,
) -> Customer:
    """docs/model.md §2.2–2.3."""
    k = key(stream_key, cid)
    segments = model.population.segments
    s = segment(k, model)
    seg = segments[s]
    tenure = 0
    if initial:
        tenure = math.floor(uniform(k, Purpose.TENURE) * (seg.initial_tenure_max_months + 1.0))
        join_month -= tenure
    level = seg.usage_median_units * math.exp(
        seg.usage_dispersion * special.ndtri(uniform(k, Purpose.USAGE_LEVEL))
    )
    wtp = (
        seg.willingness_to_pay_median
        * (level / seg.usage_median_units) ** seg.willingness_to_pay_usage_elasticity
        * math.exp(seg.willingness_to_pay_dispersion * special.ndtri(uniform(k, Purpose.WILLINGNESS_TO_PAY)))
    )
    return Customer(
        key=k,
        seat=seat,
        segment=s,
        join_month=join_month,
        usage_level=level,
        variation=seg.usage_monthly_variation,
        value=seg.average_transaction_value,
        wtp=wtp,
        churn=float(
            special.betaincinv(seg.churn_alpha, seg.churn_beta + tenure, uniform(k, Purpose.BASELINE_CHURN))
        ),
        attention=float(
            special.betaincinv(seg.attention_alpha, seg.attention_beta, uniform(k, Purpose.ATTENTION_TRAIT))
        ),
        propensity=math.exp(
            seg.complaint_propensity_dispersion * special.ndtri(uniform(k, Purpose.COMPLAINT_PROPENSITY))
        ),
        failed_payment=min(
            seg.late_payment_scale
            * uniform(k, Purpose.LATE_PAYMENT_TRAIT) ** (-1.0 / seg.late_payment_tail_index),
            0.95,
        ),
        prepay=uniform(k, Purpose.PREPAY) < model.fees.prepay_uptake,
        original=initial,
    )


def simulate(
    model: ScenarioModel,
    seats: int,
    months: int,
    seed: int,
    replication: int = 0,
    warm_up_model: ScenarioModel | None = None,
) -> np.ndarray:
    """Counts (month, segment, metric) of a scenario over seats 0 … seats − 1, pool by pool.

    ``warm_up_model``: the policy in force before month 0 (the baseline's, for the reform run of a
    comparison), which the scenario then replaces at month 0 (docs/model.md §3.4, §3.14)."""
    total = None
    for start in range(0, seats, POOL):
        counts = _pool(model, start, min(start + POOL, seats), months, seed, replication, warm_up_model)
        total = counts if total is None else total + counts
    return total


def _pool(model, first_seat, last_seat, months, seed, replication, warm_up_model):
    warm_model = warm_up_model or model
    policies = {
        "warm": (warm_model, Policy.from_model(warm_model, months)),
        "horizon": (model, Policy.from_model(model, months)),
    }
    tariffs = {name: _tariffs(m, months) for name, (m, _) in policies.items()}
    warm_up = warm_model.simulation.warm_up_months
    segments = len(model.population.segments)
    index = {name: i for i, name in enumerate(COUNTED)}
    counts = np.zeros((warm_up + months, segments, len(COUNTED)))
    k0 = stream(seed, replication)

    def group(policy: Policy, join_month: int) -> int:
        return sum(1 for start in policy.group_starts if start <= join_month)

    def quoted(c: Customer, policy: Policy, table: list, row: int) -> float:
        price = bill(table[row], c.usage_level, c.prepay, c.value)
        levers = policy.levers
        return min(price, levers.legal_fee_cap_cents) if levers.enforce_caps else price

    population = []
    m0, p0 = policies["warm"]
    for seat in range(first_seat, last_seat):
        c = draw(k0, seat, seat, -warm_up, True, m0)
        c.price = c.reference = quoted(c, p0, tariffs["warm"], p0.tariff_index[0, group(p0, c.join_month)])
        population.append(c)
    for month in range(-warm_up, months):
        which = "warm" if month < 0 else "horizon"
        mdl, policy = policies[which]
        table, levers, b = tariffs[which], policy.levers, mdl.behaviour
        rows = policy.tariffs
        tally = counts[month + warm_up]

        def count(c: Customer, name: str, amount: float = 1.0, tally=tally) -> None:
            tally[c.segment, index[name]] += amount

        fee_month = max(month, 0)
        offered = table[policy.newcomer_tariff[fee_month]]
        cap = levers.legal_fee_cap_cents if levers.enforce_caps else math.inf
        joining = arrivals(mdl, offered, cap)
        for seat in range(first_seat, last_seat):  # §3.1
            cid = seat + (month + 1 + 4096) * 2**40  # the seat's prospect this month
            if uniform(key(k0, seat), Purpose.ARRIVAL, month) < joining[segment(key(k0, cid), mdl)]:
                c = draw(k0, cid, seat, month, False, mdl)
                c.price = c.reference = quoted(c, policy, table, policy.newcomer_tariff[fee_month])
                population.append(c)
        if month == 0:  # §3.14
            for c in population:
                c.open_errors, c.open_error_cents = 0, 0.0
        n = len(population)
        waiting = 0
        state = []
        for c in population:
            is_new = c.join_month == month and not c.original
            count(c, "active")
            if is_new:
                count(c, "acquired")
            row = policy.tariff_index[fee_month, group(policy, c.join_month)]
            t = table[row]
            usage = c.usage_level * math.exp(
                c.variation * special.ndtri(uniform(c.key, Purpose.USAGE_MONTHLY, month))
            )
            amount = bill(t, usage, c.prepay, c.value)
            if amount > levers.legal_fee_cap_cents:
                if levers.enforce_caps:
                    amount = levers.legal_fee_cap_cents
                else:
                    count(c, "fee_cap_breaches")
            # §3.4
            previous = c.price
            if month == 0 or policy.tariff_changes[fee_month]:
                c.price = quoted(c, policy, table, row)
            notice = -1
            if not is_new and month == 0 and warm_up_model is not None and previous != c.price:
                notice = max(levers.minimum_notice_days, 0)
            if not is_new and month > 0:
                notice = policy.event_notice[fee_month, group(policy, c.join_month)]
            increase = relief = expected_rise = 0.0
            if notice >= 0:
                rise = c.price - previous
                increase = max(rise, 0.0) / max(previous, 100.0)
                relief = 1.0 - math.exp(-notice / b.fee_change_notice_days_scale)
                # The announced part ν·Δ: the reference takes up the share A of it, the rest is expected.
                c.reference += b.notice_reference_anticipation * relief * rise
                expected_rise = (1.0 - b.notice_reference_anticipation) * relief * rise
                if notice > 0:
                    count(c, "fee_change_notices")
                    c.alert_until = month + b.fee_change_notice_attention_months - 1
                if increase > 0:
                    count(c, "fee_increases_experienced")
                if (
                    levers.minimum_notice_days >= 0
                    and not levers.enforce_caps
                    and rise > 0
                    and notice < levers.minimum_notice_days
                ):
                    count(c, "notice_breaches")
            # §3.5
            penalty = 0.0
            if (
                not c.prepay
                and uniform(c.key, Purpose.PAYMENT_FAILURE, month)
                < c.failed_payment * levers.late_payment_factor
            ):
                count(c, "failed_payments")
                penalty = float(rows.penalty_fee_cents[row])
                if levers.enforce_caps:
                    penalty = min(penalty, levers.legal_penalty_cap_cents)
                elif penalty > levers.legal_penalty_cap_cents:
                    count(c, "penalty_cap_breaches")
            # §3.6–3.7
            overcharge = 0.0
            if uniform(c.key, Purpose.BILLING_ERROR, month) < levers.error_rate:
                overcharge = max(float(np.rint(amount * levers.error_size_share)), 1.0)
                c.open_errors += 1
                c.open_error_cents += overcharge
                count(c, "billing_errors_made")
            count(c, "revenue_recurring_cents", amount)
            count(c, "revenue_overcharge_cents", overcharge)
            count(c, "revenue_penalty_cents", penalty)
            if is_new:
                count(
                    c, "revenue_setup_cents", float(rows.setup_fee_cents[policy.newcomer_tariff[fee_month]])
                )
            # §3.8–3.9
            charged = amount + overcharge
            expected = c.reference + expected_rise
            surprise = max(charged - expected, 0.0) / max(expected, 100.0) * (1.0 - levers.surprise_relief)
            looks = c.attention + (1.0 - c.attention) * levers.notice_attention
            if month <= c.alert_until:
                looks += (1.0 - looks) * b.fee_change_notice_attention
            attentive = (
                uniform(c.key, Purpose.ATTENTION, month) < looks
                or surprise > levers.surprise_attention_threshold
                or c.complaint_open
            )
            unclear = 1.0 - levers.clarity_relief
            noticing = levers.itemised_error_detection if levers.itemised_bills else c.attention
            p = [
                c.propensity * levers.surprise_complaint_rate * surprise * unclear,
                c.propensity * levers.error_complaint_rate * noticing * (1.0 if overcharge > 0 else 0.0),
                c.propensity * levers.fee_increase_complaint_rate * increase * (1.0 - relief),
                c.propensity * levers.penalty_complaint_rate * penalty / max(amount, 100.0) * unclear,
            ]
            p = [min(max(q, 0.0), 1.0) for q in p]
            total = sum(p)
            cause = 0
            if total > 0:
                complain = 1.0 - math.prod(1.0 - q for q in p)
                u = uniform(c.key, Purpose.COMPLAINT, month)
                upper = 0.0
                for k, q in enumerate(p, start=1):
                    lower, upper = upper, upper + q * (complain / total)
                    if lower <= u < upper:
                        cause = k
                        break
            if cause:
                attentive = True
                count(c, "complaints")
                count(
                    c,
                    (
                        "complaints_surprise",
                        "complaints_billing_error",
                        "complaints_fee_increase",
                        "complaints_penalty_fee",
                    )[cause - 1],
                )
                c.grievance += 1.0
                c.complaint_open = True
            if attentive:
                count(c, "attentive_customers")
            waiting += c.complaint_open
            state.append((c, row, attentive, increase))
        # §3.10
        capacity = levers.capacity_per_1000 * n / 1000.0
        share = min(capacity / waiting, 1.0) if waiting > capacity else 1.0
        for c, *_ in state:
            if not c.complaint_open:
                continue
            u = uniform(c.key, Purpose.COMPLAINT_HANDLING, month)
            if not u < share:
                count(c, "complaint_backlog")
                continue
            c.complaint_open = False
            count(c, "complaints_handled")
            if u < share * levers.resolution_rate:
                count(c, "complaints_resolved")
                count(c, "goodwill_credit_cents", levers.goodwill_cents)
                c.grievance *= 1.0 - levers.resolution_relief
                if c.open_errors > 0:
                    count(c, "billing_errors_refunded_on_complaint", c.open_errors)
                    count(
                        c, "refunds_complaint_cents", float(np.rint(c.open_error_cents * levers.refund_share))
                    )
                    c.open_errors, c.open_error_cents = 0, 0.0
            else:
                count(c, "complaints_unresolved")
                if u < share * (
                    levers.resolution_rate + (1.0 - levers.resolution_rate) * levers.escalation_share
                ):
                    count(c, "complaints_escalated")
        # §3.11
        if month >= 0 and levers.audit_every and (month + 1) % levers.audit_every == 0:
            for c, *_ in state:
                count(c, "audited_customers")
                if c.open_errors > 0 and uniform(c.key, Purpose.AUDIT, month) < levers.audit_detection_share:
                    count(c, "billing_errors_found_by_audit", c.open_errors)
                    count(c, "refunds_audit_cents", c.open_error_cents)
                    c.open_errors, c.open_error_cents = 0, 0.0
        # §3.12–3.13
        staying = []
        for c, row, attentive, increase in state:
            wtp = c.wtp * 100.0
            exit_fee = float(rows.early_termination_fee_cents[row])
            in_term = month - c.join_month < rows.minimum_term_months[row] and exit_fee > 0
            if increase > 0 and mdl.compliance.penalty_free_exit_on_rise:
                in_term = False  # §3.12: a rise opens a penalty-free exit in its month
            deterrence = math.exp(-b.exit_fee_deterrence * exit_fee / wtp) if in_term else 1.0
            over_wtp = b.price_sensitivity * max(c.price / wtp - 1.0, 0.0)
            change = c.price / max(c.reference, 100.0) - 1.0
            loss = b.reference_sensitivity * b.loss_aversion * max(change - b.reference_tolerance, 0.0)
            gain = b.reference_sensitivity * max(-change - b.reference_tolerance, 0.0)
            gross = over_wtp + loss
            net = max(gross - gain, 0.0) * (1.0 if attentive else 0.0) * deterrence
            share_wtp = over_wtp / gross if gross > 0 else 0.0
            hazards = (net * share_wtp, net * (1.0 - share_wtp), b.complaint_churn_effect * c.grievance)
            total = sum(hazards)
            u = uniform(c.key, Purpose.CHURN, month)
            cause = None
            if u < c.churn:
                cause = "churned_baseline"
            else:
                behavioural = (1.0 - c.churn) * -math.expm1(-total)
                offset = u - c.churn
                if offset < behavioural:
                    position = offset / behavioural
                    cut_price = hazards[0] / total
                    cut_rise = cut_price + hazards[1] / total
                    cause = (
                        "churned_price"
                        if position < cut_price
                        else "churned_price_rise"
                        if position < cut_rise
                        else "churned_complaint"
                    )
            if cause is None:
                count(c, "billing_errors_outstanding", c.open_errors)
                staying.append(c)
            else:
                count(c, "churned")
                count(c, cause)
                if in_term:
                    count(c, "revenue_early_termination_cents", exit_fee)
                count(c, "billing_errors_lost_at_churn", c.open_errors)
            c.reference += b.reference_adaptation_rate * (c.price - c.reference)
            c.grievance *= b.grievance_memory
        population = staying
    return counts[warm_up:]


def _tariffs(model: ScenarioModel, months: int) -> list:
    """The schedule's tariffs as Python objects, in the rows of its table."""
    from simlib.model.schedule import FeeSchedule

    schedule = FeeSchedule(model, months)
    rows: dict[int, object] = {}
    for month in range(months):
        for g in range(schedule.groups):
            rows[int(schedule.tariff_index[month, g])] = schedule.tariff(month, g)
    return [rows[r] for r in range(len(rows))]
