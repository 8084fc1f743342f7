"""The `simlib` command: run, compare, validate, describe, diff, schema, demo.

Invalid input ends with one line per problem on standard error and exit status 2, before anything is
written. A traceback means a bug in simlib, never a mistake in a scenario.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import tables
from .errors import InputError, ScenarioError
from .results import check_output_folder
from .runner import compare, simulate
from .scenario import Scenario, diff, json_schema, load, parse_assignment

EXIT_INVALID = 2


def _fail(lines: list[str]) -> None:
    for line in lines:
        click.echo(f"error: {line}", err=True)
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
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def _overrides(assignments: tuple[str, ...]) -> dict[str, Any]:
    return dict(parse_assignment(a) for a in assignments)


def _load(path: str, assignments: tuple[str, ...] = ()) -> Scenario:
    return load(path, _overrides(assignments))


size_options = [
    click.option("--customers", type=click.IntRange(min=1), help="Initial customers simulated."),
    click.option("--months", type=click.IntRange(min=1), help="Horizon in months."),
    click.option("--replications", type=click.IntRange(min=1), help="Monte Carlo replications."),
    click.option("--seed", type=click.IntRange(min=0), help="Random seed."),
    click.option(
        "--workers",
        type=click.IntRange(min=0),
        default=1,
        show_default=True,
        help="Worker processes (0: all cores).",
    ),
    click.option("--chunk-size", type=click.IntRange(min=1), help="Customers per chunk (memory bound)."),
    click.option("--quiet", is_flag=True, help="No progress bar."),
]


def with_size_options(command: Callable) -> Callable:
    for option in reversed(size_options):
        command = option(command)
    return command


set_option = click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="Override a parameter, e.g. --set fees.monthly_fee=27.5 (repeatable).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="simlib")
def main() -> None:
    """Simulate fee policies: revenue, churn and complaints, with honest uncertainty."""


out_option = click.option(
    "--out", type=click.Path(file_okay=False), help="Write monthly, summary and provenance files here."
)
force_option = click.option("--force", is_flag=True, help="Allow --out to replace earlier results.")


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@set_option
@with_size_options
@out_option
@force_option
@_friendly_errors
def run(
    scenario: str, assignments: tuple[str, ...], out: str | None, force: bool, quiet: bool, **size: Any
) -> None:
    """Simulate SCENARIO and print its summary with 90% intervals."""
    loaded = _load(scenario, assignments)
    if out:
        check_output_folder(out, overwrite=force)
    result = simulate(loaded, progress=not quiet, **size)
    click.echo(tables.format_summary(result))
    if out:
        result.save(out, overwrite=force)
        click.echo(f"results written to {out}")


@main.command(name="compare")
@click.argument("baseline", type=click.Path(dir_okay=False))
@click.argument("reform", type=click.Path(dir_okay=False))
@set_option
@with_size_options
@out_option
@force_option
@_friendly_errors
def compare_command(
    baseline: str,
    reform: str,
    assignments: tuple[str, ...],
    out: str | None,
    force: bool,
    quiet: bool,
    **size: Any,
) -> None:
    """Compare REFORM with BASELINE on the same customers (paired differences, 90% intervals).

    --set applies to the reform only.
    """
    base, changed = _load(baseline), _load(reform, assignments)
    if out:
        check_output_folder(out, overwrite=force)
    comparison = compare(base, changed, progress=not quiet, **size)
    click.echo(tables.format_comparison(comparison))
    if out:
        comparison.save(out, overwrite=force)
        click.echo(f"results written to {out}")


@main.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(scenarios: tuple[str, ...]) -> None:
    """Check scenario files; print one line per problem; exit 2 if any is invalid."""
    problems: list[str] = []
    for path in scenarios:
        try:
            load(path)
            click.echo(f"ok: {path}")
        except ScenarioError as exc:
            problems += [str(p) for p in exc.problems]
    if problems:
        _fail(problems)


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@set_option
@click.option("--sources", is_flag=True, help="Also show where each behavioural default comes from.")
@_friendly_errors
def describe(scenario: str, assignments: tuple[str, ...], sources: bool) -> None:
    """Every resolved parameter with its unit and where its value came from."""
    click.echo(tables.format_parameters(_load(scenario, assignments), sources))


@main.command(name="diff")
@click.argument("base", type=click.Path(dir_okay=False))
@click.argument("other", type=click.Path(dir_okay=False))
@_friendly_errors
def diff_command(base: str, other: str) -> None:
    """The parameters that differ between BASE and OTHER, with both values and units."""
    click.echo(tables.format_diff(diff(_load(base), _load(other)), base, other))


@main.command()
def schema() -> None:
    """JSON Schema of scenario files (for editor completion)."""
    click.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


@main.command()
@click.option(
    "--scenarios", "folder", default="scenarios", show_default=True, type=click.Path(file_okay=False)
)
@click.option("--customers", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--replications", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--months", type=click.IntRange(min=1))
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="0: all cores.")
@click.option("--quiet", is_flag=True)
@_friendly_errors
def demo(
    folder: str, customers: int, replications: int, months: int | None, workers: int, quiet: bool
) -> None:
    """Compare every shipped scenario with the baseline and print the table."""
    directory = Path(folder)
    baseline = load(directory / "baseline.yaml")
    reforms = [load(p) for p in sorted(directory.glob("*.yaml")) if p.name != "baseline.yaml"]
    comparisons = []
    for reform in reforms:
        if not quiet:
            click.echo(f"simulating {reform.name} …", err=True)
        comparisons.append(
            compare(
                baseline,
                reform,
                customers=customers,
                replications=replications,
                months=months,
                workers=workers,
                progress=not quiet,
            )
        )
    click.echo(tables.format_overview(comparisons, customers, replications))
