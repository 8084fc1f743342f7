"""The `simlib` command: run, compare, batch, sweep, brief, optimize, sensitivity, calibrate, validate,
describe, diff, schema, demo.

Invalid input ends with one line per problem on standard error and exit status 2, before anything is
written. A traceback means a bug in simlib, never a mistake in a scenario.
"""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from simlib.errors import InputError, ScenarioError, os_problem
from simlib.files import check_output_file, claimed_output_folder, write_together
from simlib.text import printable_lines

if TYPE_CHECKING:
    from simlib.batch.results import BatchOutcome
    from simlib.scenario.scenario import Scenario

# A command imports its machinery (pandas, numpy, scipy, pydantic, matplotlib, papermill) when it
# runs, not when the module loads: `simlib --help` and every `--help` then start in a fraction of a
# second. tests/test_cli.py checks that --help loads none of them.

EXIT_INVALID = 2
MAX_VARIANTS = 1_000  # a larger sweep needs --max-variants (README, "Sweeps")
ROOTS_VARIABLE = (
    "SIMLIB_SCENARIO_ROOTS"  # simlib.scenario.scenario.ROOTS_VARIABLE, without importing pydantic
)
OBJECTIVES = ("npv_net_revenue", "net_revenue", "gross_revenue")
"""The choices of ``optimize --objective``: :data:`simlib.analysis.optimize.OBJECTIVES`, repeated here so
that --help needs no numpy (a test checks they agree)."""


def _echo(text: object = "", err: bool = False) -> None:
    """Print through :func:`simlib.text.printable_lines`: names, labels, paths and values come from
    files anyone can write, and no control character or escape sequence reaches the terminal."""
    click.echo(printable_lines(text), err=err)


def _fail(lines: list[str]) -> None:
    for line in lines:
        _echo(f"error: {line}", err=True)
    sys.exit(EXIT_INVALID)


def _friendly_errors(command: Callable) -> Callable:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ScenarioError as exc:
            _fail([str(p) for p in exc.problems])
        except (InputError, FileExistsError) as exc:
            _fail([str(exc)])
        except OSError as exc:
            # A path that cannot be read or written (a folder under /proc, a full disk, a loop of
            # symbolic links): one line naming it, never a traceback.
            where = f"{exc.filename}: " if exc.filename else ""
            _fail([f"{where}{os_problem(exc)}"])
        except (RecursionError, MemoryError) as exc:
            _fail([f"an input is {os_problem(exc)}"])
        except KeyboardInterrupt:
            # Ctrl-C, or SIGTERM (main() handles it the same way).
            _echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def _overrides(assignments: tuple[str, ...]) -> dict[str, Any]:
    from simlib.scenario.scenario import parse_assignment

    return dict(parse_assignment(a) for a in assignments)


def _load(path: str, assignments: tuple[str, ...] = ()) -> Scenario:
    from simlib.scenario.scenario import load

    return load(path, _overrides(assignments))


sample_options = [
    click.option("--customers", type=click.IntRange(min=1), help="Initial customers simulated."),
    click.option("--months", type=click.IntRange(min=1), help="Horizon in months."),
    click.option("--replications", type=click.IntRange(min=1), help="Monte Carlo replications."),
    click.option("--seed", type=click.IntRange(min=0), help="Random seed (shared by every run compared)."),
]


def with_sample_options(command: Callable) -> Callable:
    """Customers, months, replications and seed; unset ones come from the scenario's file."""
    for option in reversed(sample_options):
        command = option(command)
    return command


size_options = [
    *sample_options,
    click.option(
        "--workers",
        type=click.IntRange(min=0),
        default=0,
        help="Worker processes (0: one per core). Numbers do not change.",
    ),
    click.option("--chunk-size", type=click.IntRange(min=1), help="Customers per chunk (memory bound)."),
    click.option(
        "--scheduler",
        metavar="ADDRESS|local",
        help="Run the chunks on Dask: 'local' starts a LocalCluster of --workers processes, an "
        "address uses a running cluster. Numbers do not change.",
    ),
    click.option("--quiet", is_flag=True, help="No progress bar."),
]


