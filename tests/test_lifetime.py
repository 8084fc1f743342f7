"""Lifetime value with heterogeneity: DERL against Fader & Hardie's published values, the value of
an active customer against its series, and the simulator's customer lifetime value against DERL on
a population whose only churn is the sBG baseline."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

import simlib
from simlib.model.lifetime import MAX_RENEWALS, derl, discounted_months, posterior_renewals


def test_derl_matches_the_published_values() -> None:
    # Fader & Hardie (2010), d = 0.10. α = 3.80, β = 15.20: a customer alive at the end of periods
    # 1–5 (0–4 renewals) has DERL 3.31, 3.45, 3.59, 3.72, 3.84 (printed to two decimals).
    values = derl(0.10, 3.80, 15.20, np.arange(5))
    np.testing.assert_allclose(values, [3.31, 3.45, 3.59, 3.72, 3.84], rtol=0, atol=0.005)
    # α = 0.668, β = 3.806 after 7 renewals: 7.530 (printed to three decimals).
    assert derl(0.10, 0.668, 3.806, 7) == pytest.approx(7.530, abs=5e-4)


def test_derl_is_reexported_by_calibrate() -> None:
    from simlib.analysis import calibrate

    assert calibrate.derl is derl


def series(discount: float, alpha: float, beta: float, renewals: float, hazard: float) -> float:
    """Σ_k E[(1 − p)^k] (1 − h)^k (1 + d)^-(k+1) under p ~ Beta(α, β + n), summed until negligible."""
    k = np.arange(200_000)
    survival = np.exp(special.betaln(alpha, beta + renewals + k) - special.betaln(alpha, beta + renewals))
    weight = np.exp(k * np.log1p(-hazard) - (k + 1) * np.log1p(discount))
    return float(np.sum(survival * weight))


@pytest.mark.parametrize(
    ("alpha", "beta", "renewals", "hazard"),
    [(0.9, 36.0, 0.0, 0.0), (0.9, 36.0, 24.5, 0.0), (3.8, 15.2, 3.0, 0.004), (0.668, 3.806, 7.0, 0.05)],
)
def test_the_value_of_an_active_customer_is_its_discounted_series(
    alpha: float, beta: float, renewals: float, hazard: float
) -> None:
    discount = 1.08 ** (1 / 12) - 1
    value = discounted_months(discount, alpha, beta, renewals, hazard)
    assert value == pytest.approx(series(discount, alpha, beta, renewals, hazard), rel=1e-9)
    if hazard == 0.0:
        # In DERL's terms: paid for this month at its end, then DERL discounted once more.
        v = 1 / (1 + discount)
        assert value == pytest.approx(v * (1 + v * derl(discount, alpha, beta, renewals)), rel=1e-12)


def test_a_customer_sure_to_leave_pays_this_month_only() -> None:
    assert discounted_months(0.01, 0.9, 36.0, 0.0, 1.0) == pytest.approx(1 / 1.01)


def test_the_posterior_shift_reproduces_the_mean_churn() -> None:
    alpha, beta = 0.9, 36.0
    renewals = posterior_renewals(alpha, beta, np.array([0.02, 0.01, 0.5, 0.0]))
    np.testing.assert_allclose(alpha / (alpha + beta + renewals[:2]), [0.02, 0.01], rtol=1e-12)
    assert renewals[2] == 0.0 and renewals[3] == MAX_RENEWALS


def test_ignoring_heterogeneity_understates_the_lifetime() -> None:
    # Beta(0.9, 36) at 8% a year: the geometric formula at the mean churn against the sBG value,
    # for a new customer (41% short) and for one seasoned 24 months (churn α/(α + β + 24); 32%).
    discount = 1.08 ** (1 / 12) - 1
    shortfalls = []
    for renewals in (0.0, 24.0):
        churn = 0.9 / (36.9 + renewals)
        geometric = 1 / (discount + churn)  # Σ (1 − c)^k (1 + d)^-(k+1)
        shortfalls.append(1 - geometric / discounted_months(discount, 0.9, 36.0, renewals))
    np.testing.assert_allclose(shortfalls, [0.41, 0.32], atol=0.01)


ALPHA, BETA, FEE = 0.9, 36.0, 30.0


def sbg_only(customers: int = 20_000, months: int = 12, replications: int = 8):
    """One segment of new customers (tenure 0, no warm-up), no arrivals, every behavioural hazard
    off, a flat fee with no usage charges, no billing errors or penalties: churn is the sBG
    baseline alone and every active customer-month earns the same margin."""
    scenario = simlib.from_dict(
        {
            "name": "sbg_only",
            "simulation": {
                "customers": customers,
                "months": months,
                "replications": replications,
                "seed": 11,
                "warm_up_months": 0,
                "discount_rate_annual": 0.08,
            },
            "population": {
                "segments": [
                    {
                        "name": "all",
                        "share": 1.0,
                        "churn_alpha": ALPHA,
                        "churn_beta": BETA,
                        "initial_tenure_max_months": 0,
                        "late_payment_scale": 0.0,
                    }
                ],
                "arrivals": {"monthly_rate": 0.0},
            },
            "fees": {"monthly_fee": FEE, "usage_tiers": [{"unit_price": 0.0}]},
            "billing": {"error_rate": 0.0},
            "behaviour": {
                "price_sensitivity": 0.0,
                "reference_sensitivity": 0.0,
                "complaint_churn_effect": 0.0,
            },
        }
    )
    return simlib.simulate(scenario, progress=False)


def test_lifetime_value_from_the_simulated_customers_matches_derl() -> None:
    result = sbg_only()
    totals = result.totals()
    by_month = result.by_month()
    # The margin is the same in every active customer-month (exactly, in whole cents).
    margin = float(by_month["net_revenue"].sum() / by_month["active"].sum())
    np.testing.assert_allclose(by_month["net_revenue"], margin * by_month["active"], rtol=1e-12)
    assert 29 < margin < FEE
    # Every customer is new at month 0 and pays at the end of each month it is active:
    # CLV = m Σ_{t ≥ 0} S(t) v^(t+1) = m v (1 + v · DERL(d | α, β, 0)).
    discount = 1.08 ** (1 / 12) - 1
    v = 1 / (1 + discount)
    expected = margin * v * (1 + v * float(derl(discount, ALPHA, BETA, 0)))
    values = totals["customer_lifetime_value"].to_numpy()
    standard_error = values.std(ddof=1) / np.sqrt(len(values))
    assert abs(values.mean() - expected) < 4 * standard_error + 1e-3 * expected
    assert standard_error < 0.01 * expected  # the check is tight enough to mean something
    # The geometric formula at the simulated average churn would have missed by far more.
    churn = totals["monthly_churn_rate"].mean()
    geometric = margin * (1 + discount) / (discount + churn)
    assert abs(geometric - expected) > 0.2 * expected
    # Customer equity is NPV plus residual value, and per customer served (the initial base here).
    np.testing.assert_allclose(
        totals["customer_equity"], totals["npv_net_revenue"] + totals["residual_value"], rtol=1e-12
    )
    np.testing.assert_allclose(values, totals["customer_equity"] / result.info.customers, rtol=1e-12)
