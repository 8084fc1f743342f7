"""Statistical validation of the engine: closed forms, reproducibility, exactness, bookkeeping.

Every statistical tolerance below is a number of Monte Carlo standard errors (``Z`` = 4) of a
binomial or sum-of-binomials count whose variance is known in closed form; seeds are fixed, so the
tests are deterministic. With all behavioural effects switched off the model is a textbook one:

* baseline churn only: each customer leaves each month with a personal probability p drawn once
  from Beta(α, β), so survival of a new cohort follows the shifted-beta-geometric (sBG) curve
  S(t) = B(α, β + t) / B(α, β) (Fader & Hardie 2007), and N·Ŝ(t) ~ Binomial(N, S(t));
* constant arrivals: every seat brings a newcomer with probability r each month, independently, so
  arrivals are Binomial(N, r) and, with a homogeneous churn probability p, the base settles at λ/p
  with λ = N·r.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from montecarlo import Z
from scipy import special

import simlib
from simlib.model.counts import COUNTED, INDEX
from simlib.model.draws import customer_keys, uniform
from simlib.model.keys import Purpose, stream_key

"""Tolerance in standard errors for every statistical assertion."""

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
K = 1e6
"""Concentration of Beta(p·K, (1 − p)·K): a homogeneous churn probability p (sd ≈ √(p/K))."""


def effects_off(
    alpha: float, beta: float, arrival_rate: float = 0.0, name: str = "effects_off"
) -> simlib.Scenario:
    """One segment, a new initial cohort, baseline churn only, optional constant arrivals."""
    return simlib.from_dict(
        {
            "simulation": {"warm_up_months": 0},
            "population": {
                "segments": [
                    {
                        "name": "all",
                        "share": 1.0,
                        "churn_alpha": alpha,
                        "churn_beta": beta,
                        "initial_tenure_max_months": 0,
                    }
                ],
                "arrivals": {"monthly_rate": arrival_rate, "price_elasticity": 0.0},
            },
            "behaviour": {
                "price_sensitivity": 0.0,
                "reference_sensitivity": 0.0,
                "complaint_churn_effect": 0.0,
            },
        },
        name=name,
    )


def homogeneous(p: float, arrival_rate: float = 0.0) -> simlib.Scenario:
    return effects_off(p * K, (1.0 - p) * K, arrival_rate, name=f"homogeneous_{p}")


def busy() -> simlib.Scenario:
    """The baseline with nearly every mechanism on: fees of every kind, money in odd cents,
    audits, transparency, fee changes (one grandfathered), a tight complaint team, caps that are
    breached and fined."""
    return simlib.load(BASELINE).with_changes(
        {
            "fees.penalty_fee": 12.0,
            "fees.setup_fee": 19.99,
            "fees.early_termination_fee": 30.0,
            "fees.minimum_term_months": 12,
            "fees.prepay_discount": 0.07,
            "fees.prepay_uptake": 0.2,
            "fees.transaction_fee_percent": 1.3,
            "fees.tier_mode": "volume",
            "population.segments.light.average_transaction_value": 2.17,
            "population.segments.heavy.average_transaction_value": 0.93,
            "audits.every_months": 3,
            "transparency.itemised_bills": True,
            "transparency.pre_deduction_notice_days": 2,
            "billing.error_rate": 0.05,
            "complaint_handling.capacity_per_1000_customers": 3,
            "complaint_handling.goodwill_credit": 2.5,
            "complaint_handling.refund_share": 0.55,
            "compliance.enforcement": "fine",
            "compliance.fee_cap": 60,
            "compliance.penalty_fee_cap": 10,
            "compliance.minimum_notice_days": 30,
            "fee_changes": [
                {"month": 3, "notice_days": 0, "set": {"monthly_fee": 27.5}},
                {"month": 7, "notice_days": 45, "grandfather_existing": True, "set": {"monthly_fee": 29}},
            ],
        }
    )


def run(scenario: simlib.Scenario, **kwargs) -> simlib.SimulationResult:
    settings = {"customers": 6000, "months": 12, "replications": 2, "seed": 11, "progress": False}
    settings.update(kwargs)
    return simlib.simulate(scenario, **settings)


def column(counts: np.ndarray, name: str) -> np.ndarray:
    """(replication, month, segment) slice of one counted metric."""
    return counts[..., INDEX[name]]


@pytest.fixture(scope="module")
def busy_result() -> simlib.SimulationResult:
    return run(busy(), customers=10_000, replications=2)


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize(("alpha", "beta"), [(0.9, 28.0), (2.5, 12.0)])
def test_survival_follows_shifted_beta_geometric(alpha: float, beta: float) -> None:
    customers, months, reps = 20_000, 24, 2
    result = run(effects_off(alpha, beta), customers=customers, months=months, replications=reps)
    active = column(result.counts, "active").sum(axis=(0, 2))
    n = customers * reps
    t = np.arange(months)
    survival = np.exp(special.betaln(alpha, beta + t) - special.betaln(alpha, beta))
    # Customers are independent and each survives t months with probability S(t): Binomial(n, S(t)).
    se = np.sqrt(n * survival * (1.0 - survival))
    assert active[0] == n
    np.testing.assert_array_less(np.abs(active - n * survival), Z * np.maximum(se, 1.0))
    # Heterogeneity is what makes sBG differ from a geometric curve with the same first-month churn:
    # the test would not be able to tell the two apart if the difference were within the noise.
    geometric = n * (beta / (alpha + beta)) ** t
    assert np.abs(active[-1] - geometric[-1]) > 2 * Z * se[-1]
    # With every behavioural effect off, all churn is baseline churn.
    churned = column(result.counts, "churned")
    np.testing.assert_array_equal(churned, column(result.counts, "churned_baseline"))
    assert column(result.counts, "acquired")[:, 1:].sum() == 0


def test_homogeneous_churn_is_geometric() -> None:
    customers, months, reps, p = 20_000, 24, 2, 0.06
    result = run(homogeneous(p), customers=customers, months=months, replications=reps)
    active = column(result.counts, "active").sum(axis=(0, 2))
    n = customers * reps
    survival = (1.0 - p) ** np.arange(months)
    se = np.sqrt(n * survival * (1.0 - survival))
    assert active[0] == n
    np.testing.assert_array_less(np.abs(active - n * survival), Z * np.maximum(se, 1.0))
    # Month by month, churn among those present is Binomial(active, p).
    churned = column(result.counts, "churned").sum(axis=(0, 2))
    exposed = active.sum()
    assert abs(churned.sum() - p * exposed) < Z * np.sqrt(exposed * p * (1 - p))


def _arrival_moments(customers: int, r: float, p: float, months: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and covariance of monthly active counts with Binomial(N, r) arrivals each month
    and homogeneous churn p, starting from N new customers (active counts at month start).

    A seat's cohort k (k = −1: the initial customer, present with probability 1 at month 0;
    k ≥ 0: the newcomer of month k, present with probability r) is present in month m ≥ k with
    probability a_k·q^(m − k), q = 1 − p. Cohorts and seats are independent, and presence in month
    m' ≥ m implies presence in m, so Cov(m, m') = N Σ_k (a_k q^(m' − k) − a_k² q^(m − k) q^(m' − k)).
    """
    q = 1.0 - p
    starts = np.arange(-1, months)
    weights = np.where(starts < 0, 1.0, r)
    start_age = np.maximum(starts, 0)
    month = np.arange(months)
    age = month[None, :] - start_age[:, None]
    present = np.where(age >= 0, weights[:, None] * q ** np.maximum(age, 0), 0.0)
    mean = customers * present.sum(axis=0)
    cov = np.empty((months, months))
    for i in range(months):
        for j in range(i, months):
            cov[i, j] = cov[j, i] = customers * np.sum(present[:, j] - present[:, i] * present[:, j])
    return mean, cov


