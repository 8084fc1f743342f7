"""Notebook batches and the briefing: ``batch``, ``brief`` and ``demo``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from simlib.cli.options import (
    echo,
    force_option,
    friendly_errors,
    overrides,
    refuse_resume,
    resume_option,
    scheduler_option,
    set_option,
    with_sample_options,
)

if TYPE_CHECKING:
    from simlib.batch.batch import BatchOutcome

brief_options = [
    click.option("--lang", "language", type=click.Choice(["en", "zh"]), default="en", show_default=True),
    click.option("--title", help="Headline title (default: the catalogue's)."),
    click.option(
        "--max-complaints-per-1000",
        type=click.FloatRange(min=0),
        help="Recommend only policies with at most this many complaints per 1,000 customers a month.",
    ),
    click.option(
        "--max-monthly-churn",
        type=click.FloatRange(min=0, max=1),
        help="Recommend only policies whose monthly churn is at most this share (0.02 = 2%).",
    ),
    click.option(
        "--allow-breaches",
        is_flag=True,
        help="Also recommend policies with compliance breaches.",
        allow_from_autoenv=False,
    ),
    click.option(
        "--objective",
        type=click.Choice(["npv_net_revenue", "net_revenue"]),
        default="npv_net_revenue",
        show_default=True,
        help="What the recommendation maximises (paired difference to the baseline).",
    ),
]


def with_brief_options(command: Callable) -> Callable:
    """Language, title, constraints and objective of the briefing."""
    for option in reversed(brief_options):
        command = option(command)
    return command


RESUME_RUNS = "Keep finished runs; run only what is missing or failed."


def _brief(folder: str | Path, force: bool, **options: Any) -> None:
    import contextlib

    from simlib.extras import require

    require("report", "simlib brief")
    from simlib.analysis.recommend import Constraints
    from simlib.batch.batch import MANIFEST, locked_batch_folder
    from simlib.report.briefing import write_briefing

    # The batch folder's lock: one batch or briefing writes a folder at a time (a folder that is
    # no batch is left untouched: write_briefing says what is wrong with it).
    batch_folder = (Path(folder) / MANIFEST).is_file()
    with locked_batch_folder(Path(folder)) if batch_folder else contextlib.nullcontext():
        files = write_briefing(
            folder,
            language=options["language"],
            title=options["title"],
            objective=options["objective"],
            constraints=Constraints(
                options["max_complaints_per_1000"], options["max_monthly_churn"], options["allow_breaches"]
            ),
            force=force,
        )
    echo(f"briefing: {files.html}")
    if files.pdf is not None:
        echo(f"briefing: {files.pdf}")
    else:
        echo(f"warning: {files.note}", err=True)


def batch_report(outcome: BatchOutcome) -> int:
    """Print the batch's table and where things are; return the exit status."""
    import pandas as pd

    from simlib.report import tables

    table = pd.read_csv(outcome.folder / "comparison.csv")
    echo(tables.format_batch(list(outcome.records.values()), table))
    for record in outcome.failed:
        where = f"notebook cell {record['cell']}: " if record.get("cell") is not None else ""
        log = outcome.folder / record.get("log", record["folder"])
        # An interrupted run has no folder: point at a log only where there is one.
        tail = f"; log: {log}" if log.exists() else ""
        echo(f"{record['status']}: {record['scenario']} ({where}{record.get('error')}){tail}", err=True)
    echo(f"results: {outcome.folder}/ (manifest.json, comparison.csv, runs/)")
    if outcome.interrupted:
        echo("interrupted: finish the batch with --resume", err=True)
        return 130
    return 1 if outcome.failed else 0


