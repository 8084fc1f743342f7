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

This module runs a batch (:func:`run_batch`) from a plan (:mod:`simlib.batch.plan`) in its folder
(:mod:`simlib.batch.folders`), executing the runs (:mod:`simlib.batch.execute`) and writing the
tables (:mod:`simlib.batch.results`); the public names of all of them are importable from here.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

from simlib.batch.execute import (
    RETRY_DELAYS_SECONDS,
    RunTask,
    execute_run,
    execute_runs,
    finished_record,
    read_result,
)
from simlib.batch.folders import (
    IN_PROGRESS,
    MANIFEST,
    PREVIOUS,
    RUNS,
    STATUS,
    locked_batch_folder,
    move_aside,
    now,
    prepare_folder,
    stamp,
)
from simlib.batch.plan import BatchPlan, PlannedRun, package_versions, plan_batch, safe_name, source_digest
from simlib.batch.results import BatchOutcome, BatchResult, comparison_table, write_tables
from simlib.run.executors import describe as describe_executor


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
    prepare_folder(folder, resume, force)
    executor_name = describe_executor(workers, scheduler)
    outcome = BatchOutcome(folder)
    with locked_batch_folder(folder, resume, force):
        shutil.rmtree(folder / IN_PROGRESS, ignore_errors=True)
        created = now()
        if force:
            moved_at = stamp()
            for name in (RUNS, MANIFEST, "comparison.csv", "comparison.parquet"):
                if (folder / name).exists():
                    move_aside(folder / name, folder, moved_at)
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
        write_tables(plan, outcome, executor_name, created)
        execute_runs(
            plan, pending, outcome, folder, workers, timeout_seconds, scheduler, progress, kernel_name
        )
        outcome.records = {
            r.run_id: outcome.records[r.run_id] for r in plan.runs if r.run_id in outcome.records
        }
        write_tables(plan, outcome, executor_name, created)
    return outcome


__all__ = [
    "IN_PROGRESS",
    "MANIFEST",
    "PREVIOUS",
    "RETRY_DELAYS_SECONDS",
    "RUNS",
    "STATUS",
    "BatchOutcome",
    "BatchPlan",
    "BatchResult",
    "PlannedRun",
    "RunTask",
    "comparison_table",
    "execute_run",
    "finished_record",
    "locked_batch_folder",
    "package_versions",
    "plan_batch",
    "read_result",
    "run_batch",
    "safe_name",
    "source_digest",
]
