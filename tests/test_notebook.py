"""Checking a notebook's papermill parameters before anything runs or is written."""

from __future__ import annotations

from pathlib import Path

import pytest

import simlib
from simlib import InputError, ScenarioError
from simlib.jupyter.notebook import check_parameters

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
GOOD = {
    "scenario": str(SCENARIOS / "penalty_fee.yaml"),
    "baseline": str(SCENARIOS / "baseline.yaml"),
    "overrides": {"fees.penalty_fee": 8},
    "replications": 2,
    "customers": 1000,
    "months": 6,
    "seed": 3,
    "output_dir": "",
}


def test_good_parameters_give_a_paired_run_with_overrides_on_the_scenario() -> None:
    run = check_parameters(**GOOD)
    assert run.paired and run.output_dir is None
    assert run.scenario.fees.penalty_fee == 8 and run.baseline.fees.penalty_fee == 0
    described = run.describe().set_index("parameter")
    assert described.loc["fees.penalty_fee", "scenario"] == 8


def test_without_a_baseline_the_scenario_runs_alone() -> None:
    run = check_parameters(**{**GOOD, "baseline": ""})
    assert not run.paired and run.baseline is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"replications": 0}, "parameter replications: must be a whole number of at least 1 (got 0)"),
        ({"customers": 2.5}, "parameter customers: must be a whole number of at least 1 (got 2.5)"),
        ({"months": "6"}, "parameter months: must be a whole number of at least 1 (got '6')"),
        ({"seed": -1}, "parameter seed: must be a whole number ≥ 0 (got -1)"),
        ({"scenario": ""}, "parameter scenario: must be the path of a scenario file (got '')"),
        ({"overrides": ["fees.penalty_fee=8"]}, "parameter overrides: must be a mapping"),
        ({"months": 3}, "a fee change takes effect in month"),
    ],
)
def test_bad_sizes_are_one_line_errors(change: dict, message: str) -> None:
    scenario = {"scenario": str(SCENARIOS / "fee_increase_with_notice.yaml")} if "months" in change else {}
    with pytest.raises(InputError) as caught:
        check_parameters(**{**GOOD, **scenario, **change})
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_problems_of_both_files_and_the_overrides_are_reported_together(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("fees:\n  penalty_fee: -1\n")
    with pytest.raises(ScenarioError) as caught:
        check_parameters(**{**GOOD, "baseline": str(broken), "overrides": {"fees.montly_fee": 3}})
    lines = [str(p) for p in caught.value.problems]
    assert len(lines) == 2
    assert lines[0].startswith("--set: fees.montly_fee: unknown key")
    assert lines[1] == f"{broken}: fees.penalty_fee: must be ≥ 0.0 (got -1)"


def test_an_output_folder_that_holds_files_is_refused_before_running(tmp_path: Path) -> None:
    (tmp_path / "earlier.csv").write_text("kept")
    with pytest.raises(FileExistsError):
        check_parameters(**{**GOOD, "output_dir": str(tmp_path)})
    assert (tmp_path / "earlier.csv").read_text() == "kept"


def test_explorer_reruns_the_paired_comparison_when_a_lever_moves() -> None:
    from simlib.jupyter.notebook import Explorer, Lever

    explorer = Explorer(
        simlib.load(SCENARIOS / "baseline.yaml"),
        levers=(
            Lever("fees.penalty_fee", "penalty", 0, 20, 1),
            Lever("transparency.itemised_bills", "itemised"),
        ),
        customers=1000,
        months=4,
        replications=2,
    )
    same = explorer.key_numbers(explorer.run({"fees.penalty_fee": 0, "transparency.itemised_bills": False}))
    differences = same.loc[
        ["net_revenue", "monthly_churn_rate", "complaints_per_1000", "refunds"], "difference_mean"
    ]
    assert (differences.astype(float) == 0).all()
    assert same.loc["winners_share", "reform_mean"] == same.loc["losers_share", "reform_mean"] == 0
    box = explorer.widgets()
    slider, switch, _output = box.children
    assert explorer.last.reform.scenario.fees.penalty_fee == 0
    slider.value = 12
    switch.value = True
    assert explorer.last.reform.scenario.fees.penalty_fee == 12
    assert explorer.last.reform.scenario.transparency.itemised_bills is True
    assert explorer.last.summary().loc["complaints_penalty_fee", "difference_mean"] > 0
    table = explorer.key_numbers(explorer.run({"fees.penalty_fee": 12}))
    assert table.loc["net_revenue", "difference_mean"] != 0
