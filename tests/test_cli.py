"""The `simlib` console command, run as a user runs it: a real process, real files, exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import simlib
from simlib.scenario.scenario import json_schema

SIMLIB = Path(sys.executable).parent / "simlib"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHIPPED = Path(__file__).resolve().parents[1] / "scenarios"
BASE = FIXTURES / "base.yaml"
TINY = ["--customers", "2000", "--months", "4", "--replications", "2", "--quiet"]
OUTPUTS = {"monthly.parquet", "monthly.csv", "summary.csv", "scenario.json", "provenance.json"}


def simlib_command(*args: str | Path, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed entry point (tables as wide as ``columns``); a traceback is a bug whatever
    the exit status."""
    env = None if columns is None else {**os.environ, "COLUMNS": str(columns)}
    result = subprocess.run(
        [str(SIMLIB), *map(str, args)], capture_output=True, text=True, timeout=300, check=False, env=env
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def cells(line: str) -> list[str]:
    """The columns of one row of a plain-text table (columns are separated by two or more spaces)."""
    return re.split(r"\s{2,}", line.strip())


def table_rows(text: str) -> dict[str, list[str]]:
    return {row[0]: row for row in map(cells, text.splitlines()) if row and row[0]}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("run") / "results"
    return out, simlib_command("run", BASE, *TINY, "--out", out)


def test_entry_point_is_installed():
    assert SIMLIB.is_file()


HEAVY = ("pandas", "numpy", "scipy", "matplotlib", "pydantic", "papermill", "numba")
COMMANDS = (
    "run", "compare", "batch", "brief", "sweep", "optimize", "sensitivity", "calibrate",
    "validate", "describe", "diff", "schema", "demo",
)  # fmt: skip


def test_help_imports_no_machinery():
    """--help (the group's and every command's) loads none of the heavy libraries: each command
    imports its machinery when it runs, so help is instant. A module-set check, not a timing."""
    probe = (
        "import sys\n"
        "from simlib.cli.main import main\n"
        "for args in [['--help'], *[[c, '--help'] for c in sys.argv[1:]]]:\n"
        "    try:\n"
        "        main(args, standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *COMMANDS], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(result.stderr.split())
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    for command in COMMANDS:
        assert f"{command} " in result.stdout or f"{command}\n" in result.stdout


def test_help_choices_match_the_machinery():
    from simlib.analysis import optimize
    from simlib.cli import analysis

    assert analysis.OBJECTIVES == optimize.OBJECTIVES


def test_validate_good_files():
    files = [*sorted(SHIPPED.glob("*.yaml")), BASE, FIXTURES / "child.yaml"]
    result = simlib_command("validate", *files)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"ok: {f}" for f in files]
    assert result.stderr == ""


def test_validate_broken_file_prints_one_line_per_problem():
    broken = FIXTURES / "invalid" / "several_problems.yaml"
    typo = FIXTURES / "invalid" / "typo_key.yaml"
    missing = FIXTURES / "no_such_file.yaml"
    result = simlib_command("validate", BASE, broken, typo, missing)
    assert result.returncode == 2
    assert result.stdout.splitlines() == [f"ok: {BASE}"]
    assert result.stderr.splitlines() == [
        f"error: {broken}: population.segments: segment shares must sum to 1 (got 1.4)",
        f"error: {broken}: population.segments[1].name: duplicate segment name (got 'light')",
        f"error: {broken}: fees.bill_cap: is below fees.minimum_charge 10.0 (got 5.0)",
        f"error: {broken}: adjustment_rules[1].name: duplicate rule name (got 'r')",
        f"error: {typo}: fees.montly_fee: unknown key 'montly_fee' in fees; did you mean fees.monthly_fee? "
        "(value 30)",
        f"error: {missing}: file not found",
    ]


def test_run_writes_every_output(first_run):
    out, result = first_run
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} == OUTPUTS
    assert f"results written to {out}" in result.stdout
    assert "2,000 customers × 4 months × 2 replications, seed 7" in result.stdout

    monthly = pd.read_parquet(out / "monthly.parquet")
    assert set(monthly["replication"]) == {0, 1}
    assert set(monthly["month"]) == {0, 1, 2, 3}
    assert set(monthly["segment"]) == {"light", "standard", "heavy"}
    pd.testing.assert_frame_equal(pd.read_csv(out / "monthly.csv"), monthly, check_dtype=False)

    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert {"mean", "low", "high", "unit"} <= set(summary.columns)
    net = summary.loc["net_revenue"]
    assert net["low"] <= net["mean"] <= net["high"]
    assert net["unit"] == "EUR"

    scenario = simlib.load(BASE)
    assert json.loads((out / "scenario.json").read_text()) == scenario.as_dict()
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["scenario_fingerprint"] == scenario.fingerprint()
    assert (provenance["customers"], provenance["months"], provenance["replications"]) == (2000, 4, 2)