def test_constant_arrivals_settle_at_rate_over_churn() -> None:
    customers, months, reps, p, r = 10_000, 24, 3, 0.4, 0.12
    result = run(homogeneous(p, arrival_rate=r), customers=customers, months=months, replications=reps)
    active = column(result.counts, "active").sum(axis=2)
    acquired = column(result.counts, "acquired").sum(axis=2)

    # Arrivals after month 0 are Binomial(N, r) per month, independent across months and replications.
    later = acquired[:, 1:]
    assert abs(later.mean() - customers * r) < Z * np.sqrt(customers * r * (1 - r) / later.size)

    # The last months settle at λ/p. The exact mean still carries what is left of the initial cohort,
    # N·q^m·(1 − r·q/p), under one customer from month 18 on (q = 0.6); it is included, not ignored.
    mean, cov = _arrival_moments(customers, r, p, months)
    window = slice(18, months)
    settled = customers * r / p
    width = months - 18
    expected = mean[window].mean()
    assert abs(expected - settled) < 1.0
    se = np.sqrt(cov[window, window].sum() / width**2 / reps)
    observed = active[:, window].mean()
    assert abs(observed - expected) < Z * se


@pytest.mark.parametrize(("elasticity", "setup_fee"), [(1.2, 0.0), (1.2, 24.0), (2.0, 6.0)])
def test_arrivals_respond_to_the_prospective_bill(elasticity: float, setup_fee: float) -> None:
    """Each seat brings a newcomer with probability r·(B / P_market)^(−ε), B the bill at median
    usage plus the set-up fee spread over its amortisation months: €25 + €0.50·(20 − 10) + fee/12.
    (One segment: its market bill is the market reference price; several segments are tested in
    test_population.py.)"""
    r, market, customers, months, reps = 0.05, 40.0, 10_000, 12, 2
    scenario = homogeneous(0.03, arrival_rate=r).with_changes(
        {
            "population.segments.all.usage_median_units": 20.0,
            "population.arrivals.price_elasticity": elasticity,
            "population.arrivals.market_reference_price": market,
            "population.arrivals.setup_fee_amortisation_months": 12.0,
            "fees.setup_fee": setup_fee,
        }
    )
    counts = run(scenario, customers=customers, months=months, replications=reps).counts
    acquired = column(counts, "acquired")
    later = acquired[:, 1:].sum(axis=2)  # month 0 also counts the new initial cohort
    probability = r * ((30.0 + setup_fee / 12.0) / market) ** (-elasticity)
    se = np.sqrt(customers * probability * (1 - probability) / later.size)
    assert abs(later.mean() - customers * probability) < Z * se
    # Every newcomer pays the set-up fee, in whole cents.
    setup = column(counts, "revenue_setup_cents")
    np.testing.assert_array_equal(setup[:, 1:], round(setup_fee * 100) * acquired[:, 1:])


