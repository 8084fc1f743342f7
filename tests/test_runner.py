"""Validation of the runner: paired comparisons, monotone policy effects, adjustment rules, and
parameter uncertainty paired across scenarios.

Statistical assertions are about paired per-replication differences d_r (reform − baseline on the
same customers and draws); their Monte Carlo standard error is sd(d)/√R, and "does not lower X in
expectation" is asserted as mean(d) ≥ −Z·SE with Z = 4. Seeds are fixed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from montecarlo import Z

import simlib
from simlib.model.counts import INDEX
from simlib.model.fees import to_cents
from simlib.model.schedule import RuleAction
from simlib.run.runner import implied_actions, next_actions

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
UNCERTAIN = {
    "behaviour.loss_aversion": {"distribution": "uniform", "low": 1.5, "high": 3.0},
    "population.arrivals.monthly_rate": {
        "distribution": "triangular",
        "low": 0.01,
        "mode": 0.03,
        "high": 0.06,
    },
    "population.segments.light.churn_beta": {"distribution": "lognormal", "median": 30, "sd_log": 0.3},
}


def baseline() -> simlib.Scenario:
    return simlib.load(BASELINE)


def compare(base: simlib.Scenario, reform: simlib.Scenario, **kwargs) -> simlib.Comparison:
    settings = {"customers": 3000, "months": 12, "replications": 8, "seed": 2024, "progress": False}
    settings.update(kwargs)
    return simlib.compare(base, reform, **settings)


def simulate(scenario: simlib.Scenario, **kwargs) -> simlib.SimulationResult:
    settings = {"customers": 3000, "months": 12, "replications": 2, "seed": 2024, "progress": False}
    settings.update(kwargs)
    return simlib.simulate(scenario, **settings)


def paired(comparison: simlib.Comparison, metric: str) -> tuple[float, float]:
    """Mean paired difference of a summary metric and its Monte Carlo standard error."""
    d = comparison.differences()[metric].to_numpy()
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))


# --------------------------------------------------------------------------- pairing


def test_scenario_compared_with_itself_differs_by_exactly_nothing() -> None:
    scenario = baseline().with_changes({**UNCERTAIN, "fees.penalty_fee": 8, "audits.every_months": 4})
    comparison = compare(scenario, scenario, replications=3)
    assert np.array_equal(comparison.baseline.counts, comparison.reform.counts)
    differences = comparison.differences()
    assert differences.shape[0] == 3
    values = differences.to_numpy(dtype=float)
    assert np.all(values == 0.0), differences.columns[(values != 0).any(axis=0)].tolist()
    shares = comparison.winners_losers()
    assert (shares["winners_share"] == 0).all()
    assert (shares["losers_share"] == 0).all()
    assert (shares["customers_compared"] > 0).all()
    summary = comparison.summary()
    assert summary.loc[["winners_share", "losers_share"], "reform_mean"].eq(0).all()
    for column in ("difference_mean", "difference_low", "difference_high"):
        assert summary[column].dropna().eq(0).all(), column


def test_paired_run_reproduces_standalone_runs() -> None:
    """The baseline of a comparison is the baseline run on its own: pairing comes from shared draws,
    not from anything the comparison does to the baseline. (The reform need not be its standalone
    run: its warm-up may run under the baseline's policy, so both runs start month 0 alike.) Each
    replication of either run is the same whatever the number of replications."""
    base = baseline().with_changes({"fees.penalty_fee": 10})
    reform = base.with_changes({"fees.monthly_fee": 27})
    comparison = compare(base, reform, replications=2)
    assert np.array_equal(comparison.baseline.counts, simulate(base).counts)
    more = compare(base, reform, replications=3)
    assert np.array_equal(more.baseline.counts[:2], comparison.baseline.counts)
    assert np.array_equal(more.reform.counts[:2], comparison.reform.counts)
    assert np.array_equal(more.winners_losers_counts[:2], comparison.winners_losers_counts)


@pytest.mark.parametrize(
    "warm_up",
    [
        0,
        2,
    ],
)
def test_a_reform_switch_at_month_zero_is_experienced_consistently(warm_up: int) -> None:
    """In a comparison, a reform that raises the subscription by 40% replaces the baseline's fees at
    month 0: every existing customer experiences the rise (no legal minimum notice: none given), and
    since it is far beyond the reference-price tolerance, the attentive ones feel it as a loss and
    some leave over it — with or without a warm-up."""
    base = baseline().with_changes({"simulation.warm_up_months": warm_up})
    comparison = compare(base, base.with_changes({"fees.monthly_fee": 35.0}), months=3, replications=1)
    month0 = comparison.reform.counts[0, 0].sum(axis=0)
    experienced = month0[INDEX["fee_increases_experienced"]]
    existing = month0[INDEX["active"]] - month0[INDEX["acquired"]]
    assert experienced == existing > 0
    assert month0[INDEX["fee_change_notices"]] == 0
    assert month0[INDEX["churned_price_rise"]] > 0, experienced


def test_paired_difference_interval_is_far_narrower_than_the_levels() -> None:
    """For a small reform (+4% on the subscription) the 90% interval of the paired difference of net
    revenue must be far narrower than the intervals of the two levels. Were the two runs independent,
    the difference interval would be about √2 times as wide as a level's; at most half as wide means
    pairing removes more than seven eighths of the variance an unpaired difference would have."""
    base = baseline()
    reform = base.with_changes({"fees.monthly_fee": 26.0})
    comparison = compare(base, reform, customers=2000, replications=20)
    row = comparison.summary().loc["net_revenue"]
    difference = row["difference_high"] - row["difference_low"]
    levels = min(row["baseline_high"] - row["baseline_low"], row["reform_high"] - row["reform_low"])
    assert 0 < difference < 0.5 * levels
    # The reform's effect itself is resolved: its interval excludes zero.
    assert row["difference_low"] > 0


def test_reform_changes_nothing_before_it_takes_effect() -> None:
    """Draws are keyed by customer and month, so a fee change in month 5 leaves months 0–4 of the
    paired run identical, count for count."""
    base = baseline()
    reform = base.with_changes({"fee_changes": [{"month": 5, "notice_days": 30, "set": {"monthly_fee": 28}}]})
    comparison = compare(base, reform, replications=2)
    assert np.array_equal(comparison.baseline.counts[:, :5], comparison.reform.counts[:, :5])
    assert not np.array_equal(comparison.baseline.counts[:, 5], comparison.reform.counts[:, 5])


@pytest.mark.parametrize(
    ("fee", "winners", "losers"), [(20.0, 1.0, 0.0), (30.0, 0.0, 1.0), (26.0, 0.0, 0.0), (24.0, 0.0, 0.0)]
)
def test_winners_and_losers_of_a_flat_fee_change(fee: float, winners: float, losers: float) -> None:
    """Flat subscription, no usage charges, no overcharges or penalties: every initial customer pays
    exactly the monthly fee, so a change by more than 5% makes everyone a winner (or loser) and a
    change by 4% nobody. Without a warm-up every initial customer is active in month 0 of both runs,
    so all of them are compared."""
    base = baseline().with_changes(
        {
            "fees.usage_tiers": [{"unit_price": 0.0}],
            "billing.error_rate": 0.0,
            "fees.penalty_fee": 0.0,
            "simulation.warm_up_months": 0,
        }
    )
    comparison = compare(base, base.with_changes({"fees.monthly_fee": fee}), customers=1500, replications=2)
    table = comparison.winners_losers()
    assert table.loc["all segments", "customers_compared"] == 1500
    assert table["winners_share"].tolist() == [winners] * 4
    assert table["losers_share"].tolist() == [losers] * 4


# --------------------------------------------------------------------------- monotone effects


@pytest.mark.parametrize(("low", "high"), [(25.0, 27.0), (27.0, 32.0)])
def test_higher_monthly_fee_does_not_lower_churn(low: float, high: float) -> None:
    """Churn as a rate (per customer-month): a higher fee also deters arrivals, so the *number*
    churned can fall with a smaller base even when every customer is more likely to leave."""
    base = baseline().with_changes({"fees.monthly_fee": low})
    comparison = compare(base, base.with_changes({"fees.monthly_fee": high}))
    mean, se = paired(comparison, "monthly_churn_rate")
    assert mean >= -Z * se, (mean, se)
    price_churn, price_se = paired(comparison, "churned_price")
    assert price_churn >= -Z * price_se, (price_churn, price_se)


def test_cheaper_offer_adds_arrivals_without_removing_any() -> None:
    """A seat brings a newcomer iff its draw falls below the arrival probability, so a lower
    headline price (higher probability) only adds newcomers: month by month and segment by segment,
    the cheaper run acquires at least as many customers as the dearer one, exactly."""
    base = baseline()
    comparison = compare(base, base.with_changes({"fees.monthly_fee": 22.0}), replications=2)
    dear = comparison.baseline.counts[..., INDEX["acquired"]]
    cheap = comparison.reform.counts[..., INDEX["acquired"]]
    assert np.all(cheap >= dear)
    assert cheap.sum() > dear.sum()


@pytest.mark.parametrize(
    "change",
    [
        {"transparency.itemised_bills": True},
        {"transparency.pre_deduction_notice_days": 3},
        {"transparency.self_service_portal": True, "transparency.contract_clarity": 1.0},
    ],
    ids=["itemised", "notice", "portal_and_clarity"],
)
def test_more_transparency_does_not_raise_surprise_complaints(change: dict) -> None:
    base = baseline()
    comparison = compare(base, base.with_changes(change))
    mean, se = paired(comparison, "complaints_surprise")
    assert mean <= Z * se, (mean, se)
    # Each lever removes a fixed share of perceived surprise, so the effect is real, not just absent.
    assert mean < -Z * se, (mean, se)


def test_more_frequent_audits_do_not_raise_never_found_errors() -> None:
    base = baseline().with_changes({"audits.every_months": 12})
    comparison = compare(base, base.with_changes({"audits.every_months": 3}))
    mean, se = paired(comparison, "billing_errors_never_found")
    assert mean <= Z * se, (mean, se)
    assert mean < -Z * se, (mean, se)
    found, found_se = paired(comparison, "billing_errors_found_by_audit")
    assert found >= -Z * found_se


# --------------------------------------------------------------------------- adjustment rules


def _rule(**fields) -> dict:
    rule = {
        "name": "halve penalty",
        "metric": "complaints_per_1000",
        "above": -1.0,
        "for_months": 2,
        "parameter": "fees.penalty_fee",
        "change_percent": -50,
        "max_times": 1,
    }
    rule.update(fields)
    return rule


def _penalised() -> simlib.Scenario:
    return baseline().with_changes({"fees.penalty_fee": 12})


def test_rule_with_threshold_always_exceeded_acts() -> None:
    without = simulate(_penalised())
    with_rule = simulate(_penalised().with_changes({"adjustment_rules": [_rule()]}))
    # The metric (≥ 0) is above −1 in every month: after 2 months the rule acts, from month 2 on.
    expected = {"rule": "halve penalty", "month": 2, "parameter": "fees.penalty_fee", "factor": 0.5}
    assert with_rule.info.rule_actions == [[expected], [expected]]
    assert without.info.rule_actions == [[], []]
    # Before the action month both runs are the same run.
    assert np.array_equal(with_rule.counts[:, :2], without.counts[:, :2])
    # From the action month on each failed payment costs €6 instead of €12 ...
    penalty = with_rule.counts[..., INDEX["revenue_penalty_cents"]]
    failed = with_rule.counts[..., INDEX["failed_payments"]]
    np.testing.assert_array_equal(penalty[:, :2], 1200 * failed[:, :2])
    np.testing.assert_array_equal(penalty[:, 2:], 600 * failed[:, 2:])
    # ... so penalty revenue after the action falls against the same scenario without the rule.
    after_with = penalty[:, 2:].sum(axis=(1, 2))
    after_without = without.counts[:, 2:, :, INDEX["revenue_penalty_cents"]].sum(axis=(1, 2))
    assert np.all(after_with < after_without)


def test_rule_acts_as_often_as_allowed() -> None:
    rule = _rule(max_times=3)
    result = simulate(_penalised().with_changes({"adjustment_rules": [rule]}), replications=1)
    # The streak restarts after each action: acts at the end of months 1, 3, 5.
    assert [a["month"] for a in result.info.rule_actions[0]] == [2, 4, 6]
    penalty = result.counts[0, ..., INDEX["revenue_penalty_cents"]].sum(axis=1)
    failed = result.counts[0, ..., INDEX["failed_payments"]].sum(axis=1)
    fee = np.array([to_cents(12 * 0.5 ** np.searchsorted([2, 4, 6], m, side="right")) for m in range(12)])
    np.testing.assert_array_equal(penalty, fee * failed)


def test_rule_with_unreachable_threshold_never_acts() -> None:
    without = simulate(_penalised())
    never = simulate(_penalised().with_changes({"adjustment_rules": [_rule(above=1e9)]}))
    assert never.info.rule_actions == [[], []]
    assert np.array_equal(never.counts, without.counts)


def test_rule_in_the_reform_only() -> None:
    base = _penalised()
    reform = base.with_changes({"adjustment_rules": [_rule()]})
    comparison = compare(base, reform, replications=2)
    assert comparison.baseline.info.rule_actions == [[], []]
    assert all(len(actions) == 1 for actions in comparison.reform.info.rule_actions)
    assert np.array_equal(comparison.reform.counts, simulate(reform).counts)
    assert np.array_equal(comparison.baseline.counts, simulate(base).counts)


def _monthly_rate(counts: np.ndarray, metric: str, per: float) -> np.ndarray:
    """(replication, month) population rate of a counted metric per ``per`` active customers."""
    total = counts.sum(axis=2)
    return total[..., INDEX[metric]] / total[..., INDEX["active"]] * per


def test_reported_run_is_a_fixed_point_of_its_rules() -> None:
    """Two interacting rules that react to the run they change (a fee rise raises churn, which
    triggers further rises; a penalty cut changes complaints): the reported run must imply exactly
    the actions it was run with, in every replication, for baseline and reform alike. Thresholds are
    the median of each metric in the run without rules, so both rules are bound to act."""
    plain = simulate(_penalised(), replications=3, seed=3).counts
    rules = [
        _rule(
            name="raise",
            metric="monthly_churn_percent",
            above=float(np.median(_monthly_rate(plain, "churned", 100.0))),
            for_months=1,
            parameter="fees.monthly_fee",
            change_percent=15,
            max_times=3,
        ),
        _rule(
            name="cut",
            above=float(np.median(_monthly_rate(plain, "complaints", 1000.0))),
            for_months=1,
            max_times=2,
        ),
    ]
    base = _penalised().with_changes({"adjustment_rules": rules})
    reform = base.with_changes({"fees.monthly_fee": 28})
    comparison = compare(base, reform, replications=3, seed=3)
    acting = set()
    for result, scenario in ((comparison.baseline, base), (comparison.reform, reform)):
        for r, reported in enumerate(result.info.rule_actions):
            actions = tuple(RuleAction(**action) for action in reported)
            assert actions == implied_actions(scenario.adjustment_rules, result.counts[r])
            acting |= {a.rule for a in actions}
            # A rise by a rule is a fee-change event (from month 1 on): existing customers see
            # their bill go up in the action month and in no other month.
            rises = sorted({a.month for a in actions if a.rule == "raise"})
            increases = result.counts[r, :, :, INDEX["fee_increases_experienced"]].sum(axis=1)
            assert np.all(increases[rises] > 0)
            assert increases[[m for m in range(1, len(increases)) if m not in rises]].sum() == 0
    assert acting == {"raise", "cut"}
    # The baseline's first action is where the run without rules first exceeds the threshold.
    churn = _monthly_rate(plain, "churned", 100.0)
    for r, reported in enumerate(comparison.baseline.info.rule_actions):
        first = min(a["month"] for a in reported if a["rule"] == "raise")
        assert first == 1 + int(np.argmax(churn[r, :-1] > rules[0]["above"]))


def test_run_settings_are_validated() -> None:
    scenario = baseline().with_changes(
        {"fee_changes": [{"month": 10, "notice_days": 30, "set": {"monthly_fee": 28}}]}
    )
    for bad in ({"customers": 0}, {"replications": 0}, {"months": 0}, {"seed": -1}, {"chunk_size": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            simlib.simulate(scenario, progress=False, **{"customers": 10, "months": 12, **bad})
    with pytest.raises(ValueError, match="horizon"):
        simlib.simulate(scenario, customers=10, months=10, replications=1, progress=False)


def test_implied_and_next_actions() -> None:
    months = 8
    counts = np.zeros((months, 1, len(INDEX)))
    counts[:, 0, INDEX["active"]] = 1000
    counts[:, 0, INDEX["complaints"]] = [1, 6, 7, 8, 1, 9, 9, 9]  # per 1,000
    rule = simlib.model.parameters.AdjustmentRule(name="r", above=5, for_months=2, max_times=2)
    actions = implied_actions([rule], counts)
    # Above 5 in months 1, 2 → acts from month 3; streak restarts, months 5, 6 → acts from month 7.
    assert [a.month for a in actions] == [3, 7]
    assert all(a.factor == 0.5 for a in actions)
    # The last month's metric cannot trigger an action (it would fall beyond the horizon).
    counts[:, 0, INDEX["complaints"]] = [0, 0, 0, 0, 0, 0, 9, 9]
    assert implied_actions([rule], counts) == ()
    # Iteration keeps agreed actions and adopts the implied one at the first disagreement.
    current = (RuleAction("r", 3, "fees.penalty_fee", 0.5), RuleAction("r", 5, "fees.penalty_fee", 0.5))
    implied = (RuleAction("r", 3, "fees.penalty_fee", 0.5), RuleAction("r", 6, "fees.penalty_fee", 0.5))
    assert next_actions(current, implied) == implied[:1]
    assert next_actions(implied, implied) == implied


# --------------------------------------------------------------------------- parameter uncertainty


def test_uncertain_parameters_vary_across_replications_but_are_paired() -> None:
    base = baseline().with_changes(UNCERTAIN)
    reform = base.with_changes({"fees.monthly_fee": 27, "transparency.itemised_bills": True})
    reps, seed = 4, 77
    paths = [
        ("behaviour", "loss_aversion"),
        ("population", "arrivals", "monthly_rate"),
    ]

    def value(model, path):
        for part in path:
            model = getattr(model, part)
        return float(model)

    for path in paths:
        drawn = [value(base.realise(r, seed), path) for r in range(reps)]
        assert len(set(drawn)) == reps, path  # changes across replications
        assert drawn == [value(reform.realise(r, seed), path) for r in range(reps)], path  # paired
    light = [base.realise(r, seed).population.segments[0].churn_beta for r in range(reps)]
    assert light == [reform.realise(r, seed).population.segments[0].churn_beta for r in range(reps)]
    assert len(set(light)) == reps
    # A realised value depends on the seed, like every other draw.
    assert base.realise(0, seed).behaviour.loss_aversion != base.realise(0, seed + 1).behaviour.loss_aversion

    # The runs use the realised values: replication r of the uncertain comparison is replication r
    # of the comparison with the parameters fixed at their draws for r (in both scenarios).
    settings = {"customers": 1500, "months": 6, "seed": seed, "progress": False}
    comparison = simlib.compare(base, reform, replications=reps, **settings)
    for r in range(reps):
        fixed = {
            "behaviour.loss_aversion": value(base.realise(r, seed), paths[0]),
            "population.arrivals.monthly_rate": value(base.realise(r, seed), paths[1]),
            "population.segments.light.churn_beta": light[r],
        }
        pinned = simlib.compare(
            base.with_changes(fixed), reform.with_changes(fixed), replications=r + 1, **settings
        )
        assert np.array_equal(pinned.baseline.counts[r], comparison.baseline.counts[r]), r
        assert np.array_equal(pinned.reform.counts[r], comparison.reform.counts[r]), r
