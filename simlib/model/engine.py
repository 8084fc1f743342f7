"""The monthly simulation of one chunk of customers: the order of events, one named step each.

:func:`simulate_chunk` builds the two :class:`Policy` objects of a run (the policy in force during
the warm-up and the one under study) and simulates the chunk one service pool at a time. A pool
is :data:`POOL_SIZE` seats with the customers arriving through them; pools share nothing (complaint
handling is organised per pool), so results are identical for every chunk size and worker count,
and a pool's arrays stay in the processor's cache while its whole horizon is simulated.

:func:`simulate_pool` is the month loop, compiled with Numba: each month it calls the steps below
in the order of docs/model.md §3, each a compiled function over the pool's arrays
(:class:`~simlib.model.state.Customers`) that counts what happened into the month's
(segment, metric) row. The per-customer equations live in :mod:`.behaviour`, :mod:`.operations`,
:mod:`.fees` and :mod:`.population`. The steps are inlined into the loop (``inline="always"``):
a call would pass the pool's ~70 arrays by value and count references to each, which costs more
than many of the steps themselves, and compiling one function is also quicker than a dozen.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numba import njit

from simlib.model.behaviour import (
    BILLING_ERROR,
    FEE_INCREASE,
    LEFT_BASELINE,
    LEFT_COMPLAINT,
    LEFT_PRICE,
    LEFT_PRICE_RISE,
    SURPRISE,
    churn_hazards,
    decide_churn,
    decide_complaint,
    perceived_surprise,
    update_reference,
)
from simlib.model.counts import COUNTED
from simlib.model.draws import customer_key, uniform_at
from simlib.model.fees import bill_cents
from simlib.model.keys import Purpose, offset_table, stream_key
from simlib.model.operations import (
    ESCALATED,
    RESOLVED,
    WAITING,
    audit_finds,
    complaint_outcome,
    overcharge_cents,
    served_share,
)
from simlib.model.parameters import ScenarioModel
from simlib.model.policy import NO_MINIMUM_NOTICE, Policy
from simlib.model.population import ARRIVAL_ID_STRIDE, draw_traits, segment_of
from simlib.model.schedule import NO_EVENT, RuleAction
from simlib.model.special import ndtri
from simlib.model.state import Customers, copy_customer, empty_customers, with_capacity

MAX_WARM_UP = 4096
NO_ALERT = -(2**62)
"""``Customers.alert_until`` of a customer no fee-change notice has reached."""
POOL_SIZE = 4096
"""Seats per complaint-handling pool (and the granularity of chunks)."""

Columns = NamedTuple("Columns", [(name, int) for name in COUNTED])
COLUMN = Columns(*range(len(COUNTED)))
"""The column of each counted metric in a tally row, by name (a global tuple: Numba compiles its
fields as constants)."""

_SEGMENT = int(Purpose.SEGMENT)
"""The trait draw of a customer's segment (docs/model.md §2.2): a seat's prospect's segment (§3.1)."""
_USAGE, _PAYMENT, _ERROR, _ATTENTION, _COMPLAINT, _HANDLING, _CHURN, _AUDIT, _ARRIVAL = (
    int(p)
    for p in (
        Purpose.USAGE_MONTHLY,
        Purpose.PAYMENT_FAILURE,
        Purpose.BILLING_ERROR,
        Purpose.ATTENTION,
        Purpose.COMPLAINT,
        Purpose.COMPLAINT_HANDLING,
        Purpose.CHURN,
        Purpose.AUDIT,
        Purpose.ARRIVAL,
    )
)


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


