"""simlib calibrate: sBG closed forms and fit, DERL, complaint rates, the fee-change fit, bad files,
the scenario fragment and the notebook.

The example histories in scenarios/history/ are made by this module's generators with the true
values below; ``python tests/test_calibrate.py scenarios/history`` writes them again.
"""

from __future__ import annotations

import csv
import io
import shutil
import sys
from pathlib import Path

import matplotlib
import notebook_runs
import numpy as np
import pytest
from notebook_runs import run_notebook
from scipy import integrate, special, stats

import simlib
from simlib.analysis import calibrate as cal
from simlib.errors import InputError
from simlib.model.counts import INDEX
from simlib.run.runner import simulate

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
HISTORY = SCENARIOS / "history"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "history"

HISTORY_SEED = 20240601
SEGMENT = "standard"
TRUE_ALPHA, TRUE_BETA = 1.2, 40.0
TRUE_RATES = {"surprise": 0.05, "billing_error": 0.25, "fee_increase": 0.08, "penalty_fee": 0.3}
TRUE_PRICE_SENSITIVITY, TRUE_LOSS_AVERSION = 0.6, 2.0
RETENTION_COHORTS = (("2022-01", 3000, 24), ("2022-07", 2500, 18), ("2023-01", 2000, 12))
FEE_CHANGE = {"customers": 10_000, "months": 18, "change": 9, "old": 25.0, "new": 28.0, "notice": 0}
MEDIANS = {"behaviour.reference_sensitivity": 0.3, "behaviour.complaint_churn_effect": 0.13}
"""Medians of the baseline's other uncertain behaviour parameters (uniform 0.15–0.45, 0.06–0.2)."""


# --------------------------------------------------------------------------- generators


def _csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def retention_csv(cohorts: tuple[tuple[str, int, int], ...], alpha: float, beta: float, seed: int) -> str:
    """Cohorts of (label, customers, periods observed): each customer churns each period with a
    personal θ ~ Beta(α, β); the cohort is right-censored after its last period."""
    rng = np.random.default_rng(seed)
    rows: list[list[object]] = []
    for label, size, periods in cohorts:
        lifetime = rng.geometric(rng.beta(alpha, beta, size))
        rows += [[label, t, int((lifetime > t).sum())] for t in range(periods + 1)]
    return _csv(["cohort", "period", "active"], rows)


def cohort(world: simlib.Scenario, segment: str, periods: int) -> simlib.Scenario:
    """One cohort of new customers of ``segment`` under ``world`` (every parameter a number), as a
    retention history describes it: that segment alone, tenure 0, no arrivals, no warm-up, no
    scheduled fee changes."""
    chosen = next(s for s in world.as_dict()["population"]["segments"] if s["name"] == segment)
    chosen.update(share=1.0, initial_tenure_max_months=0)
    return world.with_changes(
        {
            "population.segments": [chosen],
            "population.arrivals.monthly_rate": 0.0,
            "simulation.warm_up_months": 0,
            "simulation.months": periods,
            "fee_changes": [],
        }
    )


def simulated_retention(
    world: simlib.Scenario, segment: str, size: int, periods: int, seed: int
) -> np.ndarray:
    """Customers of a simulated cohort still active after 0, 1, …, ``periods`` months."""
    result = simulate(
        cohort(world, segment, periods),
        customers=size,
        months=periods,
        replications=1,
        seed=seed,
        progress=False,
    )
    churned = result.counts[0].sum(axis=1)[:, INDEX["churned"]]
    return np.r_[size, size - np.cumsum(churned)].astype(int)


def engine_retention_csv(world: simlib.Scenario, cohorts: tuple[tuple[str, int, int], ...], seed: int) -> str:
    """Cohorts of (label, customers, periods observed) simulated by the engine under ``world``, its
    behavioural churn included (seeds ``seed``, ``seed + 1``, …); right-censored after the last period."""
    rows: list[list[object]] = []
    for index, (label, size, periods) in enumerate(cohorts):
        active = simulated_retention(world, SEGMENT, size, periods, seed + index)
        rows += [[label, t, int(a)] for t, a in enumerate(active)]
    return _csv(["cohort", "period", "active"], rows)


