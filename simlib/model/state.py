"""The engine's state: one array per customer attribute, for the customers of one service pool.

:class:`Customers` holds traits (drawn once), what carries over from month to month, and this
month's values, which the monthly steps write and read in order. It is a NamedTuple of arrays so
that compiled code reads it by field name; arrays have a capacity and the first ``n`` entries are
the active customers (leavers are removed and newcomers appended at the start of each month).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class Customers(NamedTuple):
    """Per-customer arrays; units as in docs/model.md §2–3 (money in cents unless stated)."""

    # Traits, fixed once drawn (docs/model.md §2.2), under the policy in force at arrival.
    key: np.ndarray
    """uint64 key of the customer's draws (§8.1)."""
    seat: np.ndarray
    segment: np.ndarray
    join_month: np.ndarray
    usage_level: np.ndarray
    """Usual usage ℓ, units per month."""
    usage_variation: np.ndarray
    """σᵐ: sd of the log of monthly usage around ℓ."""
    transaction_value: np.ndarray
    """Value of one transaction, currency units (for percentage fees)."""
    willingness_to_pay: np.ndarray
    """W, currency units per month."""
    baseline_churn: np.ndarray
    """p, probability per month."""
    attention: np.ndarray
    """Probability per month of looking at the bill."""
    complaint_propensity: np.ndarray
    failed_payment: np.ndarray
    """f, probability per month of a failed deduction."""
    prepay: np.ndarray
    original: np.ndarray
    """An initial customer (never counted as acquired; compared in winners and losers)."""
    # Carried from month to month.
    price: np.ndarray
    """P, the price the customer judges: the bill at usual usage, cents."""
    reference: np.ndarray
    """R, the reference price, cents."""
    grievance: np.ndarray
    complaint_open: np.ndarray
    open_errors: np.ndarray
    """Overcharges not yet found, a count."""
    open_error_cents: np.ndarray
    """Their amount, cents."""
    gone: np.ndarray
    """Left this month (removed at the start of the next)."""
    alert_until: np.ndarray
    """Last month in which a fee-change notice keeps the customer attentive (§3.8)."""
    # This month's values, written and read by the monthly steps in order.
    tariff: np.ndarray
    """Row of the policy's tariff table the customer is on."""
    is_new: np.ndarray
    bill: np.ndarray
    """The recurring bill, cents."""
    overcharge: np.ndarray
    """A billing error's overcharge on this bill, cents (0: none)."""
    increase: np.ndarray
    """ι: relative fee increase experienced this month (§3.4)."""
    notice_relief: np.ndarray
    """ν(d): the share of it announced by the notice (§3.4)."""
    expected_rise: np.ndarray
    """The announced part of the rise the reference price has not taken up: expected on the bill,
    so not a surprise, but still felt as a loss (§3.4), cents."""
    penalty: np.ndarray
    """Penalty fee for a failed deduction, cents."""
    attentive: np.ndarray


@njit(error_model="numpy")
def empty_customers(capacity: int) -> Customers:
    """Arrays for up to ``capacity`` customers (contents undefined until drawn)."""
    return Customers(
        np.empty(capacity, dtype=np.uint64),  # key
        np.empty(capacity, dtype=np.int64),  # seat
        np.empty(capacity, dtype=np.int64),  # segment
        np.empty(capacity, dtype=np.int64),  # join_month
        np.empty(capacity),  # usage_level
        np.empty(capacity),  # usage_variation
        np.empty(capacity),  # transaction_value
        np.empty(capacity),  # willingness_to_pay
        np.empty(capacity),  # baseline_churn
        np.empty(capacity),  # attention
        np.empty(capacity),  # complaint_propensity
        np.empty(capacity),  # failed_payment
        np.empty(capacity, dtype=np.bool_),  # prepay
        np.empty(capacity, dtype=np.bool_),  # original
        np.empty(capacity),  # price
        np.empty(capacity),  # reference
        np.empty(capacity),  # grievance
        np.empty(capacity, dtype=np.bool_),  # complaint_open
        np.empty(capacity, dtype=np.int64),  # open_errors
        np.empty(capacity),  # open_error_cents
        np.empty(capacity, dtype=np.bool_),  # gone
        np.empty(capacity, dtype=np.int64),  # alert_until
        np.empty(capacity, dtype=np.int64),  # tariff
        np.empty(capacity, dtype=np.bool_),  # is_new
        np.empty(capacity),  # bill
        np.empty(capacity),  # overcharge
        np.empty(capacity),  # increase
        np.empty(capacity),  # notice_relief
        np.empty(capacity),  # expected_rise
        np.empty(capacity),  # penalty
        np.empty(capacity, dtype=np.bool_),  # attentive
    )


@njit(error_model="numpy", inline="always")
def copy_customer(source: Customers, i: int, target: Customers, j: int) -> None:
    """Copy customer ``i`` of ``source`` (traits and carried state) to position ``j`` of ``target``."""
    target.key[j] = source.key[i]
    target.seat[j] = source.seat[i]
    target.segment[j] = source.segment[i]
    target.join_month[j] = source.join_month[i]
    target.usage_level[j] = source.usage_level[i]
    target.usage_variation[j] = source.usage_variation[i]
    target.transaction_value[j] = source.transaction_value[i]
    target.willingness_to_pay[j] = source.willingness_to_pay[i]
    target.baseline_churn[j] = source.baseline_churn[i]
    target.attention[j] = source.attention[i]
    target.complaint_propensity[j] = source.complaint_propensity[i]
    target.failed_payment[j] = source.failed_payment[i]
    target.prepay[j] = source.prepay[i]
    target.original[j] = source.original[i]
    target.price[j] = source.price[i]
    target.reference[j] = source.reference[i]
    target.grievance[j] = source.grievance[i]
    target.complaint_open[j] = source.complaint_open[i]
    target.open_errors[j] = source.open_errors[i]
    target.open_error_cents[j] = source.open_error_cents[i]
    target.gone[j] = source.gone[i]
    target.alert_until[j] = source.alert_until[i]


@njit(error_model="numpy")
def with_capacity(customers: Customers, count: int, capacity: int) -> Customers:
    """The first ``count`` customers in new arrays of ``capacity`` (when the pool outgrows its arrays)."""
    grown = empty_customers(capacity)
    for i in range(count):
        copy_customer(customers, i, grown, i)
    return grown
