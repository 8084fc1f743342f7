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
    from simlib.jupyter.explorer import Explorer, Slider

    explorer = Explorer(
        simlib.load(SCENARIOS / "baseline.yaml"),
        levers=(
            Slider("fees.penalty_fee", "penalty", 0, 20, 1),
            Slider("transparency.itemised_bills", "itemised"),
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
    # The chart's legend names both runs; the table is text, without NaN or scientific notation.
    assert explorer.chart.legend_labels() == ["baseline", "with these levers"]
    shown = explorer.key_numbers_table(explorer.last)
    assert list(shown.columns) == ["unit", "baseline", "with these levers", "difference (90% interval)"]
    assert not any("nan" in c.lower() or "e+0" in c for c in shown.to_numpy().ravel())
    assert slider.description == "penalty" and slider.style.description_width == "initial"


@pytest.mark.parametrize(
    ("value", "unit", "difference", "shown"),
    [
        (1767936.2, "EUR", False, "€1.77M"),
        (-1767936.2, "EUR", True, "-€1.77M"),
        (1093.4, "EUR", True, "+€1,093"),
        (0.000015, "customers", False, "0"),
        (0.0231, "share/month", False, "2.31%"),
        (0.0012, "share/month", True, "+0.12 pp"),
        (-0.00001, "share/month", True, "0.00 pp"),
        (0.0, "EUR", True, "€0"),
        (float("nan"), "EUR", False, "–"),
        (None, "share/month", True, "–"),
        (float("inf"), "", False, "–"),
    ],
)
def test_format_value_never_shows_nan_or_scientific_notation(
    value: float | None, unit: str, difference: bool, shown: str
) -> None:
    from simlib.jupyter.notebook import format_value

    assert format_value(value, unit, difference=difference) == shown


def test_format_value_shows_an_interval_in_the_same_unit() -> None:
    from simlib.jupyter.notebook import format_value

    assert format_value(0.0012, "share/month", low=-0.0003, high=0.002, difference=True) == (
        "+0.12 pp (-0.03 to 0.20 pp)"
    )
    assert format_value(2.5e6, "EUR", low=2.4e6, high=float("nan")) == "€2.50M"  # no half interval
    assert (
        format_value(140_234, "EUR", low=126_483, high=149_166, difference=True) == "+€140k (€126k to €149k)"
    )
    assert format_value(0.0012, "share/month", difference=True, language="zh") == "+0.12 个百分点"


@pytest.fixture(scope="module")
def paired_run():
    return simlib.compare(
        simlib.load(SCENARIOS / "baseline.yaml"),
        simlib.load(SCENARIOS / "penalty_fee.yaml"),
        customers=1000,
        months=4,
        replications=2,
        progress=False,
    )


def test_comparison_table_is_text_in_words_without_nan(paired_run) -> None:
    from simlib.jupyter.notebook import comparison_table
    from simlib.report.i18n import Messages

    table = comparison_table(paired_run, words=Messages("en"))
    assert list(table.columns) == ["unit", "baseline", "penalty_fee", "difference (90% interval)"]
    cells = table.to_numpy().ravel().tolist() + list(table.index)
    assert all(isinstance(c, str) for c in cells)
    assert not any("nan" in c.lower() or "e+0" in c or "e-0" in c for c in cells)
    assert "… usual churn" in table.index and not any("(baseline)" in label for label in table.index)
    assert table.loc["Average monthly churn rate", "difference (90% interval)"].split(" (")[0].endswith("pp")
    assert table.loc["Customers whose bill rose by more than 5%", "baseline"] == "–"


def test_charts_name_both_runs_and_the_causes_in_words(paired_run) -> None:
    from simlib.jupyter.notebook import plot_causes, plot_over_time
    from simlib.report.i18n import Messages
    from simlib.style.charts import BASELINE_COLOUR, HIGHLIGHT_COLOUR

    figure = plot_over_time(paired_run, ["active", "net_revenue"])
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["baseline", "penalty_fee"]
    revenue = figure.axes[1]
    assert revenue.get_title() == "Net revenue per month (EUR)" and revenue.get_xlabel() == "Month"
    assert [line.get_color() for line in revenue.get_lines()] == [BASELINE_COLOUR, HIGHLIGHT_COLOUR]
    figure.canvas.draw()
    ticks = [t.get_text() for t in revenue.get_yticklabels() if t.get_text()]
    assert ticks and all("e" not in t for t in ticks) and all(t.startswith(("€", "-€")) for t in ticks)
    causes = plot_causes(paired_run, Messages("en"))
    churn = [t.get_text() for t in causes.axes[0].get_legend().get_texts()]
    assert churn == ["usual churn", "price too high", "price rise", "unresolved complaint"]
    assert causes.axes[0].get_title() == "Customers lost, by cause"


def test_a_policy_with_the_baselines_name_is_told_apart(paired_run) -> None:
    from simlib.jupyter.notebook import run_labels

    assert run_labels(paired_run) == ["baseline", "penalty_fee"]
    assert run_labels(paired_run, "baseline") == ["baseline", "baseline (changed)"]
