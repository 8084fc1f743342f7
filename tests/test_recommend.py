"""The recommendation: constraints met, none met, compliance, ties judged on paired draws."""

from __future__ import annotations

import numpy as np
import pytest

from simlib.analysis.recommend import Candidate, Constraints, recommend

REPLICATIONS = 40


def candidate(
    name: str,
    gain: float,
    complaints: float = 3.0,
    churn: float = 0.015,
    breaches: float = 0.0,
    noise: float = 10.0,
    seed: int = 0,
    spread: float = 0.5,
) -> Candidate:
    """A policy whose per-replication gain over the baseline is ``gain`` plus its own noise."""
    draws = gain + np.random.default_rng(seed).normal(0.0, noise, REPLICATIONS)
    return Candidate(name, draws, complaints, complaints + spread, churn, churn + 0.002, breaches)


BASELINE = Candidate("baseline", np.zeros(REPLICATIONS), 4.0, 4.5, 0.016, 0.018, 0.0, is_baseline=True)


def test_the_best_policy_that_meets_the_constraints_is_recommended() -> None:
    policies = [
        candidate("cheap", 500.0, complaints=2.0, seed=1),
        candidate("greedy", 2000.0, complaints=9.0, seed=2),  # the most revenue, too many complaints
        candidate("middle", 900.0, complaints=4.7, seed=3),
    ]
    result = recommend([BASELINE, *policies], Constraints(max_complaints_per_1000=5.0))
    assert result.chosen == "middle" and not result.keep_baseline
    assert result.ranking == ("middle", "cheap", "baseline")
    assert [c.constraint for c in result.broken("greedy")] == ["complaints"]
    assert result.runner_up == "cheap" and not result.tied
    mean, low, high = result.margin
    difference = policies[2].objective - policies[0].objective
    assert mean == pytest.approx(difference.mean()) and low > 0 and high > low
    assert result.at_risk("middle") and not result.at_risk("cheap")  # 4.7 + 0.5 > 5


def test_when_no_reform_beats_the_baseline_keep_it() -> None:
    result = recommend([BASELINE, candidate("loss", -300.0, seed=4)], Constraints())
    assert result.chosen == "baseline" and result.keep_baseline


def test_when_nothing_meets_the_constraints_the_closest_is_named() -> None:
    policies = [
        candidate("far", 100.0, complaints=12.0, seed=5),
        candidate("near", 50.0, complaints=6.0, seed=6),
    ]
    baseline = Candidate("baseline", np.zeros(REPLICATIONS), 8.0, 8.5, 0.016, 0.018, 0.0, is_baseline=True)
    result = recommend([baseline, *policies], Constraints(max_complaints_per_1000=5.0))
    assert result.chosen is None and result.ranking == () and not result.keep_baseline
    assert result.closest == "near"  # 6 is 20% over the limit; the baseline 60%, "far" 140%
    assert all(result.broken(name) for name in ("baseline", "far", "near"))


def test_compliance_breaches_rule_a_policy_out_unless_allowed() -> None:
    policies = [candidate("breaching", 5000.0, breaches=3.0, seed=7), candidate("lawful", 100.0, seed=8)]
    strict = recommend([BASELINE, *policies], Constraints())
    assert strict.chosen == "lawful"
    assert [c.constraint for c in strict.broken("breaching")] == ["compliance"]
    lenient = recommend([BASELINE, *policies], Constraints(allow_compliance_breaches=True))
    assert lenient.chosen == "breaching"


def test_a_lead_within_the_noise_is_a_tie() -> None:
    policies = [candidate("a", 105.0, seed=9, noise=200.0), candidate("b", 100.0, seed=10, noise=200.0)]
    result = recommend([BASELINE, *policies], Constraints())
    assert result.tied and result.margin[1] < 0 < result.margin[2]
    assert {result.chosen, result.runner_up} == {"a", "b"}


def test_equal_means_are_ranked_by_complaints_then_churn_then_name() -> None:
    same = np.full(REPLICATIONS, 250.0)
    policies = [
        Candidate("zeta", same, 3.0, 3.5, 0.015, 0.016, 0.0),
        Candidate("alpha", same, 3.0, 3.5, 0.015, 0.016, 0.0),
        Candidate("quiet", same, 2.0, 2.5, 0.015, 0.016, 0.0),
        Candidate("loyal", same, 3.0, 3.5, 0.010, 0.011, 0.0),
    ]
    result = recommend([BASELINE, *policies], Constraints())
    assert result.ranking[:4] == ("quiet", "loyal", "alpha", "zeta")
    assert result.tied and result.margin == (0.0, 0.0, 0.0)


def test_objectives_must_be_paired() -> None:
    short = Candidate("short", np.zeros(3), 1.0, 1.0, 0.01, 0.01, 0.0)
    with pytest.raises(ValueError, match="same replications"):
        recommend([BASELINE, short], Constraints())