def with_size_options(command: Callable) -> Callable:
    for option in reversed(size_options):
        command = option(command)
    return command


format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    help="json: one JSON document on stdout for scripts (notes and progress go to stderr).",
)


def _print_json(payload: Any) -> None:
    # ASCII with \u escapes: names and values come from files anyone can write, and no control
    # character or escape sequence may reach a terminal; a JSON reader decodes them.
    click.echo(json.dumps(payload, indent=2, ensure_ascii=True, allow_nan=False, default=_plain))


def _plain(value: Any) -> Any:
    """NumPy numbers, paths and the like as JSON values (a non-finite number as null)."""
    if hasattr(value, "item"):
        return _finite(value.item())
    return str(value)


def _finite(value: Any) -> Any:
    """NaN and ±inf have no JSON form: null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: Any) -> dict[str, dict[str, Any]]:
    """A summary table as {metric: {column: value}}, missing or infinite values as null."""
    return {
        str(metric): {k: _finite(v) for k, v in row.items()} for metric, row in frame.to_dict("index").items()
    }


def _run_settings(info: Any) -> dict[str, Any]:
    return {
        "customers": info.customers,
        "months": info.months,
        "replications": info.replications,
        "seed": info.seed,
        "simlib_version": info.simlib_version,
    }


set_option = click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="Override a parameter, e.g. --set fees.monthly_fee=27.5 (repeatable).",
)


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM stops a command as Ctrl-C does: workers and kernels stopped, finished work kept."""
    raise KeyboardInterrupt


CONTEXT = {
    "help_option_names": ["-h", "--help"],
    # Every option can also be set as SIMLIB_<COMMAND>_<OPTION>, e.g. SIMLIB_BATCH_WORKERS=2.
    "auto_envvar_prefix": "SIMLIB",
    "show_default": True,
}


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="simlib")
@click.option(
    "--scenario-root",
    "scenario_roots",
    multiple=True,
    type=click.Path(file_okay=False),
    help="A folder `extends` may also name files in (repeatable; also SIMLIB_SCENARIO_ROOTS).",
    allow_from_autoenv=False,  # SIMLIB_SCENARIO_ROOTS is read by the scenario loader itself
)
@click.option("-v", "--verbose", count=True, help="Log what is done to stderr (-v: steps, -vv: details).")
def main(scenario_roots: tuple[str, ...] = (), verbose: int = 0) -> None:
    """Simulate fee policies: revenue, churn and complaints, with honest uncertainty.

    Options can also be given as environment variables SIMLIB_<COMMAND>_<NAME> (e.g.
    SIMLIB_RUN_WORKERS=2; README: the names), except flags that replace or relax (--force,
    --resume, --allow-breaches). Shell completion: eval "$(_SIMLIB_COMPLETE=bash_source simlib)"
    (zsh_source, fish_source for those shells).
    """
    import logging

    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)],
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    if scenario_roots:
        # Through the environment, so that batch kernels and workers follow the same rule.
        known = [r for r in os.environ.get(ROOTS_VARIABLE, "").split(os.pathsep) if r]
        os.environ[ROOTS_VARIABLE] = os.pathsep.join([*known, *map(os.path.abspath, scenario_roots)])
    if not sys.stderr.isatty():
        # A progress bar written to a log file: redrawn at most every 30 s, not every second.
        os.environ.setdefault("TQDM_MININTERVAL", "30")