@click.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--baseline", required=True, type=click.Path(dir_okay=False), help="The baseline scenario.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="The batch folder.")
@with_sample_options
@set_option
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Runs at once (0: one per core).",
)
@click.option("--timeout", type=click.FloatRange(min=1), help="Seconds a run may take before it is stopped.")
@resume_option(RESUME_RUNS)
@force_option
@scheduler_option
@click.option(
    "--notebook",
    type=click.Path(dir_okay=False, exists=True),
    help="A notebook with the same parameters as notebooks/scenario.ipynb (default: that one).",
)
@click.option("--kernel", help="Kernel name (default: the notebook's own).")
@click.option("--brief", "write_brief", is_flag=True, help="Write the briefing (HTML and PDF) when done.")
@with_brief_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
@friendly_errors
def batch(
    scenarios: tuple[str, ...],
    baseline: str,
    out: str,
    assignments: tuple[str, ...],
    workers: int,
    timeout: float | None,
    resume: bool,
    force: bool,
    scheduler: str | None,
    notebook: str | None,
    kernel: str | None,
    write_brief: bool,
    quiet: bool,
    language: str,
    title: str | None,
    max_complaints_per_1000: float | None,
    max_monthly_churn: float | None,
    allow_breaches: bool,
    objective: str,
    **size: Any,
) -> None:
    """Run the scenario notebook once per SCENARIO against --baseline, several at once.

    Each run gets its own kernel and its own folder under OUT/runs/; OUT/comparison.csv holds the
    paired differences and OUT/manifest.json every run's inputs, status and timings. Exit status 1
    if a run failed (the others still run), 130 if interrupted (finish with --resume).
    """
    from simlib.extras import require

    require("batch", "simlib batch")
    from simlib.batch.batch import plan_batch, run_batch

    plan = plan_batch(scenarios, baseline, overrides=overrides(assignments), notebook=notebook, **size)
    for note in plan.notes:
        echo(f"note: {note}", err=True)
    outcome = run_batch(
        plan,
        out,
        workers=workers,
        timeout_seconds=timeout,
        resume=resume,
        force=force,
        scheduler=scheduler,
        progress=not quiet,
        kernel_name=kernel,
    )
    status = batch_report(outcome)
    if write_brief and outcome.succeeded and not outcome.interrupted:
        _brief(
            out,
            force,
            language=language,
            title=title,
            objective=objective,
            max_complaints_per_1000=max_complaints_per_1000,
            max_monthly_churn=max_monthly_churn,
            allow_breaches=allow_breaches,
        )
    sys.exit(status)


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@with_brief_options
@force_option
@resume_option()
@friendly_errors
def brief(folder: str, force: bool, resume: bool, **options: Any) -> None:
    """Write the policy briefing of a finished batch FOLDER: briefing.html (self-contained, no code)
    and briefing.pdf, plus briefing_files/ with each chart's data (briefing.zh.* for --lang zh)."""
    if resume:
        refuse_resume("brief")
    _brief(folder, force, **options)


@click.command()
@click.option(
    "--scenarios",
    "folder",
    default=None,
    type=click.Path(file_okay=False),
    help="Folder of baseline.yaml and the policies to compare with it.  [default: the shipped scenarios]",
)
@click.option("--out", default="outputs/demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--customers", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--replications", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--months", type=click.IntRange(min=1))
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="0: all cores.")
@resume_option(RESUME_RUNS + " The briefing is written anew (the old one moves under previous/).")
@force_option
@click.option("--quiet", is_flag=True)
@friendly_errors
def demo(
    folder: str | None,
    out: str,
    customers: int,
    replications: int,
    months: int | None,
    workers: int,
    resume: bool,
    force: bool,
    quiet: bool,
) -> None:
    """Run every shipped scenario against the baseline as a batch and write the briefing; print
    the table and where the results are. Run it again with --resume to keep the finished runs."""
    from simlib.extras import require

    require("batch", "simlib demo")
    require("report", "simlib demo")
    from simlib.batch.batch import plan_batch, run_batch
    from simlib.resources import shipped_scenarios

    directory = Path(folder) if folder else shipped_scenarios()
    reforms = [p for p in sorted(directory.glob("*.yaml")) if p.name != "baseline.yaml"]
    plan = plan_batch(
        reforms, directory / "baseline.yaml", customers=customers, replications=replications, months=months
    )
    outcome = run_batch(plan, out, workers=workers, resume=resume, force=force, progress=not quiet)
    status = batch_report(outcome)
    if outcome.succeeded:
        # Written anew after every batch (the old one kept under previous/): the runs behind it
        # may have changed. In English and in Chinese: the manager reads either.
        for language in ("en", "zh"):
            _brief(
                out,
                True,
                language=language,
                title=None,
                objective="npv_net_revenue",
                max_complaints_per_1000=None,
                max_monthly_churn=None,
                allow_breaches=False,
            )
    sys.exit(status)