def test_run_refuses_to_overwrite_results(first_run):
    out, _ = first_run
    before = snapshot(out)
    result = simlib_command("run", BASE, *TINY, "--out", out)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {out} already holds files; choose another folder, or --force to move them under "
        f"{out}/previous/ and write anew (--resume: simlib run has no finished parts to keep)"
    ]
    assert snapshot(out) == before  # same files, byte for byte


def test_invalid_scenario_writes_nothing(tmp_path):
    out = tmp_path / "never"
    broken = FIXTURES / "invalid" / "several_problems.yaml"
    result = simlib_command("run", broken, *TINY, "--out", out)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 4
    assert all(line.startswith(f"error: {broken}: ") for line in result.stderr.splitlines())
    assert result.stdout == ""
    assert not out.exists()


def test_set_changes_the_result(first_run, tmp_path):
    base_out, _ = first_run
    out = tmp_path / "dearer"
    result = simlib_command("run", BASE, *TINY, "--set", "fees.monthly_fee=40", "--out", out)
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "scenario.json").read_text())["fees"]["monthly_fee"] == 40
    base = pd.read_csv(base_out / "summary.csv", index_col=0)
    dearer = pd.read_csv(out / "summary.csv", index_col=0)
    assert dearer.loc["gross_revenue", "mean"] > base.loc["gross_revenue", "mean"] * 1.05
    assert dearer.loc["churned", "mean"] > base.loc["churned", "mean"]  # a 60% dearer plan loses more


def test_describe_shows_values_units_and_origins():
    result = simlib_command(
        "describe",
        FIXTURES / "child.yaml",
        "--set",
        "billing.automated_billing=true",
        "--set",
        "fees.transaction_fee_fixed=0.1234567",
        "--sources",
        columns=400,  # every label and source on one line (a narrower terminal wraps them)
    )
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert rows["parameter"] == ["parameter", "value", "unit", "origin", "label", "source"]
    assert rows["fees.monthly_fee"][1:5] == ["€28", "EUR/month", "set in child.yaml", "Subscription fee"]
    assert rows["fees.included_units"][1:4] == ["10", "units/month", "inherited from base.yaml"]
    assert rows["fees.setup_fee"][1:4] == ["€0", "EUR", "default"]
    assert rows["population.segments[2].share"][1:4] == ["25%", "share", "set in child.yaml"]
    assert rows["population.segments[1].share"][1:4] == ["30%", "share", "inherited from base.yaml"]
    assert rows["billing.automated_billing"][1:4] == ["on", "yes/no", "set on the command line"]
    assert rows["fees.transaction_fee_fixed"][1:4] == ["€0.1234567", "EUR/unit", "set on the command line"]
    loss_aversion = rows["behaviour.loss_aversion"]
    assert loss_aversion[1:4] == ["2.25", "ratio", "default"]
    assert loss_aversion[-1] == "Tversky & Kahneman (1992), λ ≈ 2.25"


def test_diff_shows_both_values_and_units():
    child = FIXTURES / "child.yaml"
    result = simlib_command("diff", BASE, child)
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert rows["parameter"] == ["parameter", str(BASE), str(child), "label"]
    assert rows["fees.monthly_fee"] == ["fees.monthly_fee", "€25", "€28", "Subscription fee"]
    assert rows["population.segments[2].share"][1:3] == ["20%", "25%"]
    assert rows["fees.usage_tiers"][2].startswith("€")  # the whole tariff, for people
    assert "population.segments[1].share" not in rows  # unchanged parameters are not listed


