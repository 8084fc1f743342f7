"""Unit tests of the pure operations functions (:mod:`simlib.model.operations`): billing errors,
complaint handling with finite capacity, audits.

Exact properties per draw; frequencies within Z = 4 binomial standard errors. Seeds are fixed.
"""

from __future__ import annotations

import numpy as np
import pytest
from montecarlo import Z, binomial_close
from numba import njit

from simlib.model import operations

# The model's functions decide for one bill, complaint or customer; these apply them to arrays
# the way the engine's steps do (docs/model.md §3.6, §3.10, §3.11).


@njit
def _overcharges(bill, draw, error_rate, error_size_share):
    out = np.empty(len(bill))
    for i in range(len(bill)):
        out[i] = operations.overcharge_cents(bill[i], draw[i], error_rate, error_size_share)
    return out


def billing_errors(bill, draw, error_rate, error_size_share):
    overcharge = _overcharges(bill, draw, error_rate, error_size_share)
    return overcharge > 0, overcharge


@njit
def _outcomes(complaint_open, pool, pools, capacity_per_1000, resolution_rate, escalation_share, draw):
    active = np.zeros(pools, dtype=np.int64)
    waiting = np.zeros(pools, dtype=np.int64)
    for i in range(len(pool)):
        active[pool[i]] += 1
        if complaint_open[i]:
            waiting[pool[i]] += 1
    outcome = np.full(len(pool), -1, dtype=np.int64)
    for i in range(len(pool)):
        if complaint_open[i]:
            share = operations.served_share(active[pool[i]], waiting[pool[i]], capacity_per_1000)
            outcome[i] = operations.complaint_outcome(draw[i], share, resolution_rate, escalation_share)
    return outcome


class Outcome:
    def __init__(self, outcome: np.ndarray):
        self.handled = outcome > operations.WAITING
        self.resolved = outcome == operations.RESOLVED
        self.escalated = outcome == operations.ESCALATED


def handle_complaints(complaint_open, pool, pools, capacity, resolution_rate, escalation_share, draw):
    return Outcome(
        _outcomes(complaint_open, pool, pools, float(capacity), resolution_rate, escalation_share, draw)
    )


@njit
def audit(open_errors, draw, detection_share):
    out = np.empty(len(draw), dtype=np.bool_)
    for i in range(len(draw)):
        out[i] = operations.audit_finds(open_errors[i], draw[i], detection_share)
    return out


# --------------------------------------------------------------------------- billing errors


def test_billing_errors_rate_and_sizes(rng) -> None:
    n = 300_000
    bill = np.rint(rng.lognormal(np.log(3000), 0.6, n))
    bill[:50] = 0.0  # a zero bill still carries a (one-cent) overcharge when it errs
    draw = rng.random(n)
    error, overcharge = billing_errors(bill, draw, 0.02, 0.15)
    np.testing.assert_array_equal(error, draw < 0.02)
    assert binomial_close(error.sum(), n, 0.02)
    assert np.all(overcharge[~error] == 0)
    assert np.all(overcharge[error] >= 1)
    np.testing.assert_array_equal(overcharge, np.rint(overcharge))
    np.testing.assert_array_equal(overcharge[error], np.maximum(np.rint(bill[error] * 0.15), 1.0))
    # Tiny errors round up to a cent rather than vanish.
    err, tiny = billing_errors(np.array([0.0, 3.0, 100.0]), np.zeros(3), 1.0, 0.001)
    assert err.all() and tiny.tolist() == [1.0, 1.0, 1.0]
    none, zero = billing_errors(bill, draw, 0.0, 0.15)
    assert not none.any() and not zero.any()


# --------------------------------------------------------------------------- complaint handling


def _pools(rng, pools: int, size: int, open_share: float):
    pool = np.repeat(np.arange(pools), size)
    complaint_open = rng.random(pools * size) < open_share
    return pool, complaint_open, rng.random(pools * size)


def test_everything_served_when_capacity_suffices(rng) -> None:
    pools, size = 50, 1000
    pool, complaint_open, draw = _pools(rng, pools, size, 0.004)
    waiting = np.bincount(pool[complaint_open], minlength=pools)
    capacity = 8.0  # per 1,000 customers: 8 per pool
    assert waiting.max() <= capacity  # precondition (Poisson(4) rarely reaches 9 in 50 pools)
    out = handle_complaints(complaint_open, pool, pools, capacity, 0.7, 0.02, draw)
    np.testing.assert_array_equal(out.handled, complaint_open)