def test_initial_base_with_tenure_is_the_sbg_posterior() -> None:
    """Initial customers of tenure t (uniform on 0…T) have churn probability Beta(α, β + t), the
    posterior of someone who has stayed t months; the warm-up then runs W months on them. So a
    seat of segment s is still active in month m with probability
    share_s · mean_t B(α, β + t + W + m) / B(α, β + t): Binomial(N, ·) per segment and month."""
    segments = [
        {"name": "a", "share": 0.6, "churn_alpha": 0.9, "churn_beta": 28.0, "initial_tenure_max_months": 12},
        {"name": "b", "share": 0.4, "churn_alpha": 2.5, "churn_beta": 12.0, "initial_tenure_max_months": 30},
    ]
    warm_up, customers, months, reps = 3, 20_000, 18, 2
    scenario = effects_off(1.0, 1.0).with_changes(
        {"population.segments": segments, "simulation.warm_up_months": warm_up}
    )
    active = column(run(scenario, customers=customers, months=months, replications=reps).counts, "active")
    n = customers * reps
    m = np.arange(months)
    for index, segment in enumerate(segments):
        alpha, beta, top = segment["churn_alpha"], segment["churn_beta"], segment["initial_tenure_max_months"]
        t = np.arange(top + 1)[:, None]
        survival = np.exp(special.betaln(alpha, beta + t + warm_up + m) - special.betaln(alpha, beta + t))
        probability = segment["share"] * survival.mean(axis=0)
        observed = active[:, :, index].sum(axis=0)
        se = np.sqrt(n * probability * (1.0 - probability))
        np.testing.assert_array_less(np.abs(observed - n * probability), Z * se)
        # Drawing everyone from Beta(α, β), ignoring tenure, would be detectably different.
        naive = np.exp(special.betaln(alpha, beta + warm_up + m) - special.betaln(alpha, beta))
        assert np.max(np.abs(observed - n * segment["share"] * naive) / se) > 2 * Z


