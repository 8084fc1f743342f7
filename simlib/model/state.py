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
    """Per-customer arrays (money in cents)."""

    # Traits, fixed once drawn.
    key: np.ndarray
    seat: np.ndarray
    segment: np.ndarray
    join_month: np.ndarray
    usage_level: np.ndarray
    willingness_to_pay: np.ndarray
    baseline_churn: np.ndarray
    attention: np.ndarray
    complaint_propensity: np.ndarray
    failed_payment: np.ndarray
    prepay: np.ndarray
    original: np.ndarray
    # Carried from month to month.
    price: np.ndarray
    reference: np.ndarray
    grievance: np.ndarray
    complaint_open: np.ndarray
    open_errors: np.ndarray
    open_error_cents: np.ndarray
    gone: np.ndarray
    # This month's values, written and read by the monthly steps in order.
    tariff: np.ndarray
    is_new: np.ndarray
    bill: np.ndarray
    charged: np.ndarray
    notified: np.ndarray
    increase: np.ndarray
    increase_unannounced: np.ndarray
    penalty: np.ndarray
    error: np.ndarray
    attentive: np.ndarray


@njit(error_model="numpy")
def empty_customers(capacity: int) -> Customers:
    """Arrays for up to ``capacity`` customers (contents undefined until drawn)."""
    return Customers(
        np.empty(capacity, dtype=np.uint64),
        np.empty(capacity, dtype=np.int64),
        np.empty(capacity, dtype=np.int64),
        np.empty(capacity, dtype=np.int64),
        np.empty(capacity),
        np.empty(capacity),
        np.empty(capacity),
        np.empty(capacity),
        np.empty(capacity),
        np.empty(capacity),
        np.empty(capacity, dtype=np.bool_),
        np.empty(capacity, dtype=np.bool_),
        np.empty(capacity),
        np.empty(capacity),
        np.empty(capacity),
        np.empty(capacity, dtype=np.bool_),
        np.empty(capacity, dtype=np.int64),
        np.empty(capacity),
        np.empty(capacity, dtype=np.bool_),
        np.empty(capacity, dtype=np.int64),
        np.empty(capacity, dtype=np.bool_),
        np.empty(capacity),
        np.empty(capacity),
        np.empty(capacity, dtype=np.bool_),
        np.empty(capacity),
        np.empty(capacity),
        np.empty(capacity),
        np.empty(capacity, dtype=np.bool_),
        np.empty(capacity, dtype=np.bool_),
    )


@njit(error_model="numpy", inline="always")
def copy_customer(source: Customers, i: int, target: Customers, j: int) -> None:
    """Copy customer ``i`` of ``source`` (traits and carried state) to position ``j`` of ``target``."""
    target.key[j] = source.key[i]
    target.seat[j] = source.seat[i]
    target.segment[j] = source.segment[i]
    target.join_month[j] = source.join_month[i]
    target.usage_level[j] = source.usage_level[i]
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


@njit(error_model="numpy")
def with_capacity(customers: Customers, count: int, capacity: int) -> Customers:
    """The first ``count`` customers in new arrays of ``capacity`` (when the pool outgrows its arrays)."""
    grown = empty_customers(capacity)
    for i in range(count):
        copy_customer(customers, i, grown, i)
    return grown
