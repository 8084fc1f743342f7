"""Batches: the scenario notebook run once per scenario, in parallel, the way a nightly job must run.

A batch folder holds::

    manifest.json                    every run: id, inputs' hashes, seed, versions, status, timings
    comparison.csv / .parquet        paired differences to the baseline, one row per scenario × metric
    runs/<name>-<run id>/            params.json, notebook.ipynb (executed), result.json, status.json,
                                     stdout.log, stderr.log and the run's tables
    previous/<time>/                 earlier runs moved aside by --force or a retried failure
    .in-progress/                    runs being executed; never mistaken for results

A run is executed in a staging folder under ``.in-progress/`` and renamed into ``runs/`` only when it
has ended, with its ``status.json`` written: a folder in ``runs/`` is always a finished run, and one
whose status is ``succeeded`` always has a valid ``result.json``. Killing the batch loses at most the
runs in flight; ``--resume`` re-runs only what is missing or failed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from simlib import __version__
from simlib.analysis.frontier import frontier_table, plot_frontier
from simlib.errors import InputError, Problem, ScenarioError, os_problem
from simlib.files import remove_stale_temporaries, try_lock, write_atomic
from simlib.jupyter.execution import (
    COULD_NOT_START,
    FAILED,
    INFRASTRUCTURE,
    INTERRUPTED,
    KERNEL_DIED,
    SUCCEEDED,
    TIMED_OUT,
    AheadWorkers,
    ExecutionSpec,
)
from simlib.jupyter.notebook import RESULT_FILE
from simlib.lifeline import kill_process_group
from simlib.resources import shipped_notebook
from simlib.run.executors import describe as describe_executor
from simlib.run.executors import open_executor
from simlib.run.metrics import KEY_METRICS
from simlib.run.runner import RunSettings
from simlib.scenario.describe import unused_sizes
from simlib.scenario.scenario import Scenario, load

MANIFEST = "manifest.json"
STATUS = "status.json"
RUNS = "runs"
PREVIOUS = "previous"
IN_PROGRESS = ".in-progress"
RETRY_DELAYS_SECONDS = (1.0, 2.0)
_NAME_LIMIT = 48
_MOVED_INTO_RUN = ("params.json", "notebook.ipynb", "stdout.log", "stderr.log", "kernel.log")

logger = logging.getLogger(__name__)


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


# --- one run ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunTask:
    """What an executor needs to carry out one planned run (plain data: it may travel to Dask)."""

    run: PlannedRun
    notebook: str
    batch_folder: str
    timeout_seconds: float | None
    kernel_name: str | None = None


_live: dict[int, subprocess.Popen] = {}
#: Workers started ahead of their runs, while a local batch runs (None on Dask: cold starts there).
_ahead: AheadWorkers | None = None
_live_lock = threading.Lock()
#: Set when the batch is interrupted: runs in flight are abandoned, not retried or filed.
_stopping = threading.Event()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _stop_process_tree(process: subprocess.Popen, kernel_pid_file: Path) -> None:
    """Stop a worker and its kernel (which runs in a session of its own)."""
    kill_process_group(process.pid)
    with contextlib.suppress(OSError, ValueError):
        pid = int(kernel_pid_file.read_text())
        kill_process_group(pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def read_result(folder: Path, run: PlannedRun) -> tuple[dict[str, Any] | None, str | None]:
    """The run's ``result.json`` if it is valid for this run, else None and why."""
    path = folder / RESULT_FILE
    try:
        result = json.loads(path.read_text())
    except FileNotFoundError:
        return None, f"{RESULT_FILE} was not written"
    except (OSError, ValueError) as exc:
        return None, f"{RESULT_FILE} is not valid JSON ({exc})"
    if not isinstance(result, dict) or not isinstance(result.get("summary"), dict) or not result["summary"]:
        return None, f"{RESULT_FILE} has no summary"
    if result.get("scenario_fingerprint") != run.scenario_fingerprint:
        return None, f"{RESULT_FILE} is for another scenario"
    expected = {k: v for k, v in run.parameters.items() if k not in ("scenario", "baseline")}
    if result.get("parameters") != expected:
        return None, f"{RESULT_FILE} was written with other parameters"
    return result, None