out_option = click.option(
    "--out", type=click.Path(file_okay=False), help="Write monthly, summary and provenance files here."
)
force_option = click.option(
    "--force", is_flag=True, help="Allow --out to replace earlier results.", allow_from_autoenv=False
)


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@set_option
@with_size_options
@out_option
@force_option
@format_option
@_friendly_errors
def run(
    scenario: str,
    assignments: tuple[str, ...],
    out: str | None,
    force: bool,
    quiet: bool,
    output_format: str,
    **size: Any,
) -> None:
    """Simulate SCENARIO and print its summary with 90% intervals."""
    from simlib.report import tables
    from simlib.run.runner import simulate

    loaded = _load(scenario, assignments)
    # Claimed before any work: a second command writing the same folder stops here (exit 2).
    with claimed_output_folder(out, overwrite=force):
        result = simulate(loaded, progress=not quiet, **size)
        if out:
            result.save(out, overwrite=force)
        if output_format == "json":
            _print_json(
                {
                    "scenario": result.scenario.name,
                    **_run_settings(result.info),
                    "coverage": 0.9,
                    "metrics": _records(result.summary()),
                    "out": out,
                }
            )
            return
        _echo(tables.format_summary(result))
        if out:
            _echo(f"results written to {out}")


@main.command(name="compare")
@click.argument("baseline", type=click.Path(dir_okay=False))
@click.argument("reform", type=click.Path(dir_okay=False))
@set_option
@with_size_options
@out_option
@force_option
@format_option
@_friendly_errors
def compare_command(
    baseline: str,
    reform: str,
    assignments: tuple[str, ...],
    out: str | None,
    force: bool,
    quiet: bool,
    output_format: str,
    **size: Any,
) -> None:
    """Compare REFORM with BASELINE on the same customers (paired differences, 90% intervals).

    --set applies to the reform only.
    """
    from simlib.report import tables
    from simlib.run.runner import compare
    from simlib.scenario.describe import unused_sizes

    base, changed = _load(baseline), _load(reform, assignments)
    note = unused_sizes(changed, base, size)
    if note:
        _echo(f"note: {note}", err=True)
    with claimed_output_folder(out, overwrite=force):
        comparison = compare(base, changed, progress=not quiet, **size)
        if out:
            comparison.save(out, overwrite=force)
        if output_format == "json":
            _print_json(
                {
                    "baseline": comparison.baseline.scenario.name,
                    "reform": comparison.reform.scenario.name,
                    **_run_settings(comparison.baseline.info),
                    "coverage": 0.9,
                    "metrics": _records(comparison.summary()),
                    "out": out,
                }
            )
            return
        _echo(tables.format_comparison(comparison))
        if out:
            _echo(f"results written to {out}")


@main.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(dir_okay=False))
@format_option
@_friendly_errors
def validate(scenarios: tuple[str, ...], output_format: str) -> None:
    """Check scenario files; print one line per problem; exit 2 if any is invalid."""
    from simlib.scenario.scenario import load

    problems: list[str] = []
    files = []
    for path in scenarios:
        try:
            load(path)
            files.append({"path": path, "ok": True, "problems": []})
            if output_format == "text":
                _echo(f"ok: {path}")
        except ScenarioError as exc:
            found = [str(p) for p in exc.problems]
            files.append({"path": path, "ok": False, "problems": found})
            problems += found
    if output_format == "json":
        _print_json({"valid": not problems, "files": files})
        if problems:
            sys.exit(EXIT_INVALID)
        return
    if problems:
        _fail(problems)


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@set_option
@click.option("--sources", is_flag=True, help="Also show where each behavioural default comes from.")
@format_option
@_friendly_errors
def describe(scenario: str, assignments: tuple[str, ...], sources: bool, output_format: str) -> None:
    """Every resolved parameter with its unit and where its value came from."""
    from simlib.report import tables

    loaded = _load(scenario, assignments)
    if output_format == "json":
        parameters = [
            {
                "path": p.path,
                "value": p.value,
                "unit": p.unit,
                "label": p.label,
                "origin": p.origin,
                **({"source": p.source} if sources else {}),
            }
            for p in loaded.parameters()
        ]
        _print_json({"scenario": loaded.name, "parameters": parameters})
        return
    _echo(tables.format_parameters(loaded, sources))


@main.command(name="diff")
@click.argument("base", type=click.Path(dir_okay=False))
@click.argument("other", type=click.Path(dir_okay=False))
@_friendly_errors
def diff_command(base: str, other: str) -> None:
    """The parameters that differ between BASE and OTHER, with both values and units."""
    from simlib.report import tables
    from simlib.scenario.describe import diff

    _echo(tables.format_diff(diff(_load(base), _load(other)), base, other))