def complaints_csv(base: simlib.Scenario, rates: dict[str, float], seed: int, months: int = 24) -> str:
    """Customer-level complaints of a 20,000-customer firm: each exposed customer has a lognormal
    propensity (median 1, the base's dispersion) and complains with probability
    min(1, propensity · rate · trigger · policy), the policy terms read from the base as the engine
    uses them (contract clarity; attention as the chance of noticing an overcharge; notice)."""
    rng = np.random.default_rng(seed)
    segment = base.population.segments[0]
    sigma = float(segment.complaint_propensity_dispersion)
    unclear = 1.0 - base.transparency.contract_clarity * base.transparency.clarity_complaint_reduction
    scale = base.behaviour.fee_change_notice_days_scale
    rows: list[list[object]] = []

    def row(
        month: int, cause: str, triggers: np.ndarray, policy: np.ndarray | float, notice: object = ""
    ) -> None:
        propensity = np.exp(sigma * rng.standard_normal(len(triggers)))
        chance = np.minimum(1.0, propensity * rates[cause] * triggers * policy)
        complaints = int((rng.random(len(triggers)) < chance).sum())
        rows.append([month, cause, complaints, len(triggers), round(float(triggers.mean()), 6), notice])

    for month in range(1, months + 1):
        row(month, "surprise", rng.exponential(0.12, rng.binomial(20_000, 0.15)), unclear)
        errors = rng.binomial(20_000, 0.015)
        attention = rng.beta(segment.attention_alpha, segment.attention_beta, errors)
        row(month, "billing_error", np.ones(errors), attention)
        row(month, "penalty_fee", rng.uniform(0.18, 0.32, rng.binomial(20_000, 0.02)), unclear)
        if month == 13:
            row(month, "fee_increase", rng.uniform(0.08, 0.13, 19_600), np.exp(-14 / scale), 14)
    return _csv(["month", "cause", "complaints", "exposed", "intensity", "notice_days"], rows)


def true_world(base: simlib.Scenario) -> simlib.Scenario:
    """The base with the true values of every fitted parameter (and the other uncertain ones at
    their medians): the world the example histories come from."""
    changes = {
        f"population.segments[{SEGMENT}].churn_alpha": TRUE_ALPHA,
        f"population.segments[{SEGMENT}].churn_beta": TRUE_BETA,
        "behaviour.price_sensitivity": TRUE_PRICE_SENSITIVITY,
        "behaviour.loss_aversion": TRUE_LOSS_AVERSION,
        **{f"behaviour.{cal.CAUSES[c]}": r for c, r in TRUE_RATES.items()},
        **MEDIANS,
    }
    return base.with_changes(changes)


def fee_change_csv(world: simlib.Scenario, seed: int) -> str:
    """Monthly active and churned customers simulated by the engine around a fee rise."""
    f = FEE_CHANGE
    scenario = world.with_changes(
        {
            "fee_changes": [
                {"month": f["change"], "notice_days": f["notice"], "set": {"monthly_fee": f["new"]}}
            ]
        }
    )
    result = simulate(
        scenario, customers=f["customers"], months=f["months"], replications=1, seed=seed, progress=False
    )
    counts = result.counts[0].sum(axis=1)
    rows = [
        [
            month + 1,
            int(counts[month, INDEX["active"]]),
            int(counts[month, INDEX["churned"]]),
            f"{f['old'] if month < f['change'] else f['new']:g}",
            f["notice"] if month == f["change"] else "",
        ]
        for month in range(f["months"])
    ]
    return _csv(["month", "active", "churned", "monthly_fee", "notice_days"], rows)


def histories() -> dict[str, str]:
    """The three example histories, as file name → CSV text."""
    base = simlib.load(SCENARIOS / "baseline.yaml")
    return {
        "retention.csv": engine_retention_csv(true_world(base), RETENTION_COHORTS, HISTORY_SEED),
        "complaints.csv": complaints_csv(base, TRUE_RATES, HISTORY_SEED),
        "fee_change.csv": fee_change_csv(true_world(base), HISTORY_SEED),
    }


# --------------------------------------------------------------------------- sBG


@pytest.mark.parametrize("t", [1, 2, 5, 13, 40])
def test_sbg_closed_forms_match_the_beta_mixture_integral(t: int) -> None:
    alpha, beta = 0.9, 7.5
    density = stats.beta(alpha, beta).pdf
    survival = integrate.quad(lambda q: (1 - q) ** t * density(q), 0, 1, limit=200)[0]
    churn = integrate.quad(lambda q: q * (1 - q) ** (t - 1) * density(q), 0, 1, limit=200)[0]
    assert cal.sbg_survival(t, alpha, beta) == pytest.approx(survival, rel=1e-8)
    assert cal.sbg_churn_probability(t, alpha, beta) == pytest.approx(churn, rel=1e-8)


