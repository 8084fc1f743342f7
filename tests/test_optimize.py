"""The optimiser: closed-form optima of a simulated logit population, constraints, the simulator path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit, lambertw, logit

import simlib
from simlib.errors import InputError, ScenarioError
from simlib.optimize import Constraint, Lever, PointResult, maximise, optimise_policy, parse_lever

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
ALPHA, BETA = 3.0, 0.12  # stay probability logistic(α − β·price), price in currency units


def logit_population(customers: int = 50_000, replications: int = 20, seed: int = 1):
    """A population whose only churn is a logit in price, simulated with common random numbers:
    each customer has one uniform draw per replication and stays if it is below the stay
    probability at the candidate price."""
    draws = np.random.default_rng(seed).random((replications, customers))

    def evaluate(x: tuple[float, ...]) -> PointResult:
        stay = draws < expit(ALPHA - BETA * x[0])
        return PointResult(x[0] * stay.mean(axis=1), {"churn": 1.0 - float(stay.mean())})

    return evaluate


def test_the_revenue_maximising_price_matches_its_lambert_w_closed_form() -> None:
    # max_p p·σ(α − βp): the first-order condition gives p* = (1 + W(e^(α−1))) / β.
    closed_form = (1.0 + lambertw(np.exp(ALPHA - 1.0)).real) / BETA
    optimum = maximise(logit_population(), [Lever("price", 1.0, 80.0)], objective="revenue")
    assert optimum.values[0] == pytest.approx(closed_form, rel=0.01)
    assert optimum.feasible and optimum.evaluations < 60
    revenue = closed_form * expit(ALPHA - BETA * closed_form)
    assert optimum.objective_estimate[1] < revenue * 1.01 and optimum.objective_estimate[2] > revenue * 0.99


def test_a_binding_constraint_moves_the_optimum_to_its_boundary() -> None:
    # Churn ≤ 30% means σ(α − βp) ≥ 0.7, i.e. p ≤ (α − logit(0.7)) / β, below the free optimum.
    boundary = (ALPHA - logit(0.7)) / BETA
    optimum = maximise(
        logit_population(), [Lever("price", 1.0, 80.0)], [Constraint("max_churn", "churn", 0.3)]
    )
    assert optimum.values[0] == pytest.approx(boundary, rel=0.01)
    table = optimum.constraint_table()
    assert bool(table.loc[0, "binding"]) and table.loc[0, "value"] <= 0.3


def test_a_slack_constraint_changes_nothing() -> None:
    free = maximise(logit_population(), [Lever("price", 1.0, 80.0)])
    loose = maximise(
        logit_population(), [Lever("price", 1.0, 80.0)], [Constraint("max_churn", "churn", 0.99)]
    )
    assert loose.values == free.values and not bool(loose.constraint_table().loc[0, "binding"])


def test_two_levers_with_one_irrelevant_find_the_same_price() -> None:
    closed_form = (1.0 + lambertw(np.exp(ALPHA - 1.0)).real) / BETA
    evaluate = logit_population()
    optimum = maximise(lambda x: evaluate(x[:1]), [Lever("price", 1.0, 80.0), Lever("noise", 0.0, 1.0)])
    assert optimum.values[0] == pytest.approx(closed_form, rel=0.01)


def test_infeasible_problems_say_so() -> None:
    optimum = maximise(
        logit_population(), [Lever("price", 1.0, 80.0)], [Constraint("max_churn", "churn", 0.01)]
    )
    assert not optimum.feasible
    assert optimum.values[0] == pytest.approx(1.0)  # the least infeasible point: the lowest price


@pytest.mark.parametrize(
    ("text", "message"),
    [("fees.monthly_fee", "KEY.PATH=LOW:HIGH"), ("fees.monthly_fee=30:20", "low end"), ("x=a:b", "numbers")],
)
def test_bad_levers_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_lever(text)


def test_the_simulator_optimum_is_written_as_a_scenario_diff(tmp_path: Path) -> None:
    base = simlib.load(SCENARIOS / "baseline.yaml")
    size = {"customers": 1500, "months": 8, "replications": 3, "seed": 4}
    result = optimise_policy(base, [parse_lever("fees.monthly_fee=18:40")], grid_points=5, workers=2, **size)
    optimum = result.optimum
    assert 18 <= optimum.values[0] <= 40 and optimum.feasible
    # The reported objective is the paired difference at the optimum, as compare() gives it.
    reform = base.with_changes({"fees.monthly_fee": optimum.values[0]})
    direct = simlib.compare(base, reform, progress=False, **size).summary()
    assert optimum.objective_estimate[0] == pytest.approx(direct.loc["npv_net_revenue", "difference_mean"])
    # Every point of the grid is no better than the optimum.
    assert optimum.trace["objective"].max() == pytest.approx(optimum.objective_estimate[0])
    folder = result.save(tmp_path / "optimum")
    written = simlib.load(folder / "optimum.yaml")
    assert written.fees.monthly_fee == pytest.approx(optimum.values[0])
    assert written.fingerprint() == result.scenario.fingerprint()
    with pytest.raises(FileExistsError):
        result.save(folder)


def test_levers_are_checked_before_anything_runs() -> None:
    base = simlib.load(SCENARIOS / "baseline.yaml")
    with pytest.raises(ScenarioError) as problems:
        optimise_policy(base, [parse_lever("fees.monthly_fee=-5:40"), parse_lever("fees.penalty_fe=0:10")])
    text = str(problems.value)
    assert "fees.monthly_fee" in text and "-5" in text and "did you mean fees.penalty_fee" in text
