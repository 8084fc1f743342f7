"""Planning a batch: every input validated and each run's id and folder fixed before anything
executes. A run id is a digest of the notebook, both scenarios, the overrides, the sizes and the
versions (simlib's own source included), so ``--resume`` never keeps a run of other inputs or code."""

from __future__ import annotations

import hashlib
import json
import platform
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simlib import __version__
from simlib.errors import InputError, Problem, ScenarioError
from simlib.resources import shipped_notebook
from simlib.run.runner import RunSettings
from simlib.scenario.describe import unused_sizes
from simlib.scenario.scenario import Scenario, load

_NAME_LIMIT = 48


def safe_name(name: str) -> str:
    """A scenario name as a folder name: letters, digits, ``-`` and ``_`` only (no separators, no
    dots, so never ``..``), at most 48 characters; ``scenario`` if nothing is left."""
    text = unicodedata.normalize("NFKC", name)
    text = re.sub(r"[^\w-]+", "-", text).strip("-_")[:_NAME_LIMIT].strip("-_")
    return text or "scenario"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions that can change a run's numbers or its notebook's behaviour."""
    from importlib.metadata import version

    versions = {"python": platform.python_version(), "simlib": __version__, "simlib_source": source_digest()}
    for package in ("numpy", "numba", "pandas", "scipy", "pyarrow", "matplotlib", "papermill", "ipykernel"):
        versions[package] = version(package)
    return versions


def source_digest() -> str:
    """A digest of simlib's own code: a model change without a version bump is a new run, never
    a stale one resumed (``--resume`` keeps only runs of the same code)."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class PlannedRun:
    """One scenario's notebook run, fully determined before anything executes."""

    name: str
    folder: str
    run_id: str
    scenario_path: str
    scenario_sha256: str
    scenario_fingerprint: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class BatchPlan:
    """Validated inputs of a batch: the baseline, the runs, and what every run shares."""

    notebook: Path
    notebook_sha256: str
    baseline: Scenario
    baseline_sha256: str
    runs: tuple[PlannedRun, ...]
    sizes: dict[str, int]
    overrides: dict[str, Any]
    versions: dict[str, str]
    #: Lines worth telling the user before running (a reform's own sizes that are not used).
    notes: tuple[str, ...] = ()

    @property
    def batch_id(self) -> str:
        return hashlib.sha256(" ".join(sorted(r.run_id for r in self.runs)).encode()).hexdigest()[:12]


def plan_batch(
    scenarios: Sequence[str | Path],
    baseline: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    customers: int | None = None,
    months: int | None = None,
    replications: int | None = None,
    seed: int | None = None,
    notebook: str | Path | None = None,
) -> BatchPlan:
    """Validate every input and fix each run's id and folder; nothing is executed or written.

    Sizes and seed default to the baseline's ``simulation`` section. ``overrides`` apply to every
    scenario (not to the baseline), as ``--set`` does for ``simlib compare``.

    Raises
    ------
    ScenarioError, InputError
        Every problem in every file at once, one line each.
    """
    if not scenarios:
        raise InputError("name at least one scenario file")
    notebook = Path(notebook or shipped_notebook("scenario.ipynb")).resolve()
    if not notebook.is_file():
        raise InputError(f"notebook {notebook} not found")
    overrides = dict(overrides or {})
    problems: list[Problem] = []
    try:
        base = load(baseline)
    except ScenarioError as exc:
        problems += exc.problems
    loaded: list[tuple[Path, Scenario]] = []
    for path in scenarios:
        try:
            loaded.append((Path(path).resolve(), load(path, overrides or None)))
        except ScenarioError as exc:
            problems += exc.problems
    if problems:
        raise ScenarioError(problems)
    settings = RunSettings.resolve(base, customers, months, replications, seed)
    sizes = {
        "customers": settings.customers,
        "months": settings.months,
        "replications": settings.replications,
        "seed": settings.seed,
    }
    segments = [s.name for s in base.population.segments]
    notebook_sha256 = _sha256(notebook)
    versions = package_versions()
    runs: list[PlannedRun] = []
    given = {"customers": customers, "months": months, "replications": replications, "seed": seed}
    notes = tuple(note for _, scenario in loaded if (note := unused_sizes(scenario, base, given)))
    for path, scenario in loaded:
        try:
            RunSettings.resolve(scenario, settings.customers, settings.months, settings.replications)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        if [s.name for s in scenario.population.segments] != segments:
            raise InputError(f"{path}: must have the baseline's segments ({', '.join(segments)})")
        identity = {
            "notebook": notebook_sha256,
            "scenario": scenario.fingerprint(),
            "baseline": base.fingerprint(),
            "overrides": overrides,
            "sizes": sizes,
            "versions": versions,
        }
        run_id = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]
        parameters = {
            "scenario": str(path),
            "baseline": str(Path(baseline).resolve()),
            "overrides": overrides,
            **sizes,
        }
        runs.append(
            PlannedRun(
                name=scenario.name,
                folder=f"{safe_name(scenario.name)}-{run_id}",
                run_id=run_id,
                scenario_path=str(path),
                scenario_sha256=_sha256(path),
                scenario_fingerprint=scenario.fingerprint(),
                parameters=parameters,
            )
        )
    seen: dict[str, PlannedRun] = {}
    for run in runs:
        if run.run_id in seen:
            raise InputError(
                f"{run.scenario_path} and {seen[run.run_id].scenario_path} describe the same run; "
                "name it once"
            )
        seen[run.run_id] = run
    return BatchPlan(
        notebook=notebook,
        notebook_sha256=notebook_sha256,
        baseline=base,
        baseline_sha256=_sha256(Path(baseline)),
        runs=tuple(runs),
        sizes=sizes,
        overrides=overrides,
        versions=versions,
        notes=notes,
    )
