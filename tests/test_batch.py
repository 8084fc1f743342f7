"""`simlib batch`: real papermill runs in real kernels, statuses, resume, hostile names."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import simlib
from simlib.batch.batch import run_batch
from simlib.batch.plan import plan_batch, safe_name
from simlib.batch.results import BatchResult

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "batch"
MISBEHAVING = FIXTURES / "misbehaving.ipynb"
SIMLIB = ROOT / ".venv" / "bin" / "simlib"
TINY = ("--customers", "500", "--months", "6", "--replications", "2")


def simlib_command(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(SIMLIB), *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def file_hashes(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: content hash and modification time (ns)."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_safe_name_keeps_folder_names_inside_the_batch() -> None:
    assert safe_name("penalty_fee") == "penalty_fee"
    assert safe_name("../../x") == "x"
    assert safe_name("..") == "scenario"
    assert safe_name("a/b\\c d") == "a-b-c-d"
    assert safe_name('x"; import os #') == "x-import-os"
    assert safe_name("提价 通知") == "提价-通知"
    assert len(safe_name("y" * 200)) == 48


def test_batch_runs_the_scenario_notebook_and_matches_the_library(tmp_path: Path) -> None:
    out = tmp_path / "batch"
    reforms = [SCENARIOS / "penalty_fee.yaml", SCENARIOS / "fee_increase_with_notice.yaml"]
    result = simlib_command(
        "batch", *reforms, "--baseline", SCENARIOS / "baseline.yaml", "--out", out, "--customers", "500",
        "--months", "9", "--replications", "2", "--seed", "11", "--workers", "2", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "penalty_fee" in result.stdout and str(out) in result.stdout

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"succeeded": 2}
    assert manifest["parameters"] == {
        "customers": 500, "months": 9, "replications": 2, "seed": 11, "overrides": {}
    }  # fmt: skip
    assert manifest["versions"]["simlib"] == simlib.__version__
    base = simlib.load(SCENARIOS / "baseline.yaml")
    assert manifest["baseline"]["fingerprint"] == base.fingerprint()
    for entry, path in zip(manifest["runs"], reforms, strict=True):
        run = out / entry["folder"]
        assert entry["status"] == "succeeded" and entry["seed"] == 11 and entry["attempts"] == 1
        assert entry["scenario_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert run.name == f"{entry['scenario']}-{entry['run_id']}"
        for name in (
            "params.json",
            "notebook.ipynb",
            "result.json",
            "status.json",
            "stdout.log",
            "stderr.log",
        ):
            assert (run / name).is_file(), name
        status = json.loads((run / "status.json").read_text())
        assert status["status"] == "succeeded" and status["run_id"] == entry["run_id"]
        executed = nbformat.read(run / "notebook.ipynb", as_version=4)
        images = [
            o
            for c in executed.cells
            if c.cell_type == "code"
            for o in c.outputs
            if "image/png" in o.get("data", {})
        ]
        assert len(images) >= 2, "the executed notebook keeps its charts"
    assert not any((out / ".in-progress").iterdir())

    table = pd.read_csv(out / "comparison.csv")
    pd.testing.assert_frame_equal(table, pd.read_parquet(out / "comparison.parquet"), check_dtype=False)
    from simlib.run.parquet import read_metadata

    assert read_metadata(out / "comparison.parquet")["units"]["difference_mean"] == "see the unit column"
    for path in reforms:
        direct = simlib.compare(
            base, simlib.load(path), customers=500, months=9, replications=2, seed=11, progress=False
        )
        expected = direct.summary()
        name = simlib.load(path).name
        got = table[table["scenario"] == name].set_index("metric")
        for metric in ("net_revenue", "monthly_churn_rate", "complaints_per_1000", "npv_net_revenue"):
            for column in ("difference_mean", "difference_low", "difference_high", "reform_mean"):
                assert got.loc[metric, column] == expected.loc[metric, column], (name, metric, column)

    read = BatchResult(out)
    assert read.scenarios == ["penalty_fee", "fee_increase_with_notice"]
    changes = read.changes()
    assert set(changes[changes["scenario"] == "penalty_fee"]["parameter"]) == {"fees.penalty_fee"}
    frontier = read.frontier()
    assert (
        set(frontier.index) == {"penalty_fee", "fee_increase_with_notice"} and frontier["on_frontier"].any()
    )

    again = simlib_command("batch", *reforms, "--baseline", SCENARIOS / "baseline.yaml", "--out", out,
                           "--months", "9")  # fmt: skip
    assert again.returncode == 2 and "already holds a batch" in again.stderr and "--resume" in again.stderr


def test_each_way_of_failing_gets_its_status_while_the_others_succeed(tmp_path: Path) -> None:
    out = tmp_path / "batch"
    names = ("fails", "hangs", "crashes", "steady")
    result = simlib_command(
        "batch", *(FIXTURES / f"{n}.yaml" for n in names), "--baseline", SCENARIOS / "baseline.yaml",
        "--out", out, *TINY, "--workers", "2", "--timeout", "25", "--notebook", MISBEHAVING, "--quiet",
    )  # fmt: skip
    assert result.returncode == 1
    runs = {r["scenario"]: r for r in json.loads((out / "manifest.json").read_text())["runs"]}
    assert {n: runs[n]["status"] for n in names} == {
        "fails": "failed",
        "hangs": "timed_out",
        "crashes": "kernel_died",
        "steady": "succeeded",
    }
    assert runs["fails"]["attempts"] == 1, "a notebook error is not retried"
    assert runs["hangs"]["attempts"] == 1
    assert runs["crashes"]["attempts"] == 3, "a dead kernel is retried twice"
    assert (
        runs["fails"]["cell"] == 5 and "ValueError: this scenario fails on purpose" in runs["fails"]["error"]
    )
    failed_log = out / runs["fails"]["folder"] / "stderr.log"
    assert "this scenario fails on purpose" in failed_log.read_text()
    assert "failed: fails (notebook cell 5: ValueError" in result.stderr and str(failed_log) in result.stderr
    assert "timed_out: hangs" in result.stderr and "kernel_died: crashes" in result.stderr
    for name in ("fails", "hangs", "crashes"):
        folder = out / runs[name]["folder"]
        assert not (folder / "result.json").exists()
        assert json.loads((folder / "status.json").read_text())["status"] == runs[name]["status"]
    table = pd.read_csv(out / "comparison.csv")
    assert set(table["scenario"]) == {"steady"}
    assert not any((out / ".in-progress").iterdir())


def test_a_kernel_that_cannot_start_is_retried_then_reported(tmp_path: Path) -> None:
    plan = plan_batch([FIXTURES / "steady.yaml"], SCENARIOS / "baseline.yaml", customers=500, months=6,
                      replications=2, notebook=MISBEHAVING)  # fmt: skip
    outcome = run_batch(plan, tmp_path / "batch", workers=1, progress=False, kernel_name="no-such-kernel")
    (record,) = outcome.records.values()
    assert record["status"] == "could_not_start" and len(record["attempts"]) == 3
    assert "no-such-kernel" in record["error"]


def test_a_killed_batch_resumes_with_only_the_missing_runs(tmp_path: Path) -> None:
    out = tmp_path / "batch"
    names = ("steady", "steady_too", "steady_three", "steady_four")
    command = [
        str(SIMLIB), "batch", *(str(FIXTURES / f"{n}.yaml") for n in names),
        "--baseline", str(SCENARIOS / "baseline.yaml"), "--out", str(out), *TINY,
        "--workers", "1", "--notebook", str(MISBEHAVING), "--quiet",
    ]  # fmt: skip
    batch = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        finished = [p for p in (out / "runs").glob("*") if p.is_dir()] if (out / "runs").exists() else []
        if finished:
            break
        time.sleep(0.2)
    os.kill(batch.pid, signal.SIGKILL)
    batch.wait()
    time.sleep(2.0)  # the orphaned worker and kernel notice and stop
    finished = sorted(p.name for p in (out / "runs").iterdir())
    assert 1 <= len(finished) < len(names)
    for name in finished:  # nothing in runs/ is a partial run
        assert json.loads((out / "runs" / name / "status.json").read_text())["status"] == "succeeded"
    before = {name: file_hashes(out / "runs" / name) for name in finished}

    refused = simlib_command(*command[1:])
    assert refused.returncode == 2 and "already holds a batch" in refused.stderr

    resumed = simlib_command(*command[1:], "--resume")
    assert resumed.returncode == 0, resumed.stderr
    for name in finished:
        assert file_hashes(out / "runs" / name) == before[name], "a finished run was touched"
    runs = json.loads((out / "manifest.json").read_text())["runs"]
    assert all(r["status"] == "succeeded" for r in runs)
    assert sorted(r["folder"].split("/")[1] for r in runs if r["reused"]) == finished
    assert len(list((out / "runs").iterdir())) == len(names)
    assert set(pd.read_csv(out / "comparison.csv")["scenario"]) == set(names)

    forced = simlib_command(*command[1:], "--force")
    assert forced.returncode == 0, forced.stderr
    (kept,) = (out / "previous").iterdir()
    for name in finished:
        assert file_hashes(kept / "runs" / name) == {
            path: (digest, mtime) for path, (digest, mtime) in before[name].items()
        }, "--force keeps earlier runs under previous/"


def test_hostile_scenario_names_cannot_escape_or_inject(tmp_path: Path) -> None:
    sneaky = tmp_path / "in" / "x\"; open('pwned', 'w'); '.yaml"
    sneaky.parent.mkdir()
    baseline = (SCENARIOS / "baseline.yaml").resolve()
    sneaky.write_text(
        f"extends: {json.dumps(str(baseline))}\n"
        "name: \"../../x'\\\"; import os; os.system('touch pwned') #\"\n"
        "fees:\n  monthly_fee: 26\n"
    )
    out = tmp_path / "work" / "batch"
    out.parent.mkdir()
    before = set(tmp_path.rglob("*"))
    result = simlib_command(
        "batch", sneaky, "--baseline", baseline, "--out", out, *TINY, "--notebook", MISBEHAVING, "--quiet"
    )
    assert result.returncode == 0, result.stderr
    created = set(tmp_path.rglob("*")) - before
    assert created and all(out in p.parents or p == out for p in created), sorted(created)
    assert (
        not list(tmp_path.rglob("pwned"))
        and not list(ROOT.glob("pwned"))
        and not list(FIXTURES.glob("pwned"))
    )
    (run,) = (out / "runs").iterdir()
    assert run.name.startswith("x-import-os-os-system-touch-pwned")
    params = json.loads((run / "params.json").read_text())
    assert params["scenario"] == str(sneaky.resolve())
    result_json = json.loads((run / "result.json").read_text())
    assert result_json["scenario_path"] == str(sneaky.resolve())
    assert result_json["scenario"] == "../../x'\"; import os; os.system('touch pwned') #"


def test_invalid_inputs_stop_before_anything_is_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "extends: " + json.dumps(str(SCENARIOS / "baseline.yaml")) + "\nfees:\n  monthly_fee: -3\n"
    )
    out = tmp_path / "batch"
    result = simlib_command("batch", bad, SCENARIOS / "penalty_fee.yaml",
                            "--baseline", SCENARIOS / "baseline.yaml",
                            "--out", out, *TINY)  # fmt: skip
    assert result.returncode == 2
    assert "bad.yaml" in result.stderr and "fees.monthly_fee" in result.stderr and "-3" in result.stderr
    assert not out.exists()
    twice = simlib_command("batch", SCENARIOS / "penalty_fee.yaml", SCENARIOS / "penalty_fee.yaml",
                           "--baseline", SCENARIOS / "baseline.yaml", "--out", out, *TINY)  # fmt: skip
    assert twice.returncode == 2 and "same run" in twice.stderr and not out.exists()


@pytest.mark.parametrize("flags", [("--resume", "--force")])
def test_resume_and_force_exclude_each_other(tmp_path: Path, flags: tuple[str, ...]) -> None:
    result = simlib_command("batch", SCENARIOS / "penalty_fee.yaml",
                            "--baseline", SCENARIOS / "baseline.yaml",
                            "--out", tmp_path / "b", *TINY, *flags)  # fmt: skip
    assert result.returncode == 2 and "exclude each other" in result.stderr


def test_ctrl_c_stops_the_batch_and_files_only_finished_runs(tmp_path: Path) -> None:
    out = tmp_path / "batch"
    names = ("steady", "steady_too", "steady_three")
    command = [
        str(SIMLIB), "batch", *(str(FIXTURES / f"{n}.yaml") for n in names),
        "--baseline", str(SCENARIOS / "baseline.yaml"), "--out", str(out), *TINY,
        "--workers", "1", "--notebook", str(MISBEHAVING), "--quiet",
    ]  # fmt: skip
    batch = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (out / "runs").exists():
        time.sleep(0.2)
    batch.send_signal(signal.SIGINT)
    _, stderr = batch.communicate(timeout=120)
    assert batch.returncode == 130, stderr
    assert "Traceback" not in stderr and "--resume" in stderr
    runs = json.loads((out / "manifest.json").read_text())["runs"]
    statuses = [r["status"] for r in runs]
    assert "interrupted" in statuses and set(statuses) <= {"succeeded", "interrupted"}
    filed = {p.name for p in (out / "runs").iterdir()}
    assert filed == {r["folder"].split("/")[1] for r in runs if r["status"] == "succeeded"}
    assert not (out / ".in-progress").exists() or not any((out / ".in-progress").iterdir())