@main.command()
def schema() -> None:
    """JSON Schema of scenario files (for editor completion)."""
    from simlib.scenario.scenario import json_schema

    _echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


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
    for option in reversed(brief_options):
        command = option(command)
    return command


def _brief(folder: str | Path, force: bool, **options: Any) -> None:
    import contextlib

    from simlib.extras import require

    require("report", "simlib brief")
    from simlib.analysis.recommend import Constraints
    from simlib.batch.folders import MANIFEST, locked_batch_folder
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
    _echo(f"briefing: {files.html}")
    if files.pdf is not None:
        _echo(f"briefing: {files.pdf}")
    else:
        _echo(f"warning: {files.note}", err=True)


def _batch_report(outcome: BatchOutcome) -> int:
    """Print the batch's table and where things are; return the exit status."""
    import pandas as pd

    from simlib.report import tables

    table = pd.read_csv(outcome.folder / "comparison.csv")
    _echo(tables.format_batch(list(outcome.records.values()), table))
    for record in outcome.failed:
        where = f"notebook cell {record['cell']}: " if record.get("cell") is not None else ""
        log = outcome.folder / record.get("log", record["folder"])
        # An interrupted run has no folder: point at a log only where there is one.
        tail = f"; log: {log}" if log.exists() else ""
        _echo(f"{record['status']}: {record['scenario']} ({where}{record.get('error')}){tail}", err=True)
    _echo(f"results: {outcome.folder}/ (manifest.json, comparison.csv, runs/)")
    if outcome.interrupted:
        _echo("interrupted: finish the batch with --resume", err=True)
        return 130
    return 1 if outcome.failed else 0


scheduler_option = click.option(
    "--scheduler",
    metavar="ADDRESS|local",
    help="Run on Dask: 'local' starts a LocalCluster on this machine, an address uses a running cluster.",
)


@main.command()
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
@click.option(
    "--resume",
    is_flag=True,
    help="Keep finished runs; run only what is missing or failed.",
    allow_from_autoenv=False,
)
@click.option(
    "--force",
    is_flag=True,
    help="Run everything again; earlier runs move under previous/.",
    allow_from_autoenv=False,
)
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
@_friendly_errors
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
    from simlib.batch.batch import run_batch
    from simlib.batch.plan import plan_batch

    plan = plan_batch(scenarios, baseline, overrides=_overrides(assignments), notebook=notebook, **size)
    for note in plan.notes:
        _echo(f"note: {note}", err=True)
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
    status = _batch_report(outcome)
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


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@with_brief_options
@click.option(
    "--force",
    is_flag=True,
    help="Write a new briefing; the old one moves under previous/.",
    allow_from_autoenv=False,
)
@_friendly_errors
def brief(folder: str, force: bool, **options: Any) -> None:
    """Write the policy briefing of a finished batch FOLDER: briefing.html (self-contained, no code)
    and briefing.pdf, plus briefing_files/ with each chart's data (briefing.zh.* for --lang zh)."""
    _brief(folder, force, **options)


