"""What every command shares: options, printing, one-line errors and the output-folder rule.

A command imports its machinery (pandas, numpy, scipy, pydantic, matplotlib, papermill) when it
runs, not when the module loads: `simlib --help` and every `--help` then start in a fraction of a
second. tests/test_cli.py checks that --help loads none of them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from simlib.errors import InputError, ScenarioError, os_problem
from simlib.files import PREVIOUS, claimed_output_folder, holds_results, move_aside
from simlib.text import printable_lines

if TYPE_CHECKING:
    from simlib.scenario.scenario import Scenario

EXIT_INVALID = 2
"""Exit status of invalid input (a scenario, an option, an output folder)."""


def echo(text: object = "", err: bool = False) -> None:
    """Print through :func:`simlib.text.printable_lines`: names, labels, paths and values come from
    files anyone can write, and no control character or escape sequence reaches the terminal."""
    click.echo(printable_lines(text), err=err)


def fail(lines: list[str]) -> NoReturn:
    """Print each problem as one ``error:`` line on stderr and exit with status 2."""
    for line in lines:
        echo(f"error: {line}", err=True)
    sys.exit(EXIT_INVALID)


def friendly_errors(command: Callable) -> Callable:
    """Turn every mistake a user can make into one line per problem (exit 2), never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ScenarioError as exc:
            fail([str(p) for p in exc.problems])
        except (InputError, FileExistsError) as exc:
            fail([str(exc)])
        except OSError as exc:
            # A path that cannot be read or written (a folder under /proc, a full disk, a loop of
            # symbolic links): one line naming it, never a traceback.
            where = f"{exc.filename}: " if exc.filename else ""
            fail([f"{where}{os_problem(exc)}"])
        except (RecursionError, MemoryError) as exc:
            fail([f"an input is {os_problem(exc)}"])
        except KeyboardInterrupt:
            # Ctrl-C, or SIGTERM (main() handles it the same way).
            echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


def overrides(assignments: tuple[str, ...]) -> dict[str, Any]:
    """``--set KEY.PATH=VALUE`` assignments as a mapping of key path to value."""
    from simlib.scenario.scenario import parse_assignment

    return dict(parse_assignment(a) for a in assignments)


def load_scenario(path: str | Path, assignments: tuple[str, ...] = ()) -> Scenario:
    """The scenario file at ``path`` with ``--set`` overrides applied."""
    from simlib.scenario.scenario import load

    return load(path, overrides(assignments))


def _apply(options: list[Callable], command: Callable) -> Callable:
    for option in reversed(options):
        command = option(command)
    return command


sample_options = [
    click.option("--customers", type=click.IntRange(min=1), help="Initial customers simulated."),
    click.option("--months", type=click.IntRange(min=1), help="Horizon in months."),
    click.option("--replications", type=click.IntRange(min=1), help="Monte Carlo replications."),
    click.option("--seed", type=click.IntRange(min=0), help="Random seed (shared by every run compared)."),
]


def with_sample_options(command: Callable) -> Callable:
    """Customers, months, replications and seed; unset ones come from the scenario's file."""
    return _apply(sample_options, command)


scheduler_option = click.option(
    "--scheduler",
    metavar="ADDRESS|local",
    help="Run on Dask: 'local' starts a LocalCluster on this machine, an address uses a running cluster.",
)

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
    """The sample options plus workers, chunk size, scheduler and --quiet."""
    return _apply(size_options, command)


set_option = click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="Override a parameter, e.g. --set fees.monthly_fee=27.5 (repeatable).",
)

format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    help="json: one JSON document on stdout for scripts (notes and progress go to stderr).",
)


def print_json(payload: Any) -> None:
    """One JSON document on stdout."""
    # ASCII with \u escapes: names and values come from files anyone can write, and no control
    # character or escape sequence may reach a terminal; a JSON reader decodes them.
    click.echo(json.dumps(payload, indent=2, ensure_ascii=True, allow_nan=False, default=_plain))


def _plain(value: Any) -> Any:
    """NumPy numbers, paths and the like as JSON values (a non-finite number as null)."""
    if hasattr(value, "item"):
        return finite(value.item())
    return str(value)


def finite(value: Any) -> Any:
    """NaN and ±inf have no JSON form: null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(frame: Any) -> dict[str, dict[str, Any]]:
    """A summary table as {metric: {column: value}}, missing or infinite values as null."""
    return {
        str(metric): {k: finite(v) for k, v in row.items()} for metric, row in frame.to_dict("index").items()
    }


def run_settings(info: Any) -> dict[str, Any]:
    """The sizes, seed and version of a run, for a JSON document."""
    return {
        "customers": info.customers,
        "months": info.months,
        "replications": info.replications,
        "seed": info.seed,
        "simlib_version": info.simlib_version,
    }


# --------------------------------------------------------------------------- output folders
# The rule of every command that writes (README, "Command-line conventions"): an output folder that
# already holds results is an error naming it and the two options; --force moves those results
# under previous/<time>/ (never deleted) and writes anew; --resume keeps finished work and does only
# what is missing, where a command has finished parts to keep (batch, demo). Neither flag is ever
# taken from the environment: a stray SIMLIB_RUN_FORCE must not replace results.

force_option = click.option(
    "--force",
    is_flag=True,
    allow_from_autoenv=False,
    help=f"Write anew into an output folder that holds results; they move under {PREVIOUS}/<time>/.",
)


def resume_option(help_text: str | None = None) -> Callable:
    """``--resume``; without ``help_text`` the command has nothing to resume and refuses it."""
    return click.option(
        "--resume",
        is_flag=True,
        allow_from_autoenv=False,
        help=help_text
        or "Keep finished work and do only what is missing: only batch and demo have runs to keep; "
        "here it stops with one line.",
    )


def refuse_resume(command: str) -> None:
    """Stop a command that has no finished parts to keep when it is given ``--resume``."""
    raise InputError(
        f"--resume: simlib {command} has no finished parts to keep (only batch and demo do); "
        f"use --force to run it again, earlier results kept under {PREVIOUS}/"
    )


@contextlib.contextmanager
def output_folder(
    folder: str | Path | None, force: bool, resume: bool, command: str
) -> Iterator[Path | None]:
    """Claim a command's output folder before any work, following the rule above.

    Parameters
    ----------
    folder : the ``--out`` folder; None writes nothing (the block still runs).
    force : move results already in ``folder`` under ``previous/<time>/`` instead of refusing.
    resume : given ``--resume``: refused, the command has nothing to resume.
    command : the command's name, for the messages.

    Raises
    ------
    InputError
        ``resume`` was given.
    FileExistsError
        ``folder`` holds results and ``force`` is not set, or another command is writing it.
    """
    if resume:
        refuse_resume(command)
    if folder is None:
        yield None
        return
    # overwrite=True: the contents are checked here, under the claim, by the rule above; writes
    # inside the block then meet an empty folder (or one with only previous/).
    with claimed_output_folder(folder, overwrite=True) as path:
        assert path is not None
        if holds_results(path):
            if not force:
                raise FileExistsError(
                    f"{path} already holds files; choose another folder, or --force to move them "
                    f"under {path / PREVIOUS}/ and write anew (--resume: simlib {command} has no "
                    "finished parts to keep)"
                )
            moved = move_aside(path)
            echo(f"note: earlier results in {path} moved to {moved}", err=True)
        yield path
