"""Sensitivity analysis: SALib's estimators against closed forms, the simulator path, errors, notebook."""

from __future__ import annotations

import json
import math
from pathlib import Path

import notebook_runs
import numpy as np
import pandas as pd
import pytest
from montecarlo import Z
from notebook_runs import run_notebook
from scipy import stats

import simlib
from simlib.analysis import sensitivity
from simlib.analysis.sensitivity import (
    SensitivityResult,
    morris_screening,
    resolve_parameters,
    run_sensitivity,
    salib_problem,
    sobol_indices,
    uncertain_parameters,
)
from simlib.errors import ScenarioError
from simlib.run.executors import InProcessExecutor

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY = {"customers": 600, "months": 6, "replications": 2}
# Itemised bills are off in the baseline and in the penalty-fee reform, so the surprise they would
# remove cannot change anything: its swing and its effects must be exactly zero.
INERT = "transparency.itemised_bill_surprise_reduction"
Z_95 = stats.norm.ppf(0.975)  # SALib's *_conf are this many bootstrap standard errors


# --------------------------------------------------------------------------- generic core


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray, float]:
    """Closed-form first-order, total-order and S13 indices of the Ishigami function on [−π, π]³."""
    v1 = 0.5 * (1 + b * math.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * math.pi**8 * (1 / 18 - 1 / 50)
    total = v1 + v2 + v13
    first = np.array([v1, v2, 0.0]) / total
    total_order = np.array([v1 + v13, v2, v13]) / total
    return first, total_order, v13 / total


ISHIGAMI = salib_problem({f"x{i}": (-math.pi, math.pi) for i in (1, 2, 3)})


def test_ishigami_closed_form_is_the_published_one() -> None:
    first, total, _ = ishigami_indices()
    np.testing.assert_allclose(first, [0.3139, 0.4424, 0.0], atol=5e-5)
    np.testing.assert_allclose(total, [0.5576, 0.4424, 0.2437], atol=5e-5)


def test_sobol_indices_of_ishigami_match_the_closed_form() -> None:
    estimate = sobol_indices(ishigami, ISHIGAMI, n=4096, seed=11)
    table = estimate.tables[0]
    first, total, _ = ishigami_indices()
    assert estimate.samples.shape == (4096 * 5, 3) and estimate.outputs.shape == (4096 * 5, 1)
    # Z bootstrap standard errors (the CI half-widths are Z_95 of them); the CIs must be tight
    # enough for the check to mean something.
    assert (table["S1_conf"] < 0.05).all() and (table["ST_conf"] < 0.05).all()
    np.testing.assert_array_less(np.abs(table["S1"] - first), Z * table["S1_conf"] / Z_95)
    np.testing.assert_array_less(np.abs(table["ST"] - total), Z * table["ST_conf"] / Z_95)


def test_second_order_index_of_ishigami_is_the_x1_x3_interaction() -> None:
    estimate = sobol_indices(ishigami, ISHIGAMI, n=4096, seed=5, second_order=True)
    pairs = estimate.second_order[0]
    _, _, s13 = ishigami_indices()
    expected = pd.Series({("x1", "x2"): 0.0, ("x1", "x3"): s13, ("x2", "x3"): 0.0})
    assert estimate.samples.shape == (4096 * 8, 3)
    errors = (pairs["S2"] - expected).abs()
    np.testing.assert_array_less(errors, Z * pairs["S2_conf"] / Z_95)


@pytest.mark.parametrize(
    "bounds",
    [
        [(-1.0, 3.0)] * 5,  # equal ranges: mu_star orders the inputs by |c|
        [(0.0, 1.0), (2.0, 4.0), (-0.25, 0.25), (10.0, 20.0), (0.0, 3.0)],
    ],
    ids=["equal-ranges", "unequal-ranges"],
)
def test_morris_on_a_linear_function_gives_coefficient_times_range(bounds: list) -> None:
    c = np.array([3.0, -2.0, 1.0, 0.5, 0.0])
    problem = salib_problem({f"x{i}": b for i, b in enumerate(bounds)})
    estimate = morris_screening(
        _linear, problem, trajectories=12, levels=4, seed=3, executor=InProcessExecutor()
    )
    table = estimate.tables[0]
    widths = np.array([high - low for low, high in bounds])
    np.testing.assert_allclose(table["mu_star"], np.abs(c) * widths, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(table["mu"], c * widths, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(table["sigma"], 0.0, atol=1e-9)  # no interactions, no curvature
    if len(set(widths)) == 1:
        assert list(table["mu_star"].sort_values(ascending=False).index) == ["x0", "x1", "x2", "x3", "x4"]


def _linear(row: np.ndarray) -> float:
    return float(np.dot([3.0, -2.0, 1.0, 0.5, 0.0], row))


def test_same_seed_gives_identical_indices_and_another_seed_does_not() -> None:
    first = sobol_indices(ishigami, ISHIGAMI, n=256, seed=4).tables[0]
    again = sobol_indices(ishigami, ISHIGAMI, n=256, seed=4).tables[0]
    other = sobol_indices(ishigami, ISHIGAMI, n=256, seed=5).tables[0]
    pd.testing.assert_frame_equal(first, again, check_exact=True)
    assert not first.equals(other)


def test_a_constant_output_has_zero_indices() -> None:
    estimate = sobol_indices(lambda x: np.full(len(x), 2.5), ISHIGAMI, n=8, seed=0)
    assert (estimate.tables[0] == 0.0).all().all()


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: sobol_indices(ishigami, ISHIGAMI, n=100, seed=0), "power of 2"),
        (lambda: morris_screening(ishigami, ISHIGAMI, trajectories=4, levels=3, seed=0), "even"),
        (lambda: sobol_indices(ishigami, salib_problem({"x": (1.0, 1.0)}), n=8, seed=0), "x: the low"),
        (lambda: sobol_indices(lambda x: x[:5, 0], ISHIGAMI, n=8, seed=0), "returned shape"),
        (lambda: sobol_indices(ishigami, ISHIGAMI, n=8, seed=-1), "seed"),
    ],
    ids=["sobol-n", "morris-levels", "bounds", "vectorised-shape", "seed"],
)
def test_generic_core_rejects_bad_inputs(call, fragment: str) -> None:
    with pytest.raises(simlib.InputError, match=fragment):
        call()


