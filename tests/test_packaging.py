"""simlib as an installed package: the wheel in a fresh environment, `python -m simlib`, shipped
notebooks and scenarios found from anywhere, a portable import, and one line for a missing extra."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from simlib.extras import EXTRAS, MissingExtraError, missing_modules, require
from simlib.resources import input_path, nearest_folder, shipped_notebook, shipped_scenarios

ROOT = Path(__file__).resolve().parents[1]


def python(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300):
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout,
        check=False,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_python_dash_m_runs_the_command_line(tmp_path: Path) -> None:
    result = python("-m", "simlib", "validate", str(ROOT / "scenarios" / "penalty_fee.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")


def test_the_command_line_starts_where_fcntl_does_not_exist(tmp_path: Path) -> None:
    """Windows has no fcntl: importing simlib and validating a scenario must not need it (locks are
    taken through :func:`simlib.files.try_lock`, which imports the platform's module when called)."""
    script = (
        "import sys; sys.modules['fcntl'] = None\n"
        "from click.testing import CliRunner\n"
        "import simlib.cli.main, simlib.batch.batch, simlib.files, simlib.jupyter.execution\n"
        f"baseline = {str(ROOT / 'scenarios' / 'baseline.yaml')!r}\n"
        "result = CliRunner().invoke(simlib.cli.main.main, ['validate', baseline])\n"
        "print(result.exit_code, result.output)\n"
    )
    result = python("-c", script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("0 ok: "), result.stdout


def test_shipped_folders_are_found_without_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert (shipped_scenarios() / "baseline.yaml").is_file()
    assert shipped_notebook("scenario.ipynb").is_file()
    # A bare name falls back to the shipped file; the user's own file of that name wins.
    assert input_path("baseline.yaml") == shipped_scenarios() / "baseline.yaml"
    (tmp_path / "baseline.yaml").write_text("name: mine\n")
    assert input_path("baseline.yaml") == Path("baseline.yaml")
    assert input_path("history/retention.csv").is_file()
    assert input_path("nowhere.yaml") == Path("nowhere.yaml")  # the reader's error names it
    # A batch folder is also looked for in the parent folder (notebooks/ beside outputs/), no higher.
    (tmp_path / "outputs" / "demo").mkdir(parents=True)
    (tmp_path / "notebooks" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks")
    assert nearest_folder("outputs/demo").resolve() == (tmp_path / "outputs" / "demo").resolve()
    monkeypatch.chdir(tmp_path / "notebooks" / "deeper")
    assert nearest_folder("outputs/demo") == Path("outputs/demo")


def test_notebook_defaults_name_no_folder_relative_to_notebooks() -> None:
    """Every notebook's parameters resolve from any working folder: no '../' default."""
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        parameters = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
        assert "../" not in "".join(parameters["source"]), notebook.name


def test_a_missing_extra_stops_with_one_line_naming_it(tmp_path: Path) -> None:
    assert missing_modules("batch") == []
    script = (
        "import sys; sys.modules['SALib'] = None\n"
        "from click.testing import CliRunner\n"
        "import simlib.cli.main\n"
        "result = CliRunner().invoke(simlib.cli.main.main, ['sensitivity', "
        f"{str(ROOT / 'scenarios' / 'baseline.yaml')!r}, '--out', {str(tmp_path / 'out')!r}])\n"
        "print(result.exit_code); print(result.output)\n"
    )
    result = python("-c", script, cwd=tmp_path)
    code, *lines = result.stdout.strip().splitlines()
    assert code == "2"
    expected = 'simlib sensitivity needs SALib, which is not installed: pip install "simlib[sensitivity]"'
    assert lines == [f"error: {expected}"]


def test_require_names_every_missing_module(monkeypatch) -> None:
    monkeypatch.setitem(EXTRAS, "demo-only", ("json", "no_such_module_a", "no_such_module_b"))
    with pytest.raises(MissingExtraError, match=r"needs no_such_module_a, no_such_module_b, which are not"):
        require("demo-only", "a feature")


def test_scenarios_init_copies_the_shipped_scenarios(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    result = python("-m", "simlib", "scenarios", "init", str(target), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shipped = sorted(p.relative_to(shipped_scenarios()) for p in shipped_scenarios().rglob("*.yaml"))
    assert sorted(p.relative_to(target) for p in target.rglob("*.yaml")) == shipped
    assert (target / "history" / "retention.csv").is_file()
    again = python("-m", "simlib", "scenarios", "init", str(target), cwd=tmp_path)
    assert again.returncode == 2 and "already holds files" in again.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    result = python("-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT), timeout=600)
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("simlib-*.whl")
    return built


def test_the_wheel_carries_the_engine_notebooks_and_scenarios(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "simlib/model/engine.py" in names
    assert "simlib/shipped/notebooks/scenario.ipynb" in names
    assert "simlib/shipped/scenarios/baseline.yaml" in names
    assert "simlib/shipped/scenarios/history/retention.csv" in names
    assert "simlib/report/templates/briefing.html" in names
    assert "simlib/report/messages/parameters.zh.yaml" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".nbi", ".nbc"))]
    assert not [n for n in names if ".ipynb_checkpoints" in n or "/outputs/" in n]


@pytest.mark.slow
def test_the_wheel_installed_in_a_fresh_environment_runs_the_demo(wheel: Path, tmp_path: Path) -> None:
    """pip install the wheel (with the report extra, at the locked versions) into a new virtual
    environment outside the checkout, then from an empty folder: `simlib demo` (every shipped
    policy as a batch, and the briefing) and `simlib scenarios init`. Nothing of the checkout is on
    the path."""
    venv = tmp_path / "venv"
    made = python("-m", "venv", str(venv), timeout=300)
    assert made.returncode == 0, made.stderr
    bin_dir = venv / "bin"
    install = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "requirements.lock"),
         f"{wheel}[report]"],
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    work = tmp_path / "empty"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"

    def simlib(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(bin_dir / "simlib"), *args], capture_output=True, text=True, cwd=work, env=env,
            timeout=900, check=False,
        )  # fmt: skip
        assert "Traceback" not in done.stderr, done.stderr
        return done

    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import simlib; print(simlib.__file__)"],
        capture_output=True, text=True, cwd=work, env=env, check=True,
    )  # fmt: skip
    assert str(venv) in where.stdout and str(ROOT) not in where.stdout
    # The README's first command after installing: the whole demo from an empty folder, on the
    # shipped scenarios (every policy as a notebook batch, then the briefing), at a tiny size.
    demo = simlib("demo", "--customers", "300", "--months", "8", "--replications", "2", "--workers", "2",
                  "--quiet")  # fmt: skip
    assert demo.returncode == 0, demo.stderr + demo.stdout
    folder = work / "outputs" / "demo"
    shipped = [p for p in (ROOT / "scenarios").glob("*.yaml") if p.name != "baseline.yaml"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["runs"]) == len(shipped)
    assert {r["status"] for r in manifest["runs"]} == {"succeeded"}
    html = (folder / "briefing.html").read_text(encoding="utf-8")
    assert "penalty" in html.lower() and 'data-section="decision"' in html
    assert "收益与代价" in (folder / "briefing.zh.html").read_text(encoding="utf-8")  # and in Chinese
    # Then the user's own copy of the scenarios, to edit.
    assert simlib("scenarios", "init", "scenarios").returncode == 0
    assert simlib("validate", "scenarios/penalty_fee.yaml").returncode == 0