def _lognormal_partial_moment(mu: float, s: float, n: int, k: float) -> float:
    """E[U^n · 1{U > k}] for log U ~ Normal(mu, s²)."""
    return float(np.exp(n * mu + n * n * s * s / 2) * special.ndtr((mu + n * s * s - np.log(k)) / s))


@pytest.mark.parametrize("notice_days", [0, 3])
def test_customer_traits_match_their_distributions(notice_days: int) -> None:
    """With behaviour switched off, churn is independent of every other trait, so in each month the
    active customers are an i.i.d. sample of the trait distributions:

    * looks at the bill with probability E[a] + (1 − E[a])·ν, a ~ Beta(α_a, β_a), ν the notice
      attention when pre-deduction notices are sent (0 otherwise);
    * fails a deduction with probability (1 − prepay uptake)·E[min(s·U^(−1/k), 0.95)] (Pareto);
    * is billed €25 + €0.50 per unit above 10, usage U log-normal with log-sd √(d² + v²)
      (personal level and monthly variation): the mean and variance of (U − 10)⁺ are closed-form.
    """
    a_alpha, a_beta, notice_attention = 1.5, 4.5, 0.3
    scale, tail, cap, uptake = 0.02, 1.5, 0.95, 0.25
    median, dispersion, variation = 20.0, 0.6, 0.25
    scenario = effects_off(0.9, 28.0).with_changes(
        {
            "population.segments.all.attention_alpha": a_alpha,
            "population.segments.all.attention_beta": a_beta,
            "population.segments.all.late_payment_scale": scale,
            "population.segments.all.late_payment_tail_index": tail,
            "population.segments.all.usage_median_units": median,
            "population.segments.all.usage_dispersion": dispersion,
            "population.segments.all.usage_monthly_variation": variation,
            "fees.monthly_fee": 25.0,
            "fees.included_units": 10.0,
            "fees.usage_tiers": [{"unit_price": 0.5}],
            "fees.prepay_uptake": uptake,
            "fees.prepay_discount": 0.0,
            "fees.penalty_fee": 5.0,
            "transparency.pre_deduction_notice_days": notice_days,
            "transparency.notice_attention": notice_attention,
            # Nothing but the trait makes a customer look at the bill: no surprise trigger, no complaints.
            "behaviour.surprise_attention_threshold": 1e9,
            "behaviour.surprise_complaint_rate": 0.0,
            "behaviour.error_complaint_rate": 0.0,
            "behaviour.fee_increase_complaint_rate": 0.0,
            "behaviour.penalty_complaint_rate": 0.0,
        }
    )
    counts = run(scenario, customers=20_000, months=3, replications=2).counts.sum(axis=2)
    active = counts[..., INDEX["active"]]
    assert counts[..., INDEX["complaints"]].sum() == 0

    mean_attention = a_alpha / (a_alpha + a_beta)
    looks = mean_attention + (1 - mean_attention) * (notice_attention if notice_days else 0.0)
    fails = (1 - uptake) * (scale + (scale - scale**tail * cap ** (1 - tail)) / (tail - 1))
    for name, probability in (("attentive_customers", looks), ("failed_payments", fails)):
        observed = counts[..., INDEX[name]]
        se = np.sqrt(active * probability * (1 - probability))
        np.testing.assert_array_less(np.abs(observed - active * probability), Z * se)

    mu, s, k = np.log(median), np.hypot(dispersion, variation), 10.0
    excess = _lognormal_partial_moment(mu, s, 1, k) - k * _lognormal_partial_moment(mu, s, 0, k)
    excess_sq = (
        _lognormal_partial_moment(mu, s, 2, k)
        - 2 * k * _lognormal_partial_moment(mu, s, 1, k)
        + k * k * _lognormal_partial_moment(mu, s, 0, k)
    )
    bill_mean = 2500.0 + 50.0 * excess  # cents
    bill_var = 50.0**2 * (excess_sq - excess**2)
    revenue = counts[..., INDEX["revenue_recurring_cents"]]
    # Rounding each bill to the cent moves the total by at most half a cent per bill.
    tolerance = Z * np.sqrt(active * bill_var) + 0.5 * active
    np.testing.assert_array_less(np.abs(revenue - active * bill_mean), tolerance)
    # Penalties: €5 per failed deduction, prepaying customers never fail.
    np.testing.assert_array_equal(
        counts[..., INDEX["revenue_penalty_cents"]], 500 * counts[..., INDEX["failed_payments"]]
    )


