"""Executing runs: one notebook run in a staging folder under ``.in-progress/``, retried after an
infrastructure failure and filed into ``runs/`` in one rename; many at once on an executor, with
workers started ahead; Ctrl-C or a time limit stops each worker's whole process tree."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from simlib.batch.folders import IN_PROGRESS, RUNS, STATUS, move_aside, now, stamp
from simlib.batch.plan import BatchPlan, PlannedRun
from simlib.batch.results import BatchOutcome, write_tables
from simlib.files import write_atomic
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
from simlib.run.executors import describe as describe_executor
from simlib.run.executors import open_executor

RETRY_DELAYS_SECONDS = (1.0, 2.0)
_MOVED_INTO_RUN = ("params.json", "notebook.ipynb", "stdout.log", "stderr.log", "kernel.log")

logger = logging.getLogger(__name__)


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
        "started": now(),
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
        finished=now(),
        seconds=round(time.monotonic() - started, 3),
    )
    logger.info("run %s: %s in %.1f s", run.folder, record["status"], record["seconds"])
    write_atomic(final / STATUS, lambda p: Path(p).write_text(json.dumps(record, indent=2)))
    destination = batch / RUNS / run.folder
    destination.parent.mkdir(exist_ok=True)
    if destination.exists():
        move_aside(destination, batch, stamp())
    os.rename(final, destination)
    shutil.rmtree(staging, ignore_errors=True)
    return record


def finished_record(batch_folder: Path, run: PlannedRun) -> dict[str, Any] | None:
    """The status record of a finished, successful run of exactly this id with a valid result."""
    record = filed_record(batch_folder, run)
    if record is None or record.get("status") != SUCCEEDED:
        return None
    result, _ = read_result(batch_folder / RUNS / run.folder, run)
    return record if result is not None else None


def execute_runs(
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
    """Carry out the ``pending`` runs several at once, recording each in ``outcome`` and rewriting
    the batch's tables after every finished run; Ctrl-C stops every worker and marks the runs not
    filed as interrupted."""
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
                    write_tables(plan, outcome, executor_name, now())
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
                outcome.records[task.run.run_id] = filed_record(folder, task.run) or {
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


def filed_record(batch_folder: Path, run: PlannedRun) -> dict[str, Any] | None:
    """The status record of a run of exactly this id filed in runs/, whatever its status."""
    try:
        record = json.loads((batch_folder / RUNS / run.folder / STATUS).read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("run_id") == run.run_id else None


def _slots(workers: int | None, scheduler: str | None) -> int:
    from simlib.run.executors import resolve_workers

    return resolve_workers(workers) if scheduler in (None, "local") else 1_000_000
