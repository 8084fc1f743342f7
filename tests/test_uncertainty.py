"""Jointly uncertain parameters (``joint_uncertainty``): validation, draws, display, and the
calibrated fragment's band on mean churn against the delta method."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import simlib
from simlib.analysis import calibrate as cal
from simlib.errors import ScenarioError
from simlib.scenario.describe import diff
from simlib.scenario.scenario import json_schema
from simlib.scenario.uncertainty import PRINCIPAL_RANGE, joint_values, principal_direction

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
HISTORY = SCENARIOS / "history"
ALPHA = '"population.segments[standard].churn_alpha"'
BETA = '"population.segments[standard].churn_beta"'
Z_90 = stats.norm.ppf(0.95)


def _scenario(tmp_path: Path, text: str, name: str = "joint.yaml") -> Path:
    shutil.copy(SCENARIOS / "baseline.yaml", tmp_path / "baseline.yaml")
    path = tmp_path / name
    path.write_text("extends: baseline.yaml\n" + text)
    return path


FEE_BLOCK = """behaviour:
  price_sensitivity: 1.0
  loss_aversion: 2.0
joint_uncertainty:
  - name: fee response
    parameters: [behaviour.price_sensitivity, behaviour.loss_aversion]
    distribution: multivariate_normal
    mean: [1.0, 2.0]
    covariance: [[0.01, -0.008], [-0.008, 0.016]]