def test_capacity_respected_in_expectation(rng) -> None:
    """Each pool of 1,000 customers has capacity 8 and about 50 open complaints; each waiting
    complaint is served with probability capacity / waiting, so the number served in a pool is
    Binomial(waiting, 8 / waiting) with mean 8."""
    pools, size, capacity = 400, 1000, 8.0
    pool, complaint_open, draw = _pools(rng, pools, size, 0.05)
    out = handle_complaints(complaint_open, pool, pools, capacity, 0.7, 0.02, draw)
    waiting = np.bincount(pool[complaint_open], minlength=pools).astype(float)
    handled = np.bincount(pool[out.handled], minlength=pools)
    share = capacity / waiting
    expected, var = (waiting * share).sum(), (waiting * share * (1 - share)).sum()
    assert abs(handled.sum() - expected) <= Z * np.sqrt(var)
    assert expected == pytest.approx(capacity * pools)
    # Capacity scales with the pool's active customers, not the whole population.
    small = pool < pools // 2
    pool_small = pool[~small | (np.arange(len(pool)) % 2 == 0)]
    open_small = complaint_open[~small | (np.arange(len(pool)) % 2 == 0)]
    draw_small = draw[~small | (np.arange(len(pool)) % 2 == 0)]
    out = handle_complaints(open_small, pool_small, pools, capacity, 0.7, 0.02, draw_small)
    handled = np.bincount(pool_small[out.handled], minlength=pools)
    waiting = np.bincount(pool_small[open_small], minlength=pools).astype(float)
    active = np.bincount(pool_small, minlength=pools).astype(float)
    share = np.minimum(capacity * active / 1000 / waiting, 1.0)
    for part in (slice(0, pools // 2), slice(pools // 2, pools)):
        mean = (waiting[part] * share[part]).sum()
        var = (waiting[part] * share[part] * (1 - share[part])).sum()
        assert abs(handled[part].sum() - mean) <= Z * np.sqrt(var)


def test_handling_outcomes_partition_and_rates(rng) -> None:
    pools, size = 200, 1000
    pool, complaint_open, draw = _pools(rng, pools, size, 0.02)
    resolution, escalation = 0.7, 0.2
    out = handle_complaints(complaint_open, pool, pools, 12.0, resolution, escalation, draw)
    # Only open complaints are handled; resolved and escalated are disjoint parts of handled.
    assert not (out.handled & ~complaint_open).any()
    assert not (out.resolved & ~out.handled).any()
    assert not (out.escalated & ~out.handled).any()
    assert not (out.escalated & out.resolved).any()
    handled = out.handled.sum()
    assert binomial_close(out.resolved.sum(), handled, resolution)
    unresolved = (out.handled & ~out.resolved).sum()
    assert binomial_close(out.escalated.sum(), unresolved, escalation)
    # Certain resolution: nothing escalates; no resolution: every handled complaint is unresolved.
    sure = handle_complaints(complaint_open, pool, pools, 12.0, 1.0, 1.0, draw)
    np.testing.assert_array_equal(sure.resolved, sure.handled)
    assert not sure.escalated.any()
    never = handle_complaints(complaint_open, pool, pools, 12.0, 0.0, 1.0, draw)
    assert not never.resolved.any()
    np.testing.assert_array_equal(never.escalated, never.handled)


def test_no_capacity_or_no_complaints(rng) -> None:
    pools, size = 10, 500
    pool, complaint_open, draw = _pools(rng, pools, size, 0.03)
    idle = handle_complaints(complaint_open, pool, pools, 0.0, 0.7, 0.02, draw)
    assert not idle.handled.any() and not idle.resolved.any() and not idle.escalated.any()
    quiet = handle_complaints(np.zeros_like(complaint_open), pool, pools, 8.0, 0.7, 0.02, draw)
    assert not quiet.handled.any()


def test_more_capacity_never_serves_fewer(rng) -> None:
    pools, size = 100, 1000
    pool, complaint_open, draw = _pools(rng, pools, size, 0.03)
    previous = np.zeros_like(complaint_open)
    for capacity in (2.0, 5.0, 10.0, 20.0, 40.0):
        out = handle_complaints(complaint_open, pool, pools, capacity, 0.7, 0.02, draw)
        assert np.all(out.handled >= previous), capacity
        previous = out.handled


# --------------------------------------------------------------------------- audits


def test_audit_finds_a_share_of_customers_with_open_errors(rng) -> None:
    n = 200_000
    open_errors = rng.poisson(0.2, n)
    draw = rng.random(n)
    found = audit(open_errors, draw, 0.7)
    assert not (found & (open_errors == 0)).any()
    np.testing.assert_array_equal(found, (open_errors > 0) & (draw < 0.7))
    assert binomial_close(found.sum(), (open_errors > 0).sum(), 0.7)
    assert not audit(open_errors, draw, 0.0).any()
    np.testing.assert_array_equal(audit(open_errors, draw, 1.0), open_errors > 0)