def _complaining(capacity: float) -> simlib.Scenario:
    """Frequent overcharges that itemised bills make customers notice and complain about."""
    return simlib.load(BASELINE).with_changes(
        {
            "billing.error_rate": 0.1,
            "transparency.itemised_bills": True,
            "complaint_handling.capacity_per_1000_customers": capacity,
        }
    )


def test_complaint_capacity_binds_in_the_engine() -> None:
    """One service pool (≤ 4,096 customers) with capacity c per 1,000: in a month when complaints are
    left waiting, the pool was saturated and served Binomial(w, c·active/1000 / w) of its w waiting
    complaints, whose mean is exactly c·active/1000 and variance at most that."""
    capacity = 2.0
    counts = run(_complaining(capacity), customers=4000, months=12, replications=3).counts.sum(axis=2)
    handled = counts[..., INDEX["complaints_handled"]]
    saturated = counts[..., INDEX["complaint_backlog"]] > 0
    assert saturated[:, 3:].all()  # the backlog builds up: the test exercises the binding case
    slots = capacity * counts[..., INDEX["active"]] / 1000.0
    assert abs(handled[saturated].sum() - slots[saturated].sum()) < Z * np.sqrt(slots[saturated].sum())


def test_ample_capacity_serves_every_complaint_the_month_it_is_made() -> None:
    counts = run(_complaining(1000.0), customers=6000, months=12, replications=2).counts
    assert column(counts, "complaints").sum() > 0
    assert column(counts, "complaint_backlog").sum() == 0
    np.testing.assert_array_equal(column(counts, "complaints_handled"), column(counts, "complaints"))


# --------------------------------------------------------------------------- reproducibility


def test_results_do_not_depend_on_chunk_size_or_workers() -> None:
    scenario = busy()
    reference = run(scenario, customers=10_000, chunk_size=65_536).counts
    for chunk_size in (4096, 8192, 5000):
        other = run(scenario, customers=10_000, chunk_size=chunk_size).counts
        assert np.array_equal(reference, other), f"chunk_size={chunk_size}"
    parallel = run(scenario, customers=10_000, chunk_size=4096, workers=2).counts
    assert np.array_equal(reference, parallel)


def test_paired_comparison_does_not_depend_on_chunk_size_or_workers() -> None:
    base = busy()
    reform = base.with_changes({"fees.monthly_fee": 26.0})
    settings = {"customers": 9000, "months": 9, "replications": 2, "seed": 5, "progress": False}
    one = simlib.compare(base, reform, chunk_size=65_536, **settings)
    two = simlib.compare(base, reform, chunk_size=4096, workers=2, **settings)
    assert np.array_equal(one.baseline.counts, two.baseline.counts)
    assert np.array_equal(one.reform.counts, two.reform.counts)
    assert np.array_equal(one.winners_losers_counts, two.winners_losers_counts)