"""


# --------------------------------------------------------------------------- draws


def test_a_multivariate_normal_block_draws_its_mean_and_covariance(tmp_path: Path) -> None:
    scenario = simlib.load(_scenario(tmp_path, FEE_BLOCK))
    draws = np.array(
        [
            (m.behaviour.price_sensitivity, m.behaviour.loss_aversion)
            for m in (scenario.realise(r) for r in range(3000))
        ]
    )
    mean, covariance = np.array([1.0, 2.0]), np.array([[0.01, -0.008], [-0.008, 0.016]])
    sd = np.sqrt(np.diag(covariance))
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 4 * sd / np.sqrt(len(draws)))
    # sample variance: SE σ²·√(2/n); correlation: SE (1 − ρ²)/√n
    assert np.allclose(draws.var(axis=0, ddof=1), np.diag(covariance), rtol=4 * np.sqrt(2 / len(draws)))
    rho, sample_rho = -0.008 / np.prod(sd), np.corrcoef(draws.T)[0, 1]
    assert abs(sample_rho - rho) < 4 * (1 - rho**2) / np.sqrt(len(draws))


def test_an_empirical_block_draws_whole_rows_equally_often(tmp_path: Path) -> None:
    text = (
        "behaviour:\n  price_sensitivity: 1.0\n  loss_aversion: 2.0\njoint_uncertainty:\n"
        "  - parameters: [behaviour.price_sensitivity, behaviour.loss_aversion]\n"
        "    distribution: empirical\n    draws: [[0.4, 2.5], [0.8, 2.0], [1.2, 1.5]]\n"
    )
    scenario = simlib.load(_scenario(tmp_path, text))
    rows = [
        (m.behaviour.price_sensitivity, m.behaviour.loss_aversion) for m in map(scenario.realise, range(1500))
    ]
    assert set(rows) == {(0.4, 2.5), (0.8, 2.0), (1.2, 1.5)}  # rows are never mixed
    counts = [rows.count(row) for row in ((0.4, 2.5), (0.8, 2.0), (1.2, 1.5))]
    assert stats.chisquare(counts).pvalue > 0.001


def test_draws_are_a_pure_function_of_seed_replication_and_key_paths(tmp_path: Path) -> None:
    base = simlib.load(_scenario(tmp_path, FEE_BLOCK))
    # A reform with another block listed first draws the same fee response: pairing survives.
    reform = simlib.load(
        _scenario(
            tmp_path,
            FEE_BLOCK.replace(
                "joint_uncertainty:\n",
                "joint_uncertainty:\n  - parameters: [behaviour.reference_sensitivity]\n"
                "    distribution: empirical\n    draws: [[0.2], [0.4]]\n",
            ).replace("behaviour:\n", "behaviour:\n  reference_sensitivity: 0.3\n"),
            "reform.yaml",
        )
    )
    for replication in range(5):
        first, again, paired = (
            base.realise(replication),
            base.realise(replication),
            reform.realise(replication),
        )
        assert first == again
        assert first.behaviour.loss_aversion == paired.behaviour.loss_aversion
        assert first.behaviour.price_sensitivity == paired.behaviour.price_sensitivity
        assert first.joint_uncertainty == ()
    assert base.realise(0, seed=1).behaviour.loss_aversion != base.realise(0, seed=2).behaviour.loss_aversion
    assert joint_values(base.model, 7, 3) == joint_values(base.model, 7, 3)


# --------------------------------------------------------------------------- validation

A_AND_B = f"parameters: [{ALPHA}, {BETA}]"
BAD_BLOCKS = [
    (
        "parameters: [behaviour.loss_avers]\n    distribution: empirical\n    draws: [[1]]",
        "joint_uncertainty[0].parameters[0]",
        "did you mean behaviour.loss_aversion",
    ),
    (
        'parameters: ["population.segments[premium].churn_alpha"]\n'
        "    distribution: empirical\n    draws: [[1]]",
        "joint_uncertainty[0].parameters[0]",
        "no item 'premium' in population.segments",
    ),
    (
        "parameters: [fees.monthly_fee]\n    distribution: empirical\n    draws: [[1]]",
        "joint_uncertainty[0].parameters[0]",
        "takes a fixed value",
    ),
    (
        "parameters: [behaviour.loss_aversion]\n    distribution: empirical\n    draws: [[1]]",
        "joint_uncertainty[0].parameters[0]",
        "also given its own distribution (triangular",
    ),
    (
        f'parameters: [{ALPHA}, "population.segments[1].churn_alpha"]\n    distribution: empirical\n'
        "    draws: [[1, 1]]",
        "joint_uncertainty[0].parameters[1]",
        "is drawn in joint_uncertainty[0]",
    ),
    (
        f"{A_AND_B}\n    distribution: multivariate_lognormal\n    median: [1, 40]\n"
        "    log_covariance: [[0.01, 0.02], [0.02, 0.01]]",
        "joint_uncertainty[0].log_covariance",
        "not positive semi-definite",
    ),
    (
        f"{A_AND_B}\n    distribution: multivariate_lognormal\n    median: [1, 40]\n"
        "    log_covariance: [[0.01, 0.002], [0.001, 0.01]]",
        "joint_uncertainty[0].log_covariance",
        "symmetric",
    ),
    (
        f"{A_AND_B}\n    distribution: multivariate_normal\n    mean: [1]\n"
        "    covariance: [[0.01, 0], [0, 0.01]]",
        "joint_uncertainty[0].mean",
        "has 1 value(s) but there are 2 parameters",
    ),
    (
        f"{A_AND_B}\n    distribution: multivariate_normal\n    mean: [1, 40]\n"
        "    covariance: [[0.04, 0], [0, 4]]",
        "joint_uncertainty[0]",
        "can draw population.segments[standard].churn_alpha = -0.6419 but the value must be > 0",
    ),
    (
        f"parameters: [{ALPHA}]\n    distribution: empirical\n    draws: [[1], [-1]]",
        "joint_uncertainty[0]",
        "can draw population.segments[standard].churn_alpha = -1",
    ),
    (
        "parameters: [complaint_handling.resolution_rate]\n    distribution: multivariate_lognormal\n"
        "    median: [0.7]\n    log_covariance: [[0.01]]",
        "joint_uncertainty[0]",
        "must be ≤ 1",
    ),
    (
        f"parameters: [{ALPHA}]\n    distribution: empirical\n    draws: [[true]]",
        "joint_uncertainty[0]",
        "not true/false",
    ),
    (
        f"parameters: [{ALPHA}]\n    distribution: empirical\n    draws: [[.nan]]",
        "joint_uncertainty[0]",
        "finite",
    ),
    (
        f"parameters: [{ALPHA}]\n    distribution: multinormal\n    draws: [[1]]",
        "joint_uncertainty[0]",
        "unknown joint distribution; use multivariate_normal",
    ),
    (
        f"{A_AND_B}\n    distribution: empirical\n    draws: [[1, 30], [2]]",
        "joint_uncertainty[0].draws",
        "row 2 has 1 value(s)",
    ),
]


@pytest.mark.parametrize(("block", "path", "words"), BAD_BLOCKS, ids=[b[2][:30] for b in BAD_BLOCKS])
def test_a_bad_block_is_one_line_naming_file_key_path_and_value(
    tmp_path: Path, block: str, path: str, words: str
) -> None:
    file = _scenario(tmp_path, f"joint_uncertainty:\n  - {block}\n")
    with pytest.raises(ScenarioError) as caught:
        simlib.load(file)
    lines = str(caught.value).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{file}: {path}: "), lines[0]
    assert words in lines[0]


def test_a_number_for_a_jointly_drawn_parameter_is_refused_not_ignored(tmp_path: Path) -> None:
    file = _scenario(tmp_path, FEE_BLOCK)
    message = "--set: behaviour.loss_aversion: is drawn jointly in joint_uncertainty[0] (fee response)"
    with pytest.raises(ScenarioError, match=re.escape(message)):
        simlib.load(file, {"behaviour.loss_aversion": 2.5})
    scenario = simlib.load(file)
    with pytest.raises(ScenarioError, match="is drawn jointly"):
        scenario.with_changes({"behaviour.loss_aversion": 2.5})
    fixed = scenario.with_changes({"joint_uncertainty": [], "behaviour.loss_aversion": 2.5})
    assert fixed.realise(0).behaviour.loss_aversion == 2.5


def test_describe_and_diff_show_a_block_on_one_readable_line(tmp_path: Path) -> None:
    scenario = simlib.load(_scenario(tmp_path, FEE_BLOCK))
    shown = {p.path: p for p in scenario.parameters()}
    block = shown["joint_uncertainty[0]"]
    assert block.value == (
        "multivariate_normal(behaviour.price_sensitivity, behaviour.loss_aversion: mean [1, 2], "
        "covariance [[0.01, -0.008], [-0.008, 0.016]]; sd 0.1, 0.1265, correlation -0.63)"
    )
    assert block.label == "fee response" and block.origin == "joint.yaml"
    assert shown["behaviour.loss_aversion"].value == "2 (drawn jointly: joint_uncertainty[0] (fee response))"
    wider = simlib.load(_scenario(tmp_path, FEE_BLOCK.replace("0.016]", "0.0160001]"), "wider.yaml"))
    changed = [(p.path, q.value if q else None) for p, q in diff(scenario, wider)]
    assert [path for path, _ in changed] == ["joint_uncertainty[0]"]  # 12 digits tell them apart
    assert "0.0160001" in changed[0][1]
    schema = json_schema()
    assert "joint_uncertainty" in schema["properties"]
    assert "multivariate_lognormal" in str(schema)


# --------------------------------------------------------------------------- sensitivity's view of a block


def test_the_principal_direction_of_strongly_correlated_estimates_carries_their_variance(
    tmp_path: Path,
) -> None:
    text = (
        "population:\n  segments:\n    - name: standard\n      churn_alpha: 1.2\n      churn_beta: 40\n"
        f"joint_uncertainty:\n  - {A_AND_B}\n    distribution: multivariate_lognormal\n"
        "    median: [1.2, 40]\n    log_covariance: [[0.04, 0.04158], [0.04158, 0.0441]]\n"
    )
    scenario = simlib.load(_scenario(tmp_path, text))
    direction = principal_direction(scenario.model, 0)
    assert direction.explained > 0.99
    low, high = (direction.values(score) for score in PRINCIPAL_RANGE)
    centre = direction.values(0.0)
    assert centre == pytest.approx(
        {"population.segments[1].churn_alpha": 1.2, "population.segments[1].churn_beta": 40.0}
    )
    # Along the direction both move together (+0.99), each over about its own 90% range.
    for path, sd_log in (
        ("population.segments[1].churn_alpha", 0.2),
        ("population.segments[1].churn_beta", 0.21),
    ):
        assert low[path] < centre[path] < high[path]
        assert np.log(high[path] / low[path]) == pytest.approx(2 * Z_90 * sd_log, rel=0.01)


# --------------------------------------------------------------------------- the calibrated fragment


def _mean_churn_band(scenario: simlib.Scenario, replications: int) -> tuple[float, float]:
    """5th and 95th percentiles of the standard segment's mean baseline churn α/(α + β) over
    replications (each replication's parameter draw, as a run uses it)."""
    values = []
    for replication in range(replications):
        segment = scenario.realise(replication).population.segments[1]
        values.append(segment.churn_alpha / (segment.churn_alpha + segment.churn_beta))
    return tuple(np.quantile(values, [0.05, 0.95]))


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[cal.Calibration, Path]:
    folder = tmp_path_factory.mktemp("calibrated")
    shutil.copy(SCENARIOS / "baseline.yaml", folder / "baseline.yaml")
    fit = cal.calibrate(simlib.load(folder / "baseline.yaml"), retention=HISTORY / "retention.csv")
    return fit, fit.save(folder / "calibrated.yaml")


def test_the_band_on_mean_churn_matches_the_delta_method(calibrated: tuple[cal.Calibration, Path]) -> None:
    """The fragment's joint block keeps the +0.99 correlation of α and β, so the 90% band of the
    mean churn α/(α + β) over replications has the width the delta method gives (within 20%); the
    same estimates drawn as independent normals give a band several times too wide."""
    fit, path = calibrated
    retention = fit.retention
    alpha, beta = retention.alpha, retention.beta
    gradient = np.array([1.0, -1.0]) * alpha * beta / (alpha + beta) ** 2  # ∂m/∂(ln α, ln β)
    delta = 2 * Z_90 * np.sqrt(gradient @ retention.log_covariance @ gradient)
    loaded = simlib.load(path)
    assert loaded.population.segments[1].churn_alpha == pytest.approx(alpha)
    assert [b.distribution for b in loaded.joint_uncertainty] == ["multivariate_lognormal"]
    low, high = _mean_churn_band(loaded, 2000)
    assert high - low == pytest.approx(delta, rel=0.2)
    assert low < alpha / (alpha + beta) < high
    alpha_se, beta_se = retention.std_errors
    independent = loaded.with_changes(
        {
            "joint_uncertainty": [],
            "population.segments[standard].churn_alpha": {
                "distribution": "normal",
                "mean": alpha,
                "sd": alpha_se,
                "low": 0,
            },
            "population.segments[standard].churn_beta": {
                "distribution": "normal",
                "mean": beta,
                "sd": beta_se,
                "low": 0,
            },
        }
    )
    low, high = _mean_churn_band(independent, 2000)
    assert high - low > 3 * delta


def test_the_fragment_states_the_correlation_it_carries(calibrated: tuple[cal.Calibration, Path]) -> None:
    fit, path = calibrated
    text = path.read_text()
    assert 'joint_uncertainty:\n  - name: "churn of standard (retention.csv)"' in text
    assert "distribution: multivariate_lognormal" in text
    correlation = fit.retention.covariance[0, 1] / np.prod(fit.retention.std_errors)
    assert f"(correlation churn_alpha–churn_beta {correlation:+.2f})" in text
    assert correlation > 0.95