def test_schema_prints_the_json_schema():
    result = simlib_command("schema")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(json.dumps(json_schema()))


def test_compare_prints_baseline_reform_and_difference():
    # Wide enough for every estimate on one line (a narrower terminal wraps them before the interval).
    result = simlib_command("compare", BASE, BASE, *TINY, "--set", "fees.monthly_fee=40", columns=250)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "base vs base: 2,000 customers × 4 months × 2 replications, seed 7, paired draws"
    )
    assert cells(lines[1]) == ["metric", "baseline", "reform", "difference", "unit"]
    estimate = r"-?€?[\d,.]+[kM]?( pp)? \(-?€?[\d,.]+[kM]?%? to -?€?[\d,.]+[kM]?%?( pp)?\)"
    row = next(line for line in lines if line.startswith("Gross revenue"))
    _, baseline, reform, difference, unit = cells(row)
    assert all(re.fullmatch(estimate, value.lstrip("+")) for value in (baseline, reform, difference))
    assert unit == "EUR" and baseline.startswith("€")
    assert baseline != reform  # --set applies to the reform only
    assert difference.startswith(("+", "-")) and not difference.startswith(("+0 ", "+€0 "))


def test_compare_writes_both_runs_and_the_differences(tmp_path):
    out = tmp_path / "comparison"
    size = ["--customers", "2000", "--months", "4", "--replications", "2", "--quiet"]
    reform = SHIPPED / "penalty_fee.yaml"
    result = simlib_command("compare", SHIPPED / "baseline.yaml", reform, *size, "--out", out)
    assert result.returncode == 0, result.stderr
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == sorted(
        [
            "differences.csv",
            "summary.csv",
            "winners_losers.csv",
            *(
                f"{run}/{name}"
                for run in ("baseline", "reform")
                for name in (
                    "monthly.csv",
                    "monthly.parquet",
                    "provenance.json",
                    "scenario.json",
                    "summary.csv",
                )
            ),
        ]
    )
    differences = pd.read_csv(out / "differences.csv", index_col=0)
    assert (differences["complaints_penalty_fee"] > 0).all()
    again = simlib_command("compare", SHIPPED / "baseline.yaml", reform, *size, "--out", out)
    assert again.returncode == 2 and "already holds files" in again.stderr


def test_demo_runs_every_shipped_policy_as_a_batch_and_keeps_it(tmp_path: Path):
    out = tmp_path / "demo"
    arguments = ("demo", "--scenarios", SHIPPED, "--out", out, "--customers", "400", "--months", "8",
                 "--replications", "2", "--quiet")  # fmt: skip
    result = simlib_command(*arguments)
    assert result.returncode == 0, result.stderr
    policies = {p.stem for p in SHIPPED.glob("*.yaml")} - {"baseline"}
    rows = table_rows(result.stdout)
    assert policies <= set(rows)
    for policy in policies:
        assert rows[policy][1] == "succeeded", rows[policy]
        # Each churn difference is in percentage points, `mean (low to high pp)`; a terminal too narrow
        # for the table puts the interval on the next line.
        shown = rows[policy][3]
        assert re.fullmatch(r"[+-]?[\d,.]+ pp( \(-?[\d,.]+ to -?[\d,.]+ pp\))?", shown), rows[policy]
    assert f"results: {out}/" in result.stdout
    assert len(list((out / "runs").iterdir())) == len(policies)
    refused = simlib_command(*arguments)  # a second demo neither replaces nor silently reuses them
    assert refused.returncode == 2 and "--resume" in refused.stderr and "--force" in refused.stderr
    again = simlib_command(*arguments, "--resume")  # --resume keeps the first one's runs
    assert again.returncode == 0 and all(
        table_rows(again.stdout)[p][1] == "succeeded (kept)" for p in policies
    )