@main.command()
@click.argument("base", type=click.Path(dir_okay=False))
@click.option(
    "--grid", "grids", multiple=True, metavar="KEY.PATH=V1,V2,...", help="Values to try (repeatable)."
)
@click.option("--sample", type=click.IntRange(min=1), help="Number of variants drawn in the --range box.")
@click.option(
    "--range", "ranges", multiple=True, metavar="KEY.PATH=LO:HI", help="A lever's range for --sample."
)
@click.option(
    "--design-seed",
    "sample_seed",
    type=click.IntRange(min=0),
    default=0,
    envvar="SIMLIB_SWEEP_DESIGN_SEED",
    help="Seed of the --sample draw.",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the sweep table.")
@force_option
@click.option(
    "--max-variants",
    type=click.IntRange(min=1),
    default=MAX_VARIANTS,
    show_default=True,
    help="Refuse a grid or sample of more variants than this (raise it to confirm a larger sweep).",
)
@with_sample_options
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Variants at once (0: all cores).",
)
@scheduler_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_friendly_errors
def sweep(
    base: str,
    grids: tuple[str, ...],
    sample: int | None,
    ranges: tuple[str, ...],
    sample_seed: int,
    out: str,
    force: bool,
    max_variants: int,
    workers: int,
    scheduler: str | None,
    quiet: bool,
    **size: Any,
) -> None:
    """Evaluate many variants of BASE without notebooks, each paired with BASE on the same draws.

    Either a grid (every combination of the --grid values) or --sample N points in the box of
    --range bounds (Latin hypercube). Writes OUT/sweep.csv (one row per variant: levers, metrics
    and paired differences with 90% intervals) and the revenue-versus-complaints frontier.
    """
    from simlib.analysis.sweep import grid_variants, parse_grid, parse_range, run_sweep, sample_variants
    from simlib.report import tables

    if bool(grids) == bool(sample):
        raise InputError("give either --grid KEY.PATH=V1,V2,... or --sample N with --range KEY.PATH=LO:HI")
    if sample and not ranges:
        raise InputError("--sample needs at least one --range KEY.PATH=LO:HI")
    if ranges and not sample:
        raise InputError("--range is used with --sample N")
    if grids:
        grid = dict(parse_grid(g) for g in grids)
        count = math.prod(len(values) for values in grid.values())
        if count > max_variants:
            raise InputError(
                f"the grid has {count:,} variants, more than --max-variants {max_variants:,}; "
                "at a few seconds each that is too long to start unasked: use fewer values, or "
                "raise --max-variants"
            )
        variants = grid_variants(grid)
    else:
        if sample > max_variants:
            raise InputError(f"--sample {sample:,} is more than --max-variants {max_variants:,}")
        variants = sample_variants(dict(parse_range(r) for r in ranges), sample, sample_seed)
    loaded = _load(base)
    # Claimed before any work; a folder the claim created is removed again if the variants are
    # then rejected, so nothing is left behind.
    with claimed_output_folder(out, overwrite=force):
        result = run_sweep(loaded, variants, workers=workers, scheduler=scheduler, progress=not quiet, **size)
        result.save(out, overwrite=force)
    _echo(tables.format_sweep(result))
    _echo(f"results: {out}/ (sweep.csv, frontier.png)")


@main.command()
@click.argument("base", type=click.Path(dir_okay=False))
@click.option(
    "--lever", "levers", multiple=True, required=True, metavar="KEY.PATH=LO:HI", help="A lever and its range."
)
@click.option("--objective", type=click.Choice(OBJECTIVES), default="npv_net_revenue", show_default=True)
@click.option("--max-complaints-per-1000", type=click.FloatRange(min=0), help="Complaint limit (mean level).")
@click.option(
    "--max-monthly-churn", type=click.FloatRange(min=0, max=1), help="Churn limit, a share (0.02 = 2%)."
)
@click.option(
    "--grid-points", type=click.IntRange(min=2), default=7, show_default=True, help="Starting grid per lever."
)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Folder for optimum.yaml and the trace."
)
@force_option
@with_sample_options
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="0: all cores.")
@scheduler_option
@_friendly_errors
def optimize(
    base: str,
    levers: tuple[str, ...],
    out: str,
    force: bool,
    objective: str,
    max_complaints_per_1000: float | None,
    max_monthly_churn: float | None,
    grid_points: int,
    workers: int,
    scheduler: str | None,
    **size: Any,
) -> None:
    """Find the lever values that maximise the objective (paired difference to BASE) under the
    constraints; write the optimal policy as OUT/optimum.yaml, a scenario extending BASE."""
    from simlib.analysis.optimize import check_levers, optimise_policy, parse_lever
    from simlib.report import tables

    scenario = _load(base)
    parsed = check_levers(scenario, [parse_lever(text) for text in levers])
    with claimed_output_folder(out, overwrite=force):
        result = optimise_policy(
            scenario,
            parsed,
            objective=objective,
            max_complaints_per_1000=max_complaints_per_1000,
            max_monthly_churn=max_monthly_churn,
            grid_points=grid_points,
            workers=workers,
            scheduler=scheduler,
            **size,
        )
        result.save(out)
    _echo(tables.format_optimum(result.optimum))
    _echo(f"optimal policy: {Path(out) / 'optimum.yaml'} (trace.csv: every point evaluated)")