def test_shipped_scenarios_name_the_shipped_json_schema() -> None:
    """Editors (the YAML language server) complete and check keys from scenarios/scenario.schema.json,
    which is json_schema() as of now (regenerate: simlib schema > scenarios/scenario.schema.json)."""
    from simlib.scenario.scenario import json_schema

    folder = ROOT / "scenarios"
    assert json.loads((folder / "scenario.schema.json").read_text(encoding="utf-8")) == json_schema()
    for path in sorted(folder.glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=scenario.schema.json", path.name


def test_environment_variables_set_options_but_never_force_or_roots(tmp_path: Path) -> None:
    """SIMLIB_<COMMAND>_<NAME> sets an option; a stray SIMLIB_RUN_FORCE never replaces results, and
    SIMLIB_SCENARIO_ROOTS is read once, by the scenario loader (not fed back as --scenario-root)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.txt").write_text("earlier results")
    env = {**os.environ, "SIMLIB_RUN_CUSTOMERS": "300", "SIMLIB_RUN_FORCE": "1",
           "SIMLIB_SCENARIO_ROOTS": "relative/root"}  # fmt: skip
    scenario = str(ROOT / "scenarios" / "baseline.yaml")
    refused = python("-m", "simlib", "run", scenario, "--months", "2", "--replications", "2",
                     "--out", str(out), "--quiet", cwd=tmp_path, env=env)  # fmt: skip
    assert refused.returncode == 2 and "already holds files" in refused.stderr
    ran = python("-m", "simlib", "run", scenario, "--months", "2", "--replications", "2",
                 "--format", "json", "--quiet", cwd=tmp_path, env=env)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["customers"] == 300