# --------------------------------------------------------------------------- problem definition


def test_uncertain_parameters_are_the_distributions_5th_to_95th_percentiles() -> None:
    scenario = simlib.load(FIXTURES / "uncertain.yaml")
    ranges = uncertain_parameters(scenario)
    expected = {
        "behaviour.loss_aversion": stats.uniform(1.5, 1.5),
        "behaviour.price_sensitivity": stats.triang(0.3 / 0.8, 0.2, 0.8),
        "behaviour.reference_tolerance": stats.truncnorm(-2.0, 4.0, loc=0.1, scale=0.05),
        "behaviour.complaint_churn_effect": stats.lognorm(0.4, scale=0.12),
        "behaviour.grievance_memory": stats.beta(7, 3),
    }
    assert list(ranges) == list(expected)
    for path, dist in expected.items():
        np.testing.assert_allclose(ranges[path], dist.ppf([0.05, 0.95]), rtol=1e-12)


# --------------------------------------------------------------------------- the simulator


@pytest.fixture(scope="module")
def base() -> simlib.Scenario:
    return simlib.load(SCENARIOS / "baseline.yaml")


@pytest.fixture(scope="module")
def reform() -> simlib.Scenario:
    return simlib.load(SCENARIOS / "penalty_fee.yaml")


@pytest.fixture(scope="module")
def morris_run(base: simlib.Scenario, reform: simlib.Scenario) -> SensitivityResult:
    return run_sensitivity(
        base,
        reform,
        parameters={**uncertain_parameters(base), INERT: (0.1, 0.5)},
        outputs=("npv_net_revenue", "complaints_per_1000"),
        method="morris",
        samples=2,
        seed=3,
        progress=False,
        **TINY,
    )


def test_ranked_table_names_behavioural_parameters_with_labels_and_units(
    morris_run: SensitivityResult, base: simlib.Scenario
) -> None:
    table = morris_run.summary("npv_net_revenue")
    assert set(table.index) == {*uncertain_parameters(base), INERT}
    assert table.loc["behaviour.loss_aversion", "unit"] == "ratio"
    assert table.loc["behaviour.price_sensitivity", "label"].startswith("Churn hazard per unit")
    assert (table["output_unit"] == "EUR").all()
    assert list(table["rank"]) == list(range(1, 7))
    assert table["mu_star"].is_monotonic_decreasing
    assert morris_run.summary().index.names == ["output", "parameter"]
    assert morris_run.settings["evaluations"] == len(morris_run.samples) == 2 * (6 + 1) + (2 * 6 + 1)


def test_a_parameter_that_cannot_matter_has_zero_swing_and_zero_effect(morris_run: SensitivityResult) -> None:
    for output in morris_run.outputs:
        row = morris_run.summary(output).loc[INERT]
        assert row["swing"] == 0.0 and row["mu_star"] == 0.0 and row["sigma"] == 0.0
        assert row["output_at_low"] == row["output_at_high"] == morris_run.centre[output]
    # ...while churn sensitivity to price does move the paired NPV difference.
    assert morris_run.summary("npv_net_revenue").loc["behaviour.price_sensitivity", "swing"] > 0.0