def test_sweep_writes_one_row_per_variant_and_the_frontier(tmp_path: Path):
    out = tmp_path / "sweep"
    result = simlib_command(
        "sweep", SHIPPED / "baseline.yaml", "--grid", "fees.monthly_fee=23,25,27",
        "--grid", "fees.penalty_fee=0,5", "--customers", "800", "--months", "6", "--replications", "2",
        "--workers", "2", "--out", out, "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 6 and set(table["fees.monthly_fee"]) == {23, 25, 27}
    same = table[(table["fees.monthly_fee"] == 25) & (table["fees.penalty_fee"] == 0)]
    assert same["net_revenue_difference"].iloc[0] == 0.0  # the base itself, on the same draws
    assert (out / "frontier.png").stat().st_size > 10_000 and (out / "sweep.json").exists()
    assert "on frontier" in result.stdout and "yes" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--grid", "fees.monthly_fee=20,30", "--sample", "4"), "either --grid"),
        (("--sample", "4"), "--sample needs at least one --range"),
        (("--sample", "4", "--range", "fees.monthly_fee=30:20"), "fees.monthly_fee=30:20"),
        (("--grid", "fees.monthly_fee=20,-5"), "fees.monthly_fee"),
        (("--grid", "fees.monthly_fe=20,30"), "monthly_fe"),
    ],
)
def test_sweep_mistakes_are_one_line_errors(tmp_path: Path, arguments: tuple[str, ...], message: str):
    result = simlib_command(
        "sweep", SHIPPED / "baseline.yaml", *arguments, "--out", tmp_path / "s", "--quiet"
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


def test_sensitivity_ranks_the_assumptions_and_writes_the_tornado(tmp_path: Path):
    out = tmp_path / "sensitivity"
    result = simlib_command(
        "sensitivity", SHIPPED / "baseline.yaml", "--reform", SHIPPED / "fee_increase_without_notice.yaml",
        "--method", "morris", "--samples", "3", "--customers", "600", "--months", "8", "--replications", "2",
        "--workers", "2", "--out", out, "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    ranked = [rows[str(rank)][1] for rank in range(1, 6)]  # the baseline's five uncertain assumptions
    assert set(ranked) == {
        "behaviour.loss_aversion",
        "behaviour.price_sensitivity",
        "behaviour.reference_sensitivity",
        "behaviour.complaint_churn_effect",
        "behaviour.surprise_complaint_rate",
    }
    # Without notice the rise is felt in full: loss aversion matters (a non-zero tornado swing).
    assert float(rows[str(ranked.index("behaviour.loss_aversion") + 1)][-1].replace(",", "")) > 0
    for name in ("sensitivity.csv", "tornado.png", "indices.png", "samples.csv", "sensitivity.json"):
        assert (out / name).exists(), name
    again = simlib_command("sensitivity", SHIPPED / "baseline.yaml", "--param", "behaviour.nonsense=0:1",
                           "--out", tmp_path / "other")  # fmt: skip
    assert again.returncode == 2 and "behaviour.nonsense" in again.stderr


def test_calibrate_writes_a_fragment_that_loads(tmp_path: Path):
    history = SHIPPED / "history"
    out = tmp_path / "calibrated"
    (tmp_path / "baseline.yaml").write_text((SHIPPED / "baseline.yaml").read_text())
    result = simlib_command(
        "calibrate", tmp_path / "baseline.yaml", "--retention", history / "retention.csv",
        "--complaints", history / "complaints.csv", "--out", out, "--plot",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert "population.segments[standard].churn_alpha" in rows and "behaviour.penalty_complaint_rate" in rows
    assert sorted(p.name for p in out.iterdir()) == ["calibrated.yaml", "calibration.csv", "fit.png"]
    # Its `extends` names the base's file: beside it, the fragment loads.
    fragment = tmp_path / "calibrated.yaml"
    fragment.write_bytes((out / "calibrated.yaml").read_bytes())
    loaded = simlib.load(fragment)
    assert loaded.behaviour.penalty_complaint_rate.distribution == "normal"
    table = pd.read_csv(out / "calibration.csv")
    assert "behaviour.penalty_complaint_rate" in set(table["parameter"])
    assert {"estimate", "std_error", "unit"} <= set(table.columns)
    assert (out / "fit.png").stat().st_size > 10_000
    again = simlib_command("calibrate", tmp_path / "baseline.yaml", "--retention", history / "retention.csv",
                           "--out", out)  # fmt: skip
    assert again.returncode == 2 and "already holds files" in again.stderr and "--force" in again.stderr


def test_a_bad_history_file_is_one_line_naming_row_and_column(tmp_path: Path):
    bad = tmp_path / "retention.csv"
    bad.write_text("cohort,period,active\na,0,100\na,1,abc\n")
    result = simlib_command(
        "calibrate", SHIPPED / "baseline.yaml", "--retention", bad, "--out", tmp_path / "x"
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "retention.csv" in line and "row 3" in line and "active" in line
    assert not (tmp_path / "x").exists()


# The output-folder rule of every command that writes (README, "Command-line conventions"). batch
# and demo keep finished runs with --resume: tests/test_batch.py checks them, with previous/.
SMALL = ("--customers", "300", "--months", "4", "--replications", "2")
WRITERS = {
    "run": (("run", SHIPPED / "baseline.yaml", *SMALL, "--quiet", "--out"), "summary.csv"),
    "compare": (
        ("compare", SHIPPED / "baseline.yaml", SHIPPED / "penalty_fee.yaml", *SMALL, "--quiet", "--out"),
        "differences.csv",
    ),
    "sweep": (
        (
            "sweep",
            SHIPPED / "baseline.yaml",
            "--grid",
            "fees.monthly_fee=24,26",
            *SMALL,
            "--workers",
            "1",
            "--quiet",
            "--out",
        ),
        "sweep.csv",
    ),
    "optimize": (
        (
            "optimize",
            SHIPPED / "baseline.yaml",
            "--lever",
            "fees.monthly_fee=20:30",
            "--grid-points",
            "2",
            *SMALL,
            "--workers",
            "1",
            "--out",
        ),
        "optimum.yaml",
    ),
    "sensitivity": (
        (
            "sensitivity",
            SHIPPED / "baseline.yaml",
            "--param",
            "behaviour.complaint_churn_effect=0.5:1.5",
            "--samples",
            "2",
            *SMALL,
            "--workers",
            "1",
            "--quiet",
            "--out",
        ),
        "sensitivity.csv",
    ),
    "calibrate": (
        (
            "calibrate",
            SHIPPED / "baseline.yaml",
            "--complaints",
            SHIPPED / "history" / "complaints.csv",
            "--out",
        ),
        "calibrated.yaml",
    ),
    "scenarios init": (("scenarios", "init"), "baseline.yaml"),
}


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_every_writing_command_refuses_an_output_with_results_unless_forced(tmp_path: Path, command: str):
    """Without --force or --resume an output folder holding results is one error line naming the folder
    and both options; --resume is refused where nothing can be resumed; --force moves the earlier
    results under previous/<time>/ (nothing deleted) and writes anew."""
    arguments, written = WRITERS[command]
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.csv").write_text("earlier results")

    refused = simlib_command(*arguments, out)
    assert refused.returncode == 2
    (line,) = refused.stderr.splitlines()
    assert str(out) in line and "--force" in line and "--resume" in line, line
    assert [p.name for p in out.iterdir()] == ["earlier.csv"]

    not_resumable = simlib_command(*arguments, out, "--resume")
    assert not_resumable.returncode == 2
    (line,) = not_resumable.stderr.splitlines()
    assert line.startswith("error: --resume:") and "--force" in line, line
    assert [p.name for p in out.iterdir()] == ["earlier.csv"]

    forced = simlib_command(*arguments, out, "--force")
    assert forced.returncode == 0, forced.stderr
    (kept,) = (out / "previous").iterdir()
    assert [p.name for p in kept.iterdir()] == ["earlier.csv"]
    assert (kept / "earlier.csv").read_text() == "earlier results"
    assert (out / written).is_file() and not (out / "earlier.csv").exists()


def test_every_writing_command_offers_force_and_resume():
    for command in ("run", "compare", "sweep", "optimize", "sensitivity", "calibrate", "batch", "demo"):
        help_text = simlib_command(command, "--help").stdout
        assert "--force" in help_text and "--resume" in help_text, command