@main.command()
@click.argument("base", type=click.Path(dir_okay=False))
@click.option(
    "--reform", type=click.Path(dir_okay=False), help="Analyse the paired difference reform − BASE."
)
@click.option(
    "--param",
    "parameters",
    multiple=True,
    metavar="KEY.PATH[=LO:HI]",
    help="A parameter to vary (default: every distribution of BASE over its 5–95% range).",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    default=("npv_net_revenue",),
    show_default=True,
    help="A summary metric to explain (repeatable).",
)
@click.option("--method", type=click.Choice(["sobol", "morris"]), default="sobol", show_default=True)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Sobol': base sample N (a power of 2); Morris: trajectories.",
)
@click.option(
    "--levels", type=click.IntRange(min=2), default=4, show_default=True, help="Morris grid levels."
)
@click.option(
    "--design-seed",
    "seed",
    type=click.IntRange(min=0),
    default=0,
    envvar="SIMLIB_SENSITIVITY_DESIGN_SEED",
    help="Seed of the Sobol'/Morris design.",
)
@click.option(
    "--seed",
    "sim_seed",
    type=click.IntRange(min=0),
    envvar="SIMLIB_SENSITIVITY_SEED",
    help="Random seed of the simulations (shared by every point).  [default: the scenario's]",
)
@click.option("--customers", type=click.IntRange(min=1), help="Initial customers simulated.")
@click.option("--months", type=click.IntRange(min=1), help="Horizon in months.")
@click.option("--replications", type=click.IntRange(min=1), help="Monte Carlo replications per point.")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="0: all cores.")
@scheduler_option
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for tables and charts.")
@force_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_friendly_errors
def sensitivity(
    base: str,
    reform: str | None,
    parameters: tuple[str, ...],
    out: str,
    force: bool,
    quiet: bool,
    **options: Any,
) -> None:
    """Which assumptions the decision depends on: Sobol' indices or Morris screening (SALib) of
    the outputs over the uncertain parameters, with a tornado chart and a ranked table."""
    from simlib.extras import require
    from simlib.report import tables

    require("sensitivity", "simlib sensitivity")
    from simlib.analysis.sensitivity import run_sensitivity

    loaded, changed = _load(base), _load(reform) if reform else None
    with claimed_output_folder(out, overwrite=force):
        result = run_sensitivity(
            loaded, changed, parameters=list(parameters) or None, progress=not quiet, **options
        )
        result.save(out, overwrite=force)
    for output in result.outputs:
        _echo(tables.format_sensitivity(result, output))
    _echo(f"results: {out}/ (sensitivity.csv, tornado.png, indices.png, samples.csv)")