def test_centre_point_is_the_paired_comparison_with_parameters_fixed_at_their_medians(
    morris_run: SensitivityResult, base: simlib.Scenario, reform: simlib.Scenario
) -> None:
    centres = {p.path: p.centre for p in morris_run.parameters}
    assert centres["behaviour.loss_aversion"] == pytest.approx(2.25)  # the triangular's median
    assert centres[INERT] == pytest.approx(0.3)  # a given range: its midpoint
    comparison = simlib.compare(
        base.with_changes(centres),
        reform.with_changes(centres),
        seed=base.simulation.seed,
        progress=False,
        **TINY,
    )
    expected = comparison.differences()[list(morris_run.outputs)].mean()
    assert [morris_run.centre[o] for o in morris_run.outputs] == expected.tolist()


def test_save_writes_every_file_and_refuses_a_folder_with_files(
    morris_run: SensitivityResult, base: simlib.Scenario, tmp_path: Path
) -> None:
    folder = morris_run.save(tmp_path / "out")
    names = {"sensitivity.csv", "samples.csv", "tornado.png", "indices.png", "sensitivity.json"}
    assert {p.name for p in folder.iterdir()} == names
    provenance = json.loads((folder / "sensitivity.json").read_text())
    assert provenance["evaluations"] == 27 and provenance["seed"] == 3 and provenance["bootstrap_seed"] == 4
    assert provenance["base_fingerprint"] == base.fingerprint()
    assert provenance["customers"] == 600 and provenance["replications"] == 2
    samples = pd.read_csv(folder / "samples.csv")
    assert list(samples["design"].value_counts().sort_index()) == [14, 13]
    assert (tmp_path / "out" / "tornado.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FileExistsError, match="already holds files"):
        morris_run.save(folder)


def test_sobol_on_the_model_is_identical_whatever_the_workers(base: simlib.Scenario) -> None:
    arguments = {
        "parameters": ["behaviour.price_sensitivity", "behaviour.complaint_churn_effect=0.05:0.2"],
        "outputs": ("net_revenue", "monthly_churn_rate"),
        "method": "sobol",
        "samples": 2,
        "seed": 1,
        "progress": False,
        **TINY,
    }
    one = run_sensitivity(base, workers=1, **arguments)
    two = run_sensitivity(base, workers=2, **arguments)
    assert one.settings["evaluations"] == 2 * (2 + 2) + 5 and not one.paired
    pd.testing.assert_frame_equal(one.table, two.table, check_exact=True)
    pd.testing.assert_frame_equal(one.samples, two.samples, check_exact=True)
    assert one.table.loc[("net_revenue", "behaviour.complaint_churn_effect"), "low"] == 0.05


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("parameters", "fragment"),
    [
        ({"behaviour.los_aversion": (1.0, 2.0)}, "behaviour.los_aversion: unknown key"),
        ({"behaviour.loss_aversion": (3.0, 2.0)}, "behaviour.loss_aversion: the low bound must be below"),
        ({"behaviour.loss_aversion": (-1.0, 2.0)}, "behaviour.loss_aversion: must be > 0"),
        ({"behaviour.resolution_relief": (0.5, 1.5)}, "behaviour.resolution_relief: must be ≤ 1"),
        (["behaviour.resolution_relief"], "behaviour.resolution_relief: is not a distribution"),
        ({"fees.penalty_fee": (0.0, 12.0)}, "fees.penalty_fee: differs between baseline"),
        ({"transparency.pre_deduction_notice_days": (0, 10)}, "pre_deduction_notice_days: takes whole"),
        ({"population.segments[7].churn_alpha": (0.5, 1.0)}, "segments[7].churn_alpha: no list item"),
        ({"transparency.itemised_bills": (0.0, 1.0)}, "itemised_bills: is not a numeric parameter"),
        ({"behaviour": (0.0, 1.0)}, "behaviour: must be a mapping"),
    ],
    ids=[
        "unknown-key",
        "low-above-high",
        "schema-rejects-low",
        "schema-rejects-high",
        "not-a-distribution",
        "reform-lever",
        "whole-number",
        "no-list-item",
        "not-numeric",
        "a-section",
    ],
)
def test_bad_parameters_are_one_line_errors_naming_the_key_path_before_anything_runs(
    base: simlib.Scenario,
    reform: simlib.Scenario,
    parameters,
    fragment: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sensitivity, "_evaluate_point", _must_not_run)
    with pytest.raises(simlib.ScenarioError) as caught:
        run_sensitivity(base, reform, parameters=parameters, progress=False, **TINY)
    message = str(caught.value)
    assert fragment in message and "\n" not in message


