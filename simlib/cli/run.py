"""``simlib run`` and ``simlib compare``: simulate one scenario, or a reform against a baseline."""

from __future__ import annotations

from typing import Any

import click

from simlib.cli.options import (
    echo,
    force_option,
    format_option,
    friendly_errors,
    load_scenario,
    output_folder,
    print_json,
    records,
    resume_option,
    run_settings,
    set_option,
    with_size_options,
)

out_option = click.option(
    "--out", type=click.Path(file_okay=False), help="Write monthly, summary and provenance files here."
)


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@set_option
@with_size_options
@out_option
@force_option
@resume_option()
@format_option
@friendly_errors
def run(
    scenario: str,
    assignments: tuple[str, ...],
    out: str | None,
    force: bool,
    resume: bool,
    quiet: bool,
    output_format: str,
    **size: Any,
) -> None:
    """Simulate SCENARIO and print its summary with 90% intervals."""
    from simlib.report import tables
    from simlib.run.runner import simulate

    loaded = load_scenario(scenario, assignments)
    # Claimed before any work: a second command writing the same folder stops here (exit 2).
    with output_folder(out, force, resume, "run"):
        result = simulate(loaded, progress=not quiet, **size)
        if out:
            result.save(out)
        if output_format == "json":
            print_json(
                {
                    "scenario": result.scenario.name,
                    **run_settings(result.info),
                    "coverage": 0.9,
                    "metrics": records(result.summary()),
                    "out": out,
                }
            )
            return
        echo(tables.format_summary(result))
        if out:
            echo(f"results written to {out}")


@click.command(name="compare")
@click.argument("baseline", type=click.Path(dir_okay=False))
@click.argument("reform", type=click.Path(dir_okay=False))
@set_option
@with_size_options
@out_option
@force_option
@resume_option()
@format_option
@friendly_errors
def compare_command(
    baseline: str,
    reform: str,
    assignments: tuple[str, ...],
    out: str | None,
    force: bool,
    resume: bool,
    quiet: bool,
    output_format: str,
    **size: Any,
) -> None:
    """Compare REFORM with BASELINE on the same customers (paired differences, 90% intervals).

    --set applies to the reform only.
    """
    from simlib.report import tables
    from simlib.run.runner import compare
    from simlib.scenario.scenario import unused_sizes

    base, changed = load_scenario(baseline), load_scenario(reform, assignments)
    note = unused_sizes(changed, base, size)
    if note:
        echo(f"note: {note}", err=True)
    with output_folder(out, force, resume, "compare"):
        comparison = compare(base, changed, progress=not quiet, **size)
        if out:
            comparison.save(out)
        if output_format == "json":
            print_json(
                {
                    "baseline": comparison.baseline.scenario.name,
                    "reform": comparison.reform.scenario.name,
                    **run_settings(comparison.baseline.info),
                    "coverage": 0.9,
                    "metrics": records(comparison.summary()),
                    "out": out,
                }
            )
            return
        echo(tables.format_comparison(comparison))
        if out:
            echo(f"results written to {out}")