@main.command(name="calibrate")
@click.argument("base", type=click.Path(dir_okay=False))
@click.option("--retention", type=click.Path(dir_okay=False, exists=True), help="Cohort retention CSV.")
@click.option("--complaints", type=click.Path(dir_okay=False, exists=True), help="Complaints by cause CSV.")
@click.option(
    "--fee-change", type=click.Path(dir_okay=False, exists=True), help="Churn around a fee change CSV."
)
@click.option("--segment", help="The segment whose churn heterogeneity is fitted (default: the middle one).")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    help="Random seed of the simulations the retention and fee-change fits run through.",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The scenario fragment (YAML).")
@click.option(
    "--plot", "plot_path", type=click.Path(dir_okay=False), help="Also save fitted-vs-observed as PNG."
)
@_friendly_errors
def calibrate_command(
    base: str,
    retention: str | None,
    complaints: str | None,
    fee_change: str | None,
    segment: str | None,
    seed: int,
    out: str,
    plot_path: str | None,
) -> None:
    """Fit behavioural parameters to your own history (CSV files, formats in
    scenarios/history/README.md) and write them, with standard errors, as a scenario fragment
    extending BASE: parameters fitted together (churn α, β; price sensitivity and loss aversion) as
    one joint block that keeps their correlation, the others as single distributions. Baseline churn
    is fitted net of the churn BASE's behaviour already causes, so the fragment reproduces the
    history it was fitted to."""
    from simlib.analysis.calibrate import calibrate
    from simlib.report import tables

    # Every output path is checked before the fit runs, and the files are written all or none.
    if plot_path and Path(plot_path).absolute() == Path(out).absolute():
        raise InputError(f"--out and --plot name the same file ({out})")
    for path in (out, plot_path):
        if path:
            check_output_file(path)
    result = calibrate(
        _load(base),
        retention=retention,
        complaints=complaints,
        fee_change=fee_change,
        segment=segment,
        seed=seed,
    )
    text = result.to_yaml()
    files = {Path(out): lambda p: Path(p).write_text(text, encoding="utf-8")}
    if plot_path:
        import matplotlib

        matplotlib.use("Agg")
        figure = result.plot()[0].figure
        files[Path(plot_path)] = lambda p: figure.savefig(p, format="png", dpi=120)
    write_together(files)
    _echo(tables.format_calibration(result.summary))
    _echo(f"scenario fragment: {out} (extends {Path(base).name}; place it beside that file)")
    if plot_path:
        _echo(f"fitted against observed: {plot_path}")


@main.command()
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
@click.option("--quiet", is_flag=True)
@_friendly_errors
def demo(
    folder: str | None,
    out: str,
    customers: int,
    replications: int,
    months: int | None,
    workers: int,
    quiet: bool,
) -> None:
    """Run every shipped scenario against the baseline as a batch (kept runs are reused) and print
    the table and where the results are."""
    from simlib.extras import require

    require("batch", "simlib demo")
    require("report", "simlib demo")
    from simlib.batch.batch import run_batch
    from simlib.batch.plan import plan_batch
    from simlib.resources import shipped_scenarios

    directory = Path(folder) if folder else shipped_scenarios()
    reforms = [p for p in sorted(directory.glob("*.yaml")) if p.name != "baseline.yaml"]
    plan = plan_batch(
        reforms, directory / "baseline.yaml", customers=customers, replications=replications, months=months
    )
    outcome = run_batch(plan, out, workers=workers, resume=True, progress=not quiet)
    status = _batch_report(outcome)
    if outcome.succeeded:
        _brief(
            out,
            True,
            language="en",
            title=None,
            objective="npv_net_revenue",
            max_complaints_per_1000=None,
            max_monthly_churn=None,
            allow_breaches=False,
        )
    sys.exit(status)


@main.group()
def scenarios() -> None:
    """The scenarios shipped with simlib: copy them to edit your own."""


@scenarios.command(name="init")
@click.argument("folder", type=click.Path(file_okay=False))
@force_option
@_friendly_errors
def scenarios_init(folder: str, force: bool) -> None:
    """Copy the shipped scenarios (baseline.yaml, the example policies, history/ and the JSON Schema
    their editors complete from) into FOLDER.

    FOLDER must be new or empty (or give --force); the copies are yours to edit, and files
    that extend baseline.yaml find it beside them.
    """
    from simlib.files import write_atomic
    from simlib.resources import shipped_scenarios

    source = shipped_scenarios()
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix in {".yaml", ".csv", ".json"})
    with claimed_output_folder(folder, overwrite=force) as target:
        assert target is not None
        for path in files:
            data = path.read_bytes()
            write_atomic(target / path.relative_to(source), lambda t, data=data: Path(t).write_bytes(data))
    example = Path(folder) / "penalty_fee.yaml"
    _echo(f"{len(files)} scenario files copied to {folder}; try: simlib validate {example}")