def test_same_seed_same_counts_different_seed_different_counts(busy_result) -> None:
    again = run(busy(), customers=10_000, replications=2)
    assert np.array_equal(busy_result.counts, again.counts)
    other = run(busy(), customers=10_000, replications=2, seed=12)
    assert not np.array_equal(busy_result.counts, other.counts)
    # Replications are different draws too (not copies of each other).
    assert not np.array_equal(busy_result.counts[0], busy_result.counts[1])


# --------------------------------------------------------------------------- exactness


def test_counts_and_money_are_whole_numbers(busy_result) -> None:
    counts = busy_result.counts
    assert counts.shape[-1] == len(COUNTED)
    assert np.all(np.isfinite(counts))
    assert np.all(counts >= 0)
    np.testing.assert_array_equal(counts, np.rint(counts))
    money = [i for i, name in enumerate(COUNTED) if name.endswith("_cents")]
    # Every money metric actually occurs in this scenario, so the check is not vacuous.
    assert np.all(counts[..., money].sum(axis=(0, 1, 2)) > 0)
    # Derived currency amounts are whole cents too.
    monthly = busy_result.by_month()
    for name in ("gross_revenue", "refunds", "revenue_penalty", "goodwill_credit", "refunds_audit"):
        cents = monthly[name].to_numpy() * 100.0
        np.testing.assert_allclose(cents, np.rint(cents), rtol=0, atol=1e-6)


def test_fee_amounts_are_exact_multiples(busy_result) -> None:
    counts = busy_result.counts
    # Penalties are not capped under `fine` enforcement: every failed payment pays exactly €12.
    np.testing.assert_array_equal(
        column(counts, "revenue_penalty_cents"), 1200 * column(counts, "failed_payments")
    )
    # Every failed payment breaches the €10 penalty cap, and is counted as such.
    np.testing.assert_array_equal(column(counts, "penalty_cap_breaches"), column(counts, "failed_payments"))
    # Set-up fees: €19.99 per newcomer (the initial cohort joined during the warm-up).
    np.testing.assert_array_equal(column(counts, "revenue_setup_cents"), 1999 * column(counts, "acquired"))
    np.testing.assert_array_equal(
        column(counts, "goodwill_credit_cents"), 250 * column(counts, "complaints_resolved")
    )
    # The month-3 change without notice breaches the 30-day minimum for every customer it raises.
    breaches = column(counts, "notice_breaches").sum(axis=(0, 2))
    assert breaches[3] > 0
    assert breaches[np.arange(len(breaches)) != 3].sum() == 0


# --------------------------------------------------------------------------- bookkeeping