def chunk_bounds(customers: int, chunk_size: int) -> list[tuple[int, int]]:
    """Seat ranges of the chunks; chunk sizes are rounded up to whole service pools."""
    size = max(POOL_SIZE, -(-chunk_size // POOL_SIZE) * POOL_SIZE)
    return [(start, min(start + size, customers)) for start in range(0, customers, size)]


def simulate_chunk(
    plan: RunPlan,
    seat_start: int,
    seat_stop: int,
    track_charges: bool = False,
    on_month: Callable[[], None] | None = None,
) -> ChunkResult:
    """Simulate seats ``[seat_start, seat_stop)`` of one replication over the whole horizon.

    ``on_month`` is called (warm-up months + months) times in all, as pools finish, for progress bars.
    """
    if seat_start % POOL_SIZE:
        raise ValueError(
            f"a chunk starts at a whole service pool (seat {seat_start} is not a multiple of {POOL_SIZE})"
        )
    months = plan.months
    horizon = Policy.from_model(plan.model, months, plan.actions)
    warm = horizon if plan.warm_up_model is None else Policy.from_model(plan.warm_up_model, months)
    warm_up = (plan.warm_up_model or plan.model).simulation.warm_up_months
    # The reform run of a comparison starts from the baseline's customers: at month 0 the reform
    # replaces the baseline, and customers whose price moves experience a fee change.
    switch_notice = NO_EVENT if plan.warm_up_model is None else max(horizon.levers.minimum_notice_days, 0)
    segments = len(warm.segments.cumulative_share)
    counts = np.zeros((warm_up + months, segments, len(COUNTED)))
    seats = seat_stop - seat_start
    charged = np.zeros(seats if track_charges else 0)
    months_active = np.zeros(seats if track_charges else 0, dtype=np.int64)
    initial_segment = np.zeros(seats if track_charges else 0, dtype=np.int64)
    stream = stream_key(plan.seed, plan.replication)
    offsets = offset_table(-warm_up, months)
    pools = range(seat_start, seat_stop, POOL_SIZE)
    reported = 0
    for number, pool_start in enumerate(pools, start=1):
        pool_stop = min(pool_start + POOL_SIZE, seat_stop)
        part = slice(pool_start - seat_start, pool_stop - seat_start) if track_charges else slice(0, 0)
        simulate_pool(
            PoolRun(
                stream,
                pool_start,
                pool_stop,
                warm_up,
                months,
                warm,
                horizon,
                switch_notice,
                offsets,
                counts,
                charged[part],
                months_active[part],
                track_charges,
            ),
            initial_segment[part],
        )
        if on_month is not None:
            due = (warm_up + months) * number // len(pools)
            for _ in range(due - reported):
                on_month()
            reported = due
    if not track_charges:
        return ChunkResult(counts[warm_up:])
    return ChunkResult(counts[warm_up:], charged, months_active, initial_segment)


# --------------------------------------------------------------------------- the month loop


class PoolRun(NamedTuple):
    """What every month of one pool's simulation reads besides the customers themselves."""

    stream: np.uint64
    """The replication's draw key (docs/model.md §8.1)."""
    seat_start: int
    seat_stop: int
    warm_up: int
    """Warm-up months W; counts row ``W + month``."""
    months: int
    warm: Policy
    """The policy in force before month 0."""
    horizon: Policy
    """The policy from month 0 on."""
    switch_notice: int
    """Notice days when the horizon's policy replaces the warm-up's at month 0; NO_EVENT: no switch."""
    offsets: np.ndarray
    """Draw offsets, (month row, purpose); the last row holds the trait offsets."""
    counts: np.ndarray
    """(warm-up + months, segment, metric) tallies, added into."""
    charged_cents: np.ndarray
    """Per seat: the initial customer's charges over the horizon (when tracked)."""
    months_active: np.ndarray
    track_charges: bool


@njit(cache=True, error_model="numpy")
def simulate_pool(run: PoolRun, initial_segment: np.ndarray) -> None:
    """Simulate one service pool's seats over the warm-up and the horizon, adding into ``run.counts``.

    The months run in :func:`simulate_months` as long as the arrays have room for every seat to
    bring a newcomer; when they might not, they are grown here and the months go on. (Growing
    inside the month loop would make Numba count references to all the arrays at every turn.)
    """
    seats = run.seat_stop - run.seat_start
    traits = run.offsets[run.offsets.shape[0] - 1]
    customers = initial_customers(
        run.stream, run.seat_start, run.seat_stop, run.warm_up, run.warm, traits, 2 * seats + 16
    )
    n = seats
    if run.track_charges:
        initial_segment[:] = customers.segment[:n]
    month = -run.warm_up
    while month < run.months:
        month, n = simulate_months(customers, n, month, run)
        if month < run.months:
            customers = with_capacity(customers, n, 2 * (n + seats))


@njit(error_model="numpy")
def simulate_months(customers: Customers, n: int, first_month: int, run: PoolRun) -> tuple[int, int]:
    """The month loop, from ``first_month`` until the horizon ends or the arrays might not hold the
    month's newcomers. Each month, in the order of docs/model.md §3. Returns the next month to
    simulate and the number of customers."""
    stream, seat_start, seat_stop, warm_up, months = (
        run.stream,
        run.seat_start,
        run.seat_stop,
        run.warm_up,
        run.months,
    )
    warm, horizon, switch_notice, offsets, counts = (
        run.warm,
        run.horizon,
        run.switch_notice,
        run.offsets,
        run.counts,
    )
    traits = offsets[offsets.shape[0] - 1]
    seats = seat_stop - seat_start
    for month in range(first_month, months):
        if n + seats > len(customers.key):
            return month, n
        # Before month 0 the world runs under the warm-up policy; the horizon's policy starts at 0.
        policy = warm if month < 0 else horizon
        draws = offsets[month + warm_up]
        tally = counts[month + warm_up]
        n = departures_and_arrivals(customers, n, stream, seat_start, seat_stop, month, policy, draws, traits)
        if month == 0:
            clean_ledger(customers, n)
        bills(customers, n, month, policy, draws, tally)
        fee_change_events(customers, n, month, policy, switch_notice, tally)
        payments(customers, n, policy, draws, tally)
        billing_errors(customers, n, policy, draws, tally)
        revenue(customers, n, month, policy, tally)
        complaints(customers, n, month, policy, draws, tally)
        complaint_handling(customers, n, policy, draws, tally)
        audits(customers, n, month, policy, draws, tally)
        churn(customers, n, month, policy, draws, tally)
        if run.track_charges and month >= 0:
            charges(customers, n, seat_start, run.charged_cents, run.months_active)
        end_of_month(customers, n, policy)
    return months, n


def _forget_stale_compilation() -> None:
    """Discard :func:`simulate_pool`'s cached machine code when any source file of this package changed.

    Numba checks cached code only against the file that defines the function, but the month loop's
    code inlines the steps and equations of every file here; an edit to behaviour.py, say, would
    otherwise keep running the old equations. The cache folder holds a digest of the sources'
    contents next to the cached code; on a mismatch the cached code is removed and compiled anew
    on first use. (A process that imported the old sources and compiles after the edit could still
    store old code: restart notebook kernels after editing the model.)
    """
    cache = getattr(simulate_pool, "_cache", None)
    folder = getattr(cache, "_cache_path", None)
    base = getattr(getattr(cache, "_impl", None), "filename_base", None)
    if folder is None or base is None:
        return
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        if source.name.startswith("."):
            continue  # editors' lock and swap files
        try:
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
        except OSError:
            continue
    stamp = Path(folder) / f"{base}.sources"
    try:
        if stamp.read_text() == digest.hexdigest():
            return
    except OSError:
        pass
    try:
        for stale in Path(folder).glob(f"{base}*.nb?"):
            stale.unlink(missing_ok=True)
        written = stamp.with_name(f"{stamp.name}.{os.getpid()}")
        written.write_text(digest.hexdigest())
        os.replace(written, stamp)
    except OSError:
        pass  # a read-only cache: Numba will not write there either


_forget_stale_compilation()


# --------------------------------------------------------------------------- the steps


@njit(error_model="numpy", inline="always")
def join_group(join_month: int, group_starts: np.ndarray) -> int:
    """How many grandfathered changes a customer joined after (its tariff group)."""
    group = 0
    while group < len(group_starts) and group_starts[group] <= join_month:
        group += 1
    return group


@njit(error_model="numpy", inline="always")
def quoted_price(customers: Customers, i: int, policy: Policy, tariff: int) -> float:
    """The price a customer judges (cents): the bill at its usual usage level, within the legal cap
    where it is enforced (docs/model.md §3.3)."""
    price = bill_cents(
        customers.usage_level[i],
        customers.prepay[i],
        customers.transaction_value[i],
        policy.tariffs,
        tariff,
    )
    if policy.levers.enforce_caps:
        return min(price, policy.levers.legal_fee_cap_cents)
    return price


@njit(error_model="numpy", inline="always")
def start_state(customers: Customers, i: int, price: float) -> None:
    """A customer entering now: reference price = the price quoted, nothing owed or open."""
    customers.price[i] = price
    customers.reference[i] = price
    customers.grievance[i] = 0.0
    customers.complaint_open[i] = False
    customers.open_errors[i] = 0
    customers.open_error_cents[i] = 0.0
    customers.gone[i] = False
    customers.alert_until[i] = NO_ALERT


@njit(error_model="numpy", inline="always")
def initial_customers(
    stream: np.uint64,
    seat_start: int,
    seat_stop: int,
    warm_up: int,
    policy: Policy,
    traits: np.ndarray,
    capacity: int,
) -> Customers:
    """The initial customers, one per seat, drawn under the warm-up policy (docs/model.md §2.3),
    in arrays with room for ``capacity`` customers."""
    seats = seat_stop - seat_start
    customers = empty_customers(capacity)
    for i in range(seats):
        seat = seat_start + i
        key = customer_key(stream, np.uint64(seat))
        draw_traits(
            customers,
            i,
            key,
            seat,
            -warm_up,
            True,
            policy.segments,
            policy.levers.prepay_uptake,
            traits,
        )
        tariff = policy.tariff_index[0, join_group(customers.join_month[i], policy.group_starts)]
        start_state(customers, i, quoted_price(customers, i, policy, tariff))
    return customers


@njit(error_model="numpy", inline="always")
def departures_and_arrivals(
    customers: Customers,
    n: int,
    stream: np.uint64,
    seat_start: int,
    seat_stop: int,
    month: int,
    policy: Policy,
    draws: np.ndarray,
    traits: np.ndarray,
) -> int:
    """Remove last month's leavers; each seat's prospect, of a segment drawn by share, joins with the
    month's arrival probability for that segment (docs/model.md §3.1). Returns the new number of
    customers (the arrays have room for one newcomer per seat)."""
    # A leaver's place is taken by the last customer: order never matters (counts are sums of
    # whole numbers, draws are keyed by customer), and only leavers cost a copy.
    kept = n
    i = 0
    while i < kept:
        if customers.gone[i]:
            kept -= 1
            if i != kept:
                copy_customer(customers, kept, customers, i)
        else:
            i += 1
    fee_month = max(month, 0)
    probability = policy.arrival_probability[fee_month]
    ceiling = policy.arrival_ceiling[fee_month]
    shares = policy.segments.cumulative_share
    id_offset = np.uint64((month + 1 + MAX_WARM_UP) * ARRIVAL_ID_STRIDE)
    arriving = np.empty(seat_stop - seat_start, dtype=np.int64)
    count = 0
    for seat in range(seat_start, seat_stop):
        draw = uniform_at(customer_key(stream, np.uint64(seat)), draws[_ARRIVAL])
        # Most seats bring no one whatever their prospect's segment: only below the ceiling is the
        # prospect's segment (the newcomer's own segment draw, 2.2) worth computing.
        if draw < ceiling:
            prospect = customer_key(stream, np.uint64(seat) + id_offset)
            if draw < probability[segment_of(uniform_at(prospect, traits[_SEGMENT]), shares)]:
                arriving[count] = seat
                count += 1
    tariff = policy.newcomer_tariff[fee_month]
    for j in range(count):
        seat = arriving[j]
        key = customer_key(stream, np.uint64(seat) + id_offset)
        draw_traits(
            customers,
            kept,
            key,
            seat,
            month,
            False,
            policy.segments,
            policy.levers.prepay_uptake,
            traits,
        )
        start_state(customers, kept, quoted_price(customers, kept, policy, tariff))
        kept += 1
    return kept


@njit(error_model="numpy", inline="always")
def clean_ledger(customers: Customers, n: int) -> None:
    """The horizon starts with a clean ledger: overcharges of the warm-up are not counted (§3.14)."""
    for i in range(n):
        customers.open_errors[i] = 0
        customers.open_error_cents[i] = 0.0


@njit(error_model="numpy", inline="always")
def bills(
    customers: Customers, n: int, month: int, policy: Policy, draws: np.ndarray, tally: np.ndarray
) -> None:
    """Usage, the tariff each customer is on, the bill and the legal fee cap (docs/model.md §3.2–3.3).

    x = ℓ·exp(σᵐ·Φ⁻¹(u)); the usage draw is skipped where the bill does not depend on usage.
    """
    levers = policy.levers
    fee_month = max(month, 0)
    for i in range(n):
        segment = customers.segment[i]
        is_new = customers.join_month[i] == month and not customers.original[i]
        customers.is_new[i] = is_new
        tally[segment, COLUMN.active] += 1.0
        if is_new:
            tally[segment, COLUMN.acquired] += 1.0
        tariff = policy.tariff_index[fee_month, join_group(customers.join_month[i], policy.group_starts)]
        customers.tariff[i] = tariff
        usage = customers.usage_level[i]
        if policy.tariffs.uses_usage[tariff]:
            variation = customers.usage_variation[i]
            usage = usage * math.exp(variation * ndtri(uniform_at(customers.key[i], draws[_USAGE])))
        bill = bill_cents(usage, customers.prepay[i], customers.transaction_value[i], policy.tariffs, tariff)
        if bill > levers.legal_fee_cap_cents:
            if levers.enforce_caps:
                bill = levers.legal_fee_cap_cents
            else:
                tally[segment, COLUMN.fee_cap_breaches] += 1.0
        customers.bill[i] = bill


@njit(error_model="numpy", inline="always")
def fee_change_events(
    customers: Customers, n: int, month: int, policy: Policy, switch_notice: int, tally: np.ndarray
) -> None:
    """Fee changes reaching customers this month — scheduled, rule-driven, or the policy itself
    replacing the warm-up policy at month 0 (docs/model.md §3.4).

    Prices are re-quoted when the tariff changes; a customer whose tariff changed sees the rise
    r = P − P_before and the relative increase max(r, 0) / max(P_before, 100). Notice announces the
    share ν = 1 − exp(−notice / scale) of the rise: the reference price takes up A·ν·r of it (A the
    anticipation), the rest of the announced part, (1 − A)·ν·r, is expected on the bill but still
    felt as a loss. Breaches of a legal minimum notice are counted.
    """
    levers = policy.levers
    fee_month = max(month, 0)
    requote = month == 0 or policy.tariff_changes[fee_month]
    for i in range(n):
        previous = customers.price[i]
        if requote:
            customers.price[i] = quoted_price(customers, i, policy, customers.tariff[i])
        price = customers.price[i]
        notice = NO_EVENT
        if not customers.is_new[i]:
            if month == 0:
                if switch_notice != NO_EVENT and previous != price:
                    notice = switch_notice
            elif month > 0:
                notice = policy.event_notice[
                    fee_month, join_group(customers.join_month[i], policy.group_starts)
                ]
        if notice > 0:
            customers.alert_until[i] = month + levers.fee_change_notice_attention_months - 1
        if notice == NO_EVENT:
            customers.increase[i] = 0.0
            customers.notice_relief[i] = 0.0
            customers.expected_rise[i] = 0.0
            continue
        segment = customers.segment[i]
        rise = price - previous
        increase = max(rise, 0.0) / max(previous, 100.0)
        relief = 1.0 - math.exp(-notice / levers.fee_change_notice_days_scale)
        anticipated = levers.notice_reference_anticipation
        customers.reference[i] = customers.reference[i] + rise * relief * anticipated
        customers.increase[i] = increase
        customers.notice_relief[i] = relief
        customers.expected_rise[i] = rise * relief * (1.0 - anticipated)
        if notice > 0:
            tally[segment, COLUMN.fee_change_notices] += 1.0
        if increase > 0.0:
            tally[segment, COLUMN.fee_increases_experienced] += 1.0
        minimum = levers.minimum_notice_days
        if minimum != NO_MINIMUM_NOTICE and not levers.enforce_caps and rise > 0.0 and notice < minimum:
            tally[segment, COLUMN.notice_breaches] += 1.0


@njit(error_model="numpy", inline="always")
def payments(customers: Customers, n: int, policy: Policy, draws: np.ndarray, tally: np.ndarray) -> None:
    """Failed deductions and penalty fees, then the legal penalty-fee cap (docs/model.md §3.5).

    A deduction fails iff the customer does not prepay and u < f·(1 − education's reduction).
    """
    levers = policy.levers
    for i in range(n):
        penalty = 0.0
        if not customers.prepay[i]:
            chance = customers.failed_payment[i] * levers.late_payment_factor
            if uniform_at(customers.key[i], draws[_PAYMENT]) < chance:
                segment = customers.segment[i]
                tally[segment, COLUMN.failed_payments] += 1.0
                penalty = policy.tariffs.penalty_fee_cents[customers.tariff[i]]
                if levers.enforce_caps:
                    penalty = min(penalty, levers.legal_penalty_cap_cents)
                elif penalty > levers.legal_penalty_cap_cents:
                    tally[segment, COLUMN.penalty_cap_breaches] += 1.0
        customers.penalty[i] = penalty


@njit(error_model="numpy", inline="always")
def billing_errors(
    customers: Customers, n: int, policy: Policy, draws: np.ndarray, tally: np.ndarray
) -> None:
    """Some bills carry an overcharge that stays open, unknown to the firm, until an audit or a
    complaint finds it (docs/model.md §3.6)."""
    levers = policy.levers
    for i in range(n):
        overcharge = overcharge_cents(
            customers.bill[i],
            uniform_at(customers.key[i], draws[_ERROR]),
            levers.error_rate,
            levers.error_size_share,
        )
        customers.overcharge[i] = overcharge
        if overcharge > 0.0:
            customers.open_errors[i] += 1
            customers.open_error_cents[i] += overcharge
            tally[customers.segment[i], COLUMN.billing_errors_made] += 1.0


@njit(error_model="numpy", inline="always")
def revenue(customers: Customers, n: int, month: int, policy: Policy, tally: np.ndarray) -> None:
    """The month's revenue in cents: bills, overcharges, penalty fees, newcomers' set-up fees (§3.7)."""
    setup = policy.tariffs.setup_fee_cents[policy.newcomer_tariff[max(month, 0)]]
    for i in range(n):
        segment = customers.segment[i]
        bill = customers.bill[i]
        tally[segment, COLUMN.revenue_recurring_cents] += bill
        tally[segment, COLUMN.revenue_overcharge_cents] += customers.overcharge[i]
        tally[segment, COLUMN.revenue_penalty_cents] += customers.penalty[i]
        if customers.is_new[i]:
            tally[segment, COLUMN.revenue_setup_cents] += setup


@njit(error_model="numpy", inline="always")
def complaints(
    customers: Customers, n: int, month: int, policy: Policy, draws: np.ndarray, tally: np.ndarray
) -> None:
    """Surprise and attention (§3.8), then at most one complaint per customer, by cause (§3.9).

    Surprise is measured against what the customer expects: the reference price plus the announced
    part of a rise it has not taken up. A customer looks at the bill with its attention trait, raised
    by pre-deduction notices and by a fee-change notice; bill shock above the threshold and an open
    complaint make it attentive too.
    Cause probabilities: propensity × rate × trigger (surprise, a noticed overcharge, an unannounced
    share of a fee increase, a penalty fee relative to the bill), after contract clarity.
    """
    levers = policy.levers
    unclear = 1.0 - levers.clarity_relief
    for i in range(n):
        key = customers.key[i]
        charged = customers.bill[i] + customers.overcharge[i]
        expected = customers.reference[i] + customers.expected_rise[i]
        surprise = perceived_surprise(charged, expected, levers.surprise_relief)
        attention = customers.attention[i]
        looks = attention + (1.0 - attention) * levers.notice_attention
        if month <= customers.alert_until[i]:
            looks = looks + (1.0 - looks) * levers.fee_change_notice_attention
        attentive = (
            customers.complaint_open[i]
            or surprise > levers.surprise_attention_threshold
            or uniform_at(key, draws[_ATTENTION]) < looks
        )
        propensity = customers.complaint_propensity[i]
        notices_error = levers.itemised_error_detection if levers.itemised_bills else attention
        p_surprise = propensity * levers.surprise_complaint_rate * surprise * unclear
        p_error = (
            propensity
            * levers.error_complaint_rate
            * notices_error
            * (1.0 if customers.overcharge[i] > 0.0 else 0.0)
        )
        p_increase = (
            propensity
            * levers.fee_increase_complaint_rate
            * customers.increase[i]
            * (1.0 - customers.notice_relief[i])
        )
        p_penalty = (
            propensity
            * levers.penalty_complaint_rate
            * customers.penalty[i]
            / max(customers.bill[i], 100.0)
            * unclear
        )
        cause = 0
        if p_surprise > 0.0 or p_error > 0.0 or p_increase > 0.0 or p_penalty > 0.0:
            cause = decide_complaint(
                uniform_at(key, draws[_COMPLAINT]), p_surprise, p_error, p_increase, p_penalty
            )
        segment = customers.segment[i]
        if cause > 0:
            attentive = True
            tally[segment, COLUMN.complaints] += 1.0
            if cause == SURPRISE:
                tally[segment, COLUMN.complaints_surprise] += 1.0
            elif cause == BILLING_ERROR:
                tally[segment, COLUMN.complaints_billing_error] += 1.0
            elif cause == FEE_INCREASE:
                tally[segment, COLUMN.complaints_fee_increase] += 1.0
            else:
                tally[segment, COLUMN.complaints_penalty_fee] += 1.0
            customers.grievance[i] += 1.0
            customers.complaint_open[i] = True
        customers.attentive[i] = attentive
        if attentive:
            tally[segment, COLUMN.attentive_customers] += 1.0


@njit(error_model="numpy", inline="always")
def complaint_handling(
    customers: Customers, n: int, policy: Policy, draws: np.ndarray, tally: np.ndarray
) -> None:
    """Open complaints are served up to the pool's capacity; a resolved one refunds the customer's
    open overcharges (the refund share) with a goodwill credit and relieves grievance (§3.10)."""
    levers = policy.levers
    waiting = 0
    for i in range(n):
        if customers.complaint_open[i]:
            waiting += 1
    if waiting == 0:
        return
    share = served_share(n, waiting, levers.capacity_per_1000)
    for i in range(n):
        if not customers.complaint_open[i]:
            continue
        segment = customers.segment[i]
        outcome = complaint_outcome(
            uniform_at(customers.key[i], draws[_HANDLING]),
            share,
            levers.resolution_rate,
            levers.escalation_share,
        )
        if outcome == WAITING:
            tally[segment, COLUMN.complaint_backlog] += 1.0
            continue
        customers.complaint_open[i] = False
        tally[segment, COLUMN.complaints_handled] += 1.0
        if outcome != RESOLVED:
            tally[segment, COLUMN.complaints_unresolved] += 1.0
            if outcome == ESCALATED:
                tally[segment, COLUMN.complaints_escalated] += 1.0
            continue
        tally[segment, COLUMN.complaints_resolved] += 1.0
        tally[segment, COLUMN.goodwill_credit_cents] += levers.goodwill_cents
        customers.grievance[i] *= 1.0 - levers.resolution_relief
        if customers.open_errors[i] > 0:
            tally[segment, COLUMN.billing_errors_refunded_on_complaint] += customers.open_errors[i]
            tally[segment, COLUMN.refunds_complaint_cents] += np.rint(
                customers.open_error_cents[i] * levers.refund_share
            )
            customers.open_errors[i] = 0
            customers.open_error_cents[i] = 0.0


@njit(error_model="numpy", inline="always")
def audits(
    customers: Customers, n: int, month: int, policy: Policy, draws: np.ndarray, tally: np.ndarray
) -> None:
    """In audit months (every k months from month 0), a share of the customers with outstanding
    overcharges have them found and refunded in full (docs/model.md §3.11)."""
    every = policy.levers.audit_every
    if month < 0 or every <= 0 or (month + 1) % every != 0:
        return
    for i in range(n):
        segment = customers.segment[i]
        tally[segment, COLUMN.audited_customers] += 1.0
        errors = customers.open_errors[i]
        if errors > 0 and audit_finds(
            errors, uniform_at(customers.key[i], draws[_AUDIT]), policy.levers.audit_detection_share
        ):
            tally[segment, COLUMN.billing_errors_found_by_audit] += errors
            tally[segment, COLUMN.refunds_audit_cents] += customers.open_error_cents[i]
            customers.open_errors[i] = 0
            customers.open_error_cents[i] = 0.0


@njit(error_model="numpy", inline="always")
def churn(
    customers: Customers, n: int, month: int, policy: Policy, draws: np.ndarray, tally: np.ndarray
) -> None:
    """Who leaves, and why: the personal baseline plus what attentive customers make of the price;
    exit fees deter leaving within the minimum term and are charged to those who leave, except in
    the month a price rise reaches the customer where the penalty-free exit applies (§3.12)."""
    levers = policy.levers
    for i in range(n):
        segment = customers.segment[i]
        tariff = customers.tariff[i]
        wtp_cents = customers.willingness_to_pay[i] * 100.0
        exit_fee = policy.tariffs.early_termination_fee_cents[tariff]
        in_term = (
            month - customers.join_month[i] < policy.tariffs.minimum_term_months[tariff] and exit_fee > 0.0
        )
        if in_term and levers.penalty_free_exit_on_rise and customers.increase[i] > 0.0:
            in_term = False  # the rise opens the exit window: no fee, so nothing holds back
        deterrence = math.exp(-levers.exit_fee_deterrence * exit_fee / wtp_cents) if in_term else 1.0
        price_hazard, increase_hazard, complaint_hazard = churn_hazards(
            customers.price[i],
            customers.reference[i],
            wtp_cents,
            customers.grievance[i],
            customers.attentive[i],
            deterrence,
            levers.price_sensitivity,
            levers.reference_sensitivity,
            levers.reference_tolerance,
            levers.loss_aversion,
            levers.complaint_churn_effect,
        )
        cause = decide_churn(
            uniform_at(customers.key[i], draws[_CHURN]),
            customers.baseline_churn[i],
            price_hazard,
            increase_hazard,
            complaint_hazard,
        )
        gone = cause > 0
        customers.gone[i] = gone
        if not gone:
            tally[segment, COLUMN.billing_errors_outstanding] += customers.open_errors[i]
            continue
        tally[segment, COLUMN.churned] += 1.0
        if cause == LEFT_BASELINE:
            tally[segment, COLUMN.churned_baseline] += 1.0
        elif cause == LEFT_PRICE:
            tally[segment, COLUMN.churned_price] += 1.0
        elif cause == LEFT_PRICE_RISE:
            tally[segment, COLUMN.churned_price_rise] += 1.0
        elif cause == LEFT_COMPLAINT:
            tally[segment, COLUMN.churned_complaint] += 1.0
        if in_term:
            tally[segment, COLUMN.revenue_early_termination_cents] += exit_fee
        tally[segment, COLUMN.billing_errors_lost_at_churn] += customers.open_errors[i]


@njit(error_model="numpy", inline="always")
def charges(
    customers: Customers, n: int, seat_start: int, charged_cents: np.ndarray, months_active: np.ndarray
) -> None:
    """Each initial customer's charges (bill, overcharge, penalty) and active months, for winners
    and losers (docs/model.md §6.3)."""
    for i in range(n):
        if customers.original[i]:
            seat = customers.seat[i] - seat_start
            charged_cents[seat] += customers.bill[i] + customers.overcharge[i] + customers.penalty[i]
            months_active[seat] += 1


@njit(error_model="numpy", inline="always")
def end_of_month(customers: Customers, n: int, policy: Policy) -> None:
    """The reference price moves toward this month's price; grievance fades (docs/model.md §3.13)."""
    levers = policy.levers
    for i in range(n):
        customers.reference[i] = update_reference(
            customers.reference[i], customers.price[i], levers.reference_adaptation_rate
        )
        customers.grievance[i] = customers.grievance[i] * levers.grievance_memory


def compile_engine() -> None:
    """Compile (or load from the on-disk cache) the engine's entry points with a tiny run.

    Numba compiles a function on its first call for the argument types of that call; this makes
    that call, so that the cache exists before worker processes start.
    """
    plan = RunPlan(ScenarioModel(), customers=1, months=1, seed=0, replication=0)
    simulate_chunk(plan, 0, 1, track_charges=True)
