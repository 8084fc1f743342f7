"""Notebooks: executed for real with papermill and a real kernel; committed without outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import notebook_runs
import pandas as pd
import papermill as pm
import pytest
from notebook_runs import run_notebook

import simlib
from simlib.style.numbers import estimate

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SCENARIOS = NOTEBOOKS.parent / "scenarios"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_carry_no_outputs(path: Path) -> None:
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, path.name


def test_quickstart_runs_top_to_bottom_with_new_parameters(tmp_path: Path) -> None:
    executed = run_notebook(
        "quickstart.ipynb",
        tmp_path / "quickstart.ipynb",
        customers=2000,
        months=6,
        replications=3,
        reform_changes={"fees.penalty_fee": 9},
    )
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "fees.penalty_fee" in injected[0].source
    texts = "\n".join(
        output.get("data", {}).get("text/plain", "")
        for cell in executed.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "penalty_fee" in texts and "9.0" in texts  # the reform documentation shows the new value
    assert "complaints_per_1000" in texts and "difference_mean" in texts
    images = notebook_runs.images(executed)
    assert len(images) >= 2


def execute(name: str, tmp_path: Path, **parameters) -> nbformat.NotebookNode:
    return run_notebook(name, tmp_path / f"executed-{name}", **parameters)


def assert_readable(executed: nbformat.NotebookNode) -> str:
    """Every text output fits 100 columns, and nothing shows NaN or scientific notation; returns
    the texts (plain, HTML and streams)."""
    for output in notebook_runs.outputs(executed):
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {}):
            continue  # a widget's plain text is its Python repr, shown only where widgets are not
        plain = output.get("data", {}).get("text/plain", "") + output.get("text", "")
        too_long = [line for line in plain.splitlines() if len(line) > 100]
        assert not too_long, too_long
    texts = notebook_runs.texts(executed)
    assert "NaN" not in texts and "nan" not in texts.split()
    assert not re.search(r"\de[+-]\d", texts), re.search(r".{40}\de[+-]\d.{10}", texts)
    return texts


def test_scenario_notebook_runs_with_its_defaults(tmp_path: Path) -> None:
    executed = execute("scenario.ipynb", tmp_path)
    images = notebook_runs.images(executed)
    assert len(images) == 2
    streams = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "no output_dir given: nothing written" in streams
    texts = assert_readable(executed)
    # The causes are named as in the briefing, and the table says which run is which.
    assert "… usual churn" in texts and "personal reasons (baseline)" not in texts
    assert "difference (90% interval)" in texts and " pp (" in texts


def test_scenario_notebook_writes_results_equal_to_the_library(tmp_path: Path) -> None:
    out = tmp_path / "run"
    size = {"customers": 2000, "months": 6, "replications": 3, "seed": 11}
    execute(
        "scenario.ipynb",
        tmp_path,
        scenario=str(SCENARIOS / "penalty_fee.yaml"),
        baseline=str(SCENARIOS / "baseline.yaml"),
        overrides={"fees.penalty_fee": 9.5},
        output_dir=str(out),
        **size,
    )
    result = json.loads((out / "result.json").read_text())
    assert result["parameters"] == {"overrides": {"fees.penalty_fee": 9.5}, **size}
    direct = simlib.compare(
        simlib.load(SCENARIOS / "baseline.yaml"),
        simlib.load(SCENARIOS / "penalty_fee.yaml", {"fees.penalty_fee": 9.5}),
        progress=False,
        **size,
    ).summary()
    for metric in ("net_revenue", "complaints_penalty_fee", "monthly_churn_rate"):
        for column in (
            "baseline_mean",
            "reform_mean",
            "difference_mean",
            "difference_low",
            "difference_high",
        ):
            assert result["summary"][metric][column] == direct.loc[metric, column], (metric, column)
    assert {p.name for p in out.iterdir()} >= {"baseline", "reform", "summary.csv", "differences.csv"}


def test_scenario_notebook_stops_on_bad_input_with_the_validate_message(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(f"extends: {SCENARIOS / 'baseline.yaml'}\nfees:\n  montly_fee: 20\n")
    out = tmp_path / "never"
    with pytest.raises(pm.PapermillExecutionError) as caught:
        execute("scenario.ipynb", tmp_path, scenario=str(broken), output_dir=str(out), customers=100)
    assert "fees.montly_fee: unknown key 'montly_fee' in fees; did you mean fees.monthly_fee?" in str(
        caught.value.evalue
    )
    assert not out.exists()


def test_explore_notebook_builds_its_widgets_and_runs_a_setting(tmp_path: Path) -> None:
    executed = execute("explore.ipynb", tmp_path, customers=1000, months=4, replications=2)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    texts = assert_readable(executed)
    assert "with these levers" in texts and "difference (90% interval)" in texts


def test_compare_notebook_reads_a_batch_folder(tmp_path: Path) -> None:
    from simlib.batch.batch import run_batch
    from simlib.batch.plan import plan_batch

    fixtures = Path(__file__).resolve().parent / "fixtures" / "batch"
    plan = plan_batch(
        [SCENARIOS / "penalty_fee.yaml", SCENARIOS / "full_transparency.yaml"],
        SCENARIOS / "baseline.yaml",
        customers=800,
        months=6,
        replications=2,
        notebook=fixtures / "misbehaving.ipynb",
    )
    batch = run_batch(plan, tmp_path / "batch", workers=1, progress=False)
    assert len(batch.succeeded) == 2
    executed = run_notebook("compare.ipynb", tmp_path / "compare.ipynb", batch_dir=str(tmp_path / "batch"))
    texts = "\n".join(
        o.get("data", {}).get("text/plain", "") + o.get("text", "")
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    comparison = pd.read_csv(tmp_path / "batch" / "comparison.csv").set_index(["scenario", "metric"])
    row = comparison.loc[("penalty_fee", "net_revenue")]
    shown = estimate(row["difference_mean"], row["difference_low"], row["difference_high"], signed=True)
    assert shown in texts  # the key-numbers table shows the batch's own figures
    assert "fees.penalty_fee" in texts and "transparency" in texts
    images = notebook_runs.images(executed)
    assert len(images) == 1  # the frontier chart


def test_optimize_notebook_runs_and_writes_the_optimal_policy(tmp_path: Path) -> None:
    executed = run_notebook(
        "optimize.ipynb",
        tmp_path / "optimize.ipynb",
        customers=800,
        months=6,
        replications=2,
        grid_points=4,
        workers=1,
        output_dir=str(tmp_path / "optimum"),
    )
    images = notebook_runs.images(executed)
    assert len(images) == 1
    written = simlib.load(tmp_path / "optimum" / "optimum.yaml")
    assert 18 <= written.fees.monthly_fee <= 40
