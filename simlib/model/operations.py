"""Operations behind the bills: billing errors, complaint handling with finite capacity, audits.

Pure functions compiled with Numba, called per customer (or, for a service pool's capacity, per
pool) by the engine's monthly steps. Costs of operations are derived from counts in
:mod:`simlib.run.metrics`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

WAITING, RESOLVED, ESCALATED, UNRESOLVED = 0, 1, 2, 3
"""What happened to an open complaint this month (:func:`complaint_outcome`)."""


@njit(error_model="numpy")
def overcharge_cents(bill_cents: float, draw: float, error_rate: float, error_size_share: float) -> float:
    """The overcharge a billing error adds to this bill, in whole cents (at least one cent);
    0 when the bill is right. A bill is wrong iff draw < error rate; the overcharge is
    max(round(bill · error size share), 1)."""
    if draw < error_rate:
        return max(np.rint(bill_cents * error_size_share), 1.0)
    return 0.0


@njit(error_model="numpy")
def served_share(active: int, waiting: int, capacity_per_1000: float) -> float:
    """Share of a pool's open complaints served this month.

    The pool's capacity is capacity_per_1000 · active / 1000 complaints. When open complaints
    exceed it, each is served with probability capacity / open, so capacity binds in expectation
    (the served count is binomial around it); otherwise every open complaint is served.
    """
    capacity = capacity_per_1000 * active / 1000.0
    if waiting > capacity:
        return min(capacity / waiting, 1.0)
    return 1.0


@njit(error_model="numpy")
def complaint_outcome(
    draw: float, served_share: float, resolution_rate: float, escalation_share: float
) -> int:
    """What happens to one open complaint: served and resolved, served and escalated to the
    regulator, served and left unresolved, or left waiting.

    One uniform draw decides all three, partitioned as
    [resolved | unresolved-escalated | unresolved | waiting] with boundaries s·ρ, s·(ρ + (1 − ρ)·e)
    and s (s the served share, ρ the resolution rate, e the escalation share).
    """
    if not (draw < served_share):
        return WAITING
    if draw < served_share * resolution_rate:
        return RESOLVED
    if draw < served_share * (resolution_rate + (1.0 - resolution_rate) * escalation_share):
        return ESCALATED
    return UNRESOLVED


@njit(error_model="numpy")
def audit_finds(open_errors: int, draw: float, detection_share: float) -> bool:
    """Whether an audit finds a customer's outstanding overcharges (all of them, once found)."""
    return open_errors > 0 and draw < detection_share
