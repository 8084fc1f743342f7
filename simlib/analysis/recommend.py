"""Which policy to recommend: the best objective among the policies that meet the constraints.

The baseline is a candidate like any reform (its paired difference is zero): when no reform that
meets the constraints beats it, the recommendation is to keep the current fee standard. A policy
meets a constraint when its mean level is within the limit; it is *at risk* when the upper end of
its 90% interval is not. Compliance rules are constraints too: a policy with breaches is never
recommended unless breaches are explicitly allowed.

Ties are judged on the paired draws: every policy shares the baseline's customers and random draws,
so the per-replication difference between two policies' objectives has an interval of its own. When
it includes zero, the two are statistically tied and the briefing says so; the ranking then falls
back on fewer complaints, lower churn and the name, so the choice is still deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from simlib.run.intervals import COVERAGE, estimate


@dataclass(frozen=True)
class Constraints:
    """Limits a recommended policy must respect (None: no limit).

    max_complaints_per_1000 : complaints per 1,000 active customers per month (mean over the run).
    max_monthly_churn : share of active customers leaving per month (0.02 = 2%).
    allow_compliance_breaches : recommend policies with compliance breaches too.
    """

    max_complaints_per_1000: float | None = None
    max_monthly_churn: float | None = None
    allow_compliance_breaches: bool = False


@dataclass(frozen=True)
class Candidate:
    """One policy's numbers, as the recommendation needs them.

    objective : per replication, the objective's paired difference to the baseline (currency);
        zeros for the baseline itself.
    complaints_per_1000, monthly_churn : the policy's own mean level and the upper end of its 90%
        interval.
    compliance_breaches : mean breaches over the run.
    """

    name: str
    objective: np.ndarray
    complaints_per_1000: float
    complaints_per_1000_high: float
    monthly_churn: float
    monthly_churn_high: float
    compliance_breaches: float
    is_baseline: bool = False

    @property
    def objective_mean(self) -> float:
        return float(np.mean(self.objective))


@dataclass(frozen=True)
class Check:
    """One constraint for one policy: its value, the limit, and whether it is met."""

    constraint: str  # "complaints", "churn" or "compliance"
    value: float
    limit: float
    met: bool
    at_risk: bool  # met on average, but not at the upper end of the interval


@dataclass(frozen=True)
class Recommendation:
    """The outcome: the chosen policy (None if none meets the constraints) and why."""

    chosen: str | None
    keep_baseline: bool
    ranking: tuple[str, ...]  # policies meeting every constraint, best first
    checks: dict[str, tuple[Check, ...]] = field(default_factory=dict)
    runner_up: str | None = None
    margin: tuple[float, float, float] | None = None  # chosen − runner-up objective: mean, low, high
    tied: bool = False
    closest: str | None = None  # when none meets the constraints: the one missing them least

    def broken(self, name: str) -> tuple[Check, ...]:
        """The constraints ``name`` breaks."""
        return tuple(c for c in self.checks.get(name, ()) if not c.met)

    def at_risk(self, name: str) -> tuple[Check, ...]:
        return tuple(c for c in self.checks.get(name, ()) if c.met and c.at_risk)


def check(candidate: Candidate, constraints: Constraints) -> tuple[Check, ...]:
    """Every constraint that applies, checked for one policy."""
    checks = []
    for name, limit, value, high in (
        (
            "complaints",
            constraints.max_complaints_per_1000,
            candidate.complaints_per_1000,
            candidate.complaints_per_1000_high,
        ),
        ("churn", constraints.max_monthly_churn, candidate.monthly_churn, candidate.monthly_churn_high),
    ):
        if limit is not None:
            checks.append(Check(name, value, limit, value <= limit, high > limit))
    if not constraints.allow_compliance_breaches:
        breaches = candidate.compliance_breaches
        checks.append(Check("compliance", breaches, 0.0, breaches <= 0.0, False))
    return tuple(checks)


def _shortfall(checks: Sequence[Check]) -> float:
    """How far a policy is from meeting its constraints (relative excess; a breach counts 1)."""
    total = 0.0
    for item in checks:
        if item.met:
            continue
        if item.constraint == "compliance":
            total += 1.0
        else:
            total += (item.value - item.limit) / item.limit if item.limit > 0 else math.inf
    return total


def recommend(
    candidates: Sequence[Candidate], constraints: Constraints, coverage: float = COVERAGE
) -> Recommendation:
    """Rank the policies that meet every constraint by their mean objective (ties broken by fewer
    complaints, lower churn, then name) and recommend the first.

    Raises
    ------
    ValueError
        If the candidates' per-replication objectives differ in length (they must be paired).
    """
    if len({len(c.objective) for c in candidates}) > 1:
        raise ValueError("every candidate needs the same replications (paired objectives)")
    checks = {c.name: check(c, constraints) for c in candidates}
    feasible = [c for c in candidates if all(item.met for item in checks[c.name])]
    feasible.sort(key=lambda c: (-c.objective_mean, c.complaints_per_1000, c.monthly_churn, c.name))
    ranking = tuple(c.name for c in feasible)
    if not feasible:
        closest = min(candidates, key=lambda c: (_shortfall(checks[c.name]), -c.objective_mean, c.name))
        return Recommendation(None, False, ranking, checks, closest=closest.name)
    best = feasible[0]
    if len(feasible) == 1:
        return Recommendation(best.name, best.is_baseline, ranking, checks)
    runner_up = feasible[1]
    margin = estimate(best.objective - runner_up.objective, coverage)
    tied = margin[1] <= 0.0 <= margin[2]
    return Recommendation(best.name, best.is_baseline, ranking, checks, runner_up.name, margin, tied)
