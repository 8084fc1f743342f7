"""Scenario files: ``validate``, ``describe``, ``diff``, ``schema`` and ``scenarios init``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from simlib.cli.options import (
    EXIT_INVALID,
    echo,
    fail,
    force_option,
    format_option,
    friendly_errors,
    load_scenario,
    output_folder,
    print_json,
    resume_option,
    set_option,
)
from simlib.errors import ScenarioError


@click.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(dir_okay=False))
@format_option
@friendly_errors
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
                echo(f"ok: {path}")
        except ScenarioError as exc:
            found = [str(p) for p in exc.problems]
            files.append({"path": path, "ok": False, "problems": found})
            problems += found
    if output_format == "json":
        print_json({"valid": not problems, "files": files})
        if problems:
            sys.exit(EXIT_INVALID)
        return
    if problems:
        fail(problems)


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@set_option
@click.option("--sources", is_flag=True, help="Also show where each behavioural default comes from.")
@format_option
@friendly_errors
def describe(scenario: str, assignments: tuple[str, ...], sources: bool, output_format: str) -> None:
    """Every resolved parameter with its unit and where its value came from."""
    from simlib.report import tables

    loaded = load_scenario(scenario, assignments)
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
        print_json({"scenario": loaded.name, "parameters": parameters})
        return
    echo(tables.format_parameters(loaded, sources))


@click.command(name="diff")
@click.argument("base", type=click.Path(dir_okay=False))
@click.argument("other", type=click.Path(dir_okay=False))
@friendly_errors
def diff_command(base: str, other: str) -> None:
    """The parameters that differ between BASE and OTHER, with both values and units."""
    from simlib.report import tables

    echo(tables.format_diff(load_scenario(base), load_scenario(other), base, other))


@click.command()
def schema() -> None:
    """JSON Schema of scenario files (for editor completion)."""
    from simlib.scenario.scenario import json_schema

    echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


@click.group()
def scenarios() -> None:
    """The scenarios shipped with simlib: copy them to edit your own."""


@scenarios.command(name="init")
@click.argument("folder", type=click.Path(file_okay=False))
@force_option
@resume_option()
@friendly_errors
def scenarios_init(folder: str, force: bool, resume: bool) -> None:
    """Copy the shipped scenarios (baseline.yaml, the example policies, history/ and the JSON Schema
    their editors complete from) into FOLDER.

    FOLDER must be new or empty (or give --force: what it holds moves under previous/); the copies
    are yours to edit, and files that extend baseline.yaml find it beside them.
    """
    from simlib.files import write_atomic
    from simlib.resources import shipped_scenarios

    source = shipped_scenarios()
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix in {".yaml", ".csv", ".json"})
    with output_folder(folder, force, resume, "scenarios init") as target:
        assert target is not None
        for path in files:
            data = path.read_bytes()
            write_atomic(target / path.relative_to(source), lambda t, data=data: Path(t).write_bytes(data))
    example = Path(folder) / "penalty_fee.yaml"
    echo(f"{len(files)} scenario files copied to {folder}; try: simlib validate {example}")
