"""The optimiser: closed-form optima of a simulated logit population, constraints, the simulator path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit, lambertw, logit

import simlib
from simlib.analysis.optimize import Constraint, Lever, PointResult, maximise, optimise_policy, parse_lever
from simlib.errors import InputError, ScenarioError

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


# --- through the simulator: a closed-form optimum under the engine's own churn law ------------------

WTP_MEDIAN, WTP_SPREAD, UNIT_COST, SENSITIVITY, MONTHS = 40.0, 0.1, 8.0, 10.0, 12


def wtp_population() -> simlib.Scenario:
    """Customers who leave only because the price exceeds what they would pay.

    One segment of new customers, no arrivals, no warm-up (so the base's fee selects nobody before
    month 0); baseline churn Beta(1, 10⁶) (mean 10⁻⁶ a month); attention Beta(10⁶, 1), so a_i =
    u^(10⁻⁶) and every customer looks at the bill every month (P(inattentive) ≈ 10⁻⁶, whatever a
    notice adds); no reference-price, complaint, usage or billing-error effects; a flat fee and a
    unit cost per bill through ``billing.processing_cost``.
    """
    return simlib.from_dict(
        {
            "name": "wtp_only",
            "simulation": {"warm_up_months": 0, "months": MONTHS},
            "population": {
                "segments": [
                    {
                        "name": "all",
                        "share": 1.0,
                        "churn_alpha": 1.0,
                        "churn_beta": 1e6,
                        "initial_tenure_max_months": 0,
                        "willingness_to_pay_median": WTP_MEDIAN,
                        "willingness_to_pay_dispersion": WTP_SPREAD,
                        "willingness_to_pay_usage_elasticity": 0.0,
                        "attention_alpha": 1e6,
                        "attention_beta": 1.0,
                        "late_payment_scale": 0.0,
                    }
                ],
                "arrivals": {"monthly_rate": 0.0},
            },
            "fees": {"monthly_fee": 30.0, "usage_tiers": [{"unit_price": 0.0}]},
            "billing": {"error_rate": 0.0, "processing_cost": UNIT_COST},
            "transparency": {"contract_clarity": 0.0},
            "complaint_handling": {"capacity_per_1000_customers": 0.0},
            "behaviour": {
                "price_sensitivity": SENSITIVITY,
                "reference_sensitivity": 0.0,
                "complaint_churn_effect": 0.0,
                "surprise_complaint_rate": 0.0,
                "fee_increase_complaint_rate": 0.0,
            },
        }
    )


def expected_net_revenue(fee: float) -> float:
    """Expected net revenue per customer over the horizon at monthly fee F, under the engine's law.

    With baseline churn and every other hazard off and every customer attentive, a customer of
    willingness to pay w leaves at the end of each month with probability 1 − exp(−s (F/w − 1)⁺)
    (docs/model.md §3.12: P(leave) = p + (1 − p)(1 − e^(−H)), p ≈ 0, H = s·max(F/w − 1, 0)). Each
    month's bill is collected before the churn decision, so a customer pays in month k (k = 0, …,
    T − 1) with probability exp(−k s (F/w − 1)⁺), and

        R(F) = (F − c) Σ_k E_w[exp(−k s (F/w − 1)⁺)],   w = m e^(σZ), Z ~ N(0, 1).

    The expectation is a one-dimensional integral over Z (quadrature to 10⁻¹²); customers with w ≥ F
    never leave. The optimum F* maximises R: R'(F*) = 0 has no elementary solution for a lognormal
    w (even with a step hazard it is a Mills-ratio equation), so it is found by a bounded scalar
    search on this exact R.
    """
    from scipy import integrate, stats

    k = np.arange(MONTHS)
    z_fee = np.log(fee / WTP_MEDIAN) / WTP_SPREAD

    def below(z: float) -> float:
        hazard = SENSITIVITY * (fee / (WTP_MEDIAN * np.exp(WTP_SPREAD * z)) - 1.0)
        return stats.norm.pdf(z) * float(np.exp(-k * hazard).sum())

    staying = integrate.quad(below, -12.0, z_fee, epsabs=1e-12, epsrel=1e-12)[0]
    return (fee - UNIT_COST) * (staying + MONTHS * stats.norm.sf(z_fee))


def test_the_simulator_optimum_matches_the_closed_form_of_its_own_churn_law() -> None:
    from scipy import optimize

    exact = optimize.minimize_scalar(
        lambda fee: -expected_net_revenue(fee), bounds=(25.0, 45.0), method="bounded", options={"xatol": 1e-8}
    ).x
    assert 34.5 < exact < 36.0  # about 35.18: interior, well inside the lever's range
    result = optimise_policy(
        wtp_population(),
        [parse_lever("fees.monthly_fee=25:45")],
        objective="net_revenue",
        customers=10_000,
        replications=8,
        seed=3,
        grid_points=7,
        workers=1,
    )
    # Monte Carlo spread of the simulated optimum at this size: about 0.25% (common random numbers).
    assert result.optimum.values[0] == pytest.approx(exact, rel=0.01)
    # The objective there is the paired gain over the base's €30, as the closed form gives it.
    gain = (expected_net_revenue(result.optimum.values[0]) - expected_net_revenue(30.0)) * 10_000
    assert result.optimum.objective_estimate[0] == pytest.approx(gain, rel=0.01)
