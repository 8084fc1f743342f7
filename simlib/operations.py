"""Operations behind the bills: billing errors, complaint handling with finite capacity, audits.

Pure, vectorised functions. Costs of operations are derived from counts in :mod:`simlib.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def billing_errors(
    bill_cents: np.ndarray, draw: np.ndarray, error_rate: float, error_size_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Which bills carry an overcharge, and its size in whole cents (at least one cent)."""
    error = draw < error_rate
    overcharge = np.where(error, np.maximum(np.rint(bill_cents * error_size_share), 1.0), 0.0)
    return error, overcharge


@dataclass(frozen=True)
class HandlingOutcome:
    """What happened to each customer's open complaint this month."""

    handled: np.ndarray
    resolved: np.ndarray
    escalated: np.ndarray


def handle_complaints(
    complaint_open: np.ndarray,
    pool: np.ndarray,
    pools: int,
    capacity_per_1000: float,
    resolution_rate: float,
    escalation_share: float,
    draw: np.ndarray,
) -> HandlingOutcome:
    """Serve open complaints in each service pool up to its capacity.

    A pool's capacity this month is capacity_per_1000 · active customers / 1000. When open
    complaints exceed it, each is served with probability capacity / open, so capacity binds in
    expectation (the served count is binomial around it); the rest wait in the backlog. A served
    complaint is resolved with the resolution rate; an unresolved one is taken to the regulator
    with the escalation share. One uniform draw
    decides all three, partitioned as [resolved | unresolved-escalated | unresolved | waiting].
    """
    active = np.bincount(pool, minlength=pools).astype(np.float64)
    waiting = np.bincount(pool[complaint_open], minlength=pools).astype(np.float64)
    capacity = capacity_per_1000 * active / 1000.0
    served_share = np.divide(capacity, waiting, out=np.ones_like(capacity), where=waiting > capacity)
    serve = np.minimum(served_share, 1.0)[pool]
    handled = complaint_open & (draw < serve)
    resolved = handled & (draw < serve * resolution_rate)
    escalate_below = serve * (resolution_rate + (1.0 - resolution_rate) * escalation_share)
    escalated = handled & ~resolved & (draw < escalate_below)
    return HandlingOutcome(handled, resolved, escalated)


def audit(open_errors: np.ndarray, draw: np.ndarray, detection_share: float) -> np.ndarray:
    """Customers whose outstanding overcharges an audit finds (all of them, once found)."""
    return (open_errors > 0) & (draw < detection_share)