def _attempt(task: RunTask, staging: Path) -> dict[str, Any]:
    """Execute the notebook once in ``staging``; return the outcome as a dict."""
    output = staging / "output"
    output.mkdir(parents=True)
    parameters = {**task.run.parameters, "output_dir": str(output)}
    write_atomic(staging / "params.json", lambda p: Path(p).write_text(json.dumps(parameters, indent=2)))
    spec = ExecutionSpec(
        notebook=task.notebook,
        output_notebook=str(staging / "notebook.ipynb"),
        parameters=parameters,
        cwd=str(Path(task.notebook).parent),
        stdout_log=str(staging / "stdout.log"),
        stderr_log=str(staging / "stderr.log"),
        kernel_pid_file=str(staging / "kernel.pid"),
        outcome_file=str(staging / "outcome.json"),
        kernel_name=task.kernel_name,
    )
    spec_file = staging / "spec.json"
    spec_file.write_text(json.dumps(asdict(spec)))
    started = time.monotonic()
    with open(staging / "worker.log", "w") as worker_log:
        ahead = _ahead
        if ahead is not None and ahead.notebook == str(Path(task.notebook).resolve()):
            # A worker started ahead of this run: its imports are done and its fresh kernel is up.
            process = ahead.hand(spec_file)
        else:
            process = subprocess.Popen(
                [sys.executable, "-m", "simlib.jupyter.execution", str(spec_file)],
                stdout=worker_log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        with _live_lock:
            _live[process.pid] = process
        try:
            process.wait(timeout=task.timeout_seconds)
        except BaseException as exc:
            # Ctrl-C or a time limit: the worker and its kernel stop with this attempt.
            _stop_process_tree(process, staging / "kernel.pid")
            if not isinstance(exc, subprocess.TimeoutExpired):
                raise
            return {
                "status": TIMED_OUT,
                "error": f"stopped after the {task.timeout_seconds:g} s time limit",
                "cell": None,
                "seconds": round(time.monotonic() - started, 3),
            }
        finally:
            with _live_lock:
                _live.pop(process.pid, None)
    try:
        outcome = json.loads((staging / "outcome.json").read_text())
    except (OSError, ValueError):
        started_kernel = (staging / "kernel.pid").exists()
        outcome = {
            "status": KERNEL_DIED if started_kernel else COULD_NOT_START,
            "error": f"the worker process ended with code {process.returncode} before reporting",
            "cell": None,
            "seconds": round(time.monotonic() - started, 3),
        }
    if outcome["status"] == SUCCEEDED:
        _, problem = read_result(output, task.run)
        if problem:
            outcome = {**outcome, "status": FAILED, "error": f"the notebook finished but {problem}"}
    return outcome


def _move_aside(folder: Path, batch_folder: Path, stamp: str) -> None:
    """Keep an earlier run folder under ``previous/<stamp>/`` instead of replacing it."""
    target = batch_folder / PREVIOUS / stamp / folder.name
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(folder, target)


def execute_run(task: RunTask) -> dict[str, Any]:
    """Carry out one run with retries for infrastructure failures; return its status record.

    The finished run folder appears in ``runs/`` in one rename, with ``status.json`` already in it.
    """
    batch = Path(task.batch_folder)
    run = task.run
    record: dict[str, Any] = {
        "run_id": run.run_id,
        "scenario": run.name,
        "folder": f"{RUNS}/{run.folder}",
        "started": _now(),
        "attempts": [],
    }
    started = time.monotonic()
    staging = None
    for attempt in range(len(RETRY_DELAYS_SECONDS) + 1):
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        staging = batch / IN_PROGRESS / f"{run.folder}.{uuid.uuid4().hex[:8]}"
        try:
            outcome = _attempt(task, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        record["attempts"].append(outcome)
        if _stopping.is_set():
            shutil.rmtree(staging, ignore_errors=True)
            return {**record, "status": INTERRUPTED, "error": "the batch was interrupted"}
        if outcome["status"] not in INFRASTRUCTURE or attempt == len(RETRY_DELAYS_SECONDS):
            break
        time.sleep(RETRY_DELAYS_SECONDS[attempt])
    for name in _MOVED_INTO_RUN:
        if (staging / name).exists():
            os.rename(staging / name, staging / "output" / name)
    final = staging / "output"
    record.update(
        status=outcome["status"],
        error=outcome.get("error"),
        cell=outcome.get("cell"),
        log=f"{RUNS}/{run.folder}/stderr.log",
        finished=_now(),
        seconds=round(time.monotonic() - started, 3),
    )
    logger.info("run %s: %s in %.1f s", run.folder, record["status"], record["seconds"])
    write_atomic(final / STATUS, lambda p: Path(p).write_text(json.dumps(record, indent=2)))
    destination = batch / RUNS / run.folder
    destination.parent.mkdir(exist_ok=True)
    if destination.exists():
        _move_aside(destination, batch, datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f"))
    os.rename(final, destination)
    shutil.rmtree(staging, ignore_errors=True)
    return record


def finished_record(batch_folder: Path, run: PlannedRun) -> dict[str, Any] | None:
    """The status record of a finished, successful run of exactly this id with a valid result."""
    record = _filed_record(batch_folder, run)
    if record is None or record.get("status") != SUCCEEDED:
        return None
    result, _ = read_result(batch_folder / RUNS / run.folder, run)
    return record if result is not None else None


# --- the batch -------------------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    """What a batch run did: every run's record, and where things are."""

    folder: Path
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r["status"] != SUCCEEDED]

    @property
    def succeeded(self) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r["status"] == SUCCEEDED]


_NOT_CONTENT = {".lock", IN_PROGRESS}


def _check_contents(folder: Path, resume: bool, force: bool) -> None:
    """Refuse a folder holding something other than a batch, or a batch without resume or force.
    Checked again once the folder is locked: another batch may have filled it in between."""
    if any(p.name not in _NOT_CONTENT for p in folder.iterdir()):
        if not (folder / MANIFEST).exists() and not (folder / RUNS).exists():
            raise InputError(f"{folder} already holds files that are not a batch; choose another folder")
        if not (resume or force):
            raise InputError(
                f"{folder} already holds a batch; --resume to finish it, --force to run every scenario "
                "again (earlier runs are kept under previous/), or choose another folder"
            )


def _prepare_folder(folder: Path, resume: bool, force: bool) -> None:
    if resume and force:
        raise InputError("--resume and --force exclude each other: resume keeps runs, force redoes them")
    try:
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{folder} exists and is not a folder")
        if folder.is_dir():
            _check_contents(folder, resume, force)
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: cannot be used as the batch folder: {os_problem(exc)}") from None


@contextlib.contextmanager
def locked_batch_folder(folder: Path, resume: bool = True, force: bool = False) -> Iterator[None]:
    """Hold the batch folder: one batch at a time, and the folder checked again under the lock."""
    try:
        handle = open(folder / ".lock", "a")  # noqa: SIM115 - closed below, after the batch
    except OSError as exc:
        raise InputError(f"{folder}: cannot be used as the batch folder: {os_problem(exc)}") from None
    with handle:
        if not try_lock(handle):
            raise InputError(f"another batch or briefing is being written in {folder}") from None
        _check_contents(folder, resume, force)
        # A write killed half-way left a temporary file; nothing else is writing now.
        remove_stale_temporaries(folder)
        yield


def _manifest(plan: BatchPlan, outcome: BatchOutcome, executor: str, created: str) -> dict[str, Any]:
    runs = []
    for run in plan.runs:
        record = outcome.records.get(run.run_id, {"status": "pending"})
        runs.append(
            {
                "scenario": run.name,
                "run_id": run.run_id,
                "folder": f"{RUNS}/{run.folder}",
                "scenario_path": run.scenario_path,
                "scenario_sha256": run.scenario_sha256,
                "scenario_fingerprint": run.scenario_fingerprint,
                "seed": run.parameters["seed"],
                **{k: record.get(k) for k in ("status", "error", "cell", "started", "finished", "seconds")},
                "attempts": len(record.get("attempts", [])),
                "reused": bool(record.get("reused")),
            }
        )
    counts: dict[str, int] = {}
    for entry in runs:
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    return {
        "batch_id": plan.batch_id,
        "created": created,
        "updated": _now(),
        "notebook": {"path": str(plan.notebook), "sha256": plan.notebook_sha256},
        "baseline": {
            "name": plan.baseline.name,
            "path": str(plan.baseline.path.resolve()) if plan.baseline.path else None,
            "sha256": plan.baseline_sha256,
            "fingerprint": plan.baseline.fingerprint(),
        },
        "parameters": {**plan.sizes, "overrides": plan.overrides},
        "executor": executor,
        "versions": plan.versions,
        "counts": counts,
        "runs": runs,
    }


def comparison_table(batch_folder: Path, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per succeeded scenario × metric: baseline, reform and paired difference with their
    90% intervals, read from each run's ``result.json``."""
    frames = []
    for record in records:
        if record.get("status") != SUCCEEDED:
            continue
        result = json.loads((batch_folder / record["folder"] / RESULT_FILE).read_text())
        frame = pd.DataFrame.from_dict(result["summary"], orient="index")
        frame.index.name = "metric"
        frame = frame.reset_index()
        frame.insert(0, "run_id", record["run_id"])
        frame.insert(0, "scenario", record["scenario"])
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["scenario", "run_id", "metric"])
    return pd.concat(frames, ignore_index=True)


def _write_tables(plan: BatchPlan, outcome: BatchOutcome, executor: str, created: str) -> None:
    folder = outcome.folder
    manifest = _manifest(plan, outcome, executor, created)
    ordered = [outcome.records[r.run_id] for r in plan.runs if r.run_id in outcome.records]
    table = comparison_table(folder, ordered)
    write_atomic(folder / "comparison.csv", lambda p: table.to_csv(p, index=False))
    write_atomic(folder / "comparison.parquet", lambda p: table.to_parquet(p, index=False))
    write_atomic(folder / MANIFEST, lambda p: Path(p).write_text(json.dumps(manifest, indent=2)))


def run_batch(
    plan: BatchPlan,
    folder: str | Path,
    *,
    workers: int | None = None,
    timeout_seconds: float | None = None,
    resume: bool = False,
    force: bool = False,
    scheduler: str | None = None,
    progress: bool = True,
    kernel_name: str | None = None,
) -> BatchOutcome:
    """Execute every planned run not already finished, several at once, and gather the results.

    Parameters
    ----------
    plan : from :func:`plan_batch`.
    folder : the batch folder. A folder holding a batch is only touched with ``resume`` (skip runs
        whose id and valid result exist) or ``force`` (run everything again; earlier runs are moved
        under ``previous/``).
    workers : runs at once (0 or None: one per core); Dask workers with ``scheduler="local"``.
    timeout_seconds : wall-clock limit per run; a run over it is stopped, kernel included.
    scheduler : None (local processes), ``"local"`` (a Dask ``LocalCluster``) or a Dask address.
    kernel_name : the notebook's kernel unless given.

    Returns
    -------
    BatchOutcome
        Also when runs failed; ``interrupted`` is set if Ctrl-C stopped it.
    """
    folder = Path(folder)
    _prepare_folder(folder, resume, force)
    executor_name = describe_executor(workers, scheduler)
    outcome = BatchOutcome(folder)
    with locked_batch_folder(folder, resume, force):
        shutil.rmtree(folder / IN_PROGRESS, ignore_errors=True)
        created = _now()
        if force:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            for name in (RUNS, MANIFEST, "comparison.csv", "comparison.parquet"):
                if (folder / name).exists():
                    _move_aside(folder / name, folder, stamp)
        elif (folder / MANIFEST).exists():
            with contextlib.suppress(OSError, ValueError):
                created = json.loads((folder / MANIFEST).read_text()).get("created", created)
        pending: list[PlannedRun] = []
        for run in plan.runs:
            record = finished_record(folder, run) if resume else None
            if record is not None:
                outcome.records[run.run_id] = {**record, "reused": True}
            else:
                pending.append(run)
        _write_tables(plan, outcome, executor_name, created)
        _execute_all(
            plan, pending, outcome, folder, workers, timeout_seconds, scheduler, progress, kernel_name
        )
        outcome.records = {
            r.run_id: outcome.records[r.run_id] for r in plan.runs if r.run_id in outcome.records
        }
        _write_tables(plan, outcome, executor_name, created)
    return outcome


def _execute_all(
    plan: BatchPlan,
    pending: list[PlannedRun],
    outcome: BatchOutcome,
    folder: Path,
    workers: int | None,
    timeout_seconds: float | None,
    scheduler: str | None,
    progress: bool,
    kernel_name: str | None,
) -> None:
    from tqdm.auto import tqdm

    if not pending:
        return
    executor_name = describe_executor(workers, scheduler)
    bar = tqdm(total=len(pending), unit=" runs", disable=not progress, desc="batch", smoothing=0.2)
    tasks = [
        RunTask(r, str(plan.notebook), str(folder.resolve()), timeout_seconds, kernel_name) for r in pending
    ]
    _stopping.clear()
    ahead = _workers_ahead(plan, folder, len(tasks), workers, scheduler, kernel_name)
    with bar, ahead, open_executor(workers, scheduler, kind="thread") as executor:
        futures: dict[Future, RunTask] = {}
        try:
            for task in tasks:
                futures[executor.submit(execute_run, task)] = task
            waiting = set(futures)
            bar.set_postfix(running=min(len(waiting), _slots(workers, scheduler)), failed=0)
            while waiting:
                done, waiting = wait(waiting, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    task = futures[future]
                    try:
                        record = future.result()
                    except Exception as exc:
                        record = {
                            "run_id": task.run.run_id,
                            "scenario": task.run.name,
                            "folder": f"{RUNS}/{task.run.folder}",
                            "status": FAILED,
                            "error": f"the batch could not carry out this run: {type(exc).__name__}: {exc}",
                            "attempts": [],
                        }
                    outcome.records[task.run.run_id] = record
                    bar.update(1)
                if done:
                    _write_tables(plan, outcome, executor_name, _now())
                bar.set_postfix(
                    running=min(len(waiting), _slots(workers, scheduler)),
                    failed=len(outcome.failed),
                    # Redrawn each second only on a terminal: in a log file, once per finished run.
                    refresh=bool(done) or sys.stderr.isatty(),
                )
        except KeyboardInterrupt:
            outcome.interrupted = True
            _stopping.set()
            for future in futures:
                future.cancel()
            with _live_lock:
                live = list(_live.values())
            for process in live:
                kill_process_group(process.pid)
    if outcome.interrupted:
        # Workers have stopped (the executor is shut down): what is filed in runs/ is what finished.
        for task in tasks:
            if task.run.run_id not in outcome.records:
                outcome.records[task.run.run_id] = _filed_record(folder, task.run) or {
                    "run_id": task.run.run_id,
                    "scenario": task.run.name,
                    "folder": f"{RUNS}/{task.run.folder}",
                    "status": INTERRUPTED,
                    "error": "the batch was interrupted",
                }


@contextlib.contextmanager
def _workers_ahead(
    plan: BatchPlan,
    folder: Path,
    runs: int,
    workers: int | None,
    scheduler: str | None,
    kernel_name: str | None,
) -> Iterator[None]:
    """Keep a worker (with its fresh kernel) started ahead for each run slot of a local batch, so
    each next run starts at once; on Dask the workers start cold on the cluster's machines."""
    global _ahead
    if scheduler is not None:
        yield
        return
    # One more than the runs at once: a worker's warm-up (imports, kernel, engine; ~5 s of CPU) can
    # take longer than a fast run, and the next run should not wait for it.
    spares = _slots(workers, None) + 1
    pool = AheadWorkers(str(plan.notebook), kernel_name, folder / IN_PROGRESS, runs, spares)
    _ahead = pool
    try:
        yield
    finally:
        _ahead = None
        pool.close()


def _filed_record(batch_folder: Path, run: PlannedRun) -> dict[str, Any] | None:
    """The status record of a run of exactly this id filed in runs/, whatever its status."""
    try:
        record = json.loads((batch_folder / RUNS / run.folder / STATUS).read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("run_id") == run.run_id else None


def _slots(workers: int | None, scheduler: str | None) -> int:
    from simlib.run.executors import resolve_workers

    return resolve_workers(workers) if scheduler in (None, "local") else 1_000_000


# --- reading a finished batch ----------------------------------------------------------------------


class BatchResult:
    """A finished (or partly finished) batch folder, read back: manifest, comparison, changes."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        try:
            self.manifest: dict[str, Any] = json.loads((self.folder / MANIFEST).read_text())
        except FileNotFoundError:
            raise InputError(f"{self.folder} is not a batch folder (no {MANIFEST})") from None
        self.comparison: pd.DataFrame = pd.read_parquet(self.folder / "comparison.parquet")

    @property
    def runs(self) -> pd.DataFrame:
        """One row per run: scenario, id, status, error, timings."""
        columns = ["scenario", "run_id", "status", "error", "cell", "seconds", "attempts", "reused", "folder"]
        return pd.DataFrame(self.manifest["runs"])[columns].set_index("scenario")

    def result(self, scenario: str) -> dict[str, Any]:
        """The ``result.json`` of a succeeded run."""
        entry = next(r for r in self.manifest["runs"] if r["scenario"] == scenario)
        return json.loads((self.folder / entry["folder"] / RESULT_FILE).read_text())

    @property
    def scenarios(self) -> list[str]:
        """Succeeded scenarios, in batch order."""
        return [r["scenario"] for r in self.manifest["runs"] if r["status"] == SUCCEEDED]

    def differences(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """Paired differences (reform − baseline) with 90% intervals, one row per scenario × metric."""
        table = self.comparison
        if metrics is not None:
            table = table[table["metric"].isin(metrics)]
        columns = ["scenario", "metric", "difference_mean", "difference_low", "difference_high", "unit"]
        return table[columns].set_index(["scenario", "metric"])

    def key_numbers(self, metrics: Sequence[str] = KEY_METRICS) -> pd.DataFrame:
        """One row per scenario, one column per metric: the paired difference to the baseline as
        ``mean [low, high]`` (90% interval), in each metric's unit."""
        from simlib.style.numbers import estimate

        table = self.differences(metrics)
        frame = pd.DataFrame(
            {
                metric: {
                    scenario: estimate(
                        row["difference_mean"],
                        row["difference_low"],
                        row["difference_high"],
                        "share" if str(row["unit"]).startswith("share") else "",
                        signed=True,
                    )
                    for (scenario, name), row in table.iterrows()
                    if name == metric
                }
                for metric in metrics
            }
        )
        frame.columns = [f"Δ {m.replace('_', ' ')}" for m in metrics]
        return frame.reindex(self.scenarios)

    def changes(self) -> pd.DataFrame:
        """Per scenario, the parameters that differ from the baseline, with both values and units."""
        rows = []
        for scenario in self.scenarios:
            for change in self.result(scenario).get("changes", []):
                rows.append(
                    {
                        "scenario": scenario,
                        "parameter": change["parameter"],
                        "baseline_value": change.get("baseline"),
                        "scenario_value": change.get("scenario"),
                        "unit": change.get("unit"),
                    }
                )
        return pd.DataFrame(
            rows, columns=["scenario", "parameter", "baseline_value", "scenario_value", "unit"]
        )

    def frontier(self, revenue: str = "net_revenue", complaints: str = "complaints_per_1000") -> pd.DataFrame:
        """Per scenario, the paired differences of revenue and complaint rate, and whether the
        scenario is on the frontier (no other has more revenue and fewer complaints)."""
        return frontier_table(self.comparison, revenue, complaints)

    def plot_frontier(
        self, ax: Any = None, revenue: str = "net_revenue", complaints: str = "complaints_per_1000"
    ):
        """Revenue against complaint-rate differences with 90% intervals; the frontier joined."""
        return plot_frontier(self.frontier(revenue, complaints), ax=ax)