def _must_not_run(*_: object) -> None:
    raise AssertionError("a point was evaluated although the inputs are invalid")


def test_every_bad_parameter_is_reported_at_once(base: simlib.Scenario) -> None:
    with pytest.raises(simlib.ScenarioError) as caught:
        run_sensitivity(
            base, parameters={"behaviour.los_aversion": (1, 2), "behaviour.price_sensitivity": (1, 0)}
        )
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"parameters": ["behaviour.loss_aversion=2"]}, "behaviour.loss_aversion=2"),
        ({"parameters": ["behaviour.loss_aversion=a:3"]}, "behaviour.loss_aversion=a:3"),
        ({"outputs": ["npv_net_revenu"]}, "did you mean npv_net_revenue"),
        ({"outputs": ["winners_share"]}, "needs a reform"),
        ({"method": "fast"}, "method must be one of"),
        ({"samples": 12}, "power of 2"),
        ({"customers": 0}, "customers must be at least 1"),
    ],
)
def test_bad_settings_are_one_line_input_errors(
    base: simlib.Scenario, arguments: dict, fragment: str
) -> None:
    with pytest.raises(simlib.InputError) as caught:
        run_sensitivity(base, progress=False, **arguments)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


# --------------------------------------------------------------------------- notebook


def test_notebook_runs_with_papermill_and_saves_the_tornado(tmp_path: Path) -> None:
    executed = run_notebook(
        "sensitivity.ipynb",
        tmp_path / "sensitivity.ipynb",
        samples=2,
        customers=400,
        months=4,
        replications=2,
        output_dir=str(tmp_path / "out"),
    )
    assert (tmp_path / "out" / "tornado.png").stat().st_size > 0
    assert (tmp_path / "out" / "sensitivity.json").exists()
    images = notebook_runs.images(executed)
    assert len(images) >= 2
    texts = "".join(
        o.get("data", {}).get("text/plain", "") + o.get("text", "")
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert "behaviour.price_sensitivity" in texts and "mu_star" in texts


# --------------------------------------------------------------------------- joint blocks

JOINT = """extends: baseline.yaml
behaviour:
  price_sensitivity: 0.55
  complaint_churn_effect: 0.13
joint_uncertainty:
  - name: churn response
    parameters: [behaviour.price_sensitivity, behaviour.complaint_churn_effect]
    distribution: multivariate_lognormal
    median: [0.55, 0.13]
    log_covariance: [[0.04, 0.02], [0.02, 0.04]]
"""


@pytest.fixture(scope="module")
def joint_base(tmp_path_factory: pytest.TempPathFactory) -> simlib.Scenario:
    folder = tmp_path_factory.mktemp("joint")
    (folder / "baseline.yaml").write_text((ROOT / "scenarios" / "baseline.yaml").read_text())
    (folder / "joint.yaml").write_text(JOINT)
    return simlib.load(folder / "joint.yaml")


def test_a_joint_block_is_one_factor_moved_along_its_principal_direction(joint_base: simlib.Scenario) -> None:
    """Both members rise together (their logarithms correlate +0.5): the block's high end churns
    more than its low end, on common random numbers; its members cannot be varied one by one."""
    assert uncertain_parameters(joint_base)["joint_uncertainty[0]"] == pytest.approx(
        (-1.6449, 1.6449), abs=1e-4
    )
    result = run_sensitivity(
        joint_base,
        parameters=["joint_uncertainty[0]", "behaviour.loss_aversion"],
        outputs=("monthly_churn_rate",),
        method="morris",
        samples=2,
        progress=False,
        **TINY,
    )
    row = result.table.loc[("monthly_churn_rate", "joint_uncertainty[0]")]
    assert row.label == "joint_uncertainty[0] (churn response)"
    assert row.unit == "sd along the principal direction"
    assert (row.low, row.centre) == (pytest.approx(-1.6449, abs=1e-4), 0.0)
    assert row.output_at_high > row.output_at_low
    assert "principal direction" in result.provenance()["parameters"][0]["basis"]
    with pytest.raises(
        ScenarioError, match=r"behaviour.price_sensitivity: is drawn jointly in joint_uncertainty\[0\]"
    ):
        resolve_parameters(joint_base, parameters={"behaviour.price_sensitivity": (0.3, 0.8)})