def test_bookkeeping_identities(busy_result) -> None:
    counts = busy_result.counts
    active = column(counts, "active")
    churned = column(counts, "churned")
    acquired = column(counts, "acquired")
    # Per replication and segment: the base moves only by churn and arrivals.
    np.testing.assert_array_equal(active[:, 1:], active[:, :-1] - churned[:, :-1] + acquired[:, 1:])
    causes = ["churned_baseline", "churned_price", "churned_price_rise", "churned_complaint"]
    np.testing.assert_array_equal(churned, sum(column(counts, c) for c in causes))
    complaint_causes = [
        "complaints_surprise",
        "complaints_billing_error",
        "complaints_fee_increase",
        "complaints_penalty_fee",
    ]
    np.testing.assert_array_equal(
        column(counts, "complaints"), sum(column(counts, c) for c in complaint_causes)
    )
    handled = column(counts, "complaints_handled")
    resolved = column(counts, "complaints_resolved")
    unresolved = column(counts, "complaints_unresolved")
    np.testing.assert_array_equal(handled, resolved + unresolved)
    assert np.all(column(counts, "complaints_escalated") <= unresolved)
    # Overcharges are conserved: made = found by audit + refunded on complaint + lost at churn +
    # change in the outstanding stock (the ledger starts clean at month 0).
    outstanding = column(counts, "billing_errors_outstanding")
    previous = np.concatenate([np.zeros_like(outstanding[:, :1]), outstanding[:, :-1]], axis=1)
    np.testing.assert_array_equal(
        outstanding,
        previous
        + column(counts, "billing_errors_made")
        - column(counts, "billing_errors_found_by_audit")
        - column(counts, "billing_errors_refunded_on_complaint")
        - column(counts, "billing_errors_lost_at_churn"),
    )
    # Per-customer events cannot outnumber the customers.
    for name in (
        "churned",
        "complaints",
        "complaints_handled",
        "complaint_backlog",
        "failed_payments",
        "attentive_customers",
        "billing_errors_made",
        "fee_change_notices",
        "fee_increases_experienced",
    ):
        assert np.all(column(counts, name) <= active), name
    # Audits every 3 months: everyone active is audited in months 2, 5, 8, 11 and nobody otherwise.
    audited = column(counts, "audited_customers")
    months = np.arange(counts.shape[1])
    is_audit = (months + 1) % 3 == 0
    np.testing.assert_array_equal(audited[:, is_audit], active[:, is_audit])
    assert audited[:, ~is_audit].sum() == 0
    # The identities are not vacuous: every quantity involved occurs.
    for name in (*causes, *complaint_causes, "complaints_escalated", "billing_errors_found_by_audit"):
        assert column(counts, name).sum() > 0, name


def test_by_month_and_totals_agree_with_counts(busy_result) -> None:
    counts = busy_result.counts.sum(axis=2)
    monthly = busy_result.by_month()
    for name in ("active", "churned", "complaints", "acquired"):
        np.testing.assert_array_equal(
            monthly[name].to_numpy().reshape(counts.shape[:2]), counts[..., INDEX[name]]
        )
    totals = busy_result.totals()
    np.testing.assert_array_equal(totals["churned"].to_numpy(), counts[..., INDEX["churned"]].sum(axis=1))
    np.testing.assert_array_equal(totals["active_end"].to_numpy(), counts[:, -1, INDEX["active"]])
    never_found = (
        counts[..., INDEX["billing_errors_lost_at_churn"]].sum(axis=1)
        + counts[:, -1, INDEX["billing_errors_outstanding"]]
    )
    np.testing.assert_array_equal(totals["billing_errors_never_found"].to_numpy(), never_found)


# --------------------------------------------------------------------------- random numbers


def test_uniform_draws_are_uniform_and_independent_across_purposes() -> None:
    n = 200_000
    keys = customer_keys(stream_key(3, 0), np.arange(n, dtype=np.uint64))
    churn = uniform(keys, Purpose.CHURN, 4)
    complaint = uniform(keys, Purpose.COMPLAINT, 4)
    next_month = uniform(keys, Purpose.CHURN, 5)
    for draws in (churn, complaint, next_month):
        assert np.all((draws > 0.0) & (draws < 1.0))
        assert abs(draws.mean() - 0.5) < Z * np.sqrt(1 / 12 / n)
        # Tail frequencies: a decile is Binomial(n, 0.1).
        deciles = np.bincount((draws * 10).astype(int), minlength=10)
        assert np.all(np.abs(deciles - n / 10) < Z * np.sqrt(n * 0.1 * 0.9))
    # Correlation of independent uniforms has standard error 1/√n.
    for a, b in ((churn, complaint), (churn, next_month)):
        assert abs(np.corrcoef(a, b)[0, 1]) < Z / np.sqrt(n)
    # Draws are a pure function of (seed, replication, customer, month, purpose).
    np.testing.assert_array_equal(churn, uniform(keys, Purpose.CHURN, 4))