def test_sbg_log_likelihood_of_a_small_table_equals_a_hand_computation(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text("cohort,period,active\nA,0,100\nA,1,80\nA,2,70\nB,0,50\nB,1,45\n")
    history = cal.read_retention(path)
    # α = 1, β = 2: P(T=1) = 1/3, P(T=2) = B(2,3)/B(1,2) = 1/6, S(1) = 2/3, S(2) = 1/2.
    hand = (
        20 * np.log(1 / 3) + 10 * np.log(1 / 6) + 70 * np.log(1 / 2) + 5 * np.log(1 / 3) + 45 * np.log(2 / 3)
    )
    assert cal.sbg_log_likelihood(1.0, 2.0, history) == pytest.approx(hand, rel=1e-12)


def _retention(sizes: tuple[int, ...], seed: int, folder: Path) -> cal.RetentionHistory:
    """Three cohorts of the given sizes from sBG(0.8, 12), censored after 24, 18 and 12 periods."""
    cohorts = tuple(
        (f"c{i}", size, periods) for i, (size, periods) in enumerate(zip(sizes, (24, 18, 12), strict=True))
    )
    path = folder / f"retention-{seed}.csv"
    path.write_text(retention_csv(cohorts, 0.8, 12.0, seed))
    return cal.read_retention(path)


@pytest.fixture(scope="module")
def sbg_small(tmp_path_factory: pytest.TempPathFactory) -> cal.SBGFit:
    return cal.fit_sbg(_retention((6000, 5000, 4000), 7, tmp_path_factory.mktemp("retention")))


def test_sbg_fit_recovers_known_parameters_within_three_standard_errors(sbg_small: cal.SBGFit) -> None:
    alpha_se, beta_se = sbg_small.std_errors
    assert abs(sbg_small.alpha - 0.8) < 3 * alpha_se
    assert abs(sbg_small.beta - 12.0) < 3 * beta_se
    assert alpha_se < 0.2 * 0.8  # informative, not a 3-SE pass by vagueness


def test_sbg_standard_errors_shrink_as_one_over_root_n(sbg_small: cal.SBGFit, tmp_path: Path) -> None:
    large = cal.fit_sbg(_retention((24000, 20000, 16000), 8, tmp_path))
    ratios = np.divide(large.std_errors, sbg_small.std_errors)
    assert np.all((ratios > 0.4) & (ratios < 0.62)), ratios  # 1/√4 = 0.5


def test_sbg_estimate_is_a_maximum(sbg_small: cal.SBGFit) -> None:
    best = cal.sbg_log_likelihood(sbg_small.alpha, sbg_small.beta, sbg_small.history)
    assert best == pytest.approx(sbg_small.log_likelihood)
    for angle in np.linspace(0, 2 * np.pi, 12, endpoint=False):
        for size in (0.002, 0.05):
            alpha = sbg_small.alpha * np.exp(size * np.cos(angle))
            beta = sbg_small.beta * np.exp(size * np.sin(angle))
            assert cal.sbg_log_likelihood(alpha, beta, sbg_small.history) <= best


@pytest.mark.parametrize(("renewals", "discount"), [(0, 0.01), (3, 0.0064), (24, 0.05), (7.0, 0.2)])
def test_derl_equals_the_discounted_series_and_the_hypergeometric_form(
    renewals: float, discount: float
) -> None:
    alpha, beta = 0.9, 36.0
    t = np.arange(1, 40_000)
    # Valued just before renewal n + 1: the next renewal undiscounted, each later one a period more.
    series = np.sum(cal.sbg_survival(renewals + t, alpha, beta) * np.exp(-(t - 1) * np.log1p(discount)))
    series /= cal.sbg_survival(renewals, alpha, beta)
    value = cal.derl(discount, alpha, beta, renewals)
    assert value == pytest.approx(series, rel=1e-8)
    closed = special.beta(alpha, beta + renewals + 1) / special.beta(alpha, beta + renewals)
    closed *= special.hyp2f1(1, beta + renewals + 1, alpha + beta + renewals + 1, 1 / (1 + discount))
    assert value == pytest.approx(closed, rel=1e-12)
    # Counting the current period as paid and undiscounted is a different convention: 1 + DERL/(1+d).
    t0 = np.arange(0, 40_000)
    including = np.sum(cal.sbg_survival(renewals + t0, alpha, beta) * np.exp(-t0 * np.log1p(discount)))
    including /= cal.sbg_survival(renewals, alpha, beta)
    assert including == pytest.approx(1 + value / (1 + discount), rel=1e-8)


def test_derl_needs_a_positive_discount_rate() -> None:
    with pytest.raises(InputError, match="discount rate"):
        cal.derl(0.0, 0.9, 36.0)


# --------------------------------------------------------------------------- complaints


def _complaints(base: simlib.Scenario, seed: int, tmp_path: Path) -> cal.ComplaintFit:
    path = tmp_path / f"complaints-{seed}.csv"
    path.write_text(complaints_csv(base, TRUE_RATES, seed))
    return cal.fit_complaint_rates(cal.read_complaints(path), base)


def _within_three_standard_errors(fit: cal.ComplaintFit) -> None:
    for cause, truth in TRUE_RATES.items():
        assert abs(fit.rates[cause] - truth) < 3 * fit.std_errors[cause], cause
        assert fit.std_errors[cause] < 0.15 * truth, cause


def test_complaint_rates_recovered_when_everyone_has_propensity_one(tmp_path: Path) -> None:
    base = simlib.load(SCENARIOS / "baseline.yaml")
    flat = base.with_changes(
        {
            f"population.segments[{s.name}].complaint_propensity_dispersion": 0
            for s in base.population.segments
        }
    )
    _within_three_standard_errors(_complaints(flat, 21, tmp_path))


def test_complaint_rates_recovered_with_the_propensity_correction(tmp_path: Path) -> None:
    base = simlib.load(SCENARIOS / "baseline.yaml")  # lognormal propensity, σ = 1: mean e^½
    fit = _complaints(base, 22, tmp_path)
    _within_three_standard_errors(fit)
    # Without the correction the surprise rate would be off by the factor e^½ ≈ 1.65.
    uncorrected = fit.rates["surprise"] * np.exp(0.5)
    assert abs(uncorrected - TRUE_RATES["surprise"]) > 10 * fit.std_errors["surprise"]


def test_a_cause_without_complaints_cannot_be_estimated(tmp_path: Path) -> None:
    path = tmp_path / "none.csv"
    path.write_text("month,cause,complaints,exposed,intensity\n1,surprise,0,500,0.2\n")
    with pytest.raises(InputError, match="'surprise' has no complaints"):
        cal.fit_complaint_rates(cal.read_complaints(path), simlib.load(SCENARIOS / "baseline.yaml"))


# --------------------------------------------------------------------------- retention net of behaviour

BASELINE_MEDIANS = {
    "behaviour.loss_aversion": 2.25,
    "behaviour.price_sensitivity": 0.55,
    "behaviour.reference_sensitivity": 0.3,
    "behaviour.complaint_churn_effect": 0.13,
    "behaviour.surprise_complaint_rate": 0.0425,
}
"""The medians of the baseline's five distributions: its behaviour as one world."""
ROUND_TRIP = {"customers": 5000, "periods": 24, "seed": 11, "simulated": 20_000}


def _churn(world: simlib.Scenario, alpha: float, beta: float) -> simlib.Scenario:
    return world.with_changes(
        {
            f"population.segments[{SEGMENT}].churn_alpha": alpha,
            f"population.segments[{SEGMENT}].churn_beta": beta,
        }
    )


def _history_file(active: np.ndarray, path: Path) -> cal.RetentionHistory:
    path.write_text(_csv(["cohort", "period", "active"], [["c", t, int(a)] for t, a in enumerate(active)]))
    return cal.read_retention(path)


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A cohort simulated under the baseline's behaviour with known α, β; fitted net of behaviour,
    and plainly; each fit re-simulated on the same customers and seed."""
    world = _churn(
        simlib.load(SCENARIOS / "baseline.yaml").with_changes(BASELINE_MEDIANS), TRUE_ALPHA, TRUE_BETA
    )
    n, periods, seed = ROUND_TRIP["customers"], ROUND_TRIP["periods"], ROUND_TRIP["seed"]
    active = simulated_retention(world, SEGMENT, n, periods, seed)
    history = _history_file(active, tmp_path_factory.mktemp("round_trip") / "retention.csv")
    net = cal.fit_retention(history, world, SEGMENT, seed=0, customers=ROUND_TRIP["simulated"])
    plain = cal.fit_sbg(history)
    again = {
        name: simulated_retention(_churn(world, fit.alpha, fit.beta), SEGMENT, n, periods, seed)
        for name, fit in (("net", net), ("plain", plain))
    }
    return {"history": active, "net": net, "plain": plain, "again": again}


def _distance(fit: cal.RetentionFit | cal.SBGFit) -> float:
    """Squared Mahalanobis distance of (ln α̂, ln β̂) from the truth under the fit's covariance."""
    estimate = np.array([fit.alpha, fit.beta])
    moved = np.log(estimate) - np.log([TRUE_ALPHA, TRUE_BETA])
    return float(moved @ np.linalg.solve(fit.covariance / np.outer(estimate, estimate), moved))


def _worst_period(history: np.ndarray, again: np.ndarray) -> float:
    """The largest gap between two retention curves of the same cohort size, in binomial standard
    errors of the history's share active (the Monte Carlo error of a cohort of that size)."""
    size = history[0]
    share = history / size
    error = np.sqrt(share * (1 - share) / size)
    return float(np.max(np.abs(again - history)[1:] / size / error[1:]))


def test_retention_fitted_net_of_behaviour_round_trips_through_the_engine(round_trip: dict) -> None:
    """Simulate, fit, re-simulate: retention at every period within three Monte Carlo standard errors
    of the history, and the known α, β within their standard errors."""
    net = round_trip["net"]
    assert net.behavioural is not None and net.rounds >= 2
    assert _worst_period(round_trip["history"], round_trip["again"]["net"]) < 3.0
    assert _distance(net) < stats.chi2.ppf(0.95, 2)  # jointly: α and β correlate +0.99
    for estimate, truth, error in zip(
        (net.alpha, net.beta), (TRUE_ALPHA, TRUE_BETA), net.std_errors, strict=True
    ):
        assert abs(estimate - truth) < 2 * error
    mean = net.alpha / (net.alpha + net.beta)
    assert mean == pytest.approx(TRUE_ALPHA / (TRUE_ALPHA + TRUE_BETA), rel=0.1)


def test_the_plain_sbg_fit_does_not_round_trip_when_behaviour_adds_churn(round_trip: dict) -> None:
    """The same history fitted as if all churn were baseline churn: the behavioural hazards then
    add on top, the re-simulated cohort churns too fast, and α, β are far from the truth."""
    plain = round_trip["plain"]
    assert _worst_period(round_trip["history"], round_trip["again"]["plain"]) > 5.0
    assert _distance(plain) > 20.0
    assert plain.alpha / (plain.alpha + plain.beta) > 1.15 * TRUE_ALPHA / (TRUE_ALPHA + TRUE_BETA)


def test_without_behavioural_churn_the_net_fit_is_the_plain_sbg_fit(tmp_path: Path) -> None:
    world = simlib.load(SCENARIOS / "baseline.yaml").with_changes(
        {
            **BASELINE_MEDIANS,
            "behaviour.price_sensitivity": 0.0,
            "behaviour.reference_sensitivity": 0.0,
            "behaviour.complaint_churn_effect": 0.0,
        }
    )
    history = _history_file(
        simulated_retention(_churn(world, TRUE_ALPHA, TRUE_BETA), SEGMENT, 4000, 18, 5), tmp_path / "r.csv"
    )
    net, plain = cal.fit_retention(history, world, SEGMENT, customers=20_000), cal.fit_sbg(history)
    assert net.behavioural is None and net.rounds == 1
    assert (net.alpha, net.beta) == (plain.alpha, plain.beta)
    assert np.array_equal(net.covariance, plain.covariance)


def test_the_behavioural_survival_is_the_same_whatever_the_baseline_churn() -> None:
    """The factorisation the net fit rests on: with p_i drawn apart from everything else, the
    Kaplan–Meier survival against the behavioural causes does not depend on α, β (within its
    Greenwood error)."""
    world = simlib.load(SCENARIOS / "baseline.yaml").with_changes(BASELINE_MEDIANS)
    cohort_ = cal.cohort_scenario(world, SEGMENT, 24)
    low = cal.behavioural_survival(cohort_, SEGMENT, 1.2, 80.0, 40_000, 3)
    high = cal.behavioural_survival(cohort_, SEGMENT, 1.2, 20.0, 40_000, 4)
    gap = np.log(low.survival[1:]) - np.log(high.survival[1:])
    error = np.sqrt(np.diag(low.log_variance) + np.diag(high.log_variance))
    assert low.survival[-1] < 0.95  # behaviour does remove customers
    assert np.all(np.abs(gap) < 4 * error)


# --------------------------------------------------------------------------- shipped histories, fee change


@pytest.mark.parametrize("name", ["retention.csv", "complaints.csv", "fee_change.csv"])
def test_shipped_histories_are_what_the_generators_make(name: str, generated: dict[str, str]) -> None:
    assert (HISTORY / name).read_text() == generated[name]


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return histories()


def test_the_spike_identifies_loss_aversion_given_price_sensitivity(calibration: cal.Calibration) -> None:
    world = true_world(simlib.load(SCENARIOS / "baseline.yaml"))
    history = cal.read_fee_change(HISTORY / "fee_change.csv")
    fit = cal.fit_fee_change(history, world, parameters=("loss_aversion",), seed=3)
    assert fit.parameters == ("loss_aversion",)
    assert abs(fit.values["loss_aversion"] - TRUE_LOSS_AVERSION) < 3 * fit.std_errors["loss_aversion"]
    # Holding price sensitivity (at its true value) removes the ridge: a much tighter estimate.
    assert fit.std_errors["loss_aversion"] < 0.8 * calibration.fee_change.std_errors["loss_aversion"]


def test_a_rise_with_long_notice_does_not_identify_loss_aversion(tmp_path: Path) -> None:
    text = (HISTORY / "fee_change.csv").read_text().splitlines()
    header, rows = text[0], [line.split(",") for line in text[1:]]
    rows[FEE_CHANGE["change"]][4] = "60"  # the same churn, but the rise was announced 60 days ahead
    path = tmp_path / "noticed.csv"
    path.write_text("\n".join([header, *(",".join(r) for r in rows)]) + "\n")
    history = cal.read_fee_change(path)
    # Only where the notice carries the whole announced rise into the reference price (anticipation
    # 1; the default 0.3 leaves most of it to be felt as a loss, docs/model.md §3.4) is the loss gone.
    base = simlib.load(SCENARIOS / "baseline.yaml").with_changes(
        {"behaviour.notice_reference_anticipation": 1.0}
    )
    with pytest.raises(InputError, match=r"the likelihood is flat .* does not identify"):
        cal.fit_fee_change(history, base, parameters=("loss_aversion",), customers=4096)


def test_fee_change_fits_only_its_own_parameters() -> None:
    with pytest.raises(InputError, match=r"fits some of price_sensitivity, loss_aversion \(got churn_alpha"):
        cal.fit_fee_change(
            cal.read_fee_change(HISTORY / "fee_change.csv"),
            simlib.load(SCENARIOS / "baseline.yaml"),
            parameters=("churn_alpha",),
        )


# --------------------------------------------------------------------------- bad files

BAD_FILES = [
    ("read_retention", "retention_missing_column.csv", 1, "active"),
    ("read_retention", "retention_not_a_number.csv", 4, "active"),
    ("read_retention", "retention_negative.csv", 3, "active"),
    ("read_retention", "retention_increasing.csv", 5, "active"),
    ("read_retention", "retention_gap.csv", 4, "period"),
    ("read_retention", "retention_fractional.csv", 3, "period"),
    ("read_complaints", "complaints_unknown_cause.csv", 3, "cause"),
    ("read_complaints", "complaints_more_than_exposed.csv", 2, "complaints"),
    ("read_complaints", "complaints_notice_on_surprise.csv", 3, "notice_days"),
    ("read_complaints", "complaints_empty_intensity.csv", 4, "intensity"),
    ("read_fee_change", "fee_change_no_change.csv", 2, "monthly_fee"),
    ("read_fee_change", "fee_change_churned_above_active.csv", 4, "churned"),
    ("read_fee_change", "fee_change_month_skipped.csv", 5, "month"),
    ("read_fee_change", "fee_change_fee_falls.csv", 4, "monthly_fee"),
]


@pytest.mark.parametrize(("reader", "name", "row", "column"), BAD_FILES, ids=[b[1] for b in BAD_FILES])
def test_bad_history_files_give_one_line_errors(reader: str, name: str, row: int, column: str) -> None:
    path = FIXTURES / name
    with pytest.raises(InputError) as caught:
        getattr(cal, reader)(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: row {row}, column {column!r}: "), message


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere\.csv: file not found$"):
        cal.read_retention(tmp_path / "nowhere.csv")


def test_calibrate_needs_a_history_and_a_known_segment() -> None:
    base = simlib.load(SCENARIOS / "baseline.yaml")
    with pytest.raises(InputError, match="at least one history"):
        cal.calibrate(base)
    with pytest.raises(InputError, match="unknown segment 'premium'; the base has light, standard, heavy"):
        cal.calibrate(base, retention=HISTORY / "retention.csv", segment="premium")


# --------------------------------------------------------------------------- the calibration and its fragment


@pytest.fixture(scope="module")
def calibration() -> cal.Calibration:
    return cal.calibrate(
        simlib.load(SCENARIOS / "baseline.yaml"),
        retention=HISTORY / "retention.csv",
        complaints=HISTORY / "complaints.csv",
        fee_change=HISTORY / "fee_change.csv",
    )


def test_calibrate_recovers_every_true_value_from_the_shipped_histories(calibration: cal.Calibration) -> None:
    """End to end: the fee-change fit uses the churn and complaint parameters fitted from the other
    two files (as calibrate does), so its standard errors are conditional on those estimates."""
    summary = calibration.summary.set_index("parameter")
    truths = {
        "population.segments[standard].churn_alpha": TRUE_ALPHA,
        "population.segments[standard].churn_beta": TRUE_BETA,
        **{f"behaviour.{cal.CAUSES[c]}": r for c, r in TRUE_RATES.items()},
        "behaviour.price_sensitivity": TRUE_PRICE_SENSITIVITY,
        "behaviour.loss_aversion": TRUE_LOSS_AVERSION,
    }
    assert list(summary.index) == list(truths)
    for parameter, truth in truths.items():
        row = summary.loc[parameter]
        assert abs(row.estimate - truth) < 3 * row.std_error, parameter
        assert row.ci_95_low < row.estimate < row.ci_95_high
        assert row.std_error < 0.5 * row.estimate, parameter  # informative, not a pass by vagueness
    assert summary.loc["behaviour.loss_aversion", "unit"] == "ratio"
    assert summary.loc["population.segments[standard].churn_alpha", "n"] == 7500
    fee = calibration.fee_change
    # A bigger spike can come from either parameter: they trade off (the docstring's ridge).
    assert fee.covariance[0, 1] / np.sqrt(fee.covariance[0, 0] * fee.covariance[1, 1]) < -0.3
    history = fee.history
    observed = history.churned / history.active
    spike = history.change  # the fitted curve follows the spike within its noise
    assert abs(fee.churn[spike] - observed[spike]) < 4 * np.sqrt(observed[spike] / history.active[spike])


def test_plot_draws_fitted_against_observed_for_each_history(calibration: cal.Calibration) -> None:
    axes = calibration.plot()
    assert len(axes) == 3
    assert all(len(ax.lines) >= 2 for ax in axes)
    retention = calibration.retention
    fitted_line = axes[0].lines[-1]
    assert np.allclose(fitted_line.get_ydata(), retention.survival(fitted_line.get_xdata()))
    with pytest.raises(InputError, match=r"plot needs 3 Axes, one per fitted history \(got 1\)"):
        calibration.plot(axes[0])


def test_a_base_without_a_file_has_nothing_to_extend() -> None:
    fit = cal.calibrate(simlib.from_dict({"name": "inline"}), complaints=HISTORY / "complaints.csv")
    assert fit.summary.parameter.str.startswith("behaviour.").all()
    with pytest.raises(InputError, match="not loaded from a file"):
        fit.to_yaml()


def _moments(distribution: object) -> tuple[float, float]:
    """Mean and sd of a scenario distribution, from its quantile function."""
    values = np.asarray(distribution.quantile((np.arange(4000) + 0.5) / 4000))
    return float(values.mean()), float(values.std())


def test_the_fragment_loads_next_to_the_base_with_the_fitted_distributions(
    calibration: cal.Calibration, tmp_path: Path
) -> None:
    shutil.copy(SCENARIOS / "baseline.yaml", tmp_path / "baseline.yaml")
    path = calibration.save(tmp_path / "calibrated.yaml")
    text = path.read_text()
    assert 'extends: "baseline.yaml"' in text
    comments = [line.strip() for line in text.splitlines() if line.strip().startswith("# ")]
    assert (
        sum("retention.csv" in c for c in comments) == 2 and sum("fee_change.csv" in c for c in comments) == 2
    )
    loaded = simlib.load(path)
    base = simlib.load(SCENARIOS / "baseline.yaml")
    standard = next(s for s in loaded.population.segments if s.name == "standard")
    light = next(s for s in loaded.population.segments if s.name == "light")
    assert light == base.population.segments[0]  # the other segments as in the base
    assert loaded.behaviour.reference_sensitivity == base.behaviour.reference_sensitivity
    blocks = {key: (block, k) for block in loaded.joint_uncertainty for k, key in enumerate(block.parameters)}
    assert [b.distribution for b in loaded.joint_uncertainty] == ["multivariate_lognormal"] * 2
    for estimate in calibration.estimates:
        name = estimate.parameter.rsplit(".", 1)[-1]
        value = getattr(standard if estimate.parameter.startswith("population") else loaded.behaviour, name)
        if estimate.parameter in blocks:
            # Fitted together: stated as the estimate and drawn from the joint block, a log-normal
            # with median = estimate and sd of the logarithm = SE / estimate (the delta method).
            block, k = blocks[estimate.parameter]
            assert value == pytest.approx(estimate.estimate, rel=1e-9), name
            assert block.median[k] == pytest.approx(estimate.estimate, rel=1e-9), name
            sd_log = np.sqrt(block.log_covariance[k][k])
            assert sd_log == pytest.approx(estimate.std_error / estimate.estimate, rel=1e-6), name
            continue
        # Fitted alone on their own scale (the complaint rates): normals, also where the base gives
        # another family.
        assert value.distribution == "normal", name
        mean, sd = _moments(value)
        assert mean == pytest.approx(estimate.estimate, rel=1e-3, abs=0.05 * estimate.std_error), name
        assert sd == pytest.approx(estimate.std_error, rel=0.05), name
        assert (value.mean, value.sd, value.low) == (
            pytest.approx(estimate.estimate, rel=1e-5),
            pytest.approx(estimate.std_error, rel=1e-5),
            0,
        )
    assert sorted(blocks) == sorted(
        e.parameter for e in calibration.estimates if "complaint" not in e.parameter
    )
    assert loaded.behaviour.error_complaint_rate.high == 1
    assert loaded.behaviour.surprise_complaint_rate.high is None  # the base's uniform high is not inherited
    for replication in range(5):
        loaded.realise(replication)  # every draw validates
    with pytest.raises(FileExistsError):
        calibration.save(path)
    assert path.read_text() == text


@pytest.mark.parametrize(
    "given",
    [
        "0.04",
        "{distribution: uniform, low: 0.02, high: 0.06}",
        "{distribution: triangular, low: 0.02, mode: 0.04, high: 0.06}",
        "{distribution: lognormal, median: 0.04, sd_log: 0.3}",
        "{distribution: beta, a: 2, b: 2, low: 0.02, high: 0.06}",
        "{distribution: normal, mean: 0.04, sd: 0.01, low: 0, high: 0.05}",
    ],
)
def test_the_fragment_replaces_whatever_the_base_gives(given: str, tmp_path: Path) -> None:
    base_path = tmp_path / "base.yaml"
    base_path.write_text(f"name: base\nbehaviour:\n  surprise_complaint_rate: {given}\n")
    fit = cal.calibrate(simlib.load(base_path), complaints=HISTORY / "complaints.csv")
    loaded = simlib.load(fit.save(tmp_path / "calibrated.yaml"))
    estimate = next(e for e in fit.estimates if e.parameter == "behaviour.surprise_complaint_rate")
    assert loaded.behaviour.surprise_complaint_rate.distribution == "normal"
    mean, sd = _moments(loaded.behaviour.surprise_complaint_rate)
    assert mean == pytest.approx(estimate.estimate, rel=1e-3)
    assert sd == pytest.approx(estimate.std_error, rel=0.05)


# --------------------------------------------------------------------------- the notebook


def test_calibrate_notebook_runs_on_the_shipped_histories(tmp_path: Path) -> None:
    shutil.copy(SCENARIOS / "baseline.yaml", tmp_path / "baseline.yaml")
    executed = run_notebook(
        "calibrate.ipynb", tmp_path / "executed.ipynb", output=str(tmp_path / "calibrated.yaml")
    )
    images = notebook_runs.images(executed)
    assert images
    assert "extends" in (tmp_path / "calibrated.yaml").read_text()


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    for file_name, text in histories().items():
        (folder / file_name).write_text(text)
        print(f"wrote {folder / file_name}")
